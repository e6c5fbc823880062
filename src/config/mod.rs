//! feeds.toml: typed, validated once. `Config::parse` is pure; `Config::from_file` wraps the I/O.
//!
//! Every error names the line and the key it is about, so a user can go straight to the mistake.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

pub mod edit;
pub mod models;
pub mod publish;
pub mod server;
pub mod translator;

/// The user agent sent when the config does not set one.
pub const DEFAULT_USER_AGENT: &str = concat!("polyfeed/", env!("CARGO_PKG_VERSION"), " (feed translator; +https://github.com/polyfeed/polyfeed)");

/// A config that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// The file was read but a value in it is wrong.
    #[error("{}line {line}: `{key}`: {message}", path.as_deref().map(|p| format!("{p}:")).unwrap_or_default())]
    Invalid { path: Option<String>, line: usize, key: String, message: String },
}

pub type Result<T> = std::result::Result<T, ConfigError>;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where state lives: the SQLite store and the lock file.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: PathBuf,
    /// Where published files are written.
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
    #[serde(default = "default_languages")]
    pub target_languages: Vec<Spanned<String>>,
    /// IANA time zone for schedules and Markdown dates.
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// Cron expression for the daemon (5, 6 or 7 fields).
    #[serde(default = "default_schedule")]
    pub schedule: Spanned<String>,
    pub user_agent: Option<String>,
    #[serde(default = "default_max_concurrent_fetches")]
    pub max_concurrent_fetches: Spanned<usize>,
    #[serde(default = "default_max_per_host")]
    pub max_per_host: Spanned<usize>,
    /// Total time allowed for one fetch, in seconds, redirects and body included.
    #[serde(default = "default_timeout")]
    pub timeout: Spanned<f64>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Spanned<f64>,
    /// Largest response body accepted, counted after decompression.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: Spanned<u64>,
    /// Extra attempts after a connection error or a 5xx.
    #[serde(default = "default_fetch_retries")]
    pub fetch_retries: u32,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// A PostgreSQL database shared by several polyfeed processes (`postgres://user@host/db`),
    /// instead of the SQLite file in `cache_dir`. No password here: `POLYFEED_DATABASE_URL` (which
    /// wins over this key) or `PGPASSWORD` carries it.
    pub database_url: Option<Spanned<String>>,
    /// With `database_url`: how long a node's hold on a translation job lasts unless it renews it
    /// (every third of it); a node that dies gives its jobs back after this.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: Spanned<i64>,
    #[serde(default)]
    pub translator: Option<translator::TranslatorConfig>,
    #[serde(default)]
    pub publish: publish::PublishConfig,
    #[serde(default)]
    pub server: server::ServerConfig,
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    /// Parsed from `timezone` during validation.
    #[serde(skip, default = "default_tz")]
    pub tz: chrono_tz::Tz,
    /// Parsed from `schedule` during validation.
    #[serde(skip, default = "default_cron")]
    pub cron: cron::Schedule,
}

/// One source feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// A slug: it names the output folders.
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    /// Cron expression overriding the global one.
    pub schedule: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How many existing entries to queue on the first fetch.
    #[serde(default = "default_backfill")]
    pub backfill: usize,
    #[serde(default)]
    pub allow_private_network: bool,
    pub user_agent: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub proxy: Option<Spanned<String>>,
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub full_text: bool,
    /// Overrides the global timeout for this feed, in seconds.
    pub timeout: Option<Spanned<f64>>,
    #[serde(default)]
    pub translate: TranslateMode,
    /// Overrides `target_languages` for this feed.
    pub target_languages: Option<Vec<Spanned<String>>>,
    /// Overrides `[publish] mode` for this feed.
    pub mode: Option<publish::BilingualMode>,
    /// Overrides `[publish] title_template` for this feed.
    pub title_template: Option<String>,
    /// Token budget per day for this feed (on top of the global one).
    pub budget_tokens_per_day: Option<u64>,
    /// Money budget per month for this feed (on top of the global one).
    pub budget_usd_per_month: Option<f64>,
    /// This feed's own instructions to the engine (tone, audience, terms), after the rules;
    /// `{target_language}` names the language. Part of what the translation memory is keyed by.
    pub instructions: Option<Spanned<String>>,
    /// A short summary in the target language on top of each post, written by the first chat
    /// engine of the chain (`[translator] summary_*` set its length and budget).
    pub summary: Option<Spanned<bool>>,
    #[serde(skip)]
    pub filters: Filters,
    /// Parsed from `schedule` during validation, when the feed has its own.
    #[serde(skip)]
    pub cron: Option<cron::Schedule>,
}

impl FeedConfig {
    /// Whether its posts get a summary (`summary = true`).
    pub fn summarized(&self) -> bool {
        self.summary.as_ref().is_some_and(|s| *s.get_ref())
    }
}

/// How much of an entry is translated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranslateMode {
    /// Title and body.
    #[default]
    Full,
    /// Title only: a cheap triage mode.
    Title,
}

/// Compiled include/exclude filters.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// True when an entry with this text passes: it matches an include (if any) and no exclude.
    pub fn accepts(&self, haystacks: &[&str]) -> bool {
        let hit = |rs: &[Regex]| rs.iter().any(|r| haystacks.iter().any(|h| r.is_match(h)));
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }
}

impl FeedConfig {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    pub fn url(&self) -> &str {
        self.url.get_ref()
    }

    /// The languages this feed is translated into.
    pub fn languages<'a>(&'a self, config: &'a Config) -> impl Iterator<Item = &'a str> {
        self.target_languages.as_ref().unwrap_or(&config.target_languages).iter().map(|l| l.get_ref().as_str())
    }

    /// The feed's own schedule, else the global one.
    pub fn schedule<'a>(&'a self, config: &'a Config) -> &'a cron::Schedule {
        self.cron.as_ref().unwrap_or(&config.cron)
    }

    pub fn timeout(&self, config: &Config) -> std::time::Duration {
        std::time::Duration::from_secs_f64(*self.timeout.as_ref().unwrap_or(&config.timeout).get_ref())
    }

    pub fn user_agent<'a>(&'a self, config: &'a Config) -> &'a str {
        self.user_agent.as_deref().or(config.user_agent.as_deref()).unwrap_or(DEFAULT_USER_AGENT)
    }
}

impl Config {
    /// Parses and validates a config from its text.
    pub fn parse(text: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            invalid(text, &span, &key_at(text, &span), e.message().to_string())
        })?;
        config.validate(text)?;
        Ok(config)
    }

    /// Reads, parses and validates the config at `path`.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Invalid { line, key, message, .. } => ConfigError::Invalid { path: Some(path.display().to_string()), line, key, message },
            other => other,
        })?;
        // Relative state and output folders are relative to the config file.
        let base = path.parent().unwrap_or(Path::new(""));
        for dir in [&mut config.cache_dir, &mut config.output_dir] {
            if dir.is_relative() && !base.as_os_str().is_empty() {
                *dir = base.join(&*dir);
            }
        }
        let cache_dir = config.cache_dir.clone();
        if let Some(t) = &mut config.translator {
            t.resolve_paths(base, &cache_dir);
        }
        Ok(config)
    }

    /// The enabled feeds, in config order.
    pub fn enabled_feeds(&self) -> impl Iterator<Item = &FeedConfig> {
        self.feeds.iter().filter(|f| f.enabled)
    }

    /// Every language polyfeed translates into: the global ones and every feed's own.
    pub fn all_languages(&self) -> std::collections::BTreeSet<&str> {
        let mut all: std::collections::BTreeSet<&str> = self.target_languages.iter().map(|l| l.get_ref().as_str()).collect();
        all.extend(self.feeds.iter().flat_map(|f| f.target_languages.iter().flatten().map(|l| l.get_ref().as_str())));
        all
    }

    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name() == name)
    }

    pub fn store_path(&self) -> PathBuf {
        self.cache_dir.join("polyfeed.sqlite")
    }

    /// The PostgreSQL database to use, if any: `POLYFEED_DATABASE_URL`, else `database_url` (with
    /// `PGPASSWORD` as its password when it names none).
    pub fn database_url(&self) -> Option<String> {
        if let Some(url) = std::env::var("POLYFEED_DATABASE_URL").ok().filter(|u| !u.trim().is_empty()) {
            return Some(url.trim().to_string());
        }
        self.database_url.as_ref().map(|u| with_pgpassword(u.get_ref()))
    }

    fn validate(&mut self, text: &str) -> Result<()> {
        self.tz = chrono_tz::Tz::from_str(self.timezone.get_ref()).map_err(|_| {
            invalid(
                text,
                &self.timezone.span(),
                "timezone",
                format!("unknown time zone {:?} (use an IANA name such as \"Asia/Shanghai\")", self.timezone.get_ref()),
            )
        })?;
        self.cron = check_cron(text, &self.schedule, "schedule")?;
        check_languages(text, &self.target_languages, "target_languages")?;
        for (value, key) in [(&self.max_concurrent_fetches, "max_concurrent_fetches"), (&self.max_per_host, "max_per_host")] {
            if *value.get_ref() == 0 {
                return Err(invalid(text, &value.span(), key, "must be at least 1".into()));
            }
        }
        for (value, key) in [(&self.timeout, "timeout"), (&self.connect_timeout, "connect_timeout")] {
            check_seconds(text, value, key)?;
        }
        if *self.max_body_bytes.get_ref() < 1024 {
            return Err(invalid(text, &self.max_body_bytes.span(), "max_body_bytes", "must be at least 1024".into()));
        }
        if *self.lease_seconds.get_ref() < 3 {
            return Err(invalid(text, &self.lease_seconds.span(), "lease_seconds", "must be at least 3".into()));
        }
        if let Some(url) = &self.database_url {
            match Url::parse(url.get_ref()) {
                Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") && u.password().is_some() => {
                    return Err(invalid(
                        text,
                        &url.span(),
                        "database_url",
                        "no password in the config: set POLYFEED_DATABASE_URL (the whole URL) or PGPASSWORD in the environment".into(),
                    ));
                }
                Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => {}
                _ => return Err(invalid(text, &url.span(), "database_url", format!("{:?} is not a postgres:// URL", crate::text::redact_url(url.get_ref())))),
            }
        }
        if let Some(t) = &self.translator {
            t.validate(text)?;
        }
        self.publish.validate(text)?;
        if let Some(d) = &self.publish.digest {
            let all = self.all_languages();
            if let Some(l) = d.languages.iter().find(|l| !all.contains(&l.get_ref().as_str())) {
                return Err(invalid(text, &l.span(), "publish.digest.languages", format!("{:?} is not a target language of any feed", l.get_ref())));
            }
        }
        self.server.validate(text)?;

        let mut names = HashSet::new();
        for feed in &mut self.feeds {
            let name = feed.name.get_ref();
            if !is_slug(name) {
                return Err(invalid(
                    text,
                    &feed.name.span(),
                    "feeds.name",
                    format!("{name:?} is not a slug: use lowercase letters, digits, '-' and '_' (it names output folders)"),
                ));
            }
            if RESERVED_NAMES.contains(&name.as_str()) {
                return Err(invalid(text, &feed.name.span(), "feeds.name", format!("{name:?} is reserved for polyfeed's own output folders")));
            }
            if !names.insert(name.clone()) {
                return Err(invalid(text, &feed.name.span(), "feeds.name", format!("duplicate feed name {name:?}")));
            }
            check_url(text, &feed.url, "feeds.url")?;
            if let Some(proxy) = &feed.proxy {
                check_url(text, proxy, "feeds.proxy")?;
            }
            feed.cron = feed.schedule.as_ref().map(|s| check_cron(text, s, "feeds.schedule")).transpose()?;
            if let Some(t) = &feed.timeout {
                check_seconds(text, t, "feeds.timeout")?;
            }
            if let Some(langs) = &feed.target_languages {
                check_languages(text, langs, "feeds.target_languages")?;
            }
            for (header, value) in &feed.headers {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() || reqwest::header::HeaderValue::from_str(value).is_err() {
                    let span = find_span(text, header);
                    return Err(invalid(text, &span, "feeds.headers", format!("{header:?} is not a valid HTTP header")));
                }
            }
            if let Some(i) = &feed.instructions {
                check_instructions(text, i)?;
            }
            if let Some(summary) = feed.summary.as_ref().filter(|s| *s.get_ref()) {
                let chat = self.translator.as_ref().is_some_and(|t| t.engines().iter().any(|e| e.engine.get_ref().chats()));
                if !chat {
                    return Err(invalid(
                        text,
                        &summary.span(),
                        "feeds.summary",
                        "summaries are written by a chat engine (openai or local): add one to [translator] (as the engine or a fallback)".into(),
                    ));
                }
            }
            feed.filters =
                Filters { include: compile_filters(text, &feed.include, "feeds.include")?, exclude: compile_filters(text, &feed.exclude, "feeds.exclude")? };
        }
        Ok(())
    }
}

/// A database URL with `PGPASSWORD` as its password when it names none.
pub fn with_pgpassword(url: &str) -> String {
    match (Url::parse(url), std::env::var("PGPASSWORD")) {
        (Ok(mut u), Ok(p)) if u.password().is_none() && !p.is_empty() => {
            let _ = u.set_password(Some(&p));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Parses a cron expression, accepting the classic 5-field form (minute first) by adding a seconds field.
pub fn parse_cron(expr: &str) -> std::result::Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 { format!("0 {expr}") } else { expr.to_string() };
    cron::Schedule::from_str(&full).map_err(|e| e.to_string())
}

/// Names of polyfeed's own output folders, which no feed may take.
pub const RESERVED_NAMES: [&str; 5] = ["all", "digest", "posts", "t", "websub"];

/// A name a new feed may take: a slug, not reserved, not in `taken`.
pub fn is_free_name(name: &str, taken: &HashSet<String>) -> bool {
    is_slug(name) && !RESERVED_NAMES.contains(&name) && !taken.contains(name)
}

/// A slug: lowercase ASCII letters, digits, '-' and '_', starting with a letter or digit, at most 64 bytes.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

fn check_cron(text: &str, value: &Spanned<String>, key: &str) -> Result<cron::Schedule> {
    parse_cron(value.get_ref()).map_err(|e| invalid(text, &value.span(), key, format!("bad cron expression {:?}: {e}", value.get_ref())))
}

fn check_url(text: &str, value: &Spanned<String>, key: &str) -> Result<()> {
    match Url::parse(value.get_ref()) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") && u.host().is_some() => Ok(()),
        Ok(u) => Err(invalid(text, &value.span(), key, format!("{:?}: only http and https URLs are supported (got {})", value.get_ref(), u.scheme()))),
        Err(e) => Err(invalid(text, &value.span(), key, format!("{:?} is not a URL: {e}", value.get_ref()))),
    }
}

/// At most 2,000 characters, and `{target_language}` the only placeholder.
fn check_instructions(text: &str, value: &Spanned<String>) -> Result<()> {
    let v = value.get_ref();
    let fail = |message: String| Err(invalid(text, &value.span(), "feeds.instructions", message));
    if v.trim().is_empty() {
        return fail("is empty: leave it out, or say what the translator should do".into());
    }
    if v.chars().count() > 2000 {
        return fail(format!("is {} characters long; at most 2000 (it is sent with every request)", v.chars().count()));
    }
    let placeholders = Regex::new(r"\{[^{}]*\}").expect("a valid regex");
    if let Some(other) = placeholders.find_iter(v).map(|m| m.as_str()).find(|m| *m != "{target_language}") {
        return fail(format!("unknown placeholder {other} (the one there is: {{target_language}})"));
    }
    Ok(())
}

fn check_seconds(text: &str, value: &Spanned<f64>, key: &str) -> Result<()> {
    let v = *value.get_ref();
    if !(v > 0.0 && v <= 86_400.0) {
        return Err(invalid(text, &value.span(), key, format!("{v} is not a number of seconds between 0 and 86400")));
    }
    Ok(())
}

fn check_languages(text: &str, langs: &[Spanned<String>], key: &str) -> Result<()> {
    for lang in langs {
        let ok = lang.get_ref().split('-').enumerate().all(|(i, part)| {
            (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric()) && (i > 0 || part.chars().all(|c| c.is_ascii_alphabetic()))
        });
        if !ok {
            return Err(invalid(text, &lang.span(), key, format!("{:?} is not a language tag such as \"zh-CN\"", lang.get_ref())));
        }
    }
    if langs.is_empty() {
        return Err(ConfigError::Invalid { path: None, line: 0, key: key.into(), message: "needs at least one language".into() });
    }
    Ok(())
}

/// A filter is a case-insensitive keyword, or a regex written between slashes: `/^Sponsored/`.
fn compile_filters(text: &str, filters: &[Spanned<String>], key: &str) -> Result<Vec<Regex>> {
    filters
        .iter()
        .map(|f| {
            let s = f.get_ref();
            let pattern = match s.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
                Some(re) if s.len() >= 2 => re.to_string(),
                _ => format!("(?i){}", regex::escape(s)),
            };
            Regex::new(&pattern).map_err(|e| invalid(text, &f.span(), key, format!("bad filter {s:?}: {e}")))
        })
        .collect()
}

/// Builds an `Invalid` error pointing at the line of `span`.
pub(crate) fn invalid(text: &str, span: &Range<usize>, key: &str, message: String) -> ConfigError {
    ConfigError::Invalid { path: None, line: line_of(text, span.start), key: key.to_string(), message }
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The key written on the line of `span` (`key = value`), or the table header, for errors toml reports by span.
fn key_at(text: &str, span: &Range<usize>) -> String {
    let start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_string(),
        None => line.trim().trim_matches(['[', ']']).to_string(),
    }
}

pub(crate) fn find_span(text: &str, needle: &str) -> Range<usize> {
    text.find(needle).map_or(0..0, |i| i..i + needle.len())
}

fn yes() -> bool {
    true
}
fn default_cache_dir() -> PathBuf {
    "cache".into()
}
fn default_output_dir() -> PathBuf {
    "output".into()
}
fn default_languages() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, "zh-CN".into())]
}
fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "Asia/Shanghai".into())
}
fn default_tz() -> chrono_tz::Tz {
    chrono_tz::Asia::Shanghai
}
fn default_schedule() -> Spanned<String> {
    Spanned::new(0..0, "0 */30 * * * *".into())
}
fn default_lease_seconds() -> Spanned<i64> {
    Spanned::new(0..0, 60)
}

pub(crate) fn default_cron() -> cron::Schedule {
    parse_cron(default_schedule().get_ref()).expect("the default schedule is a valid cron expression")
}
fn default_max_concurrent_fetches() -> Spanned<usize> {
    Spanned::new(0..0, 16)
}
fn default_max_per_host() -> Spanned<usize> {
    Spanned::new(0..0, 4)
}
fn default_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 30.0)
}
fn default_connect_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 10.0)
}
fn default_max_body_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 20 * 1024 * 1024)
}
fn default_fetch_retries() -> u32 {
    2
}
fn default_max_redirects() -> usize {
    10
}
fn default_backfill() -> usize {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn shipped_feeds_toml_loads() {
        let text = include_str!("../../feeds.toml");
        let config = Config::parse(text).unwrap();
        let feed = &config.feeds[0];
        assert_eq!(feed.url(), "https://simonwillison.net/atom/everything/");
        assert_eq!(config.tz, chrono_tz::Asia::Shanghai);
        assert!(config.translator.is_some());
    }

    #[test]
    fn defaults() {
        let c = Config::parse("[[feeds]]\nname = \"a\"\nurl = \"https://example.org/feed\"\n").unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("cache"));
        assert_eq!(c.output_dir, PathBuf::from("output"));
        assert_eq!(c.target_languages.iter().map(|l| l.get_ref().as_str()).collect::<Vec<_>>(), ["zh-CN"]);
        assert_eq!(*c.max_concurrent_fetches.get_ref(), 16);
        assert_eq!(*c.max_per_host.get_ref(), 4);
        assert_eq!(*c.max_body_bytes.get_ref(), 20 * 1024 * 1024);
        let f = &c.feeds[0];
        assert!(f.enabled && !f.allow_private_network && !f.full_text);
        assert_eq!(f.backfill, 10);
        assert_eq!(f.user_agent(&c), DEFAULT_USER_AGENT);
    }

    #[test]
    fn errors_name_line_and_key() {
        let cases = [
            ("user_agent = \"x\"\nbogus = 1\n", "line 2: `bogus`: unknown field"),
            ("timezone = \"Mars/Olympus\"\n", "line 1: `timezone`: unknown time zone"),
            ("schedule = \"every day\"\n", "line 1: `schedule`: bad cron expression"),
            ("[[feeds]]\nname = \"a\"\nurl = \"notaurl\"\n", "line 3: `feeds.url`: \"notaurl\" is not a URL"),
            ("[[feeds]]\nname = \"a\"\nurl = \"ftp://x.org/\"\n", "line 3: `feeds.url`: \"ftp://x.org/\": only http"),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\n[[feeds]]\nname = \"a\"\nurl = \"https://b.org/\"\n",
                "line 5: `feeds.name`: duplicate feed name \"a\"",
            ),
            ("[[feeds]]\nname = \"Bad Name\"\nurl = \"https://a.org/\"\n", "line 2: `feeds.name`: \"Bad Name\" is not a slug"),
            ("[[feeds]]\nname = \"all\"\nurl = \"https://a.org/\"\n", "line 2: `feeds.name`: \"all\" is reserved"),
            ("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\nschedule = \"61 * * * *\"\n", "line 4: `feeds.schedule`: bad cron"),
            ("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\ninclude = [\"/(/\"]\n", "line 4: `feeds.include`: bad filter"),
            ("max_per_host = 0\n", "line 1: `max_per_host`: must be at least 1"),
            ("max_per_host = \"four\"\n", "line 1: `max_per_host`"),
            ("target_languages = [\"zh CN\"]\n", "line 1: `target_languages`: \"zh CN\" is not a language tag"),
            ("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\nbackfil = 3\n", "line 4: `backfil`: unknown field"),
            (
                "[translator]\nengine = \"deepl\"\nbase_url = \"https://api.deepl.com/\"\n[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\nsummary = true\n",
                "line 7: `feeds.summary`: summaries are written by a chat engine (openai or local)",
            ),
            (
                "[translator]\nengine = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\nmodel = \"m\"\nsummary_max_chars = 10\n",
                "line 5: `translator.summary_max_chars`: 10 is not between 40 and 4000 characters",
            ),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\ninstructions = \"For {audience}\"\n",
                "line 4: `feeds.instructions`: unknown placeholder {audience}",
            ),
            ("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\ninstructions = \" \"\n", "line 4: `feeds.instructions`: is empty"),
        ];
        for (text, want) in cases {
            let got = err(text);
            assert!(got.contains(want), "config {text:?}\n  got:  {got}\n  want: {want}");
        }
    }

    #[test]
    fn from_file_names_the_file_and_resolves_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, "cache_dir = \"state\"\nnope = 1\n").unwrap();
        let e = Config::from_file(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:line 2: `nope`", path.display())), "{e}");
        std::fs::write(&path, "cache_dir = \"state\"\n").unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.cache_dir, dir.path().join("state"));
        let missing = Config::from_file(&dir.path().join("nope.toml")).unwrap_err().to_string();
        assert!(missing.contains("cannot read config") && missing.contains("nope.toml"), "{missing}");
    }

    #[test]
    fn filters_take_keywords_and_regexes() {
        let c = Config::parse("[[feeds]]\nname = \"a\"\nurl = \"https://a.org/\"\ninclude = [\"llm\", \"/^Weeknotes/\"]\nexclude = [\"sponsored\"]\n").unwrap();
        let f = &c.feeds[0].filters;
        assert!(f.accepts(&["New LLM release", ""]));
        assert!(f.accepts(&["Weeknotes: a week", ""]));
        assert!(!f.accepts(&["My Weeknotes", ""]));
        assert!(!f.accepts(&["LLM news", "Sponsored post"]));
        assert!(Filters::default().accepts(&["anything"]));
    }

    #[test]
    fn five_field_cron_is_accepted() {
        assert!(parse_cron("*/15 * * * *").is_ok());
        assert!(parse_cron("0 */15 * * * *").is_ok());
        assert!(parse_cron("nope").is_err());
    }
}
