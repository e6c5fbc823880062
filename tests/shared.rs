//! Several daemons on one PostgreSQL, end to end: the real binary twice, a throwaway PostgreSQL
//! cluster, loopback feeds and engine. Each feed is fetched once per tick between them, each
//! block paid for once, one of them publishes; a daemon killed with SIGKILL while it holds jobs
//! loses them at its leases' expiry and the other finishes its work.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::engine::{self, CHAT, request_blocks};
use common::pg::Postgres;
use common::running::{Running, free_port, get, wait_until};
use common::{AtomEntry, BodyKind, Reply, Server, Workdir, atom_feed, config_for};

const ATOM: &str = "application/atom+xml; charset=utf-8";
const FEEDS: usize = 6;

/// Posts of feed `f`: each has a paragraph of its own, and one that every feed shares (a quoted
/// announcement): the same block in six jobs, which the nodes must pay for once.
fn posts(f: usize, tag: &str) -> Vec<AtomEntry> {
    (0..3)
        .map(|i| AtomEntry {
            day: 10 + i as u32,
            slug: format!("{tag}-{f}-{i}"),
            title: format!("Notes {tag} number {i} of feed {f}"),
            html: format!(
                "<p>This is post {i} of feed {f}, written for the {tag} run of the test.</p>\
                 <p>The conference {tag} announced its program for next year, with talks on every topic.</p>"
            ),
            tags: vec![],
        })
        .collect()
}

/// A daemon's config: its own cache, the shared database and output folder, one-second schedules.
fn config(feeds: &Server, engine_url: &str, port: u16, db: &str, output: &std::path::Path) -> String {
    let names: Vec<(String, String)> = (0..FEEDS).map(|f| (format!("f{f}"), feeds.url(&format!("/f{f}")))).collect();
    let list: Vec<(&str, &str)> = names.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    let top = format!(
        "schedule = \"* * * * * *\"\ndatabase_url = \"{db}\"\nlease_seconds = 3\noutput_dir = \"{}\"\n{}\n[server]\nlisten = \"127.0.0.1:{port}\"\ngrace_period = 2\n[publish]\npublic_url = \"http://127.0.0.1:{port}/\"\n",
        output.display(),
        engine::translator_config(engine_url, "max_concurrency = 2")
    );
    config_for(&list, &top, "backfill = 10")
}

#[test]
fn two_daemons_share_one_postgres_and_a_killed_one_loses_nothing() {
    let Some(pg) = Postgres::start("two_daemons_share_one_postgres_and_a_killed_one_loses_nothing") else { return };
    let db = pg.database("shared");
    let feeds = Server::start();
    for f in 0..FEEDS {
        feeds.feed(&format!("/f{f}"), ATOM, &atom_feed(&posts(f, "first"), false), "\"v1\"");
    }
    let engine_server = Server::start();
    // A switch: while set, the engine hangs on every request (a node holding jobs when it dies).
    let hang = Arc::new(AtomicBool::new(false));
    let h = hang.clone();
    engine_server.route(CHAT, move |req, _| {
        if h.load(Ordering::SeqCst) {
            return Reply { status: 200, headers: vec![], body: BodyKind::Drip { chunk: b" ".to_vec(), every: Duration::from_millis(500), count: 600 } };
        }
        engine::translate(req)
    });
    let output = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let wa = Workdir::new(&config(&feeds, &engine_server.url("/v1"), pa, &db, output.path()));
    let wb = Workdir::new(&config(&feeds, &engine_server.url("/v1"), pb, &db, output.path()));
    let translated = || pg.sql("shared", "SELECT count(*) FROM translations WHERE complete").parse::<usize>().unwrap();

    // 1. Both daemons: every post arrives once.
    let logs = tempfile::tempdir().unwrap();
    let (log_a, log_b) = (logs.path().join("a.log"), logs.path().join("b.log"));
    let a = Running::start_logged(&wa, "daemon", pa, &log_a);
    let b = Running::start_logged(&wb, "daemon", pb, &log_b);
    let started = std::time::Instant::now();
    wait_until(Duration::from_secs(60), || translated() == FEEDS * 3, "both daemons translate every post");
    // Let a few more ticks pass with nothing new: fetches go on, once per tick between them.
    wait_until(Duration::from_secs(30), || started.elapsed() > Duration::from_secs(5), "a few ticks");
    // Each daemon logs the schedule tick of every fetch it claims: no (feed, tick) twice, and
    // every fetch the feed server saw was one of those claims.
    // (The server's count first: a fetch it saw was logged before it was sent.)
    let fetched: Vec<usize> = (0..FEEDS).map(|f| feeds.seen(&format!("/f{f}")).len()).collect();
    let mut claims: std::collections::HashMap<(String, i64), usize> = std::collections::HashMap::new();
    for log in [&log_a, &log_b] {
        for line in std::fs::read_to_string(log).unwrap().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if v["fields"]["message"] == "fetching for its tick" {
                *claims.entry((v["fields"]["feed"].as_str().unwrap().to_string(), v["fields"]["tick_ms"].as_i64().unwrap())).or_default() += 1;
            }
        }
    }
    for (f, &fetches) in fetched.iter().enumerate() {
        let name = format!("f{f}");
        let ticks: Vec<(&i64, &usize)> = claims.iter().filter(|((n, _), _)| *n == name).map(|((_, t), c)| (t, c)).collect();
        assert!(ticks.len() >= 3, "feed {name} claimed for {} ticks", ticks.len());
        assert!(ticks.iter().all(|(_, c)| **c == 1), "feed {name} fetched twice in one tick: {ticks:?}");
        assert!(fetches <= ticks.len(), "feed {name}: {fetches} fetches for {} claimed ticks", ticks.len());
        assert!(fetches as u64 <= started.elapsed().as_secs() + 2, "feed {name}: {fetches} fetches in {:?}", started.elapsed());
    }
    let sent: Vec<String> = engine_server.seen(CHAT).iter().flat_map(|s| request_blocks(s).into_iter().map(|b| b.2)).collect();
    let mut distinct = sent.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(sent.len(), distinct.len(), "a block paid for twice");
    assert!(sent.iter().filter(|b| b.contains("announced its program")).count() == 1, "the shared paragraph, once for six posts");
    // Both serve what one of them published, and both show both nodes.
    for port in [pa, pb] {
        let feed = get(&format!("http://127.0.0.1:{port}/all/zh-CN/atom.xml"), &[]).unwrap();
        assert_eq!(feed.status, 200);
        assert_eq!(feed.text().matches("<entry>").count(), FEEDS * 3);
    }
    let metrics = get(&a.url("/metrics"), &[]).unwrap().text();
    assert_eq!(metrics.matches("polyfeed_node_alive{").count(), 2, "{metrics}");

    // 2. b stops; a takes new posts while the engine hangs, and is killed holding their jobs.
    let (code, _, stderr) = b.stop();
    assert_eq!(code, 0, "{stderr}");
    hang.store(true, Ordering::SeqCst);
    for f in 0..FEEDS {
        let all: Vec<AtomEntry> = posts(f, "second").into_iter().chain(posts(f, "first")).collect();
        feeds.feed(&format!("/f{f}"), ATOM, &atom_feed(&all, false), "\"v2\"");
    }
    wait_until(
        Duration::from_secs(30),
        || pg.sql("shared", "SELECT count(*) FROM queue WHERE state = 'leased'").parse::<usize>().unwrap() > 0,
        "a leases the new jobs",
    );
    a.signal("KILL");
    drop(a);
    let held = pg.sql("shared", "SELECT count(*) FROM queue WHERE state = 'leased'").parse::<usize>().unwrap();
    assert!(held > 0, "the killed daemon held jobs");

    // 3. b again, the engine back: the killed daemon's jobs come back at their leases' expiry.
    hang.store(false, Ordering::SeqCst);
    let sent_before = engine_server.seen(CHAT).len();
    let b = Running::start(&wb, "daemon", pb);
    wait_until(Duration::from_secs(60), || translated() == FEEDS * 6, "the other daemon finishes the killed one's work");
    assert_eq!(pg.sql("shared", "SELECT count(*) FROM entries"), (FEEDS * 6).to_string(), "nothing lost, nothing twice");
    let sent: Vec<String> = engine_server.seen(CHAT)[sent_before..].iter().flat_map(|s| request_blocks(s).into_iter().map(|b| b.2)).collect();
    let mut distinct = sent.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(sent.len(), distinct.len(), "a block paid for twice after the kill");
    let (code, _, stderr) = b.stop();
    assert_eq!(code, 0, "{stderr}");
}
