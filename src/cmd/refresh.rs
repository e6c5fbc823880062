//! `polyfeed refresh`: one pass over the feeds, then a summary.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::{CommandError, Done};
use crate::cli::RefreshArgs;
use crate::config::FeedConfig;
use crate::lock::CacheLock;
use crate::pipeline::{Pipeline, Translated};
use crate::refresh::{FeedReport, Outcome};
use crate::translate::worker::Report;

pub fn run(config_path: &Path, args: RefreshArgs) -> Result<Done, CommandError> {
    let config = Arc::new(super::load_config(config_path)?);
    let feeds: Vec<&FeedConfig> = if args.feeds.is_empty() {
        config.enabled_feeds().collect()
    } else {
        args.feeds
            .iter()
            .map(|n| config.feed(n).ok_or_else(|| CommandError::Usage(format!("no feed named {n:?} in {}", config_path.display()))))
            .collect::<Result<_, _>>()?
    };
    let _lock = CacheLock::acquire(&config.cache_dir, "refresh")?;
    let store = super::open_store(&config)?;
    let pipeline = Pipeline::new(config.clone(), store, Default::default());

    let rt = super::runtime()?;
    let progress = progress_bar(feeds.len() as u64, "feeds");
    let reports = rt.block_on(pipeline.fetch_all(&feeds, args.force, |r| {
        progress.set_message(r.feed.clone());
        progress.inc(1);
    }))?;
    progress.finish_and_clear();
    print_summary(&reports);
    let mut unfinished = reports.iter().any(|r| matches!(r.outcome, Outcome::Failed(_)));
    // --no-translate fetches and queues only: nothing new to publish, nothing owed yet.
    if args.no_translate {
        return Ok(Done::from_unfinished(unfinished));
    }

    let queued = pipeline.ctx.store.queue_counts()?.queued;
    let progress = progress_bar(queued, "entries");
    let pass = rt.block_on(pipeline.pass(|_, _| progress.inc(1)))?;
    progress.finish_and_clear();
    match &pass.translated {
        Translated::Ran(report) => print_translation(report, pass.translate_took),
        Translated::Skipped { why, queued } if *queued > 0 => println!("translation skipped, {queued} entries wait in the queue: {why}"),
        Translated::Skipped { .. } => {}
    }
    match &pass.published {
        Ok(r) if r.elsewhere => println!("published: another polyfeed sharing the store is publishing; it writes output/"),
        Ok(r) => {
            println!(
                "published: {} files written, {} unchanged ({} feeds, {} posts redone); {:.2} s",
                r.written,
                r.unchanged,
                r.feeds,
                r.posts,
                pass.publish_took.as_secs_f64()
            );
            if r.left_out > 0 {
                println!("left out of feed files: {} entries that would make them unreadable (see the log)", r.left_out);
            }
        }
        Err(e) => println!("publishing failed: {e}; the files published before are intact"),
    }
    unfinished |= pass.unfinished();

    // Whatever is due and not published makes the run unfinished, whoever left it so.
    let names: Vec<&str> = feeds.iter().map(|f| f.name()).collect();
    let owed = pipeline.owed(&names)?;
    if owed.total > 0 {
        println!("not published yet: {} posts", owed.total);
        for u in &owed.posts {
            println!("  {}", super::describe_unpublished(u));
        }
        if owed.total > owed.posts.len() as u64 {
            println!("  ... and {} more (`polyfeed status`)", owed.total - owed.posts.len() as u64);
        }
        unfinished = true;
    }
    Ok(Done::from_unfinished(unfinished))
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
    if r.summaries_written + r.summaries_reused + r.summaries_rejected + r.summaries_skipped > 0 {
        println!(
            "summaries: {} written, {} from memory, {} rejected by the checks, {} skipped (budget)",
            r.summaries_written, r.summaries_reused, r.summaries_rejected, r.summaries_skipped
        );
    }
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
            Outcome::Failed(why) => ("failed", why.to_string()),
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
