//! `polyfeed serve`: serve output/ over HTTP without fetching or translating.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::serve::App;

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Arc::new(super::load_config(config_path)?);
    let store = super::open_store(&config)?;
    super::runtime()?.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
        let app = App::new(config.clone(), store, Arc::default(), None).map_err(|e| anyhow::anyhow!(e))?;
        let admin = config.server.admin_listen.as_ref().map(|a| a.get_ref().clone());
        let mut servers = tokio::task::JoinSet::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        for (addr, router) in
            std::iter::once((config.server.listen.get_ref().clone(), app.router(admin.is_none()))).chain(admin.map(|a| (a, app.admin_router())))
        {
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            eprintln!("serving {} on http://{addr}/", config.output_dir.display());
            let mut stop = stop_rx.clone();
            servers.spawn(crate::serve::run(listener, router, async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
        }
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(config.server.grace(), async { while servers.join_next().await.is_some() {} }).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
