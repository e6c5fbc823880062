//! The faithfulness checks measured both ways on real translations: every faithful block pair of
//! the example post (its first half, which the translation renders faithfully) must pass, and
//! every damaged copy of one must fail. The table this prints is docs/checks.md's; the test fails
//! when the two differ.

use std::collections::BTreeMap;

use polyfeed::translate::checks::{CheckOptions, check_unit};
use polyfeed::translate::verify::{Status, blocks, verify};

const ORIGINAL: &str = include_str!("fixtures/llms-in-2024.html");
const TRANSLATION: &str = include_str!("fixtures/llms-in-2024.zh-CN.md");

/// The aligned (source html, translation html) pairs of the faithful part, links set aside (the
/// translation carries none).
fn faithful_pairs() -> Vec<(String, String)> {
    let source = blocks(ORIGINAL, false);
    let translation = blocks(TRANSLATION, true);
    let rows = verify(&source, &translation, &CheckOptions::default());
    let prices = rows.iter().position(|r| r.source.is_some_and(|i| source[i].heading && source[i].text.starts_with("LLM prices crashed"))).unwrap();
    let unlink = regex::Regex::new(r"</?a(?:\s[^>]*)?>").unwrap();
    rows[..prices]
        .iter()
        .filter_map(|r| Some((unlink.replace_all(&source[r.source?].html, "").into_owned(), translation[r.translation?].html.clone())))
        .collect()
}

/// One kind of damage: a name, and a function that damages a faithful pair (None when the pair
/// has nothing this damage can touch).
type Damage = (&'static str, fn(&str, &str) -> Option<String>);

fn damages() -> Vec<Damage> {
    vec![
        ("number changed", |_, tr| {
            let re = regex::Regex::new(r"\d{2,}").unwrap();
            let m = re.find(tr)?;
            let n: u64 = m.as_str().parse().ok()?;
            Some(format!("{}{}{}", &tr[..m.start()], n + 1, &tr[m.end()..]))
        }),
        ("magnitude off (万 for 亿, or a number scaled)", |_, tr| {
            if tr.contains('亿') {
                return Some(tr.replacen('亿', "万", 1));
            }
            if tr.contains('万') {
                return Some(tr.replacen('万', "亿", 1));
            }
            None
        }),
        ("left in English behind one Chinese word", |src, _| (polyfeed::text::html_to_plain(src).split_whitespace().count() >= 4).then(|| format!("这 {src}"))),
        ("echoed source", |src, _| (polyfeed::text::html_to_plain(src).split_whitespace().count() >= 4).then(|| src.to_string())),
        ("sentence added", |_, tr| {
            let end = if tr.ends_with(['。', '？', '！', '：']) { "" } else { "。" };
            Some(format!("{tr}{end}这一点在原文中并没有提到，是译者自己加上的。"))
        }),
        ("last sentence dropped", |_, tr| {
            let ends: Vec<usize> = tr.match_indices(['。', '？', '！']).map(|(i, s)| i + s.len()).collect();
            (ends.len() >= 2).then(|| tr[..ends[ends.len() - 2]].to_string())
        }),
        ("cut in the middle", |_, tr| {
            let chars: Vec<char> = tr.chars().collect();
            (chars.len() >= 30).then(|| chars[..chars.len() / 2].iter().collect())
        }),
        ("kept term translated (GPT-4 -> 第四代 GPT)", |src, tr| (src.contains("GPT-4") && tr.contains("GPT-4")).then(|| tr.replace("GPT-4", "第四代 GPT"))),
        ("glossary term not used (大语言模型 -> 大型语言模型)", |src, tr| {
            (src.contains("LLM") && tr.contains("大语言模型")).then(|| tr.replace("大语言模型", "大型语言模型"))
        }),
    ]
}

fn options() -> CheckOptions {
    CheckOptions { keep: vec!["GPT-4".into()], glossary: BTreeMap::from([("LLM".to_string(), "大语言模型".to_string())]), ..CheckOptions::default() }
}

#[test]
fn the_checks_are_right_both_ways_on_real_translations() {
    let pairs = faithful_pairs();
    assert!(pairs.len() >= 40, "{} faithful pairs", pairs.len());
    let opts = options();
    let rejected: Vec<(String, Vec<String>)> = pairs
        .iter()
        .map(|(s, t)| (t.clone(), check_unit(s, t, &opts).iter().map(|p| p.to_string()).collect::<Vec<_>>()))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let mut table = String::from("| case | tried | false rejects | false accepts |\n|---|---|---|---|\n");
    table.push_str(&format!("| faithful block pairs of the example post | {} | {} | - |\n", pairs.len(), rejected.len()));
    let mut accepts = Vec::new();
    for (name, damage) in damages() {
        let mut tried = 0;
        let mut accepted = 0;
        for (s, t) in &pairs {
            let Some(bad) = damage(s, t) else { continue };
            tried += 1;
            if check_unit(s, &bad, &opts).is_empty() {
                accepted += 1;
                accepts.push(format!("{name}: {bad}"));
            }
        }
        assert!(tried > 0, "{name}: no pair to damage");
        table.push_str(&format!("| damaged: {name} | {tried} | - | {accepted} |\n"));
    }
    println!("{table}");
    assert!(rejected.len() * 50 <= pairs.len(), "false rejects over 2%: {rejected:#?}");
    assert!(accepts.is_empty(), "false accepts: {accepts:#?}");
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md")).unwrap();
    assert!(doc.contains(&table), "docs/checks.md holds another table; this run measured:\n{table}");
}

#[test]
fn verify_aligns_the_example_and_calls_nothing_in_its_faithful_part_invented() {
    // As the blog publishes it: the table of contents links to the post's absolute URL.
    let original = ORIGINAL.replace("href=\"#", "href=\"https://simonwillison.net/2024/Dec/31/llms-in-2024/#");
    assert_ne!(original, ORIGINAL);
    for original in [ORIGINAL, original.as_str()] {
        aligned(original);
    }
}

fn aligned(original: &str) {
    let source = blocks(original, false);
    let translation = blocks(TRANSLATION, true);
    let rows = verify(&source, &translation, &CheckOptions::default());
    let prices = rows.iter().position(|r| r.source.is_some_and(|i| source[i].heading && source[i].text.starts_with("LLM prices crashed"))).unwrap();
    let faithful = &rows[..prices];
    let ok = faithful.iter().filter(|r| r.status == Status::Ok).count();
    let sources = faithful.iter().filter(|r| r.source.is_some()).count();
    assert!(ok * 10 >= sources * 9, "{ok} of {sources} faithful blocks matched and ok");
    assert!(faithful.iter().all(|r| r.status != Status::Invented), "nothing in the faithful part is invented");
}
