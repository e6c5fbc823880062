//! Atom 1.0 (atom_syndication), RSS 2.0 (rss) and JSON Feed 1.1 renderers. Pure.

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use super::entry::Published;

/// What a published feed says about itself.
#[derive(Debug, Clone)]
pub struct Channel {
    pub title: String,
    pub description: String,
    pub lang: String,
    /// The page readers visit (the source site, or polyfeed's index).
    pub home_url: String,
    /// This feed's own URL, per format, from `public_url`.
    pub atom_url: String,
    pub rss_url: String,
    pub json_url: String,
    /// The WebSub hub the feed names (`[publish] websub_hub`).
    pub hub: Option<String>,
    /// The original feed (for `source` elements), when this is one feed's translation.
    pub source: Option<Source>,
}

impl Channel {
    /// A feed of polyfeed's own whose files live in `dir` under output/ (`url` makes a path under
    /// output/ public), its home polyfeed's index.
    pub fn new(url: &dyn Fn(&str) -> String, dir: &str, lang: &str, title: String, description: String, hub: Option<&str>) -> Channel {
        Channel {
            title,
            description,
            lang: lang.to_string(),
            home_url: url("index.html"),
            atom_url: url(&format!("{dir}/atom.xml")),
            rss_url: url(&format!("{dir}/rss.xml")),
            json_url: url(&format!("{dir}/feed.json")),
            hub: hub.map(str::to_string),
            source: None,
        }
    }
}

/// The original feed an entry comes from.
#[derive(Debug, Clone)]
pub struct Source {
    pub title: String,
    pub url: String,
    pub site_url: Option<String>,
}

const GENERATOR: &str = "polyfeed";

/// The three feed formats, each with its renderer and the parser that must read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Atom => "atom.xml",
            Format::Rss => "rss.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn render(self, channel: &Channel, entries: &[(Published, Option<Source>)]) -> String {
        match self {
            Format::Atom => atom(channel, entries),
            Format::Rss => rss(channel, entries),
            Format::Json => json_feed(channel, entries),
        }
    }

    /// Reads a document back as a reader would: XML with a strict XML 1.0 parser, JSON with serde.
    pub fn check(self, doc: &str) -> Result<(), String> {
        match self {
            Format::Atom | Format::Rss => roxmltree::Document::parse(doc).map(|_| ()).map_err(|e| e.to_string()),
            Format::Json => serde_json::from_str::<serde_json::Value>(doc).map(|_| ()).map_err(|e| e.to_string()),
        }
    }

    /// The document, checked: an entry that makes it unreadable is left out (with why), so that
    /// one bad post never costs subscribers the whole feed. Err only if the rest still fails.
    pub fn render_checked(self, channel: &Channel, entries: &[(Published, Option<Source>)]) -> Result<(String, Vec<(String, String)>), String> {
        let doc = self.render(channel, entries);
        if self.check(&doc).is_ok() {
            return Ok((doc, Vec::new()));
        }
        let mut kept = Vec::new();
        let mut left_out = Vec::new();
        for e in entries {
            match self.check(&self.render(channel, std::slice::from_ref(e))) {
                Ok(()) => kept.push(e.clone()),
                Err(why) => left_out.push((e.0.id.clone(), why)),
            }
        }
        let doc = self.render(channel, &kept);
        self.check(&doc)?;
        Ok((doc, left_out))
    }
}

fn updated(entries: &[(Published, Option<Source>)]) -> DateTime<Utc> {
    entries.iter().map(|(e, _)| e.updated).max().unwrap_or_else(|| DateTime::from_timestamp(0, 0).expect("epoch"))
}

fn fixed(d: DateTime<Utc>) -> DateTime<FixedOffset> {
    d.fixed_offset()
}

/// An Atom 1.0 document.
fn atom(channel: &Channel, entries: &[(Published, Option<Source>)]) -> String {
    let link = |href: &str, rel: &str, ty: Option<&str>| atom::Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: ty.map(str::to_string),
        ..Default::default()
    };
    let feed = atom::Feed {
        title: atom::Text::plain(&channel.title),
        id: channel.atom_url.clone(),
        updated: fixed(updated(entries)),
        subtitle: Some(atom::Text::plain(&channel.description)),
        generator: Some(atom::Generator { value: GENERATOR.into(), version: Some(env!("CARGO_PKG_VERSION").into()), ..Default::default() }),
        links: [link(&channel.atom_url, "self", Some("application/atom+xml")), link(&channel.home_url, "alternate", Some("text/html"))]
            .into_iter()
            .chain(channel.hub.iter().map(|h| link(h, "hub", None)))
            .collect(),
        lang: Some(channel.lang.clone()),
        entries: entries
            .iter()
            .map(|(e, source)| atom::Entry {
                title: atom::Text::plain(&e.title),
                id: e.id.clone(),
                updated: fixed(e.updated),
                published: Some(fixed(e.published)),
                authors: e.authors.iter().map(|a| atom::Person { name: a.clone(), ..Default::default() }).collect(),
                categories: e.categories.iter().map(|c| atom::Category { term: c.clone(), ..Default::default() }).collect(),
                links: e.link.iter().map(|l| link(l, "alternate", Some("text/html"))).collect(),
                summary: e.summary.as_ref().map(|s| atom::Text::plain(format!("{}{s}", super::entry::words(&e.lang).summary))),
                content: Some(atom::Content {
                    value: Some(e.body.clone()),
                    content_type: Some("html".into()),
                    lang: Some(e.lang.clone()),
                    ..Default::default()
                }),
                source: source.as_ref().map(|s| atom::Source {
                    title: atom::Text::plain(&s.title),
                    id: s.url.clone(),
                    updated: fixed(e.updated),
                    links: std::iter::once(link(&s.url, "self", None)).chain(s.site_url.iter().map(|u| link(u, "alternate", Some("text/html")))).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    feed.to_string()
}

/// An RSS 2.0 document.
fn rss(channel: &Channel, entries: &[(Published, Option<Source>)]) -> String {
    let atom_ext = rss::extension::atom::AtomExtension {
        links: std::iter::once(atom::Link {
            href: channel.rss_url.clone(),
            rel: "self".into(),
            mime_type: Some("application/rss+xml".into()),
            ..Default::default()
        })
        .chain(channel.hub.iter().map(|h| atom::Link { href: h.clone(), rel: "hub".into(), ..Default::default() }))
        .collect(),
    };
    let ch = rss::Channel {
        title: channel.title.clone(),
        link: channel.home_url.clone(),
        description: channel.description.clone(),
        language: Some(channel.lang.clone()),
        generator: Some(GENERATOR.into()),
        last_build_date: Some(updated(entries).to_rfc2822()),
        atom_ext: Some(atom_ext),
        items: entries
            .iter()
            .map(|(e, source)| rss::Item {
                title: Some(e.title.clone()),
                link: e.link.clone(),
                description: Some(e.body.clone()),
                guid: Some(rss::Guid { value: e.id.clone(), permalink: false }),
                pub_date: Some(e.published.to_rfc2822()),
                categories: e.categories.iter().map(|c| rss::Category { name: c.clone(), domain: None }).collect(),
                source: source.as_ref().map(|s| rss::Source { url: s.url.clone(), title: Some(s.title.clone()) }),
                dublin_core_ext: (!e.authors.is_empty())
                    .then(|| rss::extension::dublincore::DublinCoreExtension { creators: e.authors.clone(), ..Default::default() }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    ch.to_string()
}

/// A JSON Feed 1.1 document.
fn json_feed(channel: &Channel, entries: &[(Published, Option<Source>)]) -> String {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|(e, source)| {
            let mut item = json!({
                "id": e.id,
                "title": e.title,
                "content_html": e.body,
                "date_published": e.published.to_rfc3339(),
                "date_modified": e.updated.to_rfc3339(),
                "language": e.lang,
            });
            if let Some(s) = &e.summary {
                item["summary"] = json!(format!("{}{s}", super::entry::words(&e.lang).summary));
            }
            if let Some(link) = &e.link {
                item["url"] = json!(link);
                item["external_url"] = json!(link);
            }
            if !e.authors.is_empty() {
                item["authors"] = json!(e.authors.iter().map(|a| json!({"name": a})).collect::<Vec<_>>());
            }
            if !e.categories.is_empty() {
                item["tags"] = json!(e.categories);
            }
            if let Some(s) = source {
                item["_polyfeed"] = json!({"source": {"title": s.title, "feed_url": s.url, "home_page_url": s.site_url}});
            }
            item
        })
        .collect();
    let mut doc = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "description": channel.description,
        "home_page_url": channel.home_url,
        "feed_url": channel.json_url,
        "language": channel.lang,
        "items": items,
    });
    if let Some(hub) = &channel.hub {
        doc["hubs"] = json!([{"type": "WebSub", "url": hub}]);
    }
    serde_json::to_string_pretty(&doc).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(id: &str, title: &str) -> Published {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Published {
            id: id.into(),
            feed: "f".into(),
            lang: "zh-CN".into(),
            title: title.into(),
            title_translated: title.into(),
            title_original: title.into(),
            link: Some(format!("https://e.org/{id}")),
            authors: vec![],
            categories: vec![],
            published: at,
            updated: at,
            body: "<p>正文</p>".into(),
            bilingual: String::new(),
            translated: String::new(),
            slug: id.into(),
            summary: None,
        }
    }

    #[test]
    fn an_entry_that_breaks_a_feed_is_left_out_and_the_rest_published() {
        let channel = Channel {
            title: "t".into(),
            description: "d".into(),
            lang: "zh-CN".into(),
            home_url: "https://e.org/".into(),
            atom_url: "https://p.org/atom.xml".into(),
            rss_url: "https://p.org/rss.xml".into(),
            json_url: "https://p.org/feed.json".into(),
            hub: None,
            source: None,
        };
        // A title that bypassed every earlier guard.
        let entries = vec![(published("a", "好"), None), (published("b", "坏\u{1}"), None), (published("c", "好"), None)];
        for format in [Format::Atom, Format::Rss] {
            assert!(format.check(&format.render(&channel, &entries)).is_err(), "{format:?}: the test needs a bad document");
            let (doc, left_out) = format.render_checked(&channel, &entries).unwrap();
            assert_eq!(left_out.len(), 1, "{format:?}");
            assert_eq!(left_out[0].0, "b");
            assert!(doc.contains("https://e.org/a") && doc.contains("https://e.org/c") && !doc.contains("https://e.org/b"), "{doc}");
        }
        // JSON escapes control characters: the entry stays.
        let (_, left_out) = Format::Json.render_checked(&channel, &entries).unwrap();
        assert!(left_out.is_empty());
    }
}
