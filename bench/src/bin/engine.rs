//! An OpenAI-compatible engine on 127.0.0.1 that answers after a fixed delay with a deterministic
//! "translation". GET /stats reports requests, token estimates, and blocks asked for more than once
//! (paid for twice). Usage: engine PORT DELAY_MS
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::{Json, Router, extract::State, routing::{get, post}};
use serde_json::{Value, json};

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    prompt_tokens: AtomicU64,
    source_tokens: AtomicU64,
    blocks: AtomicU64,
    /// Every block asked for, by its text: a block seen again was paid for again.
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
    repeated: AtomicU64,
}

fn re(cell: &'static std::sync::OnceLock<regex::Regex>, pattern: &str) -> &'static regex::Regex {
    cell.get_or_init(|| regex::Regex::new(pattern).unwrap())
}

/// As a good translator writes Chinese (the same rules as the tests' engine): URLs, entities, names
/// and numbers with their units stay, a number with a magnitude word becomes 万 or 亿, sentences end
/// the Chinese way, every other word becomes "中文"; so that every block passes the checks.
fn translate_text(text: &str, code: bool) -> String {
    static WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    if code {
        return text.to_string();
    }
    // As a translator writes Chinese: URLs, entities and names (all capitals, inner capitals)
    // stay; a number with a magnitude word becomes 万 or 亿; abbreviations lose their dots; every
    // other word becomes "中文".
    let word = WORD.get_or_init(|| {
        regex::Regex::new(
            r"(https?://[^\s<]+)|(&#?\w+;)|(\d+(?:\.\d+)?)\s(thousand|million|billion)\b|\b(e\.g|i\.e|etc|vs|St|Mr|Mrs|Dr|Inc|Ltd)\.|\b([A-Z][A-Z]+|[A-Za-z]+[A-Z][A-Za-z]*)\b|\b([A-Za-z]+)\b",
        )
        .unwrap()
    });
    let words = word
        .replace_all(text, |c: &regex::Captures| {
            if let (Some(n), Some(scale)) = (c.get(3), c.get(4)) {
                let value: f64 = n.as_str().parse::<f64>().unwrap()
                    * match scale.as_str() {
                        "thousand" => 1e3,
                        "million" => 1e6,
                        _ => 1e9,
                    };
                let (v, unit) = if value >= 1e8 {
                    (value / 1e8, "亿")
                } else if value >= 1e4 {
                    (value / 1e4, "万")
                } else {
                    (value, "")
                };
                let digits = format!("{v:.4}");
                return format!("{}{unit}", digits.trim_end_matches('0').trim_end_matches('.'));
            }
            if let Some(abbreviation) = c.get(5) {
                // "etc." at the end of a block ends its sentence too: "等。"
                let last = c.get(0).is_some_and(|m| text[m.end()..].trim().is_empty());
                return if abbreviation.as_str() == "etc" && last { "中文。".to_string() } else { "中文".to_string() };
            }
            // A short word ("a", "of", "the") takes one character, a longer one two: about the
            // length a Chinese translation has.
            match c.get(7) {
                Some(w) if w.as_str().len() <= 3 => "文".to_string(),
                Some(_) => "中文".to_string(),
                None => c[0].to_string(),
            }
        })
        .into_owned();
    // Sentences end the Chinese way.
    static STOP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let stop = STOP.get_or_init(|| regex::Regex::new(r"([^.\s])([.!?])(\s+|$)").unwrap());
    stop.replace_all(&words, |c: &regex::Captures| {
        let mark = match &c[2] {
            "." => "。",
            "!" => "！",
            _ => "？",
        };
        format!("{}{mark}{}", &c[1], if c[3].is_empty() { "" } else { " " })
    })
    .into_owned()
}

fn translate(html: &str) -> String {
    static TAG: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let tag = re(&TAG, r"<[^>]*>|&#?\w+;|https?://[^\s<]+");
    let mut out = String::new();
    let mut last = 0;
    let mut in_code = false;
    for m in tag.find_iter(html) {
        let text = &html[last..m.start()];
        out.push_str(&translate_text(text, in_code));
        let t = m.as_str();
        if t.starts_with("<code") { in_code = true }
        if t.starts_with("</code") { in_code = false }
        out.push_str(t);
        last = m.end();
    }
    let text = &html[last..];
    out.push_str(&translate_text(text, false));
    out
}

async fn chat(State((stats, delay)): State<(Arc<Stats>, Duration)>, Json(body): Json<Value>) -> Json<Value> {
    tokio::time::sleep(delay).await;
    let system = body["messages"][0]["content"].as_str().unwrap_or("");
    let user = body["messages"][1]["content"].as_str().unwrap_or("");
    static BLOCK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let block = re(&BLOCK, r#"(?s)<(\w+) data-b="(\d+)">(.*?)</(\w+)>\n"#);
    let mut content = String::new();
    let mut source = 0;
    for c in block.captures_iter(user) {
        source += polyfeed::translate::prompt::estimate_tokens(&c[3]);
        stats.blocks.fetch_add(1, Ordering::Relaxed);
        if !stats.seen.lock().unwrap().insert(c[3].to_string()) {
            stats.repeated.fetch_add(1, Ordering::Relaxed);
        }
        content.push_str(&format!("<{t} data-b=\"{}\">{}</{t}>\n", &c[2], translate(&c[3]), t = &c[1]));
    }
    let prompt = polyfeed::translate::prompt::estimate_tokens(system) + polyfeed::translate::prompt::estimate_tokens(user);
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats.prompt_tokens.fetch_add(prompt as u64, Ordering::Relaxed);
    stats.source_tokens.fetch_add(source as u64, Ordering::Relaxed);
    Json(json!({"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}], "usage": {"prompt_tokens": prompt, "completion_tokens": polyfeed::translate::prompt::estimate_tokens(&content)}}))
}

async fn stats(State((stats, _)): State<(Arc<Stats>, Duration)>) -> Json<Value> {
    Json(json!({
        "requests": stats.requests.load(Ordering::Relaxed),
        "prompt_tokens": stats.prompt_tokens.load(Ordering::Relaxed),
        "source_tokens": stats.source_tokens.load(Ordering::Relaxed),
        "blocks": stats.blocks.load(Ordering::Relaxed),
        "repeated_blocks": stats.repeated.load(Ordering::Relaxed),
    }))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().unwrap();
    let delay = Duration::from_millis(args[2].parse().unwrap());
    let state = (Arc::new(Stats::default()), delay);
    let app = Router::new().route("/v1/chat/completions", post(chat)).route("/stats", get(stats)).with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    axum::serve(listener, app).with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; }).await.unwrap();
}
