//! The translation queue on PostgreSQL, shared by nodes: due jobs are leased with
//! `FOR UPDATE SKIP LOCKED` (two nodes never lease one job), under this node's name, for a minute
//! that the store renews while the node lives.

use super::PgStore;
use super::feeds::{ENTRY_COLUMNS, entry_row};
use crate::model::now;
use crate::store::{Job, JobEnd, QueueCounts, QueueStore, Result, Retried, StoredEntry, Unpublished, UnpublishedList};

impl QueueStore for PgStore {
    /// This node's leases only: other nodes' jobs are theirs until their leases expire.
    fn recover_leases(&self) -> Result<usize> {
        self.run(async {
            let c = self.pool.get().await?;
            let n = c
                .execute("UPDATE queue SET state = 'queued', lease_until = NULL, leased_by = NULL WHERE state = 'leased' AND leased_by = $1", &[&self.node])
                .await?;
            Ok(n as usize)
        })
    }

    fn lease_jobs(&self, limit: usize, _lease_secs: i64) -> Result<Vec<Job>> {
        self.run(async {
            let t = now();
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let rows = tx
                .query(
                    "WITH due AS (
                        SELECT q.entry_id, q.lang FROM queue q JOIN entries e ON e.id = q.entry_id
                        WHERE (q.state = 'queued' AND q.next_attempt_at <= $1) OR (q.state = 'leased' AND q.lease_until < $1)
                        ORDER BY COALESCE(e.published, e.first_seen) DESC, q.entry_id DESC
                        LIMIT $2
                        FOR UPDATE OF q SKIP LOCKED
                     )
                     UPDATE queue q SET state = 'leased', lease_until = $3, leased_by = $4
                     FROM due, entries e
                     WHERE q.entry_id = due.entry_id AND q.lang = due.lang AND e.id = q.entry_id
                     RETURNING q.entry_id, q.lang, q.version, e.feed, q.attempts, COALESCE(e.published, e.first_seen)",
                    &[&t, &(limit as i64), &(t + self.lease_secs), &self.node],
                )
                .await?;
            tx.commit().await?;
            let mut jobs: Vec<(i64, Job)> = rows
                .iter()
                .map(|r| (r.get(5), Job { entry_id: r.get(0), lang: r.get(1), version: r.get(2), feed: r.get(3), attempts: r.get::<_, i64>(4) as u32 }))
                .collect();
            // RETURNING keeps no order: newest entries first, as leased.
            jobs.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.entry_id.cmp(&a.1.entry_id)));
            Ok(jobs.into_iter().map(|(_, j)| j).collect())
        })
    }

    fn entry(&self, entry_id: i64) -> Result<Option<StoredEntry>> {
        self.run(async {
            let c = self.pool.get().await?;
            let row = c.query_opt(&format!("SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.id = $1"), &[&entry_id]).await?;
            Ok(row.map(|r| entry_row(&r, 0)))
        })
    }

    fn finish_job(&self, job: &Job, end: &JobEnd) -> Result<()> {
        self.run(async {
            let t = now();
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            let current = "entry_id = $1 AND lang = $2 AND version = $3 AND state = 'leased'";
            match end {
                JobEnd::Done(row) => {
                    // Sequence numbers in commit order (publishing reads "everything after n"):
                    // one translation committed at a time, across nodes.
                    tx.execute("SELECT pg_advisory_xact_lock(7066643101)", &[]).await?;
                    tx.execute(
                        "INSERT INTO translations (entry_id, lang, version, title_src, title, content_src, units, complete, translated_at, seq, summary)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT COALESCE(max(seq), 0) + 1 FROM translations), $10)
                         ON CONFLICT (entry_id, lang) DO UPDATE SET
                            version = excluded.version, title_src = excluded.title_src, title = excluded.title,
                            content_src = excluded.content_src, units = excluded.units, complete = excluded.complete,
                            translated_at = excluded.translated_at, seq = excluded.seq, summary = excluded.summary
                         WHERE excluded.version >= translations.version",
                        &[
                            &row.entry_id,
                            &row.lang,
                            &row.version,
                            &row.title_src,
                            &row.title,
                            &row.content_src,
                            &serde_json::to_string(&row.units).expect("serializable"),
                            &row.complete,
                            &t,
                            &row.summary,
                        ],
                    )
                    .await?;
                    tx.execute(
                        &format!("UPDATE queue SET state = 'done', lease_until = NULL, leased_by = NULL, last_error = NULL WHERE {current}"),
                        &[&job.entry_id, &job.lang, &job.version],
                    )
                    .await?;
                }
                JobEnd::Retry { at, reason } => {
                    tx.execute(
                        &format!(
                            "UPDATE queue SET state = 'queued', lease_until = NULL, leased_by = NULL, attempts = attempts + 1, next_attempt_at = $4, last_error = $5 WHERE {current}"
                        ),
                        &[&job.entry_id, &job.lang, &job.version, at, reason],
                    )
                    .await?;
                }
                JobEnd::Failed { reason } => {
                    tx.execute(
                        &format!("UPDATE queue SET state = 'failed', lease_until = NULL, leased_by = NULL, attempts = attempts + 1, last_error = $4 WHERE {current}"),
                        &[&job.entry_id, &job.lang, &job.version, reason],
                    )
                    .await?;
                }
                JobEnd::Release => {
                    tx.execute(
                        &format!("UPDATE queue SET state = 'queued', lease_until = NULL, leased_by = NULL WHERE {current}"),
                        &[&job.entry_id, &job.lang, &job.version],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn retry_failed(&self, feed: Option<&str>) -> Result<Retried> {
        self.run(async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            const OF_FEED: &str = "($1::TEXT IS NULL OR entry_id IN (SELECT id FROM entries WHERE feed = $1))";
            let failed = tx
                .execute(
                    &format!("UPDATE queue SET state = 'queued', attempts = 0, next_attempt_at = 0, last_error = NULL WHERE state = 'failed' AND {OF_FEED}"),
                    &[&feed],
                )
                .await?;
            let waiting = tx
                .execute(
                    &format!("UPDATE queue SET attempts = 0, next_attempt_at = 0 WHERE state = 'queued' AND next_attempt_at > $2 AND {OF_FEED}"),
                    &[&feed, &now()],
                )
                .await?;
            tx.commit().await?;
            Ok(Retried { failed: failed as usize, waiting: waiting as usize })
        })
    }

    fn unpublished(&self, feeds: &[&str], limit: usize) -> Result<UnpublishedList> {
        self.run(async {
            let c = self.pool.get().await?;
            const WHERE: &str = "FROM queue q JOIN entries e ON e.id = q.entry_id WHERE q.state != 'done' AND NOT e.filtered AND e.feed = ANY($1)";
            let total: i64 = c.query_one(&format!("SELECT count(*) {WHERE}"), &[&feeds]).await?.get(0);
            let rows = c
                .query(
                    &format!(
                        "SELECT e.feed, e.id, e.title, q.lang, q.state, q.attempts, q.next_attempt_at, q.last_error {WHERE}
                         ORDER BY COALESCE(e.published, e.first_seen), e.id LIMIT $2"
                    ),
                    &[&feeds, &(limit as i64)],
                )
                .await?;
            let posts = rows
                .iter()
                .map(|r| Unpublished {
                    feed: r.get(0),
                    entry_id: r.get(1),
                    title: r.get(2),
                    lang: r.get(3),
                    state: r.get(4),
                    attempts: r.get::<_, i64>(5) as u32,
                    next_attempt_at: r.get(6),
                    last_error: r.get(7),
                })
                .collect();
            Ok(UnpublishedList { posts, total: total as u64 })
        })
    }

    fn queue_counts(&self) -> Result<QueueCounts> {
        self.run(async {
            let c = self.pool.get().await?;
            let r = c
                .query_one(
                    "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'leased'),
                            count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed') FROM queue",
                    &[],
                )
                .await?;
            let n = |i: usize| r.get::<_, i64>(i) as u64;
            Ok(QueueCounts { queued: n(0), leased: n(1), done: n(2), failed: n(3) })
        })
    }
}
