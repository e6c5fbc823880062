//! `polyfeed import FILE.opml`: subscribe to every feed of a feed reader's export. Feeds already
//! subscribed (by URL) are skipped, so importing twice changes nothing; an outline that would
//! break the config is reported and left out, the others are added, in one write.

use super::{CommandError, Done, Result};
use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::ImportArgs;
use crate::config::edit::{self, NewFeed};
use crate::config::is_free_name;

pub fn run(config_path: &Path, args: ImportArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let mut text = super::config_text(config_path)?;
    let body = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let subs = crate::parse::opml::subscriptions(&body).map_err(|e| CommandError::Usage(format!("{}: {e}", args.file.display())))?;

    let mut taken: HashSet<String> = config.feeds.iter().map(|f| f.name().to_string()).collect();
    let mut known: Vec<(String, String)> = config.feeds.iter().map(|f| (f.url().to_string(), f.name().to_string())).collect();
    let (mut added, mut skipped, mut refused) = (0, 0, 0);
    for sub in &subs {
        if let Some((_, name)) = known.iter().find(|(u, _)| super::add::same_url(u, &sub.url)) {
            println!("  = {} (already subscribed as {name:?})", sub.url);
            skipped += 1;
            continue;
        }
        // A title that is a free slug is kept as the name (so `export` then `import` round-trips).
        let name = if is_free_name(&sub.title, &taken) { sub.title.clone() } else { edit::unique_name(&sub.url, &taken) };
        let feed = NewFeed { name: name.clone(), url: sub.url.clone(), title: Some(sub.title.clone()), allow_private_network: false };
        match edit::add_feeds(&text, &[feed]) {
            Ok(t) => {
                text = t;
                println!("  + {name} <{}>{}", sub.url, if sub.title.is_empty() { String::new() } else { format!(" {}", sub.title) });
                taken.insert(name.clone());
                known.push((sub.url.clone(), name));
                added += 1;
            }
            Err(e) => {
                println!("  ! {}: {}", sub.url, reason(&e));
                refused += 1;
            }
        }
    }
    if added > 0 {
        edit::write(config_path, &text).map_err(super::edit_error)?;
    }
    println!("{}: {} feeds; {added} added, {skipped} already subscribed, {refused} refused", args.file.display(), subs.len());
    if added > 0 {
        println!("(the next refresh fetches them; a running daemon takes them up on SIGHUP or restart)");
    }
    Ok(Done::from_unfinished(refused > 0))
}

/// Why an outline was left out, without the line number of a config it never became.
fn reason(e: &edit::EditError) -> String {
    match e {
        edit::EditError::Config(crate::config::ConfigError::Invalid { message, .. }) => message.clone(),
        other => other.to_string(),
    }
}
