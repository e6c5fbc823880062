//! `polyfeed retry`: failed translations go back on the queue.

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
    let n = store.retry_failed(args.feed.as_deref())?;
    println!("{n} failed translations queued again; run `polyfeed refresh` (or let the daemon) translate them");
    Ok(ExitCode::SUCCESS)
}
