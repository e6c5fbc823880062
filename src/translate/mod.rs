//! Translation: segmentation (pure), the engines, faithfulness checks (pure), and the queue worker.

pub mod breaker;
pub mod budget;
pub mod checks;
/// The `[translator]` table lives with the rest of the config (the bottom layer).
pub use crate::config::translator as config;
pub mod engine;
pub mod limits;
pub mod local;
pub mod models;
pub mod placeholders;
pub mod prompt;
pub mod segment;
pub mod verify;
pub mod worker;
