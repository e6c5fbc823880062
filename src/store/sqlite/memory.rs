//! The translation memory: one row per checked block, stored with the usage that paid for it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::model::now;
use crate::store::{EngineModel, MemoryKey, MemoryRow, MemoryStore, Result, UsageRow};

impl MemoryStore for SqliteStore {
    fn memory_lookup(&self, blocks: &[MemoryKey], lang: &str, engines: &[EngineModel]) -> Result<HashMap<String, String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT translation FROM memory WHERE hash = ?1 AND lang = ?2 AND engine = ?3 AND model = ?4 AND prompt_version = ?5")?;
        let mut found = HashMap::new();
        for block in blocks {
            for e in engines {
                if let Some(t) = stmt.query_row(params![block.hash, lang, e.engine, e.model, block.instructions], |r| r.get::<_, String>(0)).optional()? {
                    found.insert(block.hash.clone(), t);
                    break;
                }
            }
        }
        Ok(found)
    }

    fn claim_units(&self, _lang: &str, blocks: &[MemoryKey]) -> Result<std::collections::HashSet<String>> {
        // One process holds an SQLite store: every block is its own to translate.
        Ok(blocks.iter().map(|b| b.hash.clone()).collect())
    }

    fn release_units(&self, _lang: &str, _blocks: &[MemoryKey]) -> Result<()> {
        Ok(())
    }

    fn batch_tokens(&self, engine: &EngineModel) -> Result<Option<usize>> {
        let conn = self.conn();
        let n: Option<i64> = conn
            .query_row("SELECT batch_tokens FROM engines WHERE engine = ?1 AND model = ?2", params![engine.engine, engine.model], |r| r.get(0))
            .optional()?;
        Ok(n.map(|n| n.max(1) as usize))
    }

    fn set_batch_tokens(&self, engine: &EngineModel, tokens: usize) -> Result<()> {
        self.conn().execute(
            "INSERT INTO engines (engine, model, batch_tokens, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (engine, model) DO UPDATE SET batch_tokens = excluded.batch_tokens, updated_at = excluded.updated_at",
            params![engine.engine, engine.model, tokens as i64, now()],
        )?;
        Ok(())
    }

    fn memory_store(&self, rows: &[MemoryRow], usage: &[UsageRow]) -> Result<()> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for r in rows {
            tx.execute(
                "INSERT OR REPLACE INTO memory (hash, lang, engine, model, prompt_version, source, translation, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.hash, r.lang, r.engine, r.model, r.instructions, r.source, r.translation, t],
            )?;
        }
        for u in usage {
            tx.execute(
                "INSERT INTO usage (day, feed, entry_id, engine, model, requests, prompt_tokens, completion_tokens, cost_usd, estimated, kind, repaired)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (day, feed, entry_id, engine, model, kind) DO UPDATE SET
                    requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = completion_tokens + excluded.completion_tokens, cost_usd = cost_usd + excluded.cost_usd,
                    estimated = max(estimated, excluded.estimated), repaired = repaired + excluded.repaired",
                params![
                    u.day,
                    u.feed,
                    u.entry_id,
                    u.engine,
                    u.model,
                    u.requests as i64,
                    u.prompt_tokens as i64,
                    u.completion_tokens as i64,
                    u.cost_usd,
                    u.estimated,
                    u.kind.name(),
                    u.repaired as i64
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
