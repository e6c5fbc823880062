//! Running the binary as a server: start, wait until it answers, signal, stop; and a small HTTP client.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Workdir;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `polyfeed daemon` (or `serve`); killed if a test fails before stopping it.
pub struct Running {
    pub child: Child,
    pub port: u16,
}

impl Running {
    pub fn start(w: &Workdir, command: &str, port: u16) -> Running {
        Running::start_with_env(w, command, port, &[])
    }

    /// Like `start`, with these variables in its environment.
    pub fn start_with_env(w: &Workdir, command: &str, port: u16, env: &[(&str, &str)]) -> Running {
        let child = w.command(&[command]).envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let r = Running { child, port };
        wait_until(Duration::from_secs(30), || get(&r.url("/healthz"), &[]).is_some_and(|g| g.status == 200), "the server answers /healthz");
        r
    }

    /// Like `start`, with the pipeline's debug lines (JSON, one per fetch it claims, naming the
    /// feed's tick) written to `log`.
    #[allow(dead_code, reason = "not every test binary uses it")]
    pub fn start_logged(w: &Workdir, command: &str, port: u16, log: &std::path::Path) -> Running {
        let file = std::fs::File::create(log).unwrap();
        let child =
            w.command(&["--log-format", "json", command]).env("RUST_LOG", "polyfeed::pipeline=debug").stdout(Stdio::null()).stderr(file).spawn().unwrap();
        let r = Running { child, port };
        wait_until(Duration::from_secs(30), || get(&r.url("/healthz"), &[]).is_some_and(|g| g.status == 200), "the server answers /healthz");
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then the exit code and how long the exit took.
    pub fn stop(mut self) -> (i32, Duration, String) {
        let started = Instant::now();
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        (status.code().unwrap_or(-1), started.elapsed(), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls a condition until it holds, or fails the test after `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

pub fn request(method: reqwest::Method, url: &str, headers: &[(&str, &str)]) -> Option<Got> {
    request_with_body(method, url, headers, Vec::new())
}

/// A request with a body.
pub fn request_with_body(method: reqwest::Method, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Option<Got> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().no_gzip().no_brotli().no_deflate().build().unwrap();
        let mut req = client.request(method, url).timeout(Duration::from_secs(10)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.ok()?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.ok()?.to_vec();
        Some(Got { status, headers, body })
    })
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Option<Got> {
    request(reqwest::Method::GET, url, headers)
}
