//! The corpus check: every feed under shared/corpus/feeds parses, or fails with the exact error
//! listed in corpus-expected-failures.tsv (HTML pages, truncated files, unsupported encodings).
//! Parsed feeds must have entries, and text decoded from their declared encoding must not contain
//! replacement characters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;
use common::corpus_dir;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let name = path.file_name().unwrap().to_string_lossy();
            if !(name.starts_with("LICENSE") || name.ends_with(".md") || name.ends_with(".txt")) {
                out.push(path);
            }
        }
    }
}

#[test]
fn every_corpus_feed_parses_or_fails_as_expected() {
    let Some(corpus) = corpus_dir("every_corpus_feed_parses_or_fails_as_expected") else { return };
    let root = corpus.join("feeds");
    let expected: BTreeMap<String, String> = include_str!("corpus-expected-failures.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (path, err) = l.split_once('\t').expect("path<TAB>error");
            (path.to_string(), err.to_string())
        })
        .collect();
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();

    let (mut parsed, mut refused, mut entries) = (0, 0, 0);
    let mut problems = Vec::new();
    for path in &all {
        let rel = path.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let body = std::fs::read(path).unwrap();
        let result = polyfeed::parse::parse(&body, "https://example.org/feed.xml", None);
        match (result, expected.get(&rel)) {
            (Ok(feed), None) => {
                parsed += 1;
                entries += feed.entries.len();
                if feed.entries.is_empty() {
                    problems.push(format!("{rel}: parsed with no entries"));
                }
                let garbled = feed.entries.iter().any(|e| e.title.contains('\u{fffd}'));
                if garbled && !rel.contains("utf-8/") {
                    problems.push(format!("{rel}: replacement characters in titles (wrong encoding)"));
                }
            }
            (Ok(_), Some(err)) => problems.push(format!("{rel}: parsed, but expected to fail with {err:?}")),
            (Err(e), Some(err)) if e.to_string() == *err => refused += 1,
            (Err(e), _) => problems.push(format!("{rel}: unexpected error {:?}", e.to_string())),
        }
    }
    println!("corpus: {} files, {parsed} parsed ({entries} entries), {refused} refused as expected", all.len());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert_eq!(refused, expected.len(), "every expected failure is still in the corpus");
}

/// feedparser's xml:base and document-URI cases: relative links in entry content are resolved as
/// feedparser expects (`wellformed/base/*_docuri.xml`, served by its tests from 127.0.0.1:8097).
#[test]
fn relative_links_in_content_resolve_as_feedparser_expects() {
    let Some(corpus) = corpus_dir("relative_links_in_content_resolve_as_feedparser_expects") else { return };
    let dir = corpus.join("suites/feedparser/tests/wellformed/base");
    let expect = regex::Regex::new(r#"Expect:.*(?:content'\]\[0\]\['value'\]|\['summary'\]) == '.*href="([^"]+)""#).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    // Left out: base64 content (Atom 0.3 mode="base64"), and RSS <body> and <fullitem> elements,
    // which polyfeed does not read as content at all.
    let unread = |n: &str| n.contains("base64") || n.contains("_body_") || n.contains("fullitem");
    for name in names.iter().filter(|n| n.ends_with("_docuri.xml") && !unread(n)) {
        let body = std::fs::read(dir.join(name)).unwrap();
        let Some(want) = expect.captures(&String::from_utf8_lossy(&body)).map(|c| c[1].to_string()) else { continue };
        let url = format!("http://127.0.0.1:8097/tests/wellformed/base/{name}");
        let feed = polyfeed::parse::parse(&body, &url, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        checked += 1;
        if !feed.entries.first().is_some_and(|e| e.content.contains(&format!("href=\"{want}\""))) {
            wrong.push(format!("{name}: want {want}, got {:?}", feed.entries.first().map(|e| &e.content)));
        }
    }
    // xml:base in scope of the content (on the content, the entry or the feed, inherited): the
    // expected base is given; the content's relative "test.html" must resolve against it.
    let base = regex::Regex::new(r#"Expect:.*(?:\['content'\]\[0\]\['base'\]|\['summary_detail'\]\['base'\]) == '([^']+)'"#).unwrap();
    for name in names.iter().filter(|n| n.starts_with("entry_")) {
        let body = std::fs::read(dir.join(name)).unwrap();
        let Some(want) = base.captures(&String::from_utf8_lossy(&body)).map(|c| format!("{}test.html", &c[1])) else { continue };
        let feed = polyfeed::parse::parse(&body, "http://127.0.0.1:8097/feed.xml", None).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Some cases put the link in the title and check only the summary's base: nothing to resolve.
        if !feed.entries.first().is_some_and(|e| e.content.contains("href")) {
            continue;
        }
        checked += 1;
        if !feed.entries.first().is_some_and(|e| e.content.contains(&format!("href=\"{want}\""))) {
            wrong.push(format!("{name}: want {want}, got {:?}", feed.entries.first().map(|e| &e.content)));
        }
    }
    println!("corpus: {checked} feedparser base cases resolved");
    assert!(checked >= 13, "{checked} cases");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The URLs of every entry's content in the real feeds, made absolute by polyfeed's one-pass
/// rewriter, agree with an HTML parser's reading of the same content: the same elements, the same
/// text, and every relative URL attribute resolved as a browser resolves it against the entry's
/// link (URLs with a scheme are kept as written).
#[test]
fn content_urls_resolve_as_an_html_parser_resolves_them() {
    let Some(corpus) = corpus_dir("content_urls_resolve_as_an_html_parser_resolves_them") else { return };
    const URL_ATTRIBUTES: &[&str] = &["href", "src", "srcset", "poster", "cite", "data", "longdesc", "background"];
    // What a parser sees: each element's name and URL attributes (resolved against `base` when
    // given), and the text.
    let read = |html: &str, base: Option<&url::Url>| {
        let doc = scraper::Html::parse_fragment(html);
        let mut elements = Vec::new();
        for el in doc.root_element().descendent_elements() {
            let mut attrs = Vec::new();
            for (name, value) in el.value().attrs().filter(|(n, _)| URL_ATTRIBUTES.contains(n)) {
                // A URL with a scheme is kept as written; others are resolved as a browser resolves them.
                let has_scheme =
                    |u: &str| u.trim().split_once(':').is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)));
                let resolve = |u: &str| base.filter(|_| !has_scheme(u)).and_then(|b| b.join(u.trim()).ok()).map_or_else(|| u.to_string(), |j| j.to_string());
                let value = if name == "srcset" {
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(|c| c.split_whitespace().map(|w| w.to_string()).collect::<Vec<_>>())
                        .map(|mut ws| {
                            ws[0] = resolve(&ws[0]);
                            ws.join(" ")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    resolve(value)
                };
                attrs.push((name.to_string(), value));
            }
            elements.push((el.value().name().to_string(), attrs));
        }
        (elements, doc.root_element().text().collect::<String>())
    };
    let mut all = Vec::new();
    files(&corpus.join("feeds"), &mut all);
    all.sort();
    let (mut checked, mut rewritten) = (0, 0);
    let mut wrong = Vec::new();
    for path in &all {
        let Ok(feed) = feed_rs::parser::Builder::new().sanitize_content(false).build().parse(&std::fs::read(path).unwrap()[..]) else { continue };
        for entry in &feed.entries {
            let Some(html) = entry.content.as_ref().and_then(|c| c.body.clone()).or_else(|| entry.summary.as_ref().map(|s| s.content.clone())) else {
                continue;
            };
            let link = entry.links.first().map(|l| l.href.as_str()).unwrap_or("https://example.org/feed/");
            let Ok(base) = url::Url::parse(link) else { continue };
            let out = polyfeed::text::absolute_urls(&html, &base);
            checked += 1;
            rewritten += usize::from(matches!(out, std::borrow::Cow::Owned(_)));
            let (got, want) = (read(&out, None), read(&html, Some(&base)));
            if got != want {
                let first = got.0.iter().zip(&want.0).find(|(g, w)| g != w).map(|(g, w)| format!("{g:?} where a parser reads {w:?}"));
                let text = if got.1 != want.1 { "; the text differs" } else { "" };
                wrong.push(format!("{}: entry {:?}: {}{text}", path.display(), entry.id, first.unwrap_or_else(|| "the elements differ".into())));
            }
        }
    }
    println!("corpus: {checked} entries' URLs checked against a parser, {rewritten} rewritten");
    assert!(checked > 1000 && rewritten > 50, "{checked} checked, {rewritten} rewritten");
    assert!(wrong.is_empty(), "{} entries differ:\n{}", wrong.len(), wrong.join("\n"));
}
