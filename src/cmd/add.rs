//! `polyfeed add URL`: subscribe without editing TOML. The URL (a feed, or a page that announces
//! one) is fetched once and must parse; then a [[feeds]] table is appended to feeds.toml.

use super::{CommandError, Done, Result};
use std::collections::HashSet;
use std::path::Path;

use crate::cli::AddArgs;
use crate::config::edit::{self, NewFeed};
use crate::config::is_slug;
use crate::fetch::FetchError;

pub fn run(config_path: &Path, args: AddArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let text = super::config_text(config_path)?;
    let url = with_scheme(&args.url);
    if !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()) {
        return Err(CommandError::Usage(format!("{:?} is not an http(s) URL", args.url)));
    }
    let already = |u: &str| config.feeds.iter().find(|f| same_url(f.url(), u)).map(|f| f.name().to_string());
    if let Some(name) = already(&url) {
        return Err(CommandError::Usage(format!("{url} is already subscribed as {name:?}")));
    }
    let found = super::runtime()?.block_on(super::inspect::find_feed(&config, &url, args.allow_private_network)).map_err(|e| {
        let private = e.chain().any(|c| matches!(c.downcast_ref::<FetchError>(), Some(FetchError::Private { .. })));
        let hint = if private { " (pass --allow-private-network to subscribe to it anyway)" } else { "" };
        CommandError::Usage(format!("cannot subscribe to {url}: {e:#}{hint}"))
    })?;
    if let Some(name) = already(&found.feed_url) {
        return Err(CommandError::Usage(format!("{} (announced by {url}) is already subscribed as {name:?}", found.feed_url)));
    }
    let taken: HashSet<String> = config.feeds.iter().map(|f| f.name().to_string()).collect();
    let name = match args.name {
        Some(n) if !is_slug(&n) => {
            return Err(CommandError::Usage(format!("--name {n:?} is not a slug: use lowercase letters, digits, '-' and '_' (it names output folders)")));
        }
        Some(n) if taken.contains(&n) => return Err(CommandError::Usage(format!("a feed named {n:?} exists already; choose another --name"))),
        Some(n) => n,
        None => edit::unique_name(&found.feed_url, &taken),
    };
    let feed =
        NewFeed { name: name.clone(), url: found.feed_url.clone(), title: Some(found.parsed.title.clone()), allow_private_network: args.allow_private_network };
    let edited = edit::add_feeds(&text, &[feed]).map_err(super::edit_error)?;
    edit::write(config_path, &edited).map_err(super::edit_error)?;
    let added = crate::config::Config::parse(&edited)?;
    let backfill = added.feed(&name).map_or(0, |f| f.backfill);
    if !found.announced.is_empty() {
        println!("{url} is a page; it announces {}", found.feed_url);
    }
    println!(
        "added {name:?}: {} <{}>, {} entries; the next refresh translates up to {backfill} of them",
        if found.parsed.title.is_empty() { "(untitled)" } else { &found.parsed.title },
        found.feed_url,
        found.parsed.entries.len()
    );
    println!("(a running daemon takes it up on SIGHUP or restart)");
    Ok(Done::All)
}

/// `example.org/feed` -> `https://example.org/feed`.
fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") { url.to_string() } else { format!("https://{url}") }
}

/// The same feed, written alike or with only the scheme, a `www.` or a trailing slash apart.
pub(super) fn same_url(a: &str, b: &str) -> bool {
    let key = |u: &str| {
        let u = u.trim();
        let u = u.split_once("://").map_or(u, |(_, rest)| rest);
        u.trim_start_matches("www.").trim_end_matches('/').to_ascii_lowercase()
    };
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_name_the_same_feed() {
        assert!(same_url("https://www.a.org/feed/", "http://a.org/feed"));
        assert!(!same_url("https://a.org/feed", "https://a.org/feed2"));
        assert_eq!(with_scheme(" a.org/x "), "https://a.org/x");
        assert_eq!(with_scheme("http://a.org/"), "http://a.org/");
    }
}
