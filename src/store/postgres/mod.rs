//! The PostgreSQL backend: one database shared by several polyfeed processes (nodes), through a
//! pool of connections (deadpool-postgres over tokio-postgres). Work is shared by leases, not by
//! a leader: jobs are leased with `FOR UPDATE SKIP LOCKED` and a short lease this process renews
//! while it lives, so a node that dies loses its jobs at the expiry; a feed is claimed for a
//! schedule tick before it is fetched; one node publishes at a time. Append-only migrations of
//! their own (migrations/postgres/).
//!
//! The store's traits are synchronous (SQLite is); the driver is async. The pool lives on a
//! runtime of its own, and each call is driven to completion there, from a thread outside any
//! runtime, so callers on async threads block no more than they would on SQLite.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::{Result, StoreError};

mod feeds;
mod memory;
mod publish;
mod queue;
mod subscriptions;
mod tokens;

/// Append-only: never edit a migration that has shipped, add the next one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_unit_claims.sql"),
    include_str!("../../../migrations/postgres/0003_summaries.sql"),
    include_str!("../../../migrations/postgres/0004_websub.sql"),
    include_str!("../../../migrations/postgres/0005_repairs.sql"),
];

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::Disk(e.to_string()),
            _ => StoreError::Sql(match e.as_db_error() {
                Some(db) => format!("{}: {}", db.severity(), db.message()),
                None => e.to_string(),
            }),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        StoreError::Sql(format!("no connection to the database: {e}"))
    }
}

pub struct PgStore {
    pub(in crate::store) pool: Pool,
    rt: OwnRuntime,
    /// This process's name among the nodes: host, process id and a random tag.
    node: String,
    /// How long this node's leases last unless renewed.
    lease_secs: i64,
    /// Stops the lease renewal and the heartbeat when the store is dropped.
    _alive: Arc<()>,
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL), creating or migrating the schema. Refuses a
    /// database that holds tables of something else. The password, if the URL has one, appears in
    /// no error.
    pub fn open(url: &str, lease_secs: i64) -> Result<PgStore> {
        let shown = crate::text::redact_url(url);
        let open_err = |message: String| StoreError::Open { path: shown.clone(), message };
        let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| open_err(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| open_err(format!("cannot start the database runtime: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let node = format!("{}:{}:{:04x}", crate::text::hostname(), std::process::id(), rand::random::<u16>());
        let store = PgStore { pool, rt: OwnRuntime(Some(rt)), node, lease_secs: lease_secs.max(3), _alive: Arc::new(()) };
        store.run(migrate(&store.pool)).map_err(|e| match e {
            StoreError::Sql(m) => open_err(m),
            other => other,
        })?;
        // The node is known before anything it does can be seen.
        store.run(async {
            let c = store.pool.get().await?;
            let t = crate::model::now();
            c.execute(
                "INSERT INTO nodes (name, started_at, last_seen) VALUES ($1, $2, $2) ON CONFLICT (name) DO UPDATE SET last_seen = $2",
                &[&store.node, &t],
            )
            .await?;
            Ok(())
        })?;
        store.keep_alive();
        Ok(store)
    }

    /// This process's name among the nodes.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Drives `fut` to completion on the store's runtime. From a thread inside a runtime (an async
    /// caller), it is driven from a scoped thread outside it: a runtime cannot be blocked on from
    /// within another.
    pub(in crate::store) fn run<'a, T: Send>(&self, fut: impl Future<Output = Result<T>> + Send + 'a) -> Result<T> {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.rt.block_on(fut);
        }
        std::thread::scope(|s| s.spawn(|| self.rt.block_on(fut)).join().unwrap_or_else(|_| Err(StoreError::Sql("a database call panicked".into()))))
    }

    /// While the store lives: renews this node's leases (a third of their life at a time) and its
    /// heartbeat. A node that dies stops renewing, and its jobs are leased again at the expiry.
    fn keep_alive(&self) {
        let pool = self.pool.clone();
        let node = self.node.clone();
        let lease = self.lease_secs;
        let alive = Arc::downgrade(&self._alive);
        self.rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs((lease / 3).max(1) as u64));
            tick.tick().await;
            while alive.upgrade().is_some() {
                tick.tick().await;
                let t = crate::model::now();
                if let Ok(c) = pool.get().await {
                    let _ = c.execute("UPDATE queue SET lease_until = $2 WHERE state = 'leased' AND leased_by = $1", &[&node, &(t + lease)]).await;
                    let _ = c.execute("UPDATE nodes SET last_seen = $2 WHERE name = $1", &[&node, &t]).await;
                }
            }
        });
    }
}

/// The store's own runtime. Dropped without waiting for its tasks (the lease renewal), which may
/// happen on an async thread of the caller's runtime, where a blocking shutdown would panic.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for OwnRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("the runtime lives as long as the store")
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Creates or migrates the schema, one migration per transaction, under an advisory lock so that
/// nodes starting together do not race.
async fn migrate(pool: &Pool) -> Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7066643100)", &[]).await?;
    let ours: bool = tx.query_one("SELECT to_regclass('polyfeed_schema') IS NOT NULL", &[]).await?.get(0);
    let version: i64 = if ours {
        tx.query_one("SELECT version FROM polyfeed_schema", &[]).await?.get(0)
    } else {
        let tables: i64 = tx
            .query_one("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'", &[])
            .await?
            .get(0);
        if tables > 0 {
            return Err(StoreError::Foreign {
                path: "the database".into(),
                reason: format!("its schema holds {tables} tables of something else; use a database of polyfeed's own"),
            });
        }
        tx.batch_execute("CREATE TABLE polyfeed_schema (version BIGINT NOT NULL); INSERT INTO polyfeed_schema VALUES (0);").await?;
        0
    };
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { path: "the database".into(), found: version, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE polyfeed_schema SET version = $1", &[&(i as i64 + 1)]).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

fn from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}
