//! The test engines' translation of the text between tags, as a good translator writes Chinese.
//! Shared by the tests' engine (tests/common/engine.rs) and the benchmarks' (bench/src/bin/engine.rs).

use std::sync::OnceLock;

use regex::Regex;

/// The text between two tags, translated; `code`: inside inline code, where it stays as it is.
pub fn translate_text(text: &str, code: bool) -> String {
    static WORD: OnceLock<Regex> = OnceLock::new();
    if code {
        return text.to_string();
    }
    // As a translator writes Chinese: URLs, entities and names (all capitals, inner capitals)
    // stay; a number with a magnitude word becomes 万 or 亿; abbreviations lose their dots; every
    // other word becomes "中文".
    let word = WORD.get_or_init(|| {
        Regex::new(
            r"(https?://[^\s<]+)|(&#?\w+;)|(\d+(?:\.\d+)?)\s(thousand|million|billion)\b|\b(e\.g|i\.e|etc|vs|St|Mr|Mrs|Dr|Inc|Ltd)\.|\b([A-Z][A-Z]+|[A-Za-z]+[A-Z][A-Za-z]*)\b|\b([A-Za-z]+)\b",
        )
        .unwrap()
    });
    let words = word
        .replace_all(text, |c: &regex::Captures| {
            if let (Some(n), Some(scale)) = (c.get(3), c.get(4)) {
                let value: f64 = n.as_str().parse::<f64>().unwrap()
                    * match scale.as_str() {
                        "thousand" => 1e3,
                        "million" => 1e6,
                        _ => 1e9,
                    };
                let (v, unit) = if value >= 1e8 {
                    (value / 1e8, "亿")
                } else if value >= 1e4 {
                    (value / 1e4, "万")
                } else {
                    (value, "")
                };
                let digits = format!("{v:.4}");
                return format!("{}{unit}", digits.trim_end_matches('0').trim_end_matches('.'));
            }
            if let Some(abbreviation) = c.get(5) {
                // "etc." at the end of a block ends its sentence too: "等。"
                let last = c.get(0).is_some_and(|m| text[m.end()..].trim().is_empty());
                return if abbreviation.as_str() == "etc" && last { "中文。".to_string() } else { "中文".to_string() };
            }
            // A short word ("a", "of", "the") takes one character, a longer one two: about the
            // length a Chinese translation has.
            match c.get(7) {
                Some(w) if w.as_str().len() <= 3 => "文".to_string(),
                Some(_) => "中文".to_string(),
                None => c[0].to_string(),
            }
        })
        .into_owned();
    // Sentences end the Chinese way.
    static STOP: OnceLock<Regex> = OnceLock::new();
    let stop = STOP.get_or_init(|| Regex::new(r"([^.\s])([.!?])(\s+|$)").unwrap());
    stop.replace_all(&words, |c: &regex::Captures| {
        let mark = match &c[2] {
            "." => "。",
            "!" => "！",
            _ => "？",
        };
        format!("{}{mark}{}", &c[1], if c[3].is_empty() { "" } else { " " })
    })
    .into_owned()
}
