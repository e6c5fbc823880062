//! (parsed entries, known entries) -> what is new, updated, unchanged or gone, and what to queue.
//!
//! Pure. The store applies the verdicts in one transaction per feed.

use std::collections::{HashMap, HashSet};

use crate::config::Filters;
use crate::model::{Entry, digest};
use crate::text;

/// What the store knows of one entry of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: i64,
    pub key: String,
    pub link_norm: Option<String>,
    pub text_hash: String,
    pub gone: bool,
}

/// What became of one parsed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Never seen in this feed.
    New,
    /// Known (by key, or by link after an id change) with different text.
    Updated { id: i64 },
    /// Known with the same text. `rekey` when it was found by link under a new id; `reappeared` when it had gone.
    Unchanged { id: i64, rekey: bool, reappeared: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detected<'a> {
    pub entry: &'a Entry,
    pub link_norm: Option<String>,
    pub text_hash: String,
    pub verdict: Verdict,
    /// Put on the translation queue.
    pub queue: bool,
    /// Refused by the feed's include/exclude filters: recorded, never queued.
    pub filtered: bool,
    /// Content to store instead of the feed's (the full text of the page), set by the orchestrator.
    pub full_text: Option<String>,
    /// A note stored with the entry (e.g. why full-text extraction fell back to the feed's content).
    pub note: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Detection<'a> {
    pub items: Vec<Detected<'a>>,
    /// Known entries absent from the document: kept, marked gone.
    pub gone: Vec<i64>,
}

impl Detected<'_> {
    /// The content the store keeps: the page's full text, else the feed's, for an entry that goes
    /// on the queue; nothing for one that is only recorded (past `backfill`, refused by the
    /// filters), which is never read: its text hash tells an edit, and an edit brings its content
    /// again. (Most of a feed's first fetch is such entries.)
    pub fn stored_content(&self) -> &str {
        if !self.queue {
            return "";
        }
        self.full_text.as_deref().unwrap_or(&self.entry.content)
    }
}

impl Detection<'_> {
    pub fn count(&self, f: impl Fn(&Detected) -> bool) -> usize {
        self.items.iter().filter(|d| f(d)).count()
    }
}

/// Decides each entry's fate. `first_fetch` limits the queue to the newest `backfill` new entries.
pub fn detect<'a>(entries: &'a [Entry], known: &[Known], first_fetch: bool, backfill: usize, filters: &Filters) -> Detection<'a> {
    let by_key: HashMap<&str, &Known> = known.iter().map(|k| (k.key.as_str(), k)).collect();
    let mut by_link: HashMap<&str, Vec<&Known>> = HashMap::new();
    for k in known {
        if let Some(l) = &k.link_norm {
            by_link.entry(l.as_str()).or_default().push(k);
        }
    }
    let doc_keys: HashSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let links: Vec<Option<String>> = entries.iter().map(|e| e.link.as_deref().and_then(normalize_link)).collect();
    let mut link_count: HashMap<&str, usize> = HashMap::new();
    for l in links.iter().flatten() {
        *link_count.entry(l.as_str()).or_default() += 1;
    }

    let mut seen_keys = HashSet::new();
    let mut matched = HashSet::new();
    let mut items = Vec::with_capacity(entries.len());
    for (entry, link_norm) in entries.iter().zip(links.iter().cloned()) {
        // The same entry twice in one document: the first one counts.
        if !seen_keys.insert(entry.key.as_str()) {
            continue;
        }
        let text_hash = text_hash(entry);
        // An id that changed (simonwillison.net, 2026) is recognised by the link, when the link is
        // unique in the document and its known entry's old key is gone from it.
        let found = by_key.get(entry.key.as_str()).map(|k| (*k, false)).or_else(|| {
            let l = link_norm.as_deref()?;
            if link_count.get(l) != Some(&1) {
                return None;
            }
            let candidates = by_link.get(l)?;
            candidates.iter().find(|k| !doc_keys.contains(k.key.as_str()) && !matched.contains(&k.id)).map(|k| (*k, true))
        });
        let verdict = match found {
            None => Verdict::New,
            Some((k, _)) if k.text_hash != text_hash => Verdict::Updated { id: k.id },
            Some((k, rekey)) => Verdict::Unchanged { id: k.id, rekey, reappeared: k.gone },
        };
        if let Some((k, _)) = found {
            matched.insert(k.id);
        }
        let filtered = !filters.is_empty() && !filters.accepts(&[&entry.title, &text::markup_free(&entry.content), &entry.categories.join("\n")]);
        let queue = !filtered && !matches!(verdict, Verdict::Unchanged { .. });
        items.push(Detected { entry, link_norm, text_hash, verdict, queue, filtered, full_text: None, note: None });
    }

    if first_fetch {
        // Newest first by date; undated entries keep the document's order after the dated ones.
        let mut new: Vec<usize> = (0..items.len()).filter(|&i| items[i].verdict == Verdict::New && items[i].queue).collect();
        new.sort_by_key(|&i| (std::cmp::Reverse(items[i].entry.date()), i));
        for &i in new.iter().skip(backfill) {
            items[i].queue = false;
        }
    }

    let gone = known.iter().filter(|k| !k.gone && !matched.contains(&k.id)).map(|k| k.id).collect();
    Detection { items, gone }
}

/// A hash of what a reader reads: the title and the text, not the markup around it.
pub fn text_hash(entry: &Entry) -> String {
    digest(&[&text::collapse_whitespace(&entry.title), &text::markup_free(&entry.content)])
}

/// A link reduced to what identifies a page: no scheme, no "www.", no fragment, no tracking
/// parameters, no trailing slash.
pub fn normalize_link(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    let host = url.host_str()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut out = String::from(host);
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let path = url.path().trim_end_matches('/');
    out.push_str(if path.is_empty() { "/" } else { path });
    let query: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| !(k.starts_with("utm_") || k == "fbclid" || k == "gclid" || k == "ref" || k == "source"))
        .map(|(k, v)| if v.is_empty() { k.into_owned() } else { format!("{k}={v}") })
        .collect();
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::entry_key;

    fn entry(id: &str, link: &str, title: &str, body: &str) -> Entry {
        Entry {
            key: entry_key(id, Some(link), title, None),
            source_id: id.into(),
            link: Some(link.into()),
            title: title.into(),
            content: body.into(),
            ..Entry::default()
        }
    }

    fn known(id: i64, e: &Entry) -> Known {
        Known { id, key: e.key.clone(), link_norm: e.link.as_deref().and_then(normalize_link), text_hash: text_hash(e), gone: false }
    }

    fn verdicts(d: &Detection) -> Vec<(Verdict, bool)> {
        d.items.iter().map(|i| (i.verdict, i.queue)).collect()
    }

    #[test]
    fn normalized_links() {
        let cases = [
            ("https://simonwillison.net/2024/Dec/31/llms/#atom-everything", "simonwillison.net/2024/Dec/31/llms"),
            ("http://www.Example.org/a/?utm_source=rss&b=1", "example.org/a?b=1"),
            ("https://example.org", "example.org/"),
            ("https://example.org:8443/x", "example.org:8443/x"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_link(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(normalize_link("not a url"), None);
    }

    #[test]
    fn new_unchanged_updated_gone() {
        let a = entry("a", "https://e.org/a", "A", "<p>one</p>");
        let b = entry("b", "https://e.org/b", "B", "<p>two</p>");
        let c = entry("c", "https://e.org/c", "C", "<p>three</p>");
        let b2 = entry("b", "https://e.org/b", "B", "<p>two, edited</p>");
        let known = [known(1, &a), known(2, &b), known(3, &c)];
        let doc = [a.clone(), b2, entry("d", "https://e.org/d", "D", "<p>four</p>")];
        let d = detect(&doc, &known, false, 10, &Filters::default());
        assert_eq!(
            verdicts(&d),
            [(Verdict::Unchanged { id: 1, rekey: false, reappeared: false }, false), (Verdict::Updated { id: 2 }, true), (Verdict::New, true),]
        );
        assert_eq!(d.gone, [3]);
    }

    #[test]
    fn the_text_hash_of_a_real_post_is_the_one_stores_already_hold() {
        // Stores keep this hash for every entry: if it changed, every known entry would be taken
        // for an update and translated again. The value is the one earlier versions stored.
        let html = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llms-in-2024.html")).unwrap();
        let e = Entry { title: " LLMs  in 2024 ".into(), content: html, ..Entry::default() };
        assert_eq!(text_hash(&e), "0558943938960bdad9abd52c15d1bf71");
    }

    #[test]
    fn markup_churn_is_not_an_update() {
        let a = entry("a", "https://e.org/a", "A", r#"<p class="s-1">Same <a href="/x">words</a></p>"#);
        let churned = entry("a", "https://e.org/a", "A", r#"<div class="s-2"><p>Same <a href="/x" rel="nofollow">words</a></p></div>"#);
        let d = detect(std::slice::from_ref(&churned), &[known(1, &a)], false, 10, &Filters::default());
        assert_eq!(verdicts(&d), [(Verdict::Unchanged { id: 1, rekey: false, reappeared: false }, false)]);
    }

    #[test]
    fn simonwillison_id_change_is_not_a_new_post() {
        let old = entry("https://simonwillison.net/2026/Jun/1/post/#atom-everything", "https://simonwillison.net/2026/Jun/1/post/", "Post", "<p>x</p>");
        let new = entry("https://simonwillison.net/2026/Jun/1/post/", "https://simonwillison.net/2026/Jun/1/post/", "Post", "<p>x</p>");
        let d = detect(std::slice::from_ref(&new), &[known(7, &old)], false, 10, &Filters::default());
        assert_eq!(verdicts(&d), [(Verdict::Unchanged { id: 7, rekey: true, reappeared: false }, false)]);
        assert!(d.gone.is_empty());
    }

    #[test]
    fn shared_links_do_not_merge_distinct_entries() {
        // A feed whose entries all link to its home page: new ids are new posts.
        let old = entry("1", "https://e.org/", "One", "<p>1</p>");
        let doc = [entry("2", "https://e.org/", "Two", "<p>2</p>"), entry("3", "https://e.org/", "Three", "<p>3</p>")];
        let d = detect(&doc, &[known(1, &old)], false, 10, &Filters::default());
        assert_eq!(verdicts(&d), [(Verdict::New, true), (Verdict::New, true)]);
    }

    #[test]
    fn tombstoned_entry_that_reappears_is_not_new() {
        let a = entry("a", "https://e.org/a", "A", "<p>one</p>");
        let mut k = known(1, &a);
        k.gone = true;
        let d = detect(std::slice::from_ref(&a), &[k], false, 10, &Filters::default());
        assert_eq!(verdicts(&d), [(Verdict::Unchanged { id: 1, rekey: false, reappeared: true }, false)]);
        assert!(d.gone.is_empty());
    }

    #[test]
    fn first_fetch_queues_only_the_newest_backfill() {
        let mut doc: Vec<Entry> = (0..5).map(|i| entry(&i.to_string(), &format!("https://e.org/{i}"), "t", "<p>b</p>")).collect();
        for (i, e) in doc.iter_mut().enumerate() {
            // Entry 3 is the newest, then 1, 4, 0, 2.
            let day = [2, 4, 1, 5, 3][i];
            e.published = crate::parse::parse_timestamp(&format!("2024-01-0{day}"));
        }
        let d = detect(&doc, &[], true, 2, &Filters::default());
        let queued: Vec<&str> = d.items.iter().filter(|i| i.queue).map(|i| i.entry.source_id.as_str()).collect();
        assert_eq!(queued, ["1", "3"]);
        assert_eq!(d.count(|i| i.verdict == Verdict::New), 5);
        let all = detect(&doc, &[], false, 2, &Filters::default());
        assert_eq!(all.count(|i| i.queue), 5);
    }

    #[test]
    fn filtered_entries_are_recorded_not_queued() {
        let config = crate::config::Config::parse("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\nexclude = [\"sponsored\"]\n").unwrap();
        let doc = [entry("a", "https://e.org/a", "Sponsored: buy", "<p>x</p>"), entry("b", "https://e.org/b", "Real", "<p>y</p>")];
        let d = detect(&doc, &[], false, 10, &config.feeds[0].filters);
        let got: Vec<(bool, bool)> = d.items.iter().map(|i| (i.filtered, i.queue)).collect();
        assert_eq!(got, [(true, false), (false, true)]);
    }

    #[test]
    fn duplicate_entries_in_one_document_count_once() {
        let a = entry("a", "https://e.org/a", "A", "<p>one</p>");
        let doc = [a.clone(), a];
        let d = detect(&doc, &[], false, 10, &Filters::default());
        assert_eq!(d.items.len(), 1);
    }
}
