//! The daemon and the server, end to end: the real binary, loopback feed and engine servers,
//! real signals, a real browser.

mod common;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::engine::{self, CHAT, fake_translate, request_blocks};
use common::running::{Running, free_port, get, request, wait_until};
use common::{AtomEntry, BodyKind, Reply, Server, Workdir, atom_feed, config_for, sample_entries};

const ATOM: &str = "application/atom+xml; charset=utf-8";

fn daemon_config(feeds: &Server, engine_url: &str, port: u16, names: &[&str], extra_top: &str) -> String {
    let list: Vec<(String, String)> = names.iter().map(|n| (n.to_string(), feeds.url(&format!("/{n}")))).collect();
    let list: Vec<(&str, &str)> = list.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    let top = format!(
        "schedule = \"* * * * * *\"\n{extra_top}\n{}\n[server]\nlisten = \"127.0.0.1:{port}\"\ngrace_period = 3\n[publish]\npublic_url = \"http://127.0.0.1:{port}/\"\n",
        engine::translator_config(engine_url, "max_concurrency = 1")
    );
    config_for(&list, &top, "")
}

#[test]
fn a_new_entry_shows_up_translated_in_the_served_feed() {
    let feeds = Server::start();
    let mut entries = sample_entries(2);
    feeds.feed("/blog", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let port = free_port();
    let w = Workdir::new(&daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], ""));
    let daemon = Running::start(&w, "daemon", port);
    let feed_url = daemon.url("/blog/zh-CN/atom.xml");
    wait_until(
        Duration::from_secs(30),
        || get(&feed_url, &[]).is_some_and(|g| g.status == 200 && g.text().contains("<entry>")),
        "the first entries are served",
    );

    entries.insert(
        0,
        AtomEntry {
            day: 30,
            slug: "breaking".into(),
            title: "Breaking news today".into(),
            html: "<p>Something happened just now, and it matters.</p>".into(),
            tags: vec![],
        },
    );
    feeds.feed("/blog", ATOM, &atom_feed(&entries, false), "\"v2\"");
    let translated_title = polyfeed::text::html_to_plain(&fake_translate("Breaking news today"));
    let started = Instant::now();
    // Every entry, not only the new one: an older entry still in the queue would change the feed
    // (and its validators) after this point.
    let all_served = |g: &common::running::Got| g.text().contains(&translated_title) && g.text().matches("<entry>").count() == entries.len();
    wait_until(Duration::from_secs(30), || get(&feed_url, &[]).is_some_and(|g| all_served(&g)), "the new entry is served translated, with the others");
    assert!(started.elapsed() < Duration::from_secs(15), "within seconds: {:?}", started.elapsed());

    // Readers revalidate cheaply.
    let full = get(&feed_url, &[]).unwrap();
    assert_eq!(full.header("content-type").as_deref(), Some("application/atom+xml; charset=utf-8"));
    let etag = full.header("etag").unwrap();
    let not_modified = get(&feed_url, &[("if-none-match", &etag)]).unwrap();
    assert_eq!((not_modified.status, not_modified.body.len()), (304, 0));

    let metrics = get(&daemon.url("/metrics"), &[]).unwrap();
    assert_eq!(metrics.status, 200);
    assert_prometheus(&metrics.text());
    assert!(metrics.text().contains("polyfeed_fetches_total{result=\"ok\"}"));
    let status = get(&daemon.url("/status"), &[]).unwrap().text();
    assert!(status.contains("<strong>blog</strong>") && status.contains("<svg"), "{status}");

    let (code, took, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(took < Duration::from_secs(10));
}

/// Every line of a Prometheus text exposition: comments, or `name{labels} value`.
fn assert_prometheus(text: &str) {
    let sample = regex::Regex::new(r#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? [-+]?([0-9.eE+-]+|Inf|NaN)$"#).unwrap();
    let mut samples = 0;
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line == "# EOF" {
            continue;
        }
        assert!(sample.is_match(line), "not Prometheus text: {line:?}");
        samples += 1;
    }
    assert!(samples > 10);
}

#[test]
fn sigterm_during_a_translation_exits_cleanly_and_the_next_start_pays_nothing_twice() {
    let feeds = Server::start();
    feeds.feed("/blog", ATOM, &atom_feed(&sample_entries(4), false), "\"v1\"");
    let engine_server = Server::start();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let tx = Mutex::new(tx);
    engine_server.route(CHAT, move |req, hit| {
        let _ = tx.lock().unwrap().send(hit);
        if hit == 2 {
            // The third request hangs: the daemon is stopped while it waits.
            return Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: BodyKind::Drip { chunk: b" ".to_vec(), every: Duration::from_millis(500), count: 600 },
            };
        }
        engine::translate(req)
    });
    let port = free_port();
    let w = Workdir::new(
        &daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], "").replace("max_concurrency = 1", "max_concurrency = 1\nbatch_tokens = 60"),
    );
    let daemon = Running::start(&w, "daemon", port);
    while rx.recv_timeout(Duration::from_secs(30)).expect("the engine is asked") < 2 {}
    let (code, took, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(took < Duration::from_secs(8), "exits within the grace period (3 s): {took:?}");

    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let stored: Vec<String> = conn.prepare("SELECT source FROM memory").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let leased: i64 = conn.query_row("SELECT count(*) FROM queue WHERE state = 'leased'", [], |r| r.get(0)).unwrap();
    drop(conn);
    assert!(!stored.is_empty(), "the answered requests were stored");
    assert_eq!(leased, 0, "unfinished jobs were released");

    let before = engine_server.seen(CHAT).len();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let daemon = Running::start(&w, "daemon", port);
    let db = w.path().join("cache/polyfeed.sqlite");
    wait_until(
        Duration::from_secs(30),
        || rusqlite::Connection::open(&db).unwrap().query_row("SELECT count(*) FROM translations", [], |r| r.get::<_, i64>(0)).unwrap() == 4,
        "every entry is translated after the restart",
    );
    for seen in &engine_server.seen(CHAT)[before..] {
        for (_, _, html) in request_blocks(seen) {
            assert!(!stored.contains(&html), "paid twice for {html:?}");
        }
    }
    assert_eq!(daemon.stop().0, 0);
}

#[test]
fn one_writer_at_a_time() {
    let feeds = Server::start();
    feeds.feed("/blog", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let port = free_port();
    let w = Workdir::new(&daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], ""));
    let daemon = Running::start(&w, "daemon", port);
    let refresh = w.run(&["refresh"]);
    assert_eq!(refresh.code, 1, "{refresh:?}");
    let pid = daemon.child.id();
    assert!(refresh.stderr.contains(&format!("in use by another polyfeed process (polyfeed daemon, pid {pid})")), "{}", refresh.stderr);
    let second = w.run(&["daemon"]);
    assert_eq!(second.code, 1);
    assert!(second.stderr.contains("polyfeed daemon, pid"), "{}", second.stderr);
    // Reading is always allowed.
    assert_eq!(w.run(&["status"]).code, 0);
    assert_eq!(daemon.stop().0, 0);
}

#[test]
fn sighup_reloads_a_valid_config_and_keeps_running_on_a_bad_one() {
    let feeds = Server::start();
    feeds.feed("/a", ATOM, &atom_feed(&sample_entries(1), false), "\"v1\"");
    feeds.feed("/b", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let port = free_port();
    let w = Workdir::new(&daemon_config(&feeds, &engine_server.url("/v1"), port, &["a"], ""));
    let daemon = Running::start(&w, "daemon", port);
    w.write_config(&daemon_config(&feeds, &engine_server.url("/v1"), port, &["a", "b"], ""));
    daemon.signal("HUP");
    wait_until(Duration::from_secs(30), || get(&daemon.url("/b/zh-CN/atom.xml"), &[]).is_some_and(|g| g.status == 200), "the added feed is published");

    w.write_config("this is = not [valid toml");
    daemon.signal("HUP");
    // Still alive and serving with the old config.
    let fetches = feeds.seen("/a").len();
    wait_until(Duration::from_secs(10), || feeds.seen("/a").len() > fetches + 1, "the old config keeps running");
    assert_eq!(get(&daemon.url("/healthz"), &[]).unwrap().status, 200);
    let (code, _, stderr) = daemon.stop();
    assert_eq!(code, 0);
    assert!(stderr.contains("config reload refused"), "{stderr}");
}

/// A workdir whose output/ holds one published, translated feed.
fn published() -> (Workdir, u16, Server, Server) {
    let feeds = Server::start();
    feeds.feed("/blog", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let port = free_port();
    let w = Workdir::new(&daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], ""));
    assert_eq!(w.run(&["refresh"]).code, 0);
    (w, port, feeds, engine_server)
}

#[test]
fn the_server_serves_output_politely_and_nothing_else() {
    let (w, port, _feeds, _engine) = published();
    std::fs::write(w.path().join("secret.txt"), "outside output/").unwrap();
    let server = Running::start(&w, "serve", port);
    let url = |p: &str| server.url(p);

    for (path, ty) in [
        ("/blog/zh-CN/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/blog/zh-CN/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/blog/zh-CN/feed.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/opml.xml", "text/x-opml; charset=utf-8"),
    ] {
        let g = get(&url(path), &[]).unwrap();
        assert_eq!((g.status, g.header("content-type").as_deref()), (200, Some(ty)), "{path}");
    }
    let full = get(&url("/all/zh-CN/atom.xml"), &[]).unwrap();
    let (etag, modified) = (full.header("etag").unwrap(), full.header("last-modified").unwrap());
    assert_eq!(get(&url("/all/zh-CN/atom.xml"), &[("if-none-match", &etag)]).unwrap().status, 304);
    assert_eq!(get(&url("/all/zh-CN/atom.xml"), &[("if-modified-since", &modified)]).unwrap().status, 304);
    assert_eq!(get(&url("/all/zh-CN/atom.xml"), &[("if-none-match", "\"other\"")]).unwrap().status, 200);

    let gz = get(&url("/all/zh-CN/atom.xml"), &[("accept-encoding", "gzip")]).unwrap();
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert!(gz.body.len() < full.body.len());
    let br = get(&url("/all/zh-CN/atom.xml"), &[("accept-encoding", "br")]).unwrap();
    assert_eq!(br.header("content-encoding").as_deref(), Some("br"));
    let head = request(reqwest::Method::HEAD, &url("/all/zh-CN/atom.xml"), &[]).unwrap();
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("etag"), Some(etag));

    for bad in ["/../secret.txt", "/%2e%2e/secret.txt", "/blog/..%2F..%2Fsecret.txt", "/blog/", "/blog/zh-CN/", "/nope.xml", "/.hidden"] {
        let g = get(&url(bad), &[]).unwrap();
        assert_eq!(g.status, 404, "{bad}");
        assert!(!g.text().contains("outside output/") && !g.text().contains("atom.xml"), "{bad}");
    }
    assert_eq!(request(reqwest::Method::POST, &url("/index.html"), &[]).unwrap().status, 405);
    assert_eq!(server.stop().0, 0);
}

#[test]
fn private_feeds_need_a_token_or_basic_credentials() {
    let (w, port, feeds, engine_server) = published();
    let config = daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], "")
        .replace("grace_period = 3", "grace_period = 3\nrequire_token = true\nstatus = false\nadmin_listen = \"127.0.0.1:ADMIN\"");
    let admin = free_port();
    w.write_config(&config.replace("ADMIN", &admin.to_string()));
    let add = w.run(&["tokens", "add", "alice"]);
    assert_eq!(add.code, 0, "{add:?}");
    let token = add.stdout.split_whitespace().nth(3).unwrap().to_string();
    assert_eq!(token.len(), 32);
    assert!(!w.run(&["tokens", "list"]).stdout.contains(&token), "a token is shown once");
    let server = Running::start(&w, "serve", port);

    assert_eq!(get(&server.url("/all/zh-CN/atom.xml"), &[]).unwrap().status, 404);
    assert_eq!(get(&server.url(&format!("/t/{token}/all/zh-CN/atom.xml")), &[]).unwrap().status, 200);
    assert_eq!(get(&server.url("/t/0123456789abcdef0123456789abcdef/all/zh-CN/atom.xml"), &[]).unwrap().status, 404);
    assert_eq!(get(&server.url("/metrics"), &[]).unwrap().status, 404, "admin endpoints live on admin_listen");
    assert_eq!(get(&format!("http://127.0.0.1:{admin}/metrics"), &[]).unwrap().status, 200);
    assert_eq!(get(&format!("http://127.0.0.1:{admin}/status"), &[]).unwrap().status, 404, "status disabled");

    assert_eq!(w.run(&["tokens", "revoke", "alice"]).code, 0);
    wait_until(
        Duration::from_secs(15),
        || get(&server.url(&format!("/t/{token}/all/zh-CN/atom.xml")), &[]).unwrap().status == 404,
        "a revoked token stops working",
    );
    assert_eq!(server.stop().0, 0);

    // HTTP Basic instead of tokens.
    let basic = daemon_config(&feeds, &engine_server.url("/v1"), port, &["blog"], "")
        .replace("grace_period = 3", "grace_period = 3\nbasic_auth_user = \"reader\"\nbasic_auth_password_env = \"POLYFEED_TEST_PASSWORD\"");
    w.write_config(&basic);
    let child = w.command(&["serve"]).env("POLYFEED_TEST_PASSWORD", "s3cret").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let server = Running { child, port };
    wait_until(Duration::from_secs(30), || get(&server.url("/healthz"), &[]).is_some_and(|g| g.status == 200), "serve starts");
    let denied = get(&server.url("/all/zh-CN/atom.xml"), &[]).unwrap();
    assert_eq!(denied.status, 401);
    assert!(denied.header("www-authenticate").unwrap().starts_with("Basic"));
    // reader:s3cret
    assert_eq!(get(&server.url("/all/zh-CN/atom.xml"), &[("authorization", "Basic cmVhZGVyOnMzY3JldA==")]).unwrap().status, 200);
    assert_eq!(server.stop().0, 0);
}

/// Headless Chromium, when it is installed.
fn chromium(test: &str) -> Option<()> {
    let found = Command::new("chromium").arg("--version").output().ok().filter(|o| o.status.success()).map(|_| ());
    common::external(found, "Debian's chromium (apt-get install chromium)", test)
}

/// Renders a page in headless Chromium and returns the DOM it built.
fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium is installed (.ci/run installs Debian's chromium)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_real_browser_renders_the_index_the_reading_page_and_the_status_page() {
    let Some(()) = chromium("a_real_browser_renders_the_index_the_reading_page_and_the_status_page") else { return };
    let (w, port, _feeds, _engine) = published();
    let daemon = Running::start(&w, "daemon", port);
    let index = chromium_dom(&daemon.url("/"));
    assert!(index.contains("class=\"posts\""), "{index}");
    let page = regex::Regex::new(r#"href="(blog/zh-CN/[a-z0-9-]+\.html)""#).unwrap().captures(&index).expect("a link to a reading page")[1].to_string();

    let dom = chromium_dom(&daemon.url(&format!("/{page}")));
    assert!(dom.contains("<div class=\"polyfeed-bilingual\">"), "{dom}");
    let translations = dom.matches("class=\"polyfeed-translation\"").count() + dom.matches("polyfeed-translation\"").count();
    assert!(translations >= 2, "translations marked in the page: {dom}");
    assert!(dom.contains("lang=\"zh-CN\""));
    assert!(dom.contains("<pre>"), "code blocks kept once");

    let status = chromium_dom(&daemon.url("/status"));
    assert!(status.contains("<strong>blog</strong>") && status.contains("<svg"), "{status}");
    assert_eq!(daemon.stop().0, 0);
}
