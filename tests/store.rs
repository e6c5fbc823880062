//! The store's contract, one suite for every backend: what refresh, the worker, publishing, the
//! server and the commands rely on, through the `Store` traits alone. Runs on a real SQLite file
//! and on a real PostgreSQL server (a throwaway cluster); then what several nodes sharing one
//! PostgreSQL rely on, and `polyfeed db copy` from one to the other.

mod common;

use std::collections::HashMap;

use common::pg::Postgres;
use polyfeed::config::Filters;
use polyfeed::detect::detect;
use polyfeed::model::Entry;
use polyfeed::store::{
    Applied, EngineModel, FeedStore, FetchRecord, FetchResult, Job, JobEnd, MemoryKey, MemoryRow, MemoryStore, NodeStore, PgStore, PublishStore, QueueCounts,
    QueueStore, Retried, Spent, SqliteStore, Store, TranslationRow, UsageKind, UsageRow, UsageStore,
};

fn entry(id: &str, day: u32, body: &str) -> Entry {
    let published = polyfeed::parse::parse_timestamp(&format!("2026-11-{day:02}T10:00:00Z"));
    Entry {
        key: polyfeed::parse::entry_key(id, None, "", None),
        source_id: id.into(),
        link: Some(format!("https://e.org/{id}")),
        title: format!("Title {id}"),
        content: body.into(),
        categories: vec!["ai".into()],
        published,
        updated: published,
        ..Entry::default()
    }
}

/// One fetch of `feed` with `entries`, detected against what the store knows, as refresh does it.
fn fetch(store: &dyn Store, feed: &str, entries: &[Entry]) -> Applied {
    let known = store.known_entries(feed).unwrap();
    let first = !store.feed_state(feed).unwrap().has_entries;
    let d = detect(entries, &known, first, 10, &Filters::default());
    let mut record = FetchRecord::new(FetchResult::Ok);
    record.etag = Some("\"v1\"".into());
    store.record_fetch(feed, &format!("https://e.org/{feed}.xml"), &record, Some(&d), &["zh-CN"]).unwrap()
}

fn done(job: &Job, title: &str) -> JobEnd {
    JobEnd::Done(TranslationRow {
        entry_id: job.entry_id,
        lang: job.lang.clone(),
        version: job.version,
        title_src: "src".into(),
        title: title.into(),
        content_src: "<p>x</p>".into(),
        units: vec![Some("<p>译</p>".into())],
        complete: true,
        summary: Some(format!("{title}的摘要")),
    })
}

/// Every part of the contract, in order, on one fresh store.
pub fn suite(store: &dyn Store) {
    feeds_and_entries(store);
    queue(store);
    memory_and_usage(store);
    publishing(store);
    tokens(store);
    subscriptions(store);
}

fn subscriptions(store: &dyn Store) {
    use polyfeed::store::{Subscription, SubscriptionState};
    let wanted = Subscription {
        feed: "a".into(),
        hub: "https://hub.example/".into(),
        topic: "https://e.org/a.xml".into(),
        token: "t0k3n".into(),
        state: SubscriptionState::Wanted,
        lease_seconds: None,
        lease_until: None,
        requested_at: None,
        reason: None,
    };
    store.put_subscription(&wanted).unwrap();
    let active = Subscription {
        state: SubscriptionState::Active,
        lease_seconds: Some(864_000),
        lease_until: Some(1_900_000_000),
        requested_at: Some(1_899_000_000),
        ..wanted.clone()
    };
    store.put_subscription(&active).unwrap();
    store.put_subscription(&Subscription { feed: "b".into(), token: "other".into(), ..wanted.clone() }).unwrap();
    assert_eq!(store.subscription_by_token("t0k3n").unwrap(), Some(active.clone()), "one per feed, replaced");
    assert_eq!(store.subscription_by_token("nope").unwrap(), None);
    assert_eq!(store.subscription("a").unwrap(), Some(active.clone()));
    assert_eq!(store.subscriptions().unwrap().iter().map(|s| s.feed.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    store.drop_subscription("b").unwrap();
    assert_eq!(store.subscriptions().unwrap(), [active]);
}

fn feeds_and_entries(store: &dyn Store) {
    assert_eq!(store.feed_state("a").unwrap(), Default::default(), "a feed never fetched has the default state");
    let doc = [entry("a1", 1, "<p>one</p>"), entry("a2", 2, "<p>two</p>")];
    assert_eq!(fetch(store, "a", &doc), Applied { new: 2, queued: 2, ..Applied::default() });
    assert_eq!(fetch(store, "a", &doc), Applied::default(), "nothing is detected twice");
    let state = store.feed_state("a").unwrap();
    assert!(state.has_entries);
    assert_eq!((state.etag.as_deref(), state.failures), (Some("\"v1\""), 0));
    assert_eq!(store.known_entries("a").unwrap().len(), 2);

    // Failures count up and keep the validators; a success resets them.
    let fail = FetchRecord::new(FetchResult::Failed("HTTP 500".into()));
    store.record_fetch("a", "https://e.org/a.xml", &fail, None, &[]).unwrap();
    store.record_fetch("a", "https://e.org/a.xml", &fail, None, &[]).unwrap();
    let state = store.feed_state("a").unwrap();
    assert_eq!((state.failures, state.etag.as_deref()), (2, Some("\"v1\"")));
    let edited = [entry("a1", 1, "<p>one, edited</p>")];
    assert_eq!(fetch(store, "a", &edited), Applied { updated: 1, queued: 1, gone: 1, ..Applied::default() });
    assert_eq!(store.feed_state("a").unwrap().failures, 0);
    // A tombstone is never new again.
    assert_eq!(fetch(store, "a", &[entry("a1", 1, "<p>one, edited</p>"), entry("a2", 2, "<p>two</p>")]), Applied::default());

    fetch(store, "b", &[entry("b1", 3, "<p>three</p>")]);
    let summaries = store.feed_summaries().unwrap();
    let names: Vec<&str> = summaries.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!((summaries[0].entries, summaries[0].queued, summaries[0].last_result.as_deref()), (2, 2, Some("ok")));
}

fn queue(store: &dyn Store) {
    assert_eq!(store.queue_counts().unwrap(), QueueCounts { queued: 3, ..QueueCounts::default() });
    let jobs = store.lease_jobs(10, 600).unwrap();
    // Newest entries first.
    let order: Vec<String> = jobs.iter().map(|j| store.entry(j.entry_id).unwrap().unwrap().entry.source_id).collect();
    assert_eq!(order, ["b1", "a2", "a1"]);
    assert!(store.lease_jobs(10, 600).unwrap().is_empty(), "a leased job is not leased twice");
    assert_eq!(store.queue_counts().unwrap().leased, 3);

    let by_id: HashMap<&str, &Job> = order.iter().map(String::as_str).zip(&jobs).collect();
    let a1 = store.entry(by_id["a1"].entry_id).unwrap().unwrap();
    assert_eq!((a1.version, a1.entry.content.as_str()), (2, "<p>one, edited</p>"));
    store.finish_job(by_id["b1"], &done(by_id["b1"], "标题 b1")).unwrap();
    store.finish_job(by_id["a2"], &JobEnd::Retry { at: i64::MAX / 2, reason: "1 of 2 blocks untranslated".into() }).unwrap();
    store.finish_job(by_id["a1"], &JobEnd::Failed { reason: "every reply lost a link".into() }).unwrap();
    assert_eq!(store.queue_counts().unwrap(), QueueCounts { queued: 1, leased: 0, done: 1, failed: 1 });
    assert!(store.lease_jobs(10, 600).unwrap().is_empty(), "a retry waits for its time");

    let owed = store.unpublished(&["a", "b"], 10).unwrap();
    assert_eq!(owed.total, 2);
    let states: Vec<(&str, &str)> = owed.posts.iter().map(|u| (u.title.as_str(), u.state.as_str())).collect();
    assert_eq!(states, [("Title a1", "failed"), ("Title a2", "queued")], "oldest first");
    assert_eq!(owed.posts[0].last_error.as_deref(), Some("every reply lost a link"));
    assert_eq!(store.unpublished(&["b"], 10).unwrap().total, 0);
    assert_eq!(store.feed_summaries().unwrap()[0].failures_reasons, ["every reply lost a link"]);

    assert_eq!(store.retry_failed(Some("b")).unwrap(), Retried::default());
    assert_eq!(store.retry_failed(None).unwrap(), Retried { failed: 1, waiting: 1 });
    let again = store.lease_jobs(10, 600).unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|j| j.attempts == 0), "fresh attempts");
    // A crash leaves jobs leased: the lock holder takes them back.
    assert_eq!(store.recover_leases().unwrap(), 2);
    for job in store.lease_jobs(10, 600).unwrap() {
        store.finish_job(&job, &done(&job, &format!("标题 {}", job.entry_id))).unwrap();
    }
    assert_eq!(store.queue_counts().unwrap(), QueueCounts { done: 3, ..QueueCounts::default() });
    // Finishing a job whose entry changed meanwhile (another version) changes nothing.
    let stale = Job { version: 1, ..again[0].clone() };
    store.finish_job(&stale, &JobEnd::Failed { reason: "late".into() }).unwrap();
    assert_eq!(store.queue_counts().unwrap().failed, 0);
}

fn memory_and_usage(store: &dyn Store) {
    let row = |hash: &str, engine: &str, t: &str| MemoryRow {
        hash: hash.into(),
        lang: "zh-CN".into(),
        engine: engine.into(),
        model: "m".into(),
        instructions: 42,
        source: "<p>src</p>".into(),
        translation: t.into(),
    };
    let usage = |day: &str, feed: &str, tokens: u64, usd: f64| UsageRow {
        day: day.into(),
        feed: feed.into(),
        entry_id: 1,
        engine: "openai".into(),
        model: "m".into(),
        requests: 1,
        prompt_tokens: tokens,
        completion_tokens: 0,
        cost_usd: usd,
        estimated: false,
        kind: UsageKind::Translation,
        repaired: 0,
    };
    store.memory_store(&[row("h1", "openai", "一"), row("h2", "deepl", "二")], &[usage("2026-11-30", "a", 100, 0.5)]).unwrap();
    store.memory_store(&[row("h1", "deepl", "壹")], &[usage("2026-12-01", "a", 10, 0.25), usage("2026-12-01", "b", 5, 0.0)]).unwrap();
    // The same request's usage again adds up; it never replaces.
    store.memory_store(&[], &[usage("2026-12-01", "a", 10, 0.25)]).unwrap();

    let engines = [EngineModel { engine: "openai".into(), model: "m".into() }, EngineModel { engine: "deepl".into(), model: "m".into() }];
    let keys = |h: &[&str], instructions: i64| h.iter().map(|h| MemoryKey { hash: h.to_string(), instructions }).collect::<Vec<_>>();
    let found = store.memory_lookup(&keys(&["h1", "h2", "h3"], 42), "zh-CN", &engines).unwrap();
    let want: HashMap<String, String> = [("h1", "一"), ("h2", "二")].into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(found, want, "the first engine of the chain that has a block wins");
    assert!(store.memory_lookup(&keys(&["h1"], 43), "zh-CN", &engines).unwrap().is_empty(), "other instructions, other memory");
    assert!(store.memory_lookup(&keys(&["h1"], 42), "ja", &engines).unwrap().is_empty());

    assert_eq!(store.usage_since("2026-12-01", None).unwrap(), Spent { tokens: 25, usd: 0.5 });
    assert_eq!(store.usage_since("2026-11-01", Some("a")).unwrap(), Spent { tokens: 120, usd: 1.0 });
    let days: Vec<(String, u64)> = store.usage_by_day("2026-11-01").unwrap().into_iter().map(|d| (d.day, d.tokens)).collect();
    assert_eq!(days, [("2026-11-30".to_string(), 100), ("2026-12-01".to_string(), 25)]);

    // A summary of the same entry by the same engine is counted apart, and in the totals.
    let summary = UsageRow { kind: UsageKind::Summary, ..usage("2026-12-01", "a", 7, 0.125) };
    store.memory_store(&[], std::slice::from_ref(&summary)).unwrap();
    store.memory_store(&[], &[summary]).unwrap();
    assert_eq!(store.usage_of_kind_since(UsageKind::Summary, "2026-12-01").unwrap(), Spent { tokens: 14, usd: 0.25 });
    assert_eq!(store.usage_of_kind_since(UsageKind::Translation, "2026-12-01").unwrap(), Spent { tokens: 25, usd: 0.5 });
    assert_eq!(store.usage_since("2026-12-01", None).unwrap(), Spent { tokens: 39, usd: 0.75 });

    // Repairs add up per feed, beside what was spent.
    let repair = UsageRow { repaired: 1, ..usage("2026-12-02", "a", 3, 0.0) };
    store.memory_store(&[], std::slice::from_ref(&repair)).unwrap();
    store.memory_store(&[], &[repair]).unwrap();
    let repaired: Vec<(String, u64)> = store.feed_summaries().unwrap().into_iter().map(|s| (s.name, s.repaired)).collect();
    assert_eq!(repaired, [("a".to_string(), 2), ("b".to_string(), 0)]);
}

fn publishing(store: &dyn Store) {
    let items = store.publish_items(None, "zh-CN", 10).unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i.entry.entry.source_id.as_str()).collect();
    assert_eq!(ids, ["b1", "a2", "a1"], "newest first");
    assert_eq!(store.publish_items(Some("a"), "zh-CN", 1).unwrap().len(), 1);
    assert!(store.publish_items(None, "ja", 10).unwrap().is_empty());
    let a1 = items.iter().find(|i| i.entry.entry.source_id == "a1").unwrap();
    assert_eq!(store.translation(a1.entry.id, "zh-CN").unwrap().as_ref(), Some(&a1.translation));
    assert!(a1.translation.summary.as_deref().is_some_and(|s| s.ends_with("的摘要")), "the summary is kept with its translation");

    let last = items.iter().map(|i| i.seq).max().unwrap();
    assert!(store.publish_items_since("zh-CN", last).unwrap().is_empty());
    // By when they were translated (a digest's period): after `from`, up to and with `to`.
    let made = items.iter().map(|i| i.translated_at).max().unwrap();
    let between = |from: i64, to: i64, limit: usize| store.translated_between("zh-CN", from, to, limit).unwrap().len();
    assert_eq!((between(made - 3600, made, 10), between(made - 3600, made, 2), between(made, made + 3600, 10)), (3, 2, 0));
    assert_eq!(between(made - 3600, made - 1, 10) + between(made - 1, made, 10), 3, "periods that meet share nothing");
    let before = store.publish_fingerprint("a", "zh-CN").unwrap();
    assert_eq!(before, store.publish_fingerprint("a", "zh-CN").unwrap());

    // The entry changes: queued again, translated again, seen by publishing as a change.
    fetch(store, "a", &[entry("a1", 1, "<p>one, edited twice</p>"), entry("a2", 2, "<p>two</p>")]);
    let job = store.lease_jobs(10, 600).unwrap().pop().unwrap();
    store.finish_job(&job, &done(&job, "新标题")).unwrap();
    let changed = store.publish_items_since("zh-CN", last).unwrap();
    assert_eq!(changed.iter().map(|i| i.translation.title.as_str()).collect::<Vec<_>>(), ["新标题"]);
    assert_ne!(store.publish_fingerprint("a", "zh-CN").unwrap(), before);

    let meta = store.feed_meta("a").unwrap();
    assert!(meta.is_some());
    store.set_publish_marks(&[("k".into(), "1".into()), ("l".into(), "2".into())]).unwrap();
    store.set_publish_marks(&[("k".into(), "3".into())]).unwrap();
    let marks = store.publish_marks().unwrap();
    assert_eq!((marks["k"].as_str(), marks["l"].as_str()), ("3", "2"));
}

fn tokens(store: &dyn Store) {
    assert!(store.add_token("reader", "hash-1", "abc123").unwrap());
    assert!(!store.add_token("reader", "hash-2", "def456").unwrap(), "a name is taken once");
    assert!(store.add_token("other", "hash-3", "0f0f0f").unwrap());
    assert_eq!(store.token_hashes().unwrap().len(), 2);
    let names: Vec<String> = store.tokens().unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["other", "reader"]);
    assert!(store.revoke_token("reader").unwrap());
    assert!(!store.revoke_token("reader").unwrap());
    assert_eq!(store.token_hashes().unwrap(), ["hash-3"]);
}

#[test]
fn sqlite_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("polyfeed.sqlite")).unwrap();
    suite(&store);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn postgres_keeps_the_contract() {
    let Some(pg) = Postgres::start("postgres_keeps_the_contract") else { return };
    let store = PgStore::open(&pg.database("contract"), 60).unwrap();
    suite(&store);
    // A second process opening the same database finds it migrated and shares it.
    let again = PgStore::open(&pg.url("contract"), 60).unwrap();
    assert_eq!(again.queue_counts().unwrap(), store.queue_counts().unwrap());
    assert_eq!(again.queue_counts().unwrap().done, 3);
    assert_ne!(again.this_node(), store.this_node());
    let names: Vec<String> = again.nodes().unwrap().into_iter().map(|n| n.name).collect();
    assert!(names.contains(&store.this_node()) && names.contains(&again.this_node()), "{names:?}");
}

#[test]
fn a_database_of_something_else_is_refused_untouched() {
    let Some(pg) = Postgres::start("a_database_of_something_else_is_refused_untouched") else { return };
    let url = pg.database("shop");
    pg.sql("shop", "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);");
    let e = PgStore::open(&url, 60).err().unwrap().to_string();
    assert!(e.contains("not a polyfeed store") && e.contains("1 tables of something else"), "{e}");
    assert_eq!(pg.sql("shop", "SELECT total FROM invoices"), "9.5");
    assert_eq!(pg.sql("shop", "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"), "1");
}

/// Queues `n` new posts of `feed` in `store` (all of them: not a first fetch's backfill).
fn queue_posts(store: &dyn Store, feed: &str, n: u32) {
    let posts: Vec<Entry> = (0..n).map(|i| entry(&format!("{feed}-{i}"), 1 + i % 28, "<p>text</p>")).collect();
    let known = store.known_entries(feed).unwrap();
    let d = detect(&posts, &known, false, 10, &Filters::default());
    store.record_fetch(feed, &format!("https://e.org/{feed}.xml"), &FetchRecord::new(FetchResult::Ok), Some(&d), &["zh-CN"]).unwrap();
}

#[test]
fn nodes_share_the_queue_by_leases_and_a_dead_nodes_jobs_come_back() {
    let Some(pg) = Postgres::start("nodes_share_the_queue_by_leases_and_a_dead_nodes_jobs_come_back") else { return };
    let url = pg.database("shared");
    let a = PgStore::open(&url, 60).unwrap();
    let b = PgStore::open(&url, 60).unwrap();
    queue_posts(&a, "f", 60);
    // Both lease at once, in small chunks: no job is leased twice, every job is leased once.
    fn take(store: &PgStore) -> Vec<i64> {
        let mut ids = Vec::new();
        loop {
            let jobs = store.lease_jobs(7, 600).unwrap();
            if jobs.is_empty() {
                return ids;
            }
            ids.extend(jobs.iter().map(|j| j.entry_id));
        }
    }
    let leased: Vec<Vec<i64>> = std::thread::scope(|s| {
        let (ha, hb) = (s.spawn(|| take(&a)), s.spawn(|| take(&b)));
        vec![ha.join().unwrap(), hb.join().unwrap()]
    });
    let mut all: Vec<i64> = leased.concat();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (60, 60), "every job leased once: {} and {}", leased[0].len(), leased[1].len());
    assert_eq!(a.queue_counts().unwrap().leased, 60);

    // Each node takes back only its own leases.
    assert_eq!(a.recover_leases().unwrap(), leased[0].len());
    assert_eq!(a.queue_counts().unwrap().leased, leased[1].len() as u64);
    // b dies (kill -9: nothing released); its leases expire and a finishes its work.
    let b_name = b.this_node();
    drop(b);
    assert!(a.lease_jobs(100, 600).unwrap().len() == leased[0].len(), "b's jobs stay b's while its leases hold");
    pg.sql("shared", &format!("UPDATE queue SET lease_until = 0 WHERE leased_by = '{b_name}'"));
    let taken = a.lease_jobs(100, 600).unwrap();
    assert_eq!(taken.len(), leased[1].len(), "the dead node's jobs, leased again after the expiry");
    for job in a.lease_jobs(100, 600).unwrap().iter().chain(&taken) {
        a.finish_job(job, &done(job, "标题")).unwrap();
    }
    assert_eq!(a.queue_counts().unwrap().leased, leased[0].len() as u64);
}

#[test]
fn a_feed_is_fetched_once_per_tick_and_one_node_publishes_at_a_time() {
    let Some(pg) = Postgres::start("a_feed_is_fetched_once_per_tick_and_one_node_publishes_at_a_time") else { return };
    let url = pg.database("ticks");
    let nodes: Vec<PgStore> = (0..4).map(|_| PgStore::open(&url, 60).unwrap()).collect();
    let tick: i64 = 1_796_000_000_000;
    // Four nodes scheduling the same tick: one fetches.
    let won: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes.iter().map(|n| s.spawn(|| n.claim_fetch("f", "https://e.org/f.xml", tick).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    // However late a node comes for that tick (or an earlier one), it is fetched; the next tick is free.
    assert!(!nodes[2].claim_fetch("f", "https://e.org/f.xml", tick).unwrap());
    assert!(!nodes[3].claim_fetch("f", "https://e.org/f.xml", tick - 1000).unwrap());
    assert!(nodes[1].claim_fetch("f", "https://e.org/f.xml", tick + 1000).unwrap());
    assert!(!nodes[2].claim_fetch("f", "https://e.org/f.xml", tick + 1000).unwrap());

    // A block one node is translating is not paid for by another.
    let keys = |hs: &[&str]| hs.iter().map(|h| MemoryKey { hash: h.to_string(), instructions: 1 }).collect::<Vec<_>>();
    let a = nodes[0].claim_units("zh-CN", &keys(&["h1", "h2"])).unwrap();
    let b = nodes[1].claim_units("zh-CN", &keys(&["h2", "h3"])).unwrap();
    assert_eq!((a.len(), b.iter().collect::<Vec<_>>()), (2, vec![&"h3".to_string()]));
    assert_eq!(nodes[1].claim_units("ja", &keys(&["h2"])).unwrap().len(), 1, "another language is another block");
    nodes[0].release_units("zh-CN", &keys(&["h1", "h2"])).unwrap();
    assert_eq!(nodes[1].claim_units("zh-CN", &keys(&["h2"])).unwrap().len(), 1);

    assert!(nodes[0].claim_publish(300).unwrap());
    assert!(nodes[0].claim_publish(300).unwrap(), "its own claim, renewed");
    assert!(!nodes[1].claim_publish(300).unwrap(), "one publisher at a time");
    nodes[0].release_publish().unwrap();
    assert!(nodes[1].claim_publish(300).unwrap());
}

#[test]
fn db_copy_moves_an_sqlite_store_into_postgres_resumably() {
    let Some(pg) = Postgres::start("db_copy_moves_an_sqlite_store_into_postgres_resumably") else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("polyfeed.sqlite")).unwrap();
    suite(&sqlite);
    queue_posts(&sqlite, "g", 700);
    let leased = sqlite.lease_jobs(3, 600).unwrap();
    let url = pg.database("copied");
    let target = PgStore::open(&url, 60).unwrap();
    let copied = polyfeed::store::copy::sqlite_to_postgres(&sqlite, &target, |_, _, _| {}).unwrap();
    for c in &copied {
        assert_eq!(c.source, c.target, "{c:?}");
    }
    let rows = |t: &str| copied.iter().find(|c| c.table == t).unwrap().source;
    assert_eq!((rows("entries"), rows("queue"), rows("tokens")), (703, 703, 1));
    // Copied again (an interrupted copy resumed): nothing twice.
    let again = polyfeed::store::copy::sqlite_to_postgres(&sqlite, &target, |_, _, _| {}).unwrap();
    assert_eq!(again, copied);
    // The same store, read through the other backend.
    assert_eq!(target.feed_summaries().unwrap(), sqlite.feed_summaries().unwrap());
    assert_eq!(target.publish_items(None, "zh-CN", 10).unwrap(), sqlite.publish_items(None, "zh-CN", 10).unwrap());
    assert_eq!(target.usage_since("2026-11-01", None).unwrap(), sqlite.usage_since("2026-11-01", None).unwrap());
    assert_eq!(target.usage_of_kind_since(UsageKind::Summary, "2026-11-01").unwrap(), sqlite.usage_of_kind_since(UsageKind::Summary, "2026-11-01").unwrap());
    assert_eq!(target.queue_counts().unwrap().leased, 0);
    // Jobs leased in SQLite arrive queued: their process is gone.
    assert_eq!(target.queue_counts().unwrap().queued, sqlite.queue_counts().unwrap().queued + leased.len() as u64);
    // New entries get new ids after the copied ones.
    queue_posts(&target, "h", 1);
    let new = target.known_entries("h").unwrap();
    assert!(new[0].id > 703, "{new:?}");
}
