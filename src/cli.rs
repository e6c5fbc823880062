//! The command line: clap derive, one subcommand per file under cmd/.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// polyfeed follows blogs through their feeds, translates new posts faithfully, and republishes
/// them as bilingual Atom, RSS and JSON feeds, Markdown posts and HTML pages.
#[derive(Debug, Parser)]
#[command(name = "polyfeed", version, about, max_term_width = 100)]
pub struct Cli {
    /// The config file.
    #[arg(long, global = true, env = "POLYFEED_CONFIG", default_value = "feeds.toml")]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More logging (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One pass: fetch every enabled feed, detect new posts, queue them, translate, publish.
    Refresh(RefreshArgs),
    /// Show each feed's state: last fetch, result, entries, queue.
    Status(StatusArgs),
    /// Fetch and parse one feed (URL or file) without touching state, and print its entries.
    Inspect(InspectArgs),
    /// Write a commented starter config if none exists.
    Init,
    /// Run continuously: fetch on schedule, translate, publish, and serve output/ over HTTP.
    Daemon,
    /// Serve output/ over HTTP (no fetching, no translating).
    Serve,
    /// Manage subscribers' secret tokens for private feeds (/t/<token>/...).
    Tokens(TokensArgs),
    /// Put failed translations back on the queue (they are translated at the next refresh).
    Retry(RetryArgs),
    /// Check a translation against its original, block by block (HTML or Markdown files).
    Verify(VerifyArgs),
    /// Models for the offline `local` engine: fetch one, list what is there.
    Model(ModelArgs),
    /// The store itself: move the SQLite store into PostgreSQL.
    Db(DbArgs),
    /// Subscribe to a feed: a feed's URL, or a page that announces one. Checked with one fetch,
    /// then appended to feeds.toml (its comments and layout kept).
    Add(AddArgs),
    /// Unsubscribe: take a feed out of feeds.toml. What the store and output/ hold of it stays.
    Remove(RemoveArgs),
    /// Subscribe to every feed in an OPML file (what feed readers export), skipping those already here.
    Import(ImportArgs),
    /// Print the subscribed feeds as OPML, for a feed reader or another polyfeed.
    Export,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The feed's URL, or a page that announces it (`https://` is assumed when no scheme is given).
    pub url: String,
    /// Its name in feeds.toml and output/ (a slug; default: from the site's host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Allow the feed's own host to be a private or loopback address (written into its table).
    #[arg(long)]
    pub allow_private_network: bool,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The feed's name in feeds.toml.
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The OPML file.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Copy the SQLite store (feeds, entries, tombstones, queue, memory, usage, tokens) into a
    /// PostgreSQL database; resumable, and counts every table at the end. Then set database_url.
    Copy {
        /// The database, `postgres://user@host/db` (default: POLYFEED_DATABASE_URL). A password
        /// is better given in PGPASSWORD or POLYFEED_DATABASE_URL than on the command line.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub action: ModelAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Download a model into the cache (resumes an interrupted download; checks its sha256).
    Pull {
        /// A name from `polyfeed model list` (default: the recommended model), or, with --url, the
        /// name to save the file as.
        name: Option<String>,
        /// Fetch this URL instead of a known model's (then --sha256 is required).
        #[arg(long, requires = "sha256")]
        url: Option<String>,
        /// The expected sha256 of the file, in hex.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// The known models and the model files in the cache.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub action: TokensAction,
}

#[derive(Debug, Subcommand)]
pub enum TokensAction {
    /// List tokens by name.
    List,
    /// Create a token for a subscriber and print their feed URL.
    Add {
        /// Who the token is for.
        name: String,
    },
    /// Revoke a subscriber's token.
    Revoke { name: String },
}

#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// Only this feed.
    #[arg(long = "feed", value_name = "NAME")]
    pub feed: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The original (HTML or Markdown).
    pub source: std::path::PathBuf,
    /// The translation (HTML or Markdown).
    pub translation: std::path::PathBuf,
    /// The translation's language (for the language checks).
    #[arg(long, default_value = "zh-CN")]
    pub lang: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    /// Only these feeds (repeatable).
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    /// Fetch and queue only: no translating, no publishing.
    #[arg(long)]
    pub no_translate: bool,
    /// Fetch even feeds whose server asked to wait (Retry-After, max-age, ttl).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON: an array with one object per feed.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A feed URL, or a path to a feed file.
    pub target: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow fetching from private and loopback addresses.
    #[arg(long)]
    pub allow_private_network: bool,
}
