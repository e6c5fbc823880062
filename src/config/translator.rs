//! The `[translator]` table: the engine chain, glossary, checks, budgets and prices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, invalid};

/// Which API an engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// OpenAI-compatible chat completions (OpenAI, DeepSeek, Qwen, Moonshot, OpenRouter, Ollama, vLLM, ...).
    Openai,
    /// DeepL API v2.
    Deepl,
    /// A LibreTranslate server.
    Libretranslate,
    /// A GGUF chat model run in-process (built with the `local` feature).
    Local,
}

impl EngineKind {
    /// The engine's name in config, the translation memory and the usage tables.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Openai => "openai",
            EngineKind::Deepl => "deepl",
            EngineKind::Libretranslate => "libretranslate",
            EngineKind::Local => "local",
        }
    }

    /// A chat model (openai, local): it follows instructions, so it can also write summaries.
    pub fn chats(self) -> bool {
        matches!(self, EngineKind::Openai | EngineKind::Local)
    }
}

/// How a block's inline markup travels to a chat engine (openai, local).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Elements with attributes as numbered placeholders (`<a1>text</a1>`), inline code and images
    /// as self-closing ones (`<code2/>`): no URL, attribute or code reaches the model.
    #[default]
    Placeholders,
    /// The HTML as it is.
    Markup,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Placeholders => "placeholders",
            Protocol::Markup => "markup",
        }
    }
}

/// One engine of the chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub engine: Spanned<EngineKind>,
    /// The server's URL (all engines but `local`).
    pub base_url: Option<Spanned<String>>,
    /// Model name; for DeepL and LibreTranslate it only labels the translation memory; for
    /// `local`, a model fetched with `polyfeed model pull` (when `model_path` is not set).
    #[serde(default)]
    pub model: String,
    /// `local`: the GGUF file (relative paths are taken from the config file's directory).
    pub model_path: Option<PathBuf>,
    /// `local`: threads for inference (default: the CPUs available to the process).
    pub threads: Option<usize>,
    /// `local`: tokens of prompt and reply together, at most.
    #[serde(default = "default_context_size")]
    pub context_size: usize,
    /// Name of the environment variable that holds the API key. The key itself never goes in the config.
    pub api_key_env: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    /// Seconds allowed for one request.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Ask for a streamed (server-sent events) reply.
    #[serde(default)]
    pub stream: bool,
}

impl EngineConfig {
    /// Where the engine is, for messages: its URL, or its model file.
    pub fn endpoint_name(&self) -> String {
        match (&self.base_url, &self.model_path) {
            (Some(url), _) => url.get_ref().clone(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => self.model.clone(),
        }
    }

    /// The `local` engine's GGUF file (set by `Config::from_file`).
    pub fn local_model_path(&self) -> PathBuf {
        self.model_path.clone().unwrap_or_else(|| PathBuf::from(&self.model))
    }
}

/// A `local` engine's model: a relative `model_path` is taken from the config's directory; with no
/// `model_path`, `model` names a file fetched by `polyfeed model pull` into the cache. The model
/// name (which keys the translation memory) defaults to the file's name.
fn resolve_model(kind: EngineKind, model: &mut String, model_path: &mut Option<PathBuf>, base: &Path, cache_dir: &Path) {
    if kind != EngineKind::Local {
        return;
    }
    match model_path {
        Some(p) if p.is_relative() && !base.as_os_str().is_empty() => *p = base.join(&*p),
        Some(_) => {}
        None => *model_path = Some(super::models::path_of(cache_dir, model)),
    }
    if model.is_empty() {
        *model = model_path.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    }
}

/// The `[translator]` table. Its engine keys describe the first engine; `[[translator.fallback]]` adds more.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatorConfig {
    pub engine: Spanned<EngineKind>,
    pub base_url: Option<Spanned<String>>,
    #[serde(default)]
    pub model: String,
    pub model_path: Option<PathBuf>,
    pub threads: Option<usize>,
    #[serde(default = "default_context_size")]
    pub context_size: usize,
    pub api_key_env: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    #[serde(default)]
    pub stream: bool,
    /// Engines tried in order when the ones before are down or out of budget.
    #[serde(default)]
    pub fallback: Vec<EngineConfig>,
    /// How inline markup travels to chat engines; DeepL and LibreTranslate always get the HTML,
    /// which they read themselves.
    #[serde(default)]
    pub protocol: Protocol,

    /// Term -> fixed translation.
    #[serde(default)]
    pub glossary: BTreeMap<String, String>,
    /// Terms never translated (product names...).
    #[serde(default)]
    pub keep: Vec<String>,
    /// CSS selectors of elements copied through untranslated (pre and code always are).
    #[serde(default)]
    pub untranslatable: Vec<Spanned<String>>,
    /// Source tokens per request, at most.
    #[serde(default = "default_batch_tokens")]
    pub batch_tokens: usize,
    /// Runs that try an entry before it is marked failed (until `polyfeed retry`).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Requests one block may take within one run when its replies fail the checks (the first
    /// in a batch, the others alone); then its entry waits for the next run.
    #[serde(default = "default_block_attempts")]
    pub block_attempts: u32,
    /// Publish an entry whose units partly failed (the failed blocks stay in the original language).
    #[serde(default)]
    pub allow_partial: bool,
    /// With `allow_partial`, an entry is published only when more than this share of its blocks
    /// is translated (its title always must be).
    #[serde(default = "default_partial_share")]
    pub partial_share: f64,
    /// Bounds on translated length / source length, in characters (default: from the scripts
    /// involved, e.g. 0.2-1.5 for English into Chinese).
    pub min_length_ratio: Option<f64>,
    pub max_length_ratio: Option<f64>,
    pub budget_tokens_per_day: Option<u64>,
    pub budget_usd_per_month: Option<f64>,
    /// Summaries (`summary = true` on a feed): their own budget of tokens per day, on top of the
    /// global one; past it, posts are published without a summary until the next day.
    pub summary_budget_tokens_per_day: Option<u64>,
    /// The longest summary accepted, in characters (a CJK character counts one).
    #[serde(default = "default_summary_max_chars")]
    pub summary_max_chars: usize,
    /// Model -> price in USD per million tokens.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

/// Price of a model, USD per million tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl TranslatorConfig {
    /// The engine chain, first engine first.
    pub fn engines(&self) -> Vec<EngineConfig> {
        let first = EngineConfig {
            engine: self.engine.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            model_path: self.model_path.clone(),
            threads: self.threads,
            context_size: self.context_size,
            api_key_env: self.api_key_env.clone(),
            temperature: self.temperature,
            max_concurrency: self.max_concurrency,
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            timeout: self.timeout,
            stream: self.stream,
        };
        std::iter::once(first).chain(self.fallback.iter().cloned()).collect()
    }

    /// Resolves the `local` engines' model files (see `resolve_model`).
    pub(crate) fn resolve_paths(&mut self, base: &Path, cache_dir: &Path) {
        resolve_model(*self.engine.get_ref(), &mut self.model, &mut self.model_path, base, cache_dir);
        for e in &mut self.fallback {
            resolve_model(*e.engine.get_ref(), &mut e.model, &mut e.model_path, base, cache_dir);
        }
    }

    /// The cost in USD of a request, from the price table (0 when the model has no price).
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        self.prices.get(model).map_or(0.0, |p| (prompt_tokens as f64 * p.input + completion_tokens as f64 * p.output) / 1e6)
    }

    pub(crate) fn validate(&self, text: &str) -> Result<(), ConfigError> {
        if !(40..=4000).contains(&self.summary_max_chars) {
            let at = crate::config::find_span(text, "summary_max_chars");
            return Err(invalid(text, &at, "translator.summary_max_chars", format!("{} is not between 40 and 4000 characters", self.summary_max_chars)));
        }
        for engine in self.engines() {
            let at = engine.engine.span();
            let kind = *engine.engine.get_ref();
            match (&engine.base_url, kind) {
                (None, EngineKind::Local) => {}
                (Some(url), EngineKind::Local) => {
                    return Err(invalid(
                        text,
                        &url.span(),
                        "translator.base_url",
                        "the local engine runs in-process: use model_path or model, not base_url".into(),
                    ));
                }
                (Some(url), _) => match url::Url::parse(url.get_ref()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(invalid(text, &url.span(), "translator.base_url", format!("{:?} is not an http(s) URL", url.get_ref())));
                    }
                },
                (None, _) => {
                    return Err(invalid(text, &at, "translator.base_url", format!("the {} engine needs a base_url", kind.name())));
                }
            }
            if kind == EngineKind::Openai && engine.model.is_empty() {
                return Err(invalid(text, &at, "translator.model", "an openai engine needs a model".into()));
            }
            if kind == EngineKind::Local && engine.model.is_empty() && engine.model_path.is_none() {
                return Err(invalid(
                    text,
                    &at,
                    "translator.model_path",
                    "the local engine needs model_path (a GGUF file) or model (a name from `polyfeed model list`)".into(),
                ));
            }
            if kind != EngineKind::Local && (engine.model_path.is_some() || engine.threads.is_some()) {
                return Err(invalid(text, &at, "translator.model_path", "model_path and threads are for the local engine only".into()));
            }
            if engine.max_concurrency == 0 || engine.timeout.is_nan() || engine.timeout <= 0.0 || engine.threads == Some(0) || engine.context_size < 256 {
                return Err(invalid(text, &at, "translator", "max_concurrency, timeout and threads must be positive, context_size at least 256".into()));
            }
        }
        for selector in &self.untranslatable {
            if scraper::Selector::parse(selector.get_ref()).is_err() {
                return Err(invalid(text, &selector.span(), "translator.untranslatable", format!("{:?} is not a CSS selector", selector.get_ref())));
            }
        }
        let at = self.engine.span();
        if self.batch_tokens < 50 {
            return Err(invalid(text, &at, "translator.batch_tokens", "must be at least 50".into()));
        }
        if !(self.min_length_ratio.unwrap_or(0.0) >= 0.0 && self.min_length_ratio.unwrap_or(0.0) < self.max_length_ratio.unwrap_or(f64::MAX)) {
            return Err(invalid(text, &at, "translator.min_length_ratio", "must be below max_length_ratio".into()));
        }
        if self.block_attempts == 0 || self.max_attempts == 0 {
            return Err(invalid(text, &at, "translator.block_attempts", "block_attempts and max_attempts must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.partial_share) {
            return Err(invalid(text, &at, "translator.partial_share", "must be at least 0 and below 1".into()));
        }
        Ok(())
    }
}

fn default_temperature() -> f32 {
    0.2
}
fn default_max_concurrency() -> usize {
    4
}
fn default_timeout() -> f64 {
    120.0
}
fn default_context_size() -> usize {
    4096
}
fn default_batch_tokens() -> usize {
    1500
}
fn default_max_attempts() -> u32 {
    4
}
fn default_block_attempts() -> u32 {
    6
}
fn default_partial_share() -> f64 {
    0.5
}

fn default_summary_max_chars() -> usize {
    400
}
