//! Finished translations as publishing reads them, the marks it leaves, and the lease that lets
//! one node at a time write `output/`, on PostgreSQL.

use std::collections::HashMap;

use super::feeds::{ENTRY_COLUMNS, entry_row};
use super::{PgStore, from_json};
use crate::store::{FeedMeta, PublishItem, PublishStore, Result, TranslationRow};

/// The columns `translation_row` reads, in order.
const COLUMNS: &str = "t.entry_id, t.lang, t.version, t.title_src, t.title, t.content_src, t.units, t.complete, t.translated_at, t.seq, t.summary";

fn translation_row(r: &tokio_postgres::Row, at: usize) -> TranslationRow {
    TranslationRow {
        entry_id: r.get(at),
        lang: r.get(at + 1),
        version: r.get(at + 2),
        title_src: r.get(at + 3),
        title: r.get(at + 4),
        content_src: r.get(at + 5),
        units: serde_json::from_str(&r.get::<_, String>(at + 6)).unwrap_or_default(),
        complete: r.get(at + 7),
        summary: r.get(at + 10),
    }
}

fn item(r: &tokio_postgres::Row) -> PublishItem {
    PublishItem { entry: entry_row(r, 0), translation: translation_row(r, 13), translated_at: r.get(21), seq: r.get(22) }
}

impl PublishStore for PgStore {
    fn translation(&self, entry_id: i64, lang: &str) -> Result<Option<TranslationRow>> {
        self.run(async {
            let c = self.pool.get().await?;
            let row = c.query_opt(&format!("SELECT {COLUMNS} FROM translations t WHERE t.entry_id = $1 AND t.lang = $2"), &[&entry_id, &lang]).await?;
            Ok(row.map(|r| translation_row(&r, 0)))
        })
    }

    fn publish_items(&self, feed: Option<&str>, lang: &str, limit: usize) -> Result<Vec<PublishItem>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {ENTRY_COLUMNS}, {COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
                         WHERE t.lang = $1 AND ($2::TEXT IS NULL OR e.feed = $2) AND NOT e.filtered
                         ORDER BY COALESCE(e.published, e.updated, e.first_seen) DESC, e.id DESC LIMIT $3"
                    ),
                    &[&lang, &feed, &(limit as i64)],
                )
                .await?;
            Ok(rows.iter().map(item).collect())
        })
    }

    fn publish_items_since(&self, lang: &str, since: i64) -> Result<Vec<PublishItem>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {ENTRY_COLUMNS}, {COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
                         WHERE t.lang = $1 AND t.seq > $2 AND NOT e.filtered ORDER BY t.seq"
                    ),
                    &[&lang, &since],
                )
                .await?;
            Ok(rows.iter().map(item).collect())
        })
    }

    fn translated_between(&self, lang: &str, from: i64, to: i64, limit: usize) -> Result<Vec<PublishItem>> {
        self.run(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {ENTRY_COLUMNS}, {COLUMNS} FROM translations t JOIN entries e ON e.id = t.entry_id
                         WHERE t.lang = $1 AND t.translated_at > $2 AND t.translated_at <= $3 AND NOT e.filtered ORDER BY t.translated_at, t.seq LIMIT $4"
                    ),
                    &[&lang, &from, &to, &(limit as i64)],
                )
                .await?;
            Ok(rows.iter().map(item).collect())
        })
    }

    fn publish_fingerprint(&self, feed: &str, lang: &str) -> Result<String> {
        self.run(async {
            let c = self.pool.get().await?;
            let r = c
                .query_one(
                    "SELECT count(*), max(t.seq), sum(t.version)::BIGINT FROM entries e JOIN translations t ON t.entry_id = e.id AND t.lang = $2
                     WHERE e.feed = $1 AND NOT e.filtered",
                    &[&feed, &lang],
                )
                .await?;
            let (count, latest, sum): (i64, Option<i64>, Option<i64>) = (r.get(0), r.get(1), r.get(2));
            let meta: Option<(Option<String>, Option<String>)> =
                c.query_opt("SELECT title, authors FROM feeds WHERE name = $1", &[&feed]).await?.map(|r| (r.get(0), r.get(1)));
            Ok(format!("{count}:{}:{}:{:?}", latest.unwrap_or(0), sum.unwrap_or(0), meta))
        })
    }

    fn feed_meta(&self, feed: &str) -> Result<Option<FeedMeta>> {
        self.run(async {
            let c = self.pool.get().await?;
            let row = c.query_opt("SELECT title, site_url, authors FROM feeds WHERE name = $1", &[&feed]).await?;
            Ok(row.map(|r| FeedMeta {
                title: r.get::<_, Option<String>>(0).unwrap_or_default(),
                site_url: r.get(1),
                authors: from_json(&r.get::<_, String>(2)),
            }))
        })
    }

    fn publish_marks(&self) -> Result<HashMap<String, String>> {
        self.run(async {
            let c = self.pool.get().await?;
            Ok(c.query("SELECT key, value FROM publish_marks", &[]).await?.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn set_publish_marks(&self, marks: &[(String, String)]) -> Result<()> {
        self.run(async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            for (k, v) in marks {
                tx.execute("INSERT INTO publish_marks (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", &[k, v]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn claim_publish(&self, secs: i64) -> Result<bool> {
        self.run(async {
            let c = self.pool.get().await?;
            let t = crate::model::now();
            let n =
                c.execute("UPDATE publish_lease SET node = $1, until = $2 WHERE id = 1 AND (until < $3 OR node = $1)", &[&self.node, &(t + secs), &t]).await?;
            Ok(n == 1)
        })
    }

    fn release_publish(&self) -> Result<()> {
        self.run(async {
            let c = self.pool.get().await?;
            c.execute("UPDATE publish_lease SET until = 0 WHERE id = 1 AND node = $1", &[&self.node]).await?;
            Ok(())
        })
    }
}
