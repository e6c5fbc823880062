//! The faithful English -> Chinese block pairs of the example post (its first half, up to the
//! prices section, where the published translation stops following the original), aligned by
//! `polyfeed verify`'s aligner: the reference set for chrF in bench/real_models.
//! Usage: pairs ORIGINAL.html TRANSLATION.md > pairs.json

use polyfeed::translate::checks::CheckOptions;
use polyfeed::translate::verify::{blocks, verify};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let original = std::fs::read_to_string(&args[1]).expect("the original");
    let translation = std::fs::read_to_string(&args[2]).expect("the translation");
    let source = blocks(&original, false);
    let target = blocks(&translation, true);
    let rows = verify(&source, &target, &CheckOptions::default());
    let end = rows
        .iter()
        .position(|r| r.source.is_some_and(|i| source[i].heading && source[i].text.starts_with("LLM prices crashed")))
        .expect("the prices section");
    let pairs: Vec<_> = rows[..end]
        .iter()
        .filter_map(|r| {
            let (s, t) = (&source[r.source?], &target[r.translation?]);
            // Headings and one-line list items are names more than sentences: paragraphs only.
            (!s.heading && s.text.split_whitespace().count() >= 8).then(|| json!({"html": s.html, "text": s.text, "reference": t.text}))
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&pairs).expect("JSON"));
}
