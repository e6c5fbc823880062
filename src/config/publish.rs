//! The `[publish]` table: where the feeds will be reachable, how bilingual entries look.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, invalid};

/// How an entry's body is published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BilingualMode {
    /// Each original block followed by its translation.
    #[default]
    Bilingual,
    /// The translation only, with a first line linking the original.
    Translated,
}

/// The order of the two titles in a bilingual title.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TitleOrder {
    #[default]
    TranslationFirst,
    OriginalFirst,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// The URL at which output/ is served, for self links and the OPML.
    #[serde(default = "default_public_url")]
    pub public_url: Spanned<String>,
    #[serde(default)]
    pub mode: BilingualMode,
    #[serde(default)]
    pub title_order: TitleOrder,
    /// Overrides the title order: `{translation}` and `{original}` are replaced.
    pub title_template: Option<String>,
    /// Newest entries per published feed.
    #[serde(default = "default_max_entries")]
    pub max_entries: Spanned<usize>,
    /// Appended to the original author in Markdown front matter.
    #[serde(default = "default_author_suffix")]
    pub author_suffix: String,
    /// Source category -> Markdown category. When set, only mapped categories become categories.
    pub categories: Option<BTreeMap<String, String>>,
    /// Source category -> Markdown tag. When set, only mapped categories become tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Keep iframes from these hosts (e.g. "www.youtube.com"); all others are removed.
    #[serde(default)]
    pub allow_iframes_from: Vec<String>,
    /// Write Markdown posts under output/posts/.
    #[serde(default = "yes")]
    pub markdown: bool,
    /// Write the HTML site (index.html and reading pages).
    #[serde(default = "yes")]
    pub html: bool,
    /// A WebSub hub (`https://pubsubhubbub.appspot.com/`): the published feeds name it, and it is
    /// told of every feed file that changes, so that readers subscribed through it get new posts
    /// at once instead of at their next poll.
    pub websub_hub: Option<Spanned<String>>,
    /// A digest per language (`[publish.digest]`): one entry per period, listing the posts
    /// translated in it with their summaries, published as a feed of its own.
    pub digest: Option<DigestConfig>,
    /// `public_url` parsed, with a trailing slash.
    #[serde(skip, default = "default_base")]
    base: url::Url,
}

/// `[publish.digest]`: each firing of `schedule` closes a period; its digest lists the posts
/// translated in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// Cron expression in `timezone` (5 or 6 fields): `"0 20 * * *"` is every evening at eight.
    pub schedule: Spanned<String>,
    /// The languages that get one; by default every target language.
    #[serde(default)]
    pub languages: Vec<Spanned<String>>,
    /// Digests kept in the feed, newest first.
    #[serde(default = "default_digest_keep")]
    pub keep: Spanned<usize>,
    /// `schedule` parsed (at load).
    #[serde(skip, default = "super::default_cron")]
    pub cron: cron::Schedule,
}

impl DigestConfig {
    /// Whether `lang` gets a digest.
    pub fn covers(&self, lang: &str) -> bool {
        self.languages.is_empty() || self.languages.iter().any(|l| l.get_ref() == lang)
    }
}

impl Default for PublishConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl PublishConfig {
    /// The title template for a feed's mode and order.
    pub fn title_template<'a>(&'a self, feed_template: Option<&'a str>) -> &'a str {
        feed_template.or(self.title_template.as_deref()).unwrap_or(match self.title_order {
            TitleOrder::TranslationFirst => "{translation} | {original}",
            TitleOrder::OriginalFirst => "{original} | {translation}",
        })
    }

    /// The WebSub hub, if any.
    pub fn hub(&self) -> Option<&str> {
        self.websub_hub.as_ref().map(|h| h.get_ref().as_str())
    }

    /// `public_url` with a trailing slash, ready for joining (parsed once, at load).
    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    pub(crate) fn validate(&mut self, text: &str) -> Result<(), ConfigError> {
        let mut s = self.public_url.get_ref().clone();
        if !s.ends_with('/') {
            s.push('/');
        }
        match url::Url::parse(&s).ok().filter(|u| matches!(u.scheme(), "http" | "https")) {
            Some(url) => self.base = url,
            None => {
                let message = format!("{:?} is not an http(s) URL", self.public_url.get_ref());
                return Err(invalid(text, &self.public_url.span(), "publish.public_url", message));
            }
        }
        if let Some(hub) = &self.websub_hub
            && !url::Url::parse(hub.get_ref()).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        {
            return Err(invalid(text, &hub.span(), "publish.websub_hub", format!("{:?} is not an http(s) URL", hub.get_ref())));
        }
        if let Some(d) = &mut self.digest {
            d.cron = super::parse_cron(d.schedule.get_ref())
                .map_err(|e| invalid(text, &d.schedule.span(), "publish.digest.schedule", format!("bad cron expression {:?}: {e}", d.schedule.get_ref())))?;
            if !(1..=366).contains(d.keep.get_ref()) {
                return Err(invalid(text, &d.keep.span(), "publish.digest.keep", "must be between 1 and 366".into()));
            }
        }
        if *self.max_entries.get_ref() == 0 {
            return Err(invalid(text, &self.max_entries.span(), "publish.max_entries", "must be at least 1".into()));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}
fn default_base() -> url::Url {
    url::Url::parse(default_public_url().get_ref()).expect("the default public_url is a URL")
}
fn default_public_url() -> Spanned<String> {
    Spanned::new(0..0, "http://127.0.0.1:8080/".into())
}
fn default_max_entries() -> Spanned<usize> {
    Spanned::new(0..0, 50)
}
fn default_digest_keep() -> Spanned<usize> {
    Spanned::new(0..0, 14)
}
fn default_author_suffix() -> String {
    " (翻译)".into()
}
