//! `polyfeed db copy`: the SQLite store moved into PostgreSQL, for several daemons to share.

use std::path::Path;

use super::{CommandError, Done, Result};
use crate::cli::{DbAction, DbArgs};
use crate::lock::CacheLock;
use crate::store::{PgStore, SqliteStore};

pub fn run(config_path: &Path, args: DbArgs) -> Result<Done> {
    let DbAction::Copy { to } = args.action;
    let config = super::load_config(config_path)?;
    let url = to
        .or_else(|| std::env::var("POLYFEED_DATABASE_URL").ok())
        .ok_or_else(|| CommandError::Usage("say where to copy the store: --to postgres://user@host/db (or set POLYFEED_DATABASE_URL)".into()))?;
    let url = crate::config::with_pgpassword(&url);
    // Nothing writes the SQLite store while it is copied.
    let _lock = CacheLock::acquire(&config.cache_dir, "db copy")?;
    let path = config.store_path();
    if !path.exists() {
        return Err(CommandError::Usage(format!("no SQLite store at {} to copy", path.display())));
    }
    let from = SqliteStore::open(&path)?;
    let to = PgStore::open(&url, *config.lease_seconds.get_ref())?;
    let shown = crate::text::redact_url(&url);
    println!("copying {} into {shown}", path.display());
    let progress = super::refresh::progress_bar(0, "rows");
    let copied = crate::store::copy::sqlite_to_postgres(&from, &to, |table, done, total| {
        progress.set_length(total);
        progress.set_position(done);
        progress.set_message(table.to_string());
    })?;
    progress.finish_and_clear();
    let mut short = false;
    for c in &copied {
        let note = if c.target < c.source {
            short = true;
            " SHORT"
        } else if c.target > c.source {
            " (the database had more)"
        } else {
            ""
        };
        println!("  {:<14} {:>9} rows in SQLite, {:>9} in PostgreSQL{note}", c.table, c.source, c.target);
    }
    if short {
        println!("some rows did not arrive: run `polyfeed db copy` again (it resumes)");
        return Ok(Done::Unfinished);
    }
    println!("done: set database_url in {} (or POLYFEED_DATABASE_URL) to use it", config_path.display());
    Ok(Done::All)
}
