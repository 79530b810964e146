//! One module per subcommand. Each turns arguments into calls on the libraries and
//! returns an exit code; errors carry context for the user.

pub mod allow;
pub mod completions;
pub mod daemon;
pub mod direnv;
pub mod doctor;
pub mod exec;
pub mod export;
pub mod hook;
pub mod lock;
pub mod prune;
pub mod reload;
pub mod status;
pub mod stop;
pub mod venv;
pub mod wait;

use crate::activate::{process_env, without_project};
use crate::client;
use crate::engine::{Engine, Mode};
use crate::eval::eval_env_from_process;
use crate::paths::Paths;
use crate::protocol::{Request, Resolution, Response};
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The directory argument, or the current directory.
pub fn dir_or_cwd(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::current_dir().context("could not read the current directory")?,
    };
    std::fs::canonicalize(&dir).with_context(|| format!("could not open {}", dir.display()))
}

/// Asks the daemon (starting it if needed) to resolve `dir`, showing Nix's
/// progress on stderr while an evaluation runs; evaluates in this process when
/// told to or when no daemon can be reached. Ctrl-C while waiting asks again
/// without waiting: the last good environment at once, the evaluation goes on.
pub fn resolve(dir: &Path, no_daemon: bool, force: bool) -> anyhow::Result<Resolution> {
    resolve_with(dir, no_daemon, force, Asking::default())
}

/// Who asks, when it is not a command that needs the final environment.
#[derive(Clone, Copy, Default)]
pub struct Asking {
    /// Also the files the environment was made from, which `dwell direnv`
    /// hands to direnv to watch.
    pub with_inputs: bool,
    /// A shell's prompt: it waits only as long as the `wait` setting allows.
    pub prompt: bool,
}

/// [`resolve`], for `asking`.
pub fn resolve_with(
    dir: &Path,
    no_daemon: bool,
    force: bool,
    asking: Asking,
) -> anyhow::Result<Resolution> {
    let with_inputs = asking.with_inputs;
    let paths = Paths::from_env()?;
    let eval_env = eval_env_from_process();
    let mut line = ProgressLine::new();
    if !no_daemon {
        let answer = ask_daemon(&paths, dir, &eval_env, force, asking, &mut line);
        match answer {
            Ok(Response::Resolved(resolution)) => return Ok(resolution),
            // A daemon too busy to take the request (a connection flood): the
            // shell still gets its environment.
            Ok(Response::Error { message }) => crate::say!(
                "dwell: the daemon refused the request ({}); evaluating in this process",
                crate::safe_fs::printable(&message, false)
            ),
            Ok(other) => bail!("the daemon answered something unexpected: {other:?}"),
            Err(e) => crate::say!(
                "dwell: {}; evaluating in this process",
                crate::safe_fs::printable(&e.to_string(), false)
            ),
        }
    }
    let mode = if force { Mode::Force } else { Mode::Wait };
    let engine = Arc::new(Engine::new(paths));
    let mut show = |text: &str, elapsed: std::time::Duration| {
        line.show(text, elapsed.as_millis() as u64);
        true
    };
    let mut resolution = engine.resolve(dir, &eval_env, mode, &mut show);
    line.clear();
    if let (true, Some(env)) = (with_inputs, resolution.env.as_mut()) {
        env.inputs = engine.inputs(dir, &eval_env);
    }
    Ok(resolution)
}

/// Asks the daemon for `dir` (starting it if needed), showing Nix's progress on
/// `line`; Ctrl-C while waiting asks again without waiting.
fn ask_daemon(
    paths: &Paths,
    dir: &Path,
    eval_env: &crate::protocol::EvalEnv,
    force: bool,
    asking: Asking,
    line: &mut ProgressLine,
) -> Result<Response, client::ClientError> {
    let Asking {
        with_inputs,
        prompt,
    } = asking;
    let request = if force {
        Request::Reload {
            dir: dir.to_path_buf(),
            eval_env: eval_env.clone(),
        }
    } else {
        Request::Resolve {
            dir: dir.to_path_buf(),
            eval_env: eval_env.clone(),
            wait: true,
            with_inputs,
            prompt,
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let handler = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone());
    // The daemon gets the shell's environment as it was before dwell.
    let daemon_env = without_project(&process_env());
    let mut show = |text: &str, ms: u64| line.show(text, ms);
    let mut follow = client::Follow {
        on_progress: Some(&mut show),
        interrupted: Some(&interrupted),
    };
    let answer = client::request(paths, &request, &daemon_env, &mut follow);
    line.clear();
    if let Ok(id) = handler {
        signal_hook::low_level::unregister(id);
    }
    match answer {
        // The daemon went away mid-request (stopped, killed): ask a new one.
        Err(client::ClientError::Io(_) | client::ClientError::Protocol(_)) => {
            client::request(paths, &request, &daemon_env, &mut client::Follow::default())
        }
        Err(client::ClientError::Interrupted) => {
            let now = Request::Resolve {
                dir: dir.to_path_buf(),
                eval_env: eval_env.clone(),
                wait: false,
                with_inputs,
                prompt,
            };
            client::request(paths, &now, &daemon_env, &mut client::Follow::default())
        }
        other => other,
    }
}

/// One updating line on stderr, when stderr is a terminal.
struct ProgressLine {
    terminal: bool,
    shown: bool,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn show(&mut self, text: &str, elapsed_ms: u64) {
        if !self.terminal {
            return;
        }
        let mut text = format!(
            "dwell: evaluating · {} · {:.1} s (Ctrl-C: last good environment now)",
            crate::safe_fs::printable(text, false),
            elapsed_ms as f64 / 1000.0
        );
        text.truncate(text.floor_char_boundary(160));
        crate::term::say_rendered(&format!("\r\x1b[K{text}"));
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            crate::term::say_rendered("\r\x1b[K");
            self.shown = false;
        }
    }
}

/// Tells a running daemon that something shells see has changed (never starts one).
/// An error and its causes on one line, each cause said once: a cause whose
/// text the message already carries (a read error naming its path and reason)
/// is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// Why there is no project to act on at `dir`: the project's own error (a
/// broken `.dwell.toml`), or that none was found.
pub fn no_project(dir: &Path, resolution: &Resolution) -> anyhow::Error {
    match &resolution.error {
        Some(error) => anyhow::anyhow!("{error}"),
        None => anyhow::anyhow!(
            "no project at {}: no flake.nix, shell.nix, default.nix, .dwell.toml or .venv here or above",
            dir.display()
        ),
    }
}

pub fn notify_daemon() {
    if let Ok(paths) = Paths::from_env() {
        let _ = client::request_running(&paths, &Request::Changed);
    }
}
