//! The `local` engine: a GGUF chat model of the Qwen2 family run in-process with candle, on the
//! CPU. It speaks the same protocol as the OpenAI-compatible engine (system message, the source
//! blocks as HTML, the reply read back block by block), so segmentation, checks, memory and queue
//! are the same. One model load per process: the daemon keeps it warm between passes.
//!
//! Built only with the `local` cargo feature; without it the engine says how to get it.

use std::path::Path;

use super::engine::Unusable;
#[cfg(not(feature = "local"))]
use super::{
    engine::{EngineError, Reply},
    segment::Unit,
};

/// Set when the process is stopping and the grace period ran out: generation in progress ends at
/// the next token (the block goes back to the queue untranslated, nothing is stored).
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ends every generation in progress in this process.
pub fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Tells why the engine cannot run before anything is loaded: no feature, no file, not a GGUF.
pub fn check_usable(path: &Path) -> Result<(), Unusable> {
    if !cfg!(feature = "local") {
        return Err(Unusable(
            "this polyfeed was built without the local engine: rebuild with `cargo install --path . --features local` \
             (or use an openai engine, e.g. a llama.cpp or Ollama server)"
                .into(),
        ));
    }
    let mut magic = [0u8; 4];
    match std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)) {
        Ok(()) if &magic == b"GGUF" => Ok(()),
        Ok(()) => Err(Unusable(format!("{} is not a GGUF model file", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Unusable(format!("no model at {} (fetch one with `polyfeed model pull`, or set translator.model_path)", path.display())))
        }
        Err(e) => Err(Unusable(format!("cannot read the model {}: {e}", path.display()))),
    }
}

#[cfg(feature = "local")]
pub use imp::Model;

#[cfg(not(feature = "local"))]
pub struct Model;

#[cfg(not(feature = "local"))]
impl Model {
    pub fn load(path: &Path, _context: usize) -> Result<std::sync::Arc<Model>, Unusable> {
        check_usable(path).map(|()| std::sync::Arc::new(Model))
    }

    pub fn translate(&self, _units: &[&Unit], _system: &str, _temperature: f32, _deadline: std::time::Instant) -> Result<Reply, EngineError> {
        Err(EngineError::Permanent("built without the local engine".into()))
    }
}

#[cfg(feature = "local")]
mod imp {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Instant;

    use candle_core::quantized::tokenizer::TokenizerFromGguf;
    use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
    use candle_core::{Device, Tensor};
    use candle_transformers::generation::{LogitsProcessor, Sampling};
    use candle_transformers::models::quantized_qwen2::ModelWeights;
    use tokenizers::Tokenizer;

    use super::super::engine::{EngineError, Reply, Unusable, Usage};
    use super::super::prompt;
    use super::super::segment::Unit;

    /// The tokens generated for one block, at most: enough for a translation twice the source's
    /// length, so a model that loops is cut off rather than left to fill the context.
    fn reply_budget(source_tokens: usize) -> usize {
        source_tokens * 2 + 64
    }

    /// A loaded model. Generation needs the weights' KV cache to itself: one block at a time.
    pub struct Model {
        weights: Mutex<ModelWeights>,
        tokenizer: Tokenizer,
        /// Tokens that end a reply (<|im_end|>, <|endoftext|>).
        stop: Vec<u32>,
        context: usize,
    }

    /// Block types candle multiplies without SIMD on the CPU. Small Qwen2 models (hidden size 896,
    /// not a multiple of 256) carry most of their weights as Q5_0, which made the 0.5B model 10x
    /// slower than its size suggests.
    fn slow_on_cpu(dtype: GgmlDType) -> bool {
        matches!(dtype, GgmlDType::Q5_0 | GgmlDType::Q5_1)
    }

    /// The model with its slow blocks requantized to Q8_0 (8 bits from 5: no precision lost), as an
    /// in-memory GGUF to load from. Costs a few seconds and the model's size again while loading.
    fn requantized<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        file: &mut R,
    ) -> candle_core::Result<(gguf_file::Content, std::io::Cursor<Vec<u8>>)> {
        let mut tensors = Vec::with_capacity(content.tensor_infos.len());
        for (name, info) in &content.tensor_infos {
            let tensor = content.tensor(file, name, &Device::Cpu)?;
            let tensor = if slow_on_cpu(info.ggml_dtype) { QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)? } else { tensor };
            tensors.push((name.as_str(), tensor));
        }
        let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        let mut bytes = std::io::Cursor::new(Vec::new());
        gguf_file::write(&mut bytes, &metadata, &refs)?;
        drop(refs);
        drop(tensors);
        bytes.set_position(0);
        let content = gguf_file::Content::read(&mut bytes)?;
        Ok((content, bytes))
    }

    /// Models loaded by this process, by file: loaded once, kept warm.
    static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
    type Loaded = HashMap<(PathBuf, usize), Arc<Model>>;

    impl Model {
        /// The model at `path`, loaded on first use (seconds for a 1 GB file) and shared after.
        /// (`Engine::new` has checked the file with `check_usable`.)
        pub fn load(path: &Path, context: usize) -> Result<Arc<Model>, Unusable> {
            let key = (path.to_path_buf(), context);
            let mut loaded = LOADED.get_or_init(Default::default).lock().expect("model table");
            if let Some(m) = loaded.get(&key) {
                return Ok(m.clone());
            }
            // One model stays warm: a reload that switches models lets the old one go first.
            loaded.clear();
            let started = Instant::now();
            let model = Arc::new(Model::read(path, context).map_err(|e| Unusable(format!("cannot load the model {}: {e}", path.display())))?);
            tracing::info!(model = %path.display(), seconds = started.elapsed().as_secs_f64(), "model loaded");
            loaded.insert(key, model.clone());
            Ok(model)
        }

        fn read(path: &Path, context: usize) -> candle_core::Result<Model> {
            let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
            let content = gguf_file::Content::read(&mut file).map_err(|e| e.with_path(path))?;
            let arch = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
            if arch != "qwen2" {
                candle_core::bail!("its architecture is {arch:?}; the local engine runs qwen2 models (Qwen2.5 instruct GGUFs)");
            }
            let tokenizer = Tokenizer::from_gguf(&content)?;
            let weights = if content.tensor_infos.values().any(|t| slow_on_cpu(t.ggml_dtype)) {
                let (content, mut bytes) = requantized(content, &mut file)?;
                ModelWeights::from_gguf(content, &mut bytes, &Device::Cpu)?
            } else {
                ModelWeights::from_gguf(content, &mut file, &Device::Cpu)?
            };
            let stop = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tokenizer.token_to_id(t)).collect();
            Ok(Model { weights: Mutex::new(weights), tokenizer, stop, context })
        }

        /// Translates the units one block per request (a small model is held to the structure
        /// best one block at a time). Blocking: call it off the async threads.
        pub fn translate(&self, units: &[&Unit], system: &str, temperature: f32, deadline: Instant) -> Result<Reply, EngineError> {
            let mut blocks = Vec::with_capacity(units.len());
            let mut usage = Usage::default();
            for (i, unit) in units.iter().enumerate() {
                let user = prompt::user_message(&[unit]);
                let (content, prompt_tokens, completion_tokens) = self.generate(system, &user, temperature, deadline)?;
                usage.prompt_tokens += prompt_tokens;
                usage.completion_tokens += completion_tokens;
                if let Some((_, html)) = prompt::read_reply(&[unit], &content).into_iter().next() {
                    blocks.push((i, html));
                }
            }
            Ok(Reply { blocks, usage, cut: false })
        }

        /// One chat turn in the model's template; greedy when `temperature` is 0.
        fn generate(&self, system: &str, user: &str, temperature: f32, deadline: Instant) -> Result<(String, u64, u64), EngineError> {
            let chat = format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n");
            let fail = |e: &dyn std::fmt::Display| EngineError::Malformed(format!("the model failed: {e}"));
            let ids = self.tokenizer.encode(chat, false).map_err(|e| fail(&e))?.get_ids().to_vec();
            let source_tokens = self.tokenizer.encode(user, false).map_err(|e| fail(&e))?.len();
            let budget = reply_budget(source_tokens);
            if ids.len() + budget > self.context {
                return Err(EngineError::Malformed(format!(
                    "the block needs {} tokens with its reply, over the model's context_size of {}",
                    ids.len() + budget,
                    self.context
                )));
            }
            let sampling = if temperature <= 0.0 { Sampling::ArgMax } else { Sampling::All { temperature: f64::from(temperature) } };
            let mut sampler = LogitsProcessor::from_sampling(299_792_458, sampling);
            let mut weights = self.weights.lock().unwrap_or_else(|p| p.into_inner());
            weights.clear_kv_cache();
            let step = |weights: &mut ModelWeights, input: &[u32], pos: usize| -> candle_core::Result<Tensor> {
                let input = Tensor::new(input, &Device::Cpu)?.unsqueeze(0)?;
                weights.forward(&input, pos)?.squeeze(0)
            };
            let started = Instant::now();
            let logits = step(&mut weights, &ids, 0).map_err(|e| fail(&e))?;
            let prompt_seconds = started.elapsed().as_secs_f64();
            let mut next = sampler.sample(&logits).map_err(|e| fail(&e))?;
            let mut out = Vec::new();
            while !self.stop.contains(&next) {
                out.push(next);
                if out.len() >= budget {
                    return Err(EngineError::Malformed(format!("the reply ran past {budget} tokens (the model is looping)")));
                }
                if super::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(EngineError::Transient { message: "stopping".into(), retry_after: None });
                }
                if Instant::now() > deadline {
                    return Err(EngineError::Transient { message: "the model timed out".into(), retry_after: None });
                }
                let logits = step(&mut weights, &[next], ids.len() + out.len() - 1).map_err(|e| fail(&e))?;
                next = sampler.sample(&logits).map_err(|e| fail(&e))?;
            }
            let text = self.tokenizer.decode(&out, true).map_err(|e| fail(&e))?;
            tracing::debug!(
                prompt_tokens = ids.len(),
                prompt_seconds,
                reply_tokens = out.len(),
                reply_seconds = started.elapsed().as_secs_f64() - prompt_seconds,
                "block generated"
            );
            Ok((text, ids.len() as u64, out.len() as u64 + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_feature_or_the_file_the_engine_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let missing = check_usable(&dir.path().join("none.gguf")).unwrap_err().0;
        let not_gguf = dir.path().join("x.gguf");
        std::fs::write(&not_gguf, "<html>").unwrap();
        let wrong = check_usable(&not_gguf).unwrap_err().0;
        if cfg!(feature = "local") {
            assert!(missing.contains("polyfeed model pull"), "{missing}");
            assert!(wrong.contains("not a GGUF"), "{wrong}");
        } else {
            assert!(missing.contains("--features local"), "{missing}");
            assert_eq!(missing, wrong);
        }
    }
}
