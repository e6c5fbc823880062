//! When each feed is fetched next. Pure.
//!
//! The cron schedule (in the configured time zone), plus a small jitter so feeds on one host are
//! not hit in the same second; after failures the interval grows, capped; a server's Retry-After,
//! ttl or max-age (`not_before`) is never undercut.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest a failing feed is left alone.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// The largest jitter added to a scheduled time.
pub const MAX_JITTER: Duration = Duration::from_secs(60);

/// The next fetch of a feed after `now`. `failures` counts consecutive failures; `jitter` is a
/// number in [0, 1) (a tenth of the interval at most, and never more than MAX_JITTER).
pub fn next_run(schedule: &cron::Schedule, tz: chrono_tz::Tz, now: DateTime<Utc>, failures: u32, not_before: Option<i64>, jitter: f64) -> DateTime<Utc> {
    let (first, interval) = upcoming(schedule, tz, now);

    let jitter = interval.mul_f64(0.1 * jitter.clamp(0.0, 1.0)).min(MAX_JITTER);
    let mut next = first + chrono::Duration::from_std(jitter).unwrap_or_default();
    if failures > 0 {
        // 2, 4, 8... intervals after the failure, capped.
        let backoff = interval.saturating_mul(1u32.checked_shl(failures.min(20)).unwrap_or(u32::MAX)).min(MAX_BACKOFF.max(interval));
        next = next.max(now + chrono::Duration::from_std(backoff).unwrap_or_default());
    }
    if let Some(nb) = not_before.and_then(|t| DateTime::from_timestamp(t, 0)) {
        next = next.max(nb);
    }
    next
}

/// The schedule's next tick after `now`, and the interval from it to the one after (at least a second).
fn upcoming(schedule: &cron::Schedule, tz: chrono_tz::Tz, now: DateTime<Utc>) -> (DateTime<Utc>, Duration) {
    let local = now.with_timezone(&tz);
    let mut upcoming = schedule.after(&local);
    let first = upcoming.next().map(|d| d.with_timezone(&Utc)).unwrap_or(now + chrono::Duration::hours(24));
    let second = upcoming.next().map(|d| d.with_timezone(&Utc)).unwrap_or(first + chrono::Duration::hours(24));
    (first, (second - first).to_std().unwrap_or(Duration::from_secs(60)).max(Duration::from_secs(1)))
}

/// The tick of the schedule a fetch at `now` belongs to: the last scheduled time at or before it
/// (a fetch runs a little after its tick, by the jitter, or later on a loaded machine). Processes
/// sharing a store claim a feed by its tick, so each tick is fetched once between them however
/// late one of them is, and a process late by more than an interval claims the later tick.
pub fn current_tick(schedule: &cron::Schedule, tz: chrono_tz::Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let (next, interval) = upcoming(schedule, tz, now);
    // Ticks from a little more than two intervals back; the last one not after `now`.
    let lookback = chrono::Duration::from_std(interval.saturating_mul(2) + Duration::from_secs(1)).unwrap_or(chrono::Duration::days(1));
    let from = (now - lookback).with_timezone(&tz);
    schedule.after(&from).map(|d| d.with_timezone(&Utc)).take_while(|d| *d <= now).last().unwrap_or(next - lookback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cron;

    #[test]
    fn a_fetch_belongs_to_the_tick_before_it() {
        let every_second = parse_cron("* * * * * *").unwrap();
        let half_hour = parse_cron("*/30 * * * *").unwrap();
        let twice_a_day = parse_cron("0 9,17 * * *").unwrap();
        let utc = chrono_tz::UTC;
        // (schedule, now, tick)
        let cases = [
            (&every_second, "2026-12-01T10:00:00.050Z", "2026-12-01T10:00:00Z"),
            (&every_second, "2026-12-01T10:00:00.990Z", "2026-12-01T10:00:00Z"),
            (&every_second, "2026-12-01T10:00:01Z", "2026-12-01T10:00:01Z"),
            (&half_hour, "2026-12-01T10:02:59Z", "2026-12-01T10:00:00Z"),
            (&half_hour, "2026-12-01T10:31:00Z", "2026-12-01T10:30:00Z"),
            (&twice_a_day, "2026-12-01T09:04:00Z", "2026-12-01T09:00:00Z"),
            (&twice_a_day, "2026-12-01T23:00:00Z", "2026-12-01T17:00:00Z"),
        ];
        for (schedule, now, want) in cases {
            assert_eq!(current_tick(schedule, utc, at(now)), at(want), "{now}");
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cron_in_the_configured_time_zone() {
        // "At 08:00" in Shanghai is 00:00 UTC.
        let daily = parse_cron("0 8 * * *").unwrap();
        let next = next_run(&daily, chrono_tz::Asia::Shanghai, at("2026-11-28T12:00:00Z"), 0, None, 0.0);
        assert_eq!(next, at("2026-11-29T00:00:00Z"));
    }

    #[test]
    fn jitter_is_small_and_bounded() {
        let every_30 = parse_cron("*/30 * * * *").unwrap();
        let now = at("2026-11-28T12:10:00Z");
        assert_eq!(next_run(&every_30, chrono_tz::UTC, now, 0, None, 0.0), at("2026-11-28T12:30:00Z"));
        // A tenth of 30 minutes is 3 minutes, capped at one minute.
        assert_eq!(next_run(&every_30, chrono_tz::UTC, now, 0, None, 0.999_999), at("2026-11-28T12:31:00Z"));
        let every_second = parse_cron("* * * * * *").unwrap();
        let n = next_run(&every_second, chrono_tz::UTC, now, 0, None, 0.5);
        assert_eq!(n, at("2026-11-28T12:10:01.050Z"));
    }

    #[test]
    fn failures_back_off_and_recover() {
        let every_30 = parse_cron("*/30 * * * *").unwrap();
        let now = at("2026-11-28T12:00:00Z");
        let after = |failures| next_run(&every_30, chrono_tz::UTC, now, failures, None, 0.0);
        assert_eq!(after(0), at("2026-11-28T12:30:00Z"));
        assert_eq!(after(1), at("2026-11-28T13:00:00Z"));
        assert_eq!(after(2), at("2026-11-28T14:00:00Z"));
        assert_eq!(after(3), at("2026-11-28T16:00:00Z"));
        assert_eq!(after(10), at("2026-11-28T18:00:00Z"), "capped at six hours");
    }

    #[test]
    fn retry_after_and_cache_lifetimes_are_respected() {
        let every_minute = parse_cron("* * * * *").unwrap();
        let now = at("2026-11-28T12:00:00Z");
        let later = at("2026-11-28T13:00:00Z").timestamp();
        assert_eq!(next_run(&every_minute, chrono_tz::UTC, now, 0, Some(later), 0.0), at("2026-11-28T13:00:00Z"));
        let past = at("2026-11-28T11:00:00Z").timestamp();
        assert_eq!(next_run(&every_minute, chrono_tz::UTC, now, 0, Some(past), 0.0), at("2026-11-28T12:01:00Z"));
    }
}
