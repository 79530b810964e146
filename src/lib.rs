//! dwell: a project's Nix environment and Python venv, active in your shell while
//! you are in the project. The library holds every part; `main.rs` is only glue.

pub mod activate;
pub mod cache;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod eval;
pub mod jobs;
pub mod listing;
pub mod man;
pub mod paths;
pub mod process;
pub mod project;
pub mod protocol;
pub mod recipe;
pub mod safe_fs;
pub mod shell;
pub mod state;
pub mod status_line;
pub mod store_path;
pub mod sync;
pub mod term;
pub mod trace;
pub mod trust;

pub mod venv;
