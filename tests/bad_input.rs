//! Bad bytes and odd shapes from real feeds must not break what is published: control
//! characters, titles with markup, relative images with srcset and xml:base, posts without a
//! link, and the JSON Feed variants mainstream readers accept. Every published file must parse.

mod common;

use std::path::Path;

use common::engine::{self, CHAT};
use common::{Reply, Server, Workdir, config_for};

/// An Atom feed written the way real ones are: titles declared as HTML, a control character, an
/// entry with no link, relative images under xml:base.
const ATOM_FEED: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"https://blog.example/\">\
<title>A blog</title><link href=\"https://blog.example/\" rel=\"alternate\"/><id>tag:blog.example,2026:feed</id><updated>2026-11-20T10:00:00Z</updated>\
<entry><title>Control \u{1}characters in a post</title><link href=\"https://blog.example/2026/control/\"/><id>tag:blog.example,2026:1</id>\
<published>2026-11-20T10:00:00Z</published><updated>2026-11-20T10:00:00Z</updated>\
<content type=\"html\">&lt;p&gt;A paragraph with a control &amp;#1; character \u{1}and more words after it.&lt;/p&gt;</content></entry>\
<entry><title type=\"html\">Payload &lt;img src=x onerror=alert(1)&gt; and &lt;b&gt;bold&lt;/b&gt; &amp;amp; more</title><link href=\"https://blog.example/2026/payload/\"/>\
<id>tag:blog.example,2026:2</id><published>2026-11-19T10:00:00Z</published><updated>2026-11-19T10:00:00Z</updated>\
<content type=\"html\">&lt;p&gt;The title of this post carries markup that must never run.&lt;/p&gt;</content></entry>\
<entry><title>A note without a link</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>\
<published>2026-11-18T10:00:00Z</published><updated>2026-11-18T10:00:00Z</updated>\
<content type=\"html\">&lt;p&gt;Notes like this one have no page of their own on the blog.&lt;/p&gt;</content></entry>\
<entry xml:base=\"2026/images/\"><title>Responsive images</title><link href=\"https://blog.example/2026/11/17/responsive-images\"/><id>tag:blog.example,2026:4</id>\
<published>2026-11-17T10:00:00Z</published><updated>2026-11-17T10:00:00Z</updated>\
<content type=\"html\">&lt;p&gt;A picture of the log, in two sizes, and &lt;a href=\"../about/\"&gt;a page about it&lt;/a&gt;.&lt;/p&gt;\
&lt;p&gt;&lt;img src=\"tlog-16.png\" srcset=\"tlog-16.png 1x, tlog-16@2x.png 2x\" alt=\"The log\"&gt;&lt;/p&gt;\
&lt;picture&gt;&lt;source srcset=\"/img/wide.webp 1200w, /img/narrow.webp 600w\" type=\"image/webp\"&gt;&lt;img src=\"/img/wide.png\" alt=\"Wide\"&gt;&lt;/picture&gt;\
&lt;blockquote cite=\"/quotes/1\"&gt;&lt;p&gt;A quotation from somewhere else on the blog.&lt;/p&gt;&lt;/blockquote&gt;</content></entry>\
</feed>";

/// An RSS feed with markup in a title and a relative image (relative to the item's page).
const RSS_FEED: &str = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Another blog</title><link>https://other.example/</link><description>d</description>\
<item><title>Payload &lt;img src=x onerror=alert(1)&gt; in RSS</title><link>https://other.example/posts/rss-title/</link><guid>https://other.example/posts/rss-title/</guid>\
<pubDate>Mon, 16 Nov 2026 10:00:00 +0000</pubDate><description>&lt;p&gt;Relative images &lt;img src=\"shot.png\" alt=\"a shot\"&gt; resolve against the post.&lt;/p&gt;</description></item>\
</channel></rss>";

/// A JSON Feed with the variants real feeds carry: an http version URL without its trailing
/// slash, tags as a string, `author` rather than `authors`, a numeric id, text content only.
const JSON_FEED: &str = r#"{
  "version": "http://jsonfeed.org/version/1",
  "title": "A JSON blog",
  "home_page_url": "https://json.example/",
  "author": {"name": "Jay Son"},
  "items": [
    {"id": 1234, "url": "https://json.example/1234", "title": "Numeric ids and string tags", "tags": "workflow,omnifocus",
     "content_text": "Plain text content.\n\nIn two paragraphs, with enough words to translate.", "date_published": "2026-11-15T10:00:00Z"}
  ]
}"#;

fn xml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            xml_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn bad_bytes_and_odd_shapes_publish_files_that_parse() {
    let feeds = Server::start();
    feeds.route("/atom", |_, _| Reply::atom(ATOM_FEED));
    feeds.route("/rss", |_, _| Reply::rss(RSS_FEED));
    feeds.route("/json", |_, _| Reply::new(200, "application/feed+json", JSON_FEED));
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let list = [("atom", feeds.url("/atom")), ("rss", feeds.url("/rss")), ("json", feeds.url("/json"))];
    let list: Vec<(&str, &str)> = list.iter().map(|(n, u)| (*n, u.as_str())).collect();
    let w = Workdir::new(&config_for(&list, &engine::translator_config(&engine_server.url("/v1"), ""), ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("3 feeds: 3 fetched"), "every feed is read: {}", run.stdout);

    // Every published feed parses with a strict XML parser (or serde), and holds every post.
    let mut files = Vec::new();
    xml_files(&w.path().join("output"), &mut files);
    let mut titles = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".xml") {
            let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            titles.extend(doc.descendants().filter(|n| n.has_tag_name("title")).filter_map(|n| n.text()).map(str::to_string));
        } else if name.ends_with(".json") {
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            titles.extend(doc["items"].as_array().unwrap().iter().filter_map(|i| i["title"].as_str()).map(str::to_string));
        }
        assert!(!text.contains('\u{1}'), "{}: a control character", path.display());
    }
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.path().join("output/all/zh-CN/feed.json")).unwrap()).unwrap();
    assert_eq!(merged["items"].as_array().unwrap().len(), 6, "every post of the three feeds");

    // Titles are plain text: no markup, entities decoded once.
    assert!(!titles.is_empty());
    for t in &titles {
        assert!(!t.contains('<') && !t.contains('>'), "markup in a published title: {t:?}");
    }
    assert!(titles.iter().any(|t| t.contains("Payload and bold & more")), "{titles:?}");

    // Every URL-bearing attribute is absolute, resolved as a reader resolves it in the source.
    let html: String = merged["items"].as_array().unwrap().iter().map(|i| i["content_html"].as_str().unwrap().to_string()).collect();
    for want in [
        "src=\"https://blog.example/2026/images/tlog-16.png\"",
        "srcset=\"https://blog.example/2026/images/tlog-16.png 1x, https://blog.example/2026/images/tlog-16@2x.png 2x\"",
        "srcset=\"https://blog.example/img/wide.webp 1200w, https://blog.example/img/narrow.webp 600w\"",
        "href=\"https://blog.example/2026/about/\"",
        "cite=\"https://blog.example/quotes/1\"",
        "src=\"https://other.example/posts/rss-title/shot.png\"",
    ] {
        assert!(html.contains(want), "{want} in {html}");
    }
    let attr = regex::Regex::new(r#"(?:href|src|srcset|cite|poster)="([^"]*)""#).unwrap();
    for c in attr.captures_iter(&html) {
        for candidate in c[1].split(',') {
            let url = candidate.split_whitespace().next().unwrap_or("");
            assert!(url.starts_with("https://") || url.starts_with("http://"), "relative URL published: {:?}", &c[0]);
        }
    }

    // The Markdown attribution links to the post, else to the feed's site; never to nothing.
    let posts: Vec<String> =
        std::fs::read_dir(w.path().join("output/posts/zh-CN")).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    assert_eq!(posts.len(), 6);
    for p in &posts {
        assert!(!p.contains("]()"), "an empty link: {p}");
        let last = p.trim_end().lines().last().unwrap();
        assert!(last.contains("](https://"), "attribution: {last}");
    }
    assert!(posts.iter().any(|p| p.trim_end().ends_with("[A note without a link](https://blog.example/)。")), "{posts:?}");

    // The JSON Feed's variants were read as what they mean.
    let json_item = merged["items"].as_array().unwrap().iter().find(|i| i["url"] == "https://json.example/1234").expect("the JSON Feed's post");
    assert_eq!(json_item["tags"], serde_json::json!(["workflow", "omnifocus"]));
    assert_eq!(json_item["authors"][0]["name"], "Jay Son");
}
