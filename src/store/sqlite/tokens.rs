//! Subscriber tokens (digests only); and nodes, which an SQLite store, one process's, has none of.

use rusqlite::params;

use super::SqliteStore;
use crate::model::now;
use crate::store::{NodeInfo, NodeStore, Result, TokenInfo, TokenStore};

impl TokenStore for SqliteStore {
    fn token_hashes(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT hash FROM tokens")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT name, hint, created_at FROM tokens ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok(TokenInfo { name: r.get(0)?, hint: r.get(1)?, created_at: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_token(&self, name: &str, hash: &str, hint: &str) -> Result<bool> {
        let n = self.conn().execute("INSERT OR IGNORE INTO tokens (name, hash, hint, created_at) VALUES (?1, ?2, ?3, ?4)", params![name, hash, hint, now()])?;
        Ok(n == 1)
    }

    fn revoke_token(&self, name: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE name = ?1", [name])? == 1)
    }
}

impl NodeStore for SqliteStore {
    fn this_node(&self) -> String {
        self.node.clone()
    }

    /// An SQLite store is one process's at a time (the cache lock): it shares nothing with nodes.
    fn nodes(&self) -> Result<Vec<NodeInfo>> {
        Ok(Vec::new())
    }
}
