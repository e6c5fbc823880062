//! The pipeline, wired once: fetch the feeds (`refresh_feed` per feed), then a pass that takes
//! back what an earlier run left leased, translates the queue and publishes what changed.
//! `polyfeed refresh` runs `fetch_all` and one `pass`; the daemon runs `fetch_scheduled` on each
//! feed's schedule and a `pass` whenever work is queued. Neither wires the stages itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, FeedConfig};
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::publish::{self, PublishError};
use crate::refresh::{Context, FeedReport, refresh_all, refresh_feed};
use crate::store::{Job, JobEnd, Store, StoreError, UnpublishedList};
use crate::translate::engine::Unusable;
use crate::translate::worker::{Report, Worker};

/// How many of the posts that are due and not published a pass names.
const OWED_LISTED: usize = 10;

/// What the translation step of a pass did.
#[derive(Debug, Clone)]
pub enum Translated {
    /// The worker ran.
    Ran(Report),
    /// No engine is usable (the config says why): `queued` entries wait.
    Skipped { why: String, queued: u64 },
}

impl Translated {
    /// True when some entries are left failed, waiting or untried.
    pub fn unfinished(&self) -> bool {
        match self {
            Translated::Ran(r) => r.entries_failed + r.entries_retrying > 0 || r.budget_stop.is_some() || r.engines_down.is_some(),
            Translated::Skipped { queued, .. } => *queued > 0,
        }
    }
}

/// What one pass did.
#[derive(Debug)]
pub struct Pass {
    /// Leased jobs an earlier run left, taken back.
    pub recovered: usize,
    pub translated: Translated,
    /// The publish, or why it failed (the files published before are intact).
    pub published: Result<publish::Report, PublishError>,
    /// How long translating and publishing took.
    pub translate_took: Duration,
    pub publish_took: Duration,
}

impl Pass {
    /// True when the pass left work undone: a post not translated, a publish that failed, an entry
    /// left out of a feed file.
    pub fn unfinished(&self) -> bool {
        self.translated.unfinished() || self.published.as_ref().map_or(true, |r| r.left_out > 0)
    }
}

/// The stages and what they share, for one config.
pub struct Pipeline {
    pub ctx: Context,
    worker: Result<Arc<Worker>, Unusable>,
}

impl Pipeline {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Pipeline {
        let fetcher = Arc::new(Fetcher::from_config(&config));
        let worker = Worker::new(config.clone(), store.clone(), metrics.clone()).map(Arc::new);
        Pipeline { ctx: Context { config, store, fetcher, metrics }, worker }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.ctx.config
    }

    /// The translation worker, or why there is none.
    pub fn worker(&self) -> Result<&Arc<Worker>, &Unusable> {
        self.worker.as_ref()
    }

    /// Refreshes `feeds` concurrently (the fetcher's limits are the only ones).
    pub async fn fetch_all(&self, feeds: &[&FeedConfig], force: bool, on_done: impl Fn(&FeedReport)) -> Result<Vec<FeedReport>, StoreError> {
        refresh_all(&self.ctx, feeds, force, on_done).await
    }

    /// Refreshes one feed on its schedule, unless another process sharing the store fetched it
    /// for this tick (None then).
    pub async fn fetch_scheduled(&self, feed: &FeedConfig) -> Result<Option<FeedReport>, StoreError> {
        let config = &self.ctx.config;
        let tick = crate::schedule::current_tick(feed.schedule(config), config.tz, chrono::Utc::now());
        if !self.ctx.store.claim_fetch(feed.name(), feed.url(), tick.timestamp_millis())? {
            tracing::debug!(feed = feed.name(), "fetched by another node for this tick");
            return Ok(None);
        }
        tracing::debug!(feed = feed.name(), tick_ms = tick.timestamp_millis(), "fetching for its tick");
        refresh_feed(&self.ctx, feed, false).await.map(Some)
    }

    /// Takes a body a WebSub hub pushed for `feed` as a fetch of it.
    pub async fn take_push(&self, feed: &FeedConfig, body: &[u8], content_type: Option<&str>) -> Result<FeedReport, StoreError> {
        crate::refresh::apply_push(&self.ctx, feed, body, content_type).await
    }

    /// Asks the sources' WebSub hubs for the subscriptions that are due; when the next one is due.
    pub async fn renew_subscriptions(&self, key: &str) -> Result<Option<i64>, StoreError> {
        crate::websub::renew(&self.ctx, key).await
    }

    /// Takes back leased jobs (a crashed run's, or this process's own at shutdown), translates the
    /// queue, and publishes what changed. `on_entry` hears of every job that ends.
    pub async fn pass(&self, on_entry: impl Fn(&Job, &JobEnd)) -> Result<Pass, StoreError> {
        let recovered = self.recover()?;
        let started = Instant::now();
        let translated = match &self.worker {
            Ok(w) => Translated::Ran(w.run(on_entry).await),
            Err(why) => Translated::Skipped { why: why.0.clone(), queued: self.ctx.store.queue_counts()?.queued },
        };
        let translate_took = started.elapsed();
        let published = self.publish().await;
        if let Err(PublishError::Store(e)) = published {
            return Err(e);
        }
        Ok(Pass { recovered, translated, published, translate_took, publish_took: started.elapsed() - translate_took })
    }

    /// Returns this store's leased jobs to the queue; only the holder of the cache lock calls it.
    pub fn recover(&self) -> Result<usize, StoreError> {
        let recovered = self.ctx.store.recover_leases()?;
        if recovered > 0 {
            tracing::info!(jobs = recovered, "taking back translation jobs left unfinished");
        }
        Ok(recovered)
    }

    /// Publishes what changed, off the async threads (rendering is CPU work).
    pub async fn publish(&self) -> Result<publish::Report, PublishError> {
        let (config, store) = (self.ctx.config.clone(), self.ctx.store.clone());
        let report = tokio::task::spawn_blocking(move || publish::publish(&config, store.as_ref()))
            .await
            .unwrap_or_else(|e| Err(PublishError::Invalid { path: "output".into(), reason: format!("publishing panicked: {e}") }));
        match &report {
            Ok(r) if r.written > 0 => tracing::info!(written = r.written, feeds = r.feeds, posts = r.posts, left_out = r.left_out, "published"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "publishing failed; the files published before are intact"),
        }
        if let (Ok(r), Some(hub)) = (&report, self.ctx.config.publish.hub())
            && !r.changed_feeds.is_empty()
        {
            let agent = self.ctx.config.user_agent.as_deref().unwrap_or(crate::config::DEFAULT_USER_AGENT);
            let failed = crate::fetch::websub::ping(hub, &r.changed_feeds, agent).await;
            for (topic, why) in &failed {
                tracing::warn!(%topic, %why, "the WebSub hub was not told of a changed feed; its readers get it at their next poll");
            }
            self.ctx.metrics.pinged(r.changed_feeds.len() - failed.len(), failed.len());
        }
        report
    }

    /// The posts of `feeds` that are due and not published: the first few, and how many.
    pub fn owed(&self, feeds: &[&str]) -> Result<UnpublishedList, StoreError> {
        self.ctx.store.unpublished(feeds, OWED_LISTED)
    }
}
