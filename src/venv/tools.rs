//! Running the installers (pip, uv, Poetry) from the Nix environment: bounded by
//! `install_timeout`, their lines passed on, the tool for a lock found first.

use super::*;
use crate::process::{OnLine, Watch};
use crate::protocol::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The last lines of a failed command's output.
pub(super) fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The line of an installer's output that says why it failed, for one line at
/// the prompt: the first that reads as an error (`ERROR:`, `error:`, uv's `×`,
/// Poetry's `Because …`), without its marker; else the last line.
pub fn first_reason(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let markers = ["error:", "ERROR:", "Error:", "× ", "╰─▶ "];
    let unmarked = |line: &str| -> Option<String> {
        let stripped = markers.iter().find_map(|m| line.strip_prefix(m));
        let found = stripped.or_else(|| line.starts_with("Because ").then_some(line));
        found.map(|s| s.trim().to_string())
    };
    let found = lines.iter().enumerate().find_map(|(i, line)| {
        let why = unmarked(line)?;
        // `No solution found when resolving dependencies:` and the reason below.
        match (why.ends_with(':'), lines.get(i + 1)) {
            (true, Some(next)) => {
                let next = unmarked(next).unwrap_or_else(|| next.to_string());
                Some(format!("{why} {next}"))
            }
            _ => Some(why),
        }
    });
    let last = lines.last().map(|l| l.to_string());
    let why = found.or(last).unwrap_or_else(|| "it said nothing".into());
    match why.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &why[..at]),
        None => why.to_string(),
    }
}

/// How the programs of a venv install run: in the Nix environment, their lines
/// passed on, for a bounded time.
pub struct Setup<'a> {
    /// The environment they run in (the project's Nix environment).
    pub env: &'a BTreeMap<String, Value>,
    /// That environment's PATH, where the lock's tool is looked for.
    pub nix_path: &'a [u8],
    /// Called with each line they print.
    pub on_line: &'a OnLine,
    /// Each program is stopped after this long (`install_timeout`).
    pub timeout: std::time::Duration,
    /// The user asked for this venv (`dwell venv`): a venv they made by hand at
    /// its path is moved aside (kept). A sync nobody asked for leaves it alone.
    pub move_hand_made: bool,
    /// How many venv versions are kept, the one in use included
    /// (`venv_generations`).
    pub keep: usize,
}

/// Runs `cmd` with dwell's one runner (so a stopping daemon stops it too),
/// passing each output line on; Err(tail) when it fails or runs too long.
pub(super) fn run(cmd: Command, what: &str, setup: &Setup) -> Result<(), String> {
    let watch = Watch {
        on_line: Some(setup.on_line.clone()),
        on_stdout_line: Some(setup.on_line.clone()),
        timeout: Some(setup.timeout),
    };
    let out = crate::process::run(cmd, what, &watch).map_err(|e| match e {
        crate::process::RunError::TimedOut { .. } => {
            format!("{e}; if it needs longer, raise install_timeout in ~/.config/dwell/config.toml")
        }
        e => e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        let mut all = out.stdout;
        all.extend(out.stderr);
        let said = tail(&all);
        match said.trim().is_empty() {
            true => Err(format!("{what} failed ({}) and said nothing", out.status)),
            false => Err(said),
        }
    }
}

/// A check of a tool's own (is the venv in sync?) gives up after this: a tool
/// that hangs must not hold the prompt.
pub(super) const CHECK_WATCH: Watch = Watch {
    on_line: None,
    on_stdout_line: None,
    timeout: Some(std::time::Duration::from_secs(30)),
};

/// The first executable `name` among the Nix environment's PATH entries.
pub(super) fn find_tool(nix_path: &[u8], name: &str) -> Option<PathBuf> {
    find_on_path(nix_path, name, None)
}

/// `program` run in `root` with exactly `env`, minus what would point it at
/// another python or venv.
pub(super) fn tool_command(program: &Path, root: &Path, env: &BTreeMap<String, Value>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// Poetry, run with `venv` active (Poetry installs into the active venv).
pub(super) fn poetry_command(
    poetry: &Path,
    root: &Path,
    env: &BTreeMap<String, Value>,
    venv: &Path,
) -> Command {
    let mut path = venv.join("bin").into_os_string();
    if let Some(rest) = env.get("PATH") {
        path.push(":");
        path.push(rest.as_os_str());
    }
    let mut cmd = tool_command(poetry, root, env);
    cmd.env("VIRTUAL_ENV", venv)
        .env("PATH", path)
        .env("POETRY_VIRTUALENVS_CREATE", "false");
    cmd
}

/// What an install runs, with the tool it needs already found.
pub(super) enum Step {
    UvSync(PathBuf),
    PoetrySync(PathBuf),
    Pylock { uv: PathBuf, lock: PathBuf },
    Requirements,
    Editable,
    Nothing,
}

impl Step {
    /// The step for `wanted`; the lock's tool is looked for on the Nix
    /// environment's PATH, and its absence is the error, before anything is made.
    /// The uv this step installs with, if it installs with uv.
    pub(super) fn uv(&self) -> Option<&Path> {
        match self {
            Step::UvSync(uv) | Step::Pylock { uv, .. } => Some(uv),
            _ => None,
        }
    }

    pub(super) fn of(wanted: &Wanted, nix_path: &[u8]) -> Result<Step, VenvError> {
        let tool = |file: &'static str, tool: &'static str| {
            find_tool(nix_path, tool).ok_or(VenvError::ToolMissing { file, tool })
        };
        Ok(match wanted.installer {
            Installer::UvLock => Step::UvSync(tool("uv.lock", "uv")?),
            Installer::PoetryLock => Step::PoetrySync(tool("poetry.lock", "poetry")?),
            Installer::Pylock => {
                let uv = tool("pylock.toml", "uv")?;
                let lock = wanted.files.first().cloned().ok_or_else(|| {
                    VenvError::Io(std::io::Error::other("no pylock.toml to install"))
                })?;
                Step::Pylock { uv, lock }
            }
            Installer::Requirements => Step::Requirements,
            Installer::Editable => Step::Editable,
            Installer::Nothing => Step::Nothing,
        })
    }
}
