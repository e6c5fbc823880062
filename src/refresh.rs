//! One pass over the feeds: fetch -> parse -> detect -> store/queue, one orchestrator per feed.
//! `polyfeed refresh` and the daemon both use `refresh_feed` (through `pipeline`); `inspect` uses
//! the same fetch-and-discover path (`fetch_feed`) without the store.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Serialize;

use crate::config::{Config, FeedConfig};
use crate::detect::{self, Detection};
use crate::fetch::{self, FetchError, Fetcher, Response};
use crate::model::{ParsedFeed, now};
use crate::parse::{self, ParseError};
use crate::store::{Applied, FeedMeta, FeedState, FeedStore, FetchRecord, FetchResult, Store, StoreError, Subscription, SubscriptionState, SubscriptionStore};

/// The longest a server's max-age or ttl may postpone the next fetch.
const MAX_CACHE_DELAY: i64 = 6 * 3600;

/// What a pass needs: the config, the store and the fetcher.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub fetcher: Arc<Fetcher>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// How one feed's refresh ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// A new body was parsed.
    Fetched,
    /// The server said 304, or sent the very body it sent last time.
    NotModified,
    /// Not fetched: the server asked for time, or its cache lifetime has not run out.
    Deferred(String),
    /// Fetching or parsing failed; recorded, and the feed keeps its entries.
    Failed(#[serde(serialize_with = "as_text")] FeedFailure),
}

/// Why a feed could not be refreshed. A store failure is not one of these: it stops the pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedFailure {
    /// The fetch failed; when the server asked for time, the next fetch waits for it.
    #[error("{error}{}", if *deferred { "; next fetch deferred" } else { "" })]
    Fetch { error: FetchError, deferred: bool },
    /// The body is not a feed.
    #[error("{error} (from {url})")]
    Parse { url: String, error: ParseError },
    /// The body is an HTML page that links to no feed.
    #[error("{0} is an HTML page that announces no feed")]
    NoFeedAnnounced(String),
    /// The feed an HTML page announces could not be fetched.
    #[error("{url} (discovered): {error}")]
    DiscoveredFetch { url: String, error: FetchError },
    /// The feed an HTML page announces is not a feed.
    #[error("{url} (discovered): {error}")]
    DiscoveredParse { url: String, error: ParseError },
    /// The task refreshing the feed panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

fn as_text<S: serde::Serializer>(f: &FeedFailure, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(f)
}

/// The result of refreshing one feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub feed: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(flatten)]
    pub applied: Applied,
    /// The feed's new address, when it moved (permanent redirect or autodiscovery).
    pub moved_to: Option<String>,
}

/// Refreshes every feed of `feeds` concurrently; the fetcher enforces the global and per-host limits.
/// A store failure (a full disk) ends the pass with that error once every feed has finished.
pub async fn refresh_all(ctx: &Context, feeds: &[&FeedConfig], force: bool, on_done: impl Fn(&FeedReport)) -> Result<Vec<FeedReport>, StoreError> {
    // One task per feed, so parsing runs on every core while other feeds wait on the network; the
    // fetcher's global and per-host limits are the only limits on fetching (as in the daemon). At
    // most a window of them at a time (each task's state is kilobytes: 10,000 at once held 100 MiB),
    // taken in turn from each host, so the feeds of a busy host never fill it.
    let window = WINDOW_PER_FETCH * *ctx.config.max_concurrent_fetches.get_ref();
    let tasks = by_host_in_turn(feeds).into_iter().map(|f| {
        let (ctx, feed) = (ctx.clone(), (*f).clone());
        let name = feed.name().to_string();
        async move {
            tokio::spawn(async move { refresh_feed(&ctx, &feed, force).await }).await.unwrap_or_else(|e| {
                Ok(FeedReport { feed: name, outcome: Outcome::Failed(FeedFailure::Internal(e.to_string())), applied: Applied::default(), moved_to: None })
            })
        }
    });
    let results: Vec<Result<FeedReport, StoreError>> = futures_util::stream::iter(tasks)
        .buffer_unordered(window)
        .inspect(|r| {
            if let Ok(r) = r {
                on_done(r)
            }
        })
        .collect()
        .await;
    let mut reports = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let order: std::collections::HashMap<&str, usize> = feeds.iter().enumerate().map(|(i, f)| (f.name(), i)).collect();
    reports.sort_by_key(|r| order.get(r.feed.as_str()).copied());
    Ok(reports)
}

/// Feeds refreshed at once, per fetch the fetcher may make at once.
const WINDOW_PER_FETCH: usize = 16;

/// The feeds in an order that takes one from each host in turn (hosts in order of first
/// appearance, each host's feeds in config order). Pure.
fn by_host_in_turn<'a>(feeds: &[&'a FeedConfig]) -> Vec<&'a FeedConfig> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut hosts: Vec<std::collections::VecDeque<&'a FeedConfig>> = Vec::new();
    for f in feeds {
        let host = url::Url::parse(f.url()).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let i = *index.entry(host).or_insert_with(|| {
            hosts.push(std::collections::VecDeque::new());
            hosts.len() - 1
        });
        hosts[i].push_back(f);
    }
    let mut out = Vec::with_capacity(feeds.len());
    while out.len() < feeds.len() {
        for queue in &mut hosts {
            out.extend(queue.pop_front());
        }
    }
    out
}

/// Refreshes one feed. Never panics on bad input: every failure of the feed ends up in the report
/// and the store; only a failure of the store itself is an error.
#[tracing::instrument(skip_all, fields(feed = feed.name()))]
pub async fn refresh_feed(ctx: &Context, feed: &FeedConfig, force: bool) -> Result<FeedReport, StoreError> {
    let name = feed.name();
    let started = std::time::Instant::now();
    let report = |outcome, applied, moved_to| FeedReport { feed: name.to_string(), outcome, applied, moved_to };
    let report = match refresh_inner(ctx, feed, force).await? {
        Ok((outcome, applied, moved_to)) => report(outcome, applied, moved_to),
        Err(failure) => {
            tracing::warn!(reason = %failure, "refresh failed");
            let not_before = match &failure {
                FeedFailure::Fetch { error, .. } => error.retry_after().map(|d| now() + d.as_secs() as i64),
                _ => None,
            };
            let mut record = FetchRecord::new(match not_before {
                Some(_) => FetchResult::Deferred(failure.to_string()),
                None => FetchResult::Failed(failure.to_string()),
            });
            record.not_before = not_before;
            ctx.store.record_fetch(name, feed.url(), &record, None, &[])?;
            report(Outcome::Failed(failure), Applied::default(), None)
        }
    };
    let label = match report.outcome {
        Outcome::Fetched => "ok",
        Outcome::NotModified => "not_modified",
        Outcome::Deferred(_) => "deferred",
        Outcome::Failed(_) => "failed",
    };
    ctx.metrics.fetched(label, started.elapsed());
    ctx.metrics.detected(report.applied.new, report.applied.updated);
    Ok(report)
}

/// A refresh that went through (its outcome, what it applied, where the feed moved), or the feed's failure.
type Inner = Result<Result<(Outcome, Applied, Option<String>), FeedFailure>, StoreError>;

async fn refresh_inner(ctx: &Context, feed: &FeedConfig, force: bool) -> Inner {
    // Refreshing speaks to the feeds' part of the store only.
    let store: &dyn FeedStore = ctx.store.as_ref();
    let name = feed.name();
    let langs: Vec<&str> = feed.languages(&ctx.config).collect();
    let state = store.feed_state(name)?;
    if let Some(nb) = state.not_before.filter(|nb| !force && *nb > now()) {
        let when = chrono::DateTime::from_timestamp(nb, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
        return Ok(Ok((Outcome::Deferred(format!("not before {when}")), Applied::default(), None)));
    }
    let url = state.fetch_url.clone().unwrap_or_else(|| feed.url().to_string());
    let request = fetch::Request { url: &url, etag: state.etag.as_deref(), last_modified: state.last_modified.as_deref(), ..feed_request(ctx, feed, &url) };

    let response = match ctx.fetcher.fetch(&request).await {
        Ok(r) => r,
        Err(error) => return Ok(Err(FeedFailure::Fetch { deferred: error.retry_after().is_some(), error })),
    };
    let mut record = FetchRecord::new(FetchResult::Ok);
    record.fetch_url = response.moved_to.as_ref().map(|u| u.to_string());
    record.etag = response.etag.clone();
    record.last_modified = response.last_modified.clone();
    record.not_before = response.max_age.map(|s| now() + (s as i64).min(MAX_CACHE_DELAY));
    let moved_to = record.fetch_url.clone();

    let Some(body) = &response.body else {
        record.result = FetchResult::NotModified;
        store.record_fetch(name, feed.url(), &record, None, &langs)?;
        return Ok(Ok((Outcome::NotModified, Applied::default(), moved_to)));
    };
    // The very same body as last time: nothing to parse.
    let body_hash = crate::model::fingerprint(body);
    if state.body_hash.as_deref() == Some(body_hash.as_str()) && response.moved_to.is_none() {
        store.record_fetch(name, feed.url(), &record, None, &langs)?;
        return Ok(Ok((Outcome::NotModified, Applied::default(), moved_to)));
    }
    record.body_hash = Some(body_hash);

    let found = match parse_or_discover(&ctx.fetcher, &response, &request).await {
        Ok(f) => f,
        Err(failure) => return Ok(Err(failure)),
    };
    if !found.announced.is_empty() {
        // The configured URL is a page: from now on the feed it announces is fetched, afresh.
        record.fetch_url = Some(found.feed_url.clone());
        record.etag = None;
        record.last_modified = None;
    }
    let parsed = found.parsed;
    if ctx.config.server.websub {
        advertised(ctx.store.as_ref(), name, &parsed, &found.feed_url)?;
    }
    record.not_before = record.not_before.or(parsed_ttl(&parsed));
    record.meta = Some(FeedMeta { title: parsed.title.clone(), site_url: parsed.site_url.clone(), authors: parsed.authors.clone() });

    let known = known_entries(store, name, &state)?;
    let mut detection = detect::detect(&parsed.entries, &known, !state.has_entries, feed.backfill, &feed.filters);
    if feed.full_text {
        fill_full_text(ctx, feed, &mut detection).await;
    }
    let applied = store.record_fetch(name, feed.url(), &record, Some(&detection), &langs)?;
    tracing::info!(new = applied.new, updated = applied.updated, queued = applied.queued, "fetched");
    Ok(Ok((Outcome::Fetched, applied, record.fetch_url)))
}

/// What the store knows of a feed's entries; nothing to ask on a first fetch, when it holds none.
fn known_entries(store: &dyn FeedStore, feed: &str, state: &FeedState) -> Result<Vec<detect::Known>, StoreError> {
    if state.has_entries { store.known_entries(feed) } else { Ok(Vec::new()) }
}

/// Records the WebSub hub a feed advertises (`[server] websub`): a new hub or topic is a new
/// subscription to ask for (a new callback token); a hub no longer advertised is forgotten.
fn advertised(store: &dyn SubscriptionStore, feed: &str, parsed: &ParsedFeed, fetched_from: &str) -> Result<(), StoreError> {
    let existing = store.subscription(feed)?;
    let Some(hub) = &parsed.hub else {
        if existing.is_some() {
            tracing::info!(feed, "the source no longer advertises a WebSub hub: polling only");
            store.drop_subscription(feed)?;
        }
        return Ok(());
    };
    let topic = parsed.self_url.as_deref().unwrap_or(fetched_from);
    if existing.as_ref().is_some_and(|s| s.hub == *hub && s.topic == topic) {
        return Ok(());
    }
    let token: String = (0..24).map(|_| char::from_digit(rand::random_range(0..36u32), 36).unwrap_or('0')).collect();
    tracing::info!(feed, hub = %hub, topic, "the source advertises a WebSub hub");
    store.put_subscription(&Subscription {
        feed: feed.to_string(),
        hub: hub.clone(),
        topic: topic.to_string(),
        token,
        state: SubscriptionState::Wanted,
        lease_seconds: None,
        lease_until: None,
        requested_at: None,
        reason: None,
    })
}

/// Takes a body a WebSub hub pushed for `feed` as a fetch of it: parsed, detected and queued in
/// one transaction like any fetch, its validators kept. A push may carry only the new entries, so
/// entries it lacks are not taken for gone.
pub async fn apply_push(ctx: &Context, feed: &FeedConfig, body: &[u8], content_type: Option<&str>) -> Result<FeedReport, StoreError> {
    let name = feed.name();
    let report = |outcome, applied| FeedReport { feed: name.to_string(), outcome, applied, moved_to: None };
    let store: &dyn FeedStore = ctx.store.as_ref();
    let state = store.feed_state(name)?;
    let url = state.fetch_url.clone().unwrap_or_else(|| feed.url().to_string());
    let parsed = match parse::parse(body, &url, content_type) {
        Ok(p) => p,
        Err(error) => {
            let failure = FeedFailure::Parse { url, error };
            tracing::warn!(feed = name, reason = %failure, "a push that is not a feed was ignored");
            return Ok(report(Outcome::Failed(failure), Applied::default()));
        }
    };
    let mut record = FetchRecord::new(FetchResult::Ok);
    record.etag = state.etag.clone();
    record.last_modified = state.last_modified.clone();
    record.body_hash = state.body_hash.clone();
    record.meta = Some(FeedMeta { title: parsed.title.clone(), site_url: parsed.site_url.clone(), authors: parsed.authors.clone() });
    let langs: Vec<&str> = feed.languages(&ctx.config).collect();
    let known = known_entries(store, name, &state)?;
    let mut detection = detect::detect(&parsed.entries, &known, !state.has_entries, feed.backfill, &feed.filters);
    detection.gone.clear();
    if feed.full_text {
        fill_full_text(ctx, feed, &mut detection).await;
    }
    let applied = store.record_fetch(name, feed.url(), &record, Some(&detection), &langs)?;
    tracing::info!(feed = name, new = applied.new, updated = applied.updated, queued = applied.queued, "pushed");
    ctx.metrics.fetched("pushed", std::time::Duration::ZERO);
    ctx.metrics.detected(applied.new, applied.updated);
    Ok(report(Outcome::Fetched, applied))
}

/// A feed as fetched: parsed, and where it came from.
#[derive(Debug)]
pub struct Found {
    pub parsed: ParsedFeed,
    /// The URL the feed was read from (after redirects and discovery).
    pub feed_url: String,
    /// When the URL was an HTML page: every feed it announces (the first was read).
    pub announced: Vec<String>,
}

/// Parses a fetched body as a feed; when it is an HTML page, fetches the first feed it announces
/// (autodiscovery, once), with the settings of `request` (the page's) and no validators.
pub async fn parse_or_discover(fetcher: &Fetcher, response: &Response, request: &fetch::Request<'_>) -> Result<Found, FeedFailure> {
    let body = response.body.as_deref().unwrap_or_default();
    let page_url = response.url.as_str();
    match parse::parse(body, page_url, response.content_type.as_deref()) {
        Ok(parsed) => return Ok(Found { parsed, feed_url: page_url.to_string(), announced: Vec::new() }),
        Err(ParseError::Html) => {}
        Err(error) => return Err(FeedFailure::Parse { url: page_url.to_string(), error }),
    }
    let announced = fetch::discover::feed_links(&String::from_utf8_lossy(body), page_url);
    let Some(first) = announced.first() else { return Err(FeedFailure::NoFeedAnnounced(page_url.to_string())) };
    tracing::info!(page = page_url, found = %first, "autodiscovered feed");
    let r = fetcher
        .fetch(&fetch::Request { url: first, etag: None, last_modified: None, ..request.clone() })
        .await
        .map_err(|error| FeedFailure::DiscoveredFetch { url: first.to_string(), error })?;
    let parsed = parse::parse(r.body.as_deref().unwrap_or_default(), r.url.as_str(), r.content_type.as_deref())
        .map_err(|error| FeedFailure::DiscoveredParse { url: first.to_string(), error })?;
    Ok(Found { parsed, feed_url: r.url.to_string(), announced })
}

/// The request settings of a feed, for its own URL or one of its pages.
fn feed_request<'a>(ctx: &'a Context, feed: &'a FeedConfig, url: &'a str) -> fetch::Request<'a> {
    fetch::Request {
        url,
        etag: None,
        last_modified: None,
        user_agent: feed.user_agent(&ctx.config),
        headers: &feed.headers,
        proxy: feed.proxy.as_ref().map(|p| p.get_ref().as_str()),
        // The feed's own host may be private when the config says so; nothing it redirects to may.
        private: private_network(feed),
        timeout: feed.timeout(&ctx.config),
        accept: fetch::ACCEPT_FEEDS,
    }
}

/// Where a feed's requests may reach a private network: its own host, when the config says so;
/// nothing it redirects to (or names, such as a WebSub hub) elsewhere.
pub fn private_network(feed: &FeedConfig) -> fetch::PrivateNetwork {
    match (feed.allow_private_network, url::Url::parse(feed.url()).ok().and_then(|u| u.host_str().map(str::to_string))) {
        (true, Some(host)) => fetch::PrivateNetwork::Host(host),
        _ => fetch::PrivateNetwork::Refused,
    }
}

/// RSS `ttl` (minutes) postpones the next fetch, within reason.
fn parsed_ttl(parsed: &ParsedFeed) -> Option<i64> {
    parsed.ttl_minutes.map(|m| now() + (m as i64 * 60).min(MAX_CACHE_DELAY))
}

/// Replaces the content of queued entries with their page's article; a failure keeps the feed's content with a note.
async fn fill_full_text(ctx: &Context, feed: &FeedConfig, detection: &mut Detection<'_>) {
    for item in detection.items.iter_mut().filter(|i| i.queue) {
        let Some(link) = item.entry.link.as_deref() else {
            item.note = Some("full text: the entry has no link".into());
            continue;
        };
        let request = fetch::Request { accept: fetch::ACCEPT_HTML, ..feed_request(ctx, feed, link) };
        let result = match ctx.fetcher.fetch(&request).await {
            Ok(r) => {
                let html = String::from_utf8_lossy(&r.body.unwrap_or_default()).into_owned();
                let url = r.url.to_string();
                tokio::task::spawn_blocking(move || fetch::fulltext::extract(&html, &url)).await.unwrap_or_else(|e| Err(e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(html) => item.full_text = Some(html),
            Err(reason) => {
                tracing::warn!(entry = link, %reason, "full text extraction failed; keeping the feed's content");
                item.note = Some(format!("full text failed: {reason}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_are_taken_from_each_host_in_turn() {
        let mut text = String::new();
        for (name, url) in [
            ("a1", "https://a.org/1"),
            ("a2", "https://a.org/2"),
            ("a3", "https://a.org/3"),
            ("b1", "https://b.org/1"),
            ("c1", "http://c.org/1"),
            ("b2", "https://b.org/2"),
        ] {
            text.push_str(&format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
        }
        let config = Config::parse(&text).unwrap();
        let feeds: Vec<&FeedConfig> = config.feeds.iter().collect();
        let order: Vec<&str> = by_host_in_turn(&feeds).iter().map(|f| f.name()).collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "b2", "a3"]);
        assert!(by_host_in_turn(&[]).is_empty());
    }
}
