//! Bodies as real servers send them, made readable before feed-rs sees them: encodings named only
//! by HTTP or under names encoding_rs does not know, invalid UTF-8, Atom 0.3, and JSON Feeds in
//! the shapes real ones take. Each returns None when the body needs nothing.

use super::trim_start;

/// When the XML has no encoding declaration but HTTP names a non-UTF-8 charset, transcode to UTF-8.
pub(super) fn transcode_by_header(body: &[u8], content_type: Option<&str>) -> Option<Vec<u8>> {
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
pub(super) fn encoding_alias(label: &str) -> Option<&'static encoding_rs::Encoding> {
    match label.to_ascii_lowercase().as_str() {
        "maccyrillic" | "mac-cyrillic" | "x-mac-ukrainian" => Some(encoding_rs::X_MAC_CYRILLIC),
        "cp866" | "ibm-866" => Some(encoding_rs::IBM866),
        "cp1251" => Some(encoding_rs::WINDOWS_1251),
        "cp1252" => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    }
}

/// A body declared in an aliased encoding, transcoded to UTF-8 with its declaration rewritten.
pub(super) fn transcode_alias(body: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn json_feed_variants(body: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn upgrade_atom03(body: &[u8]) -> Option<Vec<u8>> {
    const NS03: &[u8] = b"purl.org/atom/ns#";
    let head = &body[..body.len().min(4096)];
    // Only documents that mention the old namespace pay for the search in earnest.
    head.iter().position(|c| *c == b'#')?;
    head.windows(NS03.len()).position(|w| w[0] == b'p' && w == NS03)?;
    // Only ASCII-compatible encodings reach here with their markup intact (UTF-16 has NUL bytes);
    // the replacements are ASCII.
    if memchr::memchr(0, body).is_some() {
        return None;
    }
    // One pass for every rename (none of them can make or break another's match).
    static RENAMES: std::sync::LazyLock<(aho_corasick::AhoCorasick, Vec<&str>)> = std::sync::LazyLock::new(|| {
        let from = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(ATOM03_RENAMES.iter().map(|(from, _)| from))
            .expect("static patterns");
        (from, ATOM03_RENAMES.iter().map(|(_, to)| *to).collect())
    });
    let (from, to) = &*RENAMES;
    Some(from.replace_all_bytes(body, to))
}

/// Atom 0.3's names and their Atom 1.0 equivalents.
const ATOM03_RENAMES: [(&str, &str); 11] = [
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

pub(super) fn declared_encoding(body: &[u8]) -> Option<String> {
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
pub(super) fn lossy_utf8(body: &[u8]) -> Option<Vec<u8>> {
    let declared = declared_encoding(body).map(|e| e.to_ascii_lowercase());
    if declared.as_deref().is_some_and(|e| e != "utf-8" && e != "utf8") || std::str::from_utf8(body).is_ok() {
        return None;
    }
    Some(String::from_utf8_lossy(body).into_owned().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::ATOM03_RENAMES;

    /// A JSON Feed with one item, `version` and the item's fields as given.
    fn json_feed(version: &str, item: &str) -> Result<ParsedFeed> {
        let doc =
            format!(r#"{{"version": "{version}", "title": "J", "home_page_url": "https://j.example/", "items": [{{"url": "https://j.example/1", {item}}}]}}"#);
        parse(doc.as_bytes(), "https://j.example/feed.json", Some("application/feed+json"))
    }

    #[test]
    fn atom_03_is_read_as_atom_10_in_one_pass() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title><tagline mode="escaped" type="text/html">&lt;b&gt;Since&lt;/b&gt; 2004</tagline>
<modified>2005-03-01T10:00:00Z</modified>
<entry><id>tag:old,2005:1</id><title type="text/plain">Salt &amp; pepper</title><link rel="alternate" type="text/html" href="https://old.example/1"/>
<issued>2005-02-28T09:00:00Z</issued><modified>2005-03-01T10:00:00Z</modified>
<content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello</p></div></content>
<summary type="text/html" mode="escaped">&lt;p&gt;Hi&lt;/p&gt;</summary></entry></feed>"#;
        // The definition: each rename applied in turn over the whole document.
        let by_one = ATOM03_RENAMES.iter().fold(doc.to_string(), |text, (from, to)| text.replace(from, to));
        let upgraded = upgrade_atom03(doc.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(upgraded).unwrap(), by_one);
        assert!(by_one.contains("<subtitle type=\"html\">") && by_one.contains("<published>") && !by_one.contains("purl.org"));
        let feed = parse(doc.as_bytes(), "https://old.example/feed", None).unwrap();
        let entry = &feed.entries[0];
        assert_eq!(entry.title, "Salt & pepper");
        assert_eq!(entry.published.map(|d| d.to_rfc3339()).as_deref(), Some("2005-02-28T09:00:00+00:00"));
        assert_eq!(entry.updated.map(|d| d.to_rfc3339()).as_deref(), Some("2005-03-01T10:00:00+00:00"));
        assert!(entry.content.contains("<p>Hello</p>"), "{}", entry.content);
        // Not Atom 0.3, or not ASCII-compatible: left alone.
        assert_eq!(upgrade_atom03(b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><modified/></feed>"), None);
        let utf16: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(upgrade_atom03(&utf16), None);
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
