//! Budgets and the bill of a request: pure decisions over what was spent, no I/O. The worker reads
//! what was spent from the store once a day (and once per feed), then keeps the tally here.

use std::collections::HashMap;

use crate::store::Spent;

/// A budget's limits; either may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub tokens_per_day: Option<u64>,
    pub usd_per_month: Option<f64>,
}

/// Which limit is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exceeded {
    TokensPerDay(u64),
    UsdPerMonth(f64),
}

impl Exceeded {
    /// Says so, of the whole translator (`feed` None) or of one feed.
    pub fn reason(&self, feed: Option<&str>) -> String {
        let of = feed.map(|f| format!(" of feed {f}")).unwrap_or_default();
        match self {
            Exceeded::TokensPerDay(limit) => format!("the daily token budget{of} ({limit} tokens) is spent"),
            Exceeded::UsdPerMonth(limit) => format!("the monthly budget{of} (${limit:.2}) is spent"),
        }
    }
}

/// The limit reached by `today`'s tokens and this `month`'s dollars, if any (the monthly one
/// first: it lasts longer).
pub fn exceeded(limits: &Limits, today: Spent, month: Spent) -> Option<Exceeded> {
    if let Some(limit) = limits.usd_per_month.filter(|l| month.usd >= *l) {
        return Some(Exceeded::UsdPerMonth(limit));
    }
    limits.tokens_per_day.filter(|l| today.tokens >= *l).map(Exceeded::TokensPerDay)
}

/// The first day of the month of `day` (YYYY-MM-DD).
pub fn month_of(day: &str) -> String {
    format!("{}-01", &day[..day.len().min(7)])
}

/// What one request used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bill {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub usd: f64,
}

/// Splits a request's bill over the entries of its batch by their share of the source (`sizes`,
/// one per entry, in bytes). The last entry takes what rounding left, so the parts add up to the
/// whole exactly: nothing is billed twice or lost.
pub fn split(bill: Bill, sizes: &[usize]) -> Vec<Bill> {
    let total: usize = sizes.iter().map(|s| (*s).max(1)).sum();
    let mut left = bill;
    sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            if i + 1 == sizes.len() {
                return left;
            }
            let f = (*size).max(1) as f64 / total as f64;
            let part = Bill {
                prompt_tokens: ((bill.prompt_tokens as f64 * f) as u64).min(left.prompt_tokens),
                completion_tokens: ((bill.completion_tokens as f64 * f) as u64).min(left.completion_tokens),
                usd: bill.usd * f,
            };
            left.prompt_tokens -= part.prompt_tokens;
            left.completion_tokens -= part.completion_tokens;
            left.usd -= part.usd;
            part
        })
        .collect()
}

/// What was spent today and this month, overall and per feed, as far as this worker knows: loaded
/// from the store for `day`, then counted as requests are paid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// The day the ledger is for (YYYY-MM-DD); a new day needs a new ledger.
    pub day: String,
    pub today: Spent,
    pub month: Spent,
    /// Per feed: (today, this month), once loaded.
    pub feeds: HashMap<String, (Spent, Spent)>,
}

impl Ledger {
    pub fn new(day: &str, today: Spent, month: Spent) -> Ledger {
        Ledger { day: day.to_string(), today, month, feeds: HashMap::new() }
    }

    /// Counts a paid part of a request, for the whole and for its feed (when the feed is loaded).
    pub fn pay(&mut self, feed: &str, bill: &Bill) {
        let tokens = bill.prompt_tokens + bill.completion_tokens;
        for spent in [&mut self.today, &mut self.month] {
            spent.tokens += tokens;
            spent.usd += bill.usd;
        }
        if let Some((today, month)) = self.feeds.get_mut(feed) {
            for spent in [today, month] {
                spent.tokens += tokens;
                spent.usd += bill.usd;
            }
        }
    }
}

/// The source tokens per request an engine is given next, after a batch of `sent` blocks and
/// `size` source tokens of which `failed` came back missing, cut, invented or rejected by the
/// checks: half that size when more than half failed (a small model that loses its way in long
/// requests gets shorter ones); a quarter more when none did and the batch was about as long as
/// allowed (a short batch that went well proves nothing about longer ones); else as it was, and
/// never over `configured`. A single block says nothing about batches. At least 1 (then every
/// block travels alone).
pub fn next_batch_tokens(current: usize, configured: usize, sent: usize, size: usize, failed: usize) -> usize {
    let next = if sent <= 1 {
        current
    } else if failed * 2 > sent {
        current.min(size) / 2
    } else if failed == 0 && size * 4 >= current * 3 {
        current + (current / 4).max(1)
    } else {
        current
    };
    next.clamp(1, configured.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(tokens: u64, usd: f64) -> Spent {
        Spent { tokens, usd }
    }

    #[test]
    fn limits_are_reached_at_their_value() {
        let both = Limits { tokens_per_day: Some(1000), usd_per_month: Some(5.0) };
        let cases: &[(Limits, Spent, Spent, Option<Exceeded>)] = &[
            (Limits::default(), spent(u64::MAX, 0.0), spent(0, 1e9), None),
            (both, spent(999, 0.0), spent(999, 4.99), None),
            (both, spent(1000, 0.0), spent(1000, 0.0), Some(Exceeded::TokensPerDay(1000))),
            (both, spent(0, 0.0), spent(0, 5.0), Some(Exceeded::UsdPerMonth(5.0))),
            // Both reached: the monthly one is said, it lasts longer.
            (both, spent(5000, 0.0), spent(5000, 7.0), Some(Exceeded::UsdPerMonth(5.0))),
            (Limits { tokens_per_day: None, usd_per_month: Some(0.0) }, spent(0, 0.0), spent(0, 0.0), Some(Exceeded::UsdPerMonth(0.0))),
        ];
        for (limits, today, month, want) in cases {
            assert_eq!(exceeded(limits, *today, *month), *want, "{limits:?} {today:?} {month:?}");
        }
    }

    #[test]
    fn reasons_name_the_limit_and_the_feed() {
        assert_eq!(Exceeded::TokensPerDay(500).reason(None), "the daily token budget (500 tokens) is spent");
        assert_eq!(Exceeded::UsdPerMonth(2.5).reason(Some("simon")), "the monthly budget of feed simon ($2.50) is spent");
    }

    #[test]
    fn months_start_on_the_first() {
        assert_eq!(month_of("2026-12-01"), "2026-12-01");
        assert_eq!(month_of("2026-02-28"), "2026-02-01");
    }

    #[test]
    fn a_bill_splits_by_source_size_and_adds_up() {
        let bill = Bill { prompt_tokens: 1001, completion_tokens: 333, usd: 0.01 };
        // (entries' source sizes, their (prompt, completion) tokens)
        type Case<'a> = (&'a [usize], &'a [(u64, u64)]);
        let cases: &[Case] = &[
            (&[100], &[(1001, 333)]),
            (&[100, 100], &[(500, 166), (501, 167)]),
            (&[300, 100], &[(750, 249), (251, 84)]),
            // An empty block still counts as one byte: nobody rides free.
            (&[0, 0, 0], &[(333, 111), (333, 111), (335, 111)]),
        ];
        for (sizes, want) in cases {
            let parts = split(bill, sizes);
            let got: Vec<(u64, u64)> = parts.iter().map(|b| (b.prompt_tokens, b.completion_tokens)).collect();
            assert_eq!(&got, want, "{sizes:?}");
            assert_eq!(parts.iter().map(|b| b.prompt_tokens).sum::<u64>(), bill.prompt_tokens);
            assert_eq!(parts.iter().map(|b| b.completion_tokens).sum::<u64>(), bill.completion_tokens);
            assert!((parts.iter().map(|b| b.usd).sum::<f64>() - bill.usd).abs() < 1e-12);
        }
    }

    #[test]
    fn batches_shrink_for_an_engine_that_fails_them_and_grow_back() {
        // (current, sent, size, failed) -> next, configured 1500
        let cases = [
            (1500, 10, 1400, 6, 700),
            (1500, 10, 1400, 5, 1500),
            (1500, 10, 1400, 0, 1500),
            (750, 10, 700, 0, 937),
            // A short batch that went well proves nothing; one that failed says how long is too long.
            (750, 3, 200, 0, 750),
            (1500, 3, 600, 3, 300),
            (750, 1, 700, 1, 750),
            (1, 2, 80, 2, 1),
            (3, 3, 90, 3, 1),
            (100, 4, 100, 1, 100),
        ];
        for (current, sent, size, failed, want) in cases {
            assert_eq!(next_batch_tokens(current, 1500, sent, size, failed), want, "{current} {sent} {size} {failed}");
        }
        // Failing full batches reaches single blocks in a handful of runs, and good ones bring it back.
        let mut t = 1500;
        for _ in 0..11 {
            t = next_batch_tokens(t, 1500, 8, t, 8);
        }
        assert_eq!(t, 1);
        let mut rounds = 0;
        while t < 1500 {
            t = next_batch_tokens(t, 1500, 8, t, 0);
            rounds += 1;
        }
        assert!(rounds < 40, "{rounds}");
    }

    #[test]
    fn the_ledger_counts_the_whole_and_loaded_feeds() {
        let mut l = Ledger::new("2026-12-01", spent(10, 0.0), spent(100, 1.0));
        l.feeds.insert("a".into(), (spent(0, 0.0), spent(5, 0.5)));
        let bill = Bill { prompt_tokens: 3, completion_tokens: 2, usd: 0.25 };
        l.pay("a", &bill);
        l.pay("b", &bill);
        assert_eq!((l.today, l.month), (spent(20, 0.5), spent(110, 1.5)));
        assert_eq!(l.feeds["a"], (spent(5, 0.25), spent(10, 0.75)));
        assert!(!l.feeds.contains_key("b"), "a feed not loaded yet is loaded from the store when first judged");
    }
}
