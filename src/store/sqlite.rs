//! The SQLite backend: one file in cache_dir, WAL mode, append-only migrations.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use std::collections::HashMap;

use super::{
    Applied, FeedMeta, FeedState, FeedSummary, FetchRecord, FetchResult, Job, JobEnd, MemoryRow, PublishItem, Result, Store, StoreError, StoredEntry,
    TranslationRow, Unpublished, UsageRow,
};
use crate::detect::{Detection, Known, Verdict};
use crate::model::{Entry, now};

/// Marks a database as polyfeed's ("pfd1"), so a foreign SQLite file is never migrated over.
const APPLICATION_ID: i64 = 0x7066_6431;

/// Append-only: never edit a migration that has shipped, add the next one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_ingest.sql"),
    include_str!("../../migrations/0002_translate.sql"),
    include_str!("../../migrations/0003_publish.sql"),
    include_str!("../../migrations/0004_tokens.sql"),
    include_str!("../../migrations/0005_fewer_indexes.sql"),
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`. Refuses files that are not polyfeed stores.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let open_err = |message: String| StoreError::Open { path: shown.clone(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        check_header(path)?;
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        Self::init(conn, &shown)
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(conn: Connection, path: &str) -> Result<SqliteStore> {
        let foreign = |reason: String| StoreError::Foreign { path: path.to_string(), reason };
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => foreign(e.to_string()),
            _ => open_error(path, &e),
        })?;
        let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(foreign(format!("it holds {tables} unknown tables")));
        }
        if path != ":memory:" {
            // Set WAL, then read it back: a wrong pragma fails silently.
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(|e| open_error(path, &e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Open { path: path.to_string(), message: format!("WAL mode refused (journal_mode is {mode})") });
            }
        }
        // NORMAL is durable against a crashed process in WAL mode; an 8 MB page cache (twice the
        // default) helps the per-feed transactions without growing the footprint much.
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-8000; PRAGMA wal_autocheckpoint=8000;")?;
        let mut store = SqliteStore { conn: Mutex::new(conn) };
        store.migrate(path)?;
        Ok(store)
    }

    fn migrate(&mut self, path: &str) -> Result<()> {
        let conn = self.conn.get_mut().expect("not poisoned");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: path.to_string(), found: version, known });
        }
        if version == known {
            return Ok(());
        }
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
        tx.commit()?;
        Ok(())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolled the transaction back.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// An error opening the store, with a hint when it is the disk's fault.
fn open_error(path: &str, e: &rusqlite::Error) -> StoreError {
    let hint = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) | Some(rusqlite::ErrorCode::SystemIoFailure) => " (is the disk full or read-only?)",
        Some(rusqlite::ErrorCode::CannotOpen) | Some(rusqlite::ErrorCode::PermissionDenied) | Some(rusqlite::ErrorCode::ReadOnly) => {
            " (check the folder's permissions)"
        }
        _ => "",
    };
    StoreError::Open { path: path.to_string(), message: format!("{e}{hint}") }
}

/// Refuses a non-empty file that is not an SQLite database, before SQLite sees it.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else { return Ok(()) };
    let mut head = [0u8; 16];
    let n = f.read(&mut head).unwrap_or(0);
    // Empty is new; anything else must be a whole SQLite header.
    if n > 0 && (n < 16 || head != *b"SQLite format 3\0") {
        return Err(StoreError::Foreign { path: path.display().to_string(), reason: "not an SQLite database".into() });
    }
    Ok(())
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

fn from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn insert_entry(tx: &Transaction, feed: &str, d: &crate::detect::Detected, t: i64) -> Result<i64> {
    let e = d.entry;
    tx.prepare_cached(
        "INSERT INTO entries (feed, key, source_id, link, link_norm, title, content, authors, categories,
                              published, updated, text_hash, filtered, first_seen, last_seen, changed_at, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?14, ?15)",
    )?
    .execute(params![
        feed,
        e.key,
        e.source_id,
        e.link,
        d.link_norm,
        e.title,
        d.full_text.as_deref().unwrap_or(&e.content),
        to_json(&e.authors),
        to_json(&e.categories),
        e.published.map(|d| d.timestamp()),
        e.updated.map(|d| d.timestamp()),
        d.text_hash,
        d.filtered,
        t,
        d.note,
    ])?;
    Ok(tx.last_insert_rowid())
}

fn update_entry(tx: &Transaction, id: i64, d: &crate::detect::Detected, t: i64) -> Result<()> {
    let e = d.entry;
    tx.prepare_cached(
        "UPDATE entries SET key = ?2, source_id = ?3, link = ?4, link_norm = ?5, title = ?6, content = ?7,
                authors = ?8, categories = ?9, published = ?10, updated = ?11, text_hash = ?12, filtered = ?13,
                version = version + 1, gone = 0, last_seen = ?14, changed_at = ?14, note = ?15
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        e.key,
        e.source_id,
        e.link,
        d.link_norm,
        e.title,
        d.full_text.as_deref().unwrap_or(&e.content),
        to_json(&e.authors),
        to_json(&e.categories),
        e.published.map(|d| d.timestamp()),
        e.updated.map(|d| d.timestamp()),
        d.text_hash,
        d.filtered,
        t,
        d.note,
    ])?;
    Ok(())
}

fn enqueue(tx: &Transaction, entry_id: i64, langs: &[&str], t: i64) -> Result<()> {
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

impl Store for SqliteStore {
    fn feed_state(&self, feed: &str) -> Result<FeedState> {
        let conn = self.conn();
        let state = conn
            .query_row(
                "SELECT fetch_url, etag, last_modified, body_hash, not_before, failures,
                        EXISTS (SELECT 1 FROM entries WHERE feed = ?1)
                 FROM feeds WHERE name = ?1",
                [feed],
                |r| {
                    Ok(FeedState {
                        fetch_url: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        body_hash: r.get(3)?,
                        not_before: r.get(4)?,
                        failures: r.get(5)?,
                        has_entries: r.get(6)?,
                    })
                },
            )
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
                        insert_entry(&tx, feed, d, t)?
                    }
                    Verdict::Updated { id } => {
                        applied.updated += 1;
                        update_entry(&tx, id, d, t)?;
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
                    enqueue(&tx, id, langs, t)?;
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
                    COALESCE((SELECT sum(cost_usd) FROM usage u WHERE u.feed = f.name), 0.0)
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
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

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

    fn finish_job(&self, job: &Job, end: &JobEnd) -> Result<()> {
        self.finish(job, end)
    }

    fn memory_lookup(&self, blocks: &[(String, i64)], lang: &str, engines: &[(String, String)]) -> Result<HashMap<String, String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT translation FROM memory WHERE hash = ?1 AND lang = ?2 AND engine = ?3 AND model = ?4 AND prompt_version = ?5")?;
        let mut found = HashMap::new();
        for (hash, prompt_version) in blocks {
            for (engine, model) in engines {
                if let Some(t) = stmt.query_row(params![hash, lang, engine, model, prompt_version], |r| r.get::<_, String>(0)).optional()? {
                    found.insert(hash.clone(), t);
                    break;
                }
            }
        }
        Ok(found)
    }

    fn memory_store(&self, rows: &[MemoryRow], usage: &[UsageRow]) -> Result<()> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for r in rows {
            tx.execute(
                "INSERT OR REPLACE INTO memory (hash, lang, engine, model, prompt_version, source, translation, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.hash, r.lang, r.engine, r.model, r.prompt_version, r.source, r.translation, t],
            )?;
        }
        for u in usage {
            tx.execute(
                "INSERT INTO usage (day, feed, entry_id, engine, model, requests, prompt_tokens, completion_tokens, cost_usd, estimated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (day, feed, entry_id, engine, model) DO UPDATE SET
                    requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = completion_tokens + excluded.completion_tokens, cost_usd = cost_usd + excluded.cost_usd,
                    estimated = max(estimated, excluded.estimated)",
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
                    u.estimated
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn usage_since(&self, day: &str, feed: Option<&str>) -> Result<(u64, f64)> {
        let conn = self.conn();
        let (tokens, usd): (i64, f64) = conn.query_row(
            "SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0), COALESCE(sum(cost_usd), 0.0) FROM usage
             WHERE day >= ?1 AND (?2 IS NULL OR feed = ?2)",
            params![day, feed],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((tokens as u64, usd))
    }

    fn usage_by_day(&self, day: &str) -> Result<Vec<(String, u64, f64)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT day, sum(prompt_tokens + completion_tokens), sum(cost_usd) FROM usage WHERE day >= ?1 GROUP BY day ORDER BY day")?;
        let rows = stmt.query_map([day], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn retry_failed(&self, feed: Option<&str>) -> Result<(usize, usize)> {
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
        Ok((failed, waiting))
    }

    fn unpublished(&self, feeds: &[&str], limit: usize) -> Result<(Vec<Unpublished>, u64)> {
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
        Ok((rows.collect::<rusqlite::Result<_>>()?, total as u64))
    }

    fn queue_counts(&self) -> Result<(u64, u64, u64, u64)> {
        let conn = self.conn();
        let count = |state: &str| -> Result<u64> { Ok(conn.query_row("SELECT count(*) FROM queue WHERE state = ?1", [state], |r| r.get::<_, i64>(0))? as u64) };
        Ok((count("queued")?, count("leased")?, count("done")?, count("failed")?))
    }

    fn translation(&self, entry_id: i64, lang: &str) -> Result<Option<TranslationRow>> {
        let conn = self.conn();
        let sql = format!("SELECT {TRANSLATION_COLUMNS} FROM translations t WHERE t.entry_id = ?1 AND t.lang = ?2");
        Ok(conn.query_row(&sql, params![entry_id, lang], |r| translation_row(r, 0)).optional()?)
    }

    fn entry(&self, entry_id: i64) -> Result<Option<StoredEntry>> {
        let conn = self.conn();
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.id = ?1");
        Ok(conn.query_row(&sql, [entry_id], |r| entry_row(r, 0)).optional()?)
    }

    fn publish_items(&self, feed: Option<&str>, lang: &str, limit: usize) -> Result<Vec<PublishItem>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS}, {TRANSLATION_COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
             WHERE t.lang = ?1 AND (?2 IS NULL OR e.feed = ?2) AND e.filtered = 0
             ORDER BY COALESCE(e.published, e.updated, e.first_seen) DESC, e.id DESC LIMIT ?3"
        );
        self.items(&sql, params![lang, feed, limit as i64])
    }

    fn publish_items_since(&self, lang: &str, since: i64) -> Result<Vec<PublishItem>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS}, {TRANSLATION_COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
             WHERE t.lang = ?1 AND t.seq > ?2 AND e.filtered = 0 ORDER BY t.seq"
        );
        self.items(&sql, params![lang, since])
    }

    fn publish_fingerprint(&self, feed: &str, lang: &str) -> Result<String> {
        let conn = self.conn();
        let (count, latest, sum): (i64, Option<i64>, Option<i64>) = conn.query_row(
            // CROSS JOIN keeps this order: the feed's entries first (by index), then their translations.
            "SELECT count(*), max(t.seq), sum(t.version) FROM entries e CROSS JOIN translations t ON t.entry_id = e.id AND t.lang = ?2
             WHERE e.feed = ?1 AND e.filtered = 0",
            params![feed, lang],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let meta: Option<(Option<String>, Option<String>)> =
            conn.query_row("SELECT title, authors FROM feeds WHERE name = ?1", [feed], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        Ok(format!("{count}:{}:{}:{:?}", latest.unwrap_or(0), sum.unwrap_or(0), meta))
    }

    fn feed_meta(&self, feed: &str) -> Result<Option<FeedMeta>> {
        let conn = self.conn();
        let row = conn
            .query_row("SELECT title, site_url, authors FROM feeds WHERE name = ?1", [feed], |r| {
                Ok(FeedMeta { title: r.get::<_, Option<String>>(0)?.unwrap_or_default(), site_url: r.get(1)?, authors: from_json(&r.get::<_, String>(2)?) })
            })
            .optional()?;
        Ok(row)
    }

    fn publish_marks(&self) -> Result<HashMap<String, String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM publish_marks")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn token_hashes(&self) -> Result<Vec<String>> {
        self.strings("SELECT hash FROM tokens")
    }

    fn tokens(&self) -> Result<Vec<(String, String, i64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT name, hint, created_at FROM tokens ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_token(&self, name: &str, hash: &str, hint: &str) -> Result<bool> {
        let n = self.conn().execute("INSERT OR IGNORE INTO tokens (name, hash, hint, created_at) VALUES (?1, ?2, ?3, ?4)", params![name, hash, hint, now()])?;
        Ok(n == 1)
    }

    fn revoke_token(&self, name: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE name = ?1", [name])? == 1)
    }

    fn set_publish_marks(&self, marks: &[(String, String)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (k, v) in marks {
            tx.execute("INSERT OR REPLACE INTO publish_marks (key, value) VALUES (?1, ?2)", params![k, v])?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl SqliteStore {
    fn strings(&self, sql: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The columns `entry_row` reads, in order.
const ENTRY_COLUMNS: &str = "e.id, e.feed, e.version, e.key, e.source_id, e.link, e.title, e.content, e.authors, e.categories, e.published, e.updated, e.note";
/// The columns `translation_row` reads, in order.
const TRANSLATION_COLUMNS: &str = "t.entry_id, t.lang, t.version, t.title_src, t.title, t.content_src, t.units, t.complete, t.translated_at, t.seq";

fn entry_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<StoredEntry> {
    let ts = |v: Option<i64>| v.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    Ok(StoredEntry {
        id: r.get(at)?,
        feed: r.get(at + 1)?,
        version: r.get(at + 2)?,
        entry: Entry {
            key: r.get(at + 3)?,
            source_id: r.get(at + 4)?,
            link: r.get(at + 5)?,
            title: r.get(at + 6)?,
            content: r.get(at + 7)?,
            authors: from_json(&r.get::<_, String>(at + 8)?),
            categories: from_json(&r.get::<_, String>(at + 9)?),
            published: ts(r.get(at + 10)?),
            updated: ts(r.get(at + 11)?),
        },
        note: r.get(at + 12)?,
    })
}

fn translation_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<TranslationRow> {
    Ok(TranslationRow {
        entry_id: r.get(at)?,
        lang: r.get(at + 1)?,
        version: r.get(at + 2)?,
        title_src: r.get(at + 3)?,
        title: r.get(at + 4)?,
        content_src: r.get(at + 5)?,
        units: serde_json::from_str(&r.get::<_, String>(at + 6)?).unwrap_or_default(),
        complete: r.get(at + 7)?,
    })
}

impl SqliteStore {
    fn items(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PublishItem>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(PublishItem { entry: entry_row(r, 0)?, translation: translation_row(r, 13)?, translated_at: r.get(21)?, seq: r.get(22)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl SqliteStore {
    fn finish(&self, job: &Job, end: &JobEnd) -> Result<()> {
        let t = now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current = "entry_id = ?1 AND lang = ?2 AND version = ?3 AND state = 'leased'";
        match end {
            JobEnd::Done(row) => {
                // A translation of an older version never replaces a newer one.
                tx.execute(
                    "INSERT INTO translations (entry_id, lang, version, title_src, title, content_src, units, complete, translated_at, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, (SELECT COALESCE(max(seq), 0) + 1 FROM translations))
                     ON CONFLICT (entry_id, lang) DO UPDATE SET
                        version = excluded.version, title_src = excluded.title_src, title = excluded.title,
                        content_src = excluded.content_src, units = excluded.units, complete = excluded.complete,
                        translated_at = excluded.translated_at, seq = excluded.seq
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
                        t
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Filters;
    use crate::detect::detect;
    use crate::parse::entry_key;

    fn entry(id: &str, body: &str) -> Entry {
        Entry {
            key: entry_key(id, None, "", None),
            source_id: id.into(),
            link: Some(format!("https://e.org/{id}")),
            title: format!("Title {id}"),
            content: body.into(),
            categories: vec!["ai".into()],
            ..Entry::default()
        }
    }

    fn fetch(store: &SqliteStore, entries: &[Entry]) -> Applied {
        let known = store.known_entries("f").unwrap();
        let first = !store.feed_state("f").unwrap().has_entries;
        let d = detect(entries, &known, first, 10, &Filters::default());
        store.record_fetch("f", "https://e.org/feed", &FetchRecord::new(FetchResult::Ok), Some(&d), &["zh-CN"]).unwrap()
    }

    #[test]
    fn migrations_apply_on_a_fresh_database() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn detection_is_applied_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let doc = [entry("a", "<p>1</p>"), entry("b", "<p>2</p>")];
        assert_eq!(fetch(&store, &doc), Applied { new: 2, queued: 2, ..Applied::default() });
        assert_eq!(fetch(&store, &doc), Applied::default());
        drop(store);

        let store = SqliteStore::open(&path).unwrap();
        let mode: String = store.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let edited = [entry("a", "<p>1, edited</p>")];
        assert_eq!(fetch(&store, &edited), Applied { updated: 1, queued: 1, gone: 1, ..Applied::default() });
        let s = &store.feed_summaries().unwrap()[0];
        assert_eq!((s.entries, s.queued), (2, 2));
        let stored = store.entry(1).unwrap().unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.entry.content, "<p>1, edited</p>");
        assert_eq!(stored.entry.categories, ["ai"]);
    }

    #[test]
    fn failures_count_up_and_reset() {
        let store = SqliteStore::open_in_memory().unwrap();
        let fail = FetchRecord::new(FetchResult::Failed("HTTP 500".into()));
        store.record_fetch("f", "https://e.org/feed", &fail, None, &[]).unwrap();
        store.record_fetch("f", "https://e.org/feed", &fail, None, &[]).unwrap();
        assert_eq!(store.feed_state("f").unwrap().failures, 2);
        let mut ok = FetchRecord::new(FetchResult::NotModified);
        ok.etag = Some("\"v1\"".into());
        store.record_fetch("f", "https://e.org/feed", &ok, None, &[]).unwrap();
        let state = store.feed_state("f").unwrap();
        assert_eq!((state.failures, state.etag.as_deref()), (0, Some("\"v1\"")));
        // A changed configured URL drops the old validators.
        store.record_fetch("f", "https://e.org/other", &FetchRecord::new(FetchResult::Failed("x".into())), None, &[]).unwrap();
        assert_eq!(store.feed_state("f").unwrap().etag, None);
    }

    #[test]
    fn foreign_and_corrupt_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"this is not a database at all, just text").unwrap();
        let e = SqliteStore::open(&junk).err().unwrap().to_string();
        assert!(e.contains("is not a polyfeed store (not an SQLite database)"), "{e}");
        assert_eq!(std::fs::read(&junk).unwrap(), b"this is not a database at all, just text");

        let other = dir.path().join("other.sqlite");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
        let e = SqliteStore::open(&other).err().unwrap().to_string();
        assert!(e.contains("is not a polyfeed store (it holds 1 unknown tables)"), "{e}");
        let c = Connection::open(&other).unwrap();
        let n: i64 = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }
}
