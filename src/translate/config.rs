//! The `[translator]` table: the engine chain, glossary, checks, budgets and prices.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigError, invalid};

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
}

/// One engine of the chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub engine: EngineKind,
    pub base_url: Spanned<String>,
    /// Model name; for DeepL and LibreTranslate it only labels the translation memory.
    #[serde(default)]
    pub model: String,
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

/// The `[translator]` table. Its engine keys describe the first engine; `[[translator.fallback]]` adds more.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatorConfig {
    pub engine: EngineKind,
    pub base_url: Spanned<String>,
    #[serde(default)]
    pub model: String,
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
    /// Attempts per unit before it is marked failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Publish an entry whose units partly failed (the failed blocks stay in the original language).
    #[serde(default)]
    pub allow_partial: bool,
    /// Bounds on translated length / source length, in characters (default: from the scripts
    /// involved, e.g. 0.2-1.5 for English into Chinese).
    pub min_length_ratio: Option<f64>,
    pub max_length_ratio: Option<f64>,
    pub budget_tokens_per_day: Option<u64>,
    pub budget_usd_per_month: Option<f64>,
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
            engine: self.engine,
            base_url: self.base_url.clone(),
            model: self.model.clone(),
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

    /// The cost in USD of a request, from the price table (0 when the model has no price).
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        self.prices
            .get(model)
            .map_or(0.0, |p| (prompt_tokens as f64 * p.input + completion_tokens as f64 * p.output) / 1e6)
    }

    pub(crate) fn validate(&self, text: &str) -> Result<(), ConfigError> {
        for engine in self.engines() {
            let url = engine.base_url.get_ref();
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(invalid(text, &engine.base_url.span(), "translator.base_url", format!("{url:?} is not an http(s) URL")));
                }
            }
            if engine.engine == EngineKind::Openai && engine.model.is_empty() {
                return Err(invalid(text, &engine.base_url.span(), "translator.model", "an openai engine needs a model".into()));
            }
            if engine.max_concurrency == 0 || !(engine.timeout > 0.0) {
                return Err(invalid(text, &engine.base_url.span(), "translator", "max_concurrency and timeout must be positive".into()));
            }
        }
        for selector in &self.untranslatable {
            if scraper::Selector::parse(selector.get_ref()).is_err() {
                return Err(invalid(
                    text,
                    &selector.span(),
                    "translator.untranslatable",
                    format!("{:?} is not a CSS selector", selector.get_ref()),
                ));
            }
        }
        if self.batch_tokens < 50 {
            return Err(invalid(text, &self.base_url.span(), "translator.batch_tokens", "must be at least 50".into()));
        }
        if !(self.min_length_ratio.unwrap_or(0.0) >= 0.0 && self.min_length_ratio.unwrap_or(0.0) < self.max_length_ratio.unwrap_or(f64::MAX)) {
            return Err(invalid(text, &self.base_url.span(), "translator.min_length_ratio", "must be below max_length_ratio".into()));
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
fn default_batch_tokens() -> usize {
    1500
}
fn default_max_attempts() -> u32 {
    4
}
