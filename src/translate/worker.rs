//! The queue worker: lease jobs, reuse the translation memory, batch what is missing under the
//! token budget, send it down the engine chain, check every block, store what passed at once
//! (so nothing is paid twice), and finish each job: done, retry later, failed, or released.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;

use super::breaker::{Breakers, Gate};
use super::budget::{self, Bill, Ledger, Limits};
use super::checks::{self, CheckOptions};
use super::config::TranslatorConfig;
use super::engine::{Engine, EngineError, Sampling, Unusable, Usage};
use super::prompt;
use super::segment::{self, Segmented, Unit};
use crate::config::{Config, TranslateMode};
use crate::fetch::policy::backoff;
use crate::model::now;
use crate::store::{EngineModel, Job, JobEnd, MemoryKey, MemoryRow, Store, StoredEntry, TranslationRow, UsageKind, UsageRow};

/// Jobs leased at a time.
const CHUNK: usize = 256;
/// How long a lease lasts before another worker may take the job.
const LEASE_SECS: i64 = 15 * 60;
/// Attempts per request on one engine before its circuit opens (the next engine is tried).
const ENGINE_ATTEMPTS: u32 = 3;
/// A server asking to wait longer than this opens the circuit instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// How long what was spent is taken from this worker's own count before it is read from the store
/// again (which holds what every process sharing it spent).
const LEDGER_FRESH: Duration = Duration::from_secs(30);
/// A request waits for a paused engine at most this long; past it, the engine is down for this
/// run and what was not sent goes back to the queue as it was.
const MAX_PAUSE_WAIT: Duration = Duration::from_secs(10);

/// Why a block was not sent.
#[derive(Debug, Clone, PartialEq)]
pub enum NotSent {
    /// A budget is spent.
    Budget(String),
    /// The worker is stopping.
    Stopping,
    /// No engine could take it (every engine down or paused for long), with why.
    NoEngine(String),
    /// Another process sharing the store is translating the same block: it lands in the memory.
    Elsewhere,
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            NotSent::Budget(why) => write!(f, "not sent: {why}"),
            NotSent::Stopping => write!(f, "not sent: shutting down"),
            NotSent::NoEngine(why) => write!(f, "not sent: no engine available ({why})"),
            NotSent::Elsewhere => write!(f, "not sent: another node is translating it"),
        }
    }
}

/// Why a block has no translation at the end of a run.
#[derive(Debug, Clone, PartialEq)]
enum Miss {
    /// Sent, and every reply failed the checks: the last reason.
    Rejected(String),
    /// Never sent: the entry keeps its attempts.
    NotSent(NotSent),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Miss::Rejected(why) => write!(f, "{why}"),
            Miss::NotSent(why) => write!(f, "{why}"),
        }
    }
}

/// Why a block of a reply was not accepted.
#[derive(Debug, Clone)]
struct Rejection {
    /// The checks' words, for the log and the job's record.
    reason: String,
    /// What a repair tells the engine: the reason in the terms it saw (a lost link is the
    /// placeholder it was sent, never a URL it never saw).
    note: String,
    /// Whether asking again can give another answer: the block came back missing, cut or twice,
    /// or it was asked in a batch (alone its context differs), or the engine samples. A greedy
    /// engine (temperature 0) asked the same single block again answers the same.
    again: bool,
    /// Whether the engine that answered can sample (a chat engine): a greedy one can be asked
    /// again with a temperature, for another answer.
    can_sample: bool,
}

/// The temperature a greedy chat engine is asked again with when its own answer, and its repair,
/// failed the checks (llama-server's default): different enough for another answer, and every
/// answer is held to the same checks.
const RESAMPLE_TEMPERATURE: f32 = 0.8;

/// How a batch is asked for: the first time, or again after its one block's reply was rejected.
#[derive(Debug, Clone, Default)]
struct Ask {
    /// Why the last reply was rejected, said to the engine (a repair).
    repair: Option<String>,
    /// Sampled at `RESAMPLE_TEMPERATURE` when the engine is greedy.
    resample: bool,
    /// The replies of this block rejected so far: the seed of a sampled request.
    tries: u32,
}

/// How a post's summary came out.
enum Summarized {
    /// From the memory.
    Reused(String),
    /// Written and checked now.
    Written(String),
    /// Rejected by the checks, the second time told what was wrong: why.
    Rejected(String),
    /// Not sent.
    NotSent(NotSent),
}

/// How one request for a batch ended.
enum BatchEnd {
    /// An engine replied: per unit, its checked translation or why it was rejected.
    Replied(Vec<Result<String, Rejection>>),
    /// Nothing was sent.
    NotSent(NotSent),
}

/// What a run of the worker did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Entries translated completely.
    pub entries_translated: usize,
    /// Entries published with some blocks in the original (`allow_partial`).
    pub entries_partial: usize,
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
    /// Blocks sent again in the same run after a reply failed the checks.
    pub units_resent: usize,
    /// Blocks that passed once told what was wrong with their last translation.
    pub units_repaired: usize,
    /// Summaries written (checked and stored) for posts of feeds with `summary = true`.
    pub summaries_written: usize,
    /// Summaries taken from the memory (the same post again): free.
    pub summaries_reused: usize,
    /// Summaries that failed their checks twice (the second time told what was wrong): those
    /// posts are published without one.
    pub summaries_rejected: usize,
    /// Posts published without a summary because the summaries' budget was spent.
    pub summaries_skipped: usize,
    /// Set when a budget stopped the run.
    pub budget_stop: Option<String>,
    /// Set when no engine was available: what was not sent waits in the queue.
    pub engines_down: Option<String>,
    /// Engines that stopped working, with why.
    pub engine_problems: Vec<String>,
}

/// Identifies a unit across entries: (language, the feed's own instructions, hash).
type Key = (String, Option<Arc<str>>, String);

/// A unit waiting for a translation, with whom to bill.
#[derive(Clone)]
struct Pending {
    lang: String,
    /// The feed's own instructions, rendered for the language.
    extra: Option<Arc<str>>,
    unit: Unit,
    feed: String,
    entry_id: i64,
}

impl Pending {
    fn key(&self) -> Key {
        (self.lang.clone(), self.extra.clone(), self.unit.hash.clone())
    }
}

/// What one job needs translated.
struct Plan {
    job: Job,
    entry: StoredEntry,
    /// None when the title has no words to translate (it is published as it is).
    title: Option<Unit>,
    body: Option<Segmented>,
    /// The feed's own instructions (`instructions`), rendered for the job's language.
    extra: Option<Arc<str>>,
}

impl Plan {
    fn units(&self) -> impl Iterator<Item = &Unit> {
        self.title.iter().chain(self.body.iter().flat_map(|s| s.units.iter()))
    }
}

pub struct Worker {
    config: Arc<Config>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Set by `stop`: no new request starts; jobs not yet attempted go back to the queue.
    stopping: std::sync::atomic::AtomicBool,
    tcfg: TranslatorConfig,
    store: Arc<dyn Store>,
    engines: Vec<Engine>,
    /// Each engine's circuit: transient failures pause it, a probe reopens it.
    breakers: Breakers,
    report: Mutex<Report>,
    /// What was spent today and this month, for the budgets.
    /// (Re)read from the store every LEDGER_FRESH: processes sharing a store spend together.
    ledger: Mutex<(Ledger, Option<std::time::Instant>)>,
    /// Source tokens per request, per engine: `batch_tokens`, or less for an engine that failed
    /// long requests (learned, and remembered in the store).
    batch_tokens: Vec<AtomicUsize>,
}

impl Worker {
    /// A worker over the usable engines of the chain; Err when none is usable (says what to set).
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, metrics: Arc<crate::metrics::Metrics>) -> Result<Worker, Unusable> {
        let tcfg = config.translator.clone().ok_or_else(|| Unusable("the config has no [translator] table".into()))?;
        let mut engines = Vec::new();
        let mut reasons = Vec::new();
        for ec in tcfg.engines() {
            match Engine::new(ec, tcfg.protocol) {
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
        // What each engine was found to handle, in earlier runs.
        let batch_tokens = engines
            .iter()
            .map(|e| {
                let learned = store.batch_tokens(&EngineModel { engine: e.name().to_string(), model: e.model().to_string() }).ok().flatten();
                AtomicUsize::new(learned.unwrap_or(tcfg.batch_tokens).min(tcfg.batch_tokens))
            })
            .collect();
        Ok(Worker {
            batch_tokens,
            breakers: Breakers::new(engines.len()),
            metrics,
            stopping: std::sync::atomic::AtomicBool::new(false),
            config,
            tcfg,
            store,
            engines,
            report: Mutex::new(Report::default()),
            ledger: Mutex::new((Ledger::default(), None)),
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
        // Budgets and engines are judged afresh on every run (a new day, an engine back).
        {
            let mut r = self.tally();
            r.budget_stop = None;
            r.engines_down = None;
        }
        loop {
            if let Some(why) = self.breakers.all_down(MAX_PAUSE_WAIT) {
                // Nothing is leased while no engine can take it.
                self.tally().engines_down.get_or_insert(why);
            }
            let r = self.report();
            if self.is_stopping() || r.budget_stop.is_some() || r.engines_down.is_some() {
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
            // A chunk of which nothing ended (all released: a feed's budget is spent) would be
            // leased again as it is: the run ends here, and those jobs wait in the queue.
            if self.process(jobs, &on_entry).await == 0 {
                break;
            }
        }
        self.report()
    }

    pub fn report(&self) -> Report {
        self.tally().clone()
    }

    /// The report being kept, to count into.
    fn tally(&self) -> std::sync::MutexGuard<'_, Report> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Translates a chunk of jobs; returns how many ended (done, partial, to retry, failed), as
    /// opposed to released untouched.
    async fn process(&self, jobs: Vec<Job>, on_entry: &impl Fn(&Job, &JobEnd)) -> usize {
        let mut ended = 0;
        let mut plans = Vec::new();
        for job in jobs {
            match self.plan(&job) {
                Ok(p) => plans.push(p),
                Err(reason) => {
                    ended += 1;
                    self.finish(&job, JobEnd::Failed { reason }, on_entry)
                }
            }
        }

        // What the memory already has costs nothing.
        let mut done: HashMap<Key, String> = HashMap::new();
        let memory_keys = self.memory_keys();
        for plan in &plans {
            let blocks: Vec<MemoryKey> = plan
                .units()
                .map(|u| MemoryKey { hash: u.hash.clone(), instructions: self.instructions_key(&plan.job.lang, plan.extra.as_deref(), u) })
                .collect();
            match self.store.memory_lookup(&blocks, &plan.job.lang, &memory_keys) {
                Ok(found) => done.extend(found.into_iter().map(|(h, t)| ((plan.job.lang.clone(), plan.extra.clone(), h), t))),
                Err(e) => tracing::error!(error = %e, "translation memory lookup failed"),
            }
        }

        // Titles first (a budget stop still leaves readable titles), then bodies, in entry order.
        let mut queued: std::collections::HashSet<Key> = done.keys().cloned().collect();
        let hits = plans.iter().flat_map(|p| p.units().map(|u| (p.job.lang.clone(), p.extra.clone(), u.hash.clone()))).filter(|k| done.contains_key(k)).count();
        self.tally().cache_hits += hits;
        let mut titles: Vec<Pending> = Vec::new();
        let mut bodies: std::collections::BTreeMap<(String, Option<Arc<str>>), Vec<Pending>> = Default::default();
        for plan in &plans {
            let pending = |u: &Unit| Pending {
                lang: plan.job.lang.clone(),
                extra: plan.extra.clone(),
                unit: u.clone(),
                feed: plan.job.feed.clone(),
                entry_id: plan.job.entry_id,
            };
            if let Some(title) = plan.title.as_ref().filter(|t| queued.insert((plan.job.lang.clone(), plan.extra.clone(), t.hash.clone()))) {
                titles.push(pending(title));
            }
            let body = plan
                .body
                .iter()
                .flat_map(|s| s.units.iter())
                .filter(|u| queued.insert((plan.job.lang.clone(), plan.extra.clone(), u.hash.clone())))
                .map(pending);
            bodies.entry((plan.job.lang.clone(), plan.extra.clone())).or_default().extend(body);
        }
        // Blocks another process sharing the store is translating are left to it.
        let mut missed: HashMap<Key, Miss> = HashMap::new();
        let mut claimed: Vec<(String, Vec<MemoryKey>)> = Vec::new();
        let langs: std::collections::BTreeSet<String> = titles.iter().chain(bodies.values().flatten()).map(|p| p.lang.clone()).collect();
        for lang in langs {
            let keys: Vec<MemoryKey> = titles
                .iter()
                .chain(bodies.values().flatten())
                .filter(|p| p.lang == lang)
                .map(|p| MemoryKey { hash: p.unit.hash.clone(), instructions: self.instructions_key(&lang, p.extra.as_deref(), &p.unit) })
                .collect();
            let ours = self.store.claim_units(&lang, &keys).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot claim blocks; translating them anyway");
                keys.iter().map(|k| k.hash.clone()).collect()
            });
            let mut keep = |p: &Pending| {
                let mine = p.lang != lang || ours.contains(&p.unit.hash);
                if !mine {
                    missed.insert(p.key(), Miss::NotSent(NotSent::Elsewhere));
                }
                mine
            };
            titles.retain(&mut keep);
            for b in bodies.values_mut() {
                b.retain(&mut keep);
            }
            claimed.push((lang, keys.into_iter().filter(|k| ours.contains(&k.hash)).collect()));
        }
        let mut by_lang: HashMap<(String, Option<Arc<str>>), Vec<Pending>> = HashMap::new();
        for t in titles {
            by_lang.entry((t.lang.clone(), t.extra.clone())).or_default().push(t);
        }
        // Short posts share requests: the instructions are paid once per batch, not once per post.
        let mut round: Vec<(Vec<Pending>, Ask)> = by_lang.into_values().flat_map(|group| self.batch(group)).map(|b| (b, Ask::default())).collect();
        round.extend(bodies.into_values().flat_map(|units| self.batch(units)).map(|b| (b, Ask::default())));

        // Rounds: one stream of requests, titles first; blocks whose reply failed the checks go
        // again alone in the next round, until they pass or have used their attempts; then once
        // more, told what was wrong (a repair); a greedy chat engine's block then goes on, told
        // what was wrong and sampled, until it has had its attempts. Then it is rejected.
        let mut tries: HashMap<Key, u32> = HashMap::new();
        let mut repairs: std::collections::HashSet<Key> = std::collections::HashSet::new();
        while !round.is_empty() {
            let ends: Vec<(Vec<Pending>, bool, BatchEnd)> = futures_util::stream::iter(round.into_iter().map(|(batch, ask)| async move {
                let end = self.run_batch(&batch, &ask).await;
                (batch, ask.repair.is_some(), end)
            }))
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
            let mut next = Vec::new();
            for (batch, repair, end) in ends {
                match end {
                    BatchEnd::Replied(results) => {
                        for (p, result) in batch.into_iter().zip(results) {
                            match result {
                                Ok(t) => {
                                    if repair {
                                        self.tally().units_repaired += 1;
                                        self.metrics.units_repaired.inc();
                                    }
                                    done.insert(p.key(), t);
                                }
                                Err(Rejection { reason, note, again, can_sample }) => {
                                    let n = tries.entry(p.key()).or_insert(0);
                                    *n += 1;
                                    let tries = *n;
                                    let repaired = repairs.contains(&p.key());
                                    let can = Can { change: again, sample: can_sample };
                                    match after_rejection(can, tries, self.tcfg.block_attempts, repaired, self.is_stopping()) {
                                        Step::Resend => {
                                            self.tally().units_resent += 1;
                                            next.push((vec![p], Ask { tries, ..Ask::default() }));
                                        }
                                        Step::Repair => {
                                            repairs.insert(p.key());
                                            next.push((vec![p], Ask { repair: Some(note), resample: false, tries }));
                                        }
                                        Step::Resample => {
                                            self.tally().units_resent += 1;
                                            next.push((vec![p], Ask { repair: Some(note), resample: true, tries }));
                                        }
                                        Step::Reject => {
                                            tracing::warn!(entry = p.entry_id, unit = %p.unit.hash, %reason, "translation rejected");
                                            self.tally().units_rejected += 1;
                                            missed.insert(p.key(), Miss::Rejected(reason));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    BatchEnd::NotSent(why) => {
                        if let NotSent::NoEngine(reason) = &why {
                            self.tally().engines_down.get_or_insert_with(|| reason.clone());
                        }
                        for p in batch {
                            missed.entry(p.key()).or_insert_with(|| Miss::NotSent(why.clone()));
                        }
                    }
                }
            }
            round = next;
        }

        // A post that is done gets its summary before it is published, when its feed wants one.
        // (The futures are made first: a stream of a closure over borrowed plans is not Send.)
        let summaries: Vec<_> = plans.iter().map(|plan| self.with_summary(plan, self.conclude(plan, &done, &missed))).collect();
        let ends: Vec<JobEnd> = futures_util::stream::iter(summaries).buffered(self.concurrency()).collect().await;
        for (plan, end) in plans.iter().zip(ends) {
            ended += usize::from(end != JobEnd::Release);
            self.finish(&plan.job, end, on_entry);
        }
        for (lang, keys) in &claimed {
            if let Err(e) = self.store.release_units(lang, keys) {
                tracing::warn!(error = %e, "cannot let claimed blocks go; they are free again at their expiry");
            }
        }
        ended
    }

    fn finish(&self, job: &Job, end: JobEnd, on_entry: &impl Fn(&Job, &JobEnd)) {
        {
            let mut r = self.tally();
            match &end {
                JobEnd::Done(row) if row.complete => r.entries_translated += 1,
                JobEnd::Done(_) => r.entries_partial += 1,
                JobEnd::Failed { .. } => r.entries_failed += 1,
                JobEnd::Retry { .. } => r.entries_retrying += 1,
                JobEnd::Release => {}
            }
        }
        let counter = match &end {
            JobEnd::Done(row) if row.complete => Some(&self.metrics.entries_translated),
            JobEnd::Done(_) => Some(&self.metrics.entries_partial),
            JobEnd::Failed { .. } | JobEnd::Retry { .. } => Some(&self.metrics.translation_failures),
            JobEnd::Release => None,
        };
        if let Some(c) = counter {
            c.inc();
        }
        if let JobEnd::Failed { reason } | JobEnd::Retry { reason, .. } = &end {
            tracing::warn!(entry = job.entry_id, lang = %job.lang, %reason, "entry not translated");
        }
        if let Err(e) = self.store.finish_job(job, &end) {
            tracing::error!(entry = job.entry_id, error = %e, "cannot record the end of a translation job");
        }
        on_entry(job, &end);
    }

    /// A finished post of a feed with `summary = true`, with its summary: from the memory, or
    /// written now. Rejected twice or over the summaries' budget, the post goes out without one;
    /// not sent (no chat engine now, a shutdown), the job goes back to the queue as it was (its
    /// blocks are in the memory: the next run pays only for the summary).
    async fn with_summary(&self, plan: &Plan, end: JobEnd) -> JobEnd {
        let JobEnd::Done(mut row) = end else { return end };
        if !self.config.feed(&plan.job.feed).is_some_and(|f| f.summarized()) {
            return JobEnd::Done(row);
        }
        let Some(source) = prompt::summary_source(&plan.entry.entry.title, &plan.entry.entry.content) else {
            return JobEnd::Done(row);
        };
        let (result, summary) = match self.summarize(plan, &source).await {
            Summarized::Reused(s) => ("reused", Some(s)),
            Summarized::Written(s) => ("written", Some(s)),
            Summarized::Rejected(reason) => {
                tracing::warn!(entry = plan.job.entry_id, lang = %plan.job.lang, %reason, "summary rejected; the post goes out without one");
                ("rejected", None)
            }
            Summarized::NotSent(NotSent::Budget(reason)) => {
                tracing::info!(entry = plan.job.entry_id, lang = %plan.job.lang, %reason, "no summary: a budget is spent");
                ("skipped", None)
            }
            Summarized::NotSent(_) => return JobEnd::Release,
        };
        {
            let mut r = self.tally();
            match result {
                "reused" => r.summaries_reused += 1,
                "written" => r.summaries_written += 1,
                "rejected" => r.summaries_rejected += 1,
                _ => r.summaries_skipped += 1,
            }
        }
        self.metrics.summarized(result);
        row.summary = summary;
        JobEnd::Done(row)
    }

    /// A post's summary in the job's language, from `source` (`prompt::summary_source`): the
    /// memory's, else one written by the first chat engine available, checked, and once repaired.
    async fn summarize(&self, plan: &Plan, source: &str) -> Summarized {
        let lang = &plan.job.lang;
        let max = self.tcfg.summary_max_chars;
        let unit = Unit::new(crate::text::escape_html(source), Some("div".into()));
        let instructions = prompt::summary_key(lang, plan.extra.as_deref(), max);
        let key = MemoryKey { hash: unit.hash.clone(), instructions };
        match self.store.memory_lookup(std::slice::from_ref(&key), lang, &self.memory_keys()) {
            Ok(found) => {
                if let Some(s) = found.into_values().next() {
                    return Summarized::Reused(s);
                }
            }
            Err(e) => tracing::error!(error = %e, "translation memory lookup failed"),
        }
        let pending = Pending { lang: lang.clone(), extra: plan.extra.clone(), unit: unit.clone(), feed: plan.job.feed.clone(), entry_id: plan.job.entry_id };
        let options = CheckOptions { target_lang: lang.clone(), keep: self.tcfg.keep.clone(), glossary: self.tcfg.glossary.clone(), ..CheckOptions::default() };
        let mut repair: Option<String> = None;
        loop {
            let i = match self.pick_engine(|e| e.config.engine.get_ref().chats()).await {
                Ok(i) => i,
                Err(why) => return Summarized::NotSent(why),
            };
            if let Some(why) = self.over_budget(std::slice::from_ref(&pending)).or_else(|| self.over_summary_budget()) {
                self.breakers.released(i);
                return Summarized::NotSent(NotSent::Budget(why));
            }
            let engine = &self.engines[i];
            let mut system = prompt::summary_system_message(lang, plan.extra.as_deref(), max);
            if let Some(why) = &repair {
                system.push_str(&prompt::repair_note(why));
            }
            let reply = match self.call(engine, || engine.summarize(&unit, &system, prompt::summary_budget(max))).await {
                Ok(reply) => {
                    self.breakers.succeeded(i);
                    reply
                }
                Err(e) => {
                    self.engine_failed(i, &e);
                    continue;
                }
            };
            let usage = self.account(engine, std::slice::from_ref(&pending), reply.usage, UsageKind::Summary);
            let written = reply.blocks.into_iter().next().map(|(_, html)| crate::text::html_to_plain(&html)).unwrap_or_default();
            let problems = if reply.cut { vec![checks::Problem::Cut] } else { checks::check_summary(source, &written, max, &options) };
            let rows: Vec<MemoryRow> = problems
                .is_empty()
                .then(|| MemoryRow {
                    hash: unit.hash.clone(),
                    lang: lang.clone(),
                    engine: engine.name().to_string(),
                    model: engine.model().to_string(),
                    instructions,
                    source: source.to_string(),
                    translation: written.clone(),
                })
                .into_iter()
                .collect();
            // Paid for either way: the usage is kept, and the summary with it when it passed.
            let store = self.store.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || store.memory_store(&rows, &usage))
                .await
                .unwrap_or_else(|e| Err(crate::store::StoreError::Sql(e.to_string())))
            {
                tracing::error!(error = %e, "cannot store a summary");
                return Summarized::Rejected(format!("store: {e}"));
            }
            if problems.is_empty() {
                return Summarized::Written(written);
            }
            let why = problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ");
            if repair.is_some() {
                return Summarized::Rejected(why);
            }
            repair = Some(why);
        }
    }

    /// Some(reason) when the summaries' own budget for today is spent.
    fn over_summary_budget(&self) -> Option<String> {
        let limit = self.tcfg.summary_budget_tokens_per_day?;
        let spent = self.store.usage_of_kind_since(UsageKind::Summary, &self.today()).unwrap_or_default();
        (spent.tokens >= limit).then(|| format!("the summaries' budget of {limit} tokens today is spent ({} used)", spent.tokens))
    }

    fn plan(&self, job: &Job) -> Result<Plan, String> {
        let entry = self.store.entry(job.entry_id).map_err(|e| e.to_string())?.ok_or_else(|| format!("entry {} is no longer in the store", job.entry_id))?;
        let feed = self.config.feed(&job.feed);
        let mode = feed.map_or(TranslateMode::Full, |f| f.translate);
        let options = segment::Options::for_translator(&self.tcfg, &job.lang);
        let body = (mode == TranslateMode::Full).then(|| segment::segment(&entry.entry.content, &options));
        let title = Some(Unit::title(&entry.entry.title)).filter(|t| segment::worth_sending(t, &options));
        let extra = feed.and_then(|f| f.instructions.as_ref()).map(|t| Arc::from(prompt::feed_instructions(t.get_ref(), &job.lang)));
        Ok(Plan { title, body, entry, job: job.clone(), extra })
    }

    fn conclude(&self, plan: &Plan, done: &HashMap<Key, String>, missed: &HashMap<Key, Miss>) -> JobEnd {
        let policy = Policy { allow_partial: self.tcfg.allow_partial, partial_share: self.tcfg.partial_share, max_attempts: self.tcfg.max_attempts };
        conclude(plan, done, missed, &policy, now(), rand::random::<f64>())
    }

    /// Splits units into requests under the token budget (one block per request when the first
    /// engine is a small local model).
    fn batch(&self, units: Vec<Pending>) -> Vec<Vec<Pending>> {
        if self.engines.first().is_some_and(Engine::one_block_per_request) {
            return units.into_iter().map(|u| vec![u]).collect();
        }
        let tokens: Vec<usize> = units.iter().map(|p| prompt::estimate_tokens(&p.unit.html)).collect();
        let budget = self.batch_tokens.first().map_or(self.tcfg.batch_tokens, |b| b.load(Ordering::Relaxed));
        prompt::batches(&tokens, budget).into_iter().map(|r| units[r].to_vec()).collect()
    }

    /// The instructions a unit is translated under, as the memory keys them.
    fn instructions_key(&self, lang: &str, extra: Option<&str>, unit: &Unit) -> i64 {
        prompt::instructions_key(lang, extra, &unit.html, &self.tcfg.glossary, &self.tcfg.keep, self.tcfg.protocol)
    }

    fn concurrency(&self) -> usize {
        self.engines.iter().map(|e| e.config.max_concurrency).sum::<usize>().max(1)
    }

    /// (engine, model) of every configured engine, usable or not: their memory is free to reuse.
    fn memory_keys(&self) -> Vec<EngineModel> {
        self.tcfg.engines().iter().map(|e| EngineModel { engine: e.engine.get_ref().name().to_string(), model: e.model.clone() }).collect()
    }

    /// The first engine of the chain that `fits` and may take a request now; waits while engines
    /// are paused briefly or probed. Err when none will be available soon.
    async fn pick_engine(&self, fits: fn(&Engine) -> bool) -> Result<usize, NotSent> {
        loop {
            if self.is_stopping() {
                return Err(NotSent::Stopping);
            }
            let mut soonest: Option<tokio::time::Instant> = None;
            let mut probing = false;
            let mut reasons = Vec::new();
            for i in (0..self.engines.len()).filter(|i| fits(&self.engines[*i])) {
                match self.breakers.enter(i) {
                    Gate::Go => return Ok(i),
                    Gate::WaitUntil(t, why) => {
                        soonest = Some(soonest.map_or(t, |s| s.min(t)));
                        reasons.push(why);
                    }
                    Gate::WaitProbe(why) => {
                        probing = true;
                        reasons.push(why);
                    }
                    Gate::Down(why) => reasons.push(why),
                }
            }
            let soon = soonest.is_some_and(|t| t.saturating_duration_since(tokio::time::Instant::now()) <= MAX_PAUSE_WAIT);
            if !probing && !soon {
                return Err(NotSent::NoEngine(reasons.join("; ")));
            }
            self.breakers.wait(soonest.filter(|_| soon)).await;
        }
    }

    /// Sends one batch to the first available engine of the chain and checks every block of the
    /// reply. Engine failures never reach the units: they pause the engine, and the batch goes to
    /// the next engine or waits for a probe.
    /// `ask`: how; a repair tells the engine why the last translation of this (single) block was rejected.
    async fn run_batch(&self, units: &[Pending], ask: &Ask) -> BatchEnd {
        let lang = units[0].lang.clone();
        let mut system = prompt::system_message(&lang, units[0].extra.as_deref(), &self.tcfg.glossary, &self.tcfg.keep, self.tcfg.protocol);
        if let Some(why) = &ask.repair {
            system.push_str(&prompt::repair_note(why));
        }
        let refs: Vec<&Unit> = units.iter().map(|p| &p.unit).collect();
        let (i, engine, reply) = loop {
            let i = match self.pick_engine(|_| true).await {
                Ok(i) => i,
                Err(why) => return BatchEnd::NotSent(why),
            };
            if let Some(why) = self.over_budget(units) {
                // The probe (if this was one) was not sent: the circuit stays as it was found.
                self.breakers.released(i);
                return BatchEnd::NotSent(NotSent::Budget(why));
            }
            let engine = &self.engines[i];
            let configured = engine.config.temperature;
            let sampling = Sampling { temperature: if ask.resample { configured.max(RESAMPLE_TEMPERATURE) } else { configured }, seed: ask.tries };
            match self.call(engine, || engine.translate(&refs, &lang, &system, sampling)).await {
                Ok(reply) => {
                    self.breakers.succeeded(i);
                    break (i, engine, reply);
                }
                Err(e) => self.engine_failed(i, &e),
            }
        };
        let mut usage = self.account(engine, units, reply.usage, UsageKind::Translation);
        let options = CheckOptions {
            target_lang: lang.clone(),
            min_ratio: self.tcfg.min_length_ratio,
            max_ratio: self.tcfg.max_length_ratio,
            keep: self.tcfg.keep.clone(),
            glossary: self.tcfg.glossary.clone(),
        };
        // Checking parses every block twice: off the async threads, so the other requests in
        // flight are not held up while this reply is read.
        let sources: Vec<String> = units.iter().map(|u| u.unit.html.clone()).collect();
        let blocks = reply.blocks;
        let cut = reply.cut;
        let n = units.len();
        let samples = engine.config.temperature > 0.0 || n > 1;
        let can_sample = engine.config.engine.get_ref().chats();
        let placeholders = engine.uses_placeholders();
        let checked: Vec<Result<String, Rejection>> = tokio::task::spawn_blocking(move || {
            checks::match_blocks(n, &blocks, cut)
                .into_iter()
                .zip(&sources)
                .map(|(block, source)| {
                    let t = block.map_err(|p| Rejection { reason: p.to_string(), note: p.to_string(), again: true, can_sample })?;
                    let problems = checks::check_unit(source, &t, &options);
                    if problems.is_empty() {
                        return Ok(t);
                    }
                    let reason = problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ");
                    let note = if placeholders { repair_note(source, &t, &problems) } else { reason.clone() };
                    Err(Rejection { reason, note, again: samples, can_sample })
                })
                .collect()
        })
        .await
        .unwrap_or_else(|e| {
            let reason = format!("checking failed: {e}");
            vec![Err(Rejection { note: reason.clone(), reason, again: true, can_sample }); n]
        });
        let size = units.iter().map(|u| prompt::estimate_tokens(&u.unit.html)).sum();
        self.learn(i, n, size, checked.iter().filter(|r| r.is_err()).count());
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
                    instructions: self.instructions_key(&lang, u.extra.as_deref(), &u.unit),
                    source: u.unit.html.clone(),
                    translation: t.clone(),
                })
            })
            .collect();
        // A repair asks for one block: its request carries the block it repaired, if it did.
        if ask.repair.is_some()
            && let Some(u) = usage.first_mut()
        {
            u.repaired = rows.len() as u64;
        }
        let store = self.store.clone();
        let stored_rows = rows.clone();
        let stored = tokio::task::spawn_blocking(move || store.memory_store(&stored_rows, &usage))
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Open { path: "store".into(), message: e.to_string() }));
        if let Err(e) = stored {
            tracing::error!(error = %e, "cannot store translations");
            let reason = format!("store: {e}");
            return BatchEnd::Replied(vec![Err(Rejection { note: reason.clone(), reason, again: false, can_sample: false }); n]);
        }
        self.tally().units_translated += rows.len();
        self.metrics.units_translated.inc_by(rows.len() as u64);
        if checked.iter().any(Result::is_err) && n > 1 {
            tracing::info!(blocks = checked.iter().filter(|r| r.is_err()).count(), of = n, "blocks of a batch failed their checks; they go again alone");
        }
        BatchEnd::Replied(checked)
    }

    /// Sizes engine `i`'s next batches by how this one went, and remembers a change.
    fn learn(&self, i: usize, sent: usize, size: usize, failed: usize) {
        let current = self.batch_tokens[i].load(Ordering::Relaxed);
        let next = budget::next_batch_tokens(current, self.tcfg.batch_tokens, sent, size, failed);
        if next == current {
            return;
        }
        self.batch_tokens[i].store(next, Ordering::Relaxed);
        let engine = &self.engines[i];
        tracing::info!(engine = engine.name(), model = engine.model(), from = current, to = next, failed, of = sent, "batch size changed");
        if let Err(e) = self.store.set_batch_tokens(&EngineModel { engine: engine.name().to_string(), model: engine.model().to_string() }, next) {
            tracing::warn!(error = %e, "cannot remember the batch size");
        }
    }

    /// Engine `i` failed a request: its circuit opens (a pause, or for good), and the run's report says why.
    fn engine_failed(&self, i: usize, e: &EngineError) {
        let engine = &self.engines[i];
        let permanent = matches!(e, EngineError::Permanent(_));
        let why = format!("{} {} at {}: {e}", engine.name(), engine.model(), engine.place());
        let circuit = self.breakers.failed(i, &why, permanent);
        tracing::warn!(reason = %why, ?circuit, "translation engine paused");
        let mut r = self.tally();
        if !r.engine_problems.contains(&why) {
            r.engine_problems.push(why);
        }
    }

    /// One request (`send`) with retries on transient and malformed replies.
    async fn call<F, Fut>(&self, engine: &Engine, send: F) -> Result<super::engine::Reply, EngineError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<super::engine::Reply, EngineError>>,
    {
        let mut attempt = 0;
        loop {
            self.tally().requests += 1;
            let started = std::time::Instant::now();
            let result = send().await;
            self.metrics.translated_in(started.elapsed());
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
            if attempt >= ENGINE_ATTEMPTS || wait > MAX_RETRY_WAIT || self.is_stopping() {
                return Err(error);
            }
            tracing::info!(engine = engine.name(), attempt, error = %error, ?wait, "retrying translation request");
            tokio::time::sleep(wait).await;
        }
    }

    /// Records a request's usage (report and budget) and returns it split over the entries in the batch.
    fn account(&self, engine: &Engine, units: &[Pending], usage: Usage, kind: UsageKind) -> Vec<UsageRow> {
        let bill = Bill {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            usd: self.tcfg.cost(engine.model(), usage.prompt_tokens, usage.completion_tokens),
        };
        {
            let mut r = self.tally();
            r.prompt_tokens += bill.prompt_tokens;
            r.completion_tokens += bill.completion_tokens;
            r.cost_usd += bill.usd;
        }
        self.metrics.spent(usage.prompt_tokens, usage.completion_tokens);
        // Each entry pays by its share of the batch's source.
        let mut entries: Vec<(&str, i64, usize)> = Vec::new();
        for u in units {
            match entries.iter_mut().find(|(_, id, _)| *id == u.entry_id) {
                Some(e) => e.2 += u.unit.html.len(),
                None => entries.push((&u.feed, u.entry_id, u.unit.html.len())),
            }
        }
        let sizes: Vec<usize> = entries.iter().map(|e| e.2).collect();
        let day = self.today();
        let ledger = &mut self.ledger.lock().unwrap_or_else(|e| e.into_inner()).0;
        entries
            .iter()
            .zip(budget::split(bill, &sizes))
            .enumerate()
            .map(|(i, ((feed, entry_id, _), part))| {
                ledger.pay(feed, &part);
                UsageRow {
                    day: day.clone(),
                    feed: feed.to_string(),
                    entry_id: *entry_id,
                    engine: engine.name().to_string(),
                    model: engine.model().to_string(),
                    requests: u64::from(i == 0),
                    prompt_tokens: part.prompt_tokens,
                    completion_tokens: part.completion_tokens,
                    cost_usd: part.usd,
                    estimated: usage.estimated,
                    kind,
                    repaired: 0,
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
        let month = budget::month_of(&day);
        let spent = |since: &str, feed: Option<&str>| self.store.usage_since(since, feed).unwrap_or_default();
        let mut guard = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let (ledger, read_at) = &mut *guard;
        if ledger.day != day || read_at.is_none_or(|t| t.elapsed() > LEDGER_FRESH) {
            *ledger = Ledger::new(&day, spent(&day, None), spent(&month, None));
            *read_at = Some(std::time::Instant::now());
        }
        let global = Limits { tokens_per_day: self.tcfg.budget_tokens_per_day, usd_per_month: self.tcfg.budget_usd_per_month };
        if let Some(why) = budget::exceeded(&global, ledger.today, ledger.month).map(|e| e.reason(None)) {
            let mut r = self.tally();
            if r.budget_stop.is_none() {
                tracing::warn!(reason = %why, "translation stopped by a budget");
                r.budget_stop = Some(why.clone());
            }
            return Some(why);
        }
        let mut stop = None;
        for u in units {
            let Some(feed) = self.config.feed(&u.feed) else { continue };
            let (today, month) = *ledger.feeds.entry(u.feed.clone()).or_insert_with(|| (spent(&day, Some(&u.feed)), spent(&month, Some(&u.feed))));
            let limits = Limits { tokens_per_day: feed.budget_tokens_per_day, usd_per_month: feed.budget_usd_per_month };
            if let Some(e) = budget::exceeded(&limits, today, month) {
                stop = Some(e.reason(Some(&u.feed)));
            }
        }
        stop
    }
}

/// What a repair under the placeholders protocol tells the engine about a rejected translation of
/// `source`: each marker it lost or doubled, as it saw it (`[…](1) is missing: put it around the
/// words that translate "..."`), then the other problems in the checks' words. Lost links and code
/// are said only as markers: the model never saw their URLs or code. Pure.
fn repair_note(source: &str, translation: &str, problems: &[checks::Problem]) -> String {
    let mut said = super::placeholders::marker_faults(&super::placeholders::encode(source), translation);
    // What the markers already say: a lost link, lost code, and changed markup that is only bold.
    let bold_said = said.iter().any(|f| f.starts_with("**…**"));
    let as_marker = |p: &checks::Problem| match p {
        checks::Problem::Link { added, .. } => added.is_empty(),
        checks::Problem::Code(_) => true,
        checks::Problem::Tags { .. } => bold_said && !checks::markup_differs_beyond(source, translation, super::placeholders::BOLD),
        _ => false,
    };
    let markers = !said.is_empty();
    said.extend(problems.iter().filter(|p| !(markers && as_marker(p))).map(|p| p.to_string()));
    said.join("; ")
}

/// What ends a job, from the config.
struct Policy {
    allow_partial: bool,
    partial_share: f64,
    max_attempts: u32,
}

/// How a job ends, given what of it was translated (`done`) and why the rest was not (`missed`):
/// done when all of it is (or enough of it, when partial posts are allowed); released as it was
/// when nothing of it was judged (no engine, a budget, a shutdown); else tried again later, with a
/// growing wait (`jitter` in 0..1), until its attempts are spent. Pure.
fn conclude(plan: &Plan, done: &HashMap<Key, String>, missed: &HashMap<Key, Miss>, policy: &Policy, now: i64, jitter: f64) -> JobEnd {
    let lang = &plan.job.lang;
    let key = |u: &Unit| (lang.clone(), plan.extra.clone(), u.hash.clone());
    let get = |u: &Unit| done.get(&key(u)).cloned();
    let units: Vec<Option<String>> = plan.body.iter().flat_map(|s| s.units.iter()).map(get).collect();
    let missing: Vec<(&Unit, Option<&Miss>)> = plan.units().filter(|u| !done.contains_key(&key(u))).map(|u| (u, missed.get(&key(u)))).collect();
    let total = plan.units().count();
    let title = match &plan.title {
        Some(t) => get(t).map(|t| crate::text::html_to_plain(&t)),
        None => Some(plan.entry.entry.title.clone()),
    };
    let complete = missing.is_empty();
    let share = (total - missing.len()) as f64 / total.max(1) as f64;
    let publishable = complete || (policy.allow_partial && share > policy.partial_share);
    if let (Some(title), true) = (title, publishable) {
        return JobEnd::Done(TranslationRow {
            entry_id: plan.job.entry_id,
            lang: lang.clone(),
            version: plan.job.version,
            title_src: plan.entry.entry.title.clone(),
            title,
            content_src: plan.entry.entry.content.clone(),
            units,
            complete,
            summary: None,
        });
    }
    let why: Vec<String> = missing
        .iter()
        .map(|(u, miss)| format!("{:?}: {}", crate::text::truncate(&u.text, 60), miss.map_or("not attempted".to_string(), Miss::to_string)))
        .collect();
    let reason = format!("{} of {total} blocks untranslated: {}", missing.len(), why.join("; "));
    if missing.iter().all(|(_, miss)| matches!(miss, Some(Miss::NotSent(_)))) {
        // Nothing of it was judged (a budget, a shutdown, no engine): back to the queue as it was.
        return JobEnd::Release;
    }
    if plan.job.attempts + 1 >= policy.max_attempts {
        JobEnd::Failed { reason }
    } else {
        let wait = backoff(plan.job.attempts, Duration::from_secs(300), Duration::from_secs(6 * 3600), jitter);
        JobEnd::Retry { at: now + wait.as_secs() as i64, reason }
    }
}

/// What to do with a block whose reply failed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Ask again alone, as it was.
    Resend,
    /// Ask once more, saying what was wrong.
    Repair,
    /// Ask again saying what was wrong, sampled (the engine is greedy, and its own answer failed).
    Resample,
    /// Give up for this run.
    Reject,
}

/// What asking a block again can do, by its last reply and the engine that gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Can {
    /// The same question can get another answer (see `Rejection::again`).
    change: bool,
    /// The engine can be asked with a temperature (a chat engine).
    sample: bool,
}

/// After the `tries`-th rejected reply of a block: send it again while asking again can change the
/// answer and requests are left, then once repair it. A greedy chat engine's block then has the
/// rest of its requests sampled, each told what was wrong with the last: every block gets
/// `block_attempts` requests and one repair, whatever the engine's temperature. Then reject it.
/// Nothing new is sent while the worker stops.
fn after_rejection(can: Can, tries: u32, block_attempts: u32, repaired: bool, stopping: bool) -> Step {
    if stopping {
        Step::Reject
    } else if repaired {
        if can.sample && tries <= block_attempts { Step::Resample } else { Step::Reject }
    } else if can.change && tries < block_attempts {
        Step::Resend
    } else {
        Step::Repair
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    /// A post with a title and three paragraphs, its job at `attempts`.
    fn plan(attempts: u32) -> Plan {
        let content = "<p>One sentence here.</p><p>Two sentences here.</p><p>Three sentences here.</p>";
        let entry = Entry { title: "A title".into(), content: content.into(), ..Entry::default() };
        Plan {
            job: Job { entry_id: 7, lang: "zh-CN".into(), version: 2, feed: "f".into(), attempts },
            entry: StoredEntry { id: 7, feed: "f".into(), version: 2, entry, note: None },
            title: Some(Unit::title("A title")),
            body: Some(segment::segment(content, &segment::Options::default())),
            extra: None,
        }
    }

    /// Translations of the first `n` units of `plan` (title first), and `miss` for the others.
    fn outcome(plan: &Plan, n: usize, miss: Option<Miss>) -> (HashMap<Key, String>, HashMap<Key, Miss>) {
        let key = |u: &Unit| ("zh-CN".to_string(), None, u.hash.clone());
        let done = plan.units().take(n).map(|u| (key(u), format!("译{}", u.text))).collect();
        let missed = plan.units().skip(n).filter_map(|u| Some((key(u), miss.clone()?))).collect();
        (done, missed)
    }

    const STRICT: Policy = Policy { allow_partial: false, partial_share: 0.5, max_attempts: 4 };
    const PARTIAL: Policy = Policy { allow_partial: true, partial_share: 0.5, max_attempts: 4 };

    #[test]
    fn a_job_ends_by_what_of_it_was_translated_and_why_not() {
        let rejected = Some(Miss::Rejected("link(s) lost".into()));
        let not_sent = Some(Miss::NotSent(NotSent::NoEngine("down".into())));
        // (policy, attempts done, units translated of 4, why the rest is not, how it ends)
        let cases: &[(&Policy, u32, usize, Option<Miss>, &str)] = &[
            (&STRICT, 0, 4, None, "done"),
            (&STRICT, 0, 3, rejected.clone(), "retry"),
            (&STRICT, 3, 3, rejected.clone(), "failed"),
            // Nothing judged: the post keeps its attempts, whatever their number.
            (&STRICT, 3, 0, not_sent.clone(), "release"),
            (&STRICT, 0, 2, not_sent.clone(), "release"),
            (&PARTIAL, 0, 3, rejected.clone(), "partial"),
            // Half is not more than half.
            (&PARTIAL, 0, 2, rejected.clone(), "retry"),
            // A block with no translation and no known reason is not known to be unsent: it counts.
            (&STRICT, 0, 3, None, "retry"),
        ];
        for (policy, attempts, n, miss, want) in cases {
            let p = plan(*attempts);
            assert_eq!(p.units().count(), 4);
            let (done, missed) = outcome(&p, *n, miss.clone());
            let end = conclude(&p, &done, &missed, policy, 1000, 0.5);
            let got = match &end {
                JobEnd::Done(row) if row.complete => "done",
                JobEnd::Done(_) => "partial",
                JobEnd::Retry { .. } => "retry",
                JobEnd::Failed { .. } => "failed",
                JobEnd::Release => "release",
            };
            assert_eq!(got, *want, "{attempts} attempts, {n} of 4 translated, {miss:?}: {end:?}");
            match end {
                JobEnd::Done(row) => {
                    assert_eq!((row.entry_id, row.version, row.title.as_str()), (7, 2, "译A title"));
                    assert_eq!(row.units.iter().filter(|u| u.is_some()).count(), n - 1, "the title is not a body unit");
                }
                JobEnd::Retry { at, reason } => {
                    assert!(at > 1000 + 60, "a retry waits");
                    assert!(reason.starts_with(&format!("{} of 4 blocks untranslated: ", 4 - n)), "{reason}");
                }
                JobEnd::Failed { reason } => assert!(reason.contains("link(s) lost"), "{reason}"),
                JobEnd::Release => {}
            }
        }
    }

    #[test]
    fn an_untranslated_title_holds_a_partial_post_back() {
        let p = plan(0);
        let key = |u: &Unit| ("zh-CN".to_string(), None, u.hash.clone());
        let done: HashMap<Key, String> = p.units().skip(1).map(|u| (key(u), "译".to_string())).collect();
        let missed: HashMap<Key, Miss> = p.title.iter().map(|t| (key(t), Miss::Rejected("not in the target language".into()))).collect();
        assert!(matches!(conclude(&p, &done, &missed, &PARTIAL, 0, 0.0), JobEnd::Retry { .. }));
    }

    #[test]
    fn a_repair_under_placeholders_names_the_markers_not_the_urls() {
        let source = "Claude 3 <a href=\"https://simonwillison.net/2024/Mar/4/claude-3/\">launched in March</a>; run <code>llm -m opus</code> for $30.";
        let translation = "Claude 3 于三月发布；运行 <code>llm -m opus</code>，价格 40 美元。";
        let problems = checks::check_unit(source, translation, &CheckOptions { target_lang: "zh-CN".into(), ..CheckOptions::default() });
        assert!(problems.iter().any(|p| matches!(p, checks::Problem::Link { .. })), "{problems:?}");
        let note = repair_note(source, translation, &problems);
        assert_eq!(note, "[…](1) is missing: put it around the words that translate \"launched in March\"; number 30 missing; number 40 added");
        assert!(!note.contains("https://"), "{note}");
        // Bold lost is said as the model saw it, not as the tags it never saw.
        let bold = "The earliest was <strong>Gemini 1.5 Pro</strong>, released in February.";
        let unbold = "最早的是 Gemini 1.5 Pro，于二月发布。";
        let problems = checks::check_unit(bold, unbold, &CheckOptions::default());
        assert!(problems.iter().any(|p| matches!(p, checks::Problem::Tags { .. })), "{problems:?}");
        assert_eq!(repair_note(bold, unbold, &problems), "**…** is missing: put it around the words that translate \"Gemini 1.5 Pro\"");
        // Bold and a link lost: both said as markers, the markup check not again.
        let both = "<strong>Gemini 1.5 Pro</strong> came <a href=\"https://e.org/gemini\">in February</a>.";
        let neither = "Gemini 1.5 Pro 于二月发布。";
        let problems = checks::check_unit(both, neither, &CheckOptions::default());
        assert_eq!(
            repair_note(both, neither, &problems),
            "[…](1) is missing: put it around the words that translate \"in February\"; **…** is missing: put it around the words that translate \"Gemini 1.5 Pro\""
        );
        // Bold and another tag lost: the other tag is still said, in the checks' words.
        let stressed = "The earliest was <strong>Gemini 1.5 Pro</strong>, released in <em>February</em>.";
        let problems = checks::check_unit(stressed, unbold, &CheckOptions::default());
        assert!(repair_note(stressed, unbold, &problems).contains("markup changed"), "{problems:?}");
        // Nothing lost of the markup: the checks' own words.
        let kept = "Claude 3 <a href=\"https://simonwillison.net/2024/Mar/4/claude-3/\">于三月发布</a>；运行 <code>llm -m opus</code>，价格 40 美元。";
        let problems = checks::check_unit(source, kept, &CheckOptions { target_lang: "zh-CN".into(), ..CheckOptions::default() });
        assert_eq!(repair_note(source, kept, &problems), problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "));
    }

    #[test]
    fn a_rejected_block_is_resent_then_repaired_then_resampled_then_rejected() {
        // (asking again can change it, the engine samples, tries so far, repaired before, stopping) -> step, with 6 attempts
        let cases = [
            (true, false, 1, false, false, Step::Resend),
            (true, true, 5, false, false, Step::Resend),
            (true, true, 6, false, false, Step::Repair),
            // A greedy engine's answer to the same single block does not change: straight to repair,
            (false, true, 2, false, false, Step::Repair),
            // then, a chat engine, sampled until it has had 6 requests and the repair;
            (false, true, 3, true, false, Step::Resample),
            (true, true, 4, true, false, Step::Resample),
            (false, true, 6, true, false, Step::Resample),
            (false, true, 7, true, false, Step::Reject),
            // an engine that cannot sample (DeepL) is rejected after its repair.
            (false, false, 2, false, false, Step::Repair),
            (false, false, 3, true, false, Step::Reject),
            // A sampling engine had its 6 requests before the repair.
            (true, true, 7, true, false, Step::Reject),
            (true, true, 1, false, true, Step::Reject),
        ];
        for (change, sample, tries, repaired, stopping, want) in cases {
            let can = Can { change, sample };
            assert_eq!(after_rejection(can, tries, 6, repaired, stopping), want, "{can:?} {tries} {repaired} {stopping}");
        }
    }
}
