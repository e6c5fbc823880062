//! One pass over the feeds: fetch -> parse -> detect -> store/queue, one orchestrator per feed.
//! `polyfeed refresh` and the daemon both use `refresh_feed`.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Serialize;

use crate::config::{Config, FeedConfig};
use crate::detect::{self, Detection};
use crate::fetch::{self, FetchError, Fetcher};
use crate::model::{ParsedFeed, now};
use crate::parse::{self, ParseError};
use crate::store::{Applied, FeedMeta, FetchRecord, FetchResult, Store};

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
    Failed(String),
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
pub async fn refresh_all(ctx: &Context, feeds: &[&FeedConfig], force: bool, on_done: impl Fn(&FeedReport)) -> Vec<FeedReport> {
    // One task per feed, so parsing runs on every core while other feeds wait on the network. All
    // start at once: the fetcher's global and per-host limits are the only ones (as in the daemon),
    // so feeds of a busy host never hold back those of the others.
    let tasks = feeds.iter().map(|f| {
        let (ctx, feed) = (ctx.clone(), (*f).clone());
        let name = feed.name().to_string();
        async move {
            tokio::spawn(async move { refresh_feed(&ctx, &feed, force).await }).await.unwrap_or_else(|e| FeedReport {
                feed: name,
                outcome: Outcome::Failed(format!("internal error: {e}")),
                applied: Applied::default(),
                moved_to: None,
            })
        }
    });
    let mut reports: Vec<FeedReport> = tasks.collect::<futures_util::stream::FuturesUnordered<_>>().inspect(|r| on_done(r)).collect().await;
    let order: std::collections::HashMap<&str, usize> = feeds.iter().enumerate().map(|(i, f)| (f.name(), i)).collect();
    reports.sort_by_key(|r| order.get(r.feed.as_str()).copied());
    reports
}

/// Refreshes one feed. Never panics on bad input: every failure ends up in the report and the store.
#[tracing::instrument(skip_all, fields(feed = feed.name()))]
pub async fn refresh_feed(ctx: &Context, feed: &FeedConfig, force: bool) -> FeedReport {
    let name = feed.name();
    let started = std::time::Instant::now();
    let report = |outcome, applied, moved_to| FeedReport { feed: name.to_string(), outcome, applied, moved_to };
    let report = match refresh_inner(ctx, feed, force).await {
        Ok((outcome, applied, moved_to)) => report(outcome, applied, moved_to),
        Err(reason) => {
            tracing::warn!(%reason, "refresh failed");
            report(Outcome::Failed(reason), Applied::default(), None)
        }
    };
    let label = match report.outcome {
        Outcome::Fetched => "ok",
        Outcome::NotModified => "not_modified",
        Outcome::Deferred(_) => "deferred",
        Outcome::Failed(_) => "failed",
    };
    ctx.metrics.fetched(label, started.elapsed());
    let m = &ctx.metrics;
    m.entries_new.fetch_add(report.applied.new as u64, std::sync::atomic::Ordering::Relaxed);
    m.entries_updated.fetch_add(report.applied.updated as u64, std::sync::atomic::Ordering::Relaxed);
    report
}

type Inner = Result<(Outcome, Applied, Option<String>), String>;

async fn refresh_inner(ctx: &Context, feed: &FeedConfig, force: bool) -> Inner {
    let store = &ctx.store;
    let name = feed.name();
    let langs: Vec<&str> = feed.languages(&ctx.config).collect();
    let state = store.feed_state(name).map_err(|e| e.to_string())?;
    if let Some(nb) = state.not_before.filter(|nb| !force && *nb > now()) {
        let when = chrono::DateTime::from_timestamp(nb, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
        return Ok((Outcome::Deferred(format!("not before {when}")), Applied::default(), None));
    }
    let url = state.fetch_url.clone().unwrap_or_else(|| feed.url().to_string());
    let request = fetch::Request { url: &url, etag: state.etag.as_deref(), last_modified: state.last_modified.as_deref(), ..feed_request(ctx, feed, &url) };

    let response = match ctx.fetcher.fetch(&request).await {
        Ok(r) => r,
        Err(e) => return fail(ctx, feed, &e.to_string(), retry_after(&e)),
    };
    let mut record = FetchRecord::new(FetchResult::Ok);
    record.fetch_url = response.moved_to.as_ref().map(|u| u.to_string());
    record.etag = response.etag.clone();
    record.last_modified = response.last_modified.clone();
    record.not_before = response.max_age.map(|s| now() + (s as i64).min(MAX_CACHE_DELAY));
    let moved_to = record.fetch_url.clone();

    let Some(body) = &response.body else {
        record.result = FetchResult::NotModified;
        store.record_fetch(name, feed.url(), &record, None, &langs).map_err(|e| e.to_string())?;
        return Ok((Outcome::NotModified, Applied::default(), moved_to));
    };
    // The very same body as last time: nothing to parse.
    let body_hash = crate::model::digest_bytes(body);
    if state.body_hash.as_deref() == Some(body_hash.as_str()) && response.moved_to.is_none() {
        store.record_fetch(name, feed.url(), &record, None, &langs).map_err(|e| e.to_string())?;
        return Ok((Outcome::NotModified, Applied::default(), moved_to));
    }
    record.body_hash = Some(body_hash);

    let parsed = match parse::parse(body, response.url.as_str(), response.content_type.as_deref()) {
        Ok(p) => p,
        Err(ParseError::Html) => match discover(ctx, feed, body, response.url.as_str()).await {
            Ok((parsed, feed_url)) => {
                record.fetch_url = Some(feed_url);
                record.etag = None;
                record.last_modified = None;
                parsed
            }
            Err(reason) => return fail(ctx, feed, &reason, None),
        },
        Err(e) => return fail(ctx, feed, &format!("{e} (from {})", response.url), None),
    };
    record.not_before = record.not_before.or(parsed_ttl(&parsed));
    record.meta = Some(FeedMeta { title: parsed.title.clone(), site_url: parsed.site_url.clone(), authors: parsed.authors.clone() });

    let known = store.known_entries(name).map_err(|e| e.to_string())?;
    let mut detection = detect::detect(&parsed.entries, &known, !state.has_entries, feed.backfill, &feed.filters);
    if feed.full_text {
        fill_full_text(ctx, feed, &mut detection).await;
    }
    let applied = store.record_fetch(name, feed.url(), &record, Some(&detection), &langs).map_err(|e| e.to_string())?;
    tracing::info!(new = applied.new, updated = applied.updated, queued = applied.queued, "fetched");
    Ok((Outcome::Fetched, applied, record.fetch_url))
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
        private: match (feed.allow_private_network, url::Url::parse(feed.url()).ok().and_then(|u| u.host_str().map(str::to_string))) {
            (true, Some(host)) => fetch::PrivateNetwork::Host(host),
            _ => fetch::PrivateNetwork::Refused,
        },
        timeout: feed.timeout(&ctx.config),
        accept: fetch::ACCEPT_FEEDS,
    }
}

fn retry_after(e: &FetchError) -> Option<i64> {
    e.retry_after().map(|d| now() + d.as_secs() as i64)
}

/// Records a failure (or a deferral when the server asked for time) and reports it.
fn fail(ctx: &Context, feed: &FeedConfig, reason: &str, not_before: Option<i64>) -> Inner {
    let result = match not_before {
        Some(_) => FetchResult::Deferred(reason.to_string()),
        None => FetchResult::Failed(reason.to_string()),
    };
    let mut record = FetchRecord::new(result);
    record.not_before = not_before;
    ctx.store.record_fetch(feed.name(), feed.url(), &record, None, &[]).map_err(|e| e.to_string())?;
    match not_before {
        // A server asking for time is a failure of this run, but the feed keeps its place in the schedule.
        Some(_) => Err(format!("{reason}; next fetch deferred")),
        None => Err(reason.to_string()),
    }
}

/// The page was HTML: follow the feed it announces, once.
async fn discover(ctx: &Context, feed: &FeedConfig, body: &[u8], page_url: &str) -> Result<(ParsedFeed, String), String> {
    let html = String::from_utf8_lossy(body);
    let links = fetch::discover::feed_links(&html, page_url);
    let Some(feed_url) = links.first() else {
        return Err(format!("{page_url} is an HTML page that announces no feed"));
    };
    tracing::info!(page = page_url, found = %feed_url, "autodiscovered feed");
    let response = ctx.fetcher.fetch(&feed_request(ctx, feed, feed_url)).await.map_err(|e| format!("{feed_url} (discovered): {e}"))?;
    let body = response.body.unwrap_or_default();
    let parsed = parse::parse(&body, response.url.as_str(), response.content_type.as_deref()).map_err(|e| format!("{feed_url} (discovered): {e}"))?;
    Ok((parsed, response.url.to_string()))
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
