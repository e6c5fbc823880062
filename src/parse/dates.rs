//! Dates as real feeds write them: RFC 3339, RFC 2822, and the departures from both.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A lenient timestamp parser: RFC 3339, RFC 2822 and the dates real feeds write instead.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let fixed = fix_rfc2822(s);
    if let Ok(d) = DateTime::parse_from_rfc2822(&fixed) {
        return Some(d.with_timezone(&Utc));
    }
    const ZONED: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y/%m/%d %H:%M:%S %z",
        "%d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M %z",
        "%a %b %d %H:%M:%S %z %Y",
    ];
    for f in ZONED {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(&fixed, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%a %b %d %H:%M:%S %Y",
    ];
    let no_zone = fixed.trim_end_matches(" +0000").trim_end_matches('Z');
    for f in NAIVE {
        if let Ok(d) = NaiveDateTime::parse_from_str(no_zone, f) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    const DATES: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%d %b %Y", "%b %d %Y", "%d.%m.%Y", "%Y%m%d"];
    for f in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(no_zone, f) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// Repairs the usual departures from RFC 2822: full day and month names, named zones, missing seconds.
fn fix_rfc2822(s: &str) -> String {
    let mut words: Vec<String> = s.replace(',', ", ").split_whitespace().map(str::to_string).collect();
    // Drop a leading weekday, however it is spelled.
    if words.first().is_some_and(|w| w.trim_end_matches(',').chars().all(char::is_alphabetic) && words.len() > 3) {
        let first = words[0].trim_end_matches(',').to_ascii_lowercase();
        if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().any(|d| first.starts_with(d)) {
            words.remove(0);
        }
    }
    for w in &mut words {
        let lower = w.trim_end_matches(['.', ',']).to_ascii_lowercase();
        const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        if lower.len() > 3
            && lower.chars().all(char::is_alphabetic)
            && let Some(m) = MONTHS.iter().find(|m| lower.starts_with(*m))
        {
            let mut c = m.chars();
            *w = c.next().unwrap().to_ascii_uppercase().to_string() + c.as_str();
            continue;
        }
        let zone = match lower.as_str() {
            "ut" | "utc" | "gmt" | "z" | "-0000" => Some("+0000"),
            "est" => Some("-0500"),
            "edt" => Some("-0400"),
            "cst" => Some("-0600"),
            "cdt" => Some("-0500"),
            "mst" => Some("-0700"),
            "mdt" => Some("-0600"),
            "pst" => Some("-0800"),
            "pdt" => Some("-0700"),
            "cet" => Some("+0100"),
            "cest" => Some("+0200"),
            "bst" => Some("+0100"),
            "jst" => Some("+0900"),
            "kst" => Some("+0900"),
            "ist" => Some("+0530"),
            _ => None,
        };
        if let Some(z) = zone {
            *w = z.to_string();
        }
    }
    // Add seconds to a bare HH:MM time.
    for w in &mut words {
        if w.len() <= 5 && w.matches(':').count() == 1 && w.chars().all(|c| c.is_ascii_digit() || c == ':') {
            w.push_str(":00");
        }
    }
    // A zone written +08:00 becomes +0800.
    if let Some(last) = words.last_mut()
        && (last.starts_with('+') || last.starts_with('-'))
        && last.len() == 6
        && last.as_bytes()[3] == b':'
    {
        last.remove(3);
    }
    // No zone at all: UTC.
    let has_zone = words.last().is_some_and(|w| (w.starts_with('+') || w.starts_with('-')) && w.len() == 5);
    if !has_zone && words.iter().any(|w| w.contains(':')) {
        words.push("+0000".into());
    }
    words.join(" ").replace(", ", " ").replace(" ,", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        parse_timestamp(s).map(|d| d.to_rfc3339()).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn timestamps() {
        let cases = [
            ("2024-12-31T18:07:00+00:00", "2024-12-31T18:07:00+00:00"),
            ("2024-12-31T18:07:00Z", "2024-12-31T18:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 GMT", "2024-12-31T18:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 +0800", "2024-12-31T10:07:00+00:00"),
            ("Tuesday, 31 December 2024 18:07:00 GMT", "2024-12-31T18:07:00+00:00"),
            ("31 Dec 2024 18:07 EST", "2024-12-31T23:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 +08:00", "2024-12-31T10:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00", "2024-12-31T18:07:00+00:00"),
            ("2020/1/10 14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10 14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10 14:03:00 +0100", "2020-01-10T13:03:00+00:00"),
            ("2020-01-10T14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10", "2020-01-10T00:00:00+00:00"),
            ("January 10, 2020", "2020-01-10T00:00:00+00:00"),
            ("10.01.2020 14:03", "2020-01-10T14:03:00+00:00"),
            ("", "none"),
            ("yesterday", "none"),
        ];
        for (input, want) in cases {
            assert_eq!(ts(input), want, "input {input:?}");
        }
    }
}
