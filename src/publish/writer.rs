//! Atomic, change-aware file writing. Each changed file goes to a temporary file in its own
//! folder; `commit` makes them durable with one filesystem sync, then renames each over its
//! target and syncs again. A reader or web server never sees half a file, a crash leaves the old
//! files (and at worst a dot-file temporary, which is never served and is overwritten next time),
//! and a file whose content did not change is not touched, so its Last-Modified stays meaningful.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Files staged for one atomic publish.
#[derive(Default)]
pub struct Batch {
    staged: Vec<(PathBuf, PathBuf)>,
    targets: std::collections::HashSet<PathBuf>,
}

impl Batch {
    /// Stages `bytes` for `path` unless the file already holds exactly them. True when staged.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
        if fs::read(path).is_ok_and(|existing| existing == bytes) {
            return Ok(false);
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // One writer at a time (the cache lock): a fixed name is enough, and a crash's leftover is reused.
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = File::create(&tmp)?;
        if let Err(e) = f.write_all(bytes) {
            drop(f);
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // Written twice in one batch: the temporary already holds the latest content.
        if self.targets.insert(path.to_path_buf()) {
            self.staged.push((tmp, path.to_path_buf()));
        }
        Ok(true)
    }

    /// Makes the staged files durable, then puts each in place atomically.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(first) = self.staged.first().map(|(tmp, _)| tmp.clone()) else { return Ok(()) };
        if let Err(e) = sync_filesystem(&first) {
            self.discard();
            return Err(e);
        }
        for (tmp, path) in std::mem::take(&mut self.staged) {
            fs::rename(&tmp, &path)?;
        }
        sync_filesystem(&first)
    }

    fn discard(&mut self) {
        for (tmp, _) in self.staged.drain(..) {
            let _ = fs::remove_file(tmp);
        }
    }
}

impl Drop for Batch {
    /// Staged but never committed (an error midway): the temporaries go, the old files stay.
    fn drop(&mut self) {
        self.discard();
    }
}

fn self_dir(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

/// Flushes every dirty page of the filesystem holding `path`: one call, whatever the number of files.
fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(self_dir(path))?;
    // SAFETY: syncfs takes a file descriptor we own for the duration of the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes one file atomically unless it already holds `bytes`. True when written.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let mut batch = Batch::default();
    let written = batch.write(path, bytes)?;
    batch.commit()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/feed.xml");
        assert!(write_if_changed(&path, b"one").unwrap());
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), modified);
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["feed.xml"]);
    }

    #[test]
    fn nothing_changes_until_commit_and_a_dropped_batch_leaves_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
        write_if_changed(&a, b"old a").unwrap();
        let mut batch = Batch::default();
        batch.write(&a, b"new a").unwrap();
        batch.write(&b, b"new b").unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"old a");
        assert!(!b.exists());
        drop(batch);
        assert_eq!(fs::read(&a).unwrap(), b"old a");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temporaries removed");
        let mut batch = Batch::default();
        batch.write(&a, b"new a").unwrap();
        batch.write(&b, b"new b").unwrap();
        batch.commit().unwrap();
        assert_eq!((fs::read(&a).unwrap(), fs::read(&b).unwrap()), (b"new a".to_vec(), b"new b".to_vec()));
    }
}
