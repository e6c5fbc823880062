//! `polyfeed status`: each feed's state, for people or as JSON.

use super::{Done, Result};
use std::path::Path;

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::store::FeedSummary;

#[derive(Serialize)]
struct Row {
    name: String,
    enabled: bool,
    url: String,
    fetch_url: Option<String>,
    last_fetch: Option<String>,
    last_result: Option<String>,
    last_error: Option<String>,
    consecutive_failures: u32,
    not_before: Option<String>,
    etag: bool,
    last_modified: bool,
    entries: u64,
    queued: u64,
    translated: u64,
    partial: u64,
    failed: u64,
    failed_reasons: Vec<String>,
    /// Posts due and not published, and why (at most 20).
    unpublished: Vec<String>,
    tokens: u64,
    cost_usd: f64,
    /// Blocks translated once the engine was told what was wrong with its last reply.
    repaired: u64,
    /// The WebSub subscription to the source's hub, if it advertises one (`[server] websub`).
    push: Option<crate::store::Subscription>,
}

pub fn run(config_path: &Path, args: StatusArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let store = super::open_store(&config)?;
    let summaries = store.feed_summaries()?;
    // Feeds in the config first, in config order; then feeds only the store remembers.
    let mut rows: Vec<Row> = config
        .feeds
        .iter()
        .map(|f| {
            let s = summaries.iter().find(|s| s.name == f.name()).cloned().unwrap_or_else(|| FeedSummary {
                name: f.name().to_string(),
                url: f.url().to_string(),
                ..FeedSummary::default()
            });
            row(s, f.enabled)
        })
        .collect();
    for s in summaries.into_iter().filter(|s| config.feed(&s.name).is_none()) {
        rows.push(row(s, false));
    }
    for r in &mut rows {
        r.unpublished = store.unpublished(&[r.name.as_str()], 20)?.posts.iter().map(super::describe_unpublished).collect();
        r.push = store.subscription(&r.name)?;
    }

    if args.json {
        super::print_json(&rows)?;
        return Ok(Done::All);
    }
    for r in &rows {
        let state = if r.enabled { "" } else { " (disabled)" };
        println!("{}{state}", r.name);
        println!("  url          {}", r.url);
        if let Some(u) = &r.fetch_url {
            println!("  fetched from {u}");
        }
        let result = r.last_result.as_deref().unwrap_or("never fetched");
        println!("  last fetch   {} {result}", r.last_fetch.as_deref().unwrap_or("-"));
        if let Some(e) = &r.last_error {
            println!("  error        {e} ({} in a row)", r.consecutive_failures);
        }
        if let Some(nb) = &r.not_before {
            println!("  next fetch   not before {nb}");
        }
        let validators = match (r.etag, r.last_modified) {
            (true, true) => "ETag, Last-Modified",
            (true, false) => "ETag",
            (false, true) => "Last-Modified",
            (false, false) => "none",
        };
        println!("  validators   {validators}");
        println!("  entries      {} known, {} queued, {} translated, {} partial, {} failed", r.entries, r.queued, r.translated, r.partial, r.failed);
        for line in &r.unpublished {
            println!("    not published: {line}");
        }
        if r.tokens > 0 {
            let repaired = match r.repaired {
                0 => String::new(),
                1 => "; 1 block repaired (passed once told what was wrong)".to_string(),
                n => format!("; {n} blocks repaired (passed once told what was wrong)"),
            };
            println!("  spent        {} tokens (${:.4}){repaired}", r.tokens, r.cost_usd);
        }
        if let Some(s) = &r.push {
            let lease = s.lease_until.and_then(|u| super::time(Some(u))).map(|t| format!(", lease until {t}")).unwrap_or_default();
            let why = s.reason.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
            println!("  push         WebSub, {} via {}{lease}{why}", s.state.name(), s.hub);
        }
    }
    let since = (chrono::Utc::now() - chrono::Duration::days(29)).with_timezone(&config.tz).format("%Y-%m-%d").to_string();
    let days = store.usage_by_day(&since)?;
    let (tokens, usd) = days.iter().fold((0, 0.0), |(t, u), d| (t + d.tokens, u + d.usd));
    let q = store.queue_counts()?;
    println!();
    println!("queue: {} queued, {} in progress, {} done, {} failed", q.queued, q.leased, q.done, q.failed);
    for n in store.nodes()? {
        let state = if n.alive { "alive" } else { "silent" };
        println!(
            "node {}: {state}, last seen {}, {} jobs leased, fetched {} feeds last",
            n.name,
            super::time(Some(n.last_seen)).unwrap_or_default(),
            n.leases,
            n.feeds
        );
    }
    println!("last 30 days: {tokens} tokens (${usd:.4})");
    if config.feeds.iter().any(|f| f.summarized()) {
        let today = chrono::Utc::now().with_timezone(&config.tz).format("%Y-%m-%d").to_string();
        let month = store.usage_of_kind_since(crate::store::UsageKind::Summary, &since)?;
        let day = store.usage_of_kind_since(crate::store::UsageKind::Summary, &today)?;
        let budget = config.translator.as_ref().and_then(|t| t.summary_budget_tokens_per_day).map(|b| format!(" of a budget of {b}")).unwrap_or_default();
        println!("  of which summaries: {} tokens (${:.4}); today {}{budget}", month.tokens, month.usd, day.tokens);
    }
    if let Some(d) = &config.publish.digest {
        let next =
            crate::publish::digest::next_closing(&d.cron, config.tz, chrono::Utc::now()).map(|t| t.with_timezone(&config.tz).to_rfc3339()).unwrap_or_default();
        println!("digests: on {:?}, next at {next}; built from stored titles and summaries, they cost no tokens", d.schedule.get_ref());
    }
    Ok(Done::All)
}

fn row(s: FeedSummary, enabled: bool) -> Row {
    Row {
        name: s.name,
        enabled,
        url: s.url,
        fetch_url: s.fetch_url,
        last_fetch: super::time(s.last_fetch_at),
        last_result: s.last_result,
        last_error: s.last_error,
        consecutive_failures: s.failures,
        not_before: super::time(s.not_before),
        etag: s.has_etag,
        last_modified: s.has_last_modified,
        entries: s.entries,
        queued: s.queued,
        translated: s.translated,
        partial: s.partial,
        failed: s.failed,
        failed_reasons: s.failures_reasons,
        unpublished: Vec::new(),
        tokens: s.tokens,
        cost_usd: s.cost_usd,
        repaired: s.repaired,
        push: None,
    }
}
