//! Inline markup as placeholders: what a chat model sees of a block instead of its HTML. A link
//! becomes a numbered Markdown link (`<a href="https://...">text</a>` -> `[text](1)`), the form
//! models keep best (bench/HISTORY.md); any other element with attributes a numbered pair around
//! its text (`<span3>text</span3>`), inline code and images a numbered self-closing marker that
//! stands for the whole element (`<code2/>`); elements without attributes (`<strong>`, `<em>`,
//! `<br>`) stay as they are. A block whose text has square brackets of its own writes its links as
//! pairs too (`<a1>text</a1>`), so that its brackets are never read as markup. URLs, attributes and
//! code never reach the model, so it cannot break them and is not paid to copy them; the reply's
//! markers are put back before the checks judge it. Pure.

use std::fmt::Write;

use ego_tree::NodeRef;
use scraper::{Html, Node};

use super::segment::CODE;
use crate::text::escape_html;

/// Void elements: never a pair.
const VOID: &[&str] = &["img", "br", "wbr", "input", "source", "track", "embed", "area", "col", "hr", "meta", "link"];

/// What a marker stands for.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    /// A pair: the original start tag; the end tag is `</name>`. `link`: written `[text](n)`.
    /// `words`: the text it goes around in the source.
    Pair { name: String, start: String, link: bool, words: String },
    /// A whole element (code, an image), content included.
    Whole { name: String, html: String },
}

impl Marker {
    fn name(&self) -> &str {
        match self {
            Marker::Pair { name, .. } | Marker::Whole { name, .. } => name,
        }
    }
}

/// A block as the engine sees it, and how to put its markup back.
#[derive(Debug, Clone, PartialEq)]
pub struct Wire {
    /// The block with placeholders.
    pub html: String,
    /// Marker n is `markers[n - 1]`.
    markers: Vec<Marker>,
    /// The bold elements written `**words**`, in order: (their name, the words they go around).
    bolds: Vec<(String, String)>,
}

impl Wire {
    /// True when the block has no placeholder: it travels as it is.
    pub fn is_plain(&self) -> bool {
        self.markers.is_empty() && self.bolds.is_empty()
    }
}

/// Bold elements without attributes: written `**words**` where no `*` of the text could be
/// taken for one.
pub const BOLD: &[&str] = &["strong", "b"];

/// What may travel as Markdown in a block: links (no square bracket in its text), bold (no `*`).
#[derive(Clone, Copy)]
struct Forms {
    links: bool,
    bold: bool,
}

/// The block `html` with its inline markup replaced by placeholders.
pub fn encode(html: &str) -> Wire {
    let doc = Html::parse_fragment(html);
    let mut wire = Wire { html: String::with_capacity(html.len()), markers: Vec::new(), bolds: Vec::new() };
    // Markdown only where no character of the text can be taken for it.
    let forms = Forms { links: !doc.root_element().text().any(|t| t.contains(['[', ']'])), bold: !doc.root_element().text().any(|t| t.contains('*')) };
    for child in doc.root_element().children() {
        encode_node(child, forms, &mut wire);
    }
    wire
}

/// The text under `node`, whitespace collapsed.
fn words_of(node: NodeRef<Node>) -> String {
    crate::text::collapse_whitespace(&node.descendants().filter_map(|d| d.value().as_text().map(|t| t.to_string())).collect::<String>())
}

fn encode_node(node: NodeRef<Node>, forms: Forms, wire: &mut Wire) {
    match node.value() {
        Node::Text(t) => wire.html.push_str(&escape_text(t)),
        Node::Element(e) => {
            let name = e.name().to_ascii_lowercase();
            let has_attrs = e.attrs().next().is_some();
            if CODE.contains(&name.as_str()) || (VOID.contains(&name.as_str()) && has_attrs) {
                let html = scraper::ElementRef::wrap(node).map(|el| el.html()).unwrap_or_default();
                wire.markers.push(Marker::Whole { name: name.clone(), html });
                let _ = write!(wire.html, "<{name}{}/>", wire.markers.len());
            } else if VOID.contains(&name.as_str()) {
                let _ = write!(wire.html, "<{name}>");
            } else if has_attrs {
                // A link with words to go around: `[words](n)`.
                let words = words_of(node);
                let link = forms.links && name == "a" && e.attr("href").is_some() && !words.is_empty();
                wire.markers.push(Marker::Pair { name: name.clone(), start: start_tag(e), link, words });
                let n = wire.markers.len();
                if link {
                    wire.html.push('[');
                } else {
                    let _ = write!(wire.html, "<{name}{n}>");
                }
                for child in node.children() {
                    encode_node(child, forms, wire);
                }
                if link {
                    let _ = write!(wire.html, "]({n})");
                } else {
                    let _ = write!(wire.html, "</{name}{n}>");
                }
            } else if forms.bold && BOLD.contains(&name.as_str()) {
                wire.bolds.push((name.clone(), words_of(node)));
                wire.html.push_str("**");
                for child in node.children() {
                    encode_node(child, forms, wire);
                }
                wire.html.push_str("**");
            } else {
                let _ = write!(wire.html, "<{name}>");
                for child in node.children() {
                    encode_node(child, forms, wire);
                }
                let _ = write!(wire.html, "</{name}>");
            }
        }
        _ => {}
    }
}

/// Text as HTML, escaped as the HTML serializer does (`&`, `<`, `>`, and no-break spaces as
/// `&nbsp;`), so a block without markup travels exactly as it is stored.
fn escape_text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn start_tag(e: &scraper::node::Element) -> String {
    let mut s = format!("<{}", e.name());
    for (k, v) in e.attrs() {
        let _ = write!(s, " {k}=\"{}\"", escape_html(v));
    }
    s.push('>');
    s
}

/// A reply block read back: its placeholders replaced by the markup they stand for. A marker the
/// block does not have is left as it came (the checks then see markup that is not the source's);
/// whatever a model wrote inside a self-closing marker is dropped for the element it stands for.
/// `reply` is the block's inner HTML as the reply parser serialized it (so `<code2/>` reads as
/// `<code2></code2>`).
pub fn decode(wire: &Wire, reply: &str) -> String {
    if wire.is_plain() {
        return reply.to_string();
    }
    let bold = bold_as_tags(wire, reply);
    let paired = links_as_pairs(wire, &bold);
    let mut out = String::with_capacity(paired.len() * 2);
    let mut rest = paired.as_ref();
    // Inside a whole-element marker: its number, until its end tag.
    let mut inside: Option<usize> = None;
    while let Some(lt) = rest.find('<') {
        if inside.is_none() {
            out.push_str(&rest[..lt]);
        }
        let tail = &rest[lt..];
        let Some(gt) = tail.find('>') else {
            if inside.is_none() {
                out.push_str(tail);
            }
            return out;
        };
        let tag = &tail[..=gt];
        rest = &tail[gt + 1..];
        let Some((closing, n)) = marker_of(wire, tag) else {
            if inside.is_none() {
                out.push_str(tag);
            }
            continue;
        };
        match (&wire.markers[n - 1], closing, inside) {
            (_, true, Some(open)) if open == n => inside = None,
            (_, _, Some(_)) => {}
            (Marker::Whole { html, .. }, false, None) => {
                out.push_str(html);
                inside = Some(n);
            }
            // A stray end tag of a whole element: it was put back at its start.
            (Marker::Whole { .. }, true, None) => {}
            (Marker::Pair { start, .. }, false, None) => out.push_str(start),
            (Marker::Pair { name, .. }, true, None) => {
                let _ = write!(out, "</{name}>");
            }
        }
    }
    if inside.is_none() {
        out.push_str(rest);
    }
    out
}

/// What a translation (restored: `decode`'s output) lacks or doubles of the markers of `wire`, said
/// in the terms the model saw (`[…](1)`, `<span3>…</span3>`, `<code2/>`), never with the URLs or
/// code it never saw: what a repair tells it to fix.
pub fn marker_faults(wire: &Wire, translation: &str) -> Vec<String> {
    if wire.is_plain() {
        return Vec::new();
    }
    let doc = Html::parse_fragment(translation);
    let mut counts = vec![0usize; wire.markers.len()];
    let mut bolds = 0;
    for el in doc.root_element().descendent_elements().skip(1) {
        bolds += usize::from(wire.bolds.iter().any(|(name, _)| name == el.value().name()));
        let found = wire.markers.iter().position(|m| match m {
            Marker::Pair { start, name, .. } => el.value().attrs().next().is_some() && el.value().name() == name && &start_tag(el.value()) == start,
            Marker::Whole { html, .. } => &el.html() == html,
        });
        if let Some(i) = found {
            counts[i] += 1;
        }
    }
    let mut faults = Vec::new();
    for (i, (marker, count)) in wire.markers.iter().zip(counts).enumerate() {
        let n = i + 1;
        let shown = match marker {
            Marker::Pair { link: true, .. } => format!("[…]({n})"),
            Marker::Pair { name, .. } => format!("<{name}{n}>…</{name}{n}>"),
            Marker::Whole { name, .. } => format!("<{name}{n}/>"),
        };
        match (count, marker) {
            (0, Marker::Pair { words, .. }) => faults.push(format!("{shown} is missing: put it around the words that translate \"{words}\"")),
            (0, Marker::Whole { .. }) => faults.push(format!("{shown} is missing: put it where it belongs in the sentence")),
            (1, _) => {}
            (k, _) => faults.push(format!("{shown} is there {k} times: keep it once")),
        }
    }
    let want = wire.bolds.len();
    if bolds < want {
        let words: Vec<String> = wire.bolds.iter().map(|(_, w)| format!("\"{w}\"")).collect();
        faults.push(format!("**…** is missing: put it around the words that translate {}", words.join(", ")));
    } else if bolds > want {
        faults.push(format!("**…** is there {bolds} times: keep it {want} time(s), around the words that translate the bold words"));
    }
    faults
}

/// The reply's bold spans (`**words**`) as the elements they stand for, the first as the block's
/// first bold element and so on (one more than the block has is read as its last kind: the
/// checks then count one bold too many). A block without bold has none to read.
fn bold_as_tags<'a>(wire: &Wire, reply: &'a str) -> std::borrow::Cow<'a, str> {
    static BOLD_SPAN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"(?s)\*\*(.+?)\*\*").expect("static regex"));
    let Some((last, _)) = wire.bolds.last() else { return std::borrow::Cow::Borrowed(reply) };
    let mut k = 0;
    BOLD_SPAN.replace_all(reply, |c: &regex::Captures| {
        let name = wire.bolds.get(k).map_or(last, |(name, _)| name);
        k += 1;
        format!("<{name}>{}</{name}>", &c[1])
    })
}

/// The reply's Markdown links of `wire` (`[words](3)`, 3 a link of the block) as the pairs they
/// stand for (`<a3>words</a3>`): each from the last `[` before its `](3)`, after the `](n)` before
/// it. Anything else stays as it came.
fn links_as_pairs<'a>(wire: &Wire, reply: &'a str) -> std::borrow::Cow<'a, str> {
    static LINK_END: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"\]\(\s*([0-9]+)\s*\)").expect("static regex"));
    let is_link = |n: usize| matches!(n.checked_sub(1).and_then(|i| wire.markers.get(i)), Some(Marker::Pair { link: true, .. }));
    let mut out = String::new();
    // Where the reply not yet copied to `out` begins; where the last `](n)`, a link or not, ended.
    let (mut copied, mut after) = (0, 0);
    for c in LINK_END.captures_iter(reply) {
        let (end, number) = (c.get(0).expect("whole match"), &c[1]);
        let from = std::mem::replace(&mut after, end.end());
        let Some(n) = number.parse().ok().filter(|n| is_link(*n)) else { continue };
        let Some(open) = reply[from..end.start()].rfind('[').map(|at| from + at) else { continue };
        out.push_str(&reply[copied..open]);
        let _ = write!(out, "<a{n}>{}</a{n}>", &reply[open + 1..end.start()]);
        copied = end.end();
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(reply);
    }
    out.push_str(&reply[copied..]);
    std::borrow::Cow::Owned(out)
}

/// `<name7 ...>`, `</name7>` or `<name7/>` naming marker 7 of `wire`: (closing, 7).
fn marker_of(wire: &Wire, tag: &str) -> Option<(bool, usize)> {
    let inner = tag.strip_prefix('<')?.strip_suffix('>')?;
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(i) => (true, i),
        None => (false, inner),
    };
    let word = inner.split(|c: char| c.is_whitespace() || c == '/').next()?;
    let digits = word.len() - word.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (name, number) = word.split_at(word.len() - digits);
    let n: usize = number.parse().ok()?;
    let marker = wire.markers.get(n.checked_sub(1)?)?;
    marker.name().eq_ignore_ascii_case(name).then_some((closing, n))
}

/// Self-closing markers written as HTML parsers do not read them (`<code2/>` opens an element that
/// never ends): rewritten as an empty pair, before the reply is parsed.
pub fn close_markers(reply: &str) -> std::borrow::Cow<'_, str> {
    static SELF_CLOSING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"<([A-Za-z]+[0-9]+)\s*/>").expect("static regex"));
    SELF_CLOSING.replace_all(reply, "<$1></$1>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_code_and_images_become_markers_and_come_back() {
        let html = "Run <code>llm -m gpt-4o \"hi\"</code> as <a href=\"https://llm.datasette.io/en/stable/?a=1&amp;b=2\" title=\"docs\">the <em>docs</em> say</a>, \
                    <strong>fast</strong><br><img src=\"https://e.org/i.png\" alt=\"a cat\"> &amp; <span class=\"x\">done</span>";
        let wire = encode(html);
        assert_eq!(wire.html, "Run <code1/> as [the <em>docs</em> say](2), **fast**<br><img3/> &amp; <span4>done</span4>");
        assert!(!wire.html.contains("https://"), "no URL reaches the model");
        // A faithful reply, as the reply parser serializes it.
        let reply = close_markers("按照[文档<em>所说</em>](2)运行 <code1/>，**很快**<br><img3/> &amp; <span4>完成</span4>").into_owned();
        let restored = decode(&wire, &reply);
        assert_eq!(
            restored,
            "按照<a href=\"https://llm.datasette.io/en/stable/?a=1&amp;b=2\" title=\"docs\">文档<em>所说</em></a>运行 <code>llm -m gpt-4o \"hi\"</code>，\
             <strong>很快</strong><br><img alt=\"a cat\" src=\"https://e.org/i.png\"> &amp; <span class=\"x\">完成</span>"
        );
        // The restored block has the source's links, code and images exactly.
        assert!(super::super::checks::check_unit(html, &restored, &Default::default()).iter().all(|p| !matches!(
            p,
            super::super::checks::Problem::Link { .. } | super::super::checks::Problem::Code(_) | super::super::checks::Problem::Tags { .. }
        )));
        // A link written back as a pair (the form of the other markers) is that link too.
        assert_eq!(
            decode(&wire, "<a2>文档</a2> <code1></code1>"),
            "<a href=\"https://llm.datasette.io/en/stable/?a=1&amp;b=2\" title=\"docs\">文档</a> <code>llm -m gpt-4o \"hi\"</code>"
        );
    }

    #[test]
    fn a_block_with_brackets_of_its_own_writes_its_links_as_pairs() {
        // "[System]" is the text's: its links travel as <a1>...</a1>, and no bracket is read as a link.
        let html = "MLC Chat: [System] Ready, see <a href=\"https://e.org/\">the log</a> (1)";
        let wire = encode(html);
        assert_eq!(wire.html, "MLC Chat: [System] Ready, see <a1>the log</a1> (1)");
        assert_eq!(decode(&wire, "MLC Chat：[System](1) 就绪，见<a1>日志</a1>（1）"), "MLC Chat：[System](1) 就绪，见<a href=\"https://e.org/\">日志</a>（1）");
        // A link with no words to go around (an anchor) stays a pair.
        assert_eq!(encode("Go <a href=\"#top\"><img src=\"u.png\"></a> up").html, "Go <a1><img2/></a1> up");
    }

    #[test]
    fn markdown_links_are_read_back_only_as_the_links_they_stand_for() {
        let wire = encode("See <a href=\"https://e.org/a\">this</a> and <a href=\"https://e.org/b\">that</a>, <code>x</code>.");
        assert_eq!(wire.html, "See [this](1) and [that](2), <code3/>.");
        let a = "<a href=\"https://e.org/a\">";
        let b = "<a href=\"https://e.org/b\">";
        // In any order, with spaces inside the parentheses, beside brackets the model wrote.
        assert_eq!(decode(&wire, "[那个]( 2 )和[这个](1)，<code3></code3>。"), format!("{b}那个</a>和{a}这个</a>，<code>x</code>。"));
        assert_eq!(decode(&wire, "注[1]：看[这个](1)"), format!("注[1]：看{a}这个</a>"));
        // A number that is no link of the block (the code, or none), and a lone bracket, stay text.
        assert_eq!(decode(&wire, "[这个](3) [那个](9) 这个](1)"), "[这个](3) [那个](9) 这个](1)");
        // The last "[" after the `](n)` before it opens the link: the words between are its.
        assert_eq!(decode(&wire, "[这个](1)[和[那个](2)"), format!("{a}这个</a>[和{b}那个</a>"));
    }

    #[test]
    fn bold_travels_as_markdown_and_comes_back_as_its_own_element() {
        let wire = encode(
            "The earliest was <strong>Gemini 1.5 Pro</strong>, then <b>Claude <em>3</em></b> and <a href=\"https://e.org/\"><strong>a tool</strong></a>.",
        );
        assert_eq!(wire.html, "The earliest was **Gemini 1.5 Pro**, then **Claude <em>3</em>** and [**a tool**](1).");
        assert!(!wire.is_plain());
        let reply = "最早的是**Gemini 1.5 Pro**，然后是**Claude <em>3</em>**和[**一个工具**](1)。";
        assert_eq!(
            decode(&wire, reply),
            "最早的是<strong>Gemini 1.5 Pro</strong>，然后是<b>Claude <em>3</em></b>和<a href=\"https://e.org/\"><strong>一个工具</strong></a>。"
        );
        // One bold too many reads as the last kind: the checks count it.
        assert_eq!(decode(&wire, "**一****二****三****四**"), "<strong>一</strong><b>二</b><strong>三</strong><strong>四</strong>");
        // Bold lost, said as the model saw it, with the words it went around.
        let lost = decode(&wire, "最早的是 Gemini 1.5 Pro，然后是**Claude <em>3</em>**和[**一个工具**](1)。");
        assert_eq!(marker_faults(&wire, &lost), ["**…** is missing: put it around the words that translate \"Gemini 1.5 Pro\", \"Claude 3\", \"a tool\""]);
    }

    #[test]
    fn a_block_with_stars_of_its_own_keeps_its_bold_as_tags() {
        let wire = encode("260 * 68,000 = <strong>17,680,000</strong> tokens.");
        assert_eq!(wire.html, "260 * 68,000 = <strong>17,680,000</strong> tokens.");
        assert!(wire.is_plain());
        assert_eq!(decode(&wire, "260 * 68,000 = **17,680,000**"), "260 * 68,000 = **17,680,000**");
    }

    #[test]
    fn a_block_without_attributes_travels_as_it_is() {
        let wire = encode("Plain <i>italic</i> and <em>stressed</em> text.");
        assert!(wire.is_plain());
        assert_eq!(wire.html, "Plain <i>italic</i> and <em>stressed</em> text.");
        assert_eq!(decode(&wire, "纯 <i>斜</i>"), "纯 <i>斜</i>");
    }

    #[test]
    fn what_a_model_gets_wrong_is_left_for_the_checks() {
        let wire = encode("See <a href=\"https://e.org/\">this</a> and <code>x</code>.");
        assert_eq!(wire.html, "See [this](1) and <code2/>.");
        // A marker it never had stays as it came; the checks see markup the source has not.
        assert_eq!(decode(&wire, "看<a7>这个</a7>和<code2></code2>。"), "看<a7>这个</a7>和<code>x</code>。");
        // A marker of the wrong kind is not that marker.
        assert_eq!(decode(&wire, "看<b1>这个</b1>"), "看<b1>这个</b1>");
        // Text written inside a self-closing marker is dropped for the code it stands for.
        assert_eq!(decode(&wire, "<code2>y</code2>和<a1 href=\"https://evil.example/\">这</a1>"), "<code>x</code>和<a href=\"https://e.org/\">这</a>");
        // A marker dropped: the link is lost, and the checks will say so.
        assert_eq!(decode(&wire, "看这个和<code2></code2>。"), "看这个和<code>x</code>。");
    }

    #[test]
    fn marker_faults_are_said_in_the_terms_the_model_saw() {
        let wire = encode("We <a href=\"https://e.org/r\">released version 2</a> of <span class=\"t\">the tool</span>: run <code>tool up</code>.");
        assert_eq!(wire.html, "We [released version 2](1) of <span2>the tool</span2>: run <code3/>.");
        // Everything back once: nothing to say.
        let good = decode(&wire, "我们[发布了第 2 版](1)<span2>工具</span2>：运行 <code3></code3>。");
        assert_eq!(marker_faults(&wire, &good), Vec::<String>::new());
        // The link and the code lost, the span twice: said with the markers, no URL, no code.
        let bad = decode(&wire, "我们发布了第 2 版<span2>工具</span2><span2>工具</span2>：运行。");
        let faults = marker_faults(&wire, &bad);
        assert_eq!(
            faults,
            [
                "[…](1) is missing: put it around the words that translate \"released version 2\"",
                "<span2>…</span2> is there 2 times: keep it once",
                "<code3/> is missing: put it where it belongs in the sentence",
            ]
        );
        assert!(faults.iter().all(|f| !f.contains("https://") && !f.contains("tool up")));
    }

    #[test]
    fn self_closing_markers_are_closed_before_parsing() {
        assert_eq!(close_markers("a <code1/> b <img2 /> c <br/>"), "a <code1></code1> b <img2></img2> c <br/>");
    }
}
