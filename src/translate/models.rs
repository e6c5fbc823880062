//! Model files for the `local` engine: a short catalogue of recommended GGUF files, fetched into
//! `<cache>/models/` with a progress bar, resume and a sha256 check, and a listing of what is there.
//! (Works without the `local` feature too: the same files serve llama.cpp's server.)

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use crate::config::models::{CATALOGUE, Known, RECOMMENDED, known, models_dir, path_of};

/// What to fetch.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: String,
    pub file: String,
    pub sha256: String,
    pub size: Option<u64>,
}

impl From<&Known> for Source {
    fn from(k: &Known) -> Source {
        Source { url: k.url.into(), file: k.file.into(), sha256: k.sha256.into(), size: Some(k.size) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{file}: sha256 is {got}, expected {expected} (the download was removed; run the command again)")]
    Mismatch { file: String, got: String, expected: String },
    #[error("{0}")]
    Io(String),
}

fn io(what: &str, path: &Path, e: std::io::Error) -> PullError {
    PullError::Io(format!("cannot {what} {}: {e}", path.display()))
}

/// Fetches `source` into `dir` (resuming a `.part` left by an interrupted pull), checks its sha256
/// and moves it into place. A file already there with the right hash is kept as it is.
/// Returns the file's path and whether it was downloaded now.
pub async fn pull(source: &Source, dir: &Path, progress: bool) -> Result<(PathBuf, bool), PullError> {
    let dest = dir.join(&source.file);
    if dest.exists() && sha256_of(&dest).await? == source.sha256.to_ascii_lowercase() {
        return Ok((dest, false));
    }
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let part = dir.join(format!("{}.part", source.file));
    let have = std::fs::metadata(&part).map_or(0, |m| m.len());
    let fetch_error = |message: String| PullError::Fetch { url: source.url.clone(), message };

    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .user_agent(crate::config::DEFAULT_USER_AGENT)
        .build()
        .map_err(|e| fetch_error(e.to_string()))?;
    let mut request = client.get(&source.url);
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let mut response = request.send().await.map_err(|e| fetch_error(e.to_string()))?;
    let status = response.status();
    let (mut file, start) = match status.as_u16() {
        206 => (std::fs::OpenOptions::new().append(true).open(&part).map_err(|e| io("open", &part, e))?, have),
        // Nothing left to fetch: the part is whole.
        416 if have > 0 => (std::fs::OpenOptions::new().append(true).open(&part).map_err(|e| io("open", &part, e))?, have),
        200 => (std::fs::File::create(&part).map_err(|e| io("create", &part, e))?, 0),
        _ => return Err(fetch_error(format!("the server answered {status}"))),
    };
    let total = response.content_length().map(|n| n + start).or(source.size);
    let bar = progress_bar(progress, total, start, &source.file);
    if status.as_u16() != 416 {
        while let Some(chunk) = response.chunk().await.map_err(|e| fetch_error(format!("{e} (run again to resume)")))? {
            file.write_all(&chunk).map_err(|e| io("write", &part, e))?;
            bar.inc(chunk.len() as u64);
        }
    }
    file.sync_all().map_err(|e| io("write", &part, e))?;
    drop(file);
    bar.finish_and_clear();

    let got = sha256_of(&part).await?;
    if got != source.sha256.to_ascii_lowercase() {
        let _ = std::fs::remove_file(&part);
        return Err(PullError::Mismatch { file: source.file.clone(), got, expected: source.sha256.clone() });
    }
    std::fs::rename(&part, &dest).map_err(|e| io("move into place", &dest, e))?;
    Ok((dest, true))
}

fn progress_bar(show: bool, total: Option<u64>, start: u64, name: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    let style = indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}").expect("static template");
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar.set_position(start);
    bar
}

/// The sha256 of a file, in hex (read off the async threads: a model is a gigabyte).
pub async fn sha256_of(path: &Path) -> Result<String, PullError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(|e| io("read", &path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| io("read", &path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(crate::model::hex(&hasher.finalize()))
    })
    .await
    .map_err(|e| PullError::Io(e.to_string()))?
}

/// One line of `polyfeed model list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub file: PathBuf,
    /// Bytes on disk (None: not fetched).
    pub size: Option<u64>,
    /// A `.part` of this many bytes waits to be resumed.
    pub partial: Option<u64>,
    pub about: String,
}

/// The catalogue, with what of it is fetched, then every other GGUF file in the models folder.
pub fn list(cache_dir: &Path) -> Vec<Listed> {
    let dir = models_dir(cache_dir);
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    let mut out: Vec<Listed> = CATALOGUE
        .iter()
        .map(|k| {
            let file = dir.join(k.file);
            Listed { name: k.name.into(), size: size(&file), partial: size(&dir.join(format!("{}.part", k.file))), file, about: k.about.into() }
        })
        .collect();
    let mut others: Vec<PathBuf> = std::fs::read_dir(&dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    others.sort();
    for path in others {
        if path.extension().is_some_and(|e| e == "gguf") && !CATALOGUE.iter().any(|k| dir.join(k.file) == path) {
            out.push(Listed {
                name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                size: size(&path),
                partial: None,
                file: path,
                about: String::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_files_in_the_models_folder() {
        let cache = Path::new("/c");
        assert_eq!(path_of(cache, RECOMMENDED), Path::new("/c/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"));
        assert_eq!(path_of(cache, "mine"), Path::new("/c/models/mine.gguf"));
        assert_eq!(path_of(cache, "mine.gguf"), Path::new("/c/models/mine.gguf"));
        for k in CATALOGUE {
            assert_eq!(k.sha256.len(), 64, "{}", k.name);
            assert!(k.url.starts_with("https://") && k.url.ends_with(k.file), "{}", k.name);
        }
        assert!(known(RECOMMENDED).is_some());
    }

    #[test]
    fn the_listing_shows_the_catalogue_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let models = models_dir(dir.path());
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("own.gguf"), b"GGUF1234").unwrap();
        std::fs::write(models.join(format!("{}.part", CATALOGUE[0].file)), b"GGUF").unwrap();
        std::fs::write(models.join("notes.txt"), b"x").unwrap();
        let listed = list(dir.path());
        assert_eq!(listed.len(), CATALOGUE.len() + 1);
        assert_eq!((listed[0].size, listed[0].partial), (None, Some(4)));
        assert_eq!((listed[1].name.as_str(), listed[1].size), ("own", Some(8)));
    }
}
