//! `polyfeed db copy`: an SQLite store moved into PostgreSQL, table by table (feeds, entries with
//! their ids and tombstones, the queue, the memory, translations, usage, publishing marks,
//! tokens, what engines handle), in batches, each its own transaction. Rows already there are
//! kept (`ON CONFLICT DO NOTHING`), so an interrupted copy resumes where it stopped; at the end
//! every table's rows are counted on both sides.

use rusqlite::types::Value;
use tokio_postgres::types::ToSql;

use super::{PgStore, Result, SqliteStore, StoreError};

/// A column's type, as both schemas agree on it.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Real,
    Text,
    Bool,
}

use Kind::*;

/// The tables copied, in the order their references need, with their columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "feeds",
        &[
            ("name", Text),
            ("url", Text),
            ("fetch_url", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("body_hash", Text),
            ("title", Text),
            ("site_url", Text),
            ("authors", Text),
            ("last_fetch_at", Int),
            ("last_ok_at", Int),
            ("last_result", Text),
            ("last_error", Text),
            ("failures", Int),
            ("not_before", Int),
            ("changed_at", Int),
        ],
    ),
    (
        "entries",
        &[
            ("id", Int),
            ("feed", Text),
            ("key", Text),
            ("source_id", Text),
            ("link", Text),
            ("link_norm", Text),
            ("title", Text),
            ("content", Text),
            ("authors", Text),
            ("categories", Text),
            ("published", Int),
            ("updated", Int),
            ("text_hash", Text),
            ("version", Int),
            ("filtered", Bool),
            ("gone", Bool),
            ("first_seen", Int),
            ("last_seen", Int),
            ("changed_at", Int),
            ("note", Text),
        ],
    ),
    (
        "queue",
        &[
            ("entry_id", Int),
            ("lang", Text),
            ("version", Int),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("lease_until", Int),
            ("last_error", Text),
            ("enqueued_at", Int),
        ],
    ),
    (
        "memory",
        &[
            ("hash", Text),
            ("lang", Text),
            ("engine", Text),
            ("model", Text),
            ("prompt_version", Int),
            ("source", Text),
            ("translation", Text),
            ("created_at", Int),
        ],
    ),
    (
        "translations",
        &[
            ("entry_id", Int),
            ("lang", Text),
            ("version", Int),
            ("title_src", Text),
            ("title", Text),
            ("content_src", Text),
            ("units", Text),
            ("complete", Bool),
            ("translated_at", Int),
            ("seq", Int),
            ("summary", Text),
        ],
    ),
    (
        "usage",
        &[
            ("day", Text),
            ("feed", Text),
            ("entry_id", Int),
            ("engine", Text),
            ("model", Text),
            ("requests", Int),
            ("prompt_tokens", Int),
            ("completion_tokens", Int),
            ("cost_usd", Real),
            ("estimated", Bool),
            ("kind", Text),
            ("repaired", Int),
        ],
    ),
    ("publish_marks", &[("key", Text), ("value", Text)]),
    (
        "subscriptions",
        &[
            ("feed", Text),
            ("hub", Text),
            ("topic", Text),
            ("token", Text),
            ("state", Text),
            ("lease_seconds", Int),
            ("lease_until", Int),
            ("requested_at", Int),
            ("reason", Text),
        ],
    ),
    ("tokens", &[("name", Text), ("hash", Text), ("hint", Text), ("created_at", Int)]),
    ("engines", &[("engine", Text), ("model", Text), ("batch_tokens", Int), ("updated_at", Int)]),
];

/// Rows per batch (one transaction each).
const BATCH: usize = 500;

/// One table's copy: rows in the SQLite store, rows in PostgreSQL after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    pub source: u64,
    pub target: u64,
}

/// Copies `from` into `to`; `progress` hears (table, rows done, rows in all). Jobs leased in the
/// SQLite store arrive queued (their process is gone).
pub fn sqlite_to_postgres(from: &SqliteStore, to: &PgStore, progress: impl Fn(&str, u64, u64)) -> Result<Vec<Copied>> {
    let mut report = Vec::new();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let total: i64 = from.conn().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        let mut done = 0u64;
        let mut after = i64::MIN;
        loop {
            let rows: Vec<(i64, Vec<Value>)> = {
                let conn = from.conn();
                let mut stmt = conn.prepare(&format!("SELECT rowid, {} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2", names.join(", ")))?;
                let rows = stmt.query_map([after, BATCH as i64], |r| {
                    Ok((r.get(0)?, (1..=names.len()).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>()?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            done += rows.len() as u64;
            insert(to, table, columns, rows.into_iter().map(|(_, r)| r).collect())?;
            progress(table, done, total as u64);
        }
        if *table == "entries" {
            // New entries continue after the copied ids.
            to.run(async {
                let c = to.pool.get().await?;
                c.execute("SELECT setval('entries_id_seq', GREATEST((SELECT COALESCE(max(id), 0) FROM entries), 1))", &[]).await?;
                Ok(())
            })?;
        }
        let target = to.run(async {
            let c = to.pool.get().await?;
            Ok(c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get::<_, i64>(0) as u64)
        })?;
        report.push(Copied { table, source: total as u64, target });
    }
    Ok(report)
}

fn insert(to: &PgStore, table: &str, columns: &[(&str, Kind)], rows: Vec<Vec<Value>>) -> Result<()> {
    let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let sql = format!("INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING", names.join(", "), marks.join(", "));
    let leased = table == "queue";
    let params: Vec<Vec<Box<dyn ToSql + Sync + Send>>> = rows
        .into_iter()
        .map(|row| row.into_iter().zip(columns).map(|(v, (name, kind))| param(v, *kind, leased && *name == "state")).collect())
        .collect::<Result<_>>()?;
    to.run(async {
        let mut c = to.pool.get().await?;
        let tx = c.transaction().await?;
        let stmt = tx.prepare(&sql).await?;
        for row in &params {
            let refs: Vec<&(dyn ToSql + Sync)> = row.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            tx.execute(&stmt, &refs).await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// An SQLite value as the PostgreSQL column takes it. A leased job's state becomes queued.
fn param(v: Value, kind: Kind, queue_state: bool) -> Result<Box<dyn ToSql + Sync + Send>> {
    let bad = |v: &Value| StoreError::Sql(format!("unexpected value {v:?} for a column of this type"));
    Ok(match (kind, v) {
        (Int, Value::Integer(i)) => Box::new(Some(i)),
        (Int, Value::Null) => Box::new(None::<i64>),
        (Real, Value::Real(f)) => Box::new(Some(f)),
        (Real, Value::Integer(i)) => Box::new(Some(i as f64)),
        (Real, Value::Null) => Box::new(None::<f64>),
        (Bool, Value::Integer(i)) => Box::new(Some(i != 0)),
        (Bool, Value::Null) => Box::new(None::<bool>),
        (Text, Value::Text(s)) if queue_state && s == "leased" => Box::new(Some("queued".to_string())),
        (Text, Value::Text(s)) => Box::new(Some(s)),
        (Text, Value::Null) => Box::new(None::<String>),
        (_, v) => return Err(bad(&v)),
    })
}
