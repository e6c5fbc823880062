//! Test support: an in-process HTTP server on 127.0.0.1 whose routes a test scripts, which records
//! every request it sees; and a runner for the real polyfeed binary.

#![allow(dead_code, reason = "each test file uses a different part of the support module")]

pub mod engine;
pub mod fake_text;
pub mod pg;
pub mod running;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How a reply's body is sent.
pub enum BodyKind {
    Bytes(Vec<u8>),
    /// `chunk` every `every`, `count` times (a slow server).
    Drip {
        chunk: Vec<u8>,
        every: Duration,
        count: usize,
    },
    /// 64 KiB chunks forever (a response that never ends).
    Endless,
    /// These parts, `every` apart (the first at once).
    Parts {
        parts: Vec<Vec<u8>>,
        every: Duration,
    },
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status, headers: vec![("content-type".into(), content_type.into())], body: BodyKind::Bytes(body.into()) }
    }
    pub fn atom(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, "application/atom+xml; charset=utf-8", body)
    }
    pub fn rss(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, "application/rss+xml", body)
    }
    pub fn html(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, "text/html; charset=utf-8", body)
    }
    pub fn status(status: u16) -> Reply {
        Reply::new(status, "text/plain", format!("status {status}"))
    }
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("location", location)
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    /// Adds an ETag; the server answers 304 when a request's If-None-Match matches it.
    pub fn etag(self, tag: &str) -> Reply {
        self.header("etag", tag)
    }
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }
}

type Handler = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// An HTTP server on 127.0.0.1 with scripted routes. Dropping it stops it.
pub struct Server {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    log: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let routes: Arc<Mutex<HashMap<String, Handler>>> = Arc::default();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (r, l) = (routes.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let (r, l) = (r.clone(), l.clone());
                    async move { serve(req, r, l).await }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
            // Endless and dripping bodies are still being written: do not wait for them.
            rt.shutdown_background();
        });
        let addr = addr_rx.recv().unwrap();
        Server { addr, routes, log, shutdown: Some(shutdown_tx), thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Routes `path` to `f(request, hit number from 0)`.
    pub fn route(&self, path: &str, f: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) {
        self.routes.lock().unwrap().insert(path.to_string(), Arc::new(f));
    }

    /// Routes `path` to a fixed feed body with an ETag.
    pub fn feed(&self, path: &str, content_type: &'static str, body: &str, etag: &str) {
        let (body, etag) = (body.to_string(), etag.to_string());
        self.route(path, move |_, _| Reply::new(200, content_type, body.clone()).etag(&etag));
    }

    /// Requests seen on `path`, in order.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.log.lock().unwrap().iter().filter(|s| s.path == path).cloned().collect()
    }

    pub fn all_seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(req: Request<Body>, routes: Arc<Mutex<HashMap<String, Handler>>>, log: Arc<Mutex<Vec<Seen>>>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default().to_vec();
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let seen = Seen { method: parts.method.to_string(), path: path.clone(), headers: parts.headers, body, at: std::time::Instant::now() };
    let hit = {
        let mut log = log.lock().unwrap();
        let n = log.iter().filter(|s| s.path == path).count();
        log.push(seen.clone());
        n
    };
    let handler = routes.lock().unwrap().get(&path).cloned();
    let Some(handler) = handler else {
        return Response::builder().status(404).body(Body::from("no route")).unwrap();
    };
    let reply = handler(&seen, hit);
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), HeaderValue::from_str(v).unwrap());
    }
    let etag = reply.headers.iter().find(|(k, _)| k == "etag").map(|(_, v)| v.clone());
    if etag.is_some() && seen.header("if-none-match") == etag.as_deref() {
        return builder.status(304).body(Body::empty()).unwrap();
    }
    let body = match reply.body {
        BodyKind::Bytes(b) => Body::from(b),
        BodyKind::Drip { chunk, every, count } => Body::from_stream(futures_util::stream::unfold(0, move |i| {
            let chunk = chunk.clone();
            async move {
                if i >= count {
                    return None;
                }
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), i + 1))
            }
        })),
        BodyKind::Parts { parts, every } => Body::from_stream(futures_util::stream::unfold(0, move |i| {
            let part = parts.get(i).cloned();
            async move {
                let part = part?;
                if i > 0 {
                    tokio::time::sleep(every).await;
                }
                Some((Ok::<_, std::io::Error>(Bytes::from(part)), i + 1))
            }
        })),
        BodyKind::Endless => Body::from_stream(futures_util::stream::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 65536])))),
    };
    builder.body(body).unwrap()
}

/// A temporary folder holding a feeds.toml, for running the binary.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(config: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feeds.toml"), config).unwrap();
        Workdir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("feeds.toml")
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config(), config).unwrap();
    }

    /// Runs polyfeed with this folder's config.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap())
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyfeed"));
        cmd.args(args).current_dir(self.path()).env("POLYFEED_CONFIG", self.config()).env("POLYFEED_TEST_KEY", TEST_KEY).env_remove("RUST_LOG");
        cmd
    }

    /// The store, opened by the test (while no polyfeed process runs).
    pub fn store(&self) -> polyfeed::store::SqliteStore {
        polyfeed::store::SqliteStore::open(&self.path().join("cache/polyfeed.sqlite")).unwrap()
    }

    /// `polyfeed status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let run = self.run(&["status", "--json"]);
        assert_eq!(run.code, 0, "status failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// The status object of one feed.
    pub fn feed_status(&self, name: &str) -> serde_json::Value {
        self.status().as_array().unwrap().iter().find(|f| f["name"] == name).cloned().unwrap_or_else(|| panic!("no feed {name} in status"))
    }
}

/// The API key the test engine expects; it must never show up in polyfeed's output or files.
pub const TEST_KEY: &str = "sk-test-6f1d2c9a8b7e4d3c";

/// The outcome of running the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// An Atom feed shaped like simonwillison.net's /atom/everything/: one line, full HTML in
/// `<summary type="html">`, feed-level author, `#atom-everything` ids (or bare links when `bare_ids`).
pub fn atom_feed(entries: &[AtomEntry], bare_ids: bool) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us"><title>Simon Willison's Weblog</title><link href="http://simonwillison.net/" rel="alternate"/><link href="http://simonwillison.net/atom/everything/" rel="self"/><id>http://simonwillison.net/</id><updated>2026-11-20T10:00:00+00:00</updated><author><name>Simon Willison</name></author>"#,
    );
    for e in entries {
        let link = format!("https://simonwillison.net/2026/Nov/{}/{}/", e.day, e.slug);
        let id = if bare_ids { link.clone() } else { format!("{link}#atom-everything") };
        let cats: String = e.tags.iter().map(|t| format!(r#"<category term="{t}"/>"#)).collect();
        out.push_str(&format!(
            r#"<entry><title>{}</title><link href="{link}" rel="alternate"/><published>2026-11-{:02}T10:00:00+00:00</published><updated>2026-11-{:02}T10:00:00+00:00</updated><id>{id}</id><summary type="html">{}</summary>{cats}</entry>"#,
            escape(&e.title),
            e.day,
            e.day,
            escape(&e.html),
        ));
    }
    out.push_str("</feed>");
    out
}

pub struct AtomEntry {
    pub day: u32,
    pub slug: String,
    pub title: String,
    pub html: String,
    pub tags: Vec<String>,
}

/// `n` entries in the blog's three shapes (long entry, blogmark, quotation), newest first.
pub fn sample_entries(n: u32) -> Vec<AtomEntry> {
    (0..n)
        .map(|i| {
            let day = 28 - (i % 28);
            let slug = format!("post-{i}");
            let (title, html) = match i % 3 {
                0 => (
                    format!("Things we learned, part {i}"),
                    format!(
                        "<p>In 2024 the price of running a GPT-4 class model fell by a factor of {}.</p><h4 id=\"gpt4\">The GPT-4 barrier was broken</h4><p>Eighteen organizations now have models that rank higher than the original GPT-4 on the <a href=\"https://lmarena.ai/\">Chatbot Arena Leaderboard</a>.</p><pre><code>llm -m gemini-1.5-flash-8b 'describe this'</code></pre><ul><li>Gemini 1.5 Flash 8B costs $0.0375/mTok.</li><li>Claude 3 Haiku costs $0.25/mTok.</li></ul><p>Tags: <a href=\"https://simonwillison.net/tags/llms/\">llms</a></p>",
                        i + 27
                    ),
                ),
                1 => (
                    format!("A useful tool, number {i}"),
                    format!("<p><strong><a href=\"https://example.com/tool-{i}\">A useful tool, number {i}</a></strong></p><p>Via <a href=\"https://news.ycombinator.com/\">Hacker News</a>. It handles {i}00 requests per second.</p>"),
                ),
                _ => (
                    format!("Quoting someone, {i}"),
                    "<blockquote cite=\"https://example.com/q\"><p>The best way to predict the future is to invent it.</p></blockquote><p class=\"cite\">&mdash; <a href=\"https://example.com/q\">Alan Kay</a></p>".to_string(),
                ),
            };
            AtomEntry { day, slug, title, html, tags: vec!["ai".into(), "llms".into()] }
        })
        .collect()
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A config for feeds on the test server: each (name, url) becomes a feed that may use loopback.
pub fn config_for(feeds: &[(&str, &str)], extra_top: &str, extra_feed: &str) -> String {
    let mut out = format!("{extra_top}\n");
    for (name, url) in feeds {
        out.push_str(&format!("\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\nallow_private_network = true\n{extra_feed}\n"));
    }
    out
}

/// Something a test needs from outside the repository (the shared corpus, Chromium, real
/// models). On a fresh clone it may be missing: the test then says it is skipped and why, and
/// passes. CI sets POLYFEED_REQUIRE_EXTERNAL=1, and there a missing resource fails the test.
pub fn external<T>(found: Option<T>, what: &str, test: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    if std::env::var_os("POLYFEED_REQUIRE_EXTERNAL").is_some_and(|v| v == "1") {
        panic!("{test}: {what} is missing, and POLYFEED_REQUIRE_EXTERNAL=1 makes it required");
    }
    // Straight to the process's stderr: the test harness would hide a captured line of a passing test.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {what} is missing (POLYFEED_REQUIRE_EXTERNAL=1 makes this a failure)");
    None
}

/// The shared corpus of real feeds: POLYFEED_CORPUS, else `../shared/corpus` beside the checkout.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let candidates = [std::env::var_os("POLYFEED_CORPUS").map(PathBuf::from), Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))];
    let found = candidates.into_iter().flatten().find(|p| p.join("feeds").is_dir());
    external(found, "the shared corpus of real feeds (set POLYFEED_CORPUS to the folder holding feeds/)", test)
}
