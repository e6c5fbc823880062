//! Markdown posts for static blogs (Jekyll, Hugo, Zola), in the shape of shared/examples: YAML
//! front matter, a `#` title, the body, and a closing attribution line. Pure.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node};

use super::config::PublishConfig;
use super::entry::{Published, words};

/// A Markdown post: its file name (`YYYY-MM-DD-slug.md`) and its text. The closing attribution
/// links to the post, else to `site_url` (the source feed's site), else names the post alone.
pub fn post(p: &Published, publish: &PublishConfig, tz: chrono_tz::Tz, feed_title: &str, site_url: Option<&str>) -> (String, String) {
    let local = p.published.with_timezone(&tz);
    let author = if p.authors.is_empty() { feed_title.to_string() } else { p.authors.join(", ") };
    let map = |table: &Option<std::collections::BTreeMap<String, String>>| -> Vec<String> {
        let mut out: Vec<String> = match table {
            Some(t) => p.categories.iter().filter_map(|c| t.get(c).or_else(|| t.get(&c.to_lowercase())).cloned()).collect(),
            None => p.categories.clone(),
        };
        out.dedup();
        out
    };
    let template = words(&p.lang).attribution.replace("{author}", &author);
    let attribution = match p.link.as_deref().filter(|l| !l.is_empty()).or(site_url.filter(|u| !u.is_empty())) {
        Some(link) => template.replace("{title}", &escape(&p.title_original)).replace("{link}", &link.replace(' ', "%20").replace(')', "%29")),
        None => template.replace("[{title}]({link})", &escape(&p.title_original)),
    };
    let text = format!(
        "---\ntitle: {}\nauthor: {}\ndate: {}\ncategories: {}\ntags: {}\n---\n\n# {}\n\n{}\n---\n\n> {}\n",
        yaml_scalar(&p.title_translated),
        yaml_scalar(&format!("{author}{}", publish.author_suffix)),
        local.format("%Y-%m-%d %H:%M:%S %z"),
        yaml_list(&map(&publish.categories)),
        yaml_list(&map(&publish.tags)),
        p.title_translated,
        html_to_markdown(&p.translated),
        attribution,
    );
    (format!("{}-{}.md", local.format("%Y-%m-%d"), p.slug), text)
}

/// HTML -> Markdown: headings, paragraphs, lists, links, images, code fences with their language,
/// blockquotes, tables, emphasis. Unknown elements give their content.
pub fn html_to_markdown(html: &str) -> String {
    let doc = Html::parse_fragment(html);
    let mut out = String::new();
    blocks(*doc.root_element(), &mut out);
    tidy(&out)
}

fn blocks(node: NodeRef<Node>, out: &mut String) {
    let mut inline_run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let t = run.trim();
        if !t.is_empty() {
            out.push_str(t);
            out.push_str("\n\n");
        }
        run.clear();
    };
    for child in node.children() {
        match child.value() {
            Node::Text(t) => inline_run.push_str(&escape(&collapse(t))),
            Node::Element(e) => {
                let el = ElementRef::wrap(child).expect("element");
                match e.name() {
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        flush(&mut inline_run, out);
                        let level: usize = e.name()[1..].parse().unwrap_or(1);
                        out.push_str(&format!("{} {}\n\n", "#".repeat(level), inline(el).trim()));
                    }
                    "p" => {
                        flush(&mut inline_run, out);
                        let text = inline(el);
                        if !text.trim().is_empty() {
                            out.push_str(text.trim());
                            out.push_str("\n\n");
                        }
                    }
                    "ul" | "ol" => {
                        flush(&mut inline_run, out);
                        list(el, e.name() == "ol", 0, out);
                        out.push('\n');
                    }
                    "blockquote" => {
                        flush(&mut inline_run, out);
                        let mut inner = String::new();
                        blocks(*el, &mut inner);
                        for line in tidy(&inner).trim_end().lines() {
                            out.push_str(if line.is_empty() { ">" } else { "> " });
                            out.push_str(line);
                            out.push('\n');
                        }
                        out.push('\n');
                    }
                    "pre" => {
                        flush(&mut inline_run, out);
                        let code: String = el.text().collect();
                        let lang = code_language(el);
                        let fence = if code.contains("```") { "````" } else { "```" };
                        out.push_str(&format!("{fence}{lang}\n{}\n{fence}\n\n", code.trim_end_matches('\n')));
                    }
                    "table" => {
                        flush(&mut inline_run, out);
                        table(el, out);
                    }
                    "hr" => {
                        flush(&mut inline_run, out);
                        out.push_str("---\n\n");
                    }
                    "div" | "section" | "article" | "figure" | "header" | "footer" | "aside" | "main" | "details" | "dl" | "dd" | "dt" | "figcaption"
                    | "summary" => {
                        flush(&mut inline_run, out);
                        blocks(*el, out);
                    }
                    _ => inline_run.push_str(&inline(el)),
                }
            }
            _ => {}
        }
    }
    flush(&mut inline_run, out);
}

fn list(el: ElementRef, ordered: bool, depth: usize, out: &mut String) {
    for (n, item) in (1..).zip(el.child_elements().filter(|c| c.value().name() == "li")) {
        let marker = if ordered { format!("{n}. ") } else { "* ".to_string() };
        let indent = "  ".repeat(depth);
        let mut text = String::new();
        let mut nested = Vec::new();
        for child in item.children() {
            match child.value() {
                Node::Text(t) => text.push_str(&escape(&collapse(t))),
                Node::Element(e) if e.name() == "ul" || e.name() == "ol" => nested.push(ElementRef::wrap(child).expect("element")),
                Node::Element(e) if e.name() == "p" => {
                    if !text.trim().is_empty() {
                        text.push(' ');
                    }
                    text.push_str(inline(ElementRef::wrap(child).expect("element")).trim());
                }
                Node::Element(_) => text.push_str(&inline(ElementRef::wrap(child).expect("element"))),
                _ => {}
            }
        }
        out.push_str(&format!("{indent}{marker}{}\n", text.trim()));
        for sub in nested {
            list(sub, sub.value().name() == "ol", depth + 1, out);
        }
    }
}

fn table(el: ElementRef, out: &mut String) {
    let rows: Vec<Vec<String>> = el
        .descendent_elements()
        .filter(|e| e.value().name() == "tr")
        .map(|tr| tr.child_elements().filter(|c| matches!(c.value().name(), "td" | "th")).map(|c| inline(c).trim().replace('|', "\\|")).collect())
        .filter(|r: &Vec<String>| !r.is_empty())
        .collect();
    let Some(width) = rows.iter().map(Vec::len).max() else { return };
    for (i, row) in rows.iter().enumerate() {
        let mut cells = row.clone();
        cells.resize(width, String::new());
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        if i == 0 {
            out.push_str(&format!("|{}\n", " --- |".repeat(width)));
        }
    }
    out.push('\n');
}

/// The Markdown of an element's inline content.
fn inline(el: ElementRef) -> String {
    let mut out = String::new();
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(&escape(&collapse(t))),
            Node::Element(e) => {
                let c = ElementRef::wrap(child).expect("element");
                match e.name() {
                    "a" => {
                        let text = inline(c);
                        match e.attr("href") {
                            Some(href) if !href.is_empty() => out.push_str(&format!("[{}]({})", text.trim(), href.replace(' ', "%20").replace(')', "%29"))),
                            _ => out.push_str(&text),
                        }
                    }
                    "img" => {
                        if let Some(src) = e.attr("src") {
                            out.push_str(&format!("![{}]({})", escape(e.attr("alt").unwrap_or("")), src.replace(' ', "%20").replace(')', "%29")));
                        }
                    }
                    "strong" | "b" => wrap(&mut out, &inline(c), "**"),
                    "em" | "i" => wrap(&mut out, &inline(c), "*"),
                    "del" | "s" => wrap(&mut out, &inline(c), "~~"),
                    "code" => {
                        let code: String = c.text().collect();
                        let ticks = if code.contains('`') { "``" } else { "`" };
                        let pad = if code.starts_with('`') || code.ends_with('`') { " " } else { "" };
                        out.push_str(&format!("{ticks}{pad}{code}{pad}{ticks}"));
                    }
                    "br" => out.push_str("  \n"),
                    "script" | "style" => {}
                    _ => out.push_str(&inline(c)),
                }
            }
            _ => {}
        }
    }
    out
}

fn wrap(out: &mut String, text: &str, mark: &str) {
    let t = text.trim();
    if !t.is_empty() {
        // Keep the spaces outside the markers, where Markdown wants them.
        if text.starts_with(' ') {
            out.push(' ');
        }
        out.push_str(&format!("{mark}{t}{mark}"));
        if text.ends_with(' ') {
            out.push(' ');
        }
    }
}

fn code_language(pre: ElementRef) -> String {
    let classes = pre.value().attr("class").into_iter().chain(pre.child_elements().filter_map(|c| c.value().attr("class")));
    for class in classes {
        for c in class.split_whitespace() {
            if let Some(lang) = c.strip_prefix("language-").or_else(|| c.strip_prefix("lang-")) {
                return lang.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '#')).collect();
            }
        }
    }
    String::new()
}

fn collapse(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut space = false;
    for c in t.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Escapes the characters that would turn text into Markdown syntax.
fn escape(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most one blank line between blocks; no trailing spaces at paragraph ends.
fn tidy(s: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in s.lines() {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line.strip_suffix("  ").filter(|_| blank > 0).unwrap_or(line));
        blank = 0;
    }
    out.push('\n');
    out
}

/// A YAML scalar for front matter: bare when that is safe, else double-quoted.
pub fn yaml_scalar(s: &str) -> String {
    let risky_start = s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c));
    let risky = s.is_empty()
        || risky_start
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\r', '\t'])
        || matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "null" | "~" | "on" | "off")
        || s.parse::<f64>().is_ok();
    if !risky {
        return s.to_string();
    }
    quoted(s)
}

/// A YAML flow sequence: `[a, b]`.
pub fn yaml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| if i.contains([',', '[', ']', '{', '}']) { quoted(i) } else { yaml_scalar(i) }).collect();
    format!("[{}]", inner.join(", "))
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_usual_blocks() {
        let html = "<h4 id=\"x\">标题</h4><p>一段 <a href=\"https://e.org/a\">链接</a>、<strong>粗体</strong>、<em>斜体</em> 和 <code>llm -m x</code>。</p>\
            <ul><li>一<ul><li>一.一</li></ul></li><li>二</li></ul><ol><li>first</li><li>second</li></ol>\
            <blockquote><p>引用一</p><p>引用二</p></blockquote><pre><code class=\"language-python\">print(\"hi\")\n</code></pre>\
            <p><img src=\"https://e.org/i.png\" alt=\"图\"></p><table><tr><th>模型</th><th>价格</th></tr><tr><td>Flash</td><td>$0.0375</td></tr></table><hr><p>a_b*c</p>";
        let want = "#### 标题\n\n一段 [链接](https://e.org/a)、**粗体**、*斜体* 和 `llm -m x`。\n\n* 一\n  * 一.一\n* 二\n\n1. first\n2. second\n\n\
                    > 引用一\n>\n> 引用二\n\n```python\nprint(\"hi\")\n```\n\n![图](https://e.org/i.png)\n\n| 模型 | 价格 |\n| --- | --- |\n| Flash | $0.0375 |\n\n---\n\na\\_b\\*c\n";
        assert_eq!(html_to_markdown(html), want);
    }

    #[test]
    fn yaml_values_are_escaped_when_needed() {
        assert_eq!(yaml_scalar("2024 年我们对大语言模型的认知"), "2024 年我们对大语言模型的认知");
        assert_eq!(yaml_scalar("Simon Willison (翻译)"), "Simon Willison (翻译)");
        assert_eq!(yaml_scalar("Quoting: someone"), "\"Quoting: someone\"");
        assert_eq!(yaml_scalar("- dash"), "\"- dash\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("2024"), "\"2024\"");
        assert_eq!(yaml_scalar("a \"quote\"\nnext"), r#""a \"quote\"\nnext""#);
        assert_eq!(yaml_list(&["ai".into(), "llm, gpt".into(), "#tag".into()]), "[ai, \"llm, gpt\", \"#tag\"]");
    }
}
