//! One module per subcommand. Each turns arguments into calls on the libraries and
//! returns an exit code; errors carry context for the user.

pub mod allow;
pub mod completions;
pub mod daemon;
pub mod doctor;
pub mod exec;
pub mod export;
pub mod hook;
pub mod prune;
pub mod reload;
pub mod status;
pub mod stop;

use crate::activate::{process_env, without_project};
use crate::client;
use crate::engine::Engine;
use crate::eval::eval_env_from_process;
use crate::paths::Paths;
use crate::protocol::{Request, Resolution, Response};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The directory argument, or the current directory.
pub fn dir_or_cwd(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::current_dir().context("could not read the current directory")?,
    };
    std::fs::canonicalize(&dir).with_context(|| format!("could not open {}", dir.display()))
}

/// Asks the daemon (starting it if needed) to resolve `dir`; evaluates in this
/// process when told to or when no daemon can be reached.
pub fn resolve(dir: &Path, no_daemon: bool, force: bool) -> anyhow::Result<Resolution> {
    let paths = Paths::from_env()?;
    let eval_env = eval_env_from_process();
    if !no_daemon {
        let request = if force {
            Request::Reload {
                dir: dir.to_path_buf(),
                eval_env: eval_env.clone(),
            }
        } else {
            Request::Resolve {
                dir: dir.to_path_buf(),
                eval_env: eval_env.clone(),
            }
        };
        // The daemon gets the shell's environment as it was before dwell.
        match client::request(&paths, &request, &without_project(&process_env())) {
            Ok(Response::Resolved(resolution)) => return Ok(resolution),
            Ok(Response::Error { message }) => bail!("the daemon refused the request: {message}"),
            Ok(other) => bail!("the daemon answered something unexpected: {other:?}"),
            Err(e) => eprintln!("dwell: {e}; evaluating in this process"),
        }
    }
    Ok(Engine::new(paths).resolve(dir, &eval_env, force))
}

/// Tells a running daemon that something shells see has changed (never starts one).
pub fn notify_daemon() {
    if let Ok(paths) = Paths::from_env() {
        let _ = client::request_running(&paths, &Request::Changed);
    }
}
