//! Politeness as small pure decisions: what a status means, how long to wait, which addresses are private.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// What to do with a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// 2xx: read the body.
    Success,
    /// 304: nothing changed.
    NotModified,
    /// 3xx with a Location: follow it. Permanent for 301 and 308.
    Redirect { permanent: bool },
    /// 429, or 503 with a Retry-After: the server asks for time; do not retry in this run.
    RetryLater,
    /// Other 5xx: worth another attempt.
    Transient,
    /// Other 4xx and the rest: another attempt would fail the same way.
    Permanent,
}

pub fn classify(status: u16, has_retry_after: bool) -> Disposition {
    match status {
        200..=299 => Disposition::Success,
        304 => Disposition::NotModified,
        301 | 308 => Disposition::Redirect { permanent: true },
        302 | 303 | 307 => Disposition::Redirect { permanent: false },
        429 => Disposition::RetryLater,
        503 if has_retry_after => Disposition::RetryLater,
        500..=599 => Disposition::Transient,
        _ => Disposition::Permanent,
    }
}

/// Retry-After: a number of seconds or an HTTP date. Capped at a week; a date in the past means now.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    const WEEK: u64 = 7 * 24 * 3600;
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(WEEK)));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    let secs = (when - now).num_seconds().clamp(0, WEEK as i64);
    Some(Duration::from_secs(secs as u64))
}

/// `max-age` from a Cache-Control header (`no-cache`/`no-store` mean none).
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return None;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    age
}

/// Exponential backoff with full jitter: a random wait in [d/2, d] where d = base * 2^attempt, capped.
/// `jitter` is a number in [0, 1).
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX)).min(cap);
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// True for addresses on the public internet; false for loopback, private, link-local, CGNAT,
/// multicast, documentation and unspecified ones (the SSRF guard).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (200, false, Disposition::Success),
            (304, false, Disposition::NotModified),
            (301, false, Disposition::Redirect { permanent: true }),
            (308, false, Disposition::Redirect { permanent: true }),
            (302, false, Disposition::Redirect { permanent: false }),
            (307, false, Disposition::Redirect { permanent: false }),
            (429, false, Disposition::RetryLater),
            (503, true, Disposition::RetryLater),
            (503, false, Disposition::Transient),
            (500, false, Disposition::Transient),
            (404, false, Disposition::Permanent),
            (401, false, Disposition::Permanent),
        ];
        for (status, ra, want) in cases {
            assert_eq!(classify(status, ra), want, "{status}");
        }
    }

    #[test]
    fn retry_after() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z").unwrap().with_timezone(&Utc);
        let cases = [
            ("120", Some(120)),
            (" 3600 ", Some(3600)),
            ("99999999", Some(7 * 24 * 3600)),
            ("Sat, 28 Nov 2026 12:01:30 GMT", Some(90)),
            ("Sat, 28 Nov 2026 11:00:00 GMT", Some(0)),
            ("soon", None),
            ("-5", None),
        ];
        for (v, want) in cases {
            assert_eq!(parse_retry_after(v, now), want.map(Duration::from_secs), "{v}");
        }
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("max-age=60, no-cache"), None);
        assert_eq!(max_age("private"), None);
    }

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(0, base, cap, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(0, base, cap, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(40, base, cap, 1.0), cap);
    }

    #[test]
    fn private_addresses() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
        ];
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip} should be private");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} should be public");
        }
    }
}
