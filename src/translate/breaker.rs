//! A circuit breaker per engine: transient failures pause an engine briefly, then one request
//! probes it (half-open); a success closes the circuit, a failure pauses it for twice as long. A
//! permanent failure (bad key, no quota) stops the engine for the life of the worker.
//!
//! The states are plain values; `Breakers` only adds the clock and a wake-up for the requests
//! waiting on a probe.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The first pause after a transient failure; each failed probe doubles it.
pub const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(300);

/// One engine's circuit.
#[derive(Debug, Clone, PartialEq)]
pub enum Circuit {
    /// Requests flow.
    Closed,
    /// Paused until `until`; then one request probes the engine.
    Open { until: Instant, pause: Duration, why: String },
    /// One probe is in flight; the others wait for its outcome.
    HalfOpen { pause: Duration, why: String },
    /// Stopped for good: retrying cannot help.
    Dead(String),
}

/// What a request may do with an engine now.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Send (as a probe when the circuit was open).
    Go,
    /// Paused until then.
    WaitUntil(Instant, String),
    /// A probe is in flight: wait for its outcome.
    WaitProbe(String),
    /// Stopped for good.
    Down(String),
}

impl Circuit {
    /// The gate for a request at `now`, and the circuit after the request takes it.
    fn enter(&self, now: Instant) -> (Gate, Option<Circuit>) {
        match self {
            Circuit::Closed => (Gate::Go, None),
            Circuit::Open { until, pause, why } if now >= *until => (Gate::Go, Some(Circuit::HalfOpen { pause: *pause, why: why.clone() })),
            Circuit::Open { until, why, .. } => (Gate::WaitUntil(*until, why.clone()), None),
            Circuit::HalfOpen { why, .. } => (Gate::WaitProbe(why.clone()), None),
            Circuit::Dead(why) => (Gate::Down(why.clone()), None),
        }
    }

    /// The circuit after a request failed at `now`.
    fn failed(&self, now: Instant, why: &str, permanent: bool) -> Circuit {
        if permanent {
            return Circuit::Dead(why.to_string());
        }
        let pause = match self {
            Circuit::Closed => FIRST_PAUSE,
            // Another request already opened it: that pause stands.
            Circuit::Open { .. } | Circuit::Dead(_) => return self.clone(),
            Circuit::HalfOpen { pause, .. } => (*pause * 2).min(LONGEST_PAUSE),
        };
        Circuit::Open { until: now + pause, pause, why: why.to_string() }
    }
}

/// The circuits of an engine chain.
pub struct Breakers {
    circuits: Mutex<Vec<Circuit>>,
    changed: Notify,
}

impl Breakers {
    pub fn new(engines: usize) -> Breakers {
        Breakers { circuits: Mutex::new(vec![Circuit::Closed; engines]), changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gate of engine `i` for a request now (taking the probe when one is due).
    pub fn enter(&self, i: usize) -> Gate {
        let mut circuits = self.lock();
        let (gate, next) = circuits[i].enter(Instant::now());
        if let Some(next) = next {
            circuits[i] = next;
        }
        gate
    }

    /// A request that took the gate sent nothing: a probe it took is due again.
    pub fn released(&self, i: usize) {
        let mut circuits = self.lock();
        if let Circuit::HalfOpen { pause, why } = &circuits[i] {
            circuits[i] = Circuit::Open { until: Instant::now(), pause: *pause, why: why.clone() };
            drop(circuits);
            self.changed.notify_waiters();
        }
    }

    /// Why no engine will take a request within `wait`; None when one will.
    pub fn all_down(&self, wait: Duration) -> Option<String> {
        let circuits = self.lock();
        let now = Instant::now();
        let mut reasons = Vec::new();
        for c in circuits.iter() {
            match c {
                Circuit::Closed | Circuit::HalfOpen { .. } => return None,
                Circuit::Open { until, .. } if until.saturating_duration_since(now) <= wait => return None,
                Circuit::Open { why, .. } | Circuit::Dead(why) => reasons.push(why.clone()),
            }
        }
        Some(reasons.join("; "))
    }

    pub fn succeeded(&self, i: usize) {
        let mut circuits = self.lock();
        if circuits[i] != Circuit::Closed && !matches!(circuits[i], Circuit::Dead(_)) {
            circuits[i] = Circuit::Closed;
            drop(circuits);
            self.changed.notify_waiters();
        }
    }

    /// Records a failure of engine `i`; returns its circuit afterwards.
    pub fn failed(&self, i: usize, why: &str, permanent: bool) -> Circuit {
        let mut circuits = self.lock();
        circuits[i] = circuits[i].failed(Instant::now(), why, permanent);
        let now = circuits[i].clone();
        drop(circuits);
        self.changed.notify_waiters();
        now
    }

    /// A request that found no engine ready: waits until `until`, or until a circuit changes.
    pub async fn wait(&self, until: Option<Instant>) {
        let changed = self.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match until {
            Some(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = changed => {}
                }
            }
            None => changed.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circuit_pauses_probes_and_closes() {
        let t0 = Instant::now();
        let open = Circuit::Closed.failed(t0, "500", false);
        assert_eq!(open, Circuit::Open { until: t0 + FIRST_PAUSE, pause: FIRST_PAUSE, why: "500".into() });
        // Paused: requests wait.
        assert_eq!(open.enter(t0).0, Gate::WaitUntil(t0 + FIRST_PAUSE, "500".into()));
        // Due: the first request probes, the others wait for it.
        let (gate, half) = open.enter(t0 + FIRST_PAUSE);
        assert_eq!(gate, Gate::Go);
        let half = half.unwrap();
        assert_eq!(half.enter(t0 + FIRST_PAUSE).0, Gate::WaitProbe("500".into()));
        // A failed probe doubles the pause.
        let t1 = t0 + FIRST_PAUSE;
        assert_eq!(half.failed(t1, "429", false), Circuit::Open { until: t1 + FIRST_PAUSE * 2, pause: FIRST_PAUSE * 2, why: "429".into() });
        // Another failure while open does not extend it; a permanent one kills it.
        assert_eq!(open.failed(t0, "again", false), open);
        assert_eq!(open.failed(t0, "401", true), Circuit::Dead("401".into()));
        assert_eq!(Circuit::Dead("401".into()).enter(t0).0, Gate::Down("401".into()));
    }

    #[test]
    fn pauses_stop_growing() {
        let mut c = Circuit::HalfOpen { pause: LONGEST_PAUSE, why: String::new() };
        c = c.failed(Instant::now(), "x", false);
        assert!(matches!(c, Circuit::Open { pause, .. } if pause == LONGEST_PAUSE));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_wake_when_a_probe_succeeds() {
        let b = std::sync::Arc::new(Breakers::new(1));
        b.failed(0, "500", false);
        tokio::time::advance(FIRST_PAUSE).await;
        assert_eq!(b.enter(0), Gate::Go);
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                loop {
                    match b.enter(0) {
                        Gate::Go => return true,
                        Gate::WaitProbe(_) => b.wait(None).await,
                        other => panic!("{other:?}"),
                    }
                }
            })
        };
        tokio::task::yield_now().await;
        b.succeeded(0);
        assert!(waiter.await.unwrap());
    }
}
