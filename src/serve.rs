//! The HTTP server over output/: feeds for subscribers, plus /healthz, /metrics and /status.

use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigError, invalid};

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the server listens on.
    #[serde(default = "default_listen")]
    pub listen: Spanned<String>,
    /// Serve /status (the operator's page).
    #[serde(default = "yes")]
    pub status: bool,
    /// Serve /metrics (Prometheus text).
    #[serde(default = "yes")]
    pub metrics: bool,
    /// Serve /status and /metrics on this address instead of `listen`.
    pub admin_listen: Option<Spanned<String>>,
    /// Seconds given to in-flight work on shutdown.
    #[serde(default = "default_grace")]
    pub grace_period: f64,
    /// Only serve feeds under /t/<token>/ (tokens are managed with `polyfeed tokens`).
    #[serde(default)]
    pub require_token: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ServerConfig {
    pub(crate) fn validate(&self, text: &str) -> Result<(), ConfigError> {
        for (value, key) in [(Some(&self.listen), "server.listen"), (self.admin_listen.as_ref(), "server.admin_listen")] {
            if let Some(v) = value {
                if v.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    let message = format!("{:?} is not an address such as \"127.0.0.1:8080\"", v.get_ref());
                    return Err(invalid(text, &v.span(), key, message));
                }
            }
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}
fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".into())
}
fn default_grace() -> f64 {
    20.0
}
