//! Usage: tokens and money per day, feed, entry and engine.

use rusqlite::params;

use super::SqliteStore;
use crate::store::{DaySpent, Result, Spent, UsageKind, UsageStore};

impl UsageStore for SqliteStore {
    fn usage_since(&self, day: &str, feed: Option<&str>) -> Result<Spent> {
        let conn = self.conn();
        let (tokens, usd): (i64, f64) = conn.query_row(
            "SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0), COALESCE(sum(cost_usd), 0.0) FROM usage
             WHERE day >= ?1 AND (?2 IS NULL OR feed = ?2)",
            params![day, feed],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Spent { tokens: tokens as u64, usd })
    }

    fn usage_by_day(&self, day: &str) -> Result<Vec<DaySpent>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT day, sum(prompt_tokens + completion_tokens), sum(cost_usd) FROM usage WHERE day >= ?1 GROUP BY day ORDER BY day")?;
        let rows = stmt.query_map([day], |r| Ok(DaySpent { day: r.get(0)?, tokens: r.get::<_, i64>(1)? as u64, usd: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn usage_of_kind_since(&self, kind: UsageKind, day: &str) -> Result<Spent> {
        let (tokens, usd): (i64, f64) = self.conn().query_row(
            "SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0), COALESCE(sum(cost_usd), 0.0) FROM usage WHERE day >= ?1 AND kind = ?2",
            params![day, kind.name()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Spent { tokens: tokens as u64, usd })
    }
}
