//! `polyfeed retry`: failed translations, and those waiting for a later retry, go back on the
//! queue at once.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::RetryArgs;
use crate::lock::CacheLock;
use crate::store::Store;

pub fn run(config_path: &Path, args: RetryArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    if let Some(name) = &args.feed {
        anyhow::ensure!(config.feed(name).is_some(), "no feed named {name:?} in {}", config_path.display());
    }
    let _lock = CacheLock::acquire(&config.cache_dir, "retry")?;
    let store = super::open_store(&config)?;
    let (failed, waiting) = store.retry_failed(args.feed.as_deref())?;
    println!("{failed} failed and {waiting} waiting translations queued again; run `polyfeed refresh` (or let the daemon) translate them");
    Ok(ExitCode::SUCCESS)
}
