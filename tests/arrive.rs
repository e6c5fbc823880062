//! Every post arrives: real code-heavy posts, a flaky engine, an engine that is down, posts that
//! wait for a retry, partial translations and wordless titles. The real binary against feed and
//! engine servers on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::engine::{self, CHAT, completion, fake_translate, reply_html, request_blocks};
use common::{AtomEntry, Reply, Server, Workdir, atom_feed, config_for, corpus_dir, sample_entries};
use polyfeed::translate::segment::{self, Options};

const ATOM: &str = "application/atom+xml; charset=utf-8";

/// (entry count, complete translations, partial translations) in the store.
fn counts(w: &Workdir) -> (i64, i64, i64) {
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (q("SELECT count(*) FROM entries"), q("SELECT count(*) FROM translations WHERE complete = 1"), q("SELECT count(*) FROM translations WHERE complete = 0"))
}

/// Every stored translation is the good engine's translation of its source, block by block:
/// nothing invented, cut or echoed got in.
fn assert_stored_faithfully(w: &Workdir) {
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let mut stmt = conn.prepare("SELECT title_src, title, content_src, units FROM translations").unwrap();
    let rows: Vec<(String, String, String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    // A block of fewer than four words may come back as it went (names, "Claude 3.5 Sonnet"): the
    // checks accept that, so an echo of one is the one thing allowed besides the translation.
    let short = |text: &str| text.split(|c: char| !c.is_alphabetic()).filter(|w| w.chars().count() >= 2).count() < 4;
    let comment = regex::Regex::new(r"(?s)<!--.*?-->").unwrap();
    for (title_src, title, content, units) in rows {
        let translated = polyfeed::text::html_to_plain(&fake_translate(&polyfeed::text::escape_html(&title_src)));
        assert!(title == translated || title == title_src && short(&title_src), "title {title:?} of {title_src:?}");
        let units: Vec<Option<String>> = serde_json::from_str(&units).unwrap();
        let source = segment::segment(&content, &Options::new(&[], &[], "zh-CN")).units;
        assert_eq!(units.len(), source.len(), "{title_src}");
        for (u, t) in source.iter().zip(&units) {
            let t = t.as_deref().unwrap_or_else(|| panic!("unit {:?} of {title_src:?} untranslated", u.html));
            // HTML comments are not content: placeholders leave them out of what the engine sees.
            let sent = comment.replace_all(&u.html, "");
            assert!(t == fake_translate(&sent) || t == u.html && short(&segment::prose(&u.html)), "unit {:?} stored as {t:?}", u.html);
        }
    }
}

/// The W3C feed validator's documentation pages that hold inline code (real technical prose:
/// lists and tables of `<code>` values, element names in sentences) as the entries of an Atom feed.
fn validator_docs_feed(corpus: &std::path::Path) -> String {
    let mut paths: Vec<std::path::PathBuf> = ["error", "warning"]
        .iter()
        .flat_map(|d| std::fs::read_dir(corpus.join("suites/w3c-feedvalidator/docs-xml").join(d)).unwrap().map(|e| e.unwrap().path()))
        .collect();
    paths.sort();
    let mut entries = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(start) = text.find("<div xmlns") else { continue };
        let Some(end) = text.rfind("</div>") else { continue };
        let html = text[start..end + 6].to_string();
        if html.matches("<code>").count() < 3 {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        entries.push(AtomEntry {
            day: 1 + (entries.len() as u32 % 28),
            slug: name.to_lowercase(),
            title: format!("Validator message: {name}"),
            html,
            tags: vec![],
        });
    }
    atom_feed(&entries, true)
}

#[test]
fn code_heavy_real_posts_are_published_whole() {
    let Some(corpus) = corpus_dir("code_heavy_real_posts_are_published_whole") else { return };
    let dir = corpus.join("feeds/feedjira-sample-feeds/spec/sample_feeds");
    let feeds = Server::start();
    let mut bodies: Vec<Vec<u8>> =
        ["SamRuby.xml", "TrotterCashionHome.xml", "GiantRobotsSmashingIntoOtherGiantRobots.xml"].iter().map(|n| std::fs::read(dir.join(n)).unwrap()).collect();
    bodies.push(validator_docs_feed(&corpus).into_bytes());
    let mut config_feeds = Vec::new();
    let mut code_only = 0;
    for (i, body) in bodies.into_iter().enumerate() {
        let parsed = polyfeed::parse::parse(&body, "http://127.0.0.1/", None).unwrap();
        // The test means something only if these real posts have blocks made of inline code alone.
        for e in &parsed.entries {
            let doc = scraper::Html::parse_fragment(&e.content);
            let blocks = scraper::Selector::parse("p, li, td, th").unwrap();
            code_only += doc
                .select(&blocks)
                .filter(|b| {
                    b.inner_html().contains("<code")
                        && !segment::has_words(&segment::prose(&b.inner_html()), &[])
                        && b.text().any(|t| t.chars().any(char::is_alphabetic))
                })
                .count();
        }
        let path = format!("/f{i}");
        feeds.route(&path, move |_, _| Reply::new(200, "application/xml", body.clone()));
        config_feeds.push((format!("real{i}"), feeds.url(&path)));
    }
    println!("code-heavy real posts: {code_only} blocks of inline code alone");
    assert!(code_only >= 20, "the real posts have blocks of inline code alone: {code_only}");

    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let refs: Vec<(&str, &str)> = config_feeds.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    let w = Workdir::new(&config_for(&refs, &engine::translator_config(&engine_server.url("/v1"), ""), "backfill = 100"));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (entries, complete, partial) = counts(&w);
    assert!(entries > 60, "{entries}");
    println!("code-heavy real posts: {complete} of {entries} published whole");
    assert_eq!((complete, partial), (entries, 0), "every real post is published whole: {}", run.stdout);
    assert_stored_faithfully(&w);
    // Nothing without prose went to the engine: code is code.
    for seen in engine_server.seen(CHAT) {
        for (_, _, html) in request_blocks(&seen) {
            assert!(segment::has_words(&segment::prose(&html), &[]), "sent a block with no prose: {html}");
        }
    }
}

/// A deterministic stream of numbers in 0..10, shared by the requests of one engine.
fn next_roll(state: &AtomicU64) -> u64 {
    // splitmix64
    let mut z = state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

/// An engine that answers 10% each of 429, 500, replies cut off on the way, replies with an
/// invented block, and the source echoed back; otherwise it translates well.
fn flaky(seed: u64) -> impl Fn(&common::Seen, usize) -> Reply + Send + Sync + 'static {
    let state = AtomicU64::new(seed);
    move |req, _| {
        let roll = next_roll(&state);
        let blocks = request_blocks(req);
        let good = reply_html(&blocks, fake_translate);
        match roll / 10 {
            0 => Reply::status(429).header("retry-after", "0"),
            1 => Reply::status(500),
            2 => {
                // Cut somewhere between a third and nine tenths of the reply, on a character boundary.
                let mut at = good.len() * (30 + (roll as usize % 10) * 6) / 100;
                while !good.is_char_boundary(at) {
                    at -= 1;
                }
                completion(&good[..at], 100, 100)
            }
            3 => completion(&format!("{good}<p data-b=\"{}\">发明的段落：原文没有这一段。</p>\n", blocks.len()), 100, 100),
            4 => completion(&reply_html(&blocks, |h| h.to_string()), 100, 100),
            _ => completion(&good, 100, 100),
        }
    }
}

#[test]
fn a_flaky_engine_cannot_hold_posts_back() {
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(59), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, flaky(7));
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), ""), "backfill = 100"));

    let run = w.run(&["refresh"]);
    let (entries, complete, partial) = counts(&w);
    assert_eq!((entries, partial), (59, 0));
    println!("flaky engine: one refresh published {complete} of 59 posts; {}", run.stdout.lines().find(|l| l.starts_with("translation:")).unwrap_or(""));
    assert!(complete * 100 >= 59 * 95, "one refresh publishes at least 95% of the posts: {complete} of 59\n{}", run.stdout);
    assert_eq!(run.code, if complete == 59 { 0 } else { 2 }, "{run:?}");
    assert_stored_faithfully(&w);

    // What is left goes with `retry` and one more refresh.
    let retry = w.run(&["retry"]);
    assert_eq!(retry.code, 0, "{retry:?}");
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(counts(&w).1, 59);
    assert_stored_faithfully(&w);
    // The published feed carries nothing invented or echoed.
    let published = std::fs::read_to_string(w.path().join("output/simon/zh-CN/feed.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&published).unwrap();
    assert!(!doc["items"].as_array().unwrap().is_empty());
    assert!(!published.contains("发明的段落"), "an invented block was published");
}

#[test]
fn an_engine_that_is_down_keeps_posts_waiting_with_their_attempts() {
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |_, _| Reply::status(503));
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("translation paused, no engine available"), "{}", run.stdout);
    assert!(run.stdout.contains("not published yet: 3 posts"), "{}", run.stdout);
    // The engine was probed again after pausing, and the posts lost no attempt.
    let requests = engine_server.seen(CHAT).len();
    assert!(requests > 3, "probed again within the run: {requests} requests");
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let (queued, attempts): (i64, i64) =
        conn.query_row("SELECT count(*), sum(attempts) FROM queue WHERE state = 'queued'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((queued, attempts), (3, 0));

    // Back up: the next refresh publishes everything.
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(counts(&w).1, 3);
}

#[test]
fn a_post_waiting_for_a_retry_keeps_refresh_unfinished_until_it_is_published() {
    // One block is echoed back every time: its post waits for a later retry.
    let echo_via = |req: &common::Seen, _: usize| {
        completion(&reply_html(&request_blocks(req), |h| if h.starts_with("Via ") { h.to_string() } else { fake_translate(h) }), 10, 10)
    };
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, echo_via);
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    assert_eq!(w.run(&["refresh"]).code, 2);

    // The second refresh has nothing due to send, but a post is still unpublished: not a success.
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("not published yet: 1 posts"), "{}", run.stdout);
    assert!(run.stdout.contains("waiting for a retry at"), "{}", run.stdout);
    let status = w.feed_status("simon");
    let line = status["unpublished"][0].as_str().unwrap();
    assert!(line.contains("A useful tool, number 1") && line.contains("not translated (the source came back)"), "{status}");

    // `retry` puts the waiting post back at once; with a good engine it is published.
    let retry = w.run(&["retry"]);
    assert!(retry.stdout.starts_with("0 failed and 1 waiting translations queued again"), "{retry:?}");
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("not published yet"), "{}", run.stdout);
    assert_eq!(w.feed_status("simon")["unpublished"], serde_json::json!([]));
}

#[test]
fn partial_posts_need_more_than_the_share_and_are_counted_apart() {
    // The "Via" paragraph is echoed back every time: 2 of the entry's 3 blocks are translated.
    let only_titles_and_via = |req: &common::Seen, _: usize| {
        completion(&reply_html(&request_blocks(req), |h| if h.starts_with("Via ") { h.to_string() } else { fake_translate(h) }), 10, 10)
    };
    let entries = vec![AtomEntry {
        day: 1,
        slug: "tool".into(),
        title: "A useful tool".into(),
        html: "<p><strong><a href=\"https://example.com/tool\">A useful tool for everyone</a></strong></p><p>Via <a href=\"https://news.ycombinator.com/\">Hacker News</a>, where it was discussed at length.</p>".into(),
        tags: vec![],
    }];
    for (share, published) in [("0.5", true), ("0.6", true), ("0.7", false)] {
        let feeds = Server::start();
        feeds.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
        let engine_server = Server::start();
        engine_server.route(CHAT, only_titles_and_via);
        let extra = format!("allow_partial = true\npartial_share = {share}\nblock_attempts = 2");
        let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), &extra), ""));
        let run = w.run(&["refresh"]);
        // Title and first paragraph translated, the second not: 2 of 3 blocks.
        let (_, complete, partial) = counts(&w);
        assert_eq!((complete, partial), (0, i64::from(published)), "share {share}: {}", run.stdout);
        if published {
            assert_eq!(run.code, 0, "{run:?}");
            assert!(run.stdout.contains("0 entries translated, 1 partial"), "{}", run.stdout);
            let status = w.feed_status("simon");
            assert_eq!((status["translated"].as_u64(), status["partial"].as_u64()), (Some(0), Some(1)), "{status}");
        } else {
            assert_eq!(run.code, 2, "{run:?}");
        }
    }
}

#[test]
fn a_repair_round_tells_the_engine_what_was_wrong_and_counts() {
    // The engine drops the link of one block (it sees `[Hacker News](1)`) unless told that it did.
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req: &common::Seen, _: usize| {
        let told = engine::system_message(req).contains("previous translation of this block was rejected");
        let unlinked = regex::Regex::new(r"\[([^\]]*)\]\([0-9]+\)").unwrap();
        completion(
            &reply_html(
                &request_blocks(req),
                |h| {
                    if h.starts_with("Via ") && !told { fake_translate(&unlinked.replace_all(h, "$1")) } else { fake_translate(h) }
                },
            ),
            10,
            10,
        )
    });
    let extra = "temperature = 0";
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), extra), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(" 1 repaired,"), "{}", run.stdout);
    assert_stored_faithfully(&w);
    // `status` counts it with the feed, in JSON and in text.
    assert_eq!(w.feed_status("simon")["repaired"], 1);
    let status = w.run(&["status"]);
    assert!(status.stdout.contains("; 1 block repaired (passed once told what was wrong)"), "{}", status.stdout);
    // The repair names the link as the engine saw it, and the words it goes around; never the URL
    // it was not sent.
    let repairs: Vec<String> =
        engine_server.seen(CHAT).iter().map(engine::system_message).filter(|s| s.contains("previous translation of this block was rejected")).collect();
    assert_eq!(repairs.len(), 1);
    assert!(repairs[0].contains("rejected: […](1) is missing: put it around the words that translate \"Hacker News\"."), "{}", repairs[0]);
    assert!(!repairs[0].contains("news.ycombinator.com"), "{}", repairs[0]);
}

#[test]
fn wordless_titles_and_blocks_are_never_sent() {
    let entries = vec![AtomEntry {
        day: 2,
        slug: "n".into(),
        title: "2026".into(),
        html: "<p>A short note about the year ahead of us.</p><p>42</p><p><code>llm -m gpt-4o 'hello'</code></p>".into(),
        tags: vec![],
    }];
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    let sent: Vec<String> = engine_server.seen(CHAT).iter().flat_map(|s| request_blocks(s).into_iter().map(|b| b.2)).collect();
    assert_eq!(sent, ["A short note about the year ahead of us."]);
    assert_stored_faithfully(&w);
}

#[test]
fn a_block_rejected_again_and_again_is_asked_for_as_often_as_it_can_change() {
    // The engine echoes one block back every time. A sampling engine may answer otherwise when
    // asked again: it gets `block_attempts` requests in all, then one repair (the same block, told
    // what was wrong). A greedy one (temperature 0) answers the same: it is asked once in its
    // batch, once alone, and repaired; then the rest of its requests are sampled (with a
    // temperature and a seed of their own), each told what was wrong. Both get 5 requests.
    for temperature in ["0.3", "0"] {
        let feeds = Server::start();
        feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
        let engine_server = Server::start();
        engine_server.route(CHAT, |req: &common::Seen, _: usize| {
            completion(&reply_html(&request_blocks(req), |h| if h.starts_with("Via ") { h.to_string() } else { fake_translate(h) }), 10, 10)
        });
        let extra = format!("temperature = {temperature}\nblock_attempts = 4");
        let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), &extra), ""));
        assert_eq!(w.run(&["refresh"]).code, 2);
        let seen = engine_server.seen(CHAT);
        let asked: Vec<&common::Seen> = seen.iter().filter(|s| request_blocks(s).iter().any(|b| b.2.starts_with("Via "))).collect();
        assert_eq!(asked.len(), 5, "temperature {temperature}");
        let told: Vec<bool> = asked
            .iter()
            .map(|s| engine::system_message(s).contains("Your previous translation of this block was rejected: not translated (the source came back)"))
            .collect();
        let sampling: Vec<(f64, Option<u64>)> = asked.iter().map(|s| engine::sampling(s)).collect();
        if temperature == "0" {
            assert_eq!(told, [false, false, true, true, true]);
            let temperatures: Vec<f64> = sampling.iter().map(|s| (s.0 * 10.0).round() / 10.0).collect();
            assert_eq!(temperatures, [0.0, 0.0, 0.0, 0.8, 0.8]);
            assert_eq!(sampling[0].1, None, "a greedy request carries no seed");
            let seeds: std::collections::BTreeSet<u64> = sampling[3..].iter().map(|s| s.1.expect("a sampled request's seed")).collect();
            assert_eq!(seeds.len(), 2, "each sampled request has a seed of its own: {sampling:?}");
        } else {
            assert_eq!(told, [false, false, false, false, true]);
            assert!(sampling.iter().all(|s| (s.0 - 0.3).abs() < 1e-6), "{sampling:?}");
            let seeds: std::collections::BTreeSet<u64> = sampling[1..].iter().map(|s| s.1.expect("a sampled request's seed")).collect();
            assert_eq!(seeds.len(), 4, "a block asked again is asked with another seed: {sampling:?}");
        }
    }
}

#[test]
fn a_greedy_engine_that_fails_a_block_gets_it_right_sampled() {
    // Like a small model: greedy, it echoes one block back, told what was wrong too; sampled, it
    // translates it with some seeds and not others. The block is translated, the post published
    // whole, and the summary counts the block repaired.
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(2), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req: &common::Seen, _: usize| {
        let (temperature, seed) = engine::sampling(req);
        let lucky = temperature > 0.0 && seed.is_some_and(|s| s % 2 == 0);
        completion(&reply_html(&request_blocks(req), |h| if h.starts_with("Via ") && !lucky { h.to_string() } else { fake_translate(h) }), 10, 10)
    });
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), "temperature = 0"), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("2 entries translated, 0 partial, 0 failed"), "{}", run.stdout);
    assert!(run.stdout.contains(" 1 repaired, 0 rejected by the checks"), "{}", run.stdout);
    let seen = engine_server.seen(CHAT);
    let asked: Vec<&common::Seen> = seen.iter().filter(|s| request_blocks(s).iter().any(|b| b.2.starts_with("Via "))).collect();
    // In its batch, alone, repaired (greedy, all three), then sampled: seed 3 fails, seed 4 passes.
    assert_eq!(asked.len(), 5, "{asked:?}");
    assert_stored_faithfully(&w);
}

#[test]
fn a_spent_feed_budget_ends_the_run_and_keeps_the_posts_waiting() {
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&sample_entries(3), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let top = engine::translator_config(&engine_server.url("/v1"), "max_concurrency = 1\nbatch_tokens = 60");
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &top, "budget_tokens_per_day = 1"));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("not published yet: 3 posts"), "{}", run.stdout);
    // The posts keep their attempts: a budget is no fault of theirs.
    let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
    let attempts: i64 = conn.query_row("SELECT sum(attempts) FROM queue", [], |r| r.get(0)).unwrap();
    assert_eq!(attempts, 0);
}

/// Posts of many long paragraphs (the real post's sentences), `tag` making them new ones.
fn long_posts(n: u32, tag: &str) -> Vec<AtomEntry> {
    let paragraph = |i: u32, j: u32| {
        format!(
            "<p>{tag} {i}.{j}: a lot has happened in the world of Large Language Models over the course of the year, and here is a review of the things we figured out about the field, plus my attempt at identifying key themes.</p>"
        )
    };
    (0..n)
        .map(|i| AtomEntry {
            day: 20 - i,
            slug: format!("{tag}-{i}"),
            title: format!("{tag} {i}"),
            html: (0..8).map(|j| paragraph(i, j)).collect(),
            tags: vec![],
        })
        .collect()
}

#[test]
fn an_engine_that_fails_long_requests_gets_shorter_ones_and_it_is_remembered() {
    // A small model: in a request of more than LONG tokens of source it loses its way a third of
    // the way in (the rest of the blocks come back missing); shorter requests it translates well.
    const LONG: usize = 800;
    let tokens = |b: &(usize, String, String)| polyfeed::translate::prompt::estimate_tokens(&b.2);
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&long_posts(4, "First"), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, move |req: &common::Seen, _: usize| {
        let mut blocks = request_blocks(req);
        let size: usize = blocks.iter().map(tokens).sum();
        if size > LONG {
            blocks.truncate(blocks.len() / 3);
        }
        completion(&reply_html(&blocks, fake_translate), 10, 10)
    });
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), "temperature = 0"), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "every post arrives: {run:?}");
    assert_stored_faithfully(&w);
    let learned = || {
        let conn = rusqlite::Connection::open(w.path().join("cache/polyfeed.sqlite")).unwrap();
        conn.query_row("SELECT batch_tokens FROM engines WHERE engine = 'openai' AND model = 'test-model'", [], |r| r.get::<_, i64>(0)).unwrap() as usize
    };
    let after_first = learned();
    assert!(after_first <= LONG, "the engine's batches got short enough: {after_first}");
    let first_requests = engine_server.seen(CHAT).len();
    let body_sizes = |from: usize| -> Vec<usize> {
        engine_server.seen(CHAT)[from..].iter().map(request_blocks).filter(|b| b.len() > 1).map(|b| b.iter().map(tokens).sum()).collect()
    };
    assert!(body_sizes(0).iter().any(|t| *t > LONG), "the first run started with long requests");

    // The next run starts where this one ended: no request too long for the engine.
    feeds.feed("/feed", ATOM, &atom_feed(&long_posts(4, "Second").into_iter().chain(long_posts(4, "First")).collect::<Vec<_>>(), false), "\"v2\"");
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    let second = body_sizes(first_requests);
    assert!(!second.is_empty() && second.iter().all(|t| *t <= LONG), "a remembered size: {second:?}");
    println!(
        "batches: 1500 source tokens at first, {after_first} after one run; the first run sent {first_requests} requests, the second {} for as much",
        engine_server.seen(CHAT).len() - first_requests
    );
}
