//! The feeds table, and one fetch of a feed applied whole: its state, its entries and the queue
//! in one transaction.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, entries, queue, to_json};
use crate::detect::{Detection, Known, Verdict};
use crate::model::now;
use crate::store::{Applied, FeedState, FeedStore, FeedSummary, FetchRecord, FetchResult, Result};

impl FeedStore for SqliteStore {
    fn feed_state(&self, feed: &str) -> Result<FeedState> {
        let conn = self.conn();
        let state = conn
            .prepare_cached(
                "SELECT fetch_url, etag, last_modified, body_hash, not_before, failures,
                        EXISTS (SELECT 1 FROM entries WHERE feed = ?1)
                 FROM feeds WHERE name = ?1",
            )?
            .query_row([feed], |r| {
                Ok(FeedState {
                    fetch_url: r.get(0)?,
                    etag: r.get(1)?,
                    last_modified: r.get(2)?,
                    body_hash: r.get(3)?,
                    not_before: r.get(4)?,
                    failures: r.get(5)?,
                    has_entries: r.get(6)?,
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    fn known_entries(&self, feed: &str) -> Result<Vec<Known>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id, key, link_norm, text_hash, gone FROM entries WHERE feed = ?1")?;
        let rows = stmt.query_map([feed], |r| Ok(Known { id: r.get(0)?, key: r.get(1)?, link_norm: r.get(2)?, text_hash: r.get(3)?, gone: r.get(4)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn record_fetch(&self, feed: &str, url: &str, record: &FetchRecord, detection: Option<&Detection>, langs: &[&str]) -> Result<Applied> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO feeds (name, url) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET
                url = excluded.url,
                -- A new configured URL starts afresh: old redirects and validators belong to the old one.
                fetch_url = CASE WHEN feeds.url = excluded.url THEN feeds.fetch_url END,
                etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END,
                last_modified = CASE WHEN feeds.url = excluded.url THEN feeds.last_modified END",
        )?
        .execute(params![feed, url])?;
        let error = match &record.result {
            FetchResult::Failed(reason) | FetchResult::Deferred(reason) => Some(reason.as_str()),
            _ => None,
        };
        let failed = matches!(record.result, FetchResult::Failed(_));
        let fetched = matches!(record.result, FetchResult::Ok | FetchResult::NotModified);
        tx.prepare_cached(
            "UPDATE feeds SET
                last_fetch_at = ?2, last_result = ?3, last_error = ?4,
                failures = CASE WHEN ?5 THEN failures + 1 WHEN ?6 THEN 0 ELSE failures END,
                last_ok_at = CASE WHEN ?6 THEN ?2 ELSE last_ok_at END,
                fetch_url = COALESCE(?7, fetch_url),
                etag = CASE WHEN ?6 THEN COALESCE(?8, etag) ELSE etag END,
                last_modified = CASE WHEN ?6 THEN COALESCE(?9, last_modified) ELSE last_modified END,
                body_hash = COALESCE(?10, body_hash),
                not_before = ?11
             WHERE name = ?1",
        )?
        .execute(params![
            feed,
            t,
            record.result.label(),
            error,
            failed,
            fetched,
            record.fetch_url,
            record.etag,
            record.last_modified,
            record.body_hash,
            record.not_before,
        ])?;
        if let Some(meta) = &record.meta {
            tx.prepare_cached("UPDATE feeds SET title = ?2, site_url = ?3, authors = ?4 WHERE name = ?1")?.execute(params![
                feed,
                meta.title,
                meta.site_url,
                to_json(&meta.authors)
            ])?;
        }

        let mut applied = Applied::default();
        if let Some(detection) = detection {
            for d in &detection.items {
                let id = match d.verdict {
                    Verdict::New => {
                        applied.new += 1;
                        entries::insert(&tx, feed, d, t)?
                    }
                    Verdict::Updated { id } => {
                        applied.updated += 1;
                        entries::update(&tx, id, d, t)?;
                        id
                    }
                    Verdict::Unchanged { id, rekey, reappeared } => {
                        if rekey {
                            tx.prepare_cached("UPDATE entries SET key = ?2, source_id = ?3 WHERE id = ?1")?.execute(params![
                                id,
                                d.entry.key,
                                d.entry.source_id
                            ])?;
                        }
                        if reappeared {
                            tx.prepare_cached("UPDATE entries SET gone = 0, last_seen = ?2 WHERE id = ?1")?.execute(params![id, t])?;
                        }
                        id
                    }
                };
                applied.filtered += d.filtered as usize;
                if d.queue {
                    queue::enqueue(&tx, id, langs, t)?;
                    applied.queued += 1;
                }
            }
            for id in &detection.gone {
                tx.prepare_cached("UPDATE entries SET gone = 1 WHERE id = ?1")?.execute([id])?;
            }
            applied.gone = detection.gone.len();
            if applied.new + applied.updated > 0 {
                tx.prepare_cached("UPDATE feeds SET changed_at = ?2 WHERE name = ?1")?.execute(params![feed, t])?;
            }
        }
        tx.commit()?;
        Ok(applied)
    }

    fn feed_summaries(&self) -> Result<Vec<FeedSummary>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT f.name, f.url, f.fetch_url, f.last_fetch_at, f.last_result, f.last_error, f.failures, f.not_before,
                    f.etag IS NOT NULL, f.last_modified IS NOT NULL,
                    (SELECT count(*) FROM entries e WHERE e.feed = f.name),
                    (SELECT count(*) FROM queue q JOIN entries e ON e.id = q.entry_id
                      WHERE e.feed = f.name AND q.state IN ('queued', 'leased')),
                    (SELECT count(DISTINCT t.entry_id) FROM translations t JOIN entries e ON e.id = t.entry_id WHERE e.feed = f.name AND t.complete = 1),
                    (SELECT count(DISTINCT t.entry_id) FROM translations t JOIN entries e ON e.id = t.entry_id WHERE e.feed = f.name AND t.complete = 0),
                    (SELECT count(*) FROM queue q JOIN entries e ON e.id = q.entry_id WHERE e.feed = f.name AND q.state = 'failed'),
                    (SELECT group_concat(reason, char(10)) FROM (SELECT DISTINCT q.last_error AS reason FROM queue q JOIN entries e ON e.id = q.entry_id
                      WHERE e.feed = f.name AND q.state = 'failed' AND q.last_error IS NOT NULL LIMIT 5)),
                    COALESCE((SELECT sum(prompt_tokens + completion_tokens) FROM usage u WHERE u.feed = f.name), 0),
                    COALESCE((SELECT sum(cost_usd) FROM usage u WHERE u.feed = f.name), 0.0),
                    COALESCE((SELECT sum(repaired) FROM usage u WHERE u.feed = f.name), 0)
             FROM feeds f ORDER BY f.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FeedSummary {
                name: r.get(0)?,
                url: r.get(1)?,
                fetch_url: r.get(2)?,
                last_fetch_at: r.get(3)?,
                last_result: r.get(4)?,
                last_error: r.get(5)?,
                failures: r.get(6)?,
                not_before: r.get(7)?,
                has_etag: r.get(8)?,
                has_last_modified: r.get(9)?,
                entries: r.get::<_, i64>(10)? as u64,
                queued: r.get::<_, i64>(11)? as u64,
                translated: r.get::<_, i64>(12)? as u64,
                partial: r.get::<_, i64>(13)? as u64,
                failed: r.get::<_, i64>(14)? as u64,
                failures_reasons: r.get::<_, Option<String>>(15)?.map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default(),
                tokens: r.get::<_, i64>(16)? as u64,
                cost_usd: r.get(17)?,
                repaired: r.get::<_, i64>(18)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn claim_fetch(&self, _feed: &str, _url: &str, _tick_ms: i64) -> Result<bool> {
        // One process holds an SQLite store (the cache lock): its fetches are its own to decide.
        Ok(true)
    }
}
