//! Feed autodiscovery: the feeds an HTML page links to with `<link rel="alternate">`. Pure.

use scraper::{Html, Selector};

/// Feed URLs announced by an HTML page, absolute, in page order (Atom and RSS before JSON Feed).
pub fn feed_links(html: &str, page_url: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse("link[href]").expect("static selector");
    let base = url::Url::parse(page_url).ok();
    let mut found: Vec<(u8, String)> = Vec::new();
    for link in doc.select(&selector) {
        let el = link.value();
        let rel = el.attr("rel").unwrap_or("").to_ascii_lowercase();
        if !rel.split_whitespace().any(|r| r == "alternate") {
            continue;
        }
        let ty = el.attr("type").unwrap_or("").trim().to_ascii_lowercase();
        let rank = match ty.as_str() {
            "application/atom+xml" | "application/rss+xml" => 0,
            "application/feed+json" | "application/json" => 1,
            _ => continue,
        };
        let href = el.attr("href").unwrap_or("").trim();
        let absolute = match &base {
            Some(b) => b.join(href).map(|u| u.to_string()).unwrap_or_default(),
            None => href.to_string(),
        };
        if !absolute.is_empty() && !found.iter().any(|(_, u)| *u == absolute) {
            found.push((rank, absolute));
        }
    }
    found.sort_by_key(|(rank, _)| *rank);
    found.into_iter().map(|(_, u)| u).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_alternate_feeds() {
        let html = r#"<!doctype html><html><head>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/feed+json" href="/feed.json">
            <link rel="alternate" type="application/atom+xml" title="Atom" href="/atom/everything/">
            <link rel="Alternate" type="application/rss+xml" href="https://cdn.example.org/rss.xml">
            <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
        </head><body></body></html>"#;
        assert_eq!(
            feed_links(html, "https://example.org/blog/"),
            ["https://example.org/atom/everything/", "https://cdn.example.org/rss.xml", "https://example.org/feed.json"]
        );
        assert!(feed_links("<html><body>nothing</body></html>", "https://example.org/").is_empty());
    }
}
