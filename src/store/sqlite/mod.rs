//! The SQLite backend: one file in cache_dir, WAL mode, append-only migrations. One connection
//! behind a mutex (SQLite has one writer anyway); one file per table group implements its trait.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::{Result, StoreError};

mod entries;
mod feeds;
mod memory;
mod publish;
mod queue;
mod subscriptions;
mod tokens;
mod usage;

/// Marks a database as polyfeed's ("pfd1"), so a foreign SQLite file is never migrated over.
const APPLICATION_ID: i64 = 0x7066_6431;

/// Append-only: never edit a migration that has shipped, add the next one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_ingest.sql"),
    include_str!("../../../migrations/0002_translate.sql"),
    include_str!("../../../migrations/0003_publish.sql"),
    include_str!("../../../migrations/0004_tokens.sql"),
    include_str!("../../../migrations/0005_fewer_indexes.sql"),
    include_str!("../../../migrations/0006_engines.sql"),
    include_str!("../../../migrations/0007_summaries.sql"),
    include_str!("../../../migrations/0008_websub.sql"),
    include_str!("../../../migrations/0009_entries_by_time.sql"),
    include_str!("../../../migrations/0010_repairs.sql"),
];

pub struct SqliteStore {
    /// Declared before `conn`, so stopped before it closes: the last connection to close copies
    /// the rest of the WAL, and that must be `conn` (two closing at once could both leave it).
    _checkpoints: Option<Checkpointer>,
    conn: Mutex<Connection>,
    /// This process.
    node: String,
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
        let mut store = Self::init(conn, &shown)?;
        store._checkpoints = Some(Checkpointer::start(path, &shown, store.conn.get_mut().expect("not poisoned"))?);
        Ok(store)
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
        // NORMAL is durable against a crashed process in WAL mode. The page cache is SQLite's default
        // (2 MB): 8 MB cost a cold refresh of 1,000 feeds 7 MiB of peak memory and bought no speed.
        // Checkpoints are the `Checkpointer`'s, off this connection (a file store's only).
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
        let node = format!("{}:{}", crate::text::hostname(), std::process::id());
        let mut store = SqliteStore { _checkpoints: None, conn: Mutex::new(conn), node };
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

    pub(in crate::store) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolled the transaction back.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// WAL pages past which a commit asks for a checkpoint (4 MiB).
const CHECKPOINT_PAGES: i32 = 1000;

/// Copies the WAL back into the database on a thread of its own, with a connection of its own, so
/// no commit waits for it (SQLite's automatic checkpoint runs inside the commit that crosses the
/// threshold, holding the store's one connection, and with it every task that needs the store).
/// Passive checkpoints never block the writer.
struct Checkpointer {
    ask: std::sync::mpsc::SyncSender<Ask>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum Ask {
    Checkpoint,
    Stop,
}

impl Checkpointer {
    fn start(path: &Path, shown: &str, writer: &mut Connection) -> Result<Checkpointer> {
        let opened = Connection::open(path).and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;")?;
            Ok(c)
        });
        let conn = opened.map_err(|e| open_error(shown, &e))?;
        // One pending request is enough: a checkpoint copies everything committed before it starts.
        let (ask, asked) = std::sync::mpsc::sync_channel(1);
        let hook = ask.clone();
        // Replaces the writer's automatic checkpoint.
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            if pages >= CHECKPOINT_PAGES {
                let _ = hook.try_send(Ask::Checkpoint);
            }
            Ok(())
        }))?;
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Ok(Ask::Checkpoint) = asked.recv() {
                    // Busy when another process checkpoints: its copy serves as well.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::debug!(error = %e, "checkpoint deferred");
                    }
                }
            })
            .map_err(|e| StoreError::Open { path: shown.to_string(), message: format!("cannot start the checkpoint thread: {e}") })?;
        Ok(Checkpointer { ask, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    /// Waits for a checkpoint in progress, then closes the thread's connection.
    fn drop(&mut self) {
        let _ = self.ask.send(Ask::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An error opening the store: the disk's fault said as such, else with a hint.
fn open_error(path: &str, e: &rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure) => StoreError::Disk(format!("cannot open {path}: {e}")),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::PermissionDenied | rusqlite::ErrorCode::ReadOnly) => {
            StoreError::Open { path: path.to_string(), message: format!("{e} (check the folder's permissions)") }
        }
        _ => StoreError::Open { path: path.to_string(), message: e.to_string() },
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Filters;
    use crate::detect::detect;
    use crate::model::Entry;
    use crate::parse::entry_key;
    use crate::store::{Applied, FeedStore, FetchRecord, FetchResult, QueueStore};

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
    fn the_wal_is_copied_back_by_its_own_thread_and_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = SqliteStore::open(&path).unwrap();
        // The writer never checkpoints itself: its automatic checkpoint is replaced by the hook.
        let automatic: i64 = store.conn().query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        assert_eq!(automatic, 0);
        // 40 commits of 200 KB: the WAL passes the checkpoint threshold twice.
        let body = format!("<p>{}</p>", "word ".repeat(2_000));
        for round in 0..40 {
            let doc: Vec<Entry> = (0..20).map(|i| entry(&format!("{round}-{i}"), &body)).collect();
            assert_eq!(fetch(&store, &doc).new, 20);
        }
        // Another connection reads what was committed, whatever the checkpoints are doing.
        let reader = Connection::open(&path).unwrap();
        let count = |c: &Connection| {
            c.query_row("SELECT count(*), sum(length(content) > 0) FROM entries", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).unwrap()
        };
        assert_eq!(count(&reader), (800, 790));
        drop(reader);
        // Stopping the thread waits for the checkpoints asked for: with the writer still open, the
        // database file already holds the copied megabytes.
        drop(store._checkpoints.take());
        let copied = std::fs::metadata(&path).unwrap().len();
        assert!(copied > 4_000_000, "the database file has {copied} bytes before close");
        drop(store);
        // The last connection to close copied everything into the database and removed the WAL.
        assert!(!dir.path().join("s.sqlite-wal").exists());
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        assert_eq!(count(&conn), (800, 790));
        assert_eq!(conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
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
