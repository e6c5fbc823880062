//! Small pure text helpers shared by the pipeline stages.

/// Collapses runs of whitespace to one space and trims.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The visible text of an HTML fragment, whitespace collapsed, entities decoded.
pub fn html_to_plain(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    let doc = scraper::Html::parse_fragment(html);
    let text: String = doc.root_element().text().collect();
    collapse_whitespace(&text)
}

/// A fast approximation of an HTML fragment's text, for change detection: tags dropped (their
/// attributes with them), whitespace collapsed. Entities are left as written.
pub fn markup_free(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut last_space = true;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
    }
    out.trim_end().to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text() {
        assert_eq!(html_to_plain("  a <b>bold</b>\n move &amp; more "), "a bold move & more");
        assert_eq!(html_to_plain("no markup"), "no markup");
    }

    #[test]
    fn markup_free_ignores_attribute_churn() {
        let a = markup_free(r#"<p class="x-1">Hello <a href="/a" data-id="9">world</a></p>"#);
        let b = markup_free(r#"<p class="y-2" id="p1">Hello <a href="/a">world</a></p>"#);
        assert_eq!(a, b);
        assert_eq!(a, "Hello world");
    }

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(escape_html(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
