//! `polyfeed retry`: failed translations, and those waiting for a later retry, go back on the
//! queue at once.

use super::{CommandError, Done, Result};
use std::path::Path;

use crate::cli::RetryArgs;
use crate::lock::CacheLock;

pub fn run(config_path: &Path, args: RetryArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    if let Some(name) = args.feed.as_ref().filter(|n| config.feed(n).is_none()) {
        return Err(CommandError::Usage(format!("no feed named {name:?} in {}", config_path.display())));
    }
    let _lock = CacheLock::acquire(&config.cache_dir, "retry")?;
    let store = super::open_store(&config)?;
    let retried = store.retry_failed(args.feed.as_deref())?;
    println!("{} failed and {} waiting translations queued again; run `polyfeed refresh` (or let the daemon) translate them", retried.failed, retried.waiting);
    Ok(Done::All)
}
