//! The operator's page (/status): every feed's state, the queue, and the last 30 days' spending
//! as an inline SVG chart. Pure rendering over what the store says.

use std::fmt::Write;

use crate::config::Config;
use crate::store::{DaySpent, QueueCounts, Result, Store};
use crate::text::escape_html as esc;

use super::Live;

pub fn render(config: &Config, store: &dyn Store, live: Option<&Live>) -> Result<String> {
    let summaries = store.feed_summaries()?;
    let QueueCounts { queued, leased, done, failed } = store.queue_counts()?;
    let today = chrono::Utc::now().with_timezone(&config.tz).date_naive();
    let first = today - chrono::Duration::days(29);
    let days = store.usage_by_day(&first.format("%Y-%m-%d").to_string())?;
    let next_runs = live.map(|l| l.next_runs.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default();
    let time = |t: Option<i64>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|d| d.with_timezone(&config.tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into())
    };

    let mut rows = String::new();
    for f in &config.feeds {
        let s = summaries.iter().find(|s| s.name == f.name()).cloned().unwrap_or_default();
        let result = s.last_result.as_deref().unwrap_or("never fetched");
        let class = match result {
            "ok" | "not_modified" => "ok",
            "deferred" => "warn",
            _ => "bad",
        };
        let mut problems = String::new();
        if let Some(e) = &s.last_error {
            let _ = write!(problems, "<div>fetch: {} ({} in a row)</div>", esc(e), s.failures);
        }
        for r in &s.failures_reasons {
            let _ = write!(problems, "<div>translation: {}</div>", esc(r));
        }
        let _ = writeln!(
            rows,
            "<tr><td><strong>{}</strong>{}<div class=\"url\">{}</div></td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}<br><small>${:.4}</small></td><td class=\"problems\">{}</td></tr>",
            esc(f.name()),
            if f.enabled { "" } else { " <small>(disabled)</small>" },
            esc(s.fetch_url.as_deref().unwrap_or(f.url())),
            time(s.last_fetch_at),
            esc(result),
            time(next_runs.get(f.name()).copied()),
            s.entries,
            s.queued,
            s.translated,
            s.failed,
            s.tokens,
            s.cost_usd,
            problems
        );
    }
    let chart = chart(&days, first);
    let total: u64 = days.iter().map(|d| d.tokens).sum();
    let usd: f64 = days.iter().map(|d| d.usd).sum();
    let scheduler = match live {
        Some(l) => format!("scheduler alive, last tick {}", time(Some(l.heartbeat.load(std::sync::atomic::Ordering::Relaxed)))),
        None => "no scheduler (polyfeed serve)".into(),
    };
    // The processes sharing the store (none on SQLite).
    let mut nodes = String::new();
    for n in store.nodes()? {
        let _ = write!(
            nodes,
            "<li><strong>{}</strong>: {}, last seen {}, {} jobs leased, fetched {} feeds last</li>",
            esc(&n.name),
            if n.alive { "alive" } else { "silent" },
            time(Some(n.last_seen)),
            n.leases,
            n.feeds
        );
    }
    if !nodes.is_empty() {
        nodes = format!("<h2>Nodes sharing the store</h2>\n<ul class=\"nodes\">{nodes}</ul>\n");
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>polyfeed status</title>\n<style>{STATUS_STYLE}</style>\n</head>\n<body>\n<h1>polyfeed status</h1>\n<p class=\"summary\">{scheduler} · queue: {queued} queued, {leased} in progress, {done} done, {failed} failed</p>\n<table>\n<thead><tr><th>feed</th><th>last fetch</th><th>result</th><th>next run</th><th>entries</th><th>backlog / translated</th><th>failed</th><th>tokens</th><th>failures</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n{nodes}<h2>Tokens per day, last 30 days</h2>\n<p>{total} tokens, ${usd:.4}</p>\n{chart}\n</body>\n</html>\n"
    ))
}

/// An inline SVG bar chart: one bar per day, oldest on the left.
fn chart(days: &[DaySpent], first: chrono::NaiveDate) -> String {
    let values: Vec<(String, u64, f64)> = (0..30)
        .map(|i| {
            let day = (first + chrono::Duration::days(i)).format("%Y-%m-%d").to_string();
            let (t, u) = days.iter().find(|d| d.day == day).map(|d| (d.tokens, d.usd)).unwrap_or((0, 0.0));
            (day, t, u)
        })
        .collect();
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let mut bars = String::new();
    for (i, (day, tokens, usd)) in values.iter().enumerate() {
        let h = (*tokens as f64 / max as f64 * 100.0).round();
        let _ = write!(
            bars,
            "<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"{h}\" class=\"bar\"><title>{day}: {tokens} tokens (${usd:.4})</title></rect>",
            i * 20 + 2,
            110.0 - h
        );
    }
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"tokens per day\" viewBox=\"0 0 600 130\" width=\"600\" height=\"130\" xmlns=\"http://www.w3.org/2000/svg\">{bars}<line x1=\"0\" y1=\"110\" x2=\"600\" y2=\"110\" class=\"axis\"/><text x=\"0\" y=\"126\">{}</text><text x=\"600\" y=\"126\" text-anchor=\"end\">{}</text></svg>",
        values.first().map(|v| v.0.as_str()).unwrap_or(""),
        values.last().map(|v| v.0.as_str()).unwrap_or("")
    )
}

const STATUS_STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:1.5rem;color-scheme:light dark}\
    table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #8884;vertical-align:top}\
    .url{color:#888;font-size:.85em;word-break:break-all}.ok{color:#15803d}.warn{color:#b45309}.bad{color:#b91c1c;font-weight:600}\
    .problems{font-size:.85em;color:#b91c1c;max-width:30rem}.bar{fill:#3b82f6}.axis{stroke:#888}.chart text{font-size:10px;fill:#888}";
