//! polyfeed: follow feeds, translate new posts faithfully, republish them bilingual.
//!
//! The pipeline, one module per stage: config -> fetch -> parse -> detect -> store/queue ->
//! translate -> publish -> serve. See ARCHITECTURE.md.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod fetch;
pub mod lock;
pub mod metrics;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod refresh;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod text;
pub mod translate;
pub mod websub;
