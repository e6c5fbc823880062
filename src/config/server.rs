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
        Ok(())
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
fn default_grace() -> f64 {
    20.0
}
