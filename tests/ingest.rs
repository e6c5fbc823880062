//! Fetch -> parse -> detect -> store -> queue, end to end: the real binary against feeds served on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{BodyKind, Reply, Server, Workdir, atom_feed, config_for, sample_entries};

const ATOM: &str = "application/atom+xml; charset=utf-8";

fn no_translate(w: &Workdir, extra: &[&str]) -> common::Run {
    let mut args = vec!["refresh", "--no-translate"];
    args.extend_from_slice(extra);
    w.run(&args)
}

#[test]
fn first_fetch_queues_the_backfill_and_the_second_is_conditional() {
    let server = Server::start();
    server.feed("/atom/everything/", ATOM, &atom_feed(&sample_entries(30), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("simon", &server.url("/atom/everything/"))], "", ""));

    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 feeds: 1 fetched, 0 not modified, 0 deferred, 0 failed; 30 new, 0 updated, 10 queued"), "{}", run.stdout);
    let status = w.feed_status("simon");
    assert_eq!((status["entries"].as_u64(), status["queued"].as_u64()), (Some(30), Some(10)));
    assert_eq!(status["last_result"], "ok");
    assert_eq!(status["etag"], true);

    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("0 fetched, 1 not modified"), "{}", run.stdout);
    let seen = server.seen("/atom/everything/");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("if-none-match"), None);
    assert_eq!(seen[1].header("if-none-match"), Some("\"v1\""));
    assert!(seen[1].header("user-agent").unwrap().starts_with("polyfeed/"));
    assert!(seen[1].header("accept-encoding").unwrap().contains("gzip"));
    assert_eq!(w.feed_status("simon")["last_result"], "not_modified");
}

#[test]
fn entries_past_the_backfill_are_recorded_without_their_content_until_an_edit_queues_them() {
    let server = Server::start();
    let mut entries = sample_entries(30);
    server.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", ""));
    assert_eq!(no_translate(&w, &[]).code, 0);
    let db = || rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let kept = |slug: &str| -> String { db().query_row("SELECT content FROM entries WHERE link LIKE ?1", [format!("%/{slug}/")], |r| r.get(0)).unwrap() };
    // The 10 queued keep their content; the 20 only recorded (older than the backfill) keep their
    // identity and text hash, not their content: nothing would ever read it.
    let queued_with_content: i64 =
        db().query_row("SELECT count(*) FROM entries e JOIN queue q ON q.entry_id = e.id WHERE e.content <> ''", [], |r| r.get(0)).unwrap();
    let recorded_empty: i64 = db()
        .query_row(
            "SELECT count(*) FROM entries e WHERE e.content = '' AND e.text_hash <> '' AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.entry_id = e.id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((queued_with_content, recorded_empty), (10, 20));
    assert_eq!(kept("post-20"), "");

    // Seen again unchanged, they stay as they are; an edit to one of them queues it with its content.
    let run = no_translate(&w, &["--force"]);
    assert!(run.stdout.contains("0 new, 0 updated, 0 queued"), "{}", run.stdout);
    entries[20].html.push_str("<p>An update with a new paragraph.</p>");
    server.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v2\"");
    let run = no_translate(&w, &[]);
    assert!(run.stdout.contains("0 new, 1 updated, 1 queued"), "{}", run.stdout);
    assert!(kept("post-20").contains("An update with a new paragraph."), "{}", kept("post-20"));
}

#[test]
fn last_modified_is_sent_back() {
    let server = Server::start();
    let body = atom_feed(&sample_entries(2), false);
    server.route("/feed", move |req, _| {
        if req.header("if-modified-since") == Some("Tue, 24 Nov 2026 10:00:00 GMT") {
            return Reply::status(304);
        }
        Reply::atom(body.clone()).header("last-modified", "Tue, 24 Nov 2026 10:00:00 GMT")
    });
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", ""));
    assert_eq!(no_translate(&w, &[]).code, 0);
    let run = no_translate(&w, &[]);
    assert!(run.stdout.contains("1 not modified"), "{}", run.stdout);
    assert_eq!(w.feed_status("f")["last_modified"], true);
}

#[test]
fn a_changed_feed_yields_new_and_updated_entries_only() {
    let server = Server::start();
    let mut entries = sample_entries(5);
    server.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", ""));
    assert_eq!(no_translate(&w, &[]).code, 0);

    entries[1].html.push_str("<p>An update with a new paragraph.</p>");
    entries.insert(0, common::AtomEntry { day: 29, slug: "brand-new".into(), title: "Brand new".into(), html: "<p>Fresh.</p>".into(), tags: vec![] });
    server.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v2\"");
    let run = no_translate(&w, &[]);
    assert!(run.stdout.contains("1 new, 1 updated, 2 queued"), "{}", run.stdout);
    assert_eq!(w.feed_status("f")["entries"], 6);
}

#[test]
fn markup_churn_and_an_id_change_do_not_look_new() {
    let server = Server::start();
    let entries = sample_entries(4);
    server.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", ""));
    assert_eq!(no_translate(&w, &[]).code, 0);

    // Every id changes (URL#atom-everything -> URL) and the markup churns; the text stays.
    let churned: Vec<common::AtomEntry> = entries
        .into_iter()
        .map(|mut e| {
            e.html = e.html.replace("<p>", "<p class=\"churn\">");
            e
        })
        .collect();
    server.feed("/feed", ATOM, &atom_feed(&churned, true), "\"v2\"");
    let run = no_translate(&w, &[]);
    assert!(run.stdout.contains("0 new, 0 updated, 0 queued"), "{}", run.stdout);
    assert_eq!(w.feed_status("f")["entries"], 4);
}

#[test]
fn a_permanent_redirect_is_remembered() {
    let server = Server::start();
    server.route("/old", |_, _| Reply::redirect(301, "/new"));
    server.feed("/new", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/old"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("moved to {}", server.url("/new"))), "{}", run.stdout);
    assert_eq!(w.feed_status("f")["fetch_url"], server.url("/new"));

    assert_eq!(no_translate(&w, &[]).code, 0);
    assert_eq!(server.seen("/old").len(), 1, "the second fetch goes straight to the new URL");
    assert_eq!(server.seen("/new").len(), 2);
}

#[test]
fn a_temporary_redirect_is_not_remembered_and_loops_are_cut() {
    let server = Server::start();
    server.route("/tmp", |_, _| Reply::redirect(302, "/real"));
    server.feed("/real", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    server.route("/a", |_, _| Reply::redirect(301, "/b"));
    server.route("/b", |_, _| Reply::redirect(301, "/a"));
    let w = Workdir::new(&config_for(&[("tmp", &server.url("/tmp")), ("loop", &server.url("/a"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(w.feed_status("tmp")["fetch_url"], serde_json::Value::Null);
    let err = w.feed_status("loop")["last_error"].as_str().unwrap().to_string();
    assert!(err.contains("redirect loop"), "{err}");
}

#[test]
fn retry_after_defers_the_feed_without_blocking_the_run() {
    let server = Server::start();
    server.route("/busy", |_, _| Reply::status(429).header("retry-after", "3600"));
    server.feed("/ok", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("busy", &server.url("/busy")), ("ok", &server.url("/ok"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("HTTP 429 (retry after 3600s); next fetch deferred"), "{}", run.stdout);
    assert_eq!(w.feed_status("ok")["entries"], 2);
    let busy = w.feed_status("busy");
    assert_eq!(busy["last_result"], "deferred");
    assert!(busy["not_before"].is_string());

    // The next run respects the wait: no request, and not a failure.
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 deferred"), "{}", run.stdout);
    assert_eq!(server.seen("/busy").len(), 1);
    // --force overrides.
    no_translate(&w, &["--force"]);
    assert_eq!(server.seen("/busy").len(), 2);
}

#[test]
fn a_500_is_retried_and_then_succeeds() {
    let server = Server::start();
    let body = atom_feed(&sample_entries(2), false);
    server.route("/flaky", move |_, hit| if hit == 0 { Reply::status(500) } else { Reply::atom(body.clone()) });
    let w = Workdir::new(&config_for(&[("f", &server.url("/flaky"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(server.seen("/flaky").len(), 2);
    assert_eq!(w.feed_status("f")["entries"], 2);
}

#[test]
fn a_permanent_error_is_not_retried_and_other_feeds_go_on() {
    let server = Server::start();
    server.route("/gone", |_, _| Reply::status(404));
    server.feed("/ok", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("gone", &server.url("/gone")), ("ok", &server.url("/ok"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2);
    assert_eq!(server.seen("/gone").len(), 1);
    assert_eq!(w.feed_status("gone")["last_error"], "HTTP 404");
    assert_eq!(w.feed_status("ok")["entries"], 2);
}

#[test]
fn oversized_and_endless_bodies_are_cut_off() {
    let server = Server::start();
    server.route("/big", |_, _| Reply::atom(vec![b' '; 300_000]));
    server.route("/endless", |_, _| Reply { status: 200, headers: vec![("content-type".into(), ATOM.into())], body: BodyKind::Endless });
    let w = Workdir::new(&config_for(&[("big", &server.url("/big")), ("endless", &server.url("/endless"))], "max_body_bytes = 100000", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    for feed in ["big", "endless"] {
        assert_eq!(w.feed_status(feed)["last_error"], "response body larger than 100000 bytes");
    }
}

#[test]
fn a_slow_body_times_out() {
    let server = Server::start();
    server.route("/slow", |_, _| Reply {
        status: 200,
        headers: vec![("content-type".into(), ATOM.into())],
        body: BodyKind::Drip { chunk: b" ".to_vec(), every: Duration::from_millis(300), count: 1000 },
    });
    let w = Workdir::new(&config_for(&[("slow", &server.url("/slow"))], "timeout = 1", ""));
    let started = std::time::Instant::now();
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(w.feed_status("slow")["last_error"].as_str().unwrap().starts_with("timed out after 1"), "{run:?}");
    // The run ends with the timeout, not with the body (which would take 300 s).
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn an_html_page_leads_to_the_feed_it_announces() {
    let server = Server::start();
    server.route("/blog/", |_, _| {
        Reply::html(r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/atom+xml" href="/blog/atom.xml"></head><body>Blog</body></html>"#)
    });
    server.feed("/blog/atom.xml", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("blog", &server.url("/blog/"))], "", ""));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let status = w.feed_status("blog");
    assert_eq!(status["entries"], 3);
    assert_eq!(status["fetch_url"], server.url("/blog/atom.xml"));

    let inspect = w.run(&["inspect", &server.url("/blog/"), "--json", "--allow-private-network"]);
    assert_eq!(inspect.code, 0, "{inspect:?}");
    let report: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(report["discovered"][0], server.url("/blog/atom.xml"));
    assert_eq!(report["entries"].as_array().unwrap().len(), 3);
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let server = Server::start();
    server.feed("/feed", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    let port = server.addr.port();
    let config =
        format!("[[feeds]]\nname = \"ip\"\nurl = \"http://127.0.0.1:{port}/feed\"\n\n[[feeds]]\nname = \"name\"\nurl = \"http://localhost:{port}/feed\"\n");
    let w = Workdir::new(&config);
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(server.all_seen().is_empty(), "nothing reached the server");
    let ip = w.feed_status("ip")["last_error"].as_str().unwrap().to_string();
    assert!(ip.contains("127.0.0.1 is not a public address") && ip.contains("allow_private_network"), "{ip}");
    let name = w.feed_status("name")["last_error"].as_str().unwrap().to_string();
    assert!(name.contains("localhost resolves only to non-public addresses"), "{name}");

    // inspect applies the same guard unless told otherwise.
    let inspect = w.run(&["inspect", &format!("http://localhost:{port}/feed")]);
    assert_eq!(inspect.code, 1);
    assert!(inspect.stderr.contains("non-public"), "{}", inspect.stderr);
}

#[test]
fn encodings_declared_in_xml_or_by_http() {
    let server = Server::start();
    let xml = "<?xml version=\"1.0\" encoding=\"GB2312\"?><rss version=\"2.0\"><channel><title>中文博客</title><item><title>你好，世界</title><guid>1</guid></item></channel></rss>";
    let (gb, _, _) = encoding_rs::GBK.encode(xml);
    let gb = gb.into_owned();
    server.route("/gb2312", move |_, _| Reply::new(200, "application/rss+xml", gb.clone()));
    let undeclared = "<rss version=\"2.0\"><channel><title>Блог</title><item><title>Привет</title><guid>1</guid></item></channel></rss>";
    let (koi, _, _) = encoding_rs::KOI8_R.encode(undeclared);
    let koi = koi.into_owned();
    server.route("/koi8", move |_, _| Reply::new(200, "application/rss+xml; charset=koi8-r", koi.clone()));
    let latin = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Caf\u{e9}</title><item><title>Cr\u{e8}me br\u{fb}l\u{e9}e</title><guid>1</guid></item></channel></rss>";
    let (l1, _, _) = encoding_rs::WINDOWS_1252.encode(latin);
    let l1 = l1.into_owned();
    server.route("/latin1", move |_, _| Reply::new(200, "text/xml", l1.clone()));

    let w = Workdir::new("");
    for (path, title, entry) in [("/gb2312", "中文博客", "你好，世界"), ("/koi8", "Блог", "Привет"), ("/latin1", "Café", "Crème brûlée")]
    {
        let run = w.run(&["inspect", &server.url(path), "--json", "--allow-private-network"]);
        assert_eq!(run.code, 0, "{path}: {run:?}");
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["title"], title, "{path}");
        assert_eq!(report["entries"][0]["title"], entry, "{path}");
    }
}

#[test]
fn a_bad_feed_is_recorded_and_loses_no_state() {
    let server = Server::start();
    server.feed("/feed", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", ""));
    assert_eq!(no_translate(&w, &[]).code, 0);
    server.route("/feed", |_, _| Reply::atom("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>broken"));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 2, "{run:?}");
    let s = w.feed_status("f");
    assert_eq!(s["last_result"], "failed");
    assert!(s["last_error"].as_str().unwrap().contains("not a valid feed"), "{s}");
    assert_eq!(s["entries"], 3);
    assert_eq!(s["etag"], true, "validators of the last good fetch are kept");
}

#[test]
fn filtered_entries_are_recorded_but_not_queued() {
    let server = Server::start();
    server.feed("/feed", ATOM, &atom_feed(&sample_entries(6), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "", "exclude = [\"/^Quoting/\"]"));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = w.feed_status("f");
    assert_eq!((s["entries"].as_u64(), s["queued"].as_u64()), (Some(6), Some(4)));
}

#[test]
fn only_named_feeds_are_refreshed() {
    let server = Server::start();
    server.feed("/a", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    server.feed("/b", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    let w = Workdir::new(&config_for(&[("a", &server.url("/a")), ("b", &server.url("/b"))], "", ""));
    assert_eq!(no_translate(&w, &["--feed", "b"]).code, 0);
    assert_eq!((server.seen("/a").len(), server.seen("/b").len()), (0, 1));
    let run = no_translate(&w, &["--feed", "nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no feed named \"nope\""), "{}", run.stderr);
}

#[test]
fn config_errors_exit_1_with_file_line_and_key() {
    let w = Workdir::new("[[feeds]]\nname = \"a\"\nurl = \"https://example.org/feed\"\nschedule = \"whenever\"\n");
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("{}:line 4: `feeds.schedule`: bad cron expression", w.config().display())), "{}", run.stderr);
    assert!(!w.path().join("cache").exists(), "a bad config touches no state");

    let missing = Workdir::new("");
    let run = missing.command(&["refresh"]).env("POLYFEED_CONFIG", missing.path().join("nope.toml")).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("polyfeed init"));
}

#[test]
fn init_writes_a_starter_config_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = Workdir { dir };
    let run = w.run(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(w.config()).unwrap();
    assert!(text.contains("https://simonwillison.net/atom/everything/"));
    polyfeed::config::Config::parse(&text).unwrap();
    let again = w.run(&["init"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"));
}

#[test]
fn inspect_a_file_prints_normalized_entries() {
    let w = Workdir::new("");
    let path = w.path().join("feed.xml");
    std::fs::write(&path, atom_feed(&sample_entries(2), false)).unwrap();
    let run = w.run(&["inspect", path.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["title"], "Simon Willison's Weblog");
    let e = &report["entries"][0];
    assert_eq!(e["id"], "https://simonwillison.net/2026/Nov/28/post-0/#atom-everything");
    assert_eq!(e["link"], "https://simonwillison.net/2026/Nov/28/post-0/");
    assert_eq!(e["published"], "2026-11-28T10:00:00Z");
    assert_eq!(e["categories"], serde_json::json!(["ai", "llms"]));
    assert_eq!(e["key"].as_str().unwrap().len(), 32);
    assert!(e["content_length"].as_u64().unwrap() > 100);
    let text = w.run(&["inspect", path.to_str().unwrap()]);
    assert!(text.stdout.contains("2 entries") && text.stdout.contains("Things we learned, part 0"), "{}", text.stdout);
}

#[test]
fn full_text_replaces_summaries_and_falls_back_with_a_reason() {
    let server = Server::start();
    let article = "<p>This is the whole article, much longer than the summary in the feed, with details.</p>".repeat(4);
    let page = format!(
        "<html><head><title>Post</title></head><body><nav><a href=\"/\">Home</a></nav><article><h1>Post</h1>{article}<pre><code>x = 1</code></pre></article><footer>Footer links</footer></body></html>"
    );
    server.route("/posts/ok", move |_, _| Reply::html(page.clone()));
    server.route("/posts/broken", |_, _| Reply::status(500));
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><title>Good</title><link>{}</link><description>Short summary.</description></item><item><title>Bad</title><link>{}</link><description>Only the summary.</description></item></channel></rss>",
        server.url("/posts/ok"),
        server.url("/posts/broken")
    );
    server.route("/feed", move |_, _| Reply::rss(feed.clone()));
    let w = Workdir::new(&config_for(&[("f", &server.url("/feed"))], "fetch_retries = 0", "full_text = true"));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let rows: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT title, content, note FROM entries ORDER BY title")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (bad, good) = (&rows[0], &rows[1]);
    assert!(good.1.contains("whole article") && good.1.contains("x = 1") && !good.1.contains("Footer links"), "{good:?}");
    assert_eq!(good.2, None);
    assert_eq!(bad.1, "Only the summary.", "the feed's content is kept");
    assert_eq!(bad.2.as_deref(), Some("full text failed: HTTP 500"));
}

/// A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT only, RFC 1928) that records where it
/// was asked to connect. It serves one connection after another on a thread of its own.
fn socks5_proxy() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let log = log.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut head = [0u8; 2];
                client.read_exact(&mut head)?;
                let mut methods = vec![0u8; head[1] as usize];
                client.read_exact(&mut methods)?;
                client.write_all(&[5, 0])?;
                let mut req = [0u8; 4];
                client.read_exact(&mut req)?;
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip)?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len)?;
                        let mut name = vec![0u8; len[0] as usize];
                        client.read_exact(&mut name)?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                    _ => return Ok(()),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port)?;
                let target = format!("{host}:{}", u16::from_be_bytes(port));
                log.lock().unwrap().push(target.clone());
                let upstream = std::net::TcpStream::connect(&target)?;
                client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
                let (mut from_client, mut to_upstream) = (client.try_clone()?, upstream.try_clone()?);
                let up = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_upstream);
                    let _ = to_upstream.shutdown(std::net::Shutdown::Write);
                });
                let mut upstream = upstream;
                std::io::copy(&mut upstream, &mut client)?;
                let _ = up.join();
                Ok(())
            });
        }
    });
    (addr, seen)
}

#[test]
fn a_feed_is_fetched_through_a_socks5_proxy() {
    let server = Server::start();
    server.feed("/feed", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let (proxy, seen) = socks5_proxy();
    let w = Workdir::new(&config_for(&[("viaproxy", &server.url("/feed"))], "", &format!("proxy = \"socks5://{proxy}\"")));
    let run = no_translate(&w, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("viaproxy  fetched"), "{}", run.stdout);
    assert_eq!(seen.lock().unwrap().as_slice(), [server.addr.to_string()], "the fetch went through the proxy");
    assert_eq!(server.seen("/feed").len(), 1);
}
