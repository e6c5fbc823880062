//! Subscriber tokens (digests only) and the nodes sharing the store, on PostgreSQL.

use super::PgStore;
use crate::model::now;
use crate::store::{NodeInfo, NodeStore, Result, TokenInfo, TokenStore};

impl TokenStore for PgStore {
    fn token_hashes(&self) -> Result<Vec<String>> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.query("SELECT hash FROM tokens", &[]).await?.iter().map(|r| r.get(0)).collect())
        })
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c.query("SELECT name, hint, created_at FROM tokens ORDER BY name", &[]).await?;
            Ok(rows.iter().map(|r| TokenInfo { name: r.get(0), hint: r.get(1), created_at: r.get(2) }).collect())
        })
    }

    fn add_token(&self, name: &str, hash: &str, hint: &str) -> Result<bool> {
        self.run(async {
            let c = self.pool.get().await?;
            let n = c
                .execute("INSERT INTO tokens (name, hash, hint, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", &[&name, &hash, &hint, &now()])
                .await?;
            Ok(n == 1)
        })
    }

    fn revoke_token(&self, name: &str) -> Result<bool> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.execute("DELETE FROM tokens WHERE name = $1", &[&name]).await? == 1)
        })
    }
}

impl NodeStore for PgStore {
    fn this_node(&self) -> String {
        self.node.clone()
    }

    fn nodes(&self) -> Result<Vec<NodeInfo>> {
        self.run(async {
            let c = self.pool.get().await?;
            let t = now();
            let rows = c
                .query(
                    "SELECT n.name, n.started_at, n.last_seen,
                            (SELECT count(*) FROM queue q WHERE q.state = 'leased' AND q.leased_by = n.name AND q.lease_until >= $1),
                            (SELECT count(*) FROM feeds f WHERE f.claimed_by = n.name)
                     FROM nodes n WHERE n.last_seen >= $2 ORDER BY n.name",
                    &[&t, &(t - 24 * 3600)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| NodeInfo {
                    name: r.get(0),
                    started_at: r.get(1),
                    last_seen: r.get(2),
                    alive: r.get::<_, i64>(2) >= t - self.lease_secs,
                    leases: r.get::<_, i64>(3) as u64,
                    feeds: r.get::<_, i64>(4) as u64,
                })
                .collect())
        })
    }
}
