//! `polyfeed daemon`: fetch on schedule, translate, publish, serve; until SIGINT or SIGTERM.

use std::path::Path;

use super::{Done, Result};
use crate::lock::CacheLock;

pub fn run(config_path: &Path) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let _lock = CacheLock::acquire(&config.cache_dir, "daemon")?;
    let store = super::open_store(&config)?;
    super::runtime()?.block_on(crate::daemon::run(config_path, config, store))?;
    Ok(Done::All)
}
