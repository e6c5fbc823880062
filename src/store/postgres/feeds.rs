//! Feeds and their entries on PostgreSQL: one fetch applied whole (the feed's state, its entries
//! and the queue in one transaction), and the claim that makes a feed fetched once per tick
//! across nodes.

use tokio_postgres::Transaction;

use super::{PgStore, from_json, to_json};
use crate::detect::{Detected, Detection, Known, Verdict};
use crate::model::now;
use crate::store::{Applied, FeedState, FeedStore, FeedSummary, FetchRecord, FetchResult, Result};

impl FeedStore for PgStore {
    fn feed_state(&self, feed: &str) -> Result<FeedState> {
        self.run(async {
            let c = self.pool.get().await?;
            let row = c
                .query_opt(
                    "SELECT fetch_url, etag, last_modified, body_hash, not_before, failures,
                            EXISTS (SELECT 1 FROM entries WHERE feed = $1)
                     FROM feeds WHERE name = $1",
                    &[&feed],
                )
                .await?;
            Ok(row
                .map(|r| FeedState {
                    fetch_url: r.get(0),
                    etag: r.get(1),
                    last_modified: r.get(2),
                    body_hash: r.get(3),
                    not_before: r.get(4),
                    failures: r.get::<_, i64>(5) as u32,
                    has_entries: r.get(6),
                })
                .unwrap_or_default())
        })
    }

    fn known_entries(&self, feed: &str) -> Result<Vec<Known>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c.query("SELECT id, key, link_norm, text_hash, gone FROM entries WHERE feed = $1", &[&feed]).await?;
            Ok(rows.iter().map(|r| Known { id: r.get(0), key: r.get(1), link_norm: r.get(2), text_hash: r.get(3), gone: r.get(4) }).collect())
        })
    }

    fn record_fetch(&self, feed: &str, url: &str, record: &FetchRecord, detection: Option<&Detection>, langs: &[&str]) -> Result<Applied> {
        self.run(async {
            let t = now();
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "INSERT INTO feeds (name, url) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET
                    url = excluded.url,
                    fetch_url = CASE WHEN feeds.url = excluded.url THEN feeds.fetch_url END,
                    etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END,
                    last_modified = CASE WHEN feeds.url = excluded.url THEN feeds.last_modified END",
                &[&feed, &url],
            )
            .await?;
            let error = match &record.result {
                FetchResult::Failed(reason) | FetchResult::Deferred(reason) => Some(reason.as_str()),
                _ => None,
            };
            let failed = matches!(record.result, FetchResult::Failed(_));
            let fetched = matches!(record.result, FetchResult::Ok | FetchResult::NotModified);
            tx.execute(
                "UPDATE feeds SET
                    last_fetch_at = $2, last_result = $3, last_error = $4,
                    failures = CASE WHEN $5 THEN failures + 1 WHEN $6 THEN 0 ELSE failures END,
                    last_ok_at = CASE WHEN $6 THEN $2 ELSE last_ok_at END,
                    fetch_url = COALESCE($7, fetch_url),
                    etag = CASE WHEN $6 THEN COALESCE($8, etag) ELSE etag END,
                    last_modified = CASE WHEN $6 THEN COALESCE($9, last_modified) ELSE last_modified END,
                    body_hash = COALESCE($10, body_hash),
                    not_before = $11
                 WHERE name = $1",
                &[
                    &feed,
                    &t,
                    &record.result.label(),
                    &error,
                    &failed,
                    &fetched,
                    &record.fetch_url,
                    &record.etag,
                    &record.last_modified,
                    &record.body_hash,
                    &record.not_before,
                ],
            )
            .await?;
            if let Some(meta) = &record.meta {
                tx.execute(
                    "UPDATE feeds SET title = $2, site_url = $3, authors = $4 WHERE name = $1",
                    &[&feed, &meta.title, &meta.site_url, &to_json(&meta.authors)],
                )
                .await?;
            }
            let mut applied = Applied::default();
            if let Some(detection) = detection {
                for d in &detection.items {
                    let id = match d.verdict {
                        Verdict::New => match insert_entry(&tx, feed, d, t).await? {
                            Some(id) => {
                                applied.new += 1;
                                id
                            }
                            // Another node's fetch of the same feed recorded it first: it is not new.
                            None => continue,
                        },
                        Verdict::Updated { id } => {
                            applied.updated += 1;
                            update_entry(&tx, id, d, t).await?;
                            id
                        }
                        Verdict::Unchanged { id, rekey, reappeared } => {
                            if rekey {
                                tx.execute("UPDATE entries SET key = $2, source_id = $3 WHERE id = $1", &[&id, &d.entry.key, &d.entry.source_id]).await?;
                            }
                            if reappeared {
                                tx.execute("UPDATE entries SET gone = FALSE, last_seen = $2 WHERE id = $1", &[&id, &t]).await?;
                            }
                            id
                        }
                    };
                    applied.filtered += d.filtered as usize;
                    if d.queue {
                        for lang in langs {
                            tx.execute(
                                "INSERT INTO queue (entry_id, lang, version, state, attempts, next_attempt_at, enqueued_at)
                                 SELECT id, $2, version, 'queued', 0, 0, $3 FROM entries WHERE id = $1
                                 ON CONFLICT (entry_id, lang) DO UPDATE SET
                                    version = excluded.version, state = 'queued', attempts = 0, next_attempt_at = 0,
                                    lease_until = NULL, leased_by = NULL, last_error = NULL, enqueued_at = excluded.enqueued_at",
                                &[&id, lang, &t],
                            )
                            .await?;
                        }
                        applied.queued += 1;
                    }
                }
                if !detection.gone.is_empty() {
                    tx.execute("UPDATE entries SET gone = TRUE WHERE id = ANY($1)", &[&detection.gone]).await?;
                }
                applied.gone = detection.gone.len();
                if applied.new + applied.updated > 0 {
                    tx.execute("UPDATE feeds SET changed_at = $2 WHERE name = $1", &[&feed, &t]).await?;
                }
            }
            tx.commit().await?;
            Ok(applied)
        })
    }

    fn feed_summaries(&self) -> Result<Vec<FeedSummary>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    "SELECT f.name, f.url, f.fetch_url, f.last_fetch_at, f.last_result, f.last_error, f.failures, f.not_before,
                            f.etag IS NOT NULL, f.last_modified IS NOT NULL,
                            (SELECT count(*) FROM entries e WHERE e.feed = f.name),
                            (SELECT count(*) FROM queue q JOIN entries e ON e.id = q.entry_id WHERE e.feed = f.name AND q.state IN ('queued', 'leased')),
                            (SELECT count(DISTINCT t.entry_id) FROM translations t JOIN entries e ON e.id = t.entry_id WHERE e.feed = f.name AND t.complete),
                            (SELECT count(DISTINCT t.entry_id) FROM translations t JOIN entries e ON e.id = t.entry_id WHERE e.feed = f.name AND NOT t.complete),
                            (SELECT count(*) FROM queue q JOIN entries e ON e.id = q.entry_id WHERE e.feed = f.name AND q.state = 'failed'),
                            (SELECT string_agg(reason, E'\\n') FROM (SELECT DISTINCT q.last_error AS reason FROM queue q JOIN entries e ON e.id = q.entry_id
                              WHERE e.feed = f.name AND q.state = 'failed' AND q.last_error IS NOT NULL LIMIT 5) r),
                            COALESCE((SELECT sum(prompt_tokens + completion_tokens) FROM usage u WHERE u.feed = f.name), 0)::BIGINT,
                            COALESCE((SELECT sum(cost_usd) FROM usage u WHERE u.feed = f.name), 0.0)::DOUBLE PRECISION,
                            COALESCE((SELECT sum(repaired) FROM usage u WHERE u.feed = f.name), 0)::BIGINT
                     FROM feeds f ORDER BY f.name",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| FeedSummary {
                    name: r.get(0),
                    url: r.get(1),
                    fetch_url: r.get(2),
                    last_fetch_at: r.get(3),
                    last_result: r.get(4),
                    last_error: r.get(5),
                    failures: r.get::<_, i64>(6) as u32,
                    not_before: r.get(7),
                    has_etag: r.get(8),
                    has_last_modified: r.get(9),
                    entries: r.get::<_, i64>(10) as u64,
                    queued: r.get::<_, i64>(11) as u64,
                    translated: r.get::<_, i64>(12) as u64,
                    partial: r.get::<_, i64>(13) as u64,
                    failed: r.get::<_, i64>(14) as u64,
                    failures_reasons: r.get::<_, Option<String>>(15).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default(),
                    tokens: r.get::<_, i64>(16) as u64,
                    cost_usd: r.get(17),
                    repaired: r.get::<_, i64>(18) as u64,
                })
                .collect())
        })
    }

    fn claim_fetch(&self, feed: &str, url: &str, tick_ms: i64) -> Result<bool> {
        self.run(async {
            let c = self.pool.get().await?;
            c.execute("INSERT INTO feeds (name, url) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", &[&feed, &url]).await?;
            // claimed_at_ms holds the tick claimed last: each tick is claimed once.
            let n = c
                .execute(
                    "UPDATE feeds SET claimed_by = $2, claimed_at_ms = $3 WHERE name = $1 AND (claimed_at_ms IS NULL OR claimed_at_ms < $3::BIGINT)",
                    &[&feed, &self.node, &tick_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }
}

async fn insert_entry(tx: &Transaction<'_>, feed: &str, d: &Detected<'_>, t: i64) -> Result<Option<i64>> {
    let e = d.entry;
    let row = tx
        .query_opt(
            "INSERT INTO entries (feed, key, source_id, link, link_norm, title, content, authors, categories,
                                  published, updated, text_hash, filtered, first_seen, last_seen, changed_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $14, $15)
             ON CONFLICT (feed, key) DO NOTHING RETURNING id",
            &[
                &feed,
                &e.key,
                &e.source_id,
                &e.link,
                &d.link_norm,
                &e.title,
                &d.stored_content(),
                &to_json(&e.authors),
                &to_json(&e.categories),
                &e.published.map(|d| d.timestamp()),
                &e.updated.map(|d| d.timestamp()),
                &d.text_hash,
                &d.filtered,
                &t,
                &d.note,
            ],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

async fn update_entry(tx: &Transaction<'_>, id: i64, d: &Detected<'_>, t: i64) -> Result<()> {
    let e = d.entry;
    tx.execute(
        "UPDATE entries SET key = $2, source_id = $3, link = $4, link_norm = $5, title = $6, content = $7,
                authors = $8, categories = $9, published = $10, updated = $11, text_hash = $12, filtered = $13,
                version = version + 1, gone = FALSE, last_seen = $14, changed_at = $14, note = $15
         WHERE id = $1",
        &[
            &id,
            &e.key,
            &e.source_id,
            &e.link,
            &d.link_norm,
            &e.title,
            &d.stored_content(),
            &to_json(&e.authors),
            &to_json(&e.categories),
            &e.published.map(|d| d.timestamp()),
            &e.updated.map(|d| d.timestamp()),
            &d.text_hash,
            &d.filtered,
            &t,
            &d.note,
        ],
    )
    .await?;
    Ok(())
}

/// An entry row read with `ENTRY_COLUMNS` from position `at`.
pub(super) fn entry_row(r: &tokio_postgres::Row, at: usize) -> crate::store::StoredEntry {
    let ts = |v: Option<i64>| v.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    crate::store::StoredEntry {
        id: r.get(at),
        feed: r.get(at + 1),
        version: r.get(at + 2),
        entry: crate::model::Entry {
            key: r.get(at + 3),
            source_id: r.get(at + 4),
            link: r.get(at + 5),
            title: r.get(at + 6),
            content: r.get(at + 7),
            authors: from_json(&r.get::<_, String>(at + 8)),
            categories: from_json(&r.get::<_, String>(at + 9)),
            published: ts(r.get(at + 10)),
            updated: ts(r.get(at + 11)),
        },
        note: r.get(at + 12),
    }
}

/// The columns `entry_row` reads, in order.
pub(super) const ENTRY_COLUMNS: &str =
    "e.id, e.feed, e.version, e.key, e.source_id, e.link, e.title, e.content, e.authors, e.categories, e.published, e.updated, e.note";
