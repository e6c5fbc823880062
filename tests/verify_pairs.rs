//! `verify` on a real post of another shape than the example: the opening of an inessential.com
//! post (links carried, a list, em) from the shared corpus's JSON Feed, against a translation of
//! it made for this test (tests/fixtures/evergreen-diary-1.zh-CN.html), faithful and then damaged
//! on purpose. The report must name exactly the damaged blocks.

mod common;

use std::collections::BTreeSet;

use polyfeed::translate::checks::CheckOptions;
use polyfeed::translate::verify::{Block, Row, Status, blocks, verify};

const TRANSLATION: &str = include_str!("fixtures/evergreen-diary-1.zh-CN.html");

/// The post's first 13 blocks, as the corpus has them.
fn original() -> Option<Vec<Block>> {
    let corpus = common::corpus_dir("verify_pairs")?;
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

#[test]
fn verify_names_exactly_the_damaged_blocks_of_a_real_pair() {
    let Some(source) = original() else { return };
    let faithful = blocks(TRANSLATION, false);
    assert_eq!((source.len(), faithful.len()), (13, 13));
    let check = |tr: &[Block]| verify(&source, tr, &CheckOptions::default());

    // Faithful: every block matched and ok.
    let rows = check(&faithful);
    assert!(rows.iter().all(|r| r.status == Status::Ok && r.source == r.translation), "{rows:#?}");

    // A section dropped (two paragraphs): exactly those are missing.
    let mut dropped = faithful.clone();
    dropped.drain(8..10);
    let rows = check(&dropped);
    assert_eq!(flagged(&rows), (BTreeSet::from([8, 9]), BTreeSet::new()), "{rows:#?}");
    assert!(rows.iter().filter(|r| r.status != Status::Ok).all(|r| r.status == Status::Missing));

    // A paragraph invented: exactly it is invented.
    let mut invented = faithful.clone();
    invented.insert(5, blocks("<p>这款应用以后还会支持 Windows 和 Linux，正式版预计明年发布。</p>", false).remove(0));
    let rows = check(&invented);
    assert_eq!(flagged(&rows), (BTreeSet::new(), BTreeSet::from([5])), "{rows:#?}");

    // Two paragraphs swapped: only they are flagged.
    let mut swapped = faithful.clone();
    swapped.swap(9, 10);
    let rows = check(&swapped);
    let (s, t) = flagged(&rows);
    assert!(!s.is_empty() && s.is_subset(&BTreeSet::from([9, 10])) && t.is_subset(&BTreeSet::from([9, 10])), "{rows:#?}");

    // The end cut off: exactly the last three are missing.
    let cut = faithful[..10].to_vec();
    let rows = check(&cut);
    assert_eq!(flagged(&rows), (BTreeSet::from([10, 11, 12]), BTreeSet::new()), "{rows:#?}");
}
