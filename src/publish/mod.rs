//! Publishing: bilingual Atom, RSS and JSON feeds per feed and merged, Markdown posts, and the
//! HTML site. Renderers are pure; `writer` is the only I/O. Publishing is incremental: a feed's
//! files are redone only when its translations changed, posts and pages only for translations
//! made since the last run.

/// The `[publish]` table lives with the rest of the config (the bottom layer).
pub use crate::config::publish as config;
pub mod digest;
pub mod entry;
pub mod feeds;
pub mod markdown;
pub mod sanitize;
pub mod site;
pub mod writer;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::model::digest;
use crate::store::{PublishItem, PublishStore, StoreError};
use entry::Published;
use feeds::{Channel, Source};

/// Publishing failed; what was written before the failure is whole (atomic writes).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file could not be written (disk full, permissions).
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    /// A rendered feed does not read back even without its bad entries; the old file stays.
    #[error("{path} would not parse ({reason}); the file published before is kept")]
    Invalid { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, PublishError>;

/// What a publish did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Files written because their content changed.
    pub written: usize,
    /// Files rendered whose content was already there.
    pub unchanged: usize,
    /// Feeds (per language) redone.
    pub feeds: usize,
    /// Posts redone.
    pub posts: usize,
    /// Entries left out of a feed file because they made it unreadable (each is logged).
    pub left_out: usize,
    /// Another process sharing the store holds the publishing lease: it writes `output/`.
    pub elsewhere: bool,
    /// The public URLs of the feed files whose content changed (for the WebSub hub).
    #[serde(skip)]
    pub changed_feeds: Vec<String>,
}

struct Out<'a> {
    dir: &'a Path,
    report: Report,
    batch: writer::Batch,
}

impl Out<'_> {
    /// Writes `rel` if its content changed; says whether it did.
    fn write(&mut self, rel: &str, content: &str) -> Result<bool> {
        let path: PathBuf = self.dir.join(rel);
        let written = self.batch.write(&path, content.as_bytes()).map_err(|source| PublishError::Write { path: path.display().to_string(), source })?;
        if written {
            self.report.written += 1;
        } else {
            self.report.unchanged += 1;
        }
        Ok(written)
    }
}

/// The most posts one digest entry lists.
const DIGEST_MAX_POSTS: usize = 500;

/// How long one publish may hold `output/` before another process may take over.
const PUBLISH_LEASE_SECS: i64 = 300;

/// Publishes what changed since the last publish, unless another process sharing the store is
/// publishing (then `Report::elsewhere` is set and nothing is written here).
pub fn publish(config: &Config, store: &dyn PublishStore) -> Result<Report> {
    if !store.claim_publish(PUBLISH_LEASE_SECS)? {
        return Ok(Report { elsewhere: true, ..Report::default() });
    }
    let result = publish_claimed(config, store);
    store.release_publish()?;
    result
}

fn publish_claimed(config: &Config, store: &dyn PublishStore) -> Result<Report> {
    let marks = store.publish_marks()?;
    let settings = settings_hash(config);
    let mut out = Out { dir: &config.output_dir, report: Report::default(), batch: writer::Batch::default() };
    let mut new_marks: Vec<(String, String)> = Vec::new();
    let base = config.publish.base_url();
    let max = *config.publish.max_entries.get_ref();

    let feeds: Vec<&crate::config::FeedConfig> = config.enabled_feeds().collect();
    let mut metas = HashMap::new();
    for f in &feeds {
        metas.insert(f.name().to_string(), store.feed_meta(f.name())?.unwrap_or_default());
    }
    let source_of = |name: &str| -> Option<Source> {
        let f = config.feed(name)?;
        let meta = metas.get(name)?;
        Some(Source {
            title: if meta.title.is_empty() { name.to_string() } else { meta.title.clone() },
            url: f.url().to_string(),
            site_url: meta.site_url.clone(),
        })
    };
    // An entry appears in its feed, the merged feed, the index and its post: built once per run.
    let built: std::cell::RefCell<HashMap<(i64, String), Published>> = Default::default();
    let build = |item: &PublishItem| -> Published {
        let key = (item.entry.id, item.translation.lang.clone());
        if let Some(p) = built.borrow().get(&key) {
            return p.clone();
        }
        let authors = metas.get(&item.entry.feed).map(|m| m.authors.clone()).unwrap_or_default();
        let p = entry::build(item, &authors, config);
        built.borrow_mut().insert(key, p.clone());
        p
    };
    let url = |rel: &str| base.join(rel).map(|u| u.to_string()).unwrap_or_default();

    // Each feed, each language: redone when its translations changed.
    let mut langs: BTreeSet<String> = BTreeSet::new();
    let mut changed_langs: BTreeSet<String> = BTreeSet::new();
    for f in &feeds {
        for lang in f.languages(config) {
            langs.insert(lang.to_string());
            let key = format!("feed:{}:{lang}", f.name());
            let fingerprint = format!("{settings}:{}", store.publish_fingerprint(f.name(), lang)?);
            if marks.get(&key) == Some(&fingerprint) && out.dir.join(f.name()).join(lang).join("atom.xml").exists() {
                continue;
            }
            let items: Vec<(Published, Option<Source>)> =
                store.publish_items(Some(f.name()), lang, max)?.iter().map(|i| (build(i), source_of(f.name()))).collect();
            let source = source_of(f.name()).expect("configured feed");
            let title = format!("{} [{lang}]", source.title);
            let description = format!("{}, translated into {} by polyfeed", source.title, crate::translate::prompt::language_name(lang));
            let own = Channel::new(&url, &format!("{}/{lang}", f.name()), lang, title, description, config.publish.hub());
            let channel = Channel { home_url: source.site_url.clone().unwrap_or(own.home_url.clone()), source: Some(source), ..own };
            write_feed(&mut out, &format!("{}/{lang}", f.name()), &channel, &items)?;
            out.report.feeds += 1;
            changed_langs.insert(lang.to_string());
            new_marks.push((key, fingerprint));
        }
    }

    // Every feed merged, per language: the same post from two feeds appears once.
    for lang in &changed_langs {
        let mut seen = HashSet::new();
        // Told apart by id before anything is rendered: only the entries that go in are built.
        let items: Vec<(Published, Option<Source>)> = store
            .publish_items(None, lang, max * 2)?
            .iter()
            .filter(|i| config.feed(&i.entry.feed).is_some_and(|f| f.enabled))
            .filter(|i| seen.insert(entry::id(i)))
            .take(max)
            .map(|i| (build(i), source_of(&i.entry.feed)))
            .collect();
        let description = format!("Every feed, translated into {}", crate::translate::prompt::language_name(lang));
        let channel = Channel::new(&url, &format!("all/{lang}"), lang, format!("polyfeed [{lang}]"), description, config.publish.hub());
        write_feed(&mut out, &format!("all/{lang}"), &channel, &items)?;
    }

    // Posts and reading pages: only those translated since the last publish.
    let mut claimed: HashMap<String, String> = HashMap::new();
    for lang in &langs {
        let key = format!("posts:{lang}");
        let since = marks.get(&key).and_then(|m| m.strip_prefix(&format!("{settings}:"))).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        let items = store.publish_items_since(lang, since)?;
        let mut latest = since;
        for item in items.iter().filter(|i| config.feed(&i.entry.feed).is_some_and(|f| f.enabled)) {
            let p = build(item);
            let source = source_of(&p.feed);
            let feed_title = source.as_ref().map(|s| s.title.clone()).unwrap_or_default();
            if config.publish.markdown {
                let site = source.as_ref().and_then(|s| s.site_url.as_deref());
                let (name, text) = markdown::post(&p, &config.publish, config.tz, &feed_title, site);
                let name = claim_post_name(&mut claimed, &out.dir.join(format!("posts/{lang}")), name, &p);
                out.write(&format!("posts/{lang}/{name}"), &text)?;
            }
            if config.publish.html {
                out.write(&format!("{}/{lang}/{}.html", p.feed, p.slug), &site::page(&p))?;
            }
            out.report.posts += 1;
            latest = latest.max(item.seq);
        }
        new_marks.push((key, format!("{settings}:{latest}")));
    }

    // The digests: redone when a period closed or a translation changed.
    if let Some(d) = &config.publish.digest {
        let periods = digest::periods(&d.cron, config.tz, chrono::Utc::now(), *d.keep.get_ref());
        let closed = periods.first().map_or(0, |p| p.1.timestamp());
        for lang in langs.iter().filter(|l| d.covers(l)) {
            let key = format!("digest:{lang}");
            let mark = format!("{settings}:{closed}");
            if marks.get(&key) == Some(&mark) && !changed_langs.contains(lang) && out.dir.join(format!("digest/{lang}/atom.xml")).exists() {
                continue;
            }
            let mut entries = Vec::new();
            for period in &periods {
                let items = store.translated_between(lang, period.0.timestamp(), period.1.timestamp(), DIGEST_MAX_POSTS)?;
                let posts: Vec<Published> = items.iter().filter(|i| config.feed(&i.entry.feed).is_some_and(|f| f.enabled)).map(&build).collect();
                if posts.is_empty() {
                    continue;
                }
                let listed: Vec<digest::Listed> = posts
                    .iter()
                    .map(|p| digest::Listed {
                        post: p,
                        url: if config.publish.html { url(&format!("{}/{lang}/{}.html", p.feed, p.slug)) } else { p.link.clone().unwrap_or_default() },
                        source: source_of(&p.feed).map(|s| s.title).unwrap_or_default(),
                    })
                    .collect();
                entries.push((digest::entry(lang, *period, config.tz, &url("index.html"), &listed), None));
            }
            let title = format!("polyfeed {} [{lang}]", entry::words(lang).digest);
            let description = format!("The posts translated into {}, period by period", crate::translate::prompt::language_name(lang));
            let channel = Channel::new(&url, &format!("digest/{lang}"), lang, title, description, config.publish.hub());
            write_feed(&mut out, &format!("digest/{lang}"), &channel, &entries)?;
            new_marks.push((key, mark));
        }
    }

    // The index, the OPML and the stylesheet follow any change.
    if !changed_langs.is_empty() || out.report.posts > 0 || !out.dir.join("index.html").exists() {
        write_site(&mut out, config, store, &langs, &feeds, &source_of, &url)?;
    }
    let report = out.report;
    let dir = config.output_dir.display().to_string();
    out.batch.commit().map_err(|source| PublishError::Write { path: dir, source })?;
    store.set_publish_marks(&new_marks)?;
    Ok(report)
}

/// Two different posts on the same day with the same slug (from two blogs) must not overwrite
/// each other: the first keeps `YYYY-MM-DD-slug.md`, the other gets a short suffix from its id.
/// A file already on disk belongs to the post whose link its attribution line carries.
fn claim_post_name(claimed: &mut HashMap<String, String>, dir: &Path, name: String, p: &Published) -> String {
    let owner_elsewhere = |n: &str| match claimed.get(n) {
        Some(id) => *id != p.id,
        None => match (std::fs::read_to_string(dir.join(n)), &p.link) {
            (Ok(existing), Some(link)) => !existing.trim_end().lines().last().is_some_and(|l| l.contains(link.as_str())),
            _ => false,
        },
    };
    let chosen = if owner_elsewhere(&name) {
        let stem = name.trim_end_matches(".md");
        format!("{stem}-{}.md", &digest(&[&p.id])[..6])
    } else {
        name
    };
    claimed.insert(chosen.clone(), p.id.clone());
    chosen
}

/// Writes a feed's three files, each read back before it replaces the old one.
fn write_feed(out: &mut Out, dir: &str, channel: &Channel, items: &[(Published, Option<Source>)]) -> Result<()> {
    for format in feeds::Format::ALL {
        let rel = format!("{dir}/{}", format.file_name());
        let (doc, left_out) = format.render_checked(channel, items).map_err(|reason| PublishError::Invalid { path: rel.clone(), reason })?;
        for (id, reason) in &left_out {
            tracing::warn!(file = %rel, entry = %id, %reason, "entry left out: it would make the feed unreadable");
        }
        out.report.left_out += left_out.len();
        if out.write(&rel, &doc)? {
            let public = match format {
                feeds::Format::Atom => &channel.atom_url,
                feeds::Format::Rss => &channel.rss_url,
                feeds::Format::Json => &channel.json_url,
            };
            out.report.changed_feeds.push(public.clone());
        }
    }
    Ok(())
}

fn write_site(
    out: &mut Out,
    config: &Config,
    store: &dyn PublishStore,
    langs: &BTreeSet<String>,
    feeds: &[&crate::config::FeedConfig],
    source_of: &dyn Fn(&str) -> Option<Source>,
    url: &dyn Fn(&str) -> String,
) -> Result<()> {
    let mut links = Vec::new();
    let mut outlines = Vec::new();
    for lang in langs {
        links.push(site::FeedLink { title: format!("polyfeed [{lang}]"), dir: format!("all/{lang}/") });
        outlines.push((format!("polyfeed [{lang}]"), url(&format!("all/{lang}/atom.xml")), url("index.html")));
        if config.publish.digest.as_ref().is_some_and(|d| d.covers(lang)) {
            let title = format!("polyfeed {} [{lang}]", entry::words(lang).digest);
            links.push(site::FeedLink { title: title.clone(), dir: format!("digest/{lang}/") });
            outlines.push((title, url(&format!("digest/{lang}/atom.xml")), url("index.html")));
        }
    }
    for f in feeds {
        let title = source_of(f.name()).map(|s| s.title).unwrap_or_else(|| f.name().to_string());
        for lang in f.languages(config) {
            links.push(site::FeedLink { title: format!("{title} [{lang}]"), dir: format!("{}/{lang}/", f.name()) });
            let html = source_of(f.name()).and_then(|s| s.site_url).unwrap_or_else(|| url("index.html"));
            outlines.push((format!("{title} [{lang}]"), url(&format!("{}/{lang}/atom.xml", f.name())), html));
        }
    }
    // The index shows titles: nothing of a post's body is rendered for it.
    let mut posts: Vec<(String, Vec<entry::Headline>)> = Vec::new();
    for lang in langs {
        let mut seen = HashSet::new();
        let list: Vec<entry::Headline> = store
            .publish_items(None, lang, 100)?
            .iter()
            .filter(|i| config.feed(&i.entry.feed).is_some_and(|f| f.enabled))
            .map(entry::headline)
            .filter(|p| seen.insert(p.id.clone()))
            .take(50)
            .collect();
        posts.push((lang.clone(), list));
    }
    let sections: Vec<(String, Vec<site::IndexItem>)> = posts
        .iter()
        .map(|(lang, list)| (lang.clone(), list.iter().map(|p| site::IndexItem { post: p, page: format!("{}/{}/{}.html", p.feed, p.lang, p.slug) }).collect()))
        .collect();
    out.write("index.html", &site::index(&sections, &links))?;
    out.write("opml.xml", &site::opml("polyfeed", &outlines))?;
    out.write("style.css", site::STYLE).map(|_| ())
}

/// Changes when a setting that shapes the output changes: then everything is redone.
fn settings_hash(config: &Config) -> String {
    let feeds: Vec<String> = config.feeds.iter().map(|f| format!("{}:{:?}:{:?}:{}", f.name(), f.mode, f.title_template, f.enabled)).collect();
    // What shapes segmentation (and so which blocks a stored translation covers).
    let untranslatable: Vec<String> =
        config.translator.iter().flat_map(|t| t.untranslatable.iter().map(|s| s.get_ref().clone()).chain(t.keep.iter().cloned())).collect();
    let publish = &config.publish;
    let shape = format!(
        "{:?}|{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}|{}|{}|{}|{}",
        publish.mode,
        publish.title_order,
        publish.title_template,
        publish.max_entries.get_ref(),
        publish.author_suffix,
        publish.categories,
        publish.tags,
        publish.allow_iframes_from,
        publish.public_url.get_ref(),
        publish.markdown,
        publish.html,
        config.timezone.get_ref()
    );
    digest(&[&shape, &feeds.join(","), &untranslatable.join(","), env!("CARGO_PKG_VERSION")])[..12].to_string()
}
