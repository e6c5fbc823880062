//! The queue worker: lease jobs, reuse the translation memory, batch what is missing under the
//! token budget, send it down the engine chain, check every block, store what passed at once
//! (so nothing is paid twice), and finish each job: done, retry later, failed, or released.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::Serialize;

use super::checks::{self, CheckOptions};
use super::config::TranslatorConfig;
use super::engine::{Engine, EngineError, Unusable, Usage};
use super::prompt::{self, PROMPT_VERSION};
use super::segment::{self, Segmented, Unit};
use crate::config::{Config, TranslateMode};
use crate::fetch::policy::backoff;
use crate::model::now;
use crate::store::{Job, JobEnd, MemoryRow, Store, StoredEntry, TranslationRow, UsageRow};

/// Jobs leased at a time.
const CHUNK: usize = 256;
/// How long a lease lasts before another worker may take the job.
const LEASE_SECS: i64 = 15 * 60;
/// Attempts per request on one engine before the next engine is tried.
const ENGINE_ATTEMPTS: u32 = 3;
/// A server asking to wait longer than this sends us to the next engine instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// How long an engine that kept failing is left alone.
const DOWN_FOR: Duration = Duration::from_secs(60);

/// Starts the reason of a unit held back by a budget: such units were not attempted.
const BUDGET: &str = "budget: ";
/// Starts the reason of a unit not sent because the worker is stopping.
const STOPPED: &str = "stopped: ";

/// What a run of the worker did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub entries_translated: usize,
    pub entries_failed: usize,
    /// Entries that failed this time and will be tried again later.
    pub entries_retrying: usize,
    pub units_translated: usize,
    /// Blocks whose translation failed the faithfulness checks (each is logged with the reason).
    pub units_rejected: usize,
    pub cache_hits: usize,
    pub requests: usize,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Set when a budget stopped the run.
    pub budget_stop: Option<String>,
    /// Engines that stopped working, with why.
    pub engine_problems: Vec<String>,
}

/// Identifies a unit across entries: (language, hash).
type Key = (String, String);

/// A unit waiting for a translation, with whom to bill.
#[derive(Clone)]
struct Pending {
    lang: String,
    unit: Unit,
    feed: String,
    entry_id: i64,
}

impl Pending {
    fn key(&self) -> Key {
        (self.lang.clone(), self.unit.hash.clone())
    }
}

/// What one job needs translated.
struct Plan {
    job: Job,
    entry: StoredEntry,
    title: Unit,
    body: Option<Segmented>,
}

impl Plan {
    fn units(&self) -> impl Iterator<Item = &Unit> {
        std::iter::once(&self.title).chain(self.body.iter().flat_map(|s| s.units.iter()))
    }
}

#[derive(Default)]
struct Budget {
    loaded_for: String,
    tokens_today: u64,
    usd_month: f64,
    feeds: HashMap<String, (u64, f64)>,
}

pub struct Worker {
    config: Arc<Config>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Set by `stop`: no new request starts; jobs not yet attempted go back to the queue.
    stopping: std::sync::atomic::AtomicBool,
    tcfg: TranslatorConfig,
    store: Arc<dyn Store>,
    engines: Vec<Engine>,
    /// Why an engine stopped, and until when (None: for the rest of the process).
    down: Mutex<Vec<Option<(String, Option<tokio::time::Instant>)>>>,
    report: Mutex<Report>,
    budget: Mutex<Budget>,
}

impl Worker {
    /// A worker over the usable engines of the chain; Err when none is usable (says what to set).
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, metrics: Arc<crate::metrics::Metrics>) -> Result<Worker, Unusable> {
        let tcfg = config.translator.clone().ok_or_else(|| Unusable("the config has no [translator] table".into()))?;
        let mut engines = Vec::new();
        let mut reasons = Vec::new();
        for ec in tcfg.engines() {
            match Engine::new(ec) {
                Ok(e) => engines.push(e),
                Err(e) => reasons.push(e.0),
            }
        }
        if engines.is_empty() {
            return Err(Unusable(reasons.join("; ")));
        }
        for r in &reasons {
            tracing::warn!(reason = %r, "a fallback engine is not usable");
        }
        Ok(Worker {
            down: Mutex::new(vec![None; engines.len()]),
            metrics,
            stopping: std::sync::atomic::AtomicBool::new(false),
            config,
            tcfg,
            store,
            engines,
            report: Mutex::new(Report::default()),
            budget: Mutex::new(Budget::default()),
        })
    }

    /// Asks a running `run` to stop: requests in flight finish, nothing new is sent.
    pub fn stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Translates every due job, then returns what this worker has done so far.
    pub async fn run(&self, on_entry: impl Fn(&Job, &JobEnd)) -> Report {
        // Budgets are judged afresh on every run (a new day, a new month).
        self.report.lock().unwrap_or_else(|e| e.into_inner()).budget_stop = None;
        loop {
            if self.is_stopping() || self.report().budget_stop.is_some() {
                break;
            }
            let jobs = match self.store.lease_jobs(CHUNK, LEASE_SECS) {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(error = %e, "cannot lease translation jobs");
                    break;
                }
            };
            if jobs.is_empty() {
                break;
            }
            self.process(jobs, &on_entry).await;
        }
        self.report()
    }

    pub fn report(&self) -> Report {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn process(&self, jobs: Vec<Job>, on_entry: &impl Fn(&Job, &JobEnd)) {
        let mut plans = Vec::new();
        for job in jobs {
            match self.plan(&job) {
                Ok(p) => plans.push(p),
                Err(reason) => self.finish(&job, JobEnd::Failed { reason }, on_entry),
            }
        }

        // What the memory already has costs nothing.
        let mut done: HashMap<Key, String> = HashMap::new();
        let memory_keys = self.memory_keys();
        for plan in &plans {
            let hashes: Vec<String> = plan.units().map(|u| u.hash.clone()).collect();
            match self.store.memory_lookup(&hashes, &plan.job.lang, &memory_keys, PROMPT_VERSION) {
                Ok(found) => done.extend(found.into_iter().map(|(h, t)| ((plan.job.lang.clone(), h), t))),
                Err(e) => tracing::error!(error = %e, "translation memory lookup failed"),
            }
        }

        // Titles first (a budget stop still leaves readable titles), then bodies, in entry order.
        let mut queued: std::collections::HashSet<Key> = done.keys().cloned().collect();
        let hits = plans.iter().flat_map(|p| p.units().map(|u| (p.job.lang.clone(), u.hash.clone()))).filter(|k| done.contains_key(k)).count();
        self.report.lock().unwrap_or_else(|e| e.into_inner()).cache_hits += hits;
        let mut titles: Vec<Pending> = Vec::new();
        let mut bodies: std::collections::BTreeMap<String, Vec<Pending>> = Default::default();
        for plan in &plans {
            let pending = |u: &Unit| Pending { lang: plan.job.lang.clone(), unit: u.clone(), feed: plan.job.feed.clone(), entry_id: plan.job.entry_id };
            if queued.insert((plan.job.lang.clone(), plan.title.hash.clone())) {
                titles.push(pending(&plan.title));
            }
            let body = plan.body.iter().flat_map(|s| s.units.iter()).filter(|u| queued.insert((plan.job.lang.clone(), u.hash.clone()))).map(pending);
            bodies.entry(plan.job.lang.clone()).or_default().extend(body);
        }
        let mut title_batches = Vec::new();
        let mut by_lang: HashMap<String, Vec<Pending>> = HashMap::new();
        for t in titles {
            by_lang.entry(t.lang.clone()).or_default().push(t);
        }
        for (_, group) in by_lang {
            title_batches.extend(self.batch(group));
        }
        // Short posts share requests: the instructions are paid once per batch, not once per post.
        let body_batches: Vec<Vec<Pending>> = bodies.into_values().flat_map(|units| self.batch(units)).collect();

        // One stream, titles first: they start before any body, and no round waits for the titles to end.
        let mut failed: HashMap<Key, String> = HashMap::new();
        let batches = title_batches.into_iter().chain(body_batches);
        let results: Vec<Vec<(Key, Result<String, String>)>> =
            futures_util::stream::iter(batches.map(|b| self.run_batch(b))).buffer_unordered(self.concurrency()).collect().await;
        for (key, result) in results.into_iter().flatten() {
            match result {
                Ok(t) => {
                    done.insert(key, t);
                }
                Err(reason) => {
                    failed.insert(key, reason);
                }
            }
        }

        for plan in plans {
            let end = self.conclude(&plan, &done, &failed);
            self.finish(&plan.job, end, on_entry);
        }
    }

    fn finish(&self, job: &Job, end: JobEnd, on_entry: &impl Fn(&Job, &JobEnd)) {
        {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            match &end {
                JobEnd::Done(_) => r.entries_translated += 1,
                JobEnd::Failed { .. } => r.entries_failed += 1,
                JobEnd::Retry { .. } => r.entries_retrying += 1,
                JobEnd::Release => {}
            }
        }
        if matches!(end, JobEnd::Failed { .. } | JobEnd::Retry { .. }) {
            self.metrics.translation_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let JobEnd::Failed { reason } | JobEnd::Retry { reason, .. } = &end {
            tracing::warn!(entry = job.entry_id, lang = %job.lang, %reason, "entry not translated");
        }
        if let Err(e) = self.store.finish_job(job, &end) {
            tracing::error!(entry = job.entry_id, error = %e, "cannot record the end of a translation job");
        }
        on_entry(job, &end);
    }

    fn plan(&self, job: &Job) -> Result<Plan, String> {
        let entry = self
            .store
            .entry(job.entry_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("entry {} is no longer in the store", job.entry_id))?;
        let feed = self.config.feed(&job.feed);
        let mode = feed.map_or(TranslateMode::Full, |f| f.translate);
        let selectors: Vec<String> = self.tcfg.untranslatable.iter().map(|s| s.get_ref().clone()).collect();
        let body = (mode == TranslateMode::Full).then(|| segment::segment(&entry.entry.content, &segment::Options::new(&selectors, &job.lang)));
        Ok(Plan { title: Unit::title(&entry.entry.title), body, entry, job: job.clone() })
    }

    fn conclude(&self, plan: &Plan, done: &HashMap<Key, String>, failed: &HashMap<Key, String>) -> JobEnd {
        let lang = &plan.job.lang;
        let get = |u: &Unit| done.get(&(lang.clone(), u.hash.clone())).cloned();
        let title = get(&plan.title);
        let units: Vec<Option<String>> = plan.body.iter().flat_map(|s| s.units.iter()).map(get).collect();
        let missing: Vec<String> = plan
            .units()
            .filter(|u| !done.contains_key(&(lang.clone(), u.hash.clone())))
            .map(|u| {
                let why = failed.get(&(lang.clone(), u.hash.clone())).map_or("not attempted", String::as_str);
                format!("{:?}: {why}", crate::text::truncate(&u.text, 60))
            })
            .collect();
        let complete = missing.is_empty();
        if let (Some(title), true) = (&title, complete || self.tcfg.allow_partial) {
            return JobEnd::Done(TranslationRow {
                entry_id: plan.job.entry_id,
                lang: lang.clone(),
                version: plan.job.version,
                title_src: plan.entry.entry.title.clone(),
                title: crate::text::html_to_plain(title),
                content_src: plan.entry.entry.content.clone(),
                units,
                complete,
            });
        }
        let reason = format!("{} of {} blocks untranslated: {}", missing.len(), plan.units().count(), missing.join("; "));
        let attempted = plan
            .units()
            .any(|u| failed.get(&(lang.clone(), u.hash.clone())).is_some_and(|why| !why.starts_with(BUDGET) && !why.starts_with(STOPPED)));
        if !attempted {
            // Nothing was tried (a budget stop): the job goes back as it was.
            return JobEnd::Release;
        }
        if plan.job.attempts + 1 >= self.tcfg.max_attempts {
            JobEnd::Failed { reason }
        } else {
            let wait = backoff(plan.job.attempts, Duration::from_secs(300), Duration::from_secs(6 * 3600), rand::random::<f64>());
            JobEnd::Retry { at: now() + wait.as_secs() as i64, reason }
        }
    }

    /// Splits units into requests under the token budget (one block per request when the first
    /// engine is a small local model).
    fn batch(&self, units: Vec<Pending>) -> Vec<Vec<Pending>> {
        if self.engines.first().is_some_and(Engine::one_block_per_request) {
            return units.into_iter().map(|u| vec![u]).collect();
        }
        let tokens: Vec<usize> = units.iter().map(|p| prompt::estimate_tokens(&p.unit.html)).collect();
        prompt::batches(&tokens, self.tcfg.batch_tokens).into_iter().map(|r| units[r].to_vec()).collect()
    }

    fn concurrency(&self) -> usize {
        self.engines.iter().map(|e| e.config.max_concurrency).sum::<usize>().max(1)
    }

    /// (engine, model) of every configured engine, usable or not: their memory is free to reuse.
    fn memory_keys(&self) -> Vec<(String, String)> {
        self.tcfg
            .engines()
            .iter()
            .map(|e| {
                (e.engine.get_ref().name().to_string(), e.model.clone())
            })
            .collect()
    }

    /// Sends one batch down the engine chain; failing blocks of a batch are retried one by one.
    fn run_batch(&self, units: Vec<Pending>) -> BoxFuture<'_, Vec<(Key, Result<String, String>)>> {
        Box::pin(async move {
            if self.is_stopping() {
                return units.iter().map(|u| (u.key(), Err(format!("{STOPPED}shutting down")))).collect();
            }
            let lang = units[0].lang.clone();
            let system = prompt::system_message(&lang, &self.tcfg.glossary, &self.tcfg.keep);
            let refs: Vec<&Unit> = units.iter().map(|p| &p.unit).collect();
            let mut last_error = String::from("no engine");
            for (i, engine) in self.engines.iter().enumerate() {
                if let Some(why) = self.is_down(i) {
                    last_error = why;
                    continue;
                }
                if let Some(why) = self.over_budget(&units) {
                    return units.iter().map(|u| (u.key(), Err(why.clone()))).collect();
                }
                let reply = match self.call(engine, &refs, &lang, &system).await {
                    Ok(r) => r,
                    Err(e) => {
                        let permanent = matches!(e, EngineError::Permanent(_));
                        last_error = format!("{} {} at {}: {e}", engine.name(), engine.model(), engine.place());
                        self.mark_down(i, &last_error, permanent);
                        continue;
                    }
                };
                let usage = self.account(engine, &units, reply.usage);
                let options = CheckOptions {
                    target_lang: lang.clone(),
                    min_ratio: self.tcfg.min_length_ratio,
                    max_ratio: self.tcfg.max_length_ratio,
                    keep: self.tcfg.keep.clone(),
                };
                // Checking parses every block twice: off the async threads, so the other requests
                // in flight are not held up while this reply is read.
                let sources: Vec<String> = units.iter().map(|u| u.unit.html.clone()).collect();
                let blocks = reply.blocks;
                let checked: Vec<Result<String, String>> = tokio::task::spawn_blocking(move || match checks::check_blocks(sources.len(), &blocks) {
                    Ok(translations) => sources
                        .iter()
                        .zip(translations)
                        .map(|(source, t)| {
                            let problems = checks::check_unit(source, &t, &options);
                            if problems.is_empty() { Ok(t) } else { Err(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")) }
                        })
                        .collect(),
                    Err(problem) => vec![Err(problem.to_string()); sources.len()],
                })
                .await
                .unwrap_or_else(|e| vec![Err(format!("checking failed: {e}")); units.len()]);
                let rows: Vec<MemoryRow> = units
                    .iter()
                    .zip(&checked)
                    .filter_map(|(u, r)| {
                        let t = r.as_ref().ok()?;
                        Some(MemoryRow {
                            hash: u.unit.hash.clone(),
                            lang: lang.clone(),
                            engine: engine.name().to_string(),
                            model: engine.model().to_string(),
                            prompt_version: PROMPT_VERSION,
                            source: u.unit.html.clone(),
                            translation: t.clone(),
                        })
                    })
                    .collect();
                let store = self.store.clone();
                let stored_rows = rows.clone();
                let stored = tokio::task::spawn_blocking(move || store.memory_store(&stored_rows, &usage))
                    .await
                    .unwrap_or_else(|e| Err(crate::store::StoreError::Open { path: "store".into(), message: e.to_string() }));
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot store translations");
                    return units.iter().map(|u| (u.key(), Err(format!("store: {e}")))).collect();
                }
                self.report.lock().unwrap_or_else(|e| e.into_inner()).units_translated += rows.len();
                self.metrics.units_translated.fetch_add(rows.len() as u64, std::sync::atomic::Ordering::Relaxed);

                let mut out = Vec::new();
                let mut again = Vec::new();
                for (u, r) in units.iter().zip(checked) {
                    match r {
                        Ok(t) => out.push((u.key(), Ok(t))),
                        Err(_) if units.len() > 1 => again.push(u.clone()),
                        Err(reason) => {
                            tracing::warn!(entry = u.entry_id, unit = %u.unit.hash, %reason, "translation rejected");
                            self.report.lock().unwrap_or_else(|e| e.into_inner()).units_rejected += 1;
                            out.push((u.key(), Err(reason)));
                        }
                    }
                }
                if !again.is_empty() {
                    tracing::info!(blocks = again.len(), of = units.len(), "batch failed its checks; retrying block by block");
                    let retried = futures_util::future::join_all(again.into_iter().map(|u| self.run_batch(vec![u]))).await;
                    out.extend(retried.into_iter().flatten());
                }
                return out;
            }
            let reason = format!("no engine available ({last_error})");
            units.iter().map(|u| (u.key(), Err(reason.clone()))).collect()
        })
    }

    /// One request with retries on transient and malformed replies.
    async fn call(&self, engine: &Engine, units: &[&Unit], lang: &str, system: &str) -> Result<super::engine::Reply, EngineError> {
        let mut attempt = 0;
        loop {
            self.report.lock().unwrap_or_else(|e| e.into_inner()).requests += 1;
            let started = std::time::Instant::now();
            let result = engine.translate(units, lang, system).await;
            self.metrics.translate_seconds.observe(started.elapsed());
            let error = match result {
                Ok(reply) => return Ok(reply),
                Err(e @ EngineError::Permanent(_)) => return Err(e),
                Err(e) => e,
            };
            attempt += 1;
            let wait = match &error {
                EngineError::Transient { retry_after: Some(d), .. } => *d,
                _ => backoff(attempt - 1, Duration::from_millis(500), Duration::from_secs(30), rand::random::<f64>()),
            };
            if attempt >= ENGINE_ATTEMPTS || wait > MAX_RETRY_WAIT {
                return Err(error);
            }
            tracing::info!(engine = engine.name(), attempt, error = %error, ?wait, "retrying translation request");
            tokio::time::sleep(wait).await;
        }
    }

    fn is_down(&self, i: usize) -> Option<String> {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match &down[i] {
            Some((_, Some(until))) if tokio::time::Instant::now() >= *until => {
                down[i] = None;
                None
            }
            Some((why, _)) => Some(why.clone()),
            None => None,
        }
    }

    fn mark_down(&self, i: usize, why: &str, permanent: bool) {
        tracing::warn!(reason = %why, permanent, "translation engine stopped");
        let until = (!permanent).then(|| tokio::time::Instant::now() + DOWN_FOR);
        self.down.lock().unwrap_or_else(|e| e.into_inner())[i] = Some((why.to_string(), until));
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        if !r.engine_problems.iter().any(|p| p == why) {
            r.engine_problems.push(why.to_string());
        }
    }

    /// Records a request's usage (report and budget) and returns it split over the entries in the batch.
    fn account(&self, engine: &Engine, units: &[Pending], usage: Usage) -> Vec<UsageRow> {
        let cost = self.tcfg.cost(engine.model(), usage.prompt_tokens, usage.completion_tokens);
        let tokens = usage.prompt_tokens + usage.completion_tokens;
        {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            r.prompt_tokens += usage.prompt_tokens;
            r.completion_tokens += usage.completion_tokens;
            r.cost_usd += cost;
        }
        self.metrics.prompt_tokens.fetch_add(usage.prompt_tokens, std::sync::atomic::Ordering::Relaxed);
        self.metrics.completion_tokens.fetch_add(usage.completion_tokens, std::sync::atomic::Ordering::Relaxed);
        let day = self.today();
        // Split by each entry's share of the batch's source size.
        let mut shares: Vec<(String, i64, usize)> = Vec::new();
        for u in units {
            let size = u.unit.html.len().max(1);
            match shares.iter_mut().find(|(_, id, _)| *id == u.entry_id) {
                Some(s) => s.2 += size,
                None => shares.push((u.feed.clone(), u.entry_id, size)),
            }
        }
        let total: usize = shares.iter().map(|s| s.2).sum();
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        budget.tokens_today += tokens;
        budget.usd_month += cost;
        let n = shares.len();
        let (mut p_left, mut c_left, mut cost_left) = (usage.prompt_tokens, usage.completion_tokens, cost);
        shares
            .into_iter()
            .enumerate()
            .map(|(i, (feed, entry_id, size))| {
                let f = size as f64 / total as f64;
                let last = i + 1 == n;
                let p = if last { p_left } else { (usage.prompt_tokens as f64 * f) as u64 };
                let c = if last { c_left } else { (usage.completion_tokens as f64 * f) as u64 };
                let d = if last { cost_left } else { cost * f };
                (p_left, c_left, cost_left) = (p_left - p, c_left - c, cost_left - d);
                let entry = budget.feeds.entry(feed.clone()).or_default();
                entry.0 += p + c;
                entry.1 += d;
                UsageRow {
                    day: day.clone(),
                    feed,
                    entry_id,
                    engine: engine.name().to_string(),
                    model: engine.model().to_string(),
                    requests: u64::from(i == 0),
                    prompt_tokens: p,
                    completion_tokens: c,
                    cost_usd: d,
                    estimated: usage.estimated,
                }
            })
            .collect()
    }

    fn today(&self) -> String {
        Utc::now().with_timezone(&self.config.tz).format("%Y-%m-%d").to_string()
    }

    /// Some(reason) when a global or per-feed budget of the batch's feeds is spent.
    fn over_budget(&self, units: &[Pending]) -> Option<String> {
        let day = self.today();
        let month = format!("{}-01", &day[..7]);
        let mut b = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        if b.loaded_for != day {
            let (tokens, _) = self.store.usage_since(&day, None).unwrap_or_default();
            let (_, usd) = self.store.usage_since(&month, None).unwrap_or_default();
            *b = Budget { loaded_for: day.clone(), tokens_today: tokens, usd_month: usd, feeds: HashMap::new() };
        }
        let mut global = None;
        if let Some(limit) = self.tcfg.budget_tokens_per_day.filter(|l| b.tokens_today >= *l) {
            global = Some(format!("{BUDGET}the daily token budget ({limit} tokens) is spent"));
        }
        if let Some(limit) = self.tcfg.budget_usd_per_month.filter(|l| b.usd_month >= *l) {
            global = Some(format!("{BUDGET}the monthly budget (${limit:.2}) is spent"));
        }
        if let Some(why) = &global {
            let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
            if r.budget_stop.is_none() {
                tracing::warn!(reason = %why, "translation stopped by a budget");
                r.budget_stop = Some(why.clone());
            }
            return global;
        }
        let mut stop = None;
        for u in units {
            let Some(feed) = self.config.feed(&u.feed) else { continue };
            if !b.feeds.contains_key(&u.feed) {
                let (tokens, _) = self.store.usage_since(&day, Some(&u.feed)).unwrap_or_default();
                let (_, usd) = self.store.usage_since(&month, Some(&u.feed)).unwrap_or_default();
                b.feeds.insert(u.feed.clone(), (tokens, usd));
            }
            let (tokens, usd) = b.feeds[&u.feed];
            if let Some(limit) = feed.budget_tokens_per_day.filter(|l| tokens >= *l) {
                stop = Some(format!("{BUDGET}the daily token budget of feed {} ({limit} tokens) is spent", u.feed));
            }
            if let Some(limit) = feed.budget_usd_per_month.filter(|l| usd >= *l) {
                stop = Some(format!("{BUDGET}the monthly budget of feed {} (${limit:.2}) is spent", u.feed));
            }
        }
        stop
    }
}
