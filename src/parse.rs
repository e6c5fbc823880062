//! Bytes -> `ParsedFeed` via feed-rs, with the gaps feed-rs leaves filled: polyfeed's own entry
//! identity, lenient dates, RSS 0.90 entries, and encodings declared only by HTTP.
//!
//! Pure: no I/O. feed-rs types do not leave this module.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

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
    body.windows(8).position(|w| w == b"xml:base")?;
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
    let entries = feed.entries.into_iter().enumerate().map(|(i, e)| normalize_entry(e, url, bases.and_then(|b| b[i].as_ref()))).collect();
    ParsedFeed { title: feed.title.map(|t| text_of(&t)).unwrap_or_default(), site_url, authors, ttl_minutes: feed.ttl, entries }
}

/// One entry in polyfeed's terms. URLs in its content are made absolute against its xml:base,
/// else its link, else the feed's URL: what a reader resolves them against.
fn normalize_entry(e: feed_rs::model::Entry, feed_url: &str, xml_base: Option<&url::Url>) -> Entry {
    let link = e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or(e.links.first()).map(|l| absolute(&l.href, feed_url));
    let title = e.title.as_ref().map(text_of).unwrap_or_default();
    let content = e
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref().filter(|b| !b.trim().is_empty())?;
            // Text content (a JSON Feed's content_text) is text, not markup.
            Some(if c.content_type.subty().as_str() == "plain" { plain_to_html(body) } else { body.to_string() })
        })
        .or_else(|| e.summary.as_ref().map(text_as_html))
        .or_else(|| e.media.iter().find_map(|m| m.description.as_ref().map(text_as_html)))
        .map(|c| text::xml_safe(&text::tame(&c)).into_owned())
        .unwrap_or_default();
    let base = xml_base.cloned().or_else(|| link.as_deref().and_then(|l| url::Url::parse(l).ok())).or_else(|| url::Url::parse(feed_url).ok());
    let content = match &base {
        Some(base) => text::absolute_urls(&content, base).into_owned(),
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
fn text_as_html(t: &feed_rs::model::Text) -> String {
    if t.content_type.subty().as_str() == "plain" { plain_to_html(&t.content) } else { t.content.clone() }
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
    while let Some(pos) = memchr(b'<', &body[i..]) {
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

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
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

/// When the XML has no encoding declaration but HTTP names a non-UTF-8 charset, transcode to UTF-8.
fn transcode_by_header(body: &[u8], content_type: Option<&str>) -> Option<Vec<u8>> {
    let charset = content_type?
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())?;
    let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())?;
    if encoding == encoding_rs::UTF_8 || declared_encoding(body).is_some() || trim_start(body).first() != Some(&b'<') {
        return None;
    }
    let (text, _, _) = encoding.decode(body);
    Some(text.into_owned().into_bytes())
}

/// Encodings real feeds declare under names encoding_rs does not know.
fn encoding_alias(label: &str) -> Option<&'static encoding_rs::Encoding> {
    match label.to_ascii_lowercase().as_str() {
        "maccyrillic" | "mac-cyrillic" | "x-mac-ukrainian" => Some(encoding_rs::X_MAC_CYRILLIC),
        "cp866" | "ibm-866" => Some(encoding_rs::IBM866),
        "cp1251" => Some(encoding_rs::WINDOWS_1251),
        "cp1252" => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    }
}

/// A body declared in an aliased encoding, transcoded to UTF-8 with its declaration rewritten.
fn transcode_alias(body: &[u8]) -> Option<Vec<u8>> {
    let label = declared_encoding(body)?;
    if encoding_rs::Encoding::for_label(label.as_bytes()).is_some() {
        return None;
    }
    let (text, _, _) = encoding_alias(&label)?.decode(body);
    let end = text.find("?>")?;
    Some(format!("<?xml version=\"1.0\" encoding=\"utf-8\"{}", &text[end..]).into_bytes())
}

/// JSON Feeds as real ones are written, in the shape feed-rs reads: the version URL with http or
/// without its trailing slash, numeric ids, tags as one comma-separated string, an `author` or
/// `authors` given as a bare name or a lone object. None when the body is not a JSON object or
/// needs nothing.
fn json_feed_variants(body: &[u8]) -> Option<Vec<u8>> {
    if trim_start(body).first() != Some(&b'{') {
        return None;
    }
    let mut doc: serde_json::Value = serde_json::from_slice(trim_start(body)).ok()?;
    let mut changed = false;
    if let Some(version) = doc.get("version").and_then(|v| v.as_str()).map(str::to_string) {
        let tail = version.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
        if let Some(number) = tail.strip_prefix("jsonfeed.org/version/") {
            let fixed = format!("https://jsonfeed.org/version/{number}");
            changed |= fixed != version;
            doc["version"] = serde_json::Value::String(fixed);
        }
    }
    fn people(v: &mut serde_json::Map<String, serde_json::Value>, changed: &mut bool) {
        if let Some(name) = v.get("author").and_then(|a| a.as_str()).map(str::to_string) {
            v.insert("author".into(), serde_json::json!({ "name": name }));
            *changed = true;
        }
        match v.get_mut("authors") {
            Some(a @ serde_json::Value::Object(_)) => {
                *a = serde_json::Value::Array(vec![a.take()]);
                *changed = true;
            }
            Some(serde_json::Value::Array(list)) => {
                for p in list.iter_mut().filter(|p| p.is_string()) {
                    *p = serde_json::json!({ "name": p.take() });
                    *changed = true;
                }
            }
            _ => {}
        }
    }
    if let Some(top) = doc.as_object_mut() {
        people(top, &mut changed);
    }
    for item in doc.get_mut("items").and_then(|i| i.as_array_mut()).into_iter().flatten() {
        let Some(item) = item.as_object_mut() else { continue };
        if let Some(id) = item.get("id").filter(|id| id.is_number()).map(|id| id.to_string()) {
            item.insert("id".into(), serde_json::Value::String(id));
            changed = true;
        }
        if let Some(tags) = item.get("tags").and_then(|t| t.as_str()).map(str::to_string) {
            let list: Vec<&str> = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
            item.insert("tags".into(), serde_json::json!(list));
            changed = true;
        }
        people(item, &mut changed);
    }
    changed.then(|| serde_json::to_vec(&doc).expect("a JSON value serializes"))
}

/// Atom 0.3 (2003-2005; Blogger and Movable Type exports still carry it) read as Atom 1.0: the
/// namespace and the few renamed elements are mapped, which is all feed-rs needs.
fn upgrade_atom03(body: &[u8]) -> Option<Vec<u8>> {
    const NS03: &[u8] = b"purl.org/atom/ns#";
    let head = &body[..body.len().min(4096)];
    // Only documents that mention the old namespace pay for the search in earnest.
    head.iter().position(|c| *c == b'#')?;
    head.windows(NS03.len()).position(|w| w[0] == b'p' && w == NS03)?;
    let text = String::from_utf8_lossy(body);
    // Only ASCII-compatible encodings reach here with their markup intact; the replacements are ASCII.
    if text.contains('\0') {
        return None;
    }
    let replaced = [
        ("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom"),
        ("<modified>", "<updated>"),
        ("</modified>", "</updated>"),
        ("<issued>", "<published>"),
        ("</issued>", "</published>"),
        ("<tagline", "<subtitle"),
        ("</tagline>", "</subtitle>"),
        (" mode=\"escaped\"", ""),
        ("type=\"text/html\"", "type=\"html\""),
        ("type=\"text/plain\"", "type=\"text\""),
        ("type=\"application/xhtml+xml\"", "type=\"xhtml\""),
    ];
    let mut out = body.to_vec();
    for (from, to) in replaced {
        out = replace_bytes(&out, from.as_bytes(), to.as_bytes());
    }
    Some(out)
}

fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    // Jump from one occurrence of the first byte to the next; compare only there.
    while let Some(p) = haystack[i..].iter().position(|c| *c == from[0]) {
        out.extend_from_slice(&haystack[i..i + p]);
        i += p;
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&haystack[i..]);
    out
}

fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = trim_start(body);
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let at = decl.find("encoding")?;
    let value = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next()?;
    value[1..].split(quote).next().map(str::to_string)
}

/// A UTF-8 body (declared so or undeclared) with invalid bytes, repaired; None when there is nothing to repair.
fn lossy_utf8(body: &[u8]) -> Option<Vec<u8>> {
    let declared = declared_encoding(body).map(|e| e.to_ascii_lowercase());
    if declared.as_deref().is_some_and(|e| e != "utf-8" && e != "utf8") || std::str::from_utf8(body).is_ok() {
        return None;
    }
    Some(String::from_utf8_lossy(body).into_owned().into_bytes())
}

/// A lenient timestamp parser: RFC 3339, RFC 2822 and the dates real feeds write instead.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let fixed = fix_rfc2822(s);
    if let Ok(d) = DateTime::parse_from_rfc2822(&fixed) {
        return Some(d.with_timezone(&Utc));
    }
    const ZONED: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y/%m/%d %H:%M:%S %z",
        "%d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M %z",
        "%a %b %d %H:%M:%S %z %Y",
    ];
    for f in ZONED {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(&fixed, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%a %b %d %H:%M:%S %Y",
    ];
    let no_zone = fixed.trim_end_matches(" +0000").trim_end_matches('Z');
    for f in NAIVE {
        if let Ok(d) = NaiveDateTime::parse_from_str(no_zone, f) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    const DATES: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%d %b %Y", "%b %d %Y", "%d.%m.%Y", "%Y%m%d"];
    for f in DATES {
        if let Ok(d) = NaiveDate::parse_from_str(no_zone, f) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

/// Repairs the usual departures from RFC 2822: full day and month names, named zones, missing seconds.
fn fix_rfc2822(s: &str) -> String {
    let mut words: Vec<String> = s.replace(',', ", ").split_whitespace().map(str::to_string).collect();
    // Drop a leading weekday, however it is spelled.
    if words.first().is_some_and(|w| w.trim_end_matches(',').chars().all(char::is_alphabetic) && words.len() > 3) {
        let first = words[0].trim_end_matches(',').to_ascii_lowercase();
        if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().any(|d| first.starts_with(d)) {
            words.remove(0);
        }
    }
    for w in &mut words {
        let lower = w.trim_end_matches(['.', ',']).to_ascii_lowercase();
        const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        if lower.len() > 3
            && lower.chars().all(char::is_alphabetic)
            && let Some(m) = MONTHS.iter().find(|m| lower.starts_with(*m))
        {
            let mut c = m.chars();
            *w = c.next().unwrap().to_ascii_uppercase().to_string() + c.as_str();
            continue;
        }
        let zone = match lower.as_str() {
            "ut" | "utc" | "gmt" | "z" | "-0000" => Some("+0000"),
            "est" => Some("-0500"),
            "edt" => Some("-0400"),
            "cst" => Some("-0600"),
            "cdt" => Some("-0500"),
            "mst" => Some("-0700"),
            "mdt" => Some("-0600"),
            "pst" => Some("-0800"),
            "pdt" => Some("-0700"),
            "cet" => Some("+0100"),
            "cest" => Some("+0200"),
            "bst" => Some("+0100"),
            "jst" => Some("+0900"),
            "kst" => Some("+0900"),
            "ist" => Some("+0530"),
            _ => None,
        };
        if let Some(z) = zone {
            *w = z.to_string();
        }
    }
    // Add seconds to a bare HH:MM time.
    for w in &mut words {
        if w.len() <= 5 && w.matches(':').count() == 1 && w.chars().all(|c| c.is_ascii_digit() || c == ':') {
            w.push_str(":00");
        }
    }
    // A zone written +08:00 becomes +0800.
    if let Some(last) = words.last_mut()
        && (last.starts_with('+') || last.starts_with('-'))
        && last.len() == 6
        && last.as_bytes()[3] == b':'
    {
        last.remove(3);
    }
    // No zone at all: UTC.
    let has_zone = words.last().is_some_and(|w| (w.starts_with('+') || w.starts_with('-')) && w.len() == 5);
    if !has_zone && words.iter().any(|w| w.contains(':')) {
        words.push("+0000".into());
    }
    words.join(" ").replace(", ", " ").replace(" ,", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON Feed with one item, `version` and the item's fields as given.
    fn json_feed(version: &str, item: &str) -> Result<ParsedFeed> {
        let doc =
            format!(r#"{{"version": "{version}", "title": "J", "home_page_url": "https://j.example/", "items": [{{"url": "https://j.example/1", {item}}}]}}"#);
        parse(doc.as_bytes(), "https://j.example/feed.json", Some("application/feed+json"))
    }

    #[test]
    fn json_feed_version_urls_with_http_or_without_the_slash_are_read() {
        for version in
            ["https://jsonfeed.org/version/1.1", "http://jsonfeed.org/version/1", "https://jsonfeed.org/version/1/", "http://jsonfeed.org/version/1.1/"]
        {
            let feed = json_feed(version, r#""id": "a", "content_html": "<p>x</p>""#).unwrap_or_else(|e| panic!("{version}: {e}"));
            assert_eq!(feed.entries.len(), 1, "{version}");
        }
    }

    #[test]
    fn json_feed_tags_given_as_one_string_are_split() {
        let feed = json_feed("https://jsonfeed.org/version/1", r#""id": "a", "content_html": "<p>x</p>", "tags": "workflow, omnifocus""#).unwrap();
        assert_eq!(feed.entries[0].categories, ["workflow", "omnifocus"]);
    }

    #[test]
    fn json_feed_numeric_ids_are_ids() {
        let feed = json_feed("https://jsonfeed.org/version/1", r#""id": 1234, "content_html": "<p>x</p>""#).unwrap();
        assert_eq!(feed.entries[0].source_id, "1234");
    }

    #[test]
    fn json_feed_author_and_authors_in_every_shape_are_read() {
        for people in
            [r#""author": {"name": "Jay"}"#, r#""authors": [{"name": "Jay"}]"#, r#""author": "Jay""#, r#""authors": {"name": "Jay"}"#, r#""authors": ["Jay"]"#]
        {
            let feed = json_feed("https://jsonfeed.org/version/1.1", &format!(r#""id": "a", "content_html": "<p>x</p>", {people}"#))
                .unwrap_or_else(|e| panic!("{people}: {e}"));
            assert_eq!(feed.entries[0].authors, ["Jay"], "{people}");
        }
    }

    #[test]
    fn json_feed_text_content_is_text() {
        let feed = json_feed("https://jsonfeed.org/version/1", r#""id": "a", "content_text": "One <b> & two.\n\nThree.""#).unwrap();
        assert_eq!(feed.entries[0].content, "<p>One &lt;b&gt; &amp; two.</p><p>Three.</p>");
    }

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

    fn ts(s: &str) -> String {
        parse_timestamp(s).map(|d| d.to_rfc3339()).unwrap_or_else(|| "none".into())
    }

    #[test]
    fn timestamps() {
        let cases = [
            ("2024-12-31T18:07:00+00:00", "2024-12-31T18:07:00+00:00"),
            ("2024-12-31T18:07:00Z", "2024-12-31T18:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 GMT", "2024-12-31T18:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 +0800", "2024-12-31T10:07:00+00:00"),
            ("Tuesday, 31 December 2024 18:07:00 GMT", "2024-12-31T18:07:00+00:00"),
            ("31 Dec 2024 18:07 EST", "2024-12-31T23:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00 +08:00", "2024-12-31T10:07:00+00:00"),
            ("Tue, 31 Dec 2024 18:07:00", "2024-12-31T18:07:00+00:00"),
            ("2020/1/10 14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10 14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10 14:03:00 +0100", "2020-01-10T13:03:00+00:00"),
            ("2020-01-10T14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2020-01-10", "2020-01-10T00:00:00+00:00"),
            ("January 10, 2020", "2020-01-10T00:00:00+00:00"),
            ("10.01.2020 14:03", "2020-01-10T14:03:00+00:00"),
            ("", "none"),
            ("yesterday", "none"),
        ];
        for (input, want) in cases {
            assert_eq!(ts(input), want, "input {input:?}");
        }
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

    #[test]
    fn charset_from_http_header_when_undeclared() {
        let (gbk, _, _) =
            encoding_rs::GBK.encode("<rss version=\"2.0\"><channel><title>中文</title><item><title>你好</title><guid>1</guid></item></channel></rss>");
        let feed = parse(&gbk, "https://e.org/", Some("application/rss+xml; charset=GB2312")).unwrap();
        assert_eq!(feed.title, "中文");
        assert_eq!(feed.entries[0].title, "你好");
    }

    #[test]
    fn invalid_utf8_is_repaired_not_fatal() {
        let mut body = b"<rss version=\"2.0\"><channel><title>t</title><item><title>caf".to_vec();
        body.extend_from_slice(b"\xe9 ok</title><guid>1</guid></item></channel></rss>");
        let feed = parse(&body, "https://e.org/", None).unwrap();
        assert_eq!(feed.entries[0].title, "caf\u{fffd} ok");
    }
}
