//! Finished translations as publishing reads them, and the marks publishing leaves.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, entries, from_json};
use crate::store::{FeedMeta, PublishItem, PublishStore, Result, TranslationRow};

/// The columns `translation_row` reads, in order.
pub(super) const COLUMNS: &str = "t.entry_id, t.lang, t.version, t.title_src, t.title, t.content_src, t.units, t.complete, t.translated_at, t.seq, t.summary";

impl PublishStore for SqliteStore {
    fn translation(&self, entry_id: i64, lang: &str) -> Result<Option<TranslationRow>> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM translations t WHERE t.entry_id = ?1 AND t.lang = ?2");
        Ok(conn.query_row(&sql, params![entry_id, lang], |r| translation_row(r, 0)).optional()?)
    }

    fn publish_items(&self, feed: Option<&str>, lang: &str, limit: usize) -> Result<Vec<PublishItem>> {
        let Some(feed) = feed else {
            // Every feed: the language's translations newest first by their index (CROSS JOIN keeps
            // that order), each entry looked up, until `limit` are found; no sort of every entry.
            let sql = format!(
                "SELECT {}, {COLUMNS} FROM translations t CROSS JOIN entries e ON e.id = t.entry_id
                 WHERE t.lang = ?1 AND e.filtered = 0
                 ORDER BY t.sort_at DESC, t.entry_id DESC LIMIT ?2",
                entries::COLUMNS
            );
            return self.items(&sql, params![lang, limit as i64]);
        };
        // One feed: its entries first (by the feed's index), then their translations.
        let sql = format!(
            "SELECT {}, {COLUMNS} FROM entries e CROSS JOIN translations t ON t.entry_id = e.id AND t.lang = ?1
             WHERE e.feed = ?2 AND e.filtered = 0
             ORDER BY COALESCE(e.published, e.updated, e.first_seen) DESC, e.id DESC LIMIT ?3",
            entries::COLUMNS
        );
        self.items(&sql, params![lang, feed, limit as i64])
    }

    fn publish_items_since(&self, lang: &str, since: i64) -> Result<Vec<PublishItem>> {
        let sql = format!(
            "SELECT {}, {COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
             WHERE t.lang = ?1 AND t.seq > ?2 AND e.filtered = 0 ORDER BY t.seq",
            entries::COLUMNS
        );
        self.items(&sql, params![lang, since])
    }

    fn translated_between(&self, lang: &str, from: i64, to: i64, limit: usize) -> Result<Vec<PublishItem>> {
        let sql = format!(
            "SELECT {}, {COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
             WHERE t.lang = ?1 AND t.translated_at > ?2 AND t.translated_at <= ?3 AND e.filtered = 0 ORDER BY t.translated_at, t.seq LIMIT ?4",
            entries::COLUMNS
        );
        self.items(&sql, params![lang, from, to, limit as i64])
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

    fn set_publish_marks(&self, marks: &[(String, String)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (k, v) in marks {
            tx.execute("INSERT OR REPLACE INTO publish_marks (key, value) VALUES (?1, ?2)", params![k, v])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn claim_publish(&self, _secs: i64) -> Result<bool> {
        Ok(true)
    }

    fn release_publish(&self) -> Result<()> {
        Ok(())
    }
}

impl SqliteStore {
    fn items(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PublishItem>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(PublishItem { entry: entries::row(r, 0)?, translation: translation_row(r, 13)?, translated_at: r.get(21)?, seq: r.get(22)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

pub(super) fn translation_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<TranslationRow> {
    Ok(TranslationRow {
        entry_id: r.get(at)?,
        lang: r.get(at + 1)?,
        version: r.get(at + 2)?,
        title_src: r.get(at + 3)?,
        title: r.get(at + 4)?,
        content_src: r.get(at + 5)?,
        units: serde_json::from_str(&r.get::<_, String>(at + 6)?).unwrap_or_default(),
        complete: r.get(at + 7)?,
        summary: r.get(at + 10)?,
    })
}
