//! The translation memory, usage and what engines handle, on PostgreSQL: one memory for every
//! node, so nothing one node paid for is paid again by another; budgets read the usage all nodes
//! wrote.

use std::collections::HashMap;

use super::PgStore;
use crate::model::now;
use crate::store::{DaySpent, EngineModel, MemoryKey, MemoryRow, MemoryStore, Result, Spent, UsageKind, UsageRow, UsageStore};

impl MemoryStore for PgStore {
    fn memory_lookup(&self, blocks: &[MemoryKey], lang: &str, engines: &[EngineModel]) -> Result<HashMap<String, String>> {
        self.run(async {
            let c = self.pool.get().await?;
            let hashes: Vec<&str> = blocks.iter().map(|b| b.hash.as_str()).collect();
            let rows =
                c.query("SELECT hash, prompt_version, engine, model, translation FROM memory WHERE lang = $1 AND hash = ANY($2)", &[&lang, &hashes]).await?;
            // The first engine of the chain that has a block under the same instructions wins.
            let mut found: HashMap<String, (usize, String)> = HashMap::new();
            for r in rows {
                let (hash, instructions, engine, model, translation): (String, i64, String, String, String) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                if !blocks.iter().any(|b| b.hash == hash && b.instructions == instructions) {
                    continue;
                }
                let Some(rank) = engines.iter().position(|e| e.engine == engine && e.model == model) else { continue };
                if found.get(&hash).is_none_or(|(r, _)| rank < *r) {
                    found.insert(hash, (rank, translation));
                }
            }
            Ok(found.into_iter().map(|(h, (_, t))| (h, t)).collect())
        })
    }

    fn memory_store(&self, rows: &[MemoryRow], usage: &[UsageRow]) -> Result<()> {
        self.run(async {
            let t = now();
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            for r in rows {
                tx.execute(
                    "INSERT INTO memory (hash, lang, engine, model, prompt_version, source, translation, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (hash, lang, engine, model, prompt_version) DO UPDATE SET
                        source = excluded.source, translation = excluded.translation, created_at = excluded.created_at",
                    &[&r.hash, &r.lang, &r.engine, &r.model, &r.instructions, &r.source, &r.translation, &t],
                )
                .await?;
            }
            for u in usage {
                tx.execute(
                    "INSERT INTO usage (day, feed, entry_id, engine, model, requests, prompt_tokens, completion_tokens, cost_usd, estimated, kind, repaired)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (day, feed, entry_id, engine, model, kind) DO UPDATE SET
                        requests = usage.requests + excluded.requests, prompt_tokens = usage.prompt_tokens + excluded.prompt_tokens,
                        completion_tokens = usage.completion_tokens + excluded.completion_tokens, cost_usd = usage.cost_usd + excluded.cost_usd,
                        estimated = usage.estimated OR excluded.estimated, repaired = usage.repaired + excluded.repaired",
                    &[
                        &u.day,
                        &u.feed,
                        &u.entry_id,
                        &u.engine,
                        &u.model,
                        &(u.requests as i64),
                        &(u.prompt_tokens as i64),
                        &(u.completion_tokens as i64),
                        &u.cost_usd,
                        &u.estimated,
                        &u.kind.name(),
                        &(u.repaired as i64),
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn claim_units(&self, lang: &str, blocks: &[MemoryKey]) -> Result<std::collections::HashSet<String>> {
        if blocks.is_empty() {
            return Ok(Default::default());
        }
        self.run(async {
            let c = self.pool.get().await?;
            let hashes: Vec<&str> = blocks.iter().map(|b| b.hash.as_str()).collect();
            let keys: Vec<i64> = blocks.iter().map(|b| b.instructions).collect();
            let t = now();
            let rows = c
                .query(
                    "INSERT INTO unit_claims (hash, lang, prompt_version, node, until)
                     SELECT DISTINCT h, $3::TEXT, k, $4::TEXT, $5::BIGINT FROM unnest($1::TEXT[], $2::BIGINT[]) AS u(h, k)
                     ON CONFLICT (hash, lang, prompt_version) DO UPDATE SET node = excluded.node, until = excluded.until
                        WHERE unit_claims.until < $6 OR unit_claims.node = excluded.node
                     RETURNING hash",
                    &[&hashes, &keys, &lang, &self.node, &(t + self.lease_secs), &t],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn release_units(&self, lang: &str, blocks: &[MemoryKey]) -> Result<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        self.run(async {
            let c = self.pool.get().await?;
            let hashes: Vec<&str> = blocks.iter().map(|b| b.hash.as_str()).collect();
            c.execute("DELETE FROM unit_claims WHERE lang = $1 AND node = $2 AND hash = ANY($3)", &[&lang, &self.node, &hashes]).await?;
            Ok(())
        })
    }

    fn batch_tokens(&self, engine: &EngineModel) -> Result<Option<usize>> {
        self.run(async {
            let c = self.pool.get().await?;
            let row = c.query_opt("SELECT batch_tokens FROM engines WHERE engine = $1 AND model = $2", &[&engine.engine, &engine.model]).await?;
            Ok(row.map(|r| r.get::<_, i64>(0).max(1) as usize))
        })
    }

    fn set_batch_tokens(&self, engine: &EngineModel, tokens: usize) -> Result<()> {
        self.run(async {
            let c = self.pool.get().await?;
            c.execute(
                "INSERT INTO engines (engine, model, batch_tokens, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (engine, model) DO UPDATE SET batch_tokens = excluded.batch_tokens, updated_at = excluded.updated_at",
                &[&engine.engine, &engine.model, &(tokens as i64), &now()],
            )
            .await?;
            Ok(())
        })
    }
}

impl UsageStore for PgStore {
    fn usage_since(&self, day: &str, feed: Option<&str>) -> Result<Spent> {
        self.run(async {
            let c = self.pool.get().await?;
            let r = c
                .query_one(
                    "SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0)::BIGINT, COALESCE(sum(cost_usd), 0.0)::DOUBLE PRECISION FROM usage
                     WHERE day >= $1 AND ($2::TEXT IS NULL OR feed = $2)",
                    &[&day, &feed],
                )
                .await?;
            Ok(Spent { tokens: r.get::<_, i64>(0) as u64, usd: r.get(1) })
        })
    }

    fn usage_by_day(&self, day: &str) -> Result<Vec<DaySpent>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT day, sum(prompt_tokens + completion_tokens)::BIGINT, sum(cost_usd)::DOUBLE PRECISION FROM usage WHERE day >= $1 GROUP BY day ORDER BY day",
                    &[&day],
                )
                .await?;
            Ok(rows.iter().map(|r| DaySpent { day: r.get(0), tokens: r.get::<_, i64>(1) as u64, usd: r.get(2) }).collect())
        })
    }

    fn usage_of_kind_since(&self, kind: UsageKind, day: &str) -> Result<Spent> {
        self.run(async {
            let c = self.pool.get().await?;
            let r = c
                .query_one(
                    "SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0)::BIGINT, COALESCE(sum(cost_usd), 0.0)::DOUBLE PRECISION FROM usage
                     WHERE day >= $1 AND kind = $2",
                    &[&day, &kind.name()],
                )
                .await?;
            Ok(Spent { tokens: r.get::<_, i64>(0) as u64, usd: r.get(1) })
        })
    }
}
