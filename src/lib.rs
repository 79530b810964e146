//! dwell: a project's Nix environment and Python venv, active in your shell while
//! you are in the project. The library holds every part; `main.rs` is only glue.

pub(crate) mod activate;
pub(crate) mod cache;
pub mod cli;
pub(crate) mod client;
pub mod cmd;
pub(crate) mod config;
pub(crate) mod daemon;
pub(crate) mod engine;
pub(crate) mod eval;
pub(crate) mod jobs;
pub(crate) mod listing;
pub(crate) mod lock;
pub(crate) mod man;
pub(crate) mod paths;
pub(crate) mod process;
pub(crate) mod project;
pub(crate) mod protocol;
pub(crate) mod recipe;
pub(crate) mod safe_fs;
pub(crate) mod shell;
pub(crate) mod state;
pub(crate) mod status_line;
pub(crate) mod store_path;
pub(crate) mod sync;
pub mod term;
pub(crate) mod trace;
pub(crate) mod trust;

pub(crate) mod venv;

// The modules are private to the crate; the binary uses `cli`, `cmd` and `term`
// (for `say!`). What the integration tests in tests/ call directly is named
// here: the hooks and the renderers they check against real shells, and the
// loaders of the config files the docs show. So rustc reports what nothing uses.
pub use config::{ProjectConfig, Settings};
pub use protocol::Value;
pub use shell::{hook, render_elvish, render_fish, render_nu, render_posix, render_xonsh};
