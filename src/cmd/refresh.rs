//! `polyfeed refresh`: one pass over the feeds, then a summary.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::RefreshArgs;
use crate::config::FeedConfig;
use crate::fetch::Fetcher;
use crate::lock::CacheLock;
use crate::refresh::{Context, FeedReport, Outcome, refresh_all};
use crate::translate::worker::{Report, Worker};

pub fn run(config_path: &Path, args: RefreshArgs) -> anyhow::Result<ExitCode> {
    let config = Arc::new(super::load_config(config_path)?);
    let feeds: Vec<&FeedConfig> = if args.feeds.is_empty() {
        config.enabled_feeds().collect()
    } else {
        args.feeds
            .iter()
            .map(|n| config.feed(n).ok_or_else(|| anyhow::anyhow!("no feed named {n:?} in {}", config_path.display())))
            .collect::<anyhow::Result<_>>()?
    };
    let _lock = CacheLock::acquire(&config.cache_dir, "refresh")?;
    let store = super::open_store(&config)?;
    let ctx = Context { config: config.clone(), store, fetcher: Arc::new(Fetcher::from_config(&config)), metrics: Default::default() };

    let rt = super::runtime()?;
    let progress = progress_bar(feeds.len() as u64, "feeds");
    let reports = rt.block_on(refresh_all(&ctx, &feeds, args.force, |r| {
        progress.set_message(r.feed.clone());
        progress.inc(1);
    }));
    progress.finish_and_clear();

    print_summary(&reports);
    let mut failed = reports.iter().any(|r| matches!(r.outcome, Outcome::Failed(_)));

    // --no-translate fetches and queues only: nothing new to publish, nothing owed yet.
    if !args.no_translate {
        failed |= translate(&ctx, &rt)?;
        let started = std::time::Instant::now();
        match crate::publish::publish(&config, ctx.store.as_ref()) {
            Ok(r) => {
                println!(
                    "published: {} files written, {} unchanged ({} feeds, {} posts redone); {:.2} s",
                    r.written,
                    r.unchanged,
                    r.feeds,
                    r.posts,
                    started.elapsed().as_secs_f64()
                );
                if r.left_out > 0 {
                    println!("left out of feed files: {} entries that would make them unreadable (see the log)", r.left_out);
                    failed = true;
                }
            }
            Err(e) => {
                println!("publishing failed: {e}; the files published before are intact");
                failed = true;
            }
        }
        // Whatever is due and not published makes the run unfinished, whoever left it so.
        let names: Vec<&str> = feeds.iter().map(|f| f.name()).collect();
        let (waiting, total) = ctx.store.unpublished(&names, 10)?;
        if total > 0 {
            println!("not published yet: {total} posts");
            for u in &waiting {
                println!("  {}", super::describe_unpublished(u));
            }
            if total > waiting.len() as u64 {
                println!("  ... and {} more (`polyfeed status`)", total - waiting.len() as u64);
            }
            failed = true;
        }
    }
    Ok(if failed { ExitCode::from(super::PARTIAL_FAILURE) } else { ExitCode::SUCCESS })
}

/// Translates the queue; true when some translations failed or could not be attempted.
fn translate(ctx: &Context, rt: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    let recovered = ctx.store.recover_leases()?;
    if recovered > 0 {
        tracing::info!(jobs = recovered, "resuming translation jobs a previous run left unfinished");
    }
    let (queued, ..) = ctx.store.queue_counts()?;
    let worker = match Worker::new(ctx.config.clone(), ctx.store.clone(), ctx.metrics.clone()) {
        Ok(w) => w,
        Err(why) if queued > 0 => {
            println!("translation skipped, {queued} entries wait in the queue: {why}");
            return Ok(true);
        }
        Err(_) => return Ok(false),
    };
    let progress = progress_bar(queued, "entries");
    let started = std::time::Instant::now();
    let report = rt.block_on(worker.run(|_, _| progress.inc(1)));
    progress.finish_and_clear();
    print_translation(&report, started.elapsed());
    Ok(report.entries_failed + report.entries_retrying > 0)
}

fn print_translation(r: &Report, took: std::time::Duration) {
    println!(
        "translation: {} entries translated, {} partial, {} failed, {} to retry; {} blocks translated in {} requests, {} sent again, {} repaired, {} rejected by the checks, {} from memory; {} tokens (${:.4}); {:.2} s",
        r.entries_translated,
        r.entries_partial,
        r.entries_failed,
        r.entries_retrying,
        r.units_translated,
        r.requests,
        r.units_resent,
        r.units_repaired,
        r.units_rejected,
        r.cache_hits,
        r.prompt_tokens + r.completion_tokens,
        r.cost_usd,
        took.as_secs_f64()
    );
    if let Some(why) = &r.budget_stop {
        println!("translation stopped: {why}");
    }
    if let Some(why) = &r.engines_down {
        println!("translation paused, no engine available: {why}");
    }
    for p in &r.engine_problems {
        println!("engine problem: {p}");
    }
}

/// A progress bar on a terminal, nothing otherwise.
pub(super) fn progress_bar(len: u64, unit: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {unit} {{msg}}")).expect("static template");
    indicatif::ProgressBar::new(len).with_style(style)
}

fn print_summary(reports: &[FeedReport]) {
    let width = reports.iter().map(|r| r.feed.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:<12} {:>5} {:>7} {:>6}  note", "feed", "result", "new", "updated", "queued");
    for r in reports {
        let (result, note) = match &r.outcome {
            Outcome::Fetched => ("fetched", String::new()),
            Outcome::NotModified => ("not modified", String::new()),
            Outcome::Deferred(why) => ("deferred", why.clone()),
            Outcome::Failed(why) => ("failed", why.clone()),
        };
        let note = match &r.moved_to {
            Some(url) if note.is_empty() => format!("moved to {url}"),
            _ => note,
        };
        let a = &r.applied;
        println!("{:width$}  {:<12} {:>5} {:>7} {:>6}  {}", r.feed, result, a.new, a.updated, a.queued, note);
    }
    let count = |f: fn(&Outcome) -> bool| reports.iter().filter(|r| f(&r.outcome)).count();
    let sum = |f: fn(&FeedReport) -> usize| reports.iter().map(f).sum::<usize>();
    println!(
        "{} feeds: {} fetched, {} not modified, {} deferred, {} failed; {} new, {} updated, {} queued",
        reports.len(),
        count(|o| *o == Outcome::Fetched),
        count(|o| *o == Outcome::NotModified),
        count(|o| matches!(o, Outcome::Deferred(_))),
        count(|o| matches!(o, Outcome::Failed(_))),
        sum(|r| r.applied.new),
        sum(|r| r.applied.updated),
        sum(|r| r.applied.queued),
    );
}
