//! The entries table: what each feed holds, tombstones included.

use rusqlite::{Transaction, params};

use super::{from_json, to_json};
use crate::detect::Detected;
use crate::model::Entry;
use crate::store::{Result, StoredEntry};

/// The columns `row` reads, in order.
pub(super) const COLUMNS: &str =
    "e.id, e.feed, e.version, e.key, e.source_id, e.link, e.title, e.content, e.authors, e.categories, e.published, e.updated, e.note";

pub(super) fn insert(tx: &Transaction, feed: &str, d: &Detected, t: i64) -> Result<i64> {
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
        d.stored_content(),
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

pub(super) fn update(tx: &Transaction, id: i64, d: &Detected, t: i64) -> Result<()> {
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
        d.stored_content(),
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

pub(super) fn row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<StoredEntry> {
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
