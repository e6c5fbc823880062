//! The daemon: wires the scheduler, the translation worker, publishing and the HTTP server, and
//! handles signals. SIGINT/SIGTERM stop it gracefully; SIGHUP reloads feeds.toml.
//!
//! It runs the same pipeline as `refresh` (`Pipeline::fetch_scheduled` per feed on its schedule,
//! `Pipeline::pass` whenever work is queued), and the one server start (`serve::start`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::cmd::Result;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::now;
use crate::pipeline::{Pipeline, Translated};
use crate::refresh::Outcome;
use crate::schedule::next_run;
use crate::serve::{App, Live};
use crate::store::Store;
use crate::translate::worker::Worker;

/// How often the scheduler wakes at least (its heartbeat), and how long the worker waits for work.
const TICK: Duration = Duration::from_secs(30);
const IDLE: Duration = Duration::from_secs(60);
/// WebSub pushes waiting to be taken; past this, hubs are told to send again later.
const PUSHES_WAITING: usize = 64;

struct Shared {
    config_path: PathBuf,
    /// The pipeline of the running config; a reload replaces it.
    pipeline: RwLock<Arc<Pipeline>>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    live: Arc<Live>,
    /// New entries were queued: translate now.
    work: Notify,
    /// The config changed: reschedule.
    reload: Notify,
    /// A feed was fetched: a hub it advertises may be new.
    fetched: Notify,
    /// The worker of the pass in progress, so shutdown can stop it.
    worker: Mutex<Option<Arc<Worker>>>,
}

impl Shared {
    fn pipeline(&self) -> Arc<Pipeline> {
        self.pipeline.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn config(&self) -> Arc<Config> {
        self.pipeline().config().clone()
    }
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config_path: &Path, config: Config, store: Arc<dyn Store>) -> Result<()> {
    // Before anything can be reached from outside: a signal must never meet the default action.
    let signals = Signals::new()?;
    let config = Arc::new(config);
    let metrics: Arc<Metrics> = Arc::default();
    let pipeline = Arc::new(Pipeline::new(config.clone(), store.clone(), metrics.clone()));
    pipeline.recover()?;
    let shared = Arc::new(Shared {
        config_path: config_path.to_path_buf(),
        pipeline: RwLock::new(pipeline),
        store: store.clone(),
        metrics,
        live: Arc::default(),
        work: Notify::new(),
        reload: Notify::new(),
        fetched: Notify::new(),
        worker: Mutex::new(None),
    });
    shared.live.heartbeat.store(now(), std::sync::atomic::Ordering::Relaxed);

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = App::new(config.clone(), store.clone(), shared.metrics.clone(), Some(shared.live.clone())).map_err(|e| anyhow::anyhow!(e))?;
    let mut servers = crate::serve::start(&app, stop_rx.clone()).await.context("polyfeed daemon")?;
    let scheduler = tokio::spawn(scheduler(shared.clone(), stop_rx.clone()));
    let translator = tokio::spawn(translator(shared.clone(), stop_rx.clone()));
    let (push_tx, push_rx) = tokio::sync::mpsc::channel(PUSHES_WAITING);
    let _ = shared.live.pushes.set(push_tx);
    let subscriber = tokio::spawn(subscriber(shared.clone(), push_rx, stop_rx.clone()));

    signals.wait_for_stop(&shared).await;
    tracing::info!("stopping: no new work; in-flight requests get the grace period");
    let _ = stop_tx.send(true);
    if let Some(w) = shared.worker.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        w.stop();
    }
    shared.work.notify_one();
    let grace = config.server.grace();
    let finished = tokio::time::timeout(grace, async {
        let _ = scheduler.await;
        let _ = translator.await;
        let _ = subscriber.await;
        while servers.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(grace = ?grace, "the grace period ran out; unfinished work goes back to the queue");
        crate::translate::local::interrupt();
    }
    // Whatever is still leased was not finished: it is picked up next time. Nothing stored is lost.
    let pipeline = shared.pipeline();
    pipeline.recover()?;
    let _ = pipeline.publish().await;
    tracing::info!("stopped");
    Ok(())
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            hup: signal(SignalKind::hangup()).context("cannot handle SIGHUP")?,
        })
    }

    /// Waits for SIGINT or SIGTERM; reloads the config on SIGHUP.
    async fn wait_for_stop(mut self, shared: &Arc<Shared>) {
        loop {
            tokio::select! {
                _ = self.int.recv() => return,
                _ = self.term.recv() => return,
                _ = self.hup.recv() => reload(shared),
            }
        }
    }
}

/// SIGHUP: the new config replaces the running one only if it is valid.
fn reload(shared: &Shared) {
    match Config::from_file(&shared.config_path) {
        Ok(new) => {
            if new.server.listen.get_ref() != shared.config().server.listen.get_ref() {
                tracing::warn!("server.listen changed: the new address takes effect at the next start");
            }
            let pipeline = Pipeline::new(Arc::new(new), shared.store.clone(), shared.metrics.clone());
            *shared.pipeline.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pipeline);
            shared.reload.notify_one();
            shared.work.notify_one();
            tracing::info!(config = %shared.config_path.display(), "config reloaded");
        }
        Err(e) => tracing::error!(error = %e, "config reload refused; the running config stays"),
    }
}

/// Fetches each feed when its schedule says, one task per feed, never two at once for one feed.
async fn scheduler(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut pipeline = shared.pipeline();
    let mut config = pipeline.config().clone();
    let mut next: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut running: JoinSet<(String, bool)> = JoinSet::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    loop {
        shared.live.heartbeat.store(now(), std::sync::atomic::Ordering::Relaxed);
        let current = shared.pipeline();
        if !Arc::ptr_eq(&current, &pipeline) {
            pipeline = current;
            config = pipeline.config().clone();
            next.retain(|name, _| config.feed(name).is_some_and(|f| f.enabled));
        }
        let t = Utc::now();
        for feed in config.enabled_feeds() {
            next.entry(feed.name().to_string()).or_insert_with(|| {
                // At start a feed is due at once, unless its server asked for time.
                let nb = shared.store.feed_state(feed.name()).ok().and_then(|s| s.not_before).and_then(|n| DateTime::from_timestamp(n, 0));
                nb.map_or(t, |nb| nb.max(t))
            });
        }
        let due: Vec<String> = next.iter().filter(|(n, at)| **at <= t && !in_flight.contains(*n)).map(|(n, _)| n.clone()).collect();
        for name in due {
            let pipeline = pipeline.clone();
            in_flight.insert(name.clone());
            running.spawn(async move {
                let Some(feed) = pipeline.config().feed(&name).cloned() else { return (name, false) };
                let changed = match pipeline.fetch_scheduled(&feed).await {
                    Ok(Some(report)) => report.outcome == Outcome::Fetched && report.applied.queued > 0,
                    // Another node sharing the store fetched it for this tick: its work is queued there too.
                    Ok(None) => true,
                    // The store failed (a full disk): the feed is tried again on its schedule.
                    Err(e) => {
                        tracing::error!(feed = %name, error = %e, "cannot record a fetch");
                        false
                    }
                };
                (name, changed)
            });
        }
        *shared.live.next_runs.lock().unwrap_or_else(|e| e.into_inner()) = next.iter().map(|(n, t)| (n.clone(), t.timestamp())).collect();

        let soonest = next.iter().filter(|(n, _)| !in_flight.contains(*n)).map(|(_, t)| *t).min();
        let wait = soonest.map_or(TICK, |s| (s - Utc::now()).to_std().unwrap_or_default().min(TICK));
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok((name, changed)) = done {
                    in_flight.remove(&name);
                    if let Some(feed) = config.feed(&name) {
                        let state = shared.store.feed_state(&name).unwrap_or_default();
                        let at = next_run(feed.schedule(&config), config.tz, Utc::now(), state.failures, state.not_before, rand::random::<f64>());
                        next.insert(name.clone(), pushed_instead(&shared, &config, &name, at));
                    }
                    if changed {
                        shared.work.notify_one();
                    }
                    shared.fetched.notify_one();
                }
            }
            _ = tokio::time::sleep(wait) => {}
            _ = shared.reload.notified() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    // Fetches in flight finish (the caller bounds this by the grace period).
    while running.join_next().await.is_some() {}
}

/// While a feed's WebSub subscription is active, its hub pushes what is new: the feed is polled
/// at most once a day (a safety net for lost pushes), and again as scheduled once the lease ends.
fn pushed_instead(shared: &Shared, config: &Config, feed: &str, at: DateTime<Utc>) -> DateTime<Utc> {
    if !config.server.websub {
        return at;
    }
    match shared.store.subscription(feed) {
        Ok(Some(s)) if s.state == crate::store::SubscriptionState::Active => match s.lease_until.and_then(|u| DateTime::from_timestamp(u, 0)) {
            Some(until) if until > Utc::now() => at.max(Utc::now() + chrono::Duration::days(1)).min(until).max(at),
            _ => at,
        },
        _ => at,
    }
}

/// WebSub (`[server] websub`): asks the sources' hubs for the subscriptions that are due, and
/// takes each push the server checked as a fetch of its feed.
async fn subscriber(shared: Arc<Shared>, mut pushes: tokio::sync::mpsc::Receiver<crate::serve::websub::Push>, mut stop: watch::Receiver<bool>) {
    let mut warned = false;
    loop {
        let pipeline = shared.pipeline();
        let config = pipeline.config().clone();
        let mut wait = TICK;
        if config.server.websub {
            match config.server.websub_key() {
                Ok(key) => match pipeline.renew_subscriptions(&key).await {
                    Ok(Some(next)) => wait = wait.min(Duration::from_secs((next - now()).clamp(1, 30) as u64)),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot read or record WebSub subscriptions"),
                },
                Err(why) if !warned => {
                    tracing::error!(reason = %why, "[server] websub is on, but no subscription is asked for until the key is set; polling goes on");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        let push = tokio::select! {
            push = pushes.recv() => push,
            _ = tokio::time::sleep(wait) => None,
            _ = shared.fetched.notified() => None,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(push) = push else { continue };
        let Some(feed) = config.feed(&push.feed).filter(|f| f.enabled).cloned() else { continue };
        match pipeline.take_push(&feed, &push.body, push.content_type.as_deref()).await {
            Ok(report) if report.applied.queued > 0 => shared.work.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!(feed = %push.feed, error = %e, "cannot record a push"),
        }
    }
}

/// Runs a pass whenever there is work (new entries queued, retries come due): take back what was
/// left leased, translate, publish what changed.
async fn translator(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut warned_for: Option<Arc<Pipeline>> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let pipeline = shared.pipeline();
        *shared.worker.lock().unwrap_or_else(|e| e.into_inner()) = pipeline.worker().ok().cloned();
        match pipeline.pass(|_, _| {}).await {
            Ok(pass) => {
                if let Translated::Skipped { why, .. } = &pass.translated
                    && !warned_for.as_ref().is_some_and(|p| Arc::ptr_eq(p, &pipeline))
                {
                    tracing::warn!(reason = %why, "translation is off until the config is fixed (then send SIGHUP)");
                    warned_for = Some(pipeline.clone());
                }
            }
            Err(e) => tracing::error!(error = %e, "the store failed during a pass; trying again later"),
        }
        if *stop.borrow() {
            break;
        }
        // Retries come due on their own: look again after a while even without news. Work left
        // in the queue (leased by another node, which may die, or left to one translating the
        // same blocks) is looked at again once such a lease could have run out.
        let pending = shared.store.queue_counts().map(|q| q.queued + q.leased > 0).unwrap_or(false);
        let wait = if pending { IDLE.min(Duration::from_secs(*pipeline.config().lease_seconds.get_ref() as u64)) } else { IDLE };
        // A digest is published when its period closes.
        let config = pipeline.config();
        let closing = config.publish.digest.as_ref().and_then(|d| crate::publish::digest::next_closing(&d.cron, config.tz, Utc::now()));
        let wait = closing.map_or(wait, |at| wait.min((at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50)));
        tokio::select! {
            _ = shared.work.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
