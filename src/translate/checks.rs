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
    /// The translation has a number the source does not.
    AddedNumber(String),
    /// A URL written in the text is missing.
    Url(String),
    /// The translation is the source again.
    Untranslated,
    /// The translation is not in the target language.
    Language(String),
    /// A kept term of the source is not in the translation as it was.
    Keep(String),
    /// A glossary term of the source is not translated its fixed way.
    Glossary { term: String, want: String },
    /// The source's last sentence ends; the translation's stops halfway (cut off).
    Unfinished,
    /// The source ends on a colon (it leads into what follows); the translation goes on after it.
    AfterColon,
    /// The translation has whole sentences more (invented) or fewer (dropped) than the source.
    Sentences { source: usize, translation: usize },
    /// translated length / source length is out of bounds.
    Length(f64),
    /// A summary is longer than allowed: its characters, the most allowed.
    TooLong { chars: usize, max: usize },
    /// A summary has a URL its source does not.
    AddedUrl(String),
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
            Problem::AddedNumber(n) => write!(f, "number {n} added"),
            Problem::Url(u) => write!(f, "URL {u} missing"),
            Problem::Untranslated => write!(f, "not translated (the source came back)"),
            Problem::Language(l) => write!(f, "not in the target language ({l})"),
            Problem::Keep(k) => write!(f, "kept term {k:?} missing"),
            Problem::Unfinished => write!(f, "the translation stops mid-sentence"),
            Problem::AfterColon => write!(f, "text added after the source's closing colon"),
            Problem::Glossary { term, want } => write!(f, "glossary term {term:?} not translated as {want:?}"),
            Problem::Sentences { source, translation } if translation > source => {
                write!(f, "{} sentence(s) added: the source has {source}, the translation {translation}", translation - source)
            }
            Problem::Sentences { source, translation } => {
                write!(f, "{} sentence(s) dropped: the source has {source}, the translation {translation}", source - translation)
            }
            Problem::Length(r) => write!(f, "length ratio {r:.2} out of bounds"),
            Problem::TooLong { chars, max } => write!(f, "{chars} characters long, at most {max}"),
            Problem::AddedUrl(u) => write!(f, "URL {u} is not in the post"),
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
    /// Terms kept untranslated: they must come back as they are, and do not count as untranslated words.
    pub keep: Vec<String>,
    /// Term -> its fixed translation: where the source has the term, the translation must have it.
    pub glossary: BTreeMap<String, String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { target_lang: "zh-CN".into(), min_ratio: None, max_ratio: None, keep: Vec::new(), glossary: BTreeMap::new() }
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
    if tags_differ(&src, &tr, &[]) {
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
    let src_numbers = numbers(&src.text);
    let counts = |n: &Number| n.value >= 10.0 || n.value.is_nan() || n.raw.contains('.') || n.scaled;
    for n in src_numbers.iter().filter(|n| counts(n)) {
        if !number_kept(n, &tr_numbers) {
            problems.push(Problem::Number(n.raw.clone()));
        }
    }
    // And no number the source does not have (written in words or as a month, it counts).
    let mut known = src_numbers.clone();
    known.extend(number_words(&src.text).into_iter().map(|value| Number { raw: String::new(), value, scaled: false }));
    for n in tr_numbers.iter().filter(|n| counts(n)) {
        if !number_kept(n, &known) {
            problems.push(Problem::AddedNumber(n.raw.clone()));
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
        } else if let Some(why) = wrong_language(&tr.prose, &src.text, &options.keep, &options.target_lang) {
            problems.push(Problem::Language(why));
        }
    }
    for k in options.keep.iter().filter(|k| !k.is_empty() && src.text.contains(k.as_str())) {
        if !tr.text.contains(k.as_str()) {
            problems.push(Problem::Keep(k.clone()));
        }
    }
    for (term, want) in &options.glossary {
        if contains_term(&src.prose, term) && !tr.text.to_lowercase().contains(&want.to_lowercase()) {
            problems.push(Problem::Glossary { term: term.clone(), want: want.clone() });
        }
    }
    // A block ends the way its source does: a sentence that ends, ends; one that leads into
    // what follows (a colon) still does, with nothing added after it.
    let (src_end, tr_end) = (ending(&src.prose), ending(&tr.prose));
    if src_end != Ending::Open && tr_end == Ending::Open && !tr.prose.trim().is_empty() {
        problems.push(Problem::Unfinished);
    } else if src_end == Ending::Colon && tr_end != Ending::Colon {
        problems.push(Problem::AfterColon);
    }
    let (s_src, s_tr) = (sentences(&src.spoken), sentences(&tr.spoken));
    if s_src.abs_diff(s_tr) > s_src / SENTENCE_SLACK {
        problems.push(Problem::Sentences { source: s_src, translation: s_tr });
    }
    let src_weight = weight(&src.text);
    if src_weight >= 30.0 {
        let ratio = weight(&tr.text) / src_weight;
        let (min, max) = if src_weight >= 100.0 { (0.6, 2.2) } else { (0.5, 2.6) };
        if ratio < options.min_ratio.unwrap_or(min) || ratio > options.max_ratio.unwrap_or(max) {
            problems.push(Problem::Length(ratio));
        }
    }
    problems
}

/// Every problem of a post's summary (plain text) against the post's text: empty, too long, not in
/// the target language, or saying a number or URL the post does not.
pub fn check_summary(source_text: &str, summary: &str, max_chars: usize, options: &CheckOptions) -> Vec<Problem> {
    let summary = summary.trim();
    if summary.is_empty() {
        return vec![Problem::Empty];
    }
    let mut problems = Vec::new();
    let chars = summary.chars().count();
    if chars > max_chars {
        problems.push(Problem::TooLong { chars, max: max_chars });
    }
    if let Some(why) = wrong_language(summary, source_text, &options.keep, &options.target_lang) {
        problems.push(Problem::Language(why));
    }
    let mut known = numbers(source_text);
    known.extend(number_words(source_text).into_iter().map(|value| Number { raw: String::new(), value, scaled: false }));
    // Every number counts here, small ones too: a summary has no reason to invent any.
    for n in numbers(summary) {
        if !number_kept(&n, &known) {
            problems.push(Problem::AddedNumber(n.raw.clone()));
        }
    }
    let source_urls = urls(source_text);
    for url in urls(summary) {
        if !source_urls.contains(&url) && !source_text.contains(&url) {
            problems.push(Problem::AddedUrl(url));
        }
    }
    problems
}

/// A translation may have one sentence more or fewer (one split, two joined) per this many of the
/// source's; below that, exactly as many. Every faithful block of the example post keeps its count.
const SENTENCE_SLACK: usize = 16;

/// Sentences in a block's prose: ends of sentence in Latin (". " "! " "? ", not after a known
/// abbreviation or inside a number) or CJK punctuation (。！？).
pub(crate) fn sentences(prose: &str) -> usize {
    const ABBREVIATIONS: &[&str] = &["e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "fig", "approx", "inc", "ltd", "jr", "sr"];
    let chars: Vec<char> = prose.trim().chars().collect();
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
    let (mut count, mut last) = (0, 0);
    for (i, c) in chars.iter().enumerate() {
        let end = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' => {
                let next = chars[i + 1..].iter().find(|n| !matches!(n, '"' | '\'' | ')' | '”' | '’' | ']'));
                let before: String = chars[..i].iter().rev().take_while(|p| p.is_alphanumeric() || **p == '.').collect::<String>().chars().rev().collect();
                // An ellipsis never ends one: "It works... mostly." is one sentence, and Chinese
                // writes "……" where English trails off.
                let ellipsis = *c == '.' && (i > 0 && chars[i - 1] == '.' || chars.get(i + 1) == Some(&'.'));
                // A stray dot after a space or a tag ("role</a>. .") ends nothing.
                let stray = i == 0 || chars[i - 1].is_whitespace();
                next.is_none_or(|n| n.is_whitespace() || is_end(*n)) && !ellipsis && !stray && !ABBREVIATIONS.contains(&before.to_lowercase().as_str())
            }
            _ => false,
        };
        // A run of terminators ("?!", "...") ends one sentence.
        if end && !chars.get(i + 1).is_some_and(|n| is_end(*n)) {
            count += 1;
            last = i + 1;
        }
    }
    // Text after the last end of sentence is a sentence too.
    count + usize::from(chars[last..].iter().any(|c| c.is_alphanumeric()))
}

/// How a block's prose ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// With a full stop, a question or an exclamation (quotes and brackets after it aside).
    Stop,
    /// With a colon: it leads into what comes next.
    Colon,
    /// Mid-sentence, or a heading.
    Open,
}

/// Whether a block (HTML) ends its last sentence (with a full stop, a question or an
/// exclamation): then a translation of it that stops early is caught by the checks themselves.
pub fn ends_a_sentence(html: &str) -> bool {
    ending(&crate::text::html_to_plain(html)) == Ending::Stop
}

fn ending(prose: &str) -> Ending {
    match prose.trim_end().trim_end_matches(['"', '”', '’', '\'', ')', '）', '」', '』', ']']).chars().next_back() {
        Some(':' | '：') => Ending::Colon,
        Some('.' | '!' | '?' | '。' | '！' | '？' | '…') => Ending::Stop,
        _ => Ending::Open,
    }
}

/// Whether `text` has `term` as a word or phrase (case-insensitive; CJK terms anywhere).
fn contains_term(text: &str, term: &str) -> bool {
    let (text, term) = (text.to_lowercase(), term.to_lowercase());
    let cjk = term.chars().any(|c| (c as u32) >= 0x2E80);
    text.match_indices(&term).any(|(at, _)| {
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() || (c as u32) >= 0x2E80);
        // A plural ("LLMs", "boxes") is the term too.
        let rest = &text[at + term.len()..];
        let rest = rest.strip_prefix("es").or_else(|| rest.strip_prefix('s')).filter(|r| edge(r.chars().next())).unwrap_or(rest);
        cjk || edge(text[..at].chars().next_back()) && edge(rest.chars().next())
    })
}

/// How much a text says, in Latin letters: a CJK character carries what about three Latin
/// letters do (a Hangul syllable two), digits and letters one, punctuation and spaces nothing.
/// Translated/source weights of faithful translations stay near 1 whichever way they go (0.60 to
/// 1.71 over the example post's faithful blocks, 0.89 to 1.44 for those of 100 letters or more).
pub(crate) fn weight(text: &str) -> f64 {
    text.chars()
        .map(|c| match c as u32 {
            0xAC00..=0xD7AF => HANGUL_WEIGHT,
            0x2E80.. if c.is_alphabetic() => CJK_WEIGHT,
            _ if c.is_alphanumeric() => 1.0,
            _ => 0.0,
        })
        .sum()
}

/// Whether the markup check sees changed markup once the tags named in `ignoring` are left out of
/// both sides: a repair that already names lost bold asks whether anything else changed.
pub fn markup_differs_beyond(source_html: &str, translated_html: &str, ignoring: &[&str]) -> bool {
    tags_differ(&Facts::of(source_html), &Facts::of(translated_html), ignoring)
}

/// The markup check: links and images are compared by address (the link check), the other tags
/// by count; in a block without links every tag is counted.
fn tags_differ(src: &Facts, tr: &Facts, ignoring: &[&str]) -> bool {
    let counted = |tags: &BTreeMap<String, usize>, links_too: bool| -> BTreeMap<String, usize> {
        tags.iter()
            .filter(|(t, _)| !ignoring.contains(&t.as_str()) && (links_too || !matches!(t.as_str(), "a" | "img")))
            .map(|(t, n)| (t.clone(), *n))
            .collect()
    };
    counted(&src.tags, false) != counted(&tr.tags, false) || src.links.is_empty() && counted(&src.tags, true) != counted(&tr.tags, true)
}

/// What the checks compare, read off a block of HTML.
struct Facts {
    text: String,
    /// The text outside inline code.
    prose: String,
    /// The text with each inline code element as one word: what sentences are counted in (the
    /// code's own dots end nothing, and a sentence that ends after code still ends).
    spoken: String,
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
        let spoken = spoken(doc.root_element());
        Facts { text, prose, spoken, tags, links, code }
    }
}

/// The text under `root` with each outermost inline code element as the word "code".
fn spoken(root: scraper::ElementRef) -> String {
    use crate::translate::segment::CODE;
    let mut out = String::new();
    for node in root.descendants() {
        let in_code = |n: &ego_tree::NodeRef<scraper::Node>| n.ancestors().filter_map(scraper::ElementRef::wrap).any(|a| CODE.contains(&a.value().name()));
        match node.value() {
            scraper::Node::Text(t) if !in_code(&node) => out.push_str(t),
            scraper::Node::Element(e) if CODE.contains(&e.name()) && !in_code(&node) => out.push_str("code"),
            _ => {}
        }
    }
    crate::text::collapse_whitespace(&out)
}

fn describe(tags: &BTreeMap<String, usize>) -> String {
    if tags.is_empty() {
        return "no tags".into();
    }
    tags.iter().map(|(t, n)| format!("{n} <{t}>")).collect::<Vec<_>>().join(", ")
}

/// A number written with digits: as written, and its value with any magnitude word after it
/// ("1.5 billion", "2.788M", "10k", "15亿", "557.6万"); NaN for versions like 10.6.8.
#[derive(Debug, Clone, PartialEq)]
struct Number {
    raw: String,
    value: f64,
    /// A magnitude word scaled it.
    scaled: bool,
}

/// Numbers written with digits, with their values (thousands separators dropped, magnitude words
/// applied).
fn numbers(text: &str) -> Vec<Number> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"([$£€¥]?)(\d+(?:[.,]\d+)*)(?:\s?(thousand|million|billion|trillion)\b|([kKMBm]|bn|mn)(?:[^\p{L}\p{N}]|$)|\s?(万亿|千亿|百亿|十亿|亿|千万|百万|十万|万|千))?",
        )
        .expect("static regex")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            let raw = c[2].trim_end_matches(['.', ',']).to_string();
            // "1,000" and "1,000,000" are thousands; "3.5" is a decimal; "1.2.3" a version, compared as written.
            let groups: Vec<&str> = raw.split(',').collect();
            let thousands = groups.len() > 1 && groups[1..].iter().all(|g| g.split('.').next().is_some_and(|h| h.len() == 3));
            let plain = if thousands { raw.replace(',', "") } else { raw.replace(',', ".") };
            let value: f64 = if plain.matches('.').count() <= 1 { plain.parse().ok()? } else { f64::NAN };
            // "m" is a million after a currency sign ("$6m"); elsewhere it is as likely metres or minutes.
            let word = c.get(3).or(c.get(4)).or(c.get(5)).map(|m| m.as_str()).filter(|w| !matches!(*w, "m" | "mn") || !c[1].is_empty());
            let scale = match word {
                Some("thousand" | "k" | "K" | "千") => 1e3,
                Some("万") => 1e4,
                Some("十万") => 1e5,
                Some("million" | "M" | "m" | "mn" | "百万") => 1e6,
                Some("千万") => 1e7,
                Some("亿") => 1e8,
                Some("billion" | "B" | "bn" | "十亿") => 1e9,
                Some("百亿") => 1e10,
                Some("千亿") => 1e11,
                Some("trillion" | "万亿") => 1e12,
                _ => 1.0,
            };
            Some(Number { raw, value: value * scale, scaled: scale != 1.0 })
        })
        .collect()
}

/// Values the source writes in words: numbers ("twelve", "twenty-five", "a hundred") and months
/// ("December" is 12: a translation writes dates with digits).
fn number_words(text: &str) -> Vec<f64> {
    const UNITS: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: &[&str] = &["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    const MONTHS: &[&str] = &["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphabetic() && c != '-').filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    for w in &words {
        let value = |w: &str| UNITS.iter().position(|u| *u == w).or_else(|| TENS.iter().position(|t| !t.is_empty() && *t == w).map(|t| t * 10));
        let v = match w.split_once('-') {
            Some((tens, unit)) => value(tens).zip(value(unit)).map(|(t, u)| t + u),
            None => value(w),
        };
        if let Some(v) = v {
            out.push(v as f64);
            out.extend([100.0, 1000.0].map(|m| v as f64 * m));
        }
        if let Some(m) = MONTHS.iter().position(|m| m == w) {
            out.push((m + 1) as f64);
        }
        match *w {
            "hundred" => out.push(100.0),
            "thousand" => out.push(1000.0),
            "dozen" => out.push(12.0),
            "decade" | "decades" => out.push(10.0),
            _ => {}
        }
    }
    out
}

/// Whether a number of the source is in the translation: the same value (a magnitude may be
/// written another way: 1.5 billion = 15亿 = 1,500,000,000), or, for versions, the same text.
/// A value a magnitude changed (1.5 billion -> 1.5亿) is not the same number.
fn number_kept(source: &Number, translation: &[Number]) -> bool {
    if source.value.is_nan() {
        return translation.iter().any(|t| t.raw == source.raw);
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    translation.iter().any(|t| close(t.value, source.value))
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

/// The share of a block's prose that must be in the target script, for the languages told by
/// their script: most of it. Names copied from the source (names, products), kept terms, inline
/// code and URLs do not count either way.
const TARGET_SHARE: f64 = 0.5;

/// How much text a character of a CJK script carries, in Latin letters (a Chinese sentence is a
/// third as long as its English original).
const CJK_WEIGHT: f64 = 3.0;

/// The same for a Hangul syllable.
const HANGUL_WEIGHT: f64 = 2.0;

/// None when the prose of a translated block is in the target language, else what is wrong.
/// `prose` is the translation's text outside inline code; `source` the original's text.
fn wrong_language(prose: &str, source: &str, keep: &[String], target: &str) -> Option<String> {
    let primary = target.split('-').next().unwrap_or(target).to_ascii_lowercase();
    let is_target: fn(char) -> bool = match primary.as_str() {
        "zh" => |c| matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF),
        "ja" => |c| matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF),
        "ko" => |c| matches!(c as u32, 0xAC00..=0xD7AF | 0x1100..=0x11FF),
        _ => {
            let lang = crate::translate::segment::whatlang_lang(target)?;
            return match whatlang::detect(prose) {
                Some(info) if info.is_reliable() && info.lang() != lang && prose.chars().count() >= 40 => {
                    Some(format!("looks like {}", info.lang().eng_name()))
                }
                _ => None,
            };
        }
    };
    let mut rest = prose.to_string();
    for k in keep.iter().filter(|k| !k.is_empty()) {
        rest = rest.replace(k.as_str(), " ");
    }
    for url in urls(prose) {
        rest = rest.replace(&url, " ");
    }
    let target_chars = rest.chars().filter(|c| is_target(*c)).count() as f64;
    // Letters of other scripts, but not in names copied from the source (a capitalized word the
    // source has: "Chatbot Arena", "GPT", "MacBook"); ordinary words left in English count.
    let source_words: std::collections::HashSet<&str> = source.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
    let foreign: usize = rest
        .split(|c: char| !c.is_alphabetic() || is_target(c))
        .filter(|w| !(w.is_empty() || w.starts_with(char::is_uppercase) && source_words.contains(w)))
        .map(|w| w.chars().count())
        .sum();
    let weight = if primary == "ko" { HANGUL_WEIGHT } else { CJK_WEIGHT };
    let target_letters = target_chars * weight;
    if target_letters + foreign as f64 == 0.0 || target_letters / (target_letters + foreign as f64) >= TARGET_SHARE {
        return None;
    }
    let share = 100.0 * target_letters / (target_letters + foreign as f64);
    let seen = whatlang::detect(prose).map(|i| i.lang().eng_name().to_string()).unwrap_or_else(|| "unknown".into());
    Some(format!("expected {target}, looks like {seen} ({share:.0}% in the target script)"))
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
    fn most_of_the_prose_must_be_in_the_target_script() {
        // Real mixed sentences (from the example translation): names, products and terms of art
        // copied from the source stay Latin, and the block is still Chinese.
        let faithful = [
            (
                "Eighteen organizations now have models on the Chatbot Arena Leaderboard that rank higher than the original GPT-4 from March 2023.",
                "现在已有 18 个组织的模型在 Chatbot Arena 排行榜上的排名高于 2023 年 3 月发布的原始 GPT-4。",
            ),
            (
                "Google's Gemini 1.5 Flash 8B, Anthropic's Claude 3 Haiku and Amazon Nova Micro are the cheapest models with a 128k context.",
                "Google 的 Gemini 1.5 Flash 8B、Anthropic 的 Claude 3 Haiku 和 Amazon Nova Micro 是具有 128k 上下文的最便宜模型。",
            ),
            ("I run them with the llm CLI tool and the MLX library on my MacBook Pro M2.", "我在我的 MacBook Pro M2 上用 llm CLI 工具和 MLX 库运行它们。"),
        ];
        for (src, tr) in faithful {
            assert_eq!(problems(src, tr), Vec::<String>::new(), "{tr}");
        }
        // One Han character does not make English prose Chinese; nor do words the source never had.
        let damaged = [
            ("The best models now run on a laptop, which was not true a year ago.", "这 The best models now run on a laptop, which was not true a year ago."),
            ("The best models now run on a laptop, which was not true a year ago.", "最好的 models now run on a laptop, which was not true a year ago."),
            (
                "The best models now run on a laptop, which was not true a year ago.",
                "最好的模型 nowadays operate fine upon portable computers unlike previously.",
            ),
        ];
        for (src, tr) in damaged {
            assert!(problems(src, tr).iter().any(|p| p.starts_with("not in the target language")), "{tr}: {:?}", problems(src, tr));
        }
    }

    #[test]
    fn kept_and_glossary_terms_are_enforced() {
        let options = CheckOptions {
            keep: vec!["Chatbot Arena".into()],
            glossary: BTreeMap::from([("prompt injection".to_string(), "提示词注入".to_string())]),
            ..CheckOptions::default()
        };
        let src = "Prompt injection is still unsolved, says the Chatbot Arena team.";
        let check = |tr: &str| check_unit(src, tr, &options).iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(check("Chatbot Arena 团队说，提示词注入仍未解决。"), Vec::<String>::new());
        assert_eq!(check("聊天机器人竞技场团队说，提示词注入仍未解决。"), ["kept term \"Chatbot Arena\" missing"]);
        assert_eq!(check("Chatbot Arena 团队说，提示注入攻击仍未解决。"), ["glossary term \"prompt injection\" not translated as \"提示词注入\""]);
        // A term the source does not have asks nothing.
        assert!(check_unit("Models got cheaper this year.", "模型今年变便宜了。", &options).is_empty());
    }

    #[test]
    fn sentences_are_counted_in_both_scripts() {
        for (text, want) in [
            ("One. Two! Three?", 3),
            ("Version 3.5 of GPT-4 costs $0.25, e.g. for Mr. Smith.", 1),
            ("It works... mostly. Really?!", 2),
            ("As to the channels... I filled out a form.", 1),
            ("Use a fully qualified role.. .", 1),
            ("一。二！三？四", 4),
            ("没有句号", 1),
            ("He said \"stop.\" Then left.", 2),
        ] {
            assert_eq!(sentences(text), want, "{text}");
        }
    }

    #[test]
    fn a_sentence_that_ends_after_inline_code_is_counted_on_both_sides() {
        // Three sentences each; the second ends right after code (a link around it, as in the W3C
        // feed validator's docs), and the code's own dots end nothing.
        let src = "Many elements have required attributes. Examples include <a href=\"https://e.org/c\"><code>cloud</code></a>, and <code>enclosure</code>. Consult <code>docs.rss2.html</code> for more.";
        let tr = "许多元素都有必需的属性。例如 <a href=\"https://e.org/c\"><code>cloud</code></a> 和 <code>enclosure</code>。更多内容请参阅 <code>docs.rss2.html</code>。";
        let problems = check_unit(src, tr, &CheckOptions::default());
        assert!(!problems.iter().any(|p| matches!(p, Problem::Sentences { .. })), "{problems:?}");
        // A sentence dropped after code is still caught.
        let short = "许多元素都有必需的属性。例如 <a href=\"https://e.org/c\"><code>cloud</code></a> 和 <code>enclosure</code>，更多内容请参阅 <code>docs.rss2.html</code>。";
        assert!(check_unit(src, short, &CheckOptions::default()).contains(&Problem::Sentences { source: 3, translation: 2 }));
    }

    #[test]
    fn a_sentence_added_or_dropped_is_caught() {
        let src = "The models got cheaper. They also got better at code.";
        assert_eq!(problems(src, "模型变便宜了。它们写代码也更好了。"), Vec::<String>::new());
        let added = "模型变便宜了。它们写代码也更好了。这是巨大的进步。人人都该用。";
        assert_eq!(problems(src, added), ["2 sentence(s) added: the source has 2, the translation 4"]);
        let three = "The models got cheaper. They also got better at code. Nobody expected that.";
        assert!(problems(three, "模型变便宜了。").contains(&"2 sentence(s) dropped: the source has 3, the translation 1".to_string()));
    }

    #[test]
    fn a_translation_cut_short_is_caught_by_its_length() {
        let src = "The past twelve months have seen a dramatic collapse in the cost of running a prompt through the top tier hosted models.";
        assert_eq!(problems(src, "过去两年..."), ["length ratio 0.12 out of bounds"]);
    }

    #[test]
    fn short_blocks_of_names_may_stay_as_they_are() {
        assert_eq!(problems("Claude 3.5 Sonnet", "Claude 3.5 Sonnet"), Vec::<String>::new());
        let keep = CheckOptions { keep: vec!["Apple Intelligence".into(), "MLX".into()], ..CheckOptions::default() };
        assert!(check_unit("Apple Intelligence and MLX", "Apple Intelligence and MLX", &keep).is_empty());
    }

    #[test]
    fn numbers_are_compared_by_value_with_their_magnitudes() {
        // Faithful: the same values, written the way a translator writes them.
        let faithful = [
            ("It has 2,000,000 tokens of context and 1.5 billion users.", "它拥有 200 万 token 的上下文和 15 亿用户。"),
            ("It has 1.5 billion users.", "它有 1,500,000,000 个用户。"),
            ("It cost $5,576,000 to train the model overall.", "训练这个模型总共花费了 557.6万美元。"),
            ("The run used 2.788M GPU hours on H800 chips.", "这次训练在 H800 芯片上用了 278.8万 GPU 小时。"),
            ("Gemini 1.5 Flash 8B handles 10k requests a day.", "Gemini 1.5 Flash 8B 每天处理 1 万个请求。"),
            ("Install macOS 10.6.8 first, then version 3.2.6 of the tool.", "先安装 macOS 10.6.8，再安装该工具的 3.2.6 版。"),
            ("In 2024 GPT-4 and Claude 3.5 Sonnet were joined by 18 others.", "2024 年，GPT-4 和 Claude 3.5 Sonnet 之外又多了 18 个。"),
        ];
        for (src, tr) in faithful {
            assert_eq!(problems(src, tr), Vec::<String>::new(), "{src} -> {tr}");
        }
        // Unfaithful: a magnitude off, a value changed, a version changed.
        let damaged = [
            ("It has 1.5 billion users around the world today.", "它今天在全世界有 1.5 亿用户。", "number 1.5 missing"),
            ("It cost $5,576,000 to train the model overall.", "训练这个模型总共需要 500 万美元。", "number 5,576,000 missing"),
            ("The run used 2.788M GPU hours on H800 chips.", "这次训练在 H800 芯片上用了 2.788 GPU 小时。", "number 2.788 missing"),
            ("Install macOS 10.6.8 first, then version 3.2.6 of the tool.", "先安装 macOS 10.6，再安装该工具的 3.2.6 版。", "number 10.6.8 missing"),
            ("In 2024 the price fell by a factor of 27.", "在 2023 年，价格下降到了原来的二十七分之一。", "number 2024 missing"),
        ];
        for (src, tr, want) in damaged {
            assert!(problems(src, tr).iter().any(|p| p == want), "{src} -> {tr}: {:?}", problems(src, tr));
        }
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

    #[test]
    fn a_summary_says_nothing_its_post_does_not() {
        let post = "Simon Willison looked back at 2024: three labs passed GPT-4, prices fell by a factor of 27, \
                    and the notes are at https://simonwillison.net/2024/Dec/31/llms-in-2024/ for anyone who wants them.";
        let zh = CheckOptions::default();
        let check = |summary: &str| check_summary(post, summary, 120, &zh).iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(check("Simon Willison 回顾了 2024 年：3 家实验室超越了 GPT-4，价格降低了 27 倍。"), Vec::<String>::new());
        assert_eq!(check("详见 https://simonwillison.net/2024/Dec/31/llms-in-2024/ 。"), Vec::<String>::new());
        assert_eq!(check("Simon Willison 回顾了 2024 年：42 家实验室超越了 GPT-4。"), ["number 42 added"]);
        assert_eq!(check("详见 https://example.com/more 。"), ["URL https://example.com/more is not in the post"]);
        assert_eq!(
            check("Simon Willison looked back at 2024 and found that three labs passed GPT-4."),
            ["not in the target language (expected zh-CN, looks like English (0% in the target script))"]
        );
        assert_eq!(check(&"回顾".repeat(61)), ["122 characters long, at most 120"]);
        assert_eq!(check("  "), ["empty translation"]);
    }
}
