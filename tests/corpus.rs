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
