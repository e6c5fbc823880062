//! The HTTP server over output/: feeds for subscribers (ETag, Last-Modified, 304s, gzip/brotli,
//! HEAD), per-subscriber tokens or HTTP Basic for private feeds, and three endpoints of its own:
//! /healthz, /metrics and /status. It serves files under output/ and nothing else: no listings,
//! no dot files, no path outside the folder.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;
use crate::store::Store;

pub use crate::config::server::ServerConfig;

/// What the running daemon tells the server (absent under `polyfeed serve`).
#[derive(Default)]
pub struct Live {
    /// Last time the scheduler loop ran (Unix seconds).
    pub heartbeat: AtomicI64,
    /// Next fetch of each feed (Unix seconds).
    pub next_runs: Mutex<BTreeMap<String, i64>>,
    /// Where WebSub pushes go (`[server] websub`): the daemon takes them as fetches.
    pub pushes: std::sync::OnceLock<tokio::sync::mpsc::Sender<websub::Push>>,
}

/// How long the scheduler may be silent before /healthz says it is not alive.
const HEARTBEAT_LIMIT: i64 = 120;

struct Inner {
    output: PathBuf,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    live: Option<Arc<Live>>,
    config: Arc<crate::config::Config>,
    basic: Option<HeaderValue>,
    tokens: Mutex<(std::time::Instant, HashSet<String>)>,
}

/// The server's state, shared by its handlers.
#[derive(Clone)]
pub struct App(Arc<Inner>);

impl App {
    pub fn new(config: Arc<crate::config::Config>, store: Arc<dyn Store>, metrics: Arc<Metrics>, live: Option<Arc<Live>>) -> Result<App, String> {
        let basic = match (&config.server.basic_auth_user, &config.server.basic_auth_password_env) {
            (Some(user), Some(var)) => {
                let password = std::env::var(var).map_err(|_| format!("set the environment variable {var} (server.basic_auth_password_env)"))?;
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        let stale = std::time::Instant::now() - Duration::from_secs(3600);
        Ok(App(Arc::new(Inner { output: config.output_dir.clone(), store, metrics, live, basic, tokens: Mutex::new((stale, HashSet::new())), config })))
    }

    /// The main router; when `admin` is false, /status and /metrics live on another listener.
    pub fn router(&self, with_admin: bool) -> Router {
        let mut r = Router::new().route("/healthz", get(healthz));
        if with_admin {
            r = r.merge(self.admin_routes());
        }
        if self.0.config.server.websub && self.0.live.is_some() {
            r = r.route("/websub/{token}", get(websub::verify).post(websub::push));
        }
        r.route("/t/{token}", get(token_root))
            .route("/t/{token}/", get(token_root))
            .route("/t/{token}/{*path}", get(token_file))
            .fallback(public_file)
            .layer(tower_http::compression::CompressionLayer::new())
            .with_state(self.clone())
    }

    /// /status and /metrics (those enabled), and /healthz, for an admin-only listener.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .merge(self.admin_routes())
            .layer(tower_http::compression::CompressionLayer::new())
            .with_state(self.clone())
    }

    fn admin_routes(&self) -> Router<App> {
        let mut r = Router::new();
        if self.0.config.server.status {
            r = r.route("/status", get(status_page));
        }
        if self.0.config.server.metrics {
            r = r.route("/metrics", get(metrics));
        }
        r
    }

    fn token_ok(&self, token: &str) -> bool {
        let hash = token_hash(token);
        let mut cache = self.0.tokens.lock().unwrap_or_else(|e| e.into_inner());
        // Revocations take effect within seconds without a restart.
        if cache.0.elapsed() > Duration::from_secs(5)
            && let Ok(list) = self.0.store.token_hashes()
        {
            *cache = (std::time::Instant::now(), list.into_iter().collect());
        }
        cache.1.contains(&hash)
    }
}

/// The digest under which a subscriber token is stored: the token itself is never kept.
pub fn token_hash(token: &str) -> String {
    crate::model::digest(&["token", token])
}

async fn healthz(State(app): State<App>) -> Response {
    if let Err(e) = app.0.store.queue_counts() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")).into_response();
    }
    if let Some(live) = &app.0.live {
        let age = crate::model::now() - live.heartbeat.load(Ordering::Relaxed);
        if age > HEARTBEAT_LIMIT {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("scheduler silent for {age}s\n")).into_response();
        }
    }
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let q = app.0.store.queue_counts().unwrap_or_default();
    let nodes = app.0.store.nodes().unwrap_or_default();
    let nodes: Vec<(&str, u64, bool)> = nodes.iter().map(|n| (n.name.as_str(), n.leases, n.alive)).collect();
    let body = app.0.metrics.render(&[("queued", q.queued), ("leased", q.leased), ("done", q.done), ("failed", q.failed)], &nodes);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

async fn status_page(State(app): State<App>) -> Response {
    match status::render(&app.0.config, app.0.store.as_ref(), app.0.live.as_deref()) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")).into_response(),
    }
}

async fn public_file(State(app): State<App>, req: Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "").into_response();
    }
    if app.0.config.server.require_token {
        return not_found();
    }
    if let Some(expected) = &app.0.basic
        && req.headers().get(header::AUTHORIZATION) != Some(expected)
    {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"polyfeed\", charset=\"UTF-8\"")], "authentication required\n")
            .into_response();
    }
    serve_file(&app.0.output, req.uri().path(), req.headers()).await
}

async fn token_root(State(app): State<App>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    if !app.token_ok(&token) {
        return not_found();
    }
    serve_file(&app.0.output, "/", &headers).await
}

async fn token_file(State(app): State<App>, UrlPath((token, path)): UrlPath<(String, String)>, headers: HeaderMap) -> Response {
    if !app.token_ok(&token) {
        return not_found();
    }
    serve_file(&app.0.output, &format!("/{path}"), &headers).await
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The file under `root` that a URL path names, if it may be served: no `..`, no dot files (the
/// writer's temporaries), no backslashes or NULs. A folder means its index.html.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    // A malformed escape stays as it is (and names no file that exists).
    let decoded = percent_encoding::percent_decode_str(url_path).decode_utf8().ok()?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains(['\\', '\0']) || segment.contains(':') {
            return None;
        }
        path.push(segment);
    }
    if decoded.ends_with('/') || decoded.is_empty() {
        path.push("index.html");
    }
    Some(path)
}

pub fn content_type(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name {
        "atom.xml" => return "application/atom+xml; charset=utf-8",
        "rss.xml" => return "application/rss+xml; charset=utf-8",
        "feed.json" => return "application/feed+json; charset=utf-8",
        "opml.xml" => return "text/x-opml; charset=utf-8",
        _ => {}
    }
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Files are small and in the page cache: plain blocking calls cost less than a hop to the
/// blocking thread pool.
async fn serve_file(root: &Path, url_path: &str, headers: &HeaderMap) -> Response {
    let Some(mut path) = resolve(root, url_path) else { return not_found() };
    let Ok(mut meta) = std::fs::metadata(&path) else { return not_found() };
    if meta.is_dir() {
        // No listings: a folder is served only through its index.html.
        path.push("index.html");
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => meta = m,
            _ => return not_found(),
        }
    }
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let since_epoch = modified.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let etag = format!("\"{:x}-{:x}\"", meta.len(), since_epoch.as_nanos());
    let last_modified = httpdate(since_epoch.as_secs() as i64);
    let validators = [(header::ETAG, etag.clone()), (header::LAST_MODIFIED, last_modified.clone()), (header::CACHE_CONTROL, "no-cache".to_string())];
    if not_modified(headers, &etag, since_epoch.as_secs() as i64) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        for (k, v) in validators {
            r.headers_mut().insert(k, HeaderValue::from_str(&v).expect("ascii"));
        }
        return r;
    }
    let Ok(body) = std::fs::read(&path) else { return not_found() };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    for (k, v) in validators {
        r.headers_mut().insert(k, HeaderValue::from_str(&v).expect("ascii"));
    }
    r
}

/// If-None-Match wins over If-Modified-Since, as RFC 9110 says.
fn not_modified(headers: &HeaderMap, etag: &str, modified: i64) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag || t == "*");
    }
    if let Some(ims) = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok())
        && let Ok(since) = chrono::DateTime::parse_from_rfc2822(ims)
    {
        return modified <= since.timestamp();
    }
    false
}

fn httpdate(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// An address the server could not listen on.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: String,
    pub source: std::io::Error,
}

/// Binds every listener the config asks for (`listen`, and `admin_listen` for /status and
/// /metrics when set), then serves on each until `stop` turns true, letting in-flight requests
/// finish. Nothing is served unless every address could be bound. The one place listeners are made.
pub async fn start(app: &App, stop: tokio::sync::watch::Receiver<bool>) -> Result<tokio::task::JoinSet<std::io::Result<()>>, BindError> {
    let server = &app.0.config.server;
    let admin = server.admin_listen.as_ref().map(|a| a.get_ref().clone());
    let routes = std::iter::once((server.listen.get_ref().clone(), app.router(admin.is_none()))).chain(admin.map(|a| (a, app.admin_router())));
    let mut bound = Vec::new();
    for (addr, router) in routes {
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|source| BindError { addr: addr.clone(), source })?;
        tracing::info!(%addr, output = %app.0.output.display(), "serving");
        bound.push((listener, router));
    }
    let mut servers = tokio::task::JoinSet::new();
    for (listener, router) in bound {
        let mut stop = stop.clone();
        servers.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        });
    }
    Ok(servers)
}

mod status;
pub mod websub;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_output() {
        let root = Path::new("/srv/output");
        let cases = [
            ("/", Some("/srv/output/index.html")),
            ("/simon/zh-CN/atom.xml", Some("/srv/output/simon/zh-CN/atom.xml")),
            ("/posts/zh-CN/", Some("/srv/output/posts/zh-CN/index.html")),
            ("/../feeds.toml", None),
            ("/%2e%2e/feeds.toml", None),
            ("/simon/..%2F..%2Fetc/passwd", None),
            ("/.atom.xml.123.tmp", None),
            ("/a%5c..%5cb", None),
            ("/a%00b", None),
            ("/%zz", Some("/srv/output/%zz")),
        ];
        for (input, want) in cases {
            assert_eq!(resolve(root, input), want.map(PathBuf::from), "{input}");
        }
    }

    #[test]
    fn content_types_of_feeds() {
        assert_eq!(content_type(Path::new("x/atom.xml")), "application/atom+xml; charset=utf-8");
        assert_eq!(content_type(Path::new("x/rss.xml")), "application/rss+xml; charset=utf-8");
        assert_eq!(content_type(Path::new("x/feed.json")), "application/feed+json; charset=utf-8");
        assert_eq!(content_type(Path::new("index.html")), "text/html; charset=utf-8");
    }

    #[test]
    fn conditional_requests() {
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, "\"a\"", 100));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"b\", W/\"a\""));
        assert!(not_modified(&h, "\"a\"", 100));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"b\""));
        h.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_str(&httpdate(200)).unwrap());
        assert!(!not_modified(&h, "\"a\"", 100), "If-None-Match wins");
        h.remove(header::IF_NONE_MATCH);
        assert!(not_modified(&h, "\"a\"", 100));
        assert!(!not_modified(&h, "\"a\"", 300));
    }
}
