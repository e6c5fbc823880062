//! `polyfeed remove NAME`: unsubscribe. The feed's [[feeds]] table leaves feeds.toml; what the
//! store holds of it (entries, translations, memory) and its published files stay, so that adding
//! it again pays for nothing twice.

use super::{Done, Result};
use std::path::Path;

use crate::cli::RemoveArgs;
use crate::config::edit;

pub fn run(config_path: &Path, args: RemoveArgs) -> Result<Done> {
    let config = super::load_config(config_path)?;
    let text = super::config_text(config_path)?;
    let url = config.feed(&args.name).map(|f| f.url().to_string());
    let edited = edit::remove_feed(&text, &args.name).map_err(super::edit_error)?;
    edit::write(config_path, &edited).map_err(super::edit_error)?;
    println!("removed {:?} <{}> from {}", args.name, url.unwrap_or_default(), config_path.display());
    println!("its translations stay in the store, and its files in {}, until you delete them", config.output_dir.join(&args.name).display());
    Ok(Done::All)
}
