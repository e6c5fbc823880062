//! HTML -> translation units and back. Pure.
//!
//! An entry's HTML is split at block level (p, li, h1-h6, blockquote, dt/dd, td/th, figcaption...):
//! each leaf block's inner HTML is one unit, inline markup included. Code blocks, raw URLs, blocks
//! without words, blocks already in the target language and elements the config marks as
//! untranslatable are copied through, never sent. `render` puts the pieces back together.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use crate::model::digest;
use crate::text::{collapse_whitespace, escape_html};

/// One translation unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The source HTML (inner HTML of a block, or an inline run).
    pub html: String,
    /// Its visible text.
    pub text: String,
    /// The translation-memory key: a digest of the whitespace-normalized HTML.
    pub hash: String,
    /// The element it sits in (p, h2, li...), or None for a run of inline content between blocks.
    pub tag: Option<String>,
}

impl Unit {
    pub fn new(html: String, tag: Option<String>) -> Unit {
        let normalized = collapse_whitespace(&html);
        let text = crate::text::html_to_plain(&normalized);
        Unit { hash: digest(&["unit", &normalized]), text, html: normalized, tag }
    }

    /// A title (plain text) as a unit.
    pub fn title(title: &str) -> Unit {
        Unit::new(escape_html(title), Some("h1".into()))
    }
}

/// A piece of the reassembled document.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Copied through as it is.
    Raw(String),
    /// A leaf block: `<tag attrs>` + unit + `</tag>`.
    Block { tag: String, attrs: Vec<(String, String)>, unit: usize },
    /// A run of inline content between blocks.
    Run { unit: usize },
}

/// A segmented document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segmented {
    pub pieces: Vec<Piece>,
    pub units: Vec<Unit>,
}

/// What segmentation needs to know.
#[derive(Default)]
pub struct Options {
    /// Elements copied through untranslated (besides pre, code blocks, script, style...).
    pub untranslatable: Vec<Selector>,
    /// Terms never translated: a block whose only words are these is copied through.
    pub keep: Vec<String>,
    /// Blocks already in this language are copied through.
    pub target: Option<whatlang::Lang>,
}

impl Options {
    /// How entries are cut into blocks for `lang` under a translator config: the same for
    /// translating and publishing.
    pub fn for_translator(tcfg: &crate::config::translator::TranslatorConfig, lang: &str) -> Options {
        let selectors: Vec<String> = tcfg.untranslatable.iter().map(|s| s.get_ref().clone()).collect();
        Options::new(&selectors, &tcfg.keep, lang)
    }

    pub fn new(selectors: &[String], keep: &[String], target_lang: &str) -> Options {
        Options { untranslatable: selectors.iter().filter_map(|s| Selector::parse(s).ok()).collect(), keep: keep.to_vec(), target: whatlang_lang(target_lang) }
    }
}

/// Elements that start a block.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
    "center",
];

/// Elements never translated: copied through whole.
const OPAQUE: &[&str] =
    &["pre", "script", "style", "svg", "math", "textarea", "iframe", "video", "audio", "object", "embed", "canvas", "noscript", "template", "select"];

/// Inline elements whose text is code, never prose: it travels inside its block, verbatim.
pub const CODE: &[&str] = &["code", "kbd", "samp", "var", "tt"];

/// Elements that cannot hold a unit of their own: their children are segmented instead.
const CONTAINERS: &[&str] = &["ol", "ul", "dl", "table", "thead", "tbody", "tfoot", "tr", "hr"];

const VOID: &[&str] = &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// Splits an HTML fragment into pieces and units.
pub fn segment(html: &str, options: &Options) -> Segmented {
    let doc = Html::parse_fragment(html);
    let mut seg = Segmented::default();
    let mut run = Vec::new();
    walk_children(*doc.root_element(), options, &mut seg, &mut run);
    flush_run(&mut seg, &mut run, options);
    merge_raw(&mut seg.pieces);
    seg
}

fn walk_children(node: NodeRef<Node>, options: &Options, seg: &mut Segmented, run: &mut Vec<String>) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => run.push(escape_text(t)),
            Node::Element(_) => {
                let el = ElementRef::wrap(child).expect("element");
                let name = el.value().name();
                if OPAQUE.contains(&name) || options.untranslatable.iter().any(|s| s.matches(&el)) {
                    flush_run(seg, run, options);
                    seg.pieces.push(Piece::Raw(el.html()));
                } else if BLOCKS.contains(&name) {
                    flush_run(seg, run, options);
                    block(el, options, seg);
                } else {
                    run.push(el.html());
                }
            }
            _ => {}
        }
    }
}

fn block(el: ElementRef, options: &Options, seg: &mut Segmented) {
    let name = el.value().name();
    let has_blocks = el.descendent_elements().skip(1).any(|d| {
        let n = d.value().name();
        BLOCKS.contains(&n) || OPAQUE.contains(&n) || options.untranslatable.iter().any(|s| s.matches(&d))
    });
    if !has_blocks && !CONTAINERS.contains(&name) {
        let unit = Unit::new(el.inner_html(), Some(name.to_string()));
        if worth_sending(&unit, options) {
            let attrs = el.value().attrs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            seg.units.push(unit);
            seg.pieces.push(Piece::Block { tag: name.to_string(), attrs, unit: seg.units.len() - 1 });
        } else {
            seg.pieces.push(Piece::Raw(el.html()));
        }
        return;
    }
    seg.pieces.push(Piece::Raw(start_tag(name, el.value().attrs())));
    let mut run = Vec::new();
    walk_children(*el, options, seg, &mut run);
    flush_run(seg, &mut run, options);
    if !VOID.contains(&name) {
        seg.pieces.push(Piece::Raw(format!("</{name}>")));
    }
}

fn flush_run(seg: &mut Segmented, run: &mut Vec<String>, options: &Options) {
    if run.is_empty() {
        return;
    }
    let html: String = run.drain(..).collect();
    let unit = Unit::new(html.clone(), None);
    if worth_sending(&unit, options) {
        // Keep the run's surrounding whitespace outside the unit.
        let lead = &html[..html.len() - html.trim_start().len()];
        let trail = &html[html.trim_end().len()..];
        if !lead.is_empty() {
            seg.pieces.push(Piece::Raw(lead.to_string()));
        }
        seg.units.push(unit);
        seg.pieces.push(Piece::Run { unit: seg.units.len() - 1 });
        if !trail.is_empty() {
            seg.pieces.push(Piece::Raw(trail.to_string()));
        }
    } else {
        seg.pieces.push(Piece::Raw(html));
    }
}

/// Whether a unit goes to an engine: only when it has prose, words outside inline code, URLs,
/// numbers and kept terms, not already in the target language. A block of inline code (a prompt,
/// a command, a log line) comes back verbatim from a faithful engine: it is copied through instead.
pub fn worth_sending(unit: &Unit, options: &Options) -> bool {
    let text = unit.text.trim();
    if !text.chars().any(char::is_alphabetic) {
        return false;
    }
    if !has_words(&prose(&unit.html), &options.keep) {
        return false;
    }
    if let Some(target) = options.target
        && text.chars().count() >= 20
        && may_be_in(text, target)
        && let Some(info) = whatlang::detect(text)
        && info.is_reliable()
        && info.lang() == target
    {
        return false;
    }
    true
}

/// Whether `text` may be in `lang` by its script alone: whatlang picks a language among those of
/// the text's main script (Han may be Japanese too), so a Latin text is never Chinese. A scan of
/// the script instead of a trigram model over every Latin language: the same answer, cheaper.
fn may_be_in(text: &str, lang: whatlang::Lang) -> bool {
    match whatlang::detect_script(text) {
        Some(whatlang::Script::Mandarin) => true,
        Some(script) => script.langs().contains(&lang),
        None => false,
    }
}

/// The visible text of an HTML fragment outside inline code (code, kbd, samp, var).
pub fn prose(html: &str) -> String {
    if !CODE.iter().any(|c| html.contains(&format!("<{c}"))) {
        return crate::text::html_to_plain(html);
    }
    let doc = Html::parse_fragment(html);
    prose_of(doc.root_element())
}

/// The text under `root` outside inline code.
pub fn prose_of(root: ElementRef) -> String {
    let mut out = String::new();
    for node in root.descendants() {
        if let Node::Text(t) = node.value() {
            let in_code = node.ancestors().filter_map(ElementRef::wrap).any(|a| CODE.contains(&a.value().name()));
            if !in_code {
                out.push_str(t);
            }
        }
    }
    collapse_whitespace(&out)
}

/// True when `text` has a word left once URLs and kept terms are set aside: a run of two or more
/// letters, or one ideograph (CJK words can be one character long).
pub fn has_words(text: &str, keep: &[String]) -> bool {
    let mut rest = text.to_string();
    for k in keep.iter().filter(|k| !k.is_empty()) {
        rest = rest.replace(k.as_str(), " ");
    }
    rest.split_whitespace()
        .filter(|w| !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")))
        .flat_map(|w| w.split(|c: char| !c.is_alphabetic()))
        .any(|run| run.chars().count() >= 2 || run.chars().any(|c| (c as u32) >= 0x2E80))
}

fn merge_raw(pieces: &mut Vec<Piece>) {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces.drain(..) {
        match (out.last_mut(), p) {
            (Some(Piece::Raw(prev)), Piece::Raw(next)) => prev.push_str(&next),
            (_, p) => out.push(p),
        }
    }
    *pieces = out;
}

fn escape_text(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn start_tag<'a>(name: &str, attrs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = format!("<{name}");
    for (k, v) in attrs {
        s.push_str(&format!(" {k}=\"{}\"", escape_html(v)));
    }
    s.push('>');
    s
}

/// The start tag of a block's translation: the original's attributes without its id (ids stay
/// unique), the class added to any existing one, and the language.
fn translation_tag(tag: &str, attrs: &[(String, String)], lang: &str, class: &str) -> String {
    let mut out: Vec<(String, String)> = attrs.iter().filter(|(k, _)| k != "id").cloned().collect();
    match out.iter_mut().find(|(k, _)| k == "class") {
        Some((_, v)) => *v = format!("{v} {class}"),
        None => out.push(("class".into(), class.into())),
    }
    out.push(("lang".into(), lang.into()));
    start_tag(tag, out.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// How the pieces are put back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout<'a> {
    /// The translation in place of the original.
    Translated,
    /// Each original block followed by its translation, marked with `lang` and `class`.
    Bilingual { lang: &'a str, class: &'a str },
}

/// Reassembles a document with `translations[i]` for unit i (None keeps the original).
pub fn render(seg: &Segmented, translations: &[Option<String>], layout: Layout) -> String {
    let mut out = String::new();
    for piece in &seg.pieces {
        match piece {
            Piece::Raw(html) => out.push_str(html),
            Piece::Block { tag, attrs, unit } => {
                let original = &seg.units[*unit].html;
                let translated = translations.get(*unit).and_then(|t| t.as_deref());
                let attrs_iter = || attrs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match (layout, translated) {
                    (_, None) => {
                        out.push_str(&start_tag(tag, attrs_iter()));
                        out.push_str(original);
                    }
                    (Layout::Translated, Some(t)) => {
                        out.push_str(&start_tag(tag, attrs_iter()));
                        out.push_str(t);
                    }
                    (Layout::Bilingual { lang, class }, Some(t)) => {
                        out.push_str(&start_tag(tag, attrs_iter()));
                        out.push_str(original);
                        if matches!(tag.as_str(), "li" | "td" | "th" | "dt" | "dd" | "summary" | "caption") {
                            // Cells and items keep their structure: the translation goes inside, on its own line.
                            out.push_str(&format!("<br><span lang=\"{lang}\" class=\"{class}\">{t}</span>"));
                        } else {
                            out.push_str(&format!("</{tag}>"));
                            out.push_str(&translation_tag(tag, attrs, lang, class));
                            out.push_str(t);
                        }
                    }
                }
                out.push_str(&format!("</{tag}>"));
            }
            Piece::Run { unit } => {
                let original = &seg.units[*unit].html;
                match (layout, translations.get(*unit).and_then(|t| t.as_deref())) {
                    (_, None) => out.push_str(original),
                    (Layout::Translated, Some(t)) => out.push_str(t),
                    (Layout::Bilingual { lang, class }, Some(t)) => {
                        out.push_str(original);
                        out.push_str(&format!("<br><span lang=\"{lang}\" class=\"{class}\">{t}</span>"));
                    }
                }
            }
        }
    }
    out
}

/// whatlang's language for a BCP 47 tag, for the languages whatlang knows.
pub fn whatlang_lang(tag: &str) -> Option<whatlang::Lang> {
    let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    let code = match primary.as_str() {
        "zh" => "cmn",
        "ja" => "jpn",
        "ko" => "kor",
        "en" => "eng",
        "fr" => "fra",
        "de" => "deu",
        "es" => "spa",
        "pt" => "por",
        "it" => "ita",
        "ru" => "rus",
        "uk" => "ukr",
        "nl" => "nld",
        "pl" => "pol",
        "tr" => "tur",
        "ar" => "ara",
        "hi" => "hin",
        "vi" => "vie",
        "id" => "ind",
        "sv" => "swe",
        _ => return None,
    };
    whatlang::Lang::from_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(html: &str) -> Vec<String> {
        segment(html, &Options::default()).units.into_iter().map(|u| u.html).collect()
    }

    #[test]
    fn blocks_become_units_with_their_inline_markup() {
        let html = r#"<p>Read <a href="https://e.org/x">the <em>post</em></a> and <code>llm --help</code>.</p><h4 id="h">A heading</h4>"#;
        assert_eq!(units(html), [r#"Read <a href="https://e.org/x">the <em>post</em></a> and <code>llm --help</code>."#, "A heading"]);
    }

    #[test]
    fn code_blocks_urls_and_wordless_blocks_are_not_sent() {
        let html = "<pre><code>let x = 1;</code></pre><p>https://example.org/a/b</p><p>2024-12-31</p><p>— 42 —</p><p>Words here.</p>";
        assert_eq!(units(html), ["Words here."]);
    }

    #[test]
    fn blocks_of_inline_code_urls_numbers_and_kept_terms_are_copied_through() {
        // Shapes from real technical posts: a prompt, a table of log lines, a module proxy path,
        // a DNS record, a command with its URL; and blocks that do have prose around their code.
        let html = "<p><code>Write me a JavaScript library that renders a QR code</code></p>\
            <table><tbody><tr><td><code>killed by OOM killer</code></td><td>3</td></tr></tbody></table>\
            <ul><li><code>.../@v/list</code></li><li><kbd>Ctrl</kbd>+<kbd>C</kbd></li></ul>\
            <p><code>_atproto.example.com TXT \"did=did:plc:abc123\"</code></p>\
            <p><code>curl -sL</code> https://example.com/install.sh</p>\
            <p>Claude 3.5 Sonnet: <samp>200 OK</samp></p>\
            <p>Run <code>llm --help</code> to see the options.</p>\
            <li>Press <kbd>Ctrl</kbd> twice</li>";
        let options = Options::new(&[], &["Claude".into(), "Sonnet".into()], "zh-CN");
        let seg = segment(html, &options);
        let sent: Vec<&str> = seg.units.iter().map(|u| u.html.as_str()).collect();
        assert_eq!(sent, ["Run <code>llm --help</code> to see the options.", "Press <kbd>Ctrl</kbd> twice"]);
        // What is not sent is kept exactly as it came.
        assert_eq!(render(&seg, &vec![None; seg.units.len()], Layout::Translated), html);
    }

    #[test]
    fn words_are_runs_of_letters_or_one_ideograph() {
        for (text, want) in [("2024-12-31", false), ("v1.2", false), ("https://e.org/a b", false), ("a b", false), ("to", true), ("是", true), ("MLX 3", false)]
        {
            assert_eq!(has_words(text, &["MLX".into()]), want, "{text}");
        }
    }

    #[test]
    fn nested_blocks_split_into_leaves_and_runs() {
        let html = "<ul><li>First</li><li>Second<ul><li>Nested</li></ul></li></ul><blockquote><p>Quoted</p></blockquote><div>Loose text <b>bold</b><p>Para</p>tail</div>";
        assert_eq!(units(html), ["First", "Second", "Nested", "Quoted", "Loose text <b>bold</b>", "Para", "tail"]);
    }

    #[test]
    fn tables_translate_cells() {
        let html = "<table><thead><tr><th>Model</th><th>Price</th></tr></thead><tbody><tr><td>Gemini Flash</td><td>$0.0375</td></tr></tbody></table>";
        assert_eq!(units(html), ["Model", "Price", "Gemini Flash"]);
    }

    #[test]
    fn untranslatable_selectors_are_copied() {
        let options = Options { untranslatable: vec![Selector::parse(".notranslate").unwrap()], ..Options::default() };
        let seg = segment("<p class=\"notranslate\">Keep me</p><p>Translate me</p>", &options);
        assert_eq!(seg.units.iter().map(|u| u.html.as_str()).collect::<Vec<_>>(), ["Translate me"]);
        assert_eq!(seg.pieces[0], Piece::Raw("<p class=\"notranslate\">Keep me</p>".into()));
    }

    #[test]
    fn blocks_already_in_the_target_language_are_not_sent() {
        let options = Options::new(&[], &[], "zh-CN");
        let seg = segment("<p>这是一段已经是中文的段落，不需要再翻译了。</p><p>This paragraph is in English and needs translating.</p>", &options);
        assert_eq!(seg.units.len(), 1);
        assert!(seg.units[0].text.starts_with("This paragraph"));
        // Into a Latin language: the same paragraphs by trigrams (Chinese is sent, French is not).
        let fr = segment(
            "<p>这是一段中文的段落，需要翻译成法语。</p><p>Ce paragraphe est déjà écrit en français et reste tel quel.</p><p>This paragraph is in English and needs translating.</p>",
            &Options::new(&[], &[], "fr"),
        );
        let texts: Vec<&str> = fr.units.iter().map(|u| &u.text[..6]).collect();
        assert_eq!(texts, ["这是", "This p"]);
        // Japanese is written in Han too: a Japanese paragraph for a Japanese target stays.
        let ja = segment("<p>これは日本語で書かれた段落です。翻訳する必要はありません。</p>", &Options::new(&[], &[], "ja"));
        assert!(ja.units.is_empty());
    }

    #[test]
    fn render_round_trips_and_interleaves() {
        let html = "<h4 id=\"x\">Title</h4><p class=\"c\">One <a href=\"/a\">link</a>.</p><pre>code</pre><ul><li>Item</li></ul>Tail text";
        let seg = segment(html, &Options::default());
        let none = vec![None; seg.units.len()];
        assert_eq!(render(&seg, &none, Layout::Translated), html);
        let tr: Vec<Option<String>> = seg.units.iter().map(|u| Some(format!("[{}]", u.html))).collect();
        assert_eq!(
            render(&seg, &tr, Layout::Translated),
            "<h4 id=\"x\">[Title]</h4><p class=\"c\">[One <a href=\"/a\">link</a>.]</p><pre>code</pre><ul><li>[Item]</li></ul>[Tail text]"
        );
        assert_eq!(
            render(&seg, &tr, Layout::Bilingual { lang: "zh-CN", class: "tr" }),
            "<h4 id=\"x\">Title</h4><h4 class=\"tr\" lang=\"zh-CN\">[Title]</h4>\
             <p class=\"c\">One <a href=\"/a\">link</a>.</p><p class=\"c tr\" lang=\"zh-CN\">[One <a href=\"/a\">link</a>.]</p>\
             <pre>code</pre><ul><li>Item<br><span lang=\"zh-CN\" class=\"tr\">[Item]</span></li></ul>Tail text<br><span lang=\"zh-CN\" class=\"tr\">[Tail text]</span>"
        );
    }

    #[test]
    fn same_text_same_hash() {
        let a = segment("<p>Same   words\n here</p>", &Options::default());
        let b = segment("<div><p>Same words here</p></div>", &Options::default());
        assert_eq!(a.units[0].hash, b.units[0].hash);
    }
}
