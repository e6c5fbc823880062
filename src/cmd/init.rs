//! `polyfeed init`: write the commented starter config (the shipped feeds.toml) if none exists.

use super::{CommandError, Done, Result};
use std::path::Path;

use anyhow::Context as _;

/// The starter config: the same file the repository ships and its tests load.
pub const STARTER: &str = include_str!("../../feeds.toml");

pub fn run(config_path: &Path) -> Result<Done> {
    if config_path.exists() {
        return Err(CommandError::Usage(format!("{} already exists; not overwriting it", config_path.display())));
    }
    if let Some(dir) = config_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(config_path, STARTER).with_context(|| format!("cannot write {}", config_path.display()))?;
    println!("wrote {}; edit its [[feeds]] and [translator], then run `polyfeed refresh`", config_path.display());
    Ok(Done::All)
}
