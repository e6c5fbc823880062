//! The `local` engine: a GGUF chat model run in-process by llama.cpp (through the llama-cpp-2
//! binding, built from source), on the CPU. It speaks the same protocol as the OpenAI-compatible
//! engine (system message, the source blocks, the reply read back block by block), so
//! segmentation, checks, memory and queue are the same. One model load per process, kept warm by
//! the daemon; the model's own chat template; the instructions' tokens are evaluated once and their
//! KV cache reused for every block that follows (a prompt prefix cache, as llama-server's).
//!
//! Built only with the `local` cargo feature; without it the engine says how to get it.

use std::path::Path;

use super::engine::Unusable;
#[cfg(not(feature = "local"))]
use super::{
    engine::{EngineError, Reply, Sampling},
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
    pub fn load(path: &Path, _context: usize, _threads: Option<usize>) -> Result<std::sync::Arc<Model>, Unusable> {
        check_usable(path).map(|()| std::sync::Arc::new(Model))
    }

    pub fn translate(
        &self,
        _units: &[&Unit],
        _system: &str,
        _sampling: Sampling,
        _deadline: std::time::Instant,
        _max_tokens: Option<usize>,
    ) -> Result<Reply, EngineError> {
        Err(EngineError::Permanent("built without the local engine".into()))
    }
}

#[cfg(feature = "local")]
mod imp {
    use std::num::NonZeroU32;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, OnceLock, mpsc};
    use std::time::Instant;

    use llama_cpp_2::context::LlamaContext;
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
    use llama_cpp_2::sampling::LlamaSampler;
    use llama_cpp_2::token::LlamaToken;

    use super::super::engine::{EngineError, Reply, Sampling, Unusable, Usage};
    use super::super::prompt;
    use super::super::segment::Unit;

    /// The tokens generated for one block, at most: enough for a translation twice the source's
    /// length, so a model that loops is cut off rather than left to fill the context.
    fn reply_budget(source_tokens: usize) -> usize {
        source_tokens * 2 + 64
    }

    /// One generation asked of the model's thread.
    struct Turn {
        system: String,
        user: String,
        sampling: Sampling,
        deadline: Instant,
        /// The reply's budget, when not the translation's (`reply_budget`).
        max_tokens: Option<usize>,
        answer: mpsc::SyncSender<Result<(String, u64, u64), EngineError>>,
    }

    /// A loaded model: a thread of its own owns the weights and their context (llama.cpp's context
    /// borrows the model), and generates one turn at a time. The last handle dropped ends the
    /// thread, which frees both.
    pub struct Model {
        turns: Mutex<mpsc::Sender<Turn>>,
    }

    /// llama.cpp's backend, initialized once per process.
    fn backend() -> Result<&'static LlamaBackend, Unusable> {
        static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
        BACKEND
            .get_or_init(|| {
                llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
                LlamaBackend::init().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Unusable(format!("cannot start llama.cpp: {e}")))
    }

    /// The instruction sets this build of llama.cpp was compiled for (see `.cargo/config.toml`):
    /// a CPU without them is refused with that reason rather than crashing.
    fn cpu_supported() -> Result<(), Unusable> {
        #[cfg(target_arch = "x86_64")]
        if !(std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
            && std::is_x86_feature_detected!("bmi2"))
        {
            return Err(Unusable(
                "this CPU lacks AVX2, FMA, F16C or BMI2, which this build of the local engine uses; rebuild with GGML_AVX2=OFF \
                 GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF in the environment, or use an openai engine"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The model this process has loaded, by file, context size and threads: loaded once, kept warm.
    static LOADED: OnceLock<Mutex<Option<Loaded>>> = OnceLock::new();
    type Loaded = ((PathBuf, usize, usize), Arc<Model>);

    impl Model {
        /// The model at `path`, loaded on first use (a second or two: llama.cpp maps the file) and
        /// shared after. (`Engine::new` has checked the file with `check_usable`.)
        pub fn load(path: &Path, context: usize, threads: Option<usize>) -> Result<Arc<Model>, Unusable> {
            cpu_supported()?;
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let key = (path.to_path_buf(), context, threads);
            let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
            if let Some((k, m)) = loaded.as_ref()
                && *k == key
            {
                return Ok(m.clone());
            }
            // One model stays warm: a reload that switches models lets the old one go first.
            *loaded = None;
            let backend = backend()?;
            let started = Instant::now();
            let (turns, inbox) = mpsc::channel::<Turn>();
            let (ready_tx, ready) = mpsc::sync_channel::<Result<(), String>>(1);
            let file = path.to_path_buf();
            std::thread::Builder::new()
                .name("local-model".into())
                .spawn(move || {
                    let model = match LlamaModel::load_from_file(backend, &file, &LlamaModelParams::default()) {
                        Ok(m) => m,
                        Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
                    };
                    let n_ctx = NonZeroU32::new(context as u32);
                    let params = LlamaContextParams::default()
                        .with_n_ctx(n_ctx)
                        .with_n_batch(context as u32)
                        .with_n_threads(threads as i32)
                        .with_n_threads_batch(threads as i32);
                    let mut session = match model.new_context(backend, params) {
                        Ok(ctx) => Session { model: &model, ctx, cached: Vec::new(), context },
                        Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
                    };
                    let _ = ready_tx.send(Ok(()));
                    for turn in inbox {
                        let result = session.generate(&turn);
                        let _ = turn.answer.send(result);
                    }
                })
                .map_err(|e| Unusable(format!("cannot start the model's thread: {e}")))?;
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Unusable(format!("cannot load the model {}: {e}", path.display()))),
                Err(_) => return Err(Unusable(format!("cannot load the model {}: its thread ended", path.display()))),
            }
            tracing::info!(model = %path.display(), seconds = started.elapsed().as_secs_f64(), threads, "model loaded");
            let model = Arc::new(Model { turns: Mutex::new(turns) });
            *loaded = Some((key, model.clone()));
            Ok(model)
        }

        /// Translates the units one block per request (a small model is held to the structure
        /// best one block at a time). Blocking: call it off the async threads.
        pub fn translate(&self, units: &[&Unit], system: &str, sampling: Sampling, deadline: Instant, max_tokens: Option<usize>) -> Result<Reply, EngineError> {
            let mut blocks = Vec::with_capacity(units.len());
            let mut usage = Usage::default();
            for (i, unit) in units.iter().enumerate() {
                let user = prompt::user_message(&[unit]);
                let (answer, reply) = mpsc::sync_channel(1);
                let turn = Turn { system: system.to_string(), user, sampling, deadline, max_tokens, answer };
                self.turns.lock().unwrap_or_else(|e| e.into_inner()).send(turn).map_err(|_| EngineError::Permanent("the model's thread ended".into()))?;
                let (content, prompt_tokens, completion_tokens) = reply.recv().map_err(|_| EngineError::Permanent("the model's thread ended".into()))??;
                usage.prompt_tokens += prompt_tokens;
                usage.completion_tokens += completion_tokens;
                if let Some((_, html)) = prompt::read_reply(&[unit], &content).into_iter().next() {
                    blocks.push((i, html));
                }
            }
            Ok(Reply { blocks, usage, cut: false })
        }
    }

    /// The model's thread's state: the context and the tokens its KV cache holds.
    struct Session<'m> {
        model: &'m LlamaModel,
        ctx: LlamaContext<'m>,
        /// The tokens evaluated into the KV cache, in order: the next prompt reuses their common prefix.
        cached: Vec<LlamaToken>,
        context: usize,
    }

    impl Session<'_> {
        /// The prompt in the model's own chat template (ChatML when it has none llama.cpp knows).
        fn chat(&self, system: &str, user: &str) -> String {
            let messages = [("system", system), ("user", user)];
            let templated = self.model.chat_template(None).ok().and_then(|t| {
                let chat: Vec<LlamaChatMessage> = messages.iter().filter_map(|(r, c)| LlamaChatMessage::new(r.to_string(), c.to_string()).ok()).collect();
                self.model.apply_chat_template(&t, &chat, true).ok()
            });
            templated.unwrap_or_else(|| format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"))
        }

        /// One turn, greedy when the temperature is 0: (reply, prompt tokens, reply tokens).
        fn generate(&mut self, turn: &Turn) -> Result<(String, u64, u64), EngineError> {
            let fail = |e: &dyn std::fmt::Display| EngineError::Malformed(format!("the model failed: {e}"));
            let vocab = self.model.vocab();
            let tokens = vocab.tokenize(self.chat(&turn.system, &turn.user).as_bytes(), false, true);
            let source_tokens = vocab.tokenize(turn.user.as_bytes(), false, false).len();
            let budget = turn.max_tokens.unwrap_or_else(|| reply_budget(source_tokens));
            if tokens.len() + budget > self.context {
                return Err(EngineError::Malformed(format!(
                    "the block needs {} tokens with its reply, over the model's context_size of {}",
                    tokens.len() + budget,
                    self.context
                )));
            }
            // The instructions are the same for every block: only what follows them is evaluated.
            let common = self.cached.iter().zip(&tokens).take_while(|(a, b)| a == b).count().min(tokens.len() - 1);
            self.ctx.clear_kv_cache_seq(Some(0), Some(common as u32), None).map_err(|e| fail(&e))?;
            self.cached.truncate(common);
            let started = Instant::now();
            let mut batch = LlamaBatch::new(tokens.len().max(1), 1);
            for (i, t) in tokens.iter().enumerate().skip(common) {
                batch.add(*t, i as i32, &[0], i + 1 == tokens.len()).map_err(|e| fail(&e))?;
            }
            self.ctx.decode(&mut batch).map_err(|e| fail(&e))?;
            self.cached.extend_from_slice(&tokens[common..]);
            let prompt_seconds = started.elapsed().as_secs_f64();

            // Sampling as llama-server does by default: the 40 likeliest tokens, nucleus 0.95, none
            // below 5% of the likeliest; seeded, so that a block asked again with another seed can
            // get another answer, and the same seed the same one.
            let mut sampler = if turn.sampling.temperature <= 0.0 {
                LlamaSampler::greedy()
            } else {
                LlamaSampler::chain_simple([
                    LlamaSampler::top_k(40),
                    LlamaSampler::top_p(0.95, 1),
                    LlamaSampler::min_p(0.05, 1),
                    LlamaSampler::temp(turn.sampling.temperature),
                    LlamaSampler::dist(turn.sampling.seed),
                ])
            };
            let mut bytes = Vec::new();
            let mut generated = 0usize;
            let mut last = batch.n_tokens() - 1;
            loop {
                let next = sampler.sample(&self.ctx, last);
                if vocab.is_eog(next) {
                    break;
                }
                generated += 1;
                if generated > budget {
                    return Err(EngineError::Malformed(format!("the reply ran past {budget} tokens (the model is looping)")));
                }
                if super::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(EngineError::Transient { message: "stopping".into(), retry_after: None });
                }
                if Instant::now() > turn.deadline {
                    return Err(EngineError::Transient { message: "the model timed out".into(), retry_after: None });
                }
                bytes.extend(vocab.token_to_piece(next, false, None));
                batch.clear();
                batch.add(next, self.cached.len() as i32, &[0], true).map_err(|e| fail(&e))?;
                self.ctx.decode(&mut batch).map_err(|e| fail(&e))?;
                self.cached.push(next);
                last = 0;
            }
            tracing::debug!(
                prompt_tokens = tokens.len(),
                reused = common,
                prompt_seconds,
                reply_tokens = generated,
                reply_seconds = started.elapsed().as_secs_f64() - prompt_seconds,
                "block generated"
            );
            Ok((String::from_utf8_lossy(&bytes).into_owned(), tokens.len() as u64, generated as u64 + 1))
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
