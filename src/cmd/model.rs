//! `polyfeed model`: fetch a model for the offline `local` engine, list what is in the cache.

use super::{CommandError, Done, Result};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{ModelAction, ModelArgs};
use crate::translate::models::{self, Source};

pub fn run(config_path: &Path, args: ModelArgs) -> Result<Done> {
    // Models live in the config's cache folder; without a config, in ./cache.
    let cache_dir = if config_path.exists() { super::load_config(config_path)?.cache_dir } else { PathBuf::from("cache") };
    match args.action {
        ModelAction::List { json } => list(&cache_dir, json),
        ModelAction::Pull { name, url, sha256 } => pull(&cache_dir, name, url, sha256),
    }
}

fn pull(cache_dir: &Path, name: Option<String>, url: Option<String>, sha256: Option<String>) -> Result<Done> {
    let name = name.unwrap_or_else(|| models::RECOMMENDED.to_string());
    let source = match (url, models::known(&name)) {
        (Some(url), _) => {
            let sha256 = sha256.context("--url needs --sha256")?;
            if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(CommandError::Usage("--sha256 must be 64 hex digits".to_string()));
            }
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(CommandError::Usage(format!("{name:?} cannot name a model file")));
            }
            let file = models::path_of(cache_dir, &name).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            Source { url, file, sha256: sha256.to_ascii_lowercase(), size: None }
        }
        (None, Some(known)) => Source::from(known),
        (None, None) => {
            let names: Vec<&str> = models::CATALOGUE.iter().map(|k| k.name).collect();
            return Err(CommandError::Usage(format!("no known model {name:?} (known: {}; or give --url and --sha256)", names.join(", "))));
        }
    };
    let dir = models::models_dir(cache_dir);
    let progress = std::io::stderr().is_terminal();
    let (path, fetched) = super::runtime()?.block_on(models::pull(&source, &dir, progress)).context("cannot fetch the model")?;
    println!("{} {}", if fetched { "fetched" } else { "already there:" }, path.display());
    println!("use it with, in [translator]: engine = \"local\" and model = {name:?} (polyfeed built with --features local)");
    Ok(Done::All)
}

fn list(cache_dir: &Path, json: bool) -> Result<Done> {
    let listed = models::list(cache_dir);
    if json {
        super::print_json(&listed)?;
        return Ok(Done::All);
    }
    for m in &listed {
        let state = match (m.size, m.partial) {
            (Some(n), _) => format!("{:.2} GB", n as f64 / 1e9),
            (None, Some(n)) => format!("partial, {:.2} GB (pull again to resume)", n as f64 / 1e9),
            (None, None) => "not fetched".to_string(),
        };
        let recommended = if m.name == models::RECOMMENDED { " (recommended)" } else { "" };
        println!("{:<28} {state:<40} {}{recommended}", m.name, m.file.display());
        if !m.about.is_empty() {
            println!("{:<28} {}", "", m.about);
        }
    }
    if !cfg!(feature = "local") {
        println!("this polyfeed is built without the local engine: `cargo install --path . --features local` adds it");
    }
    Ok(Done::All)
}
