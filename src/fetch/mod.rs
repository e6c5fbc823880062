//! HTTP: conditional GET, size and time caps, manual redirects, the SSRF guard, retries, and the
//! concurrency limits. `policy` holds the pure decisions; this module does the I/O.

pub mod discover;
pub mod fulltext;
pub mod policy;
pub mod websub;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use policy::Disposition;

/// Why a fetch failed. Messages name the URL where it helps.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not http(s) or cannot be parsed.
    #[error("bad URL {0}")]
    BadUrl(String),
    /// The host is (or resolves to) a private address and the feed does not allow that.
    #[error("refused to fetch {url}: {detail} (set allow_private_network = true for this feed to allow it)")]
    Private { url: String, detail: String },
    /// The whole fetch took longer than allowed.
    #[error("timed out after {0:.0?}")]
    Timeout(Duration),
    /// The body is larger than max_body_bytes (counted after decompression).
    #[error("response body larger than {0} bytes")]
    TooLarge(u64),
    /// Too many redirects, or a redirect loop.
    #[error("{0}")]
    Redirects(String),
    /// The server answered with an error status.
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status { status: u16, retry_after: Option<Duration> },
    /// The connection failed (DNS, TCP, TLS, reset).
    #[error("connection failed: {0}")]
    Connect(String),
}

impl FetchError {
    /// How long the server asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, FetchError>;

/// One request, with everything that varies per feed.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub url: &'a str,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    pub user_agent: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub proxy: Option<&'a str>,
    /// Where private, loopback and link-local addresses may be reached.
    pub private: PrivateNetwork,
    pub timeout: Duration,
    pub accept: &'a str,
}

/// Which hosts may be on a private network (the SSRF guard's exceptions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateNetwork {
    /// None: only public addresses.
    Refused,
    /// This host only (the feed's own, as `Url::host_str` writes it): a redirect elsewhere into
    /// the private network is refused.
    Host(String),
    /// Any host (`inspect --allow-private-network`).
    Any,
}

impl PrivateNetwork {
    /// Whether `url` may be on a private network.
    pub fn allows(&self, url: &Url) -> bool {
        match self {
            PrivateNetwork::Refused => false,
            PrivateNetwork::Host(h) => url.host_str().is_some_and(|u| u.eq_ignore_ascii_case(h)),
            PrivateNetwork::Any => true,
        }
    }
}

/// Accept header for feeds.
pub const ACCEPT_FEEDS: &str =
    "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";
/// Accept header for web pages.
pub const ACCEPT_HTML: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";

/// A successful fetch.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL that answered, after redirects.
    pub url: Url,
    /// Set when every redirect on the way was permanent: fetch this URL from now on.
    pub moved_to: Option<Url>,
    /// None for 304 Not Modified.
    pub body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Cache-Control max-age (or RSS-level ttl is added later by the caller), in seconds.
    pub max_age: Option<u64>,
}

/// Limits shared by every fetch of a run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Fetches in flight at once, all hosts together.
    pub max_concurrent: usize,
    /// Fetches in flight at once to one host.
    pub max_per_host: usize,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    /// Extra attempts after connection errors and 5xx.
    pub retries: u32,
    /// Base of the exponential backoff between attempts.
    pub retry_base: Duration,
}

/// The fetcher. One per process; cheap to share behind an Arc.
pub struct Fetcher {
    limits: Limits,
    /// Concurrency limits live here and only here: one global semaphore (so polyfeed never opens
    /// more than max_concurrent connections) and one per host (so a host serving many feeds is not
    /// hammered).
    global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Clients by (proxy, private network allowed).
    clients: Mutex<HashMap<(Option<String>, bool), Client>>,
}

impl Fetcher {
    pub fn new(limits: Limits) -> Fetcher {
        Fetcher { global: Arc::new(Semaphore::new(limits.max_concurrent)), per_host: Mutex::new(HashMap::new()), clients: Mutex::new(HashMap::new()), limits }
    }

    pub fn from_config(config: &crate::config::Config) -> Fetcher {
        Fetcher::new(Limits {
            max_concurrent: *config.max_concurrent_fetches.get_ref(),
            max_per_host: *config.max_per_host.get_ref(),
            connect_timeout: Duration::from_secs_f64(*config.connect_timeout.get_ref()),
            max_body_bytes: *config.max_body_bytes.get_ref(),
            max_redirects: config.max_redirects,
            retries: config.fetch_retries,
            retry_base: Duration::from_secs(1),
        })
    }

    fn client(&self, proxy: Option<&str>, allow_private: bool) -> Result<Client> {
        let key = (proxy.map(str::to_string), allow_private);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut builder = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.limits.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(self.limits.max_per_host);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        builder = match proxy {
            Some(p) => builder.proxy(reqwest::Proxy::all(p).map_err(|e| FetchError::BadUrl(format!("proxy {p}: {e}")))?),
            None => builder.no_proxy(),
        };
        let client = builder.build().map_err(|e| FetchError::Connect(e.to_string()))?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    async fn permits(&self, host: &str) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let host_sem = {
            let mut map = self.per_host.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(host.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.limits.max_per_host))).clone()
        };
        // Host first, so a busy host does not hold global slots while it waits.
        let h = host_sem.acquire_owned().await.expect("never closed");
        let g = self.global.clone().acquire_owned().await.expect("never closed");
        (h, g)
    }

    /// Fetches `req.url`, retrying connection errors and 5xx with backoff. 429 and 503 with
    /// Retry-After return at once with the wait the server asked for.
    pub async fn fetch(&self, req: &Request<'_>) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let result = match tokio::time::timeout(req.timeout, self.fetch_once(req)).await {
                Ok(r) => r,
                Err(_) => Err(FetchError::Timeout(req.timeout)),
            };
            let transient = match &result {
                Err(FetchError::Connect(_)) => true,
                Err(FetchError::Status { status, retry_after: None }) => (500..600).contains(status),
                _ => false,
            };
            if !transient || attempt >= self.limits.retries {
                return result;
            }
            let wait = policy::backoff(attempt, self.limits.retry_base, Duration::from_secs(30), rand::random::<f64>());
            tracing::debug!(url = req.url, attempt, ?wait, "retrying after transient failure");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// POSTs a form to `url` (no redirects followed), under the same guard as fetches: `private`
    /// says where a private address may be reached. The status of the answer.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)], private: &PrivateNetwork, user_agent: &str, timeout: Duration) -> Result<u16> {
        let url = Url::parse(url).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
        let allow_private = private.allows(&url);
        check_url(&url, allow_private)?;
        let client = self.client(None, allow_private)?;
        let _permits = self.permits(url.host_str().unwrap_or_default()).await;
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let send =
            client.post(url.clone()).header(header::USER_AGENT, user_agent).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send();
        match tokio::time::timeout(timeout, send).await {
            Ok(Ok(r)) => Ok(r.status().as_u16()),
            Ok(Err(e)) => Err(connect_error(&url, e)),
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn fetch_once(&self, req: &Request<'_>) -> Result<Response> {
        let mut url = Url::parse(req.url).map_err(|e| FetchError::BadUrl(format!("{}: {e}", req.url)))?;
        let mut visited = HashSet::new();
        let mut all_permanent = true;
        let mut hops = 0;
        loop {
            // Every hop is checked again: a redirect must not lead into the private network.
            let allow_private = req.private.allows(&url);
            check_url(&url, allow_private)?;
            let client = self.client(req.proxy, allow_private)?;
            if !visited.insert(url.clone()) {
                return Err(FetchError::Redirects(format!("redirect loop at {url}")));
            }
            let host = url.host_str().unwrap_or_default().to_string();
            let _permits = self.permits(&host).await;
            let response = client.get(url.clone()).headers(request_headers(req)?).send().await.map_err(|e| connect_error(&url, e))?;
            let status = response.status();
            let retry_after =
                response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| policy::parse_retry_after(v, chrono::Utc::now()));
            match policy::classify(status.as_u16(), retry_after.is_some()) {
                Disposition::Redirect { permanent } => {
                    let location = response
                        .headers()
                        .get(header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .ok_or_else(|| FetchError::Redirects(format!("HTTP {} without a Location from {url}", status.as_u16())))?;
                    let next = url.join(location).map_err(|e| FetchError::Redirects(format!("bad redirect {location:?} from {url}: {e}")))?;
                    hops += 1;
                    if hops > self.limits.max_redirects {
                        return Err(FetchError::Redirects(format!("more than {} redirects from {}", self.limits.max_redirects, req.url)));
                    }
                    all_permanent &= permanent;
                    url = next;
                }
                Disposition::NotModified | Disposition::Success => {
                    let moved_to = (hops > 0 && all_permanent).then(|| url.clone());
                    let headers = response.headers().clone();
                    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let body = if status == StatusCode::NOT_MODIFIED { None } else { Some(self.read_body(response).await?) };
                    return Ok(Response {
                        url,
                        moved_to,
                        body,
                        content_type: text(header::CONTENT_TYPE),
                        etag: text(header::ETAG),
                        last_modified: text(header::LAST_MODIFIED),
                        max_age: text(header::CACHE_CONTROL).and_then(|v| policy::max_age(&v)),
                    });
                }
                Disposition::RetryLater | Disposition::Transient | Disposition::Permanent => {
                    return Err(FetchError::Status { status: status.as_u16(), retry_after });
                }
            }
        }
    }

    /// Reads a body, aborting as soon as it passes the cap. Decompressed bytes are what is counted.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let max = self.limits.max_body_bytes;
        // The length of an encoded body is that of its compressed bytes: no bound, no size to expect.
        let length = response.content_length().filter(|_| response.headers().get(header::CONTENT_ENCODING).is_none());
        if length.is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge(max));
        }
        // Room for the announced length at once, no copies as the body grows; at most a few MiB,
        // so that a server announcing more than it sends reserves no more than that.
        const RESERVE_AT_MOST: u64 = 4 << 20;
        let mut body = Vec::with_capacity(length.unwrap_or(0).min(RESERVE_AT_MOST) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Connect(error_chain(&e)))? {
            if body.len() as u64 + chunk.len() as u64 > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn request_headers(req: &Request) -> Result<HeaderMap> {
    let mut h = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).map_err(|_| FetchError::BadUrl(format!("bad header value {s:?}")));
    h.insert(header::USER_AGENT, value(req.user_agent)?);
    h.insert(header::ACCEPT, value(req.accept)?);
    if let Some(etag) = req.etag {
        h.insert(header::IF_NONE_MATCH, value(etag)?);
    }
    if let Some(lm) = req.last_modified {
        h.insert(header::IF_MODIFIED_SINCE, value(lm)?);
    }
    for (k, v) in req.headers {
        let name = header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| FetchError::BadUrl(format!("bad header name {k:?}")))?;
        h.insert(name, value(v)?);
    }
    Ok(h)
}

/// Refuses non-http(s) URLs and, unless allowed, IP literals outside the public internet.
/// Host names are checked at resolution time by `PublicOnlyResolver`.
fn check_url(url: &Url, allow_private: bool) -> Result<()> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::BadUrl(format!("{url}: only http and https are fetched")));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(FetchError::BadUrl(format!("{url}: no host"))),
    };
    if !allow_private && !policy::is_public(ip) {
        return Err(FetchError::Private { url: url.to_string(), detail: format!("{ip} is not a public address") });
    }
    Ok(())
}

/// Resolves host names and drops every non-public address, so neither a feed URL nor a redirect
/// nor a DNS answer can make polyfeed reach into the local network.
struct PublicOnlyResolver;

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to non-public addresses ({addrs})")]
struct PrivateOnly {
    host: String,
    addrs: String,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|a| policy::is_public(a.ip())).collect();
            if public.is_empty() {
                let addrs = all.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
                return Err(Box::new(PrivateOnly { host, addrs }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn connect_error(url: &Url, e: reqwest::Error) -> FetchError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = source {
        if let Some(p) = err.downcast_ref::<PrivateOnly>() {
            return FetchError::Private { url: url.to_string(), detail: p.to_string() };
        }
        source = err.source();
    }
    FetchError::Connect(error_chain(&e))
}

/// An error and its causes on one line, without the URL reqwest repeats.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(err) = source {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        source = err.source();
    }
    parts.join(": ")
}
