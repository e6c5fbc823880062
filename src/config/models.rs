//! The model files the `local` engine knows by name, and where they live under the cache: data the
//! config needs to resolve `model = "..."`; fetching them is `translate::models`.

use std::path::{Path, PathBuf};

/// A model polyfeed knows how to fetch.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub name: &'static str,
    pub file: &'static str,
    pub url: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    pub about: &'static str,
}

/// The name `polyfeed model pull` fetches when given none.
pub const RECOMMENDED: &str = "qwen2.5-1.5b-instruct";

/// General instruction-tuned models of the Qwen2.5 family (strong in Chinese), pinned to one
/// revision of the publisher's repository and to that file's sha256.
pub const CATALOGUE: &[Known] = &[Known {
    name: "qwen2.5-1.5b-instruct",
    file: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
    url: "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/91cad51170dc346986eccefdc2dd33a9da36ead9/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    size: 1_117_320_736,
    sha256: "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
    about: "Qwen2.5 1.5B Instruct, Q4_K_M, Apache-2.0; about 3 GB of RAM and 4 s a paragraph on 2 cores",
}];

pub fn known(name: &str) -> Option<&'static Known> {
    CATALOGUE.iter().find(|k| k.name == name)
}

pub fn models_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("models")
}

/// The file a model name stands for: a catalogue name, or a file name in the models folder.
pub fn path_of(cache_dir: &Path, name: &str) -> PathBuf {
    let file = match known(name) {
        Some(k) => k.file.to_string(),
        None if name.ends_with(".gguf") => name.to_string(),
        None => format!("{name}.gguf"),
    };
    models_dir(cache_dir).join(file)
}
