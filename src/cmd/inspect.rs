//! `polyfeed inspect`: fetch (or read) and parse one feed without touching state.

use super::{Done, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::config::{Config, DEFAULT_USER_AGENT};
use crate::fetch::{self, Fetcher};
use crate::model::ParsedFeed;
use crate::parse;

#[derive(Serialize)]
struct Report {
    source: String,
    /// Feeds announced by the HTML page at `source`, when it was one.
    discovered: Vec<String>,
    /// The feed that was parsed.
    feed_url: String,
    title: String,
    site_url: Option<String>,
    authors: Vec<String>,
    entries: Vec<EntryRow>,
}

#[derive(Serialize)]
struct EntryRow {
    key: String,
    id: String,
    link: Option<String>,
    title: String,
    published: Option<String>,
    updated: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
    content_length: usize,
}

pub fn run(config_path: &Path, args: InspectArgs) -> Result<Done> {
    // The config is optional here: it only lends its user agent and limits.
    let config = if config_path.exists() { Some(super::load_config(config_path)?) } else { None };
    let is_url = args.target.starts_with("http://") || args.target.starts_with("https://");
    let report = if is_url {
        super::runtime()?.block_on(inspect_url(config.as_ref(), &args.target, args.allow_private_network))?
    } else {
        let body = std::fs::read(&args.target).with_context(|| format!("cannot read {}", args.target))?;
        let base = format!("file://{}", std::fs::canonicalize(&args.target).with_context(|| format!("cannot read {}", args.target))?.display());
        let parsed = parse::parse(&body, &base, None).with_context(|| format!("{} is not a feed", args.target))?;
        report(&args.target, vec![], &args.target, parsed)
    };
    if args.json {
        super::print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(Done::All)
}

async fn inspect_url(config: Option<&Config>, url: &str, allow_private: bool) -> anyhow::Result<Report> {
    let default;
    let config = match config {
        Some(c) => c,
        None => {
            default = Config::parse("")?;
            &default
        }
    };
    let found = find_feed(config, url, allow_private).await?;
    Ok(report(url, found.announced, &found.feed_url, found.parsed))
}

/// Fetches `url` with the config's user agent and limits and parses it as a feed, or as a page
/// that announces one (`add` uses it too).
pub(super) async fn find_feed(config: &Config, url: &str, allow_private: bool) -> anyhow::Result<crate::refresh::Found> {
    let fetcher = Fetcher::from_config(config);
    let headers = BTreeMap::new();
    let request = fetch::Request {
        url,
        etag: None,
        last_modified: None,
        user_agent: config.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT),
        headers: &headers,
        proxy: None,
        private: if allow_private { fetch::PrivateNetwork::Any } else { fetch::PrivateNetwork::Refused },
        timeout: Duration::from_secs_f64(*config.timeout.get_ref()),
        accept: fetch::ACCEPT_FEEDS,
    };
    let response = fetcher.fetch(&request).await.with_context(|| format!("cannot fetch {url}"))?;
    Ok(crate::refresh::parse_or_discover(&fetcher, &response, &request).await?)
}

fn report(source: &str, discovered: Vec<String>, feed_url: &str, parsed: ParsedFeed) -> Report {
    let time = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Report {
        source: source.to_string(),
        discovered,
        feed_url: feed_url.to_string(),
        title: parsed.title,
        site_url: parsed.site_url,
        authors: parsed.authors,
        entries: parsed
            .entries
            .into_iter()
            .map(|e| EntryRow {
                content_length: e.content.len(),
                key: e.key,
                id: e.source_id,
                link: e.link,
                title: e.title,
                published: time(e.published),
                updated: time(e.updated),
                authors: e.authors,
                categories: e.categories,
            })
            .collect(),
    }
}

fn print_text(r: &Report) {
    if !r.discovered.is_empty() {
        println!("{} is an HTML page; it announces:", r.source);
        for d in &r.discovered {
            println!("  {d}");
        }
    }
    println!("{} ({})", r.title, r.feed_url);
    if let Some(site) = &r.site_url {
        println!("site: {site}");
    }
    println!("{} entries", r.entries.len());
    for e in &r.entries {
        println!();
        println!("  {}", e.title);
        println!("    key        {}", e.key);
        println!("    id         {}", if e.id.is_empty() { "(none)" } else { &e.id });
        println!("    link       {}", e.link.as_deref().unwrap_or("(none)"));
        println!("    published  {}", e.published.as_deref().unwrap_or("-"));
        println!("    updated    {}", e.updated.as_deref().unwrap_or("-"));
        if !e.authors.is_empty() {
            println!("    authors    {}", e.authors.join(", "));
        }
        if !e.categories.is_empty() {
            println!("    categories {}", e.categories.join(", "));
        }
        println!("    content    {} bytes", e.content_length);
    }
}
