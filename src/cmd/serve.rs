//! `polyfeed serve`: serve output/ over HTTP without fetching or translating.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::{Done, Result};
use crate::serve::App;

pub fn run(config_path: &Path) -> Result<Done> {
    let config = Arc::new(super::load_config(config_path)?);
    let store = super::open_store(&config)?;
    super::runtime()?
        .block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
            let app = App::new(config.clone(), store, Arc::default(), None).map_err(|e| anyhow::anyhow!(e))?;
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let mut servers = crate::serve::start(&app, stop_rx).await?;
            eprintln!("serving {} on http://{}/", config.output_dir.display(), config.server.listen.get_ref());
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(config.server.grace(), async { while servers.join_next().await.is_some() {} }).await;
            anyhow::Ok(())
        })
        .context("polyfeed serve")?;
    Ok(Done::All)
}
