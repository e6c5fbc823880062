//! The translation queue: one row per entry and language, leased with an expiry.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{SqliteStore, entries};
use crate::model::now;
use crate::store::{Job, JobEnd, QueueCounts, QueueStore, Result, Retried, StoredEntry, Unpublished, UnpublishedList};

pub(super) fn enqueue(tx: &Transaction, entry_id: i64, langs: &[&str], t: i64) -> Result<()> {
    for lang in langs {
        tx.prepare_cached(
            "INSERT INTO queue (entry_id, lang, version, state, attempts, next_attempt_at, enqueued_at)
             SELECT id, ?2, version, 'queued', 0, 0, ?3 FROM entries WHERE id = ?1
             ON CONFLICT (entry_id, lang) DO UPDATE SET
                version = excluded.version, state = 'queued', attempts = 0, next_attempt_at = 0,
                lease_until = NULL, last_error = NULL, enqueued_at = excluded.enqueued_at",
        )?
        .execute(params![entry_id, lang, t])?;
    }
    Ok(())
}

impl QueueStore for SqliteStore {
    fn recover_leases(&self) -> Result<usize> {
        Ok(self.conn().execute("UPDATE queue SET state = 'queued', lease_until = NULL WHERE state = 'leased'", [])?)
    }

    fn lease_jobs(&self, limit: usize, lease_secs: i64) -> Result<Vec<Job>> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let jobs = {
            let mut stmt = tx.prepare_cached(
                "SELECT q.entry_id, q.lang, q.version, e.feed, q.attempts FROM queue q JOIN entries e ON e.id = q.entry_id
                 WHERE (q.state = 'queued' AND q.next_attempt_at <= ?1) OR (q.state = 'leased' AND q.lease_until < ?1)
                 ORDER BY COALESCE(e.published, e.first_seen) DESC, q.entry_id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![t, limit as i64], |r| {
                Ok(Job { entry_id: r.get(0)?, lang: r.get(1)?, version: r.get(2)?, feed: r.get(3)?, attempts: r.get(4)? })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for job in &jobs {
            tx.execute(
                "UPDATE queue SET state = 'leased', lease_until = ?3 WHERE entry_id = ?1 AND lang = ?2",
                params![job.entry_id, job.lang, t + lease_secs],
            )?;
        }
        tx.commit()?;
        Ok(jobs)
    }

    fn entry(&self, entry_id: i64) -> Result<Option<StoredEntry>> {
        let conn = self.conn();
        let sql = format!("SELECT {} FROM entries e WHERE e.id = ?1", entries::COLUMNS);
        Ok(conn.query_row(&sql, [entry_id], |r| entries::row(r, 0)).optional()?)
    }

    fn finish_job(&self, job: &Job, end: &JobEnd) -> Result<()> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current = "entry_id = ?1 AND lang = ?2 AND version = ?3 AND state = 'leased'";
        match end {
            JobEnd::Done(row) => {
                // A translation of an older version never replaces a newer one.
                tx.execute(
                    "INSERT INTO translations (entry_id, lang, version, title_src, title, content_src, units, complete, translated_at, seq, summary, sort_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, (SELECT COALESCE(max(seq), 0) + 1 FROM translations), ?10,
                             (SELECT COALESCE(published, updated, first_seen) FROM entries WHERE id = ?1))
                     ON CONFLICT (entry_id, lang) DO UPDATE SET
                        version = excluded.version, title_src = excluded.title_src, title = excluded.title,
                        content_src = excluded.content_src, units = excluded.units, complete = excluded.complete,
                        translated_at = excluded.translated_at, seq = excluded.seq, summary = excluded.summary, sort_at = excluded.sort_at
                     WHERE excluded.version >= translations.version",
                    params![
                        row.entry_id,
                        row.lang,
                        row.version,
                        row.title_src,
                        row.title,
                        row.content_src,
                        serde_json::to_string(&row.units).expect("serializable"),
                        row.complete,
                        t,
                        row.summary
                    ],
                )?;
                tx.execute(
                    &format!("UPDATE queue SET state = 'done', lease_until = NULL, last_error = NULL WHERE {current}"),
                    params![job.entry_id, job.lang, job.version],
                )?;
            }
            JobEnd::Retry { at, reason } => {
                tx.execute(
                    &format!(
                        "UPDATE queue SET state = 'queued', lease_until = NULL, attempts = attempts + 1, next_attempt_at = ?4, last_error = ?5 WHERE {current}"
                    ),
                    params![job.entry_id, job.lang, job.version, at, reason],
                )?;
            }
            JobEnd::Failed { reason } => {
                tx.execute(
                    &format!("UPDATE queue SET state = 'failed', lease_until = NULL, attempts = attempts + 1, last_error = ?4 WHERE {current}"),
                    params![job.entry_id, job.lang, job.version, reason],
                )?;
            }
            JobEnd::Release => {
                tx.execute(&format!("UPDATE queue SET state = 'queued', lease_until = NULL WHERE {current}"), params![job.entry_id, job.lang, job.version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn retry_failed(&self, feed: Option<&str>) -> Result<Retried> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        const OF_FEED: &str = "(?1 IS NULL OR entry_id IN (SELECT id FROM entries WHERE feed = ?1))";
        let failed = tx.execute(
            &format!("UPDATE queue SET state = 'queued', attempts = 0, next_attempt_at = 0, last_error = NULL WHERE state = 'failed' AND {OF_FEED}"),
            params![feed],
        )?;
        let waiting = tx.execute(
            &format!("UPDATE queue SET attempts = 0, next_attempt_at = 0 WHERE state = 'queued' AND next_attempt_at > ?2 AND {OF_FEED}"),
            params![feed, now()],
        )?;
        tx.commit()?;
        Ok(Retried { failed, waiting })
    }

    fn unpublished(&self, feeds: &[&str], limit: usize) -> Result<UnpublishedList> {
        let conn = self.conn();
        const WHERE: &str = "FROM queue q JOIN entries e ON e.id = q.entry_id
             WHERE q.state != 'done' AND e.filtered = 0 AND e.feed IN (SELECT value FROM json_each(?1))";
        let feeds = serde_json::to_string(feeds).expect("strings serialize");
        let total: i64 = conn.query_row(&format!("SELECT count(*) {WHERE}"), [&feeds], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT e.feed, e.id, e.title, q.lang, q.state, q.attempts, q.next_attempt_at, q.last_error {WHERE}
             ORDER BY COALESCE(e.published, e.first_seen), e.id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![feeds, limit as i64], |r| {
            Ok(Unpublished {
                feed: r.get(0)?,
                entry_id: r.get(1)?,
                title: r.get(2)?,
                lang: r.get(3)?,
                state: r.get(4)?,
                attempts: r.get(5)?,
                next_attempt_at: r.get(6)?,
                last_error: r.get(7)?,
            })
        })?;
        Ok(UnpublishedList { posts: rows.collect::<rusqlite::Result<_>>()?, total: total as u64 })
    }

    fn queue_counts(&self) -> Result<QueueCounts> {
        let conn = self.conn();
        let count = |state: &str| -> Result<u64> { Ok(conn.query_row("SELECT count(*) FROM queue WHERE state = ?1", [state], |r| r.get::<_, i64>(0))? as u64) };
        Ok(QueueCounts { queued: count("queued")?, leased: count("leased")?, done: count("done")?, failed: count("failed")? })
    }
}
