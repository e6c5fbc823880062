//! WebSub subscriptions, one per feed, on PostgreSQL.

use super::PgStore;
use crate::store::{Result, Subscription, SubscriptionState, SubscriptionStore};

const COLUMNS: &str = "feed, hub, topic, token, state, lease_seconds, lease_until, requested_at, reason";

fn row(r: &tokio_postgres::Row) -> Subscription {
    Subscription {
        feed: r.get(0),
        hub: r.get(1),
        topic: r.get(2),
        token: r.get(3),
        state: SubscriptionState::from_name(r.get::<_, &str>(4)),
        lease_seconds: r.get(5),
        lease_until: r.get(6),
        requested_at: r.get(7),
        reason: r.get(8),
    }
}

impl SubscriptionStore for PgStore {
    fn subscriptions(&self) -> Result<Vec<Subscription>> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.query(&format!("SELECT {COLUMNS} FROM subscriptions ORDER BY feed"), &[]).await?.iter().map(row).collect())
        })
    }

    fn subscription(&self, feed: &str) -> Result<Option<Subscription>> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.query_opt(&format!("SELECT {COLUMNS} FROM subscriptions WHERE feed = $1"), &[&feed]).await?.as_ref().map(row))
        })
    }

    fn subscription_by_token(&self, token: &str) -> Result<Option<Subscription>> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.query_opt(&format!("SELECT {COLUMNS} FROM subscriptions WHERE token = $1"), &[&token]).await?.as_ref().map(row))
        })
    }

    fn put_subscription(&self, s: &Subscription) -> Result<()> {
        self.run(async {
            let c = self.pool.get().await?;
            c.execute(
                &format!(
                    "INSERT INTO subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (feed) DO UPDATE SET hub = excluded.hub, topic = excluded.topic, token = excluded.token, state = excluded.state,
                        lease_seconds = excluded.lease_seconds, lease_until = excluded.lease_until, requested_at = excluded.requested_at, reason = excluded.reason"
                ),
                &[&s.feed, &s.hub, &s.topic, &s.token, &s.state.name(), &s.lease_seconds, &s.lease_until, &s.requested_at, &s.reason],
            )
            .await?;
            Ok(())
        })
    }

    fn drop_subscription(&self, feed: &str) -> Result<()> {
        self.run(async {
            let c = self.pool.get().await?;
            c.execute("DELETE FROM subscriptions WHERE feed = $1", &[&feed]).await?;
            Ok(())
        })
    }
}
