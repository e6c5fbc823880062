//! An OpenAI-compatible engine on 127.0.0.1 that answers after a fixed delay with a deterministic
//! "translation". GET /stats reports requests, token estimates, and blocks asked for more than once
//! (paid for twice). Usage: engine PORT DELAY_MS
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::{Json, Router, extract::State, routing::{get, post}};
use serde_json::{Value, json};

/// As a good translator writes Chinese, the same rules as the tests' engine: every block passes the checks.
#[path = "../../../tests/common/fake_text.rs"]
mod fake_text;
use fake_text::translate_text;

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
