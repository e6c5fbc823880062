//! One writer at a time: an exclusive lock on a file in cache_dir, held for the life of the process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The cache directory is in use by another polyfeed process.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another polyfeed process ({holder}); wait for it to finish, or let the running daemon do the work")]
    Busy { dir: String, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Held while the process writes to the cache. Released on drop (and by the OS if the process dies).
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
    pub path: PathBuf,
}

impl CacheLock {
    /// Takes the lock, or says who holds it. `what` names this process in the lock file (e.g. "refresh").
    pub fn acquire(cache_dir: &Path, what: &str) -> Result<CacheLock, LockError> {
        let path = cache_dir.join("polyfeed.lock");
        let io = |source| LockError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(cache_dir).map_err(io)?;
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() { "unknown process".into() } else { holder.trim().to_string() };
                return Err(LockError::Busy { dir: cache_dir.display().to_string(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "polyfeed {what}, pid {}", std::process::id()).map_err(io)?;
        Ok(CacheLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = CacheLock::acquire(dir.path(), "daemon").unwrap();
        let e = CacheLock::acquire(dir.path(), "refresh").unwrap_err().to_string();
        assert!(e.contains(&format!("polyfeed daemon, pid {}", std::process::id())), "{e}");
        drop(first);
        CacheLock::acquire(dir.path(), "refresh").unwrap();
    }
}
