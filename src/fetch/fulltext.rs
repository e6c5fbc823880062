//! Full-text extraction: the article body of an entry's page, for feeds that carry only a summary. Pure.

/// The readable article of a page, as HTML (images, links and code kept), or why there is none.
pub fn extract(html: &str, page_url: &str) -> Result<String, String> {
    if crate::text::nesting_depth(html) > crate::text::MAX_NESTING {
        return Err(format!("the page nests elements more than {} deep", crate::text::MAX_NESTING));
    }
    let config = dom_smoothie::Config { max_elements_to_parse: 50_000, ..Default::default() };
    let mut readability = dom_smoothie::Readability::new(html, Some(page_url), Some(config)).map_err(|e| format!("readability: {e}"))?;
    let article = readability.parse().map_err(|e| format!("no article found: {e}"))?;
    let content = article.content.to_string();
    if crate::text::html_to_plain(&content).chars().count() < 40 {
        return Err("the extracted article is nearly empty".into());
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_article_and_keeps_links_and_code() {
        let body = "<p>This is the first paragraph of a long article about feeds, with <a href=\"/more\">a link</a>.</p>".repeat(3);
        let html = format!(
            "<html><head><title>Post</title></head><body><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a></nav>\
             <article><h1>Post</h1>{body}<pre><code>let x = 1;</code></pre>{body}</article><footer>Copyright</footer></body></html>"
        );
        let out = extract(&html, "https://example.org/post/").unwrap();
        assert!(out.contains("href=\"https://example.org/more\""), "{out}");
        assert!(out.contains("let x = 1;"), "{out}");
        assert!(!out.contains("Copyright"), "{out}");
    }

    #[test]
    fn empty_pages_are_reported() {
        assert!(extract("<html><body></body></html>", "https://example.org/").is_err());
    }
}
