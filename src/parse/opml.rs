//! OPML subscription lists (what feed readers export) -> the feeds in them, by roxmltree. Any
//! encoding the XML declares; outlines nested in folders at any depth; the attribute names real
//! exporters write in other cases (`xmlurl`, `XMLURL`).

/// One subscription in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The feed's URL (`xmlUrl`), as written.
    pub url: String,
    /// `title`, else `text`; may be empty.
    pub title: String,
    /// The folders it sits in, outermost first (their `text`).
    pub folders: Vec<String>,
}

/// Why an OPML file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("not an OPML file: the root element is <{0}>, not <opml>")]
    NotOpml(String),
    #[error("an OPML file without a <body>")]
    NoBody,
}

/// Every outline with a feed URL, in document order.
pub fn subscriptions(body: &[u8]) -> Result<Vec<Subscription>, OpmlError> {
    let text = decode(body);
    let doc = roxmltree::Document::parse_with_options(&text, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
        .map_err(|e| OpmlError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("opml") {
        return Err(OpmlError::NotOpml(root.tag_name().name().to_string()));
    }
    let body = root.children().find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("body")).ok_or(OpmlError::NoBody)?;
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), &mut out);
    Ok(out)
}

fn walk(node: roxmltree::Node, folders: &mut Vec<String>, out: &mut Vec<Subscription>) {
    for outline in node.children().filter(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("outline")) {
        let attr = |name: &str| outline.attributes().find(|a| a.name().eq_ignore_ascii_case(name)).map(|a| a.value().trim().to_string());
        let title = attr("title").filter(|t| !t.is_empty()).or_else(|| attr("text")).unwrap_or_default();
        match attr("xmlUrl").filter(|u| !u.is_empty()) {
            Some(url) => out.push(Subscription { url, title, folders: folders.clone() }),
            None => {
                folders.push(title);
                walk(outline, folders, out);
                folders.pop();
            }
        }
    }
}

/// The file as text: UTF-8 (with or without a BOM), else the encoding its declaration names.
fn decode(body: &[u8]) -> String {
    let (enc, bom) = encoding_rs::Encoding::for_bom(body).unwrap_or((encoding_rs::UTF_8, 0));
    let body = &body[bom..];
    let declared =
        super::repair::declared_encoding(body).and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()).or_else(|| super::repair::encoding_alias(&l)));
    let enc = if bom > 0 { enc } else { declared.unwrap_or(encoding_rs::UTF_8) };
    let (text, _) = enc.decode_without_bom_handling(body);
    // roxmltree reads UTF-8 only: a declaration naming another encoding is dropped with it.
    match (enc != encoding_rs::UTF_8, text.starts_with("<?xml"), text.find("?>")) {
        (true, true, Some(end)) => text[end + 2..].to_string(),
        _ => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_folders_and_attribute_case() {
        let opml = br#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
            <outline text="Tech"><outline text="Inner"><outline type="rss" text="A" title="A blog" xmlUrl="https://a.org/feed"/></outline></outline>
            <outline text="B" xmlurl=" https://b.org/rss "/>
            <outline text="no url"/>
        </body></opml>"#;
        let subs = subscriptions(opml).unwrap();
        assert_eq!(
            subs,
            [
                Subscription { url: "https://a.org/feed".into(), title: "A blog".into(), folders: vec!["Tech".into(), "Inner".into()] },
                Subscription { url: "https://b.org/rss".into(), title: "B".into(), folders: vec![] },
            ]
        );
    }

    #[test]
    fn declared_latin1_is_read() {
        let mut opml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><opml version=\"1.1\"><body><outline text=\"Caf".to_vec();
        opml.push(0xe9);
        opml.extend_from_slice(b"\" xmlUrl=\"https://c.org/\"/></body></opml>");
        assert_eq!(subscriptions(&opml).unwrap()[0].title, "Café");
    }

    #[test]
    fn not_opml_is_said_plainly() {
        assert!(matches!(subscriptions(b"<rss><channel/></rss>"), Err(OpmlError::NotOpml(r)) if r == "rss"));
        assert!(matches!(subscriptions(b"<opml><head/></opml>"), Err(OpmlError::NoBody)));
        assert!(matches!(subscriptions(b"<opml><body>"), Err(OpmlError::Xml(_))));
    }
}
