//! Markdown posts for static blogs (Jekyll, Hugo, Zola), in the shape of shared/examples: YAML
//! front matter, a `#` title, the body, and a closing attribution line. Pure.

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
        "---\ntitle: {}\nauthor: {}\ndate: {}\ncategories: {}\ntags: {}\n---\n\n# {}\n\n{}{}\n---\n\n> {}\n",
        yaml_scalar(&p.title_translated),
        yaml_scalar(&format!("{author}{}", publish.author_suffix)),
        local.format("%Y-%m-%d %H:%M:%S %z"),
        yaml_list(&map(&publish.categories)),
        yaml_list(&map(&publish.tags)),
        p.title_translated,
        // A summary opens the post, as a quote marked machine-written.
        p.summary
            .as_ref()
            .map(|s| format!(
                "> **{}**{}{}\n\n",
                escape(words(&p.lang).summary.trim_end()),
                if words(&p.lang).summary.ends_with(' ') { " " } else { "" },
                escape(s)
            ))
            .unwrap_or_default(),
        html_to_markdown(&p.translated),
        attribution,
    );
    (format!("{}-{}.md", local.format("%Y-%m-%d"), p.slug), text)
}

/// HTML -> Markdown (CommonMark with GFM tables), by htmd: headings, paragraphs, lists, links,
/// images, code fences with their language, blockquotes, tables, emphasis. Then tidied: no
/// trailing spaces, at most one blank line between blocks.
pub fn html_to_markdown(html: &str) -> String {
    static CONVERTER: std::sync::LazyLock<htmd::HtmlToMarkdown> = std::sync::LazyLock::new(|| {
        htmd::HtmlToMarkdown::builder()
            .options(htmd::options::Options {
                bullet_list_marker: htmd::options::BulletListMarker::Asterisk,
                ul_bullet_spacing: 1,
                ol_number_spacing: 1,
                code_block_style: htmd::options::CodeBlockStyle::Fenced,
                // A hard break that survives editors trimming trailing spaces.
                br_style: htmd::options::BrStyle::Backslash,
                ..Default::default()
            })
            .skip_tags(vec!["script", "style", "template"])
            // A thematic break as the example writes it (htmd only knows "- - -" and the like).
            .add_handler(vec!["hr"], |_: &dyn htmd::element_handler::Handlers, _: htmd::Element| Some("\n\n---\n\n".into()))
            .build()
    });
    // htmd fails only on I/O of its own writer; the HTML as text is a better fallback than nothing.
    tidy(&CONVERTER.convert(html).unwrap_or_else(|_| crate::text::html_to_plain(html)))
}

/// At most one blank line between blocks and no trailing spaces, outside code fences; what is
/// inside a fence is kept line for line.
fn tidy(s: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    let mut fence: Option<&str> = None;
    for line in s.lines() {
        let marker = line.trim_start();
        let marker = &marker[..marker.len() - marker.trim_start_matches(['`', '~']).len()];
        if let Some(open) = fence {
            out.push('\n');
            out.push_str(line);
            if marker.len() >= open.len() && marker.starts_with(&open[..1]) && line.trim_start()[marker.len()..].trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line.trim_end());
        blank = 0;
        if marker.len() >= 3 {
            fence = Some(marker);
        }
    }
    out.push('\n');
    out
}

/// Escapes the characters that would turn text into Markdown syntax (for the attribution line).
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
                    > 引用一\n>\n> 引用二\n\n```python\nprint(\"hi\")\n```\n\n![图](https://e.org/i.png)\n\n| 模型    | 价格      |\n| ----- | ------- |\n| Flash | $0.0375 |\n\n---\n\na\\_b\\*c\n";
        assert_eq!(html_to_markdown(html), want);
    }

    #[test]
    fn links_in_list_items_and_blank_lines_in_code_survive() {
        // A table of contents is a list of links (the hand-written converter this replaced lost them).
        let toc = "<ul><li><a href=\"https://e.org/p#one\">One</a></li><li><a href=\"https://e.org/p#two\">Two</a> and more</li></ul>";
        assert_eq!(html_to_markdown(toc), "* [One](https://e.org/p#one)\n* [Two](https://e.org/p#two) and more\n");
        let code = "<pre><code>a = 1\n\n\n\nb = 2   \n</code></pre><p>line<br>break</p>";
        assert_eq!(html_to_markdown(code), "```\na = 1\n\n\n\nb = 2   \n```\n\nline\\\nbreak\n");
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
