//! Counters and histograms for /metrics, kept and rendered (OpenMetrics text, which Prometheus
//! reads) by prometheus-client. No secrets, no per-entry labels: only a handful of series.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Bucket bounds of the latency histograms, in seconds.
const SECONDS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// One label: its name and value.
type Label = [(&'static str, String); 1];

/// Everything polyfeed counts while it runs. The counters are handles: counting is lock-free.
pub struct Metrics {
    registry: Registry,
    fetches: Family<Label, Counter>,
    detected: Family<Label, Counter>,
    tokens: Family<Label, Counter>,
    queue: Family<Label, Gauge>,
    node_leases: Family<Label, Gauge>,
    node_alive: Family<Label, Gauge>,
    websub_pings: Family<Label, Counter>,
    summaries: Family<Label, Counter>,
    pushes: Family<Label, Counter>,
    pub units_translated: Counter,
    /// Blocks that passed once told what was wrong with their last translation.
    pub units_repaired: Counter,
    /// Entries translated completely.
    pub entries_translated: Counter,
    /// Entries published with some blocks left in the original (`allow_partial`).
    pub entries_partial: Counter,
    pub translation_failures: Counter,
    fetch_seconds: Histogram,
    translate_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let seconds = || Histogram::new(SECONDS);
        let m = Metrics {
            registry: Registry::with_prefix("polyfeed"),
            fetches: Family::default(),
            detected: Family::default(),
            tokens: Family::default(),
            queue: Family::default(),
            node_leases: Family::default(),
            node_alive: Family::default(),
            websub_pings: Family::default(),
            summaries: Family::default(),
            pushes: Family::default(),
            units_translated: Counter::default(),
            units_repaired: Counter::default(),
            entries_translated: Counter::default(),
            entries_partial: Counter::default(),
            translation_failures: Counter::default(),
            fetch_seconds: seconds(),
            translate_seconds: seconds(),
        };
        let mut r = m.registry;
        r.register("fetches", "Feed fetches by result.", m.fetches.clone());
        r.register("entries_detected", "New and updated entries detected.", m.detected.clone());
        r.register("queue_depth", "Translation jobs by state.", m.queue.clone());
        r.register("node_leases", "Translation jobs each node sharing the store holds leased.", m.node_leases.clone());
        r.register("node_alive", "1 for a node sharing the store that was seen within a lease's life.", m.node_alive.clone());
        r.register("units_translated", "Blocks translated (sent, checked and stored).", m.units_translated.clone());
        r.register("units_repaired", "Blocks that passed once told what was wrong with their last translation.", m.units_repaired.clone());
        r.register("entries_translated", "Entries translated completely.", m.entries_translated.clone());
        r.register("entries_partial", "Entries published partly translated (allow_partial).", m.entries_partial.clone());
        r.register("translation_failures", "Translation jobs that ended failed or to be retried.", m.translation_failures.clone());
        r.register("tokens", "Tokens spent on translation.", m.tokens.clone());
        r.register(
            "summaries",
            "Post summaries by result: written, reused (from the memory), rejected (by the checks), skipped (budget, short post).",
            m.summaries.clone(),
        );
        r.register("websub_pushes", "WebSub pushes received, by result: taken (signed, handed on as a fetch) or unsigned (ignored).", m.pushes.clone());
        r.register("websub_pings", "Changed feeds announced to the WebSub hub, by result.", m.websub_pings.clone());
        r.register("fetch_duration_seconds", "Time to fetch a feed.", m.fetch_seconds.clone());
        r.register("translation_request_duration_seconds", "Time of one translation request.", m.translate_seconds.clone());
        Metrics { registry: r, ..m }
    }
}

impl Metrics {
    /// Counts one fetch by its result ("ok", "not_modified", "deferred", "failed").
    pub fn fetched(&self, result: &str, took: Duration) {
        self.fetches.get_or_create(&[("result", result.to_string())]).inc();
        self.fetch_seconds.observe(took.as_secs_f64());
    }

    /// Counts entries found new and updated by a fetch.
    pub fn detected(&self, new: usize, updated: usize) {
        self.detected.get_or_create(&[("kind", "new".to_string())]).inc_by(new as u64);
        self.detected.get_or_create(&[("kind", "updated".to_string())]).inc_by(updated as u64);
    }

    /// Counts the tokens of one request.
    pub fn spent(&self, prompt: u64, completion: u64) {
        self.tokens.get_or_create(&[("kind", "prompt".to_string())]).inc_by(prompt);
        self.tokens.get_or_create(&[("kind", "completion".to_string())]).inc_by(completion);
    }

    /// Counts feeds announced to the WebSub hub ("ok", "failed").
    pub fn pinged(&self, ok: usize, failed: usize) {
        self.websub_pings.get_or_create(&[("result", "ok".to_string())]).inc_by(ok as u64);
        self.websub_pings.get_or_create(&[("result", "failed".to_string())]).inc_by(failed as u64);
    }

    /// Counts one post's summary by how it ended ("written", "reused", "rejected", "skipped").
    pub fn summarized(&self, result: &str) {
        self.summaries.get_or_create(&[("result", result.to_string())]).inc();
    }

    /// Counts one WebSub push by what was done with it ("taken", "unsigned").
    pub fn pushed(&self, result: &str) {
        self.pushes.get_or_create(&[("result", result.to_string())]).inc();
    }

    /// Times one translation request.
    pub fn translated_in(&self, took: Duration) {
        self.translate_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition; `queue` is (state, depth) and `nodes` (name, leases, alive) of the
    /// processes sharing the store, read from the store at scrape time.
    pub fn render(&self, queue: &[(&str, u64)], nodes: &[(&str, u64, bool)]) -> String {
        for (state, n) in queue {
            self.queue.get_or_create(&[("state", state.to_string())]).set(*n as i64);
        }
        for (name, leases, alive) in nodes {
            self.node_leases.get_or_create(&[("node", name.to_string())]).set(*leases as i64);
            self.node_alive.get_or_create(&[("node", name.to_string())]).set(i64::from(*alive));
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
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
        m.units_translated.inc_by(7);
        m.entries_translated.inc_by(3);
        m.entries_partial.inc();
        m.units_repaired.inc_by(2);
        m.detected(5, 1);
        let text = m.render(&[("queued", 4), ("failed", 1)], &[("db1:42:beef", 3, true)]);
        // Partial entries are counted apart, never as translated.
        assert!(text.contains("polyfeed_entries_translated_total 3\n"), "{text}");
        assert!(text.contains("polyfeed_entries_partial_total 1\n"));
        assert!(text.contains("polyfeed_units_repaired_total 2\n"));
        assert!(text.contains("polyfeed_fetches_total{result=\"ok\"} 1\n"));
        assert!(text.contains("polyfeed_entries_detected_total{kind=\"new\"} 5\n"));
        assert!(text.contains("polyfeed_queue_depth{state=\"queued\"} 4\n"));
        assert!(text.contains("polyfeed_units_translated_total 7\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("polyfeed_fetch_duration_seconds_count 2\n"));
        assert!(text.contains("polyfeed_node_leases{node=\"db1:42:beef\"} 3\n"));
        assert!(text.ends_with("# EOF\n"));
    }
}
