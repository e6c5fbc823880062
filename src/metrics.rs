//! Counters and histograms for /metrics, rendered in the Prometheus text format. No secrets, no
//! per-entry labels: only a handful of series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SECONDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// A latency histogram with fixed buckets (seconds).
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 11],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, le) in SECONDS.iter().enumerate() {
            if s <= *le {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, le) in SECONDS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", self.counts[i].load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything polyfeed counts while it runs.
#[derive(Default)]
pub struct Metrics {
    fetches: Mutex<BTreeMap<String, u64>>,
    pub entries_new: AtomicU64,
    pub entries_updated: AtomicU64,
    pub units_translated: AtomicU64,
    /// Blocks that passed once told what was wrong with their last translation.
    pub units_repaired: AtomicU64,
    /// Entries translated completely.
    pub entries_translated: AtomicU64,
    /// Entries published with some blocks left in the original (`allow_partial`).
    pub entries_partial: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub translation_failures: AtomicU64,
    pub fetch_seconds: Histogram,
    pub translate_seconds: Histogram,
}

impl Metrics {
    /// Counts one fetch by its result ("ok", "not_modified", "deferred", "failed").
    pub fn fetched(&self, result: &str, took: Duration) {
        *self.fetches.lock().unwrap_or_else(|e| e.into_inner()).entry(result.to_string()).or_insert(0) += 1;
        self.fetch_seconds.observe(took);
    }

    /// The text exposition; `queue` is (state, depth) read from the store at scrape time.
    pub fn render(&self, queue: &[(&str, u64)]) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        let _ = writeln!(out, "# HELP polyfeed_fetches_total Feed fetches by result.\n# TYPE polyfeed_fetches_total counter");
        for (result, n) in self.fetches.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "polyfeed_fetches_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP polyfeed_entries_detected_total New and updated entries detected.\n# TYPE polyfeed_entries_detected_total counter");
        let _ = writeln!(out, "polyfeed_entries_detected_total{{kind=\"new\"}} {}", self.entries_new.load(Ordering::Relaxed));
        let _ = writeln!(out, "polyfeed_entries_detected_total{{kind=\"updated\"}} {}", self.entries_updated.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP polyfeed_queue_depth Translation jobs by state.\n# TYPE polyfeed_queue_depth gauge");
        for (state, n) in queue {
            let _ = writeln!(out, "polyfeed_queue_depth{{state=\"{state}\"}} {n}");
        }
        counter(&mut out, "polyfeed_units_translated_total", "Blocks translated (sent, checked and stored).", &self.units_translated);
        counter(&mut out, "polyfeed_units_repaired_total", "Blocks that passed once told what was wrong with their last translation.", &self.units_repaired);
        counter(&mut out, "polyfeed_entries_translated_total", "Entries translated completely.", &self.entries_translated);
        counter(&mut out, "polyfeed_entries_partial_total", "Entries published partly translated (allow_partial).", &self.entries_partial);
        counter(&mut out, "polyfeed_translation_failures_total", "Translation jobs that ended failed or to be retried.", &self.translation_failures);
        let _ = writeln!(out, "# HELP polyfeed_tokens_total Tokens spent on translation.\n# TYPE polyfeed_tokens_total counter");
        let _ = writeln!(out, "polyfeed_tokens_total{{kind=\"prompt\"}} {}", self.prompt_tokens.load(Ordering::Relaxed));
        let _ = writeln!(out, "polyfeed_tokens_total{{kind=\"completion\"}} {}", self.completion_tokens.load(Ordering::Relaxed));
        self.fetch_seconds.render("polyfeed_fetch_duration_seconds", "Time to fetch a feed.", &mut out);
        self.translate_seconds.render("polyfeed_translation_request_duration_seconds", "Time of one translation request.", &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.fetched("ok", Duration::from_millis(80));
        m.fetched("failed", Duration::from_secs(3));
        m.units_translated.fetch_add(7, Ordering::Relaxed);
        m.entries_translated.fetch_add(3, Ordering::Relaxed);
        m.entries_partial.fetch_add(1, Ordering::Relaxed);
        m.units_repaired.fetch_add(2, Ordering::Relaxed);
        let text = m.render(&[("queued", 4), ("failed", 1)]);
        // Partial entries are counted apart, never as translated.
        assert!(text.contains("polyfeed_entries_translated_total 3\n"));
        assert!(text.contains("polyfeed_entries_partial_total 1\n"));
        assert!(text.contains("polyfeed_units_repaired_total 2\n"));
        assert!(text.contains("polyfeed_fetches_total{result=\"ok\"} 1\n"));
        assert!(text.contains("polyfeed_queue_depth{state=\"queued\"} 4\n"));
        assert!(text.contains("polyfeed_units_translated_total 7\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_count 2\n"));
    }
}
