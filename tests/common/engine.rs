//! The far side of the translation protocol: an OpenAI-compatible chat-completions endpoint (and
//! DeepL / LibreTranslate ones) whose "translation" is a deterministic transform a test can predict.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Value, json};

use super::fake_text::translate_text;
use super::{BodyKind, Reply, Seen};

pub const CHAT: &str = "/v1/chat/completions";

/// The test engine's translation of one block: every Latin word becomes "中文" ("文" when short); tags, attributes,
/// the brackets of links and the stars of bold written as placeholders (`[words](1)`,
/// `**words**`), inline code (code, kbd, samp,
/// var, tt), numbers with their units ("8B", "64GB"), URLs and entities stay. It passes every
/// faithfulness check.
pub fn fake_translate(html: &str) -> String {
    static TAG: OnceLock<Regex> = OnceLock::new();
    let tag = TAG.get_or_init(|| Regex::new(r"<[^>]*>|\]\([0-9]+\)|\[|\*\*").unwrap());
    let mut out = String::new();
    let mut in_code = 0usize;
    let mut last = 0;
    for m in tag.find_iter(html) {
        out.push_str(&translate_text(&html[last..m.start()], in_code > 0));
        let t = m.as_str();
        let name: String = t.trim_start_matches(['<', '/']).chars().take_while(char::is_ascii_alphanumeric).collect();
        if polyfeed::translate::segment::CODE.contains(&name.as_str()) {
            if t.starts_with("</") {
                in_code = in_code.saturating_sub(1);
            } else {
                in_code += 1;
            }
        }
        out.push_str(t);
        last = m.end();
    }
    out.push_str(&translate_text(&html[last..], in_code > 0));
    out
}

/// The blocks of a chat request's user message: (data-b, tag, inner HTML).
pub fn request_blocks(seen: &Seen) -> Vec<(usize, String, String)> {
    static BLOCK: OnceLock<Regex> = OnceLock::new();
    let re = BLOCK.get_or_init(|| Regex::new(r#"(?s)<(\w+) data-b="(\d+)">(.*?)</(\w+)>\n"#).unwrap());
    let body: Value = serde_json::from_slice(&seen.body).expect("a JSON request");
    let user = body["messages"][1]["content"].as_str().expect("a user message").to_string();
    re.captures_iter(&user).map(|c| (c[2].parse().unwrap(), c[1].to_string(), c[3].to_string())).collect()
}

/// The system message of a chat request.
pub fn system_message(seen: &Seen) -> String {
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    body["messages"][0]["content"].as_str().unwrap().to_string()
}

/// How a chat request asks to sample: (temperature, seed).
pub fn sampling(seen: &Seen) -> (f64, Option<u64>) {
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    (body["temperature"].as_f64().expect("a temperature"), body["seed"].as_u64())
}

/// A reply made of (data-b, html) blocks.
pub fn reply_html(blocks: &[(usize, String, String)], f: impl Fn(&str) -> String) -> String {
    blocks.iter().map(|(i, tag, html)| format!("<{tag} data-b=\"{i}\">{}</{tag}>\n", f(html))).collect()
}

/// A non-streaming completion carrying `content`, with usage.
pub fn completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        }),
    )
}

/// The well-behaved engine: translates every block of the request with `fake_translate`.
pub fn translate(seen: &Seen) -> Reply {
    let blocks = request_blocks(seen);
    let content = reply_html(&blocks, fake_translate);
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    let prompt = body["messages"].to_string().len() as u64 / 4;
    if body["stream"] == true {
        return stream(&content, true);
    }
    completion(&content, prompt, content.len() as u64 / 4)
}

/// A server-sent-events completion of `content` in small deltas; `finish` false cuts it off.
pub fn stream(content: &str, finish: bool) -> Reply {
    let mut events = String::new();
    let chars: Vec<char> = content.chars().collect();
    for chunk in chars.chunks(40) {
        let delta: String = chunk.iter().collect();
        events.push_str(&format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": null}]})));
    }
    if finish {
        events.push_str(&format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
        events.push_str(&format!("data: {}\n\n", json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 50}})));
        events.push_str("data: [DONE]\n\n");
    }
    Reply { status: 200, headers: vec![("content-type".into(), "text/event-stream".into())], body: BodyKind::Bytes(events.into_bytes()) }
}

/// A [translator] table for an OpenAI-compatible engine at `base_url`.
pub fn translator_config(base_url: &str, extra: &str) -> String {
    format!("[translator]\nengine = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"test-model\"\napi_key_env = \"POLYFEED_TEST_KEY\"\n{extra}\n")
}
