//! `polyfeed verify` on the example translation: the faithful first sections align block by block;
//! from the section on prices onward the invented text is flagged.

mod common;

use polyfeed::translate::checks::CheckOptions;
use polyfeed::translate::verify::{Status, blocks, verify};

const ORIGINAL: &str = include_str!("fixtures/llms-in-2024.html");
const TRANSLATION: &str = include_str!("fixtures/llms-in-2024.zh-CN.md");

#[test]
fn the_example_translation_is_flagged_from_the_prices_section_on() {
    let source = blocks(ORIGINAL, false);
    let translation = blocks(TRANSLATION, true);
    let rows = verify(&source, &translation, &CheckOptions::default());

    // Where the prices section starts in the report: the row pairing its heading (not the TOC item).
    let prices = rows
        .iter()
        .position(|r| r.source.is_some_and(|i| source[i].heading && source[i].text.starts_with("LLM prices crashed")))
        .expect("the prices heading is aligned with its translation");
    assert!(rows[prices].translation.is_some_and(|j| translation[j].text.starts_with("大语言模型价格暴跌")));

    // Before it, every block of either side has its partner.
    let before = &rows[..prices];
    assert!(before.len() > 40);
    assert!(
        before.iter().all(|r| r.source.is_some() && r.translation.is_some()),
        "{:#?}",
        before.iter().filter(|r| r.source.is_none() || r.translation.is_none()).collect::<Vec<_>>()
    );

    // The prices section itself was replaced by "过去两年...": none of its blocks passes.
    let next_heading = rows[prices + 1..].iter().position(|r| r.source.is_some_and(|i| source[i].heading)).unwrap() + prices + 1;
    let section = &rows[prices + 1..next_heading];
    assert!(section.len() >= 8);
    assert!(section.iter().all(|r| r.status != Status::Ok), "{section:#?}");
    let cut = section.iter().find(|r| r.translation.is_some_and(|j| translation[j].text == "过去两年...")).unwrap();
    assert!(cut.problems.iter().any(|p| p.contains("length ratio")), "{cut:?}");

    // From there on most of the translation is flagged as invented, and most of the original as missing.
    let after = &rows[prices..];
    let count = |s: Status| after.iter().filter(|r| r.status == s).count();
    let tr_after = after.iter().filter(|r| r.translation.is_some()).count();
    let src_after = after.iter().filter(|r| r.source.is_some()).count();
    assert!(count(Status::Invented) * 2 > tr_after, "{} of {tr_after} translation blocks invented", count(Status::Invented));
    assert!(count(Status::Missing) + count(Status::Unfaithful) > src_after / 2, "source blocks flagged");
    // The section on the model trained in China for under $6m names the wrong model: flagged.
    let yi = rows.iter().find(|r| r.translation.is_some_and(|j| translation[j].text.contains("Yi-34B"))).unwrap();
    assert_ne!(yi.status, Status::Ok);
}

#[test]
fn the_binary_reports_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (src, tr) = (dir.path().join("original.html"), dir.path().join("translation.md"));
    std::fs::write(&src, ORIGINAL).unwrap();
    std::fs::write(&tr, TRANSLATION).unwrap();
    let tr_html = dir.path().join("translation.html");
    let w = common::Workdir::new("");
    let run = w.run(&["verify", src.to_str().unwrap(), tr.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("109 source blocks, 177 translated blocks"), "{}", run.stderr);
    // The Markdown translation carries no links: said once, not held against every block.
    assert_eq!(run.stderr.matches("format difference: links not carried").count(), 1, "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l.starts_with("invented") && l.contains("Yi-34B")), "{}", run.stdout);

    // A faithful translation passes.
    std::fs::write(&tr_html, "<p>这是一个测试段落，提到了 <a href=\"https://e.org/\">GPT-4</a> 和 2024 年。</p>").unwrap();
    std::fs::write(&src, "<p>This is a test paragraph that mentions <a href=\"https://e.org/\">GPT-4</a> and the year 2024.</p>").unwrap();
    let ok = w.run(&["verify", src.to_str().unwrap(), tr_html.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{ok:?}");
}
