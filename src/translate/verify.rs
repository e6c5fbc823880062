//! `verify`: an existing translation against its original, block by block. Pure.
//!
//! Both documents are cut into blocks (HTML through the segmenter, Markdown through a small block
//! reader), aligned in order by what a faithful translation keeps (numbers, names, code, links),
//! and each aligned pair goes through the same checks as a live reply. Source blocks left without
//! a partner are missing; translation blocks left without one are invented.

use std::collections::HashSet;

use serde::Serialize;

use super::checks::{CheckOptions, check_unit};
use super::segment::{self, Options};

/// A block of either document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    pub heading: bool,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Unfaithful,
    Missing,
    Invented,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub status: Status,
    pub source: Option<usize>,
    pub translation: Option<usize>,
    pub problems: Vec<String>,
}

/// Reads blocks from a document: Markdown when `markdown`, else HTML.
pub fn blocks(doc: &str, markdown: bool) -> Vec<Block> {
    let html = if markdown { markdown_blocks_html(doc) } else { crate::text::tame(doc).into_owned() };
    segment::segment(&html, &Options::default())
        .units
        .into_iter()
        .map(|u| Block { heading: u.tag.as_deref().is_some_and(|t| t.len() == 2 && t.starts_with('h')), text: u.text, html: u.html })
        .collect()
}

/// The inline elements of the source that the translation does not carry as a document: links
/// when it has fewer than a tenth of the source's (plain Markdown with at most an attribution link,
/// say), any other element when it has none at all (`<q>`, `<abbr>`, `<cite>`: Markdown cannot
/// write them). These are differences of format, reported once; the blocks are judged without them.
pub fn uncarried(source: &[Block], translation: &[Block]) -> Vec<String> {
    static TAG: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let tag = TAG.get_or_init(|| regex::Regex::new(r"<([a-z][a-z0-9]*)[\s>/]").expect("static regex"));
    let count = |blocks: &[Block]| {
        let mut n: std::collections::BTreeMap<String, usize> = Default::default();
        for b in blocks {
            for c in tag.captures_iter(&b.html) {
                *n.entry(c[1].to_string()).or_default() += 1;
            }
        }
        n
    };
    let (src, tr) = (count(source), count(translation));
    src.iter()
        .filter(|(name, n)| {
            let carried = tr.get(*name).copied().unwrap_or(0);
            if *name == "a" { carried * 10 < **n } else { carried == 0 }
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Matches the start and end tags of `tags` (None when there are none).
fn tags_matcher(tags: &[String]) -> Option<regex::Regex> {
    (!tags.is_empty()).then(|| regex::Regex::new(&format!(r"(?i)</?(?:{})(?:\s[^>]*)?>", tags.join("|"))).expect("tag names are letters and digits"))
}

/// Aligns and checks. Rows come in document order.
pub fn verify(source: &[Block], translation: &[Block], options: &CheckOptions) -> Vec<Row> {
    let pairs = align(source, translation);
    // Blocks are judged without what the translation does not carry (their text stays).
    let uncarried = tags_matcher(&uncarried(source, translation));
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    for (si, ti) in pairs.into_iter().chain([(source.len(), translation.len())]) {
        while i < si {
            rows.push(Row { status: Status::Missing, source: Some(i), translation: None, problems: vec![] });
            i += 1;
        }
        while j < ti {
            rows.push(Row { status: Status::Invented, source: None, translation: Some(j), problems: vec![] });
            j += 1;
        }
        if si < source.len() && ti < translation.len() {
            let src = uncarried.as_ref().map_or_else(|| source[si].html.clone(), |re| re.replace_all(&source[si].html, "").into_owned());
            let problems: Vec<String> = check_unit(&src, &translation[ti].html, options).iter().map(|p| p.to_string()).collect();
            let status = if problems.is_empty() { Status::Ok } else { Status::Unfaithful };
            rows.push(Row { status, source: Some(si), translation: Some(ti), problems });
            i = si + 1;
            j = ti + 1;
        }
    }
    rows
}

/// Matches source blocks to translation blocks, in order. Headings are matched first (one by
/// one when both documents have as many, else by similarity), then the blocks of each pair of
/// sections, so an invented section cannot pull the rest of the document out of line.
fn align(source: &[Block], translation: &[Block]) -> Vec<(usize, usize)> {
    let src: Vec<Anchors> = source.iter().map(|b| Anchors::of(&b.text)).collect();
    let tr: Vec<Anchors> = translation.iter().map(|b| Anchors::of(&b.text)).collect();
    let score = |i: usize, j: usize| similarity(&source[i], &src[i], &translation[j], &tr[j]);
    let hs: Vec<usize> = (0..source.len()).filter(|&i| source[i].heading).collect();
    let ht: Vec<usize> = (0..translation.len()).filter(|&j| translation[j].heading).collect();
    let headings: Vec<(usize, usize)> =
        if hs.len() == ht.len() { hs.iter().copied().zip(ht.iter().copied()).collect() } else { best_matching(&hs, &ht, &score) };
    let mut pairs = Vec::new();
    let (mut si, mut ti) = (0, 0);
    for &(hi, hj) in headings.iter().chain([&(source.len(), translation.len())]) {
        let body_s: Vec<usize> = (si..hi).collect();
        let body_t: Vec<usize> = (ti..hj).collect();
        pairs.extend(best_matching(&body_s, &body_t, &score));
        if hi < source.len() {
            pairs.push((hi, hj));
        }
        (si, ti) = (hi + 1, hj + 1);
    }
    pairs
}

/// The monotonic matching of `a` to `b` with the largest total similarity (dynamic programming);
/// pairs below the threshold are never matched.
fn best_matching(a: &[usize], b: &[usize], score: &impl Fn(usize, usize) -> f64) -> Vec<(usize, usize)> {
    const THRESHOLD: f64 = 0.3;
    let (n, m) = (a.len(), b.len());
    let s = |i: usize, j: usize| {
        let v = score(a[i], b[j]);
        if v >= THRESHOLD { Some(v) } else { None }
    };
    let mut best = vec![vec![0.0f64; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let skip = best[i + 1][j].max(best[i][j + 1]);
            best[i][j] = s(i, j).map_or(skip, |v| skip.max(v + best[i + 1][j + 1]));
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if s(i, j).is_some_and(|v| (best[i][j] - (v + best[i + 1][j + 1])).abs() < 1e-9) {
            pairs.push((a[i], b[j]));
            i += 1;
            j += 1;
        } else if (best[i][j] - best[i + 1][j]).abs() < 1e-9 {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// What a faithful translation carries over from its source.
struct Anchors {
    words: HashSet<String>,
    numbers: HashSet<String>,
    chars: usize,
    names: usize,
}

impl Anchors {
    /// Every Latin word and number: in a translation into another script, the Latin words left
    /// are names and terms, and they must be among the source's words.
    fn of(text: &str) -> Anchors {
        let list = latin_words(text);
        // Names: capitalized words that do not start a sentence, and words with digits.
        let mut names = 0;
        let mut sentence_start = true;
        for raw in text.split_whitespace() {
            let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
            // "I" is a pronoun, not a name.
            let capital = w.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && w.len() > 1;
            if (capital && !sentence_start) || (w.chars().any(|c| c.is_ascii_digit()) && w.chars().any(|c| c.is_ascii_alphabetic())) {
                names += 1;
            }
            sentence_start = raw.ends_with(['.', '!', '?', ':']);
        }
        let words = list.into_iter().map(|w| w.to_lowercase()).collect();
        Anchors { words, numbers: numbers(text), chars: text.chars().count(), names }
    }
}

/// How likely `t` translates `s`: what a translation carries over (anchors), weighed by how close
/// the two are in length (letters weighed by script) and in sentences.
fn similarity(s: &Block, sa: &Anchors, t: &Block, ta: &Anchors) -> f64 {
    if s.heading != t.heading {
        return 0.0;
    }
    let ratio = super::checks::weight(&t.text).max(1.0) / super::checks::weight(&s.text).max(1.0);
    let length = (-1.5 * ratio.ln().abs()).exp();
    let sentences = match super::checks::sentences(&s.text).abs_diff(super::checks::sentences(&t.text)) {
        0 => 1.0,
        1 => 0.8,
        _ => 0.6,
    };
    anchor_similarity(sa, ta) * (0.5 + 0.5 * length) * sentences
}

fn anchor_similarity(sa: &Anchors, ta: &Anchors) -> f64 {
    let plausible_length = {
        let r = ta.chars as f64 / sa.chars.max(1) as f64;
        (0.1..=3.0).contains(&r)
    };
    let carried: HashSet<&String> = ta.words.iter().chain(&ta.numbers).collect();
    if carried.is_empty() && sa.numbers.is_empty() {
        // Nothing to compare but the length, unless the source names things a translation keeps.
        return if plausible_length && sa.names < 2 { 0.6 } else { 0.15 };
    }
    let hits = ta.words.iter().filter(|w| sa.words.contains(*w)).count() + ta.numbers.iter().filter(|n| sa.numbers.contains(*n)).count();
    let foreign = carried.len() - hits;
    let lost = sa.numbers.iter().filter(|n| !ta.numbers.contains(*n)).count();
    let score = hits as f64 / (hits + foreign + lost) as f64;
    if plausible_length { score } else { score * 0.5 }
}

fn latin_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .map(|w| w.trim_matches(['-', '.']))
        .filter(|w| w.len() >= 2 && w.chars().any(|c| c.is_ascii_alphabetic()))
        .map(str::to_string)
        .collect()
}

/// Numbers written with digits, as values: "4,096" is 4096; a multiplier after a number adds its
/// product too ("$6m" and "600 万" both give 6000000). Lone digits are left out: they are as often
/// words ("one", "first") as numbers.
fn numbers(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || (matches!(chars[i], ',' | '.') && chars.get(i + 1).is_some_and(char::is_ascii_digit))) {
            i += 1;
        }
        let raw: String = chars[start..i].iter().filter(|c| **c != ',').collect();
        let Ok(value) = raw.parse::<f64>() else { continue };
        if raw.len() >= 2 {
            out.insert(format!("{value}"));
        }
        let rest: String = chars[i..].iter().take(12).collect::<String>().to_lowercase();
        let rest = rest.trim_start();
        let multiplier = [("万", 1e4), ("亿", 1e8), ("千", 1e3), ("million", 1e6), ("billion", 1e9), ("thousand", 1e3), ("m", 1e6), ("b", 1e9), ("k", 1e3)]
            .iter()
            .find(|(word, _)| rest.starts_with(word) && !rest[word.len()..].starts_with(|c: char| c.is_ascii_alphabetic()))
            .map(|(_, m)| *m);
        if let Some(m) = multiplier {
            out.insert(format!("{}", value * m));
        }
    }
    out
}

/// Markdown -> HTML by pulldown-cmark (CommonMark, GFM tables and strikethrough): the front
/// matter and code blocks dropped (they are not translated), soft line breaks read as spaces.
fn markdown_blocks_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let options = Options::ENABLE_YAML_STYLE_METADATA_BLOCKS | Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut skipping = false;
    let events = Parser::new_ext(md, options).filter_map(|e| match e {
        Event::Start(Tag::CodeBlock(_) | Tag::MetadataBlock(_)) => {
            skipping = true;
            None
        }
        Event::End(TagEnd::CodeBlock | TagEnd::MetadataBlock(_)) => {
            skipping = false;
            None
        }
        _ if skipping => None,
        Event::SoftBreak => Some(Event::Text(" ".into())),
        e => Some(e),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_blocks() {
        let md = "---\ntitle: x\n---\n\n# 标题\n\n第一段 [链接](https://e.org/a) 和 `code`，\n接着。\n\n* 项目 **一**\n1. 项目二\n\n> 引用\n\n```\nfn main() {}\n```\n";
        let b = blocks(md, true);
        let html: Vec<&str> = b.iter().map(|b| b.html.as_str()).collect();
        assert_eq!(html, ["标题", "第一段 <a href=\"https://e.org/a\">链接</a> 和 <code>code</code>， 接着。", "项目 <strong>一</strong>", "项目二", "引用"]);
        assert!(b[0].heading && !b[1].heading);
    }

    #[test]
    fn faithful_blocks_align_and_invented_ones_do_not() {
        let source = blocks(
            "<h4>Prices crashed</h4><p>In 2024 GPT-4o cost $2.50 per million tokens, 12x less than GPT-4 at $30.</p>\
             <p>DeepSeek v3 was trained for $5,576,000 on 2,048 H800 GPUs.</p>",
            false,
        );
        let translation = blocks(
            "<h4>价格暴跌</h4><p>2024 年，GPT-4o 每百万 token 仅需 2.50 美元，比 30 美元的 GPT-4 便宜 12 倍。</p>\
             <p>特别是 01.AI 的 Yi-34B 模型只用了 600 万美元就完成了训练。</p>",
            false,
        );
        let rows = verify(&source, &translation, &CheckOptions::default());
        let statuses: Vec<Status> = rows.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::Ok, Status::Ok, Status::Missing, Status::Invented]);
    }
}
