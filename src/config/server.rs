//! The `[server]` table: where the daemon and `polyfeed serve` listen, and who may read.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, invalid};

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
    /// Only serve output/ under /t/<token>/ (tokens are managed with `polyfeed tokens`).
    #[serde(default)]
    pub require_token: bool,
    /// Require HTTP Basic for output/ (outside /t/<token>/): the user name...
    pub basic_auth_user: Option<String>,
    /// ...and the name of the environment variable holding the password.
    pub basic_auth_password_env: Option<String>,
    /// Subscribe (WebSub) to the hubs that sources advertise, with callbacks under
    /// `[publish] public_url` (which the hubs must reach): their pushes count as fetches.
    #[serde(default)]
    pub websub: bool,
    /// The environment variable holding the key each subscription's secret is derived from.
    #[serde(default = "default_websub_secret_env")]
    pub websub_secret_env: String,
    /// The lease asked of hubs, in seconds (hubs may grant another).
    #[serde(default = "default_websub_lease")]
    pub websub_lease_seconds: Spanned<i64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ServerConfig {
    pub(crate) fn validate(&self, text: &str) -> Result<(), ConfigError> {
        for (value, key) in [(Some(&self.listen), "server.listen"), (self.admin_listen.as_ref(), "server.admin_listen")] {
            if let Some(v) = value
                && v.get_ref().parse::<std::net::SocketAddr>().is_err()
            {
                let message = format!("{:?} is not an address such as \"127.0.0.1:8080\"", v.get_ref());
                return Err(invalid(text, &v.span(), key, message));
            }
        }
        if self.basic_auth_user.is_some() != self.basic_auth_password_env.is_some() {
            return Err(invalid(text, &self.listen.span(), "server.basic_auth_user", "set both basic_auth_user and basic_auth_password_env".into()));
        }
        if !(60..=31_536_000).contains(self.websub_lease_seconds.get_ref()) {
            return Err(invalid(text, &self.websub_lease_seconds.span(), "server.websub_lease_seconds", "must be between 60 and 31536000 (a year)".into()));
        }
        Ok(())
    }

    /// The key subscriptions' secrets derive from: the `websub_secret_env` variable, when set and
    /// at least 16 characters long.
    pub fn websub_key(&self) -> Result<String, String> {
        match std::env::var(&self.websub_secret_env) {
            Ok(k) if k.chars().count() >= 16 => Ok(k),
            Ok(_) => Err(format!("{} is shorter than 16 characters", self.websub_secret_env)),
            Err(_) => Err(format!("{} is not set", self.websub_secret_env)),
        }
    }

    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period.max(0.0))
    }
}

fn yes() -> bool {
    true
}
fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".into())
}
fn default_websub_secret_env() -> String {
    "POLYFEED_WEBSUB_SECRET".into()
}
fn default_websub_lease() -> Spanned<i64> {
    Spanned::new(0..0, 10 * 86_400)
}
fn default_grace() -> f64 {
    20.0
}
