//! Translation.
pub mod config;
