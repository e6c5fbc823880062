//! State: feeds, entries, the translation queue, the translation memory, usage, publishing marks
//! and subscriber tokens. Only this module contains SQL; every method is one transaction.
//!
//! The interface is split by what the stages need: refresh speaks `FeedStore`, the translation
//! worker `QueueStore`, `MemoryStore` and `UsageStore`, publishing `PublishStore`, the server
//! `TokenStore`; `Store` is all of them, for the commands and the daemon. `sqlite` is the backend,
//! one file per table group.

pub mod copy;
mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::collections::HashMap;

use serde::Serialize;

use crate::detect::{Detection, Known};
use crate::model::Entry;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the store {path}: {message}")]
    Open { path: String, message: String },
    /// The file exists but is not a polyfeed store; it is left untouched.
    #[error("{path} is not a polyfeed store ({reason}); refusing to touch it. Move it away or point cache_dir elsewhere")]
    Foreign { path: String, reason: String },
    /// The store was written by a newer polyfeed.
    #[error("{path} was written by a newer polyfeed (schema {found}, this one knows {known})")]
    TooNew { path: String, found: i64, known: i64 },
    /// The disk is full or refuses writes: nothing of the failed transaction was kept.
    #[error("store: the disk is full or read-only ({0}); nothing of the failed step was kept")]
    Disk(String),
    /// A query failed.
    #[error("store: {0}")]
    Sql(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly) => StoreError::Disk(e.to_string()),
            _ => StoreError::Sql(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the store holds, for the commands and the daemon. Each stage takes only the part it
/// needs.
pub trait Store: FeedStore + QueueStore + MemoryStore + UsageStore + PublishStore + TokenStore + NodeStore + SubscriptionStore {}

impl<T: FeedStore + QueueStore + MemoryStore + UsageStore + PublishStore + TokenStore + NodeStore + SubscriptionStore> Store for T {}

/// The store a config names: PostgreSQL when `database_url` is set (or `POLYFEED_DATABASE_URL`,
/// which wins and may carry the password), else the SQLite file in `cache_dir`.
pub fn open(config: &crate::config::Config) -> Result<std::sync::Arc<dyn Store>> {
    match config.database_url() {
        Some(url) => Ok(std::sync::Arc::new(PgStore::open(&url, *config.lease_seconds.get_ref())?)),
        None => Ok(std::sync::Arc::new(SqliteStore::open(&config.store_path())?)),
    }
}

// ---------------------------------------------------------------------------------------------
// Feeds and their entries (refresh).

/// Feeds, their entries, and what one fetch changes. Implementations are safe to share between threads.
pub trait FeedStore: Send + Sync {
    /// The fetch state of a feed (default state for a feed never fetched).
    fn feed_state(&self, feed: &str) -> Result<FeedState>;

    /// The entries known in a feed, tombstoned ones included.
    fn known_entries(&self, feed: &str) -> Result<Vec<Known>>;

    /// Records one fetch: the feed's state and, when a body was parsed, its entries and the queue,
    /// all in one transaction. `url` is the configured URL; `langs` the target languages.
    fn record_fetch(&self, feed: &str, url: &str, record: &FetchRecord, detection: Option<&Detection>, langs: &[&str]) -> Result<Applied>;

    /// One summary per feed in the store, by name.
    fn feed_summaries(&self) -> Result<Vec<FeedSummary>>;

    /// Claims the fetch of a feed for schedule tick `tick_ms` (milliseconds since the epoch) for
    /// this process, unless a process sharing the store claimed that tick or a later one. Always
    /// true where one process holds the store.
    fn claim_fetch(&self, feed: &str, url: &str, tick_ms: i64) -> Result<bool>;
}

/// What the fetcher needs to know about a feed before fetching it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedState {
    /// The URL to fetch instead of the configured one (permanent redirect or autodiscovery).
    pub fetch_url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    /// No fetch before this time (Retry-After, max-age).
    pub not_before: Option<i64>,
    /// Consecutive failures.
    pub failures: u32,
    /// True once the feed has any stored entry: its next new entries are not a backfill.
    pub has_entries: bool,
}

/// How a fetch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchResult {
    /// A body was fetched and parsed (or was identical to the last one).
    Ok,
    /// 304 Not Modified.
    NotModified,
    /// Postponed: the server asked for time (Retry-After) or the feed's not_before is in the future.
    Deferred(String),
    /// Failed, with the reason.
    Failed(String),
}

impl FetchResult {
    pub fn label(&self) -> &'static str {
        match self {
            FetchResult::Ok => "ok",
            FetchResult::NotModified => "not_modified",
            FetchResult::Deferred(_) => "deferred",
            FetchResult::Failed(_) => "failed",
        }
    }
}

/// Feed-level metadata from the last parsed body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedMeta {
    pub title: String,
    pub site_url: Option<String>,
    pub authors: Vec<String>,
}

/// Everything one fetch of one feed changes.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRecord {
    pub result: FetchResult,
    /// A new URL to fetch from now on.
    pub fetch_url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    pub not_before: Option<i64>,
    pub meta: Option<FeedMeta>,
}

impl FetchRecord {
    pub fn new(result: FetchResult) -> FetchRecord {
        FetchRecord { result, fetch_url: None, etag: None, last_modified: None, body_hash: None, not_before: None, meta: None }
    }
}

/// What applying a detection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub new: usize,
    pub updated: usize,
    pub queued: usize,
    pub gone: usize,
    pub filtered: usize,
}

/// One row of `polyfeed status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedSummary {
    pub name: String,
    pub url: String,
    /// Where the feed is fetched from now, when it differs from `url`.
    pub fetch_url: Option<String>,
    pub last_fetch_at: Option<i64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub not_before: Option<i64>,
    pub has_etag: bool,
    pub has_last_modified: bool,
    pub entries: u64,
    pub queued: u64,
    /// Entries translated completely (any language).
    pub translated: u64,
    /// Entries published partly translated (`allow_partial`).
    pub partial: u64,
    /// Queue rows that failed for good (until `polyfeed retry`).
    pub failed: u64,
    /// Reasons of the failed rows, newest first (at most a few).
    pub failures_reasons: Vec<String>,
    pub tokens: u64,
    pub cost_usd: f64,
    /// Blocks translated once the engine was told what was wrong with its last reply.
    pub repaired: u64,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub id: i64,
    pub feed: String,
    pub version: i64,
    pub entry: Entry,
    pub note: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The translation queue (the worker, `retry`, `status`).

/// The translation queue: one job per entry and language, leased with an expiry.
pub trait QueueStore: Send + Sync {
    /// Returns leased jobs to the queue. Called at start by the process holding the cache lock:
    /// whatever a crashed process had leased is picked up again.
    fn recover_leases(&self) -> Result<usize>;

    /// Leases up to `limit` due jobs (queued and due, or leased with an expired lease), newest entries first.
    fn lease_jobs(&self, limit: usize, lease_secs: i64) -> Result<Vec<Job>>;

    /// An entry by its store id.
    fn entry(&self, entry_id: i64) -> Result<Option<StoredEntry>>;

    /// Ends a leased job (a finished translation is stored with it, in the same transaction).
    fn finish_job(&self, job: &Job, end: &JobEnd) -> Result<()>;

    /// Puts failed jobs, and jobs waiting for a later retry, back on the queue at once with fresh
    /// attempts, for one feed or all.
    fn retry_failed(&self, feed: Option<&str>) -> Result<Retried>;

    /// Translation jobs not done (queued, waiting for a retry, leased or failed) of the entries of
    /// `feeds` that are not filtered out, oldest first, at most `limit`; and how many there are.
    fn unpublished(&self, feeds: &[&str], limit: usize) -> Result<UnpublishedList>;

    /// Queue rows by state.
    fn queue_counts(&self) -> Result<QueueCounts>;
}

/// A leased translation job: one entry version into one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub entry_id: i64,
    pub lang: String,
    pub version: i64,
    pub feed: String,
    pub attempts: u32,
}

/// How a job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// Translated (completely, or partially when the config allows).
    Done(TranslationRow),
    /// Try again at this time.
    Retry { at: i64, reason: String },
    /// Give up until `polyfeed retry`.
    Failed { reason: String },
    /// Not attempted (budget reached, shutdown): back to the queue as it was.
    Release,
}

/// What `retry_failed` put back on the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retried {
    /// Jobs that had failed for good.
    pub failed: usize,
    /// Jobs that were waiting for a later retry.
    pub waiting: usize,
}

/// Queue rows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queued: u64,
    pub leased: u64,
    pub done: u64,
    pub failed: u64,
}

/// Posts that are due but not published: the first few, and how many in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnpublishedList {
    pub posts: Vec<Unpublished>,
    pub total: u64,
}

/// A post that is due but not published in a language: its job and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpublished {
    pub feed: String,
    pub entry_id: i64,
    pub title: String,
    pub lang: String,
    /// queued, leased or failed.
    pub state: String,
    pub attempts: u32,
    /// Not tried again before this time (a retry's wait).
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The translation memory (the worker).

/// Checked translations of single blocks, and the usage that paid for them.
pub trait MemoryStore: Send + Sync {
    /// Translations of `blocks` into `lang` in the memory, from the first of `engines` that has
    /// each; by unit hash.
    fn memory_lookup(&self, blocks: &[MemoryKey], lang: &str, engines: &[EngineModel]) -> Result<HashMap<String, String>>;

    /// Stores checked translations and the usage of the request that produced them, together:
    /// nothing is paid for without its result being kept.
    fn memory_store(&self, rows: &[MemoryRow], usage: &[UsageRow]) -> Result<()>;

    /// Claims the translating of `blocks` into `lang` for this process until it lets them go (or
    /// a lease's life), and returns the hashes it got: a block another process sharing the store is
    /// translating is left to it (it lands in the memory). All of them where one process holds the store.
    fn claim_units(&self, lang: &str, blocks: &[MemoryKey]) -> Result<std::collections::HashSet<String>>;

    /// Lets this process's claims on `blocks` go.
    fn release_units(&self, lang: &str, blocks: &[MemoryKey]) -> Result<()>;

    /// The source tokens per request learned for an engine, if any.
    fn batch_tokens(&self, engine: &EngineModel) -> Result<Option<usize>>;

    /// Remembers the source tokens per request an engine handles.
    fn set_batch_tokens(&self, engine: &EngineModel, tokens: usize) -> Result<()>;
}

/// What a block is looked up by in the memory, beside its language and engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryKey {
    /// The unit's hash.
    pub hash: String,
    /// The instructions key (`prompt::instructions_key`).
    pub instructions: i64,
}

/// An engine and its model: whose translations these are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineModel {
    pub engine: String,
    pub model: String,
}

/// One translated unit for the memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRow {
    pub hash: String,
    pub lang: String,
    pub engine: String,
    pub model: String,
    /// The instructions key (`prompt::instructions_key`), stored in the `prompt_version` column.
    pub instructions: i64,
    pub source: String,
    pub translation: String,
}

// ---------------------------------------------------------------------------------------------
// Usage (budgets, `status`).

/// Tokens and money spent, per day, feed and entry.
pub trait UsageStore: Send + Sync {
    /// What was spent since `day` (YYYY-MM-DD, inclusive), for one feed or all.
    fn usage_since(&self, day: &str, feed: Option<&str>) -> Result<Spent>;

    /// What was spent per day since `day`, oldest first.
    fn usage_by_day(&self, day: &str) -> Result<Vec<DaySpent>>;

    /// What was spent on `kind` since `day` (YYYY-MM-DD, inclusive), over all feeds.
    fn usage_of_kind_since(&self, kind: UsageKind, day: &str) -> Result<Spent>;
}

/// Tokens and US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spent {
    pub tokens: u64,
    pub usd: f64,
}

/// What one day cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaySpent {
    /// YYYY-MM-DD in the configured time zone.
    pub day: String,
    pub tokens: u64,
    pub usd: f64,
}

/// What one request cost, attributed to one entry.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub day: String,
    pub feed: String,
    pub entry_id: i64,
    pub engine: String,
    pub model: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub estimated: bool,
    /// What it paid for: `translation` or `summary`.
    pub kind: UsageKind,
    /// Blocks this request translated once told what was wrong with the last reply (a repair).
    pub repaired: u64,
}

/// What a request paid for: kept apart because summaries have a budget of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageKind {
    Translation,
    Summary,
}

impl UsageKind {
    /// Its name in the usage table.
    pub fn name(self) -> &'static str {
        match self {
            UsageKind::Translation => "translation",
            UsageKind::Summary => "summary",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Publishing.

/// Finished translations as publishing reads them, and the marks it leaves.
pub trait PublishStore: Send + Sync {
    /// The finished translation of an entry into a language.
    fn translation(&self, entry_id: i64, lang: &str) -> Result<Option<TranslationRow>>;

    /// Translated entries in `lang`, newest first: of one feed or all, at most `limit`.
    fn publish_items(&self, feed: Option<&str>, lang: &str, limit: usize) -> Result<Vec<PublishItem>>;

    /// Translated entries in `lang` whose translation changed after sequence number `since`, in order.
    fn publish_items_since(&self, lang: &str, since: i64) -> Result<Vec<PublishItem>>;

    /// Translated entries in `lang` whose translation was made in `from < translated_at <= to`
    /// (seconds since the epoch), in the order they were translated, at most `limit`.
    fn translated_between(&self, lang: &str, from: i64, to: i64, limit: usize) -> Result<Vec<PublishItem>>;

    /// Changes whenever a translation of the feed in `lang` is added or replaced, or the feed's metadata changes.
    fn publish_fingerprint(&self, feed: &str, lang: &str) -> Result<String>;

    /// The feed's metadata from its last parsed body.
    fn feed_meta(&self, feed: &str) -> Result<Option<FeedMeta>>;

    /// The marks publishing left (what it published last).
    fn publish_marks(&self) -> Result<HashMap<String, String>>;

    fn set_publish_marks(&self, marks: &[(String, String)]) -> Result<()>;

    /// Claims the writing of `output/` for `secs` seconds: one process at a time publishes (the
    /// others serve what it wrote). Always true where one process holds the store.
    fn claim_publish(&self, secs: i64) -> Result<bool>;

    /// Lets the claim go.
    fn release_publish(&self) -> Result<()>;
}

/// An entry ready to publish: the entry, its translation and when it was translated.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishItem {
    pub entry: StoredEntry,
    pub translation: TranslationRow,
    pub translated_at: i64,
    /// Grows with every translation change (see `publish_items_since`).
    pub seq: i64,
}

/// A finished translation of one entry version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranslationRow {
    pub entry_id: i64,
    pub lang: String,
    pub version: i64,
    pub title_src: String,
    pub title: String,
    pub content_src: String,
    pub units: Vec<Option<String>>,
    pub complete: bool,
    /// A checked summary in the language (plain text), for feeds with `summary = true`.
    pub summary: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Subscriber tokens (the server, `tokens`).

/// Subscribers' secret tokens for private feeds; only digests are kept.
pub trait TokenStore: Send + Sync {
    /// Digests of the valid subscriber tokens.
    fn token_hashes(&self) -> Result<Vec<String>>;

    /// Every token, by name.
    fn tokens(&self) -> Result<Vec<TokenInfo>>;

    /// Adds a token; false when the name is taken.
    fn add_token(&self, name: &str, hash: &str, hint: &str) -> Result<bool>;

    /// Revokes a token by name; false when there was none.
    fn revoke_token(&self, name: &str) -> Result<bool>;
}

// ---------------------------------------------------------------------------------------------
// WebSub subscriptions (refresh records the hubs sources advertise; the daemon and the server
// subscribe, verify and take pushes).

/// Subscriptions to the hubs that sources advertise, one per feed.
pub trait SubscriptionStore: Send + Sync {
    /// Every subscription, by feed.
    fn subscriptions(&self) -> Result<Vec<Subscription>>;

    /// The feed's subscription.
    fn subscription(&self, feed: &str) -> Result<Option<Subscription>>;

    /// The subscription whose callback ends in `token`.
    fn subscription_by_token(&self, token: &str) -> Result<Option<Subscription>>;

    /// Adds or replaces the feed's subscription.
    fn put_subscription(&self, s: &Subscription) -> Result<()>;

    /// Forgets the feed's subscription (its source no longer advertises a hub).
    fn drop_subscription(&self, feed: &str) -> Result<()>;
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// The source advertises a hub; not asked yet.
    Wanted,
    /// Asked; the hub has not verified it yet.
    Requested,
    /// Verified: pushes are taken until `lease_until`.
    Active,
    /// The hub refused it (`reason`).
    Denied,
}

impl SubscriptionState {
    pub fn name(self) -> &'static str {
        match self {
            SubscriptionState::Wanted => "wanted",
            SubscriptionState::Requested => "requested",
            SubscriptionState::Active => "active",
            SubscriptionState::Denied => "denied",
        }
    }

    pub fn from_name(s: &str) -> SubscriptionState {
        match s {
            "requested" => SubscriptionState::Requested,
            "active" => SubscriptionState::Active,
            "denied" => SubscriptionState::Denied,
            _ => SubscriptionState::Wanted,
        }
    }
}

/// A feed's subscription to its source's hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub feed: String,
    pub hub: String,
    /// The source's self URL: what the hub pushes.
    pub topic: String,
    /// The last segment of the callback URL (random); its secret derives from it.
    pub token: String,
    pub state: SubscriptionState,
    /// The lease the hub granted.
    pub lease_seconds: Option<i64>,
    pub lease_until: Option<i64>,
    /// When it was last asked for.
    pub requested_at: Option<i64>,
    /// Why the hub refused it, or the last request failed.
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The processes sharing the store (`status`, /status, /metrics).

/// The polyfeed processes (nodes) that share this store.
pub trait NodeStore: Send + Sync {
    /// This process's name among them.
    fn this_node(&self) -> String;

    /// The nodes seen in the last day, by name (none where the store is one process's).
    fn nodes(&self) -> Result<Vec<NodeInfo>>;
}

/// One polyfeed process sharing the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub name: String,
    pub started_at: i64,
    pub last_seen: i64,
    /// Seen within a lease's life.
    pub alive: bool,
    /// Translation jobs it holds leased now.
    pub leases: u64,
    /// Feeds it fetched last.
    pub feeds: u64,
}

/// A subscriber token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub hint: String,
    pub created_at: i64,
}
