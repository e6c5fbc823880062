//! Subcommands, one file each, thin: they load the config, open what they need, call the library
//! and print. Errors carry context here (anyhow) and main turns them into exit codes.

mod add;
mod daemon;
mod db;
mod export;
mod import;
mod init;
mod inspect;
mod model;
mod refresh;
mod remove;
mod retry;
mod serve;
mod status;
mod tokens;
mod verify;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::lock::LockError;
use crate::store::StoreError;

/// How a command that ran to its end ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Everything it was asked to do is done.
    All,
    /// Some of it is not done (a feed failed, a post is not published, a block is unfaithful); the rest is.
    Unfinished,
}

impl Done {
    pub fn from_unfinished(unfinished: bool) -> Done {
        if unfinished { Done::Unfinished } else { Done::All }
    }
}

/// Why a command could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command line names something that is not there (a feed, a model, a file to create).
    #[error("{0}")]
    Usage(String),
    /// feeds.toml is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another polyfeed process holds the cache.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The store failed: a full disk, a foreign or newer file, a broken database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else, with what was being done.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CommandError {
    /// What to tell the operator after the error itself, if anything.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CommandError::Store(StoreError::Disk(_)) => {
                Some("free some space (or make the folder writable) and run again: nothing is lost, and nothing paid for is paid again")
            }
            CommandError::Config(ConfigError::Read { .. }) => Some("create one with `polyfeed init`, or pass --config PATH"),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, CommandError>;

pub fn run(cli: Cli) -> Result<Done> {
    match cli.command {
        Command::Refresh(args) => refresh::run(&cli.config, args),
        Command::Status(args) => status::run(&cli.config, args),
        Command::Inspect(args) => inspect::run(&cli.config, args),
        Command::Init => init::run(&cli.config),
        Command::Daemon => daemon::run(&cli.config),
        Command::Serve => serve::run(&cli.config),
        Command::Tokens(args) => tokens::run(&cli.config, args),
        Command::Retry(args) => retry::run(&cli.config, args),
        Command::Verify(args) => verify::run(args),
        Command::Model(args) => model::run(&cli.config, args),
        Command::Db(args) => db::run(&cli.config, args),
        Command::Add(args) => add::run(&cli.config, args),
        Command::Remove(args) => remove::run(&cli.config, args),
        Command::Import(args) => import::run(&cli.config, args),
        Command::Export => export::run(&cli.config),
    }
}

fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(CommandError::Usage(format!("no config at {} (create one with `polyfeed init`, or pass --config PATH)", path.display())));
    }
    Ok(Config::from_file(path)?)
}

/// Maps a failed edit of feeds.toml to how the command ends.
fn edit_error(e: crate::config::edit::EditError) -> CommandError {
    use crate::config::edit::EditError;
    match e {
        EditError::Config(c) => CommandError::Config(c),
        e @ (EditError::InlineFeeds | EditError::NoSuchFeed(_)) => CommandError::Usage(e.to_string()),
        e @ EditError::Write { .. } => CommandError::Other(e.into()),
    }
}

/// The text of the config file, to edit.
fn config_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CommandError::Config(ConfigError::Read { path: path.display().to_string(), source }))
}

fn open_store(config: &Config) -> Result<Arc<dyn crate::store::Store>> {
    Ok(crate::store::open(config)?)
}

/// The async runtime, with two worker threads per core unless `TOKIO_WORKER_THREADS` says
/// otherwise: the store's calls are synchronous (SQLite behind one lock, or a PostgreSQL round
/// trip) and hold the worker that makes them, so a second worker per core keeps the core parsing
/// meanwhile (a cold refresh of 1,000 feeds on 2 cores: 0.75 s -> 0.69 s, bench/HISTORY.md).
fn runtime() -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(2 * std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    Ok(builder.enable_all().build().context("cannot start the async runtime")?)
}

/// Prints a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value).context("cannot write JSON")?);
    Ok(())
}

/// One line on a post that is due but not published: where it stands and why.
fn describe_unpublished(u: &crate::store::Unpublished) -> String {
    let state = match u.state.as_str() {
        "failed" => format!("failed after {} attempts (`polyfeed retry` queues it again)", u.attempts),
        "leased" => "being translated".to_string(),
        _ if u.next_attempt_at > crate::model::now() => {
            format!("waiting for a retry at {} (attempt {} done)", time(Some(u.next_attempt_at)).unwrap_or_default(), u.attempts)
        }
        _ => "queued".to_string(),
    };
    let why = u.last_error.as_deref().map(|e| format!(": {}", crate::text::truncate(e, 160))).unwrap_or_default();
    format!("{} [{}] {:?}: {state}{why}", u.feed, u.lang, crate::text::truncate(&u.title, 60))
}

/// A Unix time as RFC 3339 in UTC, for people and JSON.
fn time(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
