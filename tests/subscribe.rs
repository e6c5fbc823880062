//! Subscribing without editing TOML: `add`, `remove`, `import`, `export`, by the real binary
//! against real feeds served on loopback. feeds.toml keeps its comments and layout; an edit that
//! fails leaves it byte for byte as it was.

mod common;

use common::{Reply, Server, Workdir};

/// A config with comments and a table after the feeds, as people write them.
const CONFIG: &str = "# my polyfeed\n# (hand-written)\ntarget_languages = [\"zh-CN\"]   # Chinese only\n\n[[feeds]]\n# my favourite\nname = \"first\"\nurl = \"https://first.example/feed\"\nenabled = false\n\n[publish]\n# published where my blog lives\nmode = \"translated\"\n";

/// A real feed to subscribe to: TechCrunch's from the corpus, else a small generated one.
fn real_feed(test: &str) -> (String, String) {
    match common::corpus_dir(test) {
        Some(c) => {
            let body = std::fs::read_to_string(c.join("feeds/feedjira-sample-feeds/spec/sample_feeds/TechCrunch.xml")).unwrap();
            (body, "TechCrunch".to_string())
        }
        None => (common::atom_feed(&common::sample_entries(3), false), "Test feed".to_string()),
    }
}

fn assert_kept(text: &str) {
    for kept in
        ["# my polyfeed\n# (hand-written)\n", "# Chinese only", "# my favourite\nname = \"first\"", "# published where my blog lives\nmode = \"translated\""]
    {
        assert!(text.contains(kept), "lost {kept:?}:\n{text}");
    }
}

#[test]
fn add_finds_the_feed_a_page_announces_checks_it_and_appends_it() {
    let server = Server::start();
    let (body, title) = real_feed("add_finds_the_feed_a_page_announces_checks_it_and_appends_it");
    let ctype = if body.contains("<rss") { "application/rss+xml" } else { "application/atom+xml" };
    server.feed("/feed.xml", ctype, &body, "\"v1\"");
    server.route("/", |_, _| Reply::html("<html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed.xml\"></head><body>hi</body></html>"));
    let work = Workdir::new(CONFIG);
    let page = server.url("/");

    // Loopback is refused unless asked for, and then feeds.toml is untouched.
    let refused = work.run(&["add", &page]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("--allow-private-network"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(work.config()).unwrap(), CONFIG);

    let added = work.run(&["add", &page, "--allow-private-network"]);
    assert_eq!(added.code, 0, "{added:?}");
    assert!(added.stdout.contains("announces") && added.stdout.contains(&title), "{}", added.stdout);
    let text = std::fs::read_to_string(work.config()).unwrap();
    assert_kept(&text);
    let want = format!("\n# {title}\n[[feeds]]\nname = \"127-0-0-1\"\nurl = \"{}\"\nallow_private_network = true\n", server.url("/feed.xml"));
    assert!(text.contains(&want), "want {want:?} in:\n{text}");

    // The feed is really subscribed: a refresh fetches and stores it.
    let refresh = work.run(&["refresh", "--no-translate"]);
    assert_eq!(refresh.code, 0, "{refresh:?}");
    let status = work.feed_status("127-0-0-1");
    assert!(status["entries"].as_u64().unwrap() > 0, "{status}");

    // The same feed again, by its page or by itself: refused, nothing written.
    for again in [page.as_str(), &server.url("/feed.xml")] {
        let run = work.run(&["add", again, "--allow-private-network", "--name", "other"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("already subscribed as \"127-0-0-1\""), "{}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(work.config()).unwrap(), text);
}

#[test]
fn add_refuses_what_is_not_a_feed_and_bad_names_leaving_the_config_as_it_was() {
    let server = Server::start();
    server.route("/plain", |_, _| Reply::html("<html><body>no feed here</body></html>"));
    server.route("/gone", |_, _| Reply::status(404));
    server.feed("/feed", "application/atom+xml", &common::atom_feed(&common::sample_entries(1), false), "\"a\"");
    let work = Workdir::new(CONFIG);
    let (plain, gone, feed) = (server.url("/plain"), server.url("/gone"), server.url("/feed"));
    let cases = [
        (vec!["add", &plain, "--allow-private-network"], "announces no feed"),
        (vec!["add", &gone, "--allow-private-network"], "404"),
        (vec!["add", "ftp://x.example/feed"], "not an http(s) URL"),
        (vec!["add", &feed, "--allow-private-network", "--name", "Bad Name"], "not a slug"),
        (vec!["add", &feed, "--allow-private-network", "--name", "first"], "exists already"),
        (vec!["add", "https://first.example/feed/"], "already subscribed as \"first\""),
    ];
    for (args, want) in cases {
        let run = work.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.to_lowercase().contains(&want.to_lowercase()), "{args:?}: want {want:?} in {}", run.stderr);
        assert_eq!(std::fs::read_to_string(work.config()).unwrap(), CONFIG, "{args:?} changed the config");
    }
    let named = work.run(&["add", &server.url("/feed"), "--allow-private-network", "--name", "mine"]);
    assert_eq!(named.code, 0, "{named:?}");
    assert!(std::fs::read_to_string(work.config()).unwrap().contains("name = \"mine\""));
}

#[test]
fn remove_takes_out_one_feed_and_keeps_the_rest() {
    let work = Workdir::new(&format!("{CONFIG}\n[[feeds]]\n# second\nname = \"second\"\nurl = \"https://second.example/feed\"\n"));
    let run = work.run(&["remove", "second"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(work.config()).unwrap();
    assert_kept(&text);
    assert!(!text.contains("second"), "{text}");
    let missing = work.run(&["remove", "second"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no feed named \"second\""), "{}", missing.stderr);
}

#[test]
fn export_then_import_round_trips_and_importing_twice_adds_nothing() {
    let from = Workdir::new(&format!("{CONFIG}\n[[feeds]]\nname = \"b-and-c\"\nurl = \"https://b.example/feed?x=1&y=2\"\n"));
    let export = from.run(&["export"]);
    assert_eq!(export.code, 0, "{export:?}");
    // What export writes is OPML any reader can parse.
    let doc = roxmltree::Document::parse(&export.stdout).unwrap();
    let urls: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("xmlUrl")).collect();
    assert_eq!(urls, ["https://first.example/feed", "https://b.example/feed?x=1&y=2"]);

    let to = Workdir::new("# empty\n");
    let file = to.path().join("subs.opml");
    std::fs::write(&file, &export.stdout).unwrap();
    let run = to.run(&["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("2 added, 0 already subscribed, 0 refused"), "{}", run.stdout);
    let config = polyfeed::config::Config::from_file(&to.config()).unwrap();
    let got: Vec<(&str, &str)> = config.feeds.iter().map(|f| (f.name(), f.url())).collect();
    assert_eq!(got, [("first", "https://first.example/feed"), ("b-and-c", "https://b.example/feed?x=1&y=2")]);

    let before = std::fs::read_to_string(to.config()).unwrap();
    let again = to.run(&["import", file.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("0 added, 2 already subscribed"), "{}", again.stdout);
    assert_eq!(std::fs::read_to_string(to.config()).unwrap(), before);
}

#[test]
fn import_reads_a_real_reader_export_and_reports_what_it_refuses() {
    let Some(corpus) = common::corpus_dir("import_reads_a_real_reader_export_and_reports_what_it_refuses") else { return };
    // Dave Winer's subscription list from the W3C validator's suite: ISO-8859-1, OPML 1.1.
    let real = corpus.join("suites/w3c-feedvalidator/testcases/opml/clean/subscriptionList.opml");
    let body = std::fs::read(&real).unwrap();
    let want = polyfeed::parse::opml::subscriptions(&body).unwrap();
    assert!(want.len() >= 10, "{} outlines", want.len());

    let work = Workdir::new(CONFIG);
    let file = work.path().join("subs.opml");
    // One more outline that is not a feed URL polyfeed can follow.
    let at = body.windows(7).position(|w| w == b"</body>").unwrap();
    let mut text = body[..at].to_vec();
    text.extend_from_slice(b"<outline text=\"gopher\" xmlUrl=\"gopher://old.example/feed\"/>");
    text.extend_from_slice(&body[at..]);
    std::fs::write(&file, &text).unwrap();
    let run = work.run(&["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 2, "a refused outline is unfinished work: {run:?}");
    assert!(run.stdout.contains("! gopher://old.example/feed"), "{}", run.stdout);
    let config = polyfeed::config::Config::from_file(&work.config()).unwrap();
    let urls: Vec<&str> = config.feeds.iter().skip(1).map(|f| f.url()).collect();
    let mut unique: Vec<&str> = Vec::new();
    for s in &want {
        if !unique.iter().any(|u| *u == s.url) {
            unique.push(&s.url);
        }
    }
    assert_eq!(urls, unique);
    assert_kept(&std::fs::read_to_string(work.config()).unwrap());
    let names: std::collections::HashSet<&str> = config.feeds.iter().map(|f| f.name()).collect();
    assert_eq!(names.len(), config.feeds.len(), "names are unique");
}
