//! Publishing end to end: feeds read back by feed-rs, rss and atom_syndication; the Markdown post
//! against a golden file; hostile markup; incremental republishing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::engine::{self, CHAT};
use common::{AtomEntry, Reply, Server, Workdir, atom_feed, config_for, corpus_dir};
use polyfeed::model::Entry;
use polyfeed::store::{PublishItem, StoredEntry, TranslationRow};

const ATOM: &str = "application/atom+xml; charset=utf-8";

fn read(w: &Workdir, rel: &str) -> String {
    std::fs::read_to_string(w.path().join("output").join(rel)).unwrap_or_else(|e| panic!("output/{rel}: {e}"))
}

fn links_of(feed: &feed_rs::model::Feed) -> BTreeSet<String> {
    feed.entries.iter().filter_map(|e| e.links.first().map(|l| l.href.clone())).collect()
}

#[test]
fn published_feeds_read_back_and_match_the_sources_one_to_one() {
    let Some(corpus) = corpus_dir("published_feeds_read_back_and_match_the_sources_one_to_one") else { return };
    let corpus = corpus.join("feeds/feedjira-sample-feeds/spec/sample_feeds");
    let feeds = Server::start();
    let sources = [
        ("techcrunch", "TechCrunch.xml", "application/rss+xml"),
        ("pauldix", "PaulDixExplainsNothing.xml", ATOM),
        ("jsonfeed", "json_feed.json", "application/feed+json"),
    ];
    for (name, file, ty) in sources {
        let body = std::fs::read(corpus.join(file)).unwrap();
        feeds.route(&format!("/{name}"), move |_, _| Reply::new(200, ty, body.clone()));
    }
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let top = format!(
        "{}\n[publish]\npublic_url = \"https://feeds.example.org/polyfeed/\"\nmax_entries = 1000\n",
        engine::translator_config(&engine_server.url("/v1"), "")
    );
    let list: Vec<(&str, String)> = sources.iter().map(|(n, _, _)| (*n, feeds.url(&format!("/{n}")))).collect();
    let list: Vec<(&str, &str)> = list.iter().map(|(n, u)| (*n, u.as_str())).collect();
    let w = Workdir::new(&config_for(&list, &top, "backfill = 1000"));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");

    let mut all_links = BTreeSet::new();
    for (name, file, _) in sources {
        let source = polyfeed::parse::parse(&std::fs::read(corpus.join(file)).unwrap(), &feeds.url(&format!("/{name}")), None).unwrap();
        let want: BTreeSet<String> = source.entries.iter().filter_map(|e| e.link.clone()).collect();
        all_links.extend(want.iter().cloned());
        for format in ["atom.xml", "rss.xml", "feed.json"] {
            let text = read(&w, &format!("{name}/zh-CN/{format}"));
            let parsed = feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{name}/{format}: {e}"));
            assert_eq!(links_of(&parsed), want, "{name}/{format}");
            assert_eq!(parsed.entries.len(), source.entries.len(), "{name}/{format}: one to one");
            let ids: BTreeSet<&str> = parsed.entries.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(ids.len(), parsed.entries.len(), "{name}/{format}: ids unique");
        }
        // The writers' own crates read what they wrote.
        let atom = atom_syndication::Feed::read_from(read(&w, &format!("{name}/zh-CN/atom.xml")).as_bytes()).unwrap();
        assert_eq!(atom.lang.as_deref(), Some("zh-CN"));
        assert!(atom.links.iter().any(|l| l.rel == "self" && l.href == format!("https://feeds.example.org/polyfeed/{name}/zh-CN/atom.xml")));
        let first = &atom.entries[0];
        let original = source.entries.iter().find(|e| e.link.as_deref() == first.links.first().map(|l| l.href.as_str())).unwrap();
        assert_eq!(
            first.title.value,
            format!("{} | {}", polyfeed::text::html_to_plain(&engine::fake_translate(&polyfeed::text::escape_html(&original.title))), original.title)
        );
        assert!(first.source.as_ref().is_some_and(|s| s.id == feeds.url(&format!("/{name}"))), "names its source");
        assert_eq!(first.published.map(|d| d.with_timezone(&chrono::Utc)), original.published.or(original.updated));
        let rss = rss::Channel::read_from(read(&w, &format!("{name}/zh-CN/rss.xml")).as_bytes()).unwrap();
        assert_eq!(rss.language.as_deref(), Some("zh-CN"));
        assert!(rss.items.iter().all(|i| i.guid.as_ref().is_some_and(|g| !g.permalink) && i.source.is_some()));
        let json: serde_json::Value = serde_json::from_str(&read(&w, &format!("{name}/zh-CN/feed.json"))).unwrap();
        assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(json["feed_url"], format!("https://feeds.example.org/polyfeed/{name}/zh-CN/feed.json"));
    }
    let merged = feed_rs::parser::parse(read(&w, "all/zh-CN/atom.xml").as_bytes()).unwrap();
    assert_eq!(links_of(&merged), all_links, "the merged feed holds every entry once");

    // Bilingual bodies: original blocks followed by marked translations; code blocks once.
    let atom = read(&w, "pauldix/zh-CN/atom.xml");
    assert!(
        atom.contains("class=&quot;polyfeed-translation&quot; lang=&quot;zh-CN&quot;") || atom.contains("class=\"polyfeed-translation\""),
        "translations are marked"
    );
    let opml = read(&w, "opml.xml");
    for (name, _, _) in sources {
        assert!(opml.contains(&format!("xmlUrl=\"https://feeds.example.org/polyfeed/{name}/zh-CN/atom.xml\"")), "{opml}");
    }
    let index = read(&w, "index.html");
    assert!(index.contains("<link rel=\"alternate\" type=\"application/atom+xml\""), "feed autodiscovery");

    // Nothing changed: a second refresh rewrites nothing.
    let again = w.run(&["refresh"]);
    assert!(again.stdout.contains("published: 0 files written"), "{}", again.stdout);
}

#[test]
fn a_post_renders_to_the_shape_of_the_example() {
    let config = polyfeed::config::Config::parse(
        "[[feeds]]\nname = \"simonwillison\"\nurl = \"https://simonwillison.net/atom/everything/\"\n\n[publish]\ncategories = { ai = \"AI\", llms = \"LLM\" }\n",
    )
    .unwrap();
    let content = "<p>A lot has happened in the world of <a href=\"/tags/llms/\">Large Language Models</a> over the course of 2024.</p>\
        <h4 id=\"the-gpt-4-barrier\">The GPT-4 barrier was comprehensively broken</h4>\
        <ul><li>Gemini 1.5 Flash 8B costs $0.0375/mTok</li><li>Claude 3 Haiku costs $0.25/mTok</li></ul>\
        <pre><code class=\"language-bash\">llm -m gemini-1.5-flash-8b 'describe'</code></pre>\
        <blockquote><p>The best way to predict the future is to invent it.</p></blockquote>";
    let units = vec![
        Some("在 2024 年，<a href=\"/tags/llms/\">大语言模型</a>领域发生了很多事情。".to_string()),
        Some("GPT-4 的门槛被彻底打破".to_string()),
        Some("Gemini 1.5 Flash 8B 的价格是 $0.0375/mTok".to_string()),
        Some("Claude 3 Haiku 的价格是 $0.25/mTok".to_string()),
        Some("预测未来的最好方式就是创造未来。".to_string()),
    ];
    let item = PublishItem {
        entry: StoredEntry {
            id: 1,
            feed: "simonwillison".into(),
            version: 1,
            note: None,
            entry: Entry {
                key: "k".into(),
                source_id: "https://simonwillison.net/2024/Dec/31/llms-in-2024/#atom-everything".into(),
                link: Some("https://simonwillison.net/2024/Dec/31/llms-in-2024/".into()),
                title: "Things we learned about LLMs in 2024".into(),
                content: content.into(),
                authors: vec![],
                categories: vec!["ai".into(), "llms".into(), "gemini".into()],
                published: polyfeed::parse::parse_timestamp("2024-12-31T10:07:00Z"),
                updated: polyfeed::parse::parse_timestamp("2024-12-31T10:07:00Z"),
            },
        },
        translation: TranslationRow {
            entry_id: 1,
            lang: "zh-CN".into(),
            version: 1,
            title_src: "Things we learned about LLMs in 2024".into(),
            title: "2024 年我们对大语言模型的认知".into(),
            content_src: content.into(),
            units,
            complete: true,
            summary: None,
        },
        translated_at: 1_735_700_000,
        seq: 1,
    };
    let published = polyfeed::publish::entry::build(&item, &["Simon Willison".to_string()], &config);
    let (name, text) = polyfeed::publish::markdown::post(&published, &config.publish, config.tz, "Simon Willison's Weblog", Some("https://simonwillison.net/"));
    assert_eq!(name, "2024-12-31-llms-in-2024.md");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/2024-12-31-llms-in-2024.md");
    if std::env::var_os("POLYFEED_BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(&golden).unwrap());

    // The example's shape: the same front matter keys in the same order, the same date format,
    // a `#` title, and the attribution line last.
    let example = include_str!("fixtures/llms-in-2024.zh-CN.md");
    let keys = |doc: &str| -> Vec<String> { doc.lines().skip(1).take_while(|l| *l != "---").map(|l| l.split(':').next().unwrap().to_string()).collect() };
    assert_eq!(keys(&text), keys(example));
    assert!(text.contains("\ndate: 2024-12-31 18:07:00 +0800\n"));
    assert!(text.contains("\n# 2024 年我们对大语言模型的认知\n"));
    let last = |doc: &str| doc.trim_end().lines().last().unwrap().to_string();
    assert_eq!(last(&text), last(example));
}

const HOSTILE: &[&str] = &["<script", "onerror", "onload", "javascript:", "<iframe", "url(", "<style", "onclick"];

#[test]
fn hostile_markup_never_reaches_subscribers() {
    let html = concat!(
        "<p>Hello<script>alert('x')</script> <img src=\"/a.png\" onerror=\"alert(1)\"> <a href=\"javascript:alert(2)\">click</a></p>",
        "<iframe src=\"https://evil.example/\"></iframe>",
        "<p style=\"background:url(https://evil.example/track.png)\" onclick=\"steal()\">styled paragraph text here</p>",
        "<svg onload=\"alert(3)\"><circle r=\"1\"/></svg><style>body{background:url(https://evil.example/)}</style>",
    );
    let entries = vec![AtomEntry {
        day: 1,
        slug: "hostile".into(),
        title: "<script>alert('title')</script>Breaking <b onmouseover=\"x()\">news</b>".into(),
        html: html.into(),
        tags: vec!["<script>".into()],
    }];
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let w = Workdir::new(&config_for(&[("evil", &feeds.url("/feed"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut files = Vec::new();
    collect(&w.path().join("output"), &mut files);
    assert!(files.len() >= 9, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Feed XML escapes HTML once; undo that to see what a feed reader renders.
        let rendered = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&").to_lowercase();
        for bad in HOSTILE {
            if file.extension().is_some_and(|e| e == "css") && *bad == "url(" {
                continue;
            }
            assert!(!rendered.contains(bad), "{} contains {bad}:\n{text}", file.display());
        }
    }
    let page = read(&w, "evil/zh-CN/hostile.html");
    assert!(page.contains("https://simonwillison.net/a.png"), "relative URLs made absolute against the post");
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { collect(&p, out) } else { out.push(p) }
    }
}

#[test]
fn republishing_is_incremental() {
    let mut entries = common::sample_entries(6);
    let feeds = Server::start();
    feeds.feed("/a", ATOM, &atom_feed(&entries, false), "\"v1\"");
    feeds.feed("/b", ATOM, &atom_feed(&common::sample_entries(2), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let w = Workdir::new(&config_for(&[("a", &feeds.url("/a")), ("b", &feeds.url("/b"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    assert_eq!(w.run(&["refresh"]).code, 0);
    let b_atom = w.path().join("output/b/zh-CN/atom.xml");
    let b_mtime = std::fs::metadata(&b_atom).unwrap().modified().unwrap();

    entries
        .insert(0, AtomEntry { day: 29, slug: "fresh".into(), title: "Fresh news".into(), html: "<p>Something new happened today.</p>".into(), tags: vec![] });
    feeds.feed("/a", ATOM, &atom_feed(&entries, false), "\"v2\"");
    let run = w.run(&["refresh"]);
    assert!(run.stdout.contains("(1 feeds, 1 posts redone)"), "{}", run.stdout);
    assert_eq!(std::fs::metadata(&b_atom).unwrap().modified().unwrap(), b_mtime, "an unchanged feed is not rewritten");
    assert!(read(&w, "a/zh-CN/atom.xml").contains("Fresh news"));
    assert!(read(&w, "all/zh-CN/atom.xml").contains("Fresh news"));
    assert!(read(&w, "index.html").contains("Fresh news"));
    assert!(w.path().join("output/a/zh-CN/fresh.html").exists());
    assert!(std::fs::read_dir(w.path().join("output/posts/zh-CN")).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with("-fresh.md")));
}

#[test]
fn translated_mode_shows_the_translation_with_a_link_to_the_original() {
    let feeds = Server::start();
    feeds.feed("/feed", ATOM, &atom_feed(&common::sample_entries(1), false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let top = format!("{}\n[publish]\nmode = \"translated\"\n", engine::translator_config(&engine_server.url("/v1"), ""));
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &top, ""));
    assert_eq!(w.run(&["refresh"]).code, 0);
    let atom = atom_syndication::Feed::read_from(read(&w, "simon/zh-CN/atom.xml").as_bytes()).unwrap();
    let e = &atom.entries[0];
    assert!(!e.title.value.contains('|') && e.title.value.contains("中文"), "{}", e.title.value);
    let body = e.content.as_ref().unwrap().value.clone().unwrap();
    assert!(body.starts_with("<p class=\"polyfeed-original\">原文: <a href=\"https://simonwillison.net/2026/Nov/28/post-0/\""), "{body}");
    assert!(!body.contains("polyfeed-translation") && !body.contains("Eighteen"), "translation only");
    assert_eq!(body.matches("llm -m gemini-1.5-flash-8b").count(), 1, "code blocks once");
}

#[test]
fn two_posts_with_one_slug_on_one_day_keep_two_files() {
    // Two blogs publish "weekly-notes" on the same day: two Markdown posts, neither overwritten.
    let feeds = Server::start();
    for (path, host) in [("/a", "a.example"), ("/b", "b.example")] {
        let feed = format!(
            "<rss version=\"2.0\"><channel><title>{host}</title><item><title>Weekly notes from {host}</title><link>https://{host}/2026/weekly-notes</link><pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate><description>&lt;p&gt;What happened this week at {host}, in some detail.&lt;/p&gt;</description></item></channel></rss>"
        );
        feeds.route(path, move |_, _| Reply::rss(feed.clone()));
    }
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let w = Workdir::new(&config_for(&[("a", &feeds.url("/a")), ("b", &feeds.url("/b"))], &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    assert_eq!(w.run(&["refresh"]).code, 0);
    let mut posts: Vec<String> =
        std::fs::read_dir(w.path().join("output/posts/zh-CN")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    posts.sort();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts.iter().any(|p| p == "2026-11-28-weekly-notes.md"), "{posts:?}");
    let texts: Vec<String> = posts.iter().map(|p| read(&w, &format!("posts/zh-CN/{p}"))).collect();
    assert!(texts.iter().any(|t| t.contains("https://a.example/2026/weekly-notes")) && texts.iter().any(|t| t.contains("https://b.example/2026/weekly-notes")));
    // A later run keeps each post in its own file.
    assert_eq!(w.run(&["refresh"]).code, 0);
    assert_eq!(std::fs::read_dir(w.path().join("output/posts/zh-CN")).unwrap().count(), 2);
}

#[test]
fn changed_feeds_are_announced_to_the_websub_hub_and_name_it() {
    let feeds = Server::start();
    let mut entries = common::sample_entries(2);
    feeds.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    // The hub: takes every announcement (202, as hubs answer).
    let hub = Server::start();
    hub.route("/hub", |_, _| Reply::status(202));
    let public = "https://feeds.example.org/p/";
    let top =
        format!("{}\n[publish]\npublic_url = \"{public}\"\nwebsub_hub = \"{}\"\n", engine::translator_config(&engine_server.url("/v1"), ""), hub.url("/hub"));
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], &top, ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");

    let announced = |from: usize| -> BTreeSet<String> {
        hub.seen("/hub")[from..]
            .iter()
            .map(|s| {
                assert_eq!(s.method, "POST");
                assert_eq!(s.header("content-type"), Some("application/x-www-form-urlencoded"));
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&s.body).into_owned().collect();
                assert_eq!(form[0], ("hub.mode".to_string(), "publish".to_string()), "{form:?}");
                form[1].1.clone()
            })
            .collect()
    };
    let every: BTreeSet<String> =
        ["simon", "all"].iter().flat_map(|f| ["atom.xml", "rss.xml", "feed.json"].map(|file| format!("{public}{f}/zh-CN/{file}"))).collect();
    assert_eq!(announced(0), every, "every feed file that changed, once each");
    assert_eq!(hub.seen("/hub").len(), 6);

    // Each feed names the hub, the way its format does, and still reads back.
    let atom = read(&w, "simon/zh-CN/atom.xml");
    let hub_url = hub.url("/hub");
    let parsed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    assert!(parsed.links.iter().any(|l| l.rel.as_deref() == Some("hub") && l.href == hub_url), "{atom}");
    let rss = read(&w, "simon/zh-CN/rss.xml");
    assert!(rss.contains("rel=\"hub\"") && rss.contains(&hub_url), "{rss}");
    feed_rs::parser::parse(rss.as_bytes()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&read(&w, "simon/zh-CN/feed.json")).unwrap();
    assert_eq!(json["hubs"], serde_json::json!([{"type": "WebSub", "url": hub_url}]));

    // Nothing changed: nothing announced.
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(hub.seen("/hub").len(), 6);

    // A hub that fails loses nothing: the files are published, and the next change is announced again.
    hub.route("/hub", |_, _| Reply::status(503));
    entries[0].html = entries[0].html.replace("fell by a factor of 27", "fell by a factor of 28");
    feeds.feed("/feed", ATOM, &atom_feed(&entries, false), "\"v2\"");
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "a hub that is down is not unfinished work: readers poll: {run:?}");
    assert!(run.stderr.contains("WebSub hub was not told"), "{}", run.stderr);
    assert!(read(&w, "simon/zh-CN/atom.xml").contains("28"));
    assert_eq!(announced(6), every);
}
