//! Evaluation with the real `nix`: `nix print-dev-env` for the project, its script
//! run in a clean `bash --noprofile --norc` to capture the environment, and the
//! files the evaluation read, taken from Nix's `-vv` log.
//!
//! The rooms: [`tools`] (finding nix and bash, `nix --version`, the system),
//! [`print_dev_env`] (the `nix print-dev-env` call and what it read), [`flake`]
//! (where a flake's source is copied), [`capture`] (the script run in bash, the
//! shellHook bounded) and [`packages`] (the derivations `dwell status` lists).

mod capture;
mod flake;
mod packages;
mod print_dev_env;
#[cfg(test)]
mod tests;
mod tools;

pub use capture::*;
use flake::*;
pub use packages::*;
pub use print_dev_env::*;
pub use tools::*;

use crate::process::RunError;
use crate::protocol::EvalEnv;
use crate::protocol::Value;
use crate::recipe::{HookRun, Recipe};
use crate::trace::Reads;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a variable changes evaluation, and so travels with each request.
pub fn affects_evaluation(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "NIX_PATH",
        "NIX_CONFIG",
        "NIX_STORE_DIR",
        "NIX_STATE_DIR",
        "NIX_LOG_DIR",
        "NIX_CONF_DIR",
        "NIX_USER_CONF_FILES",
        "NIX_REMOTE",
        "NIXPKGS_CONFIG",
    ];
    EXACT.contains(&name) || name.starts_with("NIXPKGS_ALLOW_")
}

/// The evaluation-relevant part of the current process environment.
pub fn eval_env_from_process() -> EvalEnv {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            affects_evaluation(&k).then(|| (k, Value::from(v.as_os_str())))
        })
        .collect()
}

/// PATH of the capture shell: the system's standard dirs, so that a shellHook finds
/// ordinary tools. The recipe prepends the project's entries to it, and the client
/// prepends the same entries to the user's own PATH.
pub const BASE_PATH: &str =
    "/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/bin:/usr/bin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "nix was not found on PATH; install Nix (Debian: apt-get install nix-bin) and start a new shell"
    )]
    NixMissing,
    #[error("could not run {0}: {1}")]
    Spawn(String, std::io::Error),
    /// Nix failed; `inputs` are the files it had read by then, so an unchanged
    /// broken project is not evaluated again at every prompt.
    #[error("{message}")]
    Nix { message: String, inputs: Reads },
    #[error("evaluation timed out after {} s (eval_timeout in the user config)", .0.as_secs())]
    TimedOut(Duration),
    #[error("the devShell's script failed in the capture shell: {message}")]
    Capture { message: String, inputs: Reads },
    #[error("evaluation was cancelled")]
    Cancelled,
    #[error("the project has no Nix file to evaluate")]
    NothingToEvaluate,
    /// The evaluation succeeded but its result could not be saved.
    #[error("{}", storage_message(.dir, .source))]
    Storage {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What to tell the user when the cache cannot be written: a full disk says so,
/// with what to do.
fn storage_message(dir: &Path, e: &std::io::Error) -> String {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    match e.raw_os_error() {
        Some(ENOSPC) | Some(EDQUOT) => format!(
            "no space left on {}; free space or run `dwell prune` (the last good environment is kept)",
            dir.display()
        ),
        _ => format!("could not save the environment in {}: {e}", dir.display()),
    }
}

impl EvalError {
    fn capture(message: String) -> EvalError {
        EvalError::Capture {
            message,
            inputs: Reads::new(),
        }
    }
}

/// What one evaluation produced.
#[derive(Debug)]
pub struct Evaluation {
    pub recipe: Recipe,
    /// Files the evaluation read, absolute, outside the Nix store, and how.
    pub inputs: Reads,
    /// How the shellHook ran.
    pub hook: HookRun,
    pub duration: Duration,
}

impl From<RunError> for EvalError {
    fn from(e: RunError) -> EvalError {
        match e {
            RunError::Spawn(what, io)
                if what == "nix" && io.kind() == std::io::ErrorKind::NotFound =>
            {
                EvalError::NixMissing
            }
            RunError::Spawn(what, io) => EvalError::Spawn(what, io),
            RunError::TimedOut { limit, .. } => EvalError::TimedOut(limit),
            RunError::Killed(_) => EvalError::Cancelled,
            RunError::Io(io) => EvalError::Io(io),
        }
    }
}
