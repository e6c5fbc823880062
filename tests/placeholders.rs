//! Inline markup as placeholders, end to end: real code-heavy posts go to the engine with their
//! links, attributes and inline code replaced by numbered markers, and come back whole; an engine
//! that drops or invents a marker is caught by the checks and repaired. And what it saves: tokens
//! per source token, placeholders against full markup, on the same posts and the same engine.

mod common;

use common::engine::{self, CHAT, completion, fake_translate, reply_html, request_blocks, system_message};
use common::{Reply, Server, Workdir, config_for, corpus_dir};

/// Real posts full of links and inline code: three blogs of the corpus.
fn real_posts(corpus: &std::path::Path, feeds: &Server) -> Vec<(String, String)> {
    let dir = corpus.join("feeds/feedjira-sample-feeds/spec/sample_feeds");
    ["SamRuby.xml", "TrotterCashionHome.xml", "GiantRobotsSmashingIntoOtherGiantRobots.xml"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let body = std::fs::read(dir.join(name)).unwrap();
            let path = format!("/f{i}");
            feeds.route(&path, move |_, _| Reply::new(200, "application/xml", body.clone()));
            (format!("real{i}"), feeds.url(&path))
        })
        .collect()
}

/// Runs one refresh of the real posts through the good engine with `protocol`; returns the
/// workdir, the engine's server and the tokens it reported (prompt, completion).
fn run(corpus: &std::path::Path, protocol: &str) -> (Workdir, Server, u64, u64) {
    let feeds = Server::start();
    let posts = real_posts(corpus, &feeds);
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let refs: Vec<(&str, &str)> = posts.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    let extra = format!("protocol = \"{protocol}\"");
    let w = Workdir::new(&config_for(&refs, &engine::translator_config(&engine_server.url("/v1"), &extra), "backfill = 100"));
    let done = w.run(&["refresh"]);
    assert_eq!(done.code, 0, "{protocol}: {done:?}");
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let (prompt, completion): (i64, i64) =
        conn.query_row("SELECT sum(prompt_tokens), sum(completion_tokens) FROM usage", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    (w, engine_server, prompt as u64, completion as u64)
}

/// Tokens of the source blocks that were translated: the prose and markup of every unit.
fn source_tokens(w: &Workdir) -> u64 {
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let sources: Vec<String> = conn.prepare("SELECT source FROM memory").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    sources.iter().map(|s| polyfeed::translate::prompt::estimate_tokens(s) as u64).sum()
}

#[test]
fn no_url_or_code_reaches_the_engine_and_every_post_comes_back_whole() {
    let Some(corpus) = corpus_dir("no_url_or_code_reaches_the_engine_and_every_post_comes_back_whole") else { return };
    let (placed, engine_p, prompt_p, completion_p) = run(&corpus, "placeholders");
    let (marked, _engine_m, prompt_m, completion_m) = run(&corpus, "markup");

    // No tag that reaches the engine has an attribute (so no link target or image source), and no
    // code element: only markers and plain formatting. URLs written out in the prose stay prose.
    let with_attribute = regex::Regex::new(r"<[A-Za-z][A-Za-z0-9]*\s+[^>]*=").unwrap();
    let code = regex::Regex::new(r"<(code|kbd|samp|var|tt)[\s>]").unwrap();
    let marker = regex::Regex::new(r"<[a-z]+[0-9]+/?>").unwrap();
    let mut markers = 0;
    for seen in engine_p.seen(CHAT) {
        assert!(system_message(&seen).contains("numbered placeholder"));
        for (_, _, html) in request_blocks(&seen) {
            assert!(!with_attribute.is_match(&html), "an attribute reached the engine: {html}");
            assert!(!code.is_match(&html), "code reached the engine: {html}");
            markers += marker.find_iter(&html).count();
        }
    }
    assert!(markers > 50, "the real posts have links and code to stand in for: {markers}");

    // The same posts, published whole both ways: the links and code are back where they were.
    let conn = |w: &Workdir| rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let complete = |w: &Workdir| conn(w).query_row("SELECT count(*) FROM translations WHERE complete = 1", [], |r| r.get::<_, i64>(0)).unwrap();
    let entries = conn(&placed).query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!((complete(&placed), complete(&marked)), (entries, entries));
    let mut links = 0;
    let href = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    let db = conn(&placed);
    let mut stmt = db.prepare("SELECT content_src, units FROM translations").unwrap();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (source, units) = row.unwrap();
        let units: Vec<Option<String>> = serde_json::from_str(&units).unwrap();
        let translated: String = units.into_iter().flatten().collect();
        for c in href.captures_iter(&translated) {
            let target = c[1].replace("&amp;", "&");
            assert!(source.replace("&amp;", "&").contains(&target), "a link that is not the source's: {target}");
            links += 1;
        }
    }
    assert!(links > 50, "links put back: {links}");

    // What it saves, per source token: the instructions, the URLs and the code are not paid for.
    let (sp, sm) = (source_tokens(&placed) as f64, source_tokens(&marked) as f64);
    let per = |t: u64, s: f64| t as f64 / s;
    println!(
        "placeholders: prompt {:.2} and completion {:.2} tokens per source token; markup: prompt {:.2}, completion {:.2} ({} and {} source tokens)",
        per(prompt_p, sp),
        per(completion_p, sp),
        per(prompt_m, sm),
        per(completion_m, sm),
        sp,
        sm
    );
    // Fewer prompt tokens although each request carries the protocol's example block and its reply
    // (about 60 tokens of instructions, which a server's prompt cache holds once).
    assert!((prompt_p as f64) < prompt_m as f64 * 0.95, "placeholders cost fewer prompt tokens: {prompt_p} against {prompt_m}");
    assert!((completion_p as f64) < completion_m as f64 * 0.9, "and fewer completion tokens: {completion_p} against {completion_m}");
}

#[test]
fn a_marker_dropped_or_invented_is_caught_and_repaired() {
    let feeds = Server::start();
    let post = common::AtomEntry {
        day: 3,
        slug: "tools".into(),
        title: "Tools".into(),
        html: "<p>Install it with <code>pip install llm</code> and read <a href=\"https://llm.datasette.io/\">the documentation</a> first.</p>\
               <p>Then try <a href=\"https://example.org/plugins\">the plugins</a> for more models.</p>"
            .into(),
        tags: vec![],
    };
    feeds.feed("/blog", "application/atom+xml", &common::atom_feed(&[post], false), "\"v1\"");
    let engine_server = Server::start();
    // First replies: the link of the first block dropped, the second block's link written as a
    // marker it never had. Told what was wrong (a repair), it answers well.
    engine_server.route(CHAT, |req, _| {
        let blocks = request_blocks(req);
        let repair = system_message(req).contains("was rejected");
        let content = reply_html(&blocks, |html| {
            let good = fake_translate(html);
            match (repair, html.contains("<code")) {
                (true, _) => good,
                (false, true) => good.replace('[', "").replace("](2)", ""),
                (false, false) => good.replace('[', "<a5>").replace("](1)", "</a5>"),
            }
        });
        completion(&content, 100, 50)
    });
    let w = Workdir::new(&config_for(&[("blog", &feeds.url("/blog"))], &engine::translator_config(&engine_server.url("/v1"), "temperature = 0"), ""));
    let done = w.run(&["refresh"]);
    assert_eq!(done.code, 0, "{done:?}");
    assert!(done.stdout.contains("2 repaired"), "{}", done.stdout);
    let repairs: Vec<String> = engine_server.seen(CHAT).iter().map(system_message).filter(|s| s.contains("was rejected")).collect();
    assert_eq!(repairs.len(), 2);
    // Said as the engine saw the links, never with their URLs.
    assert!(repairs.iter().any(|s| s.contains("rejected: […](2) is missing: put it around the words that translate \"the documentation\".")), "{repairs:?}");
    assert!(
        repairs.iter().any(|s| s.contains("rejected: […](1) is missing: put it around the words that translate \"the plugins\"; markup changed")),
        "{repairs:?}"
    );
    assert!(repairs.iter().all(|s| !s.contains("llm.datasette.io") && !s.contains("example.org")), "{repairs:?}");
    let atom = std::fs::read_to_string(w.path().join("output/blog/zh-CN/atom.xml")).unwrap();
    for kept in ["https://llm.datasette.io/", "https://example.org/plugins", "pip install llm"] {
        assert!(atom.matches(kept).count() >= 2, "{kept} in the original and the translation");
    }
}
