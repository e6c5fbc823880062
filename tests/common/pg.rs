//! A throwaway PostgreSQL server for a test: a cluster made with `initdb` in a temporary folder,
//! started with `pg_ctl` on a free loopback port, stopped (and its folder removed) when dropped.
//! As root, the server runs as the `postgres` user (PostgreSQL refuses root). Missing binaries
//! mean the test is skipped, unless POLYFEED_REQUIRE_EXTERNAL=1 (CI installs Debian's postgresql).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The folder with initdb, pg_ctl and psql: where pg_ctl on PATH really is (Debian links it from
/// /usr/lib/postgresql/<version>/bin), else the newest of those.
fn bindir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).find(|d| d.join("pg_ctl").is_file());
    let real = on_path.and_then(|d| std::fs::canonicalize(d.join("pg_ctl")).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
    real.filter(|d| d.join("psql").is_file() && d.join("initdb").is_file()).or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect();
        versions.sort();
        versions.pop().filter(|b| b.join("pg_ctl").is_file())
    })
}

impl Postgres {
    /// A running server, or None (the test is then skipped; see `super::external`).
    pub fn start(test: &str) -> Option<Postgres> {
        let bin = super::external(bindir(), "PostgreSQL's server (apt-get install postgresql)", test)?;
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            assert!(Command::new("chown").arg("-R").arg("postgres").arg(dir.path()).status().unwrap().success(), "chown to postgres");
        }
        let port = free_port();
        let pg = Postgres { dir, bin, port, as_postgres };
        let data = pg.dir.path().join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "polyfeed", "--no-sync", "-E", "UTF8"]);
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", pg.dir.path().display());
        let log = pg.dir.path().join("server.log");
        pg.run("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "{tool} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// A fresh database on the server, and its URL.
    pub fn database(&self, name: &str) -> String {
        let psql = self.bin.join("psql");
        let out = Command::new(&psql)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "polyfeed", "-d", "postgres", "-c", &format!("CREATE DATABASE {name}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "create database: {}", String::from_utf8_lossy(&out.stderr));
        self.url(name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://polyfeed@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL in `db` with psql and returns its unaligned output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "polyfeed", "-d", db, "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd.args(["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
