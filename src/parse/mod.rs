//! Bytes -> `ParsedFeed` via feed-rs, with the gaps feed-rs leaves filled: polyfeed's own entry
//! identity, normalized entries (plain titles, absolute URLs), RSS 0.90 items; `repair` makes odd
//! bodies readable first, `dates` reads the dates real feeds write.
//!
//! Pure: no I/O. feed-rs types do not leave this module.

mod dates;
pub mod opml;
mod repair;

pub use dates::parse_timestamp;

use chrono::{DateTime, Utc};
use repair::{declared_encoding, encoding_alias, json_feed_variants, lossy_utf8, transcode_alias, transcode_by_header, upgrade_atom03};

use crate::model::{Entry, ParsedFeed, digest};
use crate::text;

/// Why a body is not a usable feed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The body is empty.
    #[error("empty body")]
    Empty,
    /// The body is an HTML page, not a feed (autodiscovery may find the feed it links to).
    #[error("an HTML page, not a feed")]
    Html,
    /// feed-rs refused the document.
    #[error("not a valid feed: {0}")]
    Invalid(String),
    /// The document has entries feed-rs could not read.
    #[error("the document has {0} item/entry elements but none could be read")]
    LostEntries(usize),
}

pub type Result<T> = std::result::Result<T, ParseError>;

/// Parses a feed body. `url` is the feed's URL (base for relative links), `content_type` the HTTP header if any.
pub fn parse(body: &[u8], url: &str, content_type: Option<&str>) -> Result<ParsedFeed> {
    let trimmed = trim_start(body);
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    if looks_like_html(trimmed) {
        return Err(ParseError::Html);
    }
    if let Some(label) = declared_encoding(body)
        && encoding_rs::Encoding::for_label(label.as_bytes()).is_none()
        && encoding_alias(&label).is_none()
    {
        return Err(ParseError::Invalid(format!("unsupported character encoding {label:?}")));
    }
    let transcoded = transcode_by_header(body, content_type).or_else(|| transcode_alias(body));
    let body = transcoded.as_deref().unwrap_or(body);
    let upgraded = upgrade_atom03(body).or_else(|| json_feed_variants(body));
    let body = upgraded.as_deref().unwrap_or(body);

    let feed = match parse_with_feed_rs(body, url) {
        Ok(feed) => feed,
        // Invalid bytes for the declared encoding: read what can be read rather than nothing.
        Err(first) => match lossy_utf8(body) {
            Some(fixed) => parse_with_feed_rs(&fixed, url).map_err(|_| first)?,
            None => return Err(first),
        },
    };
    let bases = content_bases(body, url);
    let mut parsed = normalize(feed, url, bases.as_deref());
    if parsed.entries.is_empty() {
        let items = count_items(body);
        if items > 0 {
            // feed-rs reads RSS 0.90 (the Netscape namespace) as a feed without entries; the rss crate reads its items.
            parsed.entries = parse_with_rss_crate(body, url);
            if parsed.entries.is_empty() {
                return Err(ParseError::LostEntries(items));
            }
        }
    }
    Ok(parsed)
}

fn parse_with_feed_rs(body: &[u8], url: &str) -> Result<feed_rs::model::Feed> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(url))
        .sanitize_content(false)
        // An empty id marks "the source gave none": polyfeed derives its own key, never a random one.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_timestamp)
        .build()
        .parse(body)
        .map_err(|e| match e {
            feed_rs::parser::ParseFeedError::ParseError(feed_rs::parser::ParseErrorKind::NoFeedRoot) => {
                ParseError::Invalid("no RSS, Atom or JSON Feed document found".into())
            }
            e => ParseError::Invalid(e.to_string()),
        })
}

/// The xml:base in scope of each entry's content, in document order (None for an entry without
/// one), when the document uses xml:base at all; feed-rs resolves links with it but not content.
fn content_bases(body: &[u8], url: &str) -> Option<Vec<Option<url::Url>>> {
    const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
    memchr::memmem::find(body, b"xml:base")?;
    // The strict parser refuses characters XML forbids; feed-rs read past them, so must this.
    let text = text::xml_safe(std::str::from_utf8(body).ok()?);
    let doc = roxmltree::Document::parse(&text).ok()?;
    let feed_url = url::Url::parse(url).ok()?;
    let entries = doc.descendants().filter(|n| n.is_element() && matches!(n.tag_name().name(), "entry" | "item"));
    Some(
        entries
            .map(|entry| {
                let content = entry
                    .children()
                    .filter(|c| c.is_element())
                    .find(|c| matches!(c.tag_name().name(), "content" | "encoded"))
                    .or_else(|| entry.children().find(|c| c.is_element() && matches!(c.tag_name().name(), "summary" | "description")))
                    .unwrap_or(entry);
                let chain: Vec<&str> = content.ancestors().filter_map(|n| n.attribute((XML_NS, "base"))).collect();
                if chain.is_empty() {
                    return None;
                }
                chain.iter().rev().try_fold(feed_url.clone(), |base, b| base.join(b.trim()).ok())
            })
            .collect(),
    )
}

fn normalize(feed: feed_rs::model::Feed, url: &str, bases: Option<&[Option<url::Url>]>) -> ParsedFeed {
    let site_url = feed.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).map(|l| absolute(&l.href, url));
    let authors: Vec<String> = feed.authors.iter().map(|p| p.name.as_deref().unwrap_or("").trim().to_string()).filter(|n| !n.is_empty()).collect();
    // Bases line up with entries only when both readings saw the same entries.
    let bases = bases.filter(|b| b.len() == feed.entries.len());
    // The feed's URL is parsed once, not once per entry.
    let feed_url = url::Url::parse(url).ok();
    let entries = feed.entries.into_iter().enumerate().map(|(i, e)| normalize_entry(e, feed_url.as_ref(), bases.and_then(|b| b[i].as_ref()))).collect();
    let rel = |name: &str| feed.links.iter().find(|l| l.rel.as_deref() == Some(name)).map(|l| absolute(&l.href, url));
    let (hub, self_url) = (rel("hub"), rel("self"));
    ParsedFeed { title: feed.title.map(|t| text_of(&t)).unwrap_or_default(), site_url, authors, ttl_minutes: feed.ttl, hub, self_url, entries }
}

/// One entry in polyfeed's terms. URLs in its content are made absolute against its xml:base,
/// else its link, else the feed's URL: what a reader resolves them against.
fn normalize_entry(mut e: feed_rs::model::Entry, feed_url: Option<&url::Url>, xml_base: Option<&url::Url>) -> Entry {
    let href = e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or(e.links.first()).map(|l| l.href.trim());
    // The link resolved once: the entry's link, and the base of its content.
    let joined = href.and_then(|h| feed_url?.join(h).ok());
    let link = joined.as_ref().map(|u| u.to_string()).or_else(|| href.map(str::to_string));
    let link_url = joined.or_else(|| url::Url::parse(href?).ok());
    let title = e.title.as_ref().map(text_of).unwrap_or_default();
    // The content is taken from feed-rs, not copied, and copied again only where a pass changes it.
    let content = e
        .content
        .take()
        .and_then(|c| {
            let body = c.body.filter(|b| !b.trim().is_empty())?;
            // Text content (a JSON Feed's content_text) is text, not markup.
            Some(if c.content_type.subty().as_str() == "plain" { plain_to_html(&body) } else { body })
        })
        .or_else(|| e.summary.take().map(text_into_html))
        .or_else(|| e.media.iter_mut().find_map(|m| m.description.take().map(text_into_html)))
        .map(|c| {
            let c = changed(text::tame(&c)).unwrap_or(c);
            changed(text::xml_safe(&c)).unwrap_or(c)
        })
        .unwrap_or_default();
    let base = xml_base.or(link_url.as_ref()).or(feed_url);
    let content = match base {
        Some(base) => changed(text::absolute_urls(&content, base)).unwrap_or(content),
        None => content,
    };
    let mut categories: Vec<String> = Vec::new();
    for c in &e.categories {
        let term = c.label.as_deref().filter(|l| !l.trim().is_empty()).unwrap_or(&c.term).trim().to_string();
        if !term.is_empty() && !categories.contains(&term) {
            categories.push(term);
        }
    }
    let source_id = e.id.trim().to_string();
    let published = e.published;
    let updated = e.updated;
    let key = entry_key(&source_id, link.as_deref(), &title, published.or(updated));
    Entry {
        key,
        source_id,
        link,
        title,
        content,
        authors: e.authors.iter().map(|p| text::xml_safe(p.name.as_deref().unwrap_or("").trim()).into_owned()).filter(|n| !n.is_empty()).collect(),
        categories: categories.iter().map(|c| text::xml_safe(c).into_owned()).collect(),
        published,
        updated,
    }
}

/// polyfeed's identity of an entry: its id/guid, else its link, else its title and date.
pub fn entry_key(source_id: &str, link: Option<&str>, title: &str, date: Option<DateTime<Utc>>) -> String {
    if !source_id.is_empty() {
        digest(&["id", source_id])
    } else if let Some(link) = link.filter(|l| !l.is_empty()) {
        digest(&["link", link])
    } else {
        let date = date.map(|d| d.to_rfc3339()).unwrap_or_default();
        digest(&["title", title, &date])
    }
}

/// Plain text of a feed-rs text construct, for titles: HTML titles lose their tags and have their
/// entities decoded, and so do "plain" titles that carry markup or entities anyway (common in
/// RSS, where titles have no declared type). Characters XML forbids are dropped.
fn text_of(t: &feed_rs::model::Text) -> String {
    static MARKUP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let markup = MARKUP.get_or_init(|| regex::Regex::new(r"<[A-Za-z/!]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+);").expect("static regex"));
    let content = text::xml_safe(&t.content);
    if matches!(t.content_type.subty().as_str(), "html" | "xhtml") || markup.is_match(&content) {
        text::html_to_plain(&content)
    } else {
        text::collapse_whitespace(&content)
    }
}

/// A summary as HTML: plain-text summaries are escaped and their paragraphs kept.
fn text_into_html(t: feed_rs::model::Text) -> String {
    if t.content_type.subty().as_str() == "plain" { plain_to_html(&t.content) } else { t.content }
}

/// What a pass that may leave its input as it is made of it: None when it changed nothing.
fn changed(pass: std::borrow::Cow<'_, str>) -> Option<String> {
    match pass {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(s) => Some(s),
    }
}

/// Plain text as HTML paragraphs (blank lines separate them).
fn plain_to_html(text: &str) -> String {
    text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(|p| format!("<p>{}</p>", text::escape_html(p))).collect()
}

fn absolute(href: &str, base: &str) -> String {
    url::Url::parse(base).and_then(|b| b.join(href.trim())).map(|u| u.to_string()).unwrap_or_else(|_| href.trim().to_string())
}

fn parse_with_rss_crate(body: &[u8], url: &str) -> Vec<Entry> {
    let Ok(channel) = rss::Channel::read_from(body) else {
        return Vec::new();
    };
    channel
        .items()
        .iter()
        .map(|item| {
            let link = item.link().map(|l| absolute(l, url));
            let title = item.title().map(|t| text::html_to_plain(&text::xml_safe(t))).unwrap_or_default();
            let published = item.pub_date().and_then(parse_timestamp);
            let source_id = item.guid().map(|g| g.value().trim().to_string()).unwrap_or_default();
            let content = text::xml_safe(&text::tame(item.content().or(item.description()).unwrap_or_default())).into_owned();
            let base = url::Url::parse(link.as_deref().unwrap_or(url)).ok();
            let content = base.map_or_else(|| content.clone(), |b| text::absolute_urls(&content, &b).into_owned());
            Entry {
                key: entry_key(&source_id, link.as_deref(), &title, published),
                source_id,
                link,
                title,
                content,
                authors: item.author().map(|a| vec![a.to_string()]).unwrap_or_default(),
                categories: item.categories().iter().map(|c| c.name().to_string()).collect(),
                published,
                updated: None,
            }
        })
        .collect()
}

/// Counts `<item` and `<entry` start tags (with or without prefix): a cheap witness that entries exist.
fn count_items(body: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(pos) = memchr::memchr(b'<', &body[i..]) {
        let rest = &body[i + pos + 1..];
        let name_end = rest.iter().position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/').unwrap_or(rest.len());
        let name = &rest[..name_end];
        let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        if local == b"item" || local == b"entry" {
            n += 1;
        }
        i += pos + 1;
    }
    n
}

fn trim_start(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    &body[start..]
}

/// An HTML page rather than a feed: starts with a doctype or an html element.
pub fn looks_like_html(body: &[u8]) -> bool {
    let head: Vec<u8> = trim_start(body).iter().take(512).map(u8::to_ascii_lowercase).collect();
    let mut rest = head.as_slice();
    // Skip an XML declaration and leading comments.
    loop {
        let close: &[u8] = if rest.starts_with(b"<!--") {
            b"-->"
        } else if rest.starts_with(b"<?xml") {
            b"?>"
        } else {
            break;
        };
        match rest.windows(close.len()).position(|w| w == close) {
            Some(end) => rest = trim_start(&rest[end + close.len()..]),
            None => return false,
        }
    }
    rest.starts_with(b"<!doctype html") || rest.starts_with(b"<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_plain_text_whatever_they_carry() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><id>1</id><title type="html">Payload &lt;img src=x onerror=alert(1)&gt; &amp;amp; more</title><updated>2026-01-01T00:00:00Z</updated></entry>
            <entry><id>2</id><title>Tom &amp;amp; Jerry &lt;b&gt;bold&lt;/b&gt;</title><updated>2026-01-01T00:00:00Z</updated></entry>
            <entry><id>3</id><title>Plain: 2 &lt; 3 &amp; AT&amp;T</title><updated>2026-01-01T00:00:00Z</updated></entry></feed>"#;
        let feed = parse(atom.as_bytes(), "https://e.org/", None).unwrap();
        let titles: Vec<&str> = feed.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Payload & more", "Tom & Jerry bold", "Plain: 2 < 3 & AT&T"]);
    }

    #[test]
    fn key_prefers_id_then_link_then_title_and_date() {
        let d = parse_timestamp("2024-01-01").unwrap();
        assert_eq!(entry_key("a", Some("l"), "t", Some(d)), entry_key("a", Some("other"), "x", None));
        assert_eq!(entry_key("", Some("l"), "t", Some(d)), entry_key("", Some("l"), "x", None));
        assert_eq!(entry_key("", None, "t", Some(d)), entry_key("", None, "t", Some(d)));
        assert_ne!(entry_key("", None, "t", Some(d)), entry_key("", None, "t", None));
        assert_ne!(entry_key("l", None, "", None), entry_key("", Some("l"), "", None));
    }

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us"><title>Simon Willison's Weblog</title>
<link href="http://simonwillison.net/" rel="alternate"/><id>http://simonwillison.net/</id>
<updated>2024-12-31T18:07:00+00:00</updated><author><name>Simon Willison</name></author>
<entry><title>Things we learned about LLMs in 2024</title>
<link href="https://simonwillison.net/2024/Dec/31/llms-in-2024/" rel="alternate"/>
<published>2024-12-31T18:07:00+00:00</published><updated>2024-12-31T18:07:00+00:00</updated>
<id>https://simonwillison.net/2024/Dec/31/llms-in-2024/#atom-everything</id>
<summary type="html">&lt;p&gt;A lot has happened.&lt;/p&gt;</summary>
<category term="ai"/><category term="llms"/></entry>
<entry><title>No id here</title><link href="/2024/Dec/30/no-id/"/><summary>Plain &amp; simple</summary></entry>
</feed>"#;

    #[test]
    fn the_websub_hub_and_self_link_a_feed_advertises() {
        let atom = ATOM.replace(
            "<id>http://simonwillison.net/</id>",
            "<link rel=\"hub\" href=\"https://pubsubhubbub.appspot.com/\"/><link rel=\"self\" href=\"/atom/everything/\"/><id>x</id>",
        );
        let feed = parse(atom.as_bytes(), "https://simonwillison.net/atom/everything/", None).unwrap();
        assert_eq!(feed.hub.as_deref(), Some("https://pubsubhubbub.appspot.com/"));
        assert_eq!(feed.self_url.as_deref(), Some("https://simonwillison.net/atom/everything/"));
        let rss = r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title><link>https://e.org/</link>
<atom:link rel="hub" href="https://hub.e.org/"/><atom:link rel="self" href="https://e.org/feed.xml"/><item><title>i</title></item></channel></rss>"#;
        let feed = parse(rss.as_bytes(), "https://e.org/feed.xml", None).unwrap();
        assert_eq!((feed.hub.as_deref(), feed.self_url.as_deref()), (Some("https://hub.e.org/"), Some("https://e.org/feed.xml")));
        assert_eq!(parse(ATOM.as_bytes(), "https://simonwillison.net/atom/everything/", None).unwrap().hub, None);
    }

    #[test]
    fn atom_like_simonwillison() {
        let feed = parse(ATOM.as_bytes(), "https://simonwillison.net/atom/everything/", None).unwrap();
        assert_eq!(feed.title, "Simon Willison's Weblog");
        assert_eq!(feed.authors, ["Simon Willison"]);
        assert_eq!(feed.site_url.as_deref(), Some("http://simonwillison.net/"));
        let e = &feed.entries[0];
        assert_eq!(
            e,
            &Entry {
                key: entry_key("https://simonwillison.net/2024/Dec/31/llms-in-2024/#atom-everything", None, "", None),
                source_id: "https://simonwillison.net/2024/Dec/31/llms-in-2024/#atom-everything".into(),
                link: Some("https://simonwillison.net/2024/Dec/31/llms-in-2024/".into()),
                title: "Things we learned about LLMs in 2024".into(),
                content: "<p>A lot has happened.</p>".into(),
                authors: vec![],
                categories: vec!["ai".into(), "llms".into()],
                published: parse_timestamp("2024-12-31T18:07:00Z"),
                updated: parse_timestamp("2024-12-31T18:07:00Z"),
            }
        );
        let second = &feed.entries[1];
        assert_eq!(second.source_id, "");
        assert_eq!(second.link.as_deref(), Some("https://simonwillison.net/2024/Dec/30/no-id/"));
        assert_eq!(second.key, entry_key("", second.link.as_deref(), "", None));
        assert_eq!(second.content, "<p>Plain &amp; simple</p>");
    }

    #[test]
    fn entries_without_id_or_link_get_a_stable_key() {
        let rss = "<rss version=\"2.0\"><channel><title>t</title><item><title>Hello</title><pubDate>2020/1/10 14:03:00</pubDate></item></channel></rss>";
        let a = parse(rss.as_bytes(), "https://e.org/feed", None).unwrap();
        let b = parse(rss.as_bytes(), "https://e.org/feed", None).unwrap();
        assert_eq!(a.entries[0].key, b.entries[0].key);
        assert_eq!(a.entries[0].published, parse_timestamp("2020-01-10T14:03:00Z"));
    }

    #[test]
    fn rss090_items_are_not_lost() {
        let rss = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>heise online</title><link>https://www.heise.de/</link><description>News</description></channel>
<item><title>Erste Meldung</title><link>https://www.heise.de/news/1.html</link></item>
<item><title>Zweite Meldung</title><link>https://www.heise.de/news/2.html</link></item>
</rdf:RDF>"#;
        let feed = parse(rss.as_bytes(), "https://www.heise.de/rss", None).unwrap();
        let titles: Vec<_> = feed.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Erste Meldung", "Zweite Meldung"]);
        assert_eq!(feed.entries[1].link.as_deref(), Some("https://www.heise.de/news/2.html"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"  \n", "https://e.org/", None), Err(ParseError::Empty));
        assert_eq!(parse(b"<!DOCTYPE html><html><head></head></html>", "https://e.org/", None), Err(ParseError::Html));
        assert_eq!(parse(b"<!-- x --><html lang=en>", "https://e.org/", None), Err(ParseError::Html));
        assert_eq!(parse(b"<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0\"><html>", "https://e.org/", None), Err(ParseError::Html));
        assert!(matches!(parse(b"<nonsense/>", "https://e.org/", None), Err(ParseError::Invalid(_))));
        assert!(matches!(parse(b"{\"not\": \"a feed\"}", "https://e.org/", None), Err(ParseError::Invalid(_))));
    }
}
