//! feeds.toml edited in place (toml_edit): feeds appended or removed with every comment, blank
//! line and key order elsewhere kept. Pure, text in and text out; `write` puts the result in place
//! atomically once `Config::parse` accepts it, so a bad edit never reaches the file.

use std::collections::HashSet;
use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::{Config, ConfigError, is_free_name, is_slug};

/// Why feeds.toml could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `feeds` is written in a form the editor does not rewrite (an inline array).
    #[error("`feeds` is written as an inline array; write each feed as a [[feeds]] table to edit it with polyfeed")]
    InlineFeeds,
    #[error("no feed named {0:?} in the config")]
    NoSuchFeed(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// A feed to append: its name is already chosen (see `unique_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeed {
    pub name: String,
    pub url: String,
    /// Written as a comment above the table, on one line.
    pub title: Option<String>,
    pub allow_private_network: bool,
}

/// The config with `feeds` appended as [[feeds]] tables after the last one.
pub fn add_feeds(text: &str, feeds: &[NewFeed]) -> Result<String, EditError> {
    let mut doc = document(text)?;
    // Comments right after the last table's keys (up to a blank line) are the document's trailing
    // text, but they belong to that table: they stay above the new tables; the rest stays last.
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    let (before, after) = split_paragraph(&trailing);
    let mut before = before.to_string();
    doc.set_trailing(after);
    let tables = feeds_tables(&mut doc)?;
    for feed in feeds {
        let mut t = Table::new();
        t.insert("name", value(&feed.name));
        t.insert("url", value(&feed.url));
        if feed.allow_private_network {
            t.insert("allow_private_network", value(true));
        }
        let title = feed.title.as_deref().map(one_line).filter(|t| !t.is_empty());
        let comment = title.map(|t| format!("# {t}\n")).unwrap_or_default();
        t.decor_mut().set_prefix(format!("{}\n{comment}", std::mem::take(&mut before)));
        tables.push(t);
    }
    let out = doc.to_string();
    Config::parse(&out)?;
    Ok(out)
}

/// The config without the [[feeds]] table named `name` (and the comments written above it).
pub fn remove_feed(text: &str, name: &str) -> Result<String, EditError> {
    let mut doc = document(text)?;
    let tables = feeds_tables(&mut doc)?;
    let at = tables.iter().position(|t| t.get("name").and_then(Item::as_str) == Some(name)).ok_or_else(|| EditError::NoSuchFeed(name.to_string()))?;
    // The comment right above the table is its own and goes with it; text before a blank line
    // above it is not, and stays where the table was.
    let prefix = tables.get(at).and_then(|t| t.decor().prefix()).and_then(|p| p.as_str()).unwrap_or("").to_string();
    let kept = prefix.rfind("\n\n").map_or("", |i| &prefix[..i + 1]).to_string();
    tables.remove(at);
    match tables.get_mut(at) {
        Some(next) if !kept.trim().is_empty() => {
            let p = next.decor().prefix().and_then(|p| p.as_str()).unwrap_or("").to_string();
            next.decor_mut().set_prefix(format!("{kept}{p}"));
        }
        _ if !kept.trim().is_empty() => {
            let t = doc.trailing().as_str().unwrap_or("").to_string();
            doc.set_trailing(format!("{kept}{t}"));
        }
        _ => {}
    }
    if doc.get("feeds").and_then(Item::as_array_of_tables).is_some_and(ArrayOfTables::is_empty) {
        doc.remove("feeds");
    }
    let out = doc.to_string();
    Config::parse(&out)?;
    Ok(out)
}

/// (the first paragraph, the rest from the blank line on).
fn split_paragraph(text: &str) -> (&str, &str) {
    match text.find("\n\n") {
        Some(i) => (&text[..i + 1], &text[i + 1..]),
        None => (text, ""),
    }
}

/// A slug for a new feed that no feed in `taken` has: the site's name from the URL's host
/// (`https://www.example.org/feed` -> `example`), then with the first path segment, then numbered.
pub fn unique_name(url: &str, taken: &HashSet<String>) -> String {
    let parsed = url::Url::parse(url).ok();
    let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("feed").trim_start_matches("www.");
    let labels: Vec<&str> = host.split('.').collect();
    let site = if labels.len() > 1 && host.parse::<std::net::IpAddr>().is_err() { labels[..labels.len() - 1].join("-") } else { host.to_string() };
    let first_segment = parsed
        .as_ref()
        .and_then(|u| u.path_segments())
        .and_then(|s| {
            s.map(|p| p.rsplit_once('.').map_or(p, |(stem, _)| stem)).find(|p| !p.is_empty() && !matches!(*p, "feed" | "feeds" | "rss" | "atom" | "index"))
        })
        .map(str::to_string);
    let mut candidates = vec![slugify(&site)];
    if let Some(seg) = first_segment {
        candidates.push(slugify(&format!("{site}-{seg}")));
    }
    let free = |c: &str| is_free_name(c, taken);
    if let Some(c) = candidates.iter().find(|c| free(c)) {
        return c.clone();
    }
    let base = candidates.into_iter().find(|c| is_slug(c)).unwrap_or_else(|| "feed".to_string());
    (2..).map(|n| format!("{}-{n}", truncate_slug(&base, 60))).find(|c| free(c)).expect("some number is free")
}

/// Writes the edited config over `path` atomically: a temporary file beside it, renamed.
pub fn write(path: &Path, text: &str) -> Result<(), EditError> {
    let err = |source| EditError::Write { path: path.display().to_string(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.polyfeed-edit", path.file_name().and_then(|n| n.to_str()).unwrap_or("feeds.toml")));
    std::fs::write(&tmp, text).map_err(err)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(err)?;
    }
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

fn document(text: &str) -> Result<DocumentMut, EditError> {
    // The text is a valid config first, so that an error names its line as loading would.
    Config::parse(text)?;
    Ok(text.parse::<DocumentMut>().expect("a config that parses is TOML"))
}

fn feeds_tables(doc: &mut DocumentMut) -> Result<&mut ArrayOfTables, EditError> {
    if !doc.contains_key("feeds") {
        doc.insert("feeds", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    doc["feeds"].as_array_of_tables_mut().ok_or(EditError::InlineFeeds)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect()
}

fn slugify(s: &str) -> String {
    truncate_slug(&crate::text::slug(s), 64)
}

fn truncate_slug(s: &str, max: usize) -> String {
    s.chars().take(max).collect::<String>().trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# my feeds\ntarget_languages = [\"zh-CN\"]  # Chinese\n\n[[feeds]]\n# the first one\nname = \"a\"\nurl = \"https://a.org/feed\"\n\n[publish]\n# keep me\nmode = \"translated\"\n";

    fn feed(name: &str, url: &str) -> NewFeed {
        NewFeed { name: name.into(), url: url.into(), title: Some("B's\nblog".into()), allow_private_network: false }
    }

    #[test]
    fn adding_keeps_every_comment_and_table() {
        let out = add_feeds(CONFIG, &[feed("b", "https://b.org/atom.xml")]).unwrap();
        for kept in ["# my feeds", "# Chinese", "# the first one", "# keep me", "mode = \"translated\""] {
            assert!(out.contains(kept), "lost {kept:?}:\n{out}");
        }
        assert!(out.contains("# B's blog\n[[feeds]]\nname = \"b\"\nurl = \"https://b.org/atom.xml\"\n"), "{out}");
        let c = Config::parse(&out).unwrap();
        assert_eq!(c.feeds.iter().map(|f| f.name()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.publish.mode, crate::config::publish::BilingualMode::Translated);
    }

    #[test]
    fn adding_to_a_config_without_feeds_and_removing_again() {
        let out = add_feeds("# only a comment\n", &[feed("b", "https://b.org/")]).unwrap();
        assert!(out.starts_with("# only a comment\n"), "{out}");
        assert_eq!(Config::parse(&out).unwrap().feeds.len(), 1);
        let back = remove_feed(&out, "b").unwrap();
        assert!(Config::parse(&back).unwrap().feeds.is_empty());
        assert!(back.starts_with("# only a comment\n"));
    }

    #[test]
    fn comments_after_the_last_feed_stay_with_it() {
        let shipped = include_str!("../../feeds.toml");
        let out = add_feeds(shipped, &[feed("b", "https://b.org/")]).unwrap();
        let (mine, new) = (out.find("# full_text = true").unwrap(), out.find("name = \"b\"").unwrap());
        let commented_sections = out.find("# The three commented sections below").unwrap();
        assert!(mine < new && new < commented_sections, "{out}");
        assert_eq!(remove_feed(&out, "b").unwrap(), shipped.trim_end().to_string() + "\n");
    }

    #[test]
    fn removing_takes_the_table_and_its_comment_only() {
        let two = add_feeds(CONFIG, &[feed("b", "https://b.org/")]).unwrap();
        let out = remove_feed(&two, "a").unwrap();
        assert!(!out.contains("# the first one") && !out.contains("https://a.org/feed"), "{out}");
        assert!(out.contains("# keep me") && out.contains("# my feeds"), "{out}");
        assert_eq!(Config::parse(&out).unwrap().feeds.iter().map(|f| f.name()).collect::<Vec<_>>(), ["b"]);
        assert!(matches!(remove_feed(CONFIG, "zz"), Err(EditError::NoSuchFeed(n)) if n == "zz"));
    }

    #[test]
    fn an_edit_that_breaks_the_config_is_refused() {
        let e = add_feeds(CONFIG, &[feed("a", "https://other.org/")]).unwrap_err().to_string();
        assert!(e.contains("duplicate feed name \"a\""), "{e}");
        let e = add_feeds(CONFIG, &[feed("b", "ftp://b.org/")]).unwrap_err().to_string();
        assert!(e.contains("feeds.url"), "{e}");
        let inline = "feeds = [{ name = \"a\", url = \"https://a.org/\" }]\n";
        assert!(matches!(add_feeds(inline, &[feed("b", "https://b.org/")]), Err(EditError::InlineFeeds)));
    }

    #[test]
    fn names_come_from_the_host_and_never_clash() {
        let taken: HashSet<String> = ["example".to_string(), "blog".to_string()].into();
        let cases = [
            ("https://simonwillison.net/atom/everything/", "simonwillison"),
            ("https://www.rust-lang.org/feed.xml", "rust-lang"),
            ("https://example.org/feed", "example-2"),
            ("https://example.org/team/atom.xml", "example-team"),
            ("https://example.org/feed/comments.rss", "example-comments"),
            ("https://blog.example.co.uk/", "blog-example-co"),
            ("http://127.0.0.1:8080/feed", "127-0-0-1"),
            ("https://ALL.example/", "all-2"),
        ];
        for (url, want) in cases {
            assert_eq!(unique_name(url, &taken), want, "{url}");
        }
        let all: HashSet<String> = HashSet::new();
        assert_eq!(unique_name("https://all/", &all), "all-2");
    }
}
