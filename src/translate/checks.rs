//! Faithfulness checks on every reply, before anything is stored. Pure.
//!
//! A reply must have the same blocks, in order; each block must keep every tag, link and inline
//! code of its source, every number and URL, be in the target language (not an echo), and have a
//! plausible length.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use scraper::Html;

/// Why a block is not a faithful translation of its source.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The reply has no block for this unit.
    Missing,
    /// The reply has blocks no unit asked for.
    Invented(usize),
    /// The reply stops inside this block (cut off on the way).
    Cut,
    /// The translation is empty.
    Empty,
    /// The markup differs: tag counts of the source vs the translation.
    Tags { source: String, translation: String },
    /// A link or image address of the source is gone, or one was added.
    Link { lost: Vec<String>, added: Vec<String> },
    /// Inline code was altered.
    Code(String),
    /// A number of the source is missing.
    Number(String),
    /// A URL written in the text is missing.
    Url(String),
    /// The translation is the source again.
    Untranslated,
    /// The translation is not in the target language.
    Language(String),
    /// translated length / source length is out of bounds.
    Length(f64),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Problem::Missing => write!(f, "block missing from the reply"),
            Problem::Invented(n) => write!(f, "{n} invented block(s) in the reply"),
            Problem::Cut => write!(f, "the reply was cut off inside this block"),
            Problem::Empty => write!(f, "empty translation"),
            Problem::Tags { source, translation } => write!(f, "markup changed: source has {source}, translation has {translation}"),
            Problem::Link { lost, added } => {
                let mut parts = Vec::new();
                if !lost.is_empty() {
                    parts.push(format!("link(s) lost: {}", lost.join(", ")));
                }
                if !added.is_empty() {
                    parts.push(format!("link(s) added: {}", added.join(", ")));
                }
                write!(f, "{}", parts.join("; "))
            }
            Problem::Code(c) => write!(f, "inline code changed: {c:?}"),
            Problem::Number(n) => write!(f, "number {n} missing"),
            Problem::Url(u) => write!(f, "URL {u} missing"),
            Problem::Untranslated => write!(f, "not translated (the source came back)"),
            Problem::Language(l) => write!(f, "not in the target language ({l})"),
            Problem::Length(r) => write!(f, "length ratio {r:.2} out of bounds"),
        }
    }
}

/// Bounds and terms the checks use.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub target_lang: String,
    /// Bounds on translated / source length in characters; None picks them from the scripts involved.
    pub min_ratio: Option<f64>,
    pub max_ratio: Option<f64>,
    /// Terms kept untranslated: they do not count as untranslated words.
    pub keep: Vec<String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { target_lang: "zh-CN".into(), min_ratio: None, max_ratio: None, keep: Vec::new() }
    }
}

/// Matches reply blocks (id, html) to `n` units, each on its own: a unit's block, or why it has
/// none usable. Blocks with numbers no unit has are invented and dropped; a number given twice is
/// trusted for neither; when the reply was `cut`, its last block is not trusted either.
pub fn match_blocks(n: usize, blocks: &[(usize, String)], cut: bool) -> Vec<Result<String, Problem>> {
    let mut out: Vec<Result<String, Problem>> = vec![Err(Problem::Missing); n];
    let mut seen = vec![0usize; n];
    for (id, html) in blocks.iter().filter(|(id, _)| *id < n) {
        seen[*id] += 1;
        out[*id] = if seen[*id] > 1 { Err(Problem::Invented(seen[*id] - 1)) } else { Ok(html.clone()) };
    }
    if cut && let Some((last, _)) = blocks.last().filter(|(id, _)| *id < n) {
        out[*last] = Err(Problem::Cut);
    }
    out
}

/// Every problem of one translated block against its source block.
pub fn check_unit(source_html: &str, translated_html: &str, options: &CheckOptions) -> Vec<Problem> {
    let src = Facts::of(source_html);
    let tr = Facts::of(translated_html);
    let mut problems = Vec::new();
    if tr.text.trim().is_empty() {
        if !src.text.trim().is_empty() {
            problems.push(Problem::Empty);
        }
        return problems;
    }
    // Links and images are compared by address below; the other tags by count here.
    let without_links = |tags: &BTreeMap<String, usize>| -> BTreeMap<String, usize> {
        tags.iter().filter(|(t, _)| !matches!(t.as_str(), "a" | "img")).map(|(t, n)| (t.clone(), *n)).collect()
    };
    if without_links(&src.tags) != without_links(&tr.tags) || src.links.is_empty() && src.tags != tr.tags {
        problems.push(Problem::Tags { source: describe(&src.tags), translation: describe(&tr.tags) });
    }
    let lost: Vec<String> = src.links.iter().filter(|l| !tr.links.contains(l)).cloned().collect();
    let added: Vec<String> = tr.links.iter().filter(|l| !src.links.contains(l)).cloned().collect();
    if !lost.is_empty() || !added.is_empty() {
        problems.push(Problem::Link { lost, added });
    }
    if let Some(c) = src.code.iter().find(|c| !tr.code.contains(c)) {
        problems.push(Problem::Code(c.clone()));
    }
    let tr_numbers = numbers(&tr.text);
    for (raw, value) in numbers(&src.text) {
        let found = tr_numbers.iter().any(|(t_raw, t)| *t_raw == raw || same_number(*t, value));
        if !found && (value >= 10.0 || raw.contains('.')) {
            problems.push(Problem::Number(raw));
        }
    }
    for url in urls(&src.text) {
        if !tr.text.contains(&url) && !tr.links.contains(&url) {
            problems.push(Problem::Url(url));
        }
    }
    // Only prose must change: inline code comes back as it went.
    let words = content_words(&src.prose, &options.keep);
    if words >= 4 {
        if crate::text::collapse_whitespace(&tr.text) == crate::text::collapse_whitespace(&src.text) {
            problems.push(Problem::Untranslated);
        } else if let Some(why) = wrong_language(&tr.text, &tr.code, &options.target_lang) {
            problems.push(Problem::Language(why));
        }
    }
    let src_len = src.text.chars().count();
    if src_len >= 30 {
        let ratio = tr.text.chars().count() as f64 / src_len as f64;
        let (min, max) = length_bounds(&src.text, &options.target_lang);
        if ratio < options.min_ratio.unwrap_or(min) || ratio > options.max_ratio.unwrap_or(max) {
            problems.push(Problem::Length(ratio));
        }
    }
    problems
}

/// Plausible translated/source length ratios: a CJK character carries what three or four Latin
/// letters do, so English -> Chinese shrinks to about a third and Chinese -> English grows.
fn length_bounds(source: &str, target: &str) -> (f64, f64) {
    let cjk_target = matches!(target.split('-').next().unwrap_or("").to_ascii_lowercase().as_str(), "zh" | "ja" | "ko");
    let letters = source.chars().filter(|c| c.is_alphabetic()).count().max(1);
    let cjk_source = source.chars().filter(|c| (*c as u32) >= 0x2E80 && c.is_alphabetic()).count() * 2 > letters;
    match (cjk_source, cjk_target) {
        (false, true) => (0.15, 1.5),
        (true, false) => (0.8, 8.0),
        _ => (0.4, 3.0),
    }
}

/// What the checks compare, read off a block of HTML.
struct Facts {
    text: String,
    /// The text outside inline code.
    prose: String,
    tags: BTreeMap<String, usize>,
    links: Vec<String>,
    code: Vec<String>,
}

impl Facts {
    fn of(html: &str) -> Facts {
        let doc = Html::parse_fragment(html);
        let mut tags = BTreeMap::new();
        let mut links = Vec::new();
        let mut code = Vec::new();
        for el in doc.root_element().descendent_elements().skip(1) {
            let name = el.value().name();
            *tags.entry(name.to_string()).or_insert(0) += 1;
            for attr in ["href", "src"] {
                if let Some(v) = el.value().attr(attr) {
                    links.push(v.trim().to_string());
                }
            }
            if crate::translate::segment::CODE.contains(&name) {
                code.push(el.text().collect::<String>());
            }
        }
        links.sort();
        links.dedup();
        let text = doc.root_element().text().collect::<String>();
        let prose = crate::translate::segment::prose_of(doc.root_element());
        Facts { text, prose, tags, links, code }
    }
}

fn describe(tags: &BTreeMap<String, usize>) -> String {
    if tags.is_empty() {
        return "no tags".into();
    }
    tags.iter().map(|(t, n)| format!("{n} <{t}>")).collect::<Vec<_>>().join(", ")
}

/// Numbers written with digits, with their value (thousands separators dropped).
fn numbers(text: &str) -> Vec<(String, f64)> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\d+(?:[.,]\d+)*").expect("static regex"));
    re.find_iter(text)
        .filter_map(|m| {
            let raw = m.as_str().trim_end_matches(['.', ',']).to_string();
            // "1,000" and "1,000,000" are thousands; "3.5" is a decimal; "1.2.3" a version, compared as written.
            let groups: Vec<&str> = raw.split(',').collect();
            let thousands = groups.len() > 1 && groups[1..].iter().all(|g| g.split('.').next().is_some_and(|h| h.len() == 3));
            let plain = if thousands { raw.replace(',', "") } else { raw.replace(',', ".") };
            let value = if plain.matches('.').count() <= 1 { plain.parse().ok()? } else { f64::NAN };
            Some((raw, value))
        })
        .collect()
}

/// The same number, allowing Chinese and Japanese units (万 = 10^4, 亿 = 10^8).
fn same_number(translated: f64, source: f64) -> bool {
    if source.is_nan() || translated.is_nan() {
        return false;
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    close(translated, source) || close(translated * 1e4, source) || close(translated * 1e8, source)
}

fn urls(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r#"https?://[^\s<>"'）)]+"#).expect("static regex"));
    re.find_iter(text).map(|m| m.as_str().trim_end_matches(['.', ',', ';', ':']).to_string()).collect()
}

/// Words of two or more letters that are not kept terms: what must be translated.
fn content_words(text: &str, keep: &[String]) -> usize {
    let mut t = text.to_string();
    for k in keep {
        t = t.replace(k.as_str(), " ");
    }
    t.split(|c: char| !c.is_alphabetic()).filter(|w| w.chars().count() >= 2).count()
}

/// None when `text` is in the target language, else what is wrong.
fn wrong_language(text: &str, code: &[String], target: &str) -> Option<String> {
    let mut prose = text.to_string();
    for c in code {
        prose = prose.replace(c.as_str(), " ");
    }
    let primary = target.split('-').next().unwrap_or(target).to_ascii_lowercase();
    let count = |f: fn(char) -> bool| prose.chars().filter(|c| f(*c)).count();
    let han = count(|c| matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF));
    let kana = count(|c| matches!(c as u32, 0x3040..=0x30FF));
    let hangul = count(|c| matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF));
    let script_ok = match primary.as_str() {
        "zh" => han > 0 && kana * 4 < han.max(1),
        "ja" => han + kana > 0,
        "ko" => hangul > 0,
        _ => {
            let lang = crate::translate::segment::whatlang_lang(target)?;
            return match whatlang::detect(&prose) {
                Some(info) if info.is_reliable() && info.lang() != lang && prose.chars().count() >= 40 => {
                    Some(format!("looks like {}", info.lang().eng_name()))
                }
                _ => None,
            };
        }
    };
    if script_ok {
        return None;
    }
    let seen = whatlang::detect(&prose).map(|i| i.lang().eng_name().to_string()).unwrap_or_else(|| "unknown".into());
    Some(format!("expected {target}, looks like {seen}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str, tr: &str) -> Vec<String> {
        check_unit(src, tr, &CheckOptions::default()).iter().map(|p| p.to_string()).collect()
    }

    const SRC: &str = r#"Eighteen organizations now have models that rank higher than the original GPT-4 on the <a href="https://lmarena.ai/">Chatbot Arena</a> (shown as <code>GPT-4-0314</code>) - 70 models in total, at $0.0375 per 1,000,000 tokens."#;

    #[test]
    fn a_faithful_translation_passes() {
        let tr = r#"现在有 18 个组织的模型在 <a href="https://lmarena.ai/">Chatbot Arena</a> 上的排名高于原始 GPT-4（显示为 <code>GPT-4-0314</code>）- 总共 70 个模型，价格为每 100 万 token 0.0375 美元。"#;
        assert_eq!(problems(SRC, tr), Vec::<String>::new());
    }

    #[test]
    fn unfaithful_translations_are_caught() {
        let cases = [
            ("", "empty translation"),
            (r#"现在有 18 个组织的模型排名更高，共 70 个模型，<code>GPT-4-0314</code>，每 100 万 token 0.0375 美元。"#, "link(s) lost: https://lmarena.ai/"),
            (
                r#"<a href="https://evil.example/">点击</a> <a href="https://lmarena.ai/">Chatbot Arena</a> <code>GPT-4-0314</code> 70 0.0375 1000000"#,
                "link(s) added: https://evil.example/",
            ),
            (
                r#"<a href="https://lmarena.ai/">Chatbot Arena</a> 上有很多模型，<code>GPT-4-0315</code>，总共 70 个，0.0375 美元，100 万。"#,
                "inline code changed",
            ),
            (r#"<a href="https://lmarena.ai/">Chatbot Arena</a> <code>GPT-4-0314</code> 上有很多模型，每 100 万 token 0.0375 美元。"#, "number 70 missing"),
            (SRC, "not translated"),
            (
                r#"Dix-huit organisations ont des modèles mieux classés que GPT-4 sur <a href="https://lmarena.ai/">Chatbot Arena</a> (<code>GPT-4-0314</code>), 70 modèles, 0.0375 $ par 1,000,000 jetons."#,
                "not in the target language",
            ),
            (
                r#"<em>现在</em>有 18 个组织的模型在 <a href="https://lmarena.ai/">Chatbot Arena</a> 上的排名高于原始 GPT-4（显示为 <code>GPT-4-0314</code>）- 总共 70 个模型，每 100 万 token 0.0375 美元。"#,
                "markup changed: source has 1 <a>, 1 <code>, translation has 1 <a>, 1 <code>, 1 <em>",
            ),
        ];
        for (tr, want) in cases {
            let got = problems(SRC, tr);
            assert!(got.iter().any(|p| p.contains(want)), "translation {tr:?}\n  got {got:?}\n  want {want:?}");
        }
    }

    #[test]
    fn a_translation_cut_short_is_caught_by_its_length() {
        let src = "The past twelve months have seen a dramatic collapse in the cost of running a prompt through the top tier hosted models.";
        assert_eq!(problems(src, "过去两年..."), ["length ratio 0.06 out of bounds"]);
    }

    #[test]
    fn short_blocks_of_names_may_stay_as_they_are() {
        assert_eq!(problems("Claude 3.5 Sonnet", "Claude 3.5 Sonnet"), Vec::<String>::new());
        let keep = CheckOptions { keep: vec!["Apple Intelligence".into(), "MLX".into()], ..CheckOptions::default() };
        assert!(check_unit("Apple Intelligence and MLX", "Apple Intelligence and MLX", &keep).is_empty());
    }

    #[test]
    fn numbers_in_chinese_units_are_the_same_numbers() {
        assert!(problems("It has 2,000,000 tokens of context and 1.5 billion users.", "它拥有 200 万 token 的上下文和 1.5 亿用户。").is_empty());
        assert_eq!(problems("It costs $5,576,000 to train the model overall.", "训练这个模型总共需要 500 万美元。"), ["number 5,576,000 missing"]);
        assert!(problems("Install macOS 10.6.8 first, then version 3.2.6 of the tool.", "先安装 macOS 10.6.8，再安装该工具的 3.2.6 版。").is_empty());
    }

    #[test]
    fn reply_blocks_are_matched_to_units_one_by_one() {
        let b = |ids: &[usize]| ids.iter().map(|i| (*i, format!("t{i}"))).collect::<Vec<_>>();
        let ok = |i: usize| Ok(format!("t{i}"));
        assert_eq!(match_blocks(3, &b(&[0, 1, 2]), false), [ok(0), ok(1), ok(2)]);
        assert_eq!(match_blocks(3, &b(&[0, 1]), false), [ok(0), ok(1), Err(Problem::Missing)]);
        // An invented block is dropped; the others stand on their own checks.
        assert_eq!(match_blocks(3, &b(&[0, 1, 2, 3]), false), [ok(0), ok(1), ok(2)]);
        assert_eq!(match_blocks(3, &b(&[0, 1, 1, 2]), false), [ok(0), Err(Problem::Invented(1)), ok(2)]);
        assert_eq!(match_blocks(3, &b(&[0, 2, 1]), false), [ok(0), ok(1), ok(2)]);
        // Cut off: the last block came back only in part.
        assert_eq!(match_blocks(3, &b(&[0, 1]), true), [ok(0), Err(Problem::Cut), Err(Problem::Missing)]);
    }

    #[test]
    fn inline_code_need_not_change_and_must_not() {
        let src = "Run <code>llm install llm-gemini</code> and <kbd>Enter</kbd>";
        // Few words of prose: they may stay (a faithful engine keeps code and may keep "Run ... and").
        assert_eq!(problems(src, src), Vec::<String>::new());
        assert_eq!(problems(src, "运行 <code>llm install llm-gemini</code> 并按 <kbd>Return</kbd>"), ["inline code changed: \"Enter\""]);
    }
}
