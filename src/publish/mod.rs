//! Publishing.
pub mod config;
