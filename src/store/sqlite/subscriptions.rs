//! WebSub subscriptions, one per feed.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{Result, Subscription, SubscriptionState, SubscriptionStore};

const COLUMNS: &str = "feed, hub, topic, token, state, lease_seconds, lease_until, requested_at, reason";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        feed: r.get(0)?,
        hub: r.get(1)?,
        topic: r.get(2)?,
        token: r.get(3)?,
        state: SubscriptionState::from_name(&r.get::<_, String>(4)?),
        lease_seconds: r.get(5)?,
        lease_until: r.get(6)?,
        requested_at: r.get(7)?,
        reason: r.get(8)?,
    })
}

impl SubscriptionStore for SqliteStore {
    fn subscriptions(&self) -> Result<Vec<Subscription>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM subscriptions ORDER BY feed"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn subscription(&self, feed: &str) -> Result<Option<Subscription>> {
        Ok(self.conn().query_row(&format!("SELECT {COLUMNS} FROM subscriptions WHERE feed = ?1"), [feed], row).optional()?)
    }

    fn subscription_by_token(&self, token: &str) -> Result<Option<Subscription>> {
        Ok(self.conn().query_row(&format!("SELECT {COLUMNS} FROM subscriptions WHERE token = ?1"), [token], row).optional()?)
    }

    fn put_subscription(&self, s: &Subscription) -> Result<()> {
        self.conn().execute(
            &format!("INSERT OR REPLACE INTO subscriptions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![s.feed, s.hub, s.topic, s.token, s.state.name(), s.lease_seconds, s.lease_until, s.requested_at, s.reason],
        )?;
        Ok(())
    }

    fn drop_subscription(&self, feed: &str) -> Result<()> {
        self.conn().execute("DELETE FROM subscriptions WHERE feed = ?1", [feed])?;
        Ok(())
    }
}
