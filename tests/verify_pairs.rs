//! `verify` on real pairs of other shapes than the example, faithful and then damaged on purpose
//! (a section dropped, one invented, two swapped, the end cut): the report must name exactly the
//! damaged blocks. The originals come from the shared corpus; the translations were made for these
//! tests: the opening of an inessential.com post (HTML, links carried, a list, em) and a W3C feed
//! validator page (Markdown with links and inline code).

mod common;

use std::collections::BTreeSet;

use polyfeed::translate::checks::CheckOptions;
use polyfeed::translate::verify::{Block, Row, Status, blocks, verify};

const TRANSLATION: &str = include_str!("fixtures/evergreen-diary-1.zh-CN.html");
const SAX_TRANSLATION: &str = include_str!("fixtures/sax-error.zh-CN.md");

/// The post's first 13 blocks, as the corpus has them.
fn original(test: &str) -> Option<Vec<Block>> {
    let corpus = common::corpus_dir(test)?;
    let feed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("feeds/feedjira-sample-feeds/spec/sample_feeds/json_feed.json")).unwrap()).unwrap();
    let html = feed["items"][1]["content_html"].as_str().unwrap();
    assert!(html.contains("Evergreen</a> is a new feed reader for Macs"));
    Some(blocks(html, false).into_iter().take(13).collect())
}

/// (source blocks, translation blocks) named by rows that are not ok.
fn flagged(rows: &[Row]) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let bad = rows.iter().filter(|r| r.status != Status::Ok);
    let (mut s, mut t) = (BTreeSet::new(), BTreeSet::new());
    for r in bad {
        s.extend(r.source);
        t.extend(r.translation);
    }
    (s, t)
}

/// Checks the faithful translation and four damaged copies of it. `section` is where two blocks
/// are dropped, `at` where one is invented and two are swapped.
fn assert_damage_is_named(source: &[Block], faithful: &[Block], section: usize, at: usize) {
    let n = source.len();
    assert_eq!(faithful.len(), n);
    let check = |tr: &[Block]| verify(source, tr, &CheckOptions::default());

    // Faithful: every block matched and ok.
    let rows = check(faithful);
    assert!(rows.iter().all(|r| r.status == Status::Ok && r.source == r.translation), "{rows:#?}");

    // A section dropped (two blocks): exactly those are missing.
    let mut dropped = faithful.to_vec();
    dropped.drain(section..section + 2);
    let rows = check(&dropped);
    assert_eq!(flagged(&rows), (BTreeSet::from([section, section + 1]), BTreeSet::new()), "{rows:#?}");
    assert!(rows.iter().filter(|r| r.status != Status::Ok).all(|r| r.status == Status::Missing));

    // A paragraph invented: exactly it is invented.
    let mut invented = faithful.to_vec();
    invented.insert(at, blocks("<p>这款应用以后还会支持 Windows 和 Linux，正式版预计明年发布。</p>", false).remove(0));
    let rows = check(&invented);
    assert_eq!(flagged(&rows), (BTreeSet::new(), BTreeSet::from([at])), "{rows:#?}");

    // Two blocks swapped: only they are flagged.
    let mut swapped = faithful.to_vec();
    swapped.swap(at, at + 1);
    let rows = check(&swapped);
    let (s, t) = flagged(&rows);
    let pair = BTreeSet::from([at, at + 1]);
    assert!(!s.is_empty() && s.is_subset(&pair) && t.is_subset(&pair), "{rows:#?}");

    // The end cut off: exactly the last blocks are missing.
    let cut = faithful[..n - 2].to_vec();
    let rows = check(&cut);
    assert_eq!(flagged(&rows), (BTreeSet::from([n - 2, n - 1]), BTreeSet::new()), "{rows:#?}");
}

#[test]
fn verify_names_exactly_the_damaged_blocks_of_a_real_post() {
    let Some(source) = original("verify_names_exactly_the_damaged_blocks_of_a_real_post") else { return };
    assert_damage_is_named(&source, &blocks(TRANSLATION, false), 8, 9);
}

#[test]
fn verify_names_exactly_the_damaged_blocks_of_a_technical_page_in_markdown() {
    let Some(corpus) = common::corpus_dir("verify_names_exactly_the_damaged_blocks_of_a_technical_page_in_markdown") else { return };
    let page = std::fs::read_to_string(corpus.join("suites/w3c-feedvalidator/docs-xml/error/SAXError.xml")).unwrap();
    let body = &page[page.find("<div xmlns").unwrap()..page.rfind("</div>").unwrap() + 6];
    let source = blocks(body, false);
    let translation = blocks(SAX_TRANSLATION, true);
    assert_eq!((source.len(), translation.len()), (5, 5));
    assert_damage_is_named(&source, &translation, 2, 2);
}
