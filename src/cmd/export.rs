//! `polyfeed export`: the subscribed feeds (the sources, not what polyfeed publishes; that list is
//! output/opml.xml) as OPML 2.0 on stdout. `polyfeed import` reads it back to the same names.

use super::{Done, Result};
use std::path::Path;

pub fn run(config_path: &Path) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let feeds: Vec<(String, String, String)> = config.feeds.iter().map(|f| (f.name().to_string(), f.url().to_string(), String::new())).collect();
    print!("{}", crate::publish::site::opml("polyfeed sources", &feeds));
    Ok(Done::All)
}
