//! Engines: OpenAI-compatible chat completions, DeepL and LibreTranslate, behind one type.
//! Each engine owns its HTTP client, its concurrency slots and its rate limiter. API keys come
//! from the environment only and are scrubbed from every error message.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::config::{EngineConfig, EngineKind, Protocol};
use super::limits::RateLimiter;
use super::placeholders;
use super::prompt::{self, estimate_tokens};
use super::segment::Unit;

/// Tokens a request used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// True when the server reported nothing and these are estimates.
    pub estimated: bool,
}

/// A reply: (block number, translated HTML) in reply order, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub blocks: Vec<(usize, String)>,
    pub usage: Usage,
    /// The reply stops inside its last block (cut off on the way): that block is not trusted.
    pub cut: bool,
}

/// How a chat engine chooses the words of one reply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 is greedy: the same question always gets the same answer.
    pub temperature: f32,
    /// With a temperature above 0, another seed gives another answer to the same question.
    pub seed: u32,
}

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EngineError {
    /// Worth retrying: 429, 5xx, timeouts, connection errors.
    #[error("{message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// The server answered, but not with a usable reply (bad JSON, an error body with 200, a stream cut off).
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// Retrying cannot help (bad key, bad request, no quota): the engine stops for this run.
    #[error("{0}")]
    Permanent(String),
}

/// The engine is configured but cannot be used (e.g. its key is not set).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct Unusable(pub String);

pub struct Engine {
    pub config: EngineConfig,
    /// The `local` engine's model, loaded on first use.
    local: tokio::sync::OnceCell<std::sync::Arc<super::local::Model>>,
    client: reqwest::Client,
    key: Option<String>,
    limiter: RateLimiter,
    /// At most `max_concurrency` requests in flight to this engine.
    slots: Semaphore,
    /// How inline markup travels, for chat engines.
    protocol: Protocol,
}

impl Engine {
    pub fn new(mut config: EngineConfig, protocol: Protocol) -> Result<Engine, Unusable> {
        let key = match &config.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => Some(k.trim().to_string()),
                _ => {
                    return Err(Unusable(format!(
                        "set the environment variable {var} to the API key of {} (no key? translate offline: `polyfeed model pull`, then engine = \"local\"; see the README)",
                        config.endpoint_name()
                    )));
                }
            },
            None => None,
        };
        if *config.engine.get_ref() == EngineKind::Local {
            super::local::check_usable(&config.local_model_path())?;
            // One model, one generation at a time.
            config.max_concurrency = 1;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(config.timeout))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(crate::config::DEFAULT_USER_AGENT)
            .build()
            .map_err(|e| Unusable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Engine {
            local: tokio::sync::OnceCell::new(),
            limiter: RateLimiter::new(config.requests_per_minute, config.tokens_per_minute),
            slots: Semaphore::new(config.max_concurrency),
            client,
            key,
            config,
            protocol,
        })
    }

    /// The engine's name in the translation memory and usage tables.
    pub fn name(&self) -> &'static str {
        self.config.engine.get_ref().name()
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Where the engine is, for messages: its URL, or its model file.
    pub fn place(&self) -> String {
        self.config.endpoint_name()
    }

    /// Engines that take one block per request (small local models, held to the structure).
    pub fn one_block_per_request(&self) -> bool {
        *self.config.engine.get_ref() == EngineKind::Local
    }

    /// Whether this engine sees inline markup as placeholders (a chat engine under that protocol).
    pub fn uses_placeholders(&self) -> bool {
        matches!(self.config.engine.get_ref(), EngineKind::Openai | EngineKind::Local) && self.protocol == Protocol::Placeholders
    }

    /// Translates `units` into `target` in one request (`sampling`: a chat engine's; the others
    /// have none).
    pub async fn translate(&self, units: &[&Unit], target: &str, system: &str, sampling: Sampling) -> Result<Reply, EngineError> {
        let _slot = self.slots.acquire().await.expect("never closed");
        let estimate: usize = units.iter().map(|u| estimate_tokens(&u.html)).sum::<usize>() + estimate_tokens(system);
        self.limiter.acquire(estimate.min(u32::MAX as usize) as u32).await;
        let result =
            if self.uses_placeholders() { self.with_placeholders(units, system, sampling).await } else { self.send(units, target, system, sampling).await };
        result.map_err(|e| self.scrub(e))
    }

    /// Writes what `system` asks of one block (a summary of a post: `source` is its text) in one
    /// request of a chat engine, in at most `max_tokens`. The reply's one block, as sent back.
    pub async fn summarize(&self, source: &Unit, system: &str, max_tokens: usize) -> Result<Reply, EngineError> {
        let _slot = self.slots.acquire().await.expect("never closed");
        let estimate = estimate_tokens(&source.html) + estimate_tokens(system) + max_tokens;
        self.limiter.acquire(estimate.min(u32::MAX as usize) as u32).await;
        let result = match self.config.engine.get_ref() {
            EngineKind::Openai => self.openai(&[source], system, self.configured_sampling(), max_tokens).await,
            EngineKind::Local => self.local(&[source], system, self.configured_sampling(), Some(max_tokens)).await,
            other => Err(EngineError::Permanent(format!("the {} engine translates only; summaries need a chat engine", other.name()))),
        };
        result.map_err(|e| self.scrub(e))
    }

    /// The sampling the engine is configured with (its temperature), first seed.
    fn configured_sampling(&self) -> Sampling {
        Sampling { temperature: self.config.temperature, seed: 0 }
    }

    async fn send(&self, units: &[&Unit], target: &str, system: &str, sampling: Sampling) -> Result<Reply, EngineError> {
        match self.config.engine.get_ref() {
            EngineKind::Openai => self.openai(units, system, sampling, prompt::reply_budget(units)).await,
            EngineKind::Deepl => self.deepl(units, target).await,
            EngineKind::Libretranslate => self.libre(units, target).await,
            EngineKind::Local => self.local(units, system, sampling, None).await,
        }
    }

    /// A chat request whose blocks carry placeholders for their inline markup; the reply's blocks
    /// come back with the markup put back, for the checks to judge against the source.
    async fn with_placeholders(&self, units: &[&Unit], system: &str, sampling: Sampling) -> Result<Reply, EngineError> {
        let wires: Vec<placeholders::Wire> = units.iter().map(|u| placeholders::encode(&u.html)).collect();
        let sent: Vec<Unit> = units.iter().zip(&wires).map(|(u, w)| Unit { html: w.html.clone(), ..(*u).clone() }).collect();
        let refs: Vec<&Unit> = sent.iter().collect();
        let mut reply = match self.config.engine.get_ref() {
            EngineKind::Local => self.local(&refs, system, sampling, None).await?,
            _ => self.openai(&refs, system, sampling, prompt::reply_budget(&refs)).await?,
        };
        for (id, html) in &mut reply.blocks {
            if let Some(wire) = wires.get(*id) {
                *html = placeholders::decode(wire, html);
            }
        }
        Ok(reply)
    }

    /// A chat completion whose reply may take `max_tokens`.
    async fn openai(&self, units: &[&Unit], system: &str, sampling: Sampling, max_tokens: usize) -> Result<Reply, EngineError> {
        let user = prompt::user_message(units);
        let mut body = json!({
            "model": self.config.model,
            "temperature": sampling.temperature,
            "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        });
        if sampling.temperature > 0.0 {
            // Servers that sample reproducibly take the seed (llama.cpp, vLLM, OpenAI); the others ignore it.
            body["seed"] = json!(sampling.seed);
        }
        if self.config.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        let mut req = self.client.post(self.endpoint("chat/completions")).json(&body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let response = req.send().await.map_err(transport)?;
        let response = check_status(response).await?;
        let (content, usage, finish) = if self.config.stream { read_stream(response).await? } else { read_completion(response).await? };
        let usage = usage.unwrap_or(Usage {
            prompt_tokens: (estimate_tokens(system) + estimate_tokens(&user)) as u64,
            completion_tokens: estimate_tokens(&content) as u64,
            estimated: true,
        });
        // Reading the reply parses HTML: off the async threads.
        let single = (units.len() == 1).then(|| units[0].clone());
        let (blocks, cut) = tokio::task::spawn_blocking(move || {
            let blocks = match &single {
                Some(unit) => prompt::read_reply(&[unit], &content),
                None => prompt::parse_reply(&content),
            };
            // A reply without its last closing tag was cut off on the way, unless the model ended
            // it itself, for one block whose source ends a sentence: a translation of that which
            // stops early fails the checks (the last sentence unfinished, one dropped), so only
            // the tag a model forgot is forgiven.
            let forgot_tag = finish == Finish::Stop && single.as_ref().is_some_and(|u| super::checks::ends_a_sentence(&u.html));
            (blocks, finish == Finish::Length || !forgot_tag && prompt::reply_cut(&content))
        })
        .await
        .map_err(|e| EngineError::Malformed(format!("reading the reply failed: {e}")))?;
        Ok(Reply { blocks, usage, cut })
    }

    /// `max_tokens`: the reply's budget, else the local engine's own for a translation.
    async fn local(&self, units: &[&Unit], system: &str, sampling: Sampling, max_tokens: Option<usize>) -> Result<Reply, EngineError> {
        let path = self.config.local_model_path();
        let context = self.config.context_size;
        let threads = self.config.threads;
        let model = self
            .local
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || super::local::Model::load(&path, context, threads))
                    .await
                    .map_err(|e| EngineError::Permanent(format!("loading the model failed: {e}")))?
                    .map_err(|e| EngineError::Permanent(e.0))
            })
            .await?
            .clone();
        let units: Vec<Unit> = units.iter().map(|u| (*u).clone()).collect();
        let system = system.to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs_f64(self.config.timeout);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&Unit> = units.iter().collect();
            model.translate(&refs, &system, sampling, deadline, max_tokens)
        })
        .await
        .map_err(|e| EngineError::Malformed(format!("the model failed: {e}")))?
    }

    async fn deepl(&self, units: &[&Unit], target: &str) -> Result<Reply, EngineError> {
        let texts: Vec<&str> = units.iter().map(|u| u.html.as_str()).collect();
        let body = json!({"text": texts, "target_lang": deepl_code(target), "tag_handling": "html"});
        let mut req = self.client.post(self.endpoint("v2/translate")).json(&body);
        if let Some(key) = &self.key {
            req = req.header("Authorization", format!("DeepL-Auth-Key {key}"));
        }
        let response = check_status(req.send().await.map_err(transport)?).await?;
        let value: Value = response.json().await.map_err(|e| EngineError::Malformed(format!("not JSON: {e}")))?;
        let texts = value["translations"]
            .as_array()
            .ok_or_else(|| EngineError::Malformed(format!("no translations in {}", excerpt(&value.to_string()))))?
            .iter()
            .map(|t| t["text"].as_str().unwrap_or_default().to_string());
        Ok(array_reply(units, texts))
    }

    async fn libre(&self, units: &[&Unit], target: &str) -> Result<Reply, EngineError> {
        let texts: Vec<&str> = units.iter().map(|u| u.html.as_str()).collect();
        let mut body = json!({"q": texts, "source": "auto", "target": libre_code(target), "format": "html"});
        if let Some(key) = &self.key {
            body["api_key"] = json!(key);
        }
        let response = check_status(self.client.post(self.endpoint("translate")).json(&body).send().await.map_err(transport)?).await?;
        let value: Value = response.json().await.map_err(|e| EngineError::Malformed(format!("not JSON: {e}")))?;
        let texts: Vec<String> = match &value["translatedText"] {
            Value::Array(a) => a.iter().map(|t| t.as_str().unwrap_or_default().to_string()).collect(),
            Value::String(s) => vec![s.clone()],
            _ => return Err(EngineError::Malformed(format!("no translatedText in {}", excerpt(&value.to_string())))),
        };
        Ok(array_reply(units, texts.into_iter()))
    }

    fn endpoint(&self, path: &str) -> String {
        let base = self.config.base_url.as_ref().map_or("", |u| u.get_ref().as_str());
        format!("{}/{path}", base.trim_end_matches('/'))
    }

    /// Removes the API key from an error, whatever the server echoed.
    fn scrub(&self, e: EngineError) -> EngineError {
        let Some(key) = self.key.as_deref().filter(|k| k.len() >= 4) else { return e };
        let clean = |s: String| s.replace(key, "[redacted]");
        match e {
            EngineError::Transient { message, retry_after } => EngineError::Transient { message: clean(message), retry_after },
            EngineError::Malformed(m) => EngineError::Malformed(clean(m)),
            EngineError::Permanent(m) => EngineError::Permanent(clean(m)),
        }
    }
}

/// Array-in, array-out engines: block i is unit i; usage is estimated from characters.
fn array_reply(units: &[&Unit], texts: impl Iterator<Item = String>) -> Reply {
    let blocks: Vec<(usize, String)> = texts.enumerate().map(|(i, t)| (i, crate::text::collapse_whitespace(&t))).collect();
    let prompt_tokens = units.iter().map(|u| estimate_tokens(&u.html) as u64).sum();
    let completion_tokens = blocks.iter().map(|(_, t)| estimate_tokens(t) as u64).sum();
    Reply { blocks, usage: Usage { prompt_tokens, completion_tokens, estimated: true }, cut: false }
}

fn transport(e: reqwest::Error) -> EngineError {
    let what = if e.is_timeout() { "timed out" } else { "connection failed" };
    let mut message = format!("{what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    EngineError::Transient { message, retry_after: None }
}

/// Sorts a response by status: success goes on; the rest becomes the right kind of error.
async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, EngineError> {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::fetch::policy::parse_retry_after(v, chrono::Utc::now()));
    let body = response.text().await.unwrap_or_default();
    let message = format!("HTTP {status}: {}", excerpt(&body));
    match status {
        429 if body.contains("insufficient_quota") => Err(EngineError::Permanent(format!("out of quota ({message})"))),
        429 | 408 | 409 | 500..=599 => Err(EngineError::Transient { message, retry_after }),
        // 456: DeepL's quota exceeded; 402: payment required.
        _ => Err(EngineError::Permanent(message)),
    }
}

/// Why a reply ended, as the server said.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Finish {
    /// It hit the reply budget (`length`): its last block is not trusted.
    Length,
    /// The model ended it (`stop`).
    Stop,
    /// The server did not say.
    Unknown,
}

impl Finish {
    fn of(reason: Option<&str>) -> Finish {
        match reason {
            Some("length") => Finish::Length,
            Some("stop") => Finish::Stop,
            _ => Finish::Unknown,
        }
    }
}

/// A reply's text, its usage if the server told it, and why it ended.
type Completion = (String, Option<Usage>, Finish);

async fn read_completion(response: reqwest::Response) -> Result<Completion, EngineError> {
    let text = response.text().await.map_err(transport)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| EngineError::Malformed(format!("not JSON ({e}): {}", excerpt(&text))))?;
    if !value["error"].is_null() {
        return Err(EngineError::Malformed(format!("an error with status 200: {}", excerpt(&value["error"].to_string()))));
    }
    let choice = &value["choices"][0];
    let content =
        choice["message"]["content"].as_str().ok_or_else(|| EngineError::Malformed(format!("no choices[0].message.content in {}", excerpt(&text))))?;
    Ok((content.to_string(), usage_of(&value), Finish::of(choice["finish_reason"].as_str())))
}

/// Reads a server-sent-events completion; a stream that ends before `[DONE]` or a finish reason is cut off.
async fn read_stream(mut response: reqwest::Response) -> Result<Completion, EngineError> {
    let mut buf = String::new();
    let mut content = String::new();
    let mut usage = None;
    let mut finished = None::<String>;
    let mut done = false;
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find('\n') {
            let line = buf[..end].trim().to_string();
            buf.drain(..=end);
            let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let value: Value = serde_json::from_str(data).map_err(|e| EngineError::Malformed(format!("bad stream event ({e}): {}", excerpt(data))))?;
            if !value["error"].is_null() {
                return Err(EngineError::Malformed(format!("an error in the stream: {}", excerpt(&value["error"].to_string()))));
            }
            if let Some(delta) = value["choices"][0]["delta"]["content"].as_str() {
                content.push_str(delta);
            }
            if let Some(reason) = value["choices"][0]["finish_reason"].as_str() {
                finished = Some(reason.to_string());
            }
            usage = usage_of(&value).or(usage);
        }
    }
    match finished.as_deref() {
        None if !done => Err(EngineError::Malformed("the stream was cut off before it finished".into())),
        reason => Ok((content, usage, Finish::of(reason))),
    }
}

fn usage_of(value: &Value) -> Option<Usage> {
    let u = value.get("usage").filter(|u| !u.is_null())?;
    Some(Usage { prompt_tokens: u["prompt_tokens"].as_u64()?, completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0), estimated: false })
}

fn excerpt(s: &str) -> String {
    let one_line = crate::text::collapse_whitespace(s);
    let cut = crate::text::truncate(&one_line, 300);
    if cut.len() < one_line.len() { format!("{cut}...") } else { cut.to_string() }
}

/// DeepL's target code for a language tag.
fn deepl_code(tag: &str) -> String {
    match tag.to_ascii_lowercase().as_str() {
        "zh" | "zh-cn" | "zh-hans" | "zh-sg" => "ZH-HANS".into(),
        "zh-tw" | "zh-hk" | "zh-hant" => "ZH-HANT".into(),
        "en" => "EN-US".into(),
        "pt" => "PT-BR".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// LibreTranslate's target code for a language tag.
fn libre_code(tag: &str) -> String {
    match tag.to_ascii_lowercase().as_str() {
        "zh-tw" | "zh-hk" | "zh-hant" => "zt".into(),
        other => other.split('-').next().unwrap_or(other).to_string(),
    }
}
