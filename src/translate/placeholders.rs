//! Inline markup as placeholders: what a chat model sees of a block instead of its HTML. An
//! element with attributes becomes a numbered pair around its text (`<a href="https://...">text</a>`
//! -> `<a1>text</a1>`), inline code and images a numbered self-closing marker that stands for the
//! whole element (`<code2/>`); elements without attributes (`<strong>`, `<em>`, `<br>`) stay as
//! they are. URLs, attributes and code never reach the model, so it cannot break them and is not
//! paid to copy them; the reply's markers are put back before the checks judge it. Pure.

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
    /// A pair: the original start tag; the end tag is `</name>`.
    Pair { name: String, start: String },
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
}

impl Wire {
    /// True when the block has no placeholder: it travels as it is.
    pub fn is_plain(&self) -> bool {
        self.markers.is_empty()
    }
}

/// The block `html` with its inline markup replaced by placeholders.
pub fn encode(html: &str) -> Wire {
    let doc = Html::parse_fragment(html);
    let mut wire = Wire { html: String::with_capacity(html.len()), markers: Vec::new() };
    for child in doc.root_element().children() {
        encode_node(child, &mut wire);
    }
    wire
}

fn encode_node(node: NodeRef<Node>, wire: &mut Wire) {
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
                wire.markers.push(Marker::Pair { name: name.clone(), start: start_tag(e) });
                let n = wire.markers.len();
                let _ = write!(wire.html, "<{name}{n}>");
                for child in node.children() {
                    encode_node(child, wire);
                }
                let _ = write!(wire.html, "</{name}{n}>");
            } else {
                let _ = write!(wire.html, "<{name}>");
                for child in node.children() {
                    encode_node(child, wire);
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
    if wire.markers.is_empty() {
        return reply.to_string();
    }
    let mut out = String::with_capacity(reply.len() * 2);
    let mut rest = reply;
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
                    <strong>fast</strong><br><img src=\"https://e.org/i.png\" alt=\"a cat\"> &amp; done";
        let wire = encode(html);
        assert_eq!(wire.html, "Run <code1/> as <a2>the <em>docs</em> say</a2>, <strong>fast</strong><br><img3/> &amp; done");
        assert!(!wire.html.contains("https://"), "no URL reaches the model");
        // A faithful reply, as the reply parser serializes it.
        let reply = close_markers("按照<a2>文档<em>所说</em></a2>运行 <code1/>，<strong>很快</strong><br><img3/> &amp; 完成").into_owned();
        let restored = decode(&wire, &reply);
        assert_eq!(
            restored,
            "按照<a href=\"https://llm.datasette.io/en/stable/?a=1&amp;b=2\" title=\"docs\">文档<em>所说</em></a>运行 <code>llm -m gpt-4o \"hi\"</code>，\
             <strong>很快</strong><br><img alt=\"a cat\" src=\"https://e.org/i.png\"> &amp; 完成"
        );
        // The restored block has the source's links, code and images exactly.
        assert!(super::super::checks::check_unit(html, &restored, &Default::default()).iter().all(|p| !matches!(
            p,
            super::super::checks::Problem::Link { .. } | super::super::checks::Problem::Code(_) | super::super::checks::Problem::Tags { .. }
        )));
    }

    #[test]
    fn a_block_without_attributes_travels_as_it_is() {
        let wire = encode("Plain <b>bold</b> and <i>italic</i> text.");
        assert!(wire.is_plain());
        assert_eq!(wire.html, "Plain <b>bold</b> and <i>italic</i> text.");
        assert_eq!(decode(&wire, "纯 <b>粗</b>"), "纯 <b>粗</b>");
    }

    #[test]
    fn what_a_model_gets_wrong_is_left_for_the_checks() {
        let wire = encode("See <a href=\"https://e.org/\">this</a> and <code>x</code>.");
        assert_eq!(wire.html, "See <a1>this</a1> and <code2/>.");
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
    fn self_closing_markers_are_closed_before_parsing() {
        assert_eq!(close_markers("a <code1/> b <img2 /> c <br/>"), "a <code1></code1> b <img2></img2> c <br/>");
    }
}
