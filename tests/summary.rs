//! Summaries (`summary = true`): written from the real post by a chat engine, checked, stored with
//! the translation, paid for once, and published in every format marked as machine-written.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::engine::{self, CHAT, completion};
use common::{AtomEntry, Reply, Seen, Server, Workdir, atom_feed, sample_entries};
use serde_json::Value;

const ATOM: &str = "application/atom+xml; charset=utf-8";
/// Simon Willison's "Things we learned about LLMs in 2024", the real English post.
const POST: &str = include_str!("fixtures/llms-in-2024.html");
const LABEL: &str = "摘要（机器生成）：";
/// What a good engine says of the post: only what the post says (2024, GPT-4, eighteen as 18).
const GOOD: &str = "Simon Willison 回顾了 2024 年的大语言模型：GPT-4 的壁垒被打破，已有 18 个组织的模型排名超过最初的 GPT-4，价格大幅下降。";
/// The same with a number the post does not have.
const INVENTED: &str = "Simon Willison 回顾了 2024 年的大语言模型：共有 9137 个模型超过了 GPT-4。";

fn is_summary_request(req: &Seen) -> bool {
    engine::system_message(req).starts_with("You write short summaries.")
}

/// The one block of a summary request: the post's text.
fn summary_source(req: &Seen) -> String {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    body["messages"][1]["content"].as_str().unwrap().to_string()
}

/// An engine that translates as a good translator does and summarizes with `GOOD`.
fn good_engine(req: &Seen, _: usize) -> Reply {
    if is_summary_request(req) { summary_reply(GOOD) } else { engine::translate(req) }
}

fn summary_reply(text: &str) -> Reply {
    completion(&format!("<div data-b=\"0\">{text}</div>"), 300, 40)
}

/// Two real-length posts (the same article under two titles) and a quotation too short to summarize.
fn entries() -> Vec<AtomEntry> {
    let long = |day, slug: &str, title: &str| AtomEntry { day, slug: slug.into(), title: title.into(), html: POST.into(), tags: vec!["ai".into()] };
    let mut quote = sample_entries(3).pop().unwrap();
    quote.day = 20;
    vec![long(28, "llms-in-2024", "Things we learned about LLMs in 2024"), long(27, "llms-in-2024-again", "LLMs in 2024, again"), quote]
}

fn config(feeds: &Server, engine: &Server, extra_translator: &str) -> String {
    format!(
        "{}\n[[feeds]]\nname = \"blog\"\nurl = \"{}\"\nallow_private_network = true\nsummary = true\n",
        engine::translator_config(&engine.url("/v1"), extra_translator),
        feeds.url("/blog")
    )
}

fn read(w: &Workdir, rel: &str) -> String {
    std::fs::read_to_string(w.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// (original title, summary) of every item of the published JSON feed.
fn json_summaries(w: &Workdir) -> Vec<(String, Option<String>)> {
    let doc: Value = serde_json::from_str(&read(w, "output/blog/zh-CN/feed.json")).unwrap();
    let original = |title: &str| title.rsplit(" | ").next().unwrap().to_string();
    doc["items"].as_array().unwrap().iter().map(|i| (original(i["title"].as_str().unwrap()), i["summary"].as_str().map(str::to_string))).collect()
}

#[test]
fn each_long_post_gets_a_checked_summary_published_everywhere_and_marked_machine_written() {
    let feeds = Server::start();
    feeds.feed("/blog", ATOM, &atom_feed(&entries(), false), "\"v1\"");
    let engine = Server::start();
    engine.route(CHAT, good_engine);
    let w = Workdir::new(&config(&feeds, &engine, ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("summaries: 2 written, 0 from memory, 0 rejected by the checks, 0 skipped"), "{}", run.stdout);

    // What the engine was asked: the post's words (no markup, no URL of a link), the beginning of
    // a long post only, once per post; the quotation is too short to need one.
    let asked: Vec<Seen> = engine.seen(CHAT).into_iter().filter(is_summary_request).collect();
    assert_eq!(asked.len(), 2);
    let system = engine::system_message(&asked[0]);
    assert!(system.contains("Simplified Chinese (zh-CN), in at most 400 characters"), "{system}");
    let source = summary_source(&asked[0]);
    assert!(
        ["Things we learned about LLMs in 2024", "LLMs in 2024, again"].iter().any(|t| source.starts_with(&format!("<div data-b=\"0\">{t} "))),
        "the title, then the text: {source}"
    );
    assert!(source.contains("The GPT-4 barrier was comprehensively broken"));
    assert!(!source.contains("<a ") && !source.contains("href"), "the post's text only: {}", &source[..400]);
    assert!(polyfeed::translate::prompt::estimate_tokens(&source) <= polyfeed::translate::prompt::SUMMARY_SOURCE_TOKENS + 200, "a long post is cut");
    assert!(!source.contains("Only through better criticism"), "the post's end is not sent");
    let request: Value = serde_json::from_slice(&asked[0].body).unwrap();
    assert_eq!(request["max_tokens"], 464, "a summary's reply is capped by its length, not the post's");

    // JSON Feed `summary`, Atom `<summary>`, on top of every body, the Markdown post and the reading page.
    let mut items = json_summaries(&w);
    items.sort();
    let marked = format!("{LABEL}{GOOD}");
    assert_eq!(items.iter().filter(|(_, s)| s.as_deref() == Some(marked.as_str())).count(), 2, "{items:?}");
    assert_eq!(items.iter().filter(|(_, s)| s.is_none()).count(), 1, "the quotation has none: {items:?}");
    let atom = feed_rs::parser::parse(read(&w, "output/blog/zh-CN/atom.xml").as_bytes()).unwrap();
    let summaries: Vec<String> = atom.entries.iter().filter_map(|e| e.summary.as_ref().map(|s| s.content.clone())).collect();
    assert_eq!(summaries, [marked.clone(), marked.clone()]);
    let on_top = format!("<p class=\"polyfeed-summary\"><strong>{}</strong>{GOOD}</p>", LABEL.trim_end());
    let rss = feed_rs::parser::parse(read(&w, "output/blog/zh-CN/rss.xml").as_bytes()).unwrap();
    let bodies: Vec<String> = rss.entries.iter().filter_map(|e| e.summary.as_ref().map(|s| s.content.clone())).collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies.iter().filter(|b| b.starts_with(&on_top)).count(), 2, "the body starts with it: {}", &bodies[0][..300]);
    let post = read(&w, "output/posts/zh-CN/2026-11-28-llms-in-2024.md");
    assert!(post.contains(&format!("\n\n> **{LABEL}**{GOOD}\n\n")), "{}", &post[..800]);
    let page = std::fs::read_dir(w.path().join("output/blog/zh-CN"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|p| p.contains("Things we learned about LLMs in 2024"))
        .expect("a reading page");
    assert!(page.contains(&on_top), "the reading page opens with it");

    // What summaries cost is shown apart.
    let status = w.run(&["status"]);
    assert!(status.stdout.contains("of which summaries: 680 tokens"), "{}", status.stdout);
    let again = w.run(&["refresh"]);
    assert_eq!(again.code, 0);
    assert_eq!(engine.seen(CHAT).into_iter().filter(is_summary_request).count(), 2, "nothing is summarized twice");
}

#[test]
fn a_summary_not_written_holds_its_post_back_and_the_next_run_pays_only_for_the_summary() {
    let feeds = Server::start();
    let mut posts = entries();
    posts.truncate(1);
    feeds.feed("/blog", ATOM, &atom_feed(&posts, false), "\"v1\"");
    let engine = Server::start();
    let refuse = Arc::new(AtomicBool::new(true));
    let r = refuse.clone();
    engine.route(CHAT, move |req, _| match (is_summary_request(req), r.load(Ordering::SeqCst)) {
        (true, true) => Reply::json(400, &serde_json::json!({"error": {"message": "this deployment refuses the request"}})),
        (true, false) => summary_reply(GOOD),
        (false, _) => engine::translate(req),
    });
    let w = Workdir::new(&config(&feeds, &engine, ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "the post is not out yet: {run:?}");
    assert!(json_summaries(&w).is_empty(), "no post goes out before its summary");
    let translations = engine.seen(CHAT).into_iter().filter(|r| !is_summary_request(r)).count();
    assert!(translations > 3);

    refuse.store(false, Ordering::SeqCst);
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(engine.seen(CHAT).into_iter().filter(|r| !is_summary_request(r)).count(), translations, "every block came from the memory");
    assert_eq!(json_summaries(&w), [("Things we learned about LLMs in 2024".to_string(), Some(format!("{LABEL}{GOOD}")))]);
}

#[test]
fn a_summary_that_says_what_the_post_does_not_is_repaired_once_then_left_out() {
    let feeds = Server::start();
    let mut posts = entries();
    posts.truncate(2);
    feeds.feed("/blog", ATOM, &atom_feed(&posts, false), "\"v1\"");
    let engine = Server::start();
    // It invents a number; told so, it fixes the first post's summary and not the second's.
    engine.route(CHAT, |req, _| {
        if !is_summary_request(req) {
            return engine::translate(req);
        }
        let told = engine::system_message(req).contains("was rejected: number 9137 added");
        let second = summary_source(req).starts_with("<div data-b=\"0\">LLMs in 2024, again ");
        summary_reply(if told && !second { GOOD } else { INVENTED })
    });
    let w = Workdir::new(&config(&feeds, &engine, ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "a post without its summary is still a finished post: {run:?}");
    assert!(run.stdout.contains("summaries: 1 written, 0 from memory, 1 rejected by the checks"), "{}", run.stdout);
    assert!(run.stderr.contains("summary rejected") && run.stderr.contains("number 9137 added"), "{}", run.stderr);
    assert_eq!(engine.seen(CHAT).into_iter().filter(is_summary_request).count(), 4, "each asked twice: once, then told what was wrong");
    let mut items = json_summaries(&w);
    items.sort();
    assert_eq!(items, [("LLMs in 2024, again".to_string(), None), ("Things we learned about LLMs in 2024".to_string(), Some(format!("{LABEL}{GOOD}")))]);
    assert!(!read(&w, "output/blog/zh-CN/atom.xml").contains("9137"), "nothing invented is published");
}

#[test]
fn past_the_summaries_budget_posts_go_out_without_one() {
    let feeds = Server::start();
    let mut posts = entries();
    posts.truncate(2);
    feeds.feed("/blog", ATOM, &atom_feed(&posts, false), "\"v1\"");
    let engine = Server::start();
    engine.route(CHAT, good_engine);
    // One summary (340 tokens) spends the day's 100.
    let w = Workdir::new(&config(&feeds, &engine, "summary_budget_tokens_per_day = 100\nmax_concurrency = 1"));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("summaries: 1 written, 0 from memory, 0 rejected by the checks, 1 skipped"), "{}", run.stdout);
    assert_eq!(engine.seen(CHAT).into_iter().filter(is_summary_request).count(), 1);
    assert_eq!(json_summaries(&w).iter().filter(|(_, s)| s.is_some()).count(), 1);
    let status = w.run(&["status"]);
    assert!(status.stdout.contains("of which summaries: 340 tokens ($0.0000); today 340 of a budget of 100"), "{}", status.stdout);
}

#[test]
fn the_daemon_publishes_each_periods_digest_when_it_closes() {
    use common::running::{Running, free_port, get, wait_until};
    let feeds = Server::start();
    feeds.feed("/blog", ATOM, &atom_feed(&entries(), false), "\"v1\"");
    let engine = Server::start();
    engine.route(CHAT, good_engine);
    let port = free_port();
    let config = format!(
        "schedule = \"0 0 0 1 1 *\"\n{}\n[server]\nlisten = \"127.0.0.1:{port}\"\ngrace_period = 3\n[publish]\npublic_url = \"http://127.0.0.1:{port}/\"\n[publish.digest]\nschedule = \"*/2 * * * * *\"\n\n[[feeds]]\nname = \"blog\"\nurl = \"{}\"\nallow_private_network = true\nsummary = true\n",
        engine::translator_config(&engine.url("/v1"), ""),
        feeds.url("/blog")
    );
    let w = Workdir::new(&config);
    let daemon = Running::start(&w, "daemon", port);
    // Every post is listed once a period holding its translation has closed (no new fetch needed:
    // the daemon wakes at the closing).
    let titles = ["Things we learned about LLMs in 2024", "LLMs in 2024, again", "Quoting someone, 2"];
    let listed = || -> Option<Vec<Value>> {
        let got = get(&daemon.url("/digest/zh-CN/feed.json"), &[]).filter(|g| g.status == 200)?;
        let doc: Value = serde_json::from_str(&got.text()).ok()?;
        let items = doc["items"].as_array()?.clone();
        let html: String = items.iter().map(|i| i["content_html"].as_str().unwrap_or_default()).collect();
        titles.iter().all(|t| html.contains(&common::escape(t))).then_some(items)
    };
    wait_until(std::time::Duration::from_secs(60), || listed().is_some(), "every post is in a digest");
    let items = listed().unwrap();
    let html: String = items.iter().map(|i| i["content_html"].as_str().unwrap().to_string()).collect();
    for t in titles {
        assert_eq!(html.matches(&format!(">{}</span>", common::escape(t))).count(), 1, "{t} is listed once: {html}");
    }
    assert_eq!(html.matches(&format!("<strong>{}</strong>{GOOD}", LABEL.trim_end())).count(), 2, "with the summaries there are: {html}");
    assert!(html.contains(&format!("http://127.0.0.1:{port}/blog/zh-CN/llms-in-2024.html")), "each links its reading page: {html}");
    for i in &items {
        assert!(i["title"].as_str().unwrap().starts_with("文摘 2026-"), "{i}");
        assert!(i["id"].as_str().unwrap().starts_with("urn:polyfeed:digest:"), "{i}");
    }
    for format in ["atom.xml", "rss.xml"] {
        let got = get(&daemon.url(&format!("/digest/zh-CN/{format}")), &[]).unwrap();
        let parsed = feed_rs::parser::parse(got.body.as_slice()).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert!(!parsed.entries.is_empty(), "{format}");
    }
    let (code, _, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
}
