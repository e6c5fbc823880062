//! Requests-per-minute and tokens-per-minute limits of an engine, over a sliding minute.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    rpm: Option<u32>,
    tpm: Option<u32>,
    window: Mutex<VecDeque<(Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> RateLimiter {
        RateLimiter { rpm, tpm, window: Mutex::new(VecDeque::new()) }
    }

    /// Waits until a request of `tokens` fits in the last minute's limits, then counts it.
    pub async fn acquire(&self, tokens: u32) {
        loop {
            let wait = {
                let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                while w.front().is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW) {
                    w.pop_front();
                }
                match wait_time(&w, now, self.rpm, self.tpm, tokens) {
                    None => {
                        w.push_back((now, tokens));
                        return;
                    }
                    Some(d) => d,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// How long until a request of `tokens` fits, given the requests of the last minute; None: now.
/// A request larger than the whole token limit goes alone, when the window is empty.
pub fn wait_time(window: &VecDeque<(Instant, u32)>, now: Instant, rpm: Option<u32>, tpm: Option<u32>, tokens: u32) -> Option<Duration> {
    let requests_ok = rpm.is_none_or(|r| window.len() < r as usize);
    let used: u64 = window.iter().map(|(_, t)| *t as u64).sum();
    let tokens_ok = tpm.is_none_or(|limit| window.is_empty() || used + tokens as u64 <= limit as u64);
    if requests_ok && tokens_ok {
        return None;
    }
    let oldest = window.front().map(|(t, _)| *t)?;
    Some((oldest + WINDOW).saturating_duration_since(now).max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_oldest_request_to_leave_the_window() {
        let now = Instant::now();
        let mut w = VecDeque::new();
        assert_eq!(wait_time(&w, now, Some(2), None, 10), None);
        w.push_back((now - Duration::from_secs(50), 10));
        w.push_back((now - Duration::from_secs(10), 10));
        assert_eq!(wait_time(&w, now, Some(2), None, 10), Some(Duration::from_secs(10)));
        assert_eq!(wait_time(&w, now, Some(3), Some(25), 10), Some(Duration::from_secs(10)));
        assert_eq!(wait_time(&w, now, Some(3), Some(30), 10), None);
        assert_eq!(wait_time(&VecDeque::new(), now, None, Some(5), 100), None, "an oversized request goes alone");
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_spaces_requests_under_the_limit() {
        let limiter = RateLimiter::new(Some(2), None);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(1).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
