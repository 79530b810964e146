//! `dwell direnv`: dwell as direnv's Nix backend. An `.envrc` holding only
//! `eval "$(dwell direnv)"` gets the project's environment from dwell's daemon and
//! cache (the same one dwell's own hook gives), and tells direnv which files to
//! watch: the inputs the evaluation read, and a file the daemon touches when a
//! background evaluation brings a new environment. direnv applies and unloads it;
//! dwell's trust still decides whether anything is evaluated.

use super::resolve_with;
use crate::activate::{Message, plan, process_env};
use crate::cli::HookShell;
use crate::paths::Paths;
use crate::protocol::Value;
use crate::shell::quote_posix;
use crate::status_line::{color_enabled, render};
use std::io::Write;
use std::process::ExitCode;

pub fn run(no_daemon: bool) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let dir = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| anyhow::anyhow!("could not read the current directory: {e}"))?;
    // direnv runs .envrc in the environment from before it loaded anything, and
    // undoes what it applied itself: dwell's own undo state has no part here.
    let mut current = process_env();
    current.remove(crate::state::VAR);
    let resolution = resolve_with(&dir, no_daemon, false, true)?;
    let reserved = |name: &str| {
        crate::shell::is_dwell_own(name) || crate::shell::is_reserved(HookShell::Bash, name)
    };
    let plan = plan(&current, &resolution, &reserved);
    let mut code = String::new();
    let mut watched: Vec<Value> = resolution
        .env
        .iter()
        .flat_map(|e| &e.inputs)
        .map(|p| Value::from(p.as_os_str()))
        .collect();
    if let Some(project) = &resolution.project
        && let Some(marker) = project_marker(&project.root)
    {
        watched.push(Value::from(marker.as_os_str()));
    }
    if !watched.is_empty() {
        code.push_str("watch_file");
        for path in &watched {
            code.push(' ');
            code.push_str(&quote_posix(path));
        }
        code.push('\n');
    }
    let changes: Vec<_> = plan
        .changes
        .into_iter()
        .filter(|(name, _)| name != crate::state::VAR)
        .collect();
    code.push_str(&crate::shell::render_posix(&changes));
    let color = color_enabled();
    for message in &plan.messages {
        // direnv says what it loaded and unloads itself: dwell's routine lines
        // would repeat it.
        if matches!(message, Message::Unloaded(_)) {
            continue;
        }
        eprintln!(
            "{}",
            render(message, started.elapsed().as_millis() as u64, color)
        );
    }
    let mut out = std::io::stdout().lock();
    out.write_all(code.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The project's marker file in the runtime dir (made if missing), when the
/// runtime dir passes the ownership check.
fn project_marker(root: &std::path::Path) -> Option<std::path::PathBuf> {
    let paths = Paths::from_env().ok()?;
    crate::client::check_runtime(&paths).ok()?;
    let marker = paths.project_marker(root);
    crate::paths::private_dir(marker.parent()?).ok()?;
    if !marker.exists() {
        crate::paths::write_atomic(&marker, b"").ok()?;
    }
    Some(marker)
}

/// Whether the project at `root` has an `.envrc` that calls `dwell direnv`: then
/// direnv loads it, and dwell's own hook stays out of the way.
pub fn managed_by_direnv(root: &std::path::Path) -> bool {
    crate::safe_fs::read_project_text(&root.join(".envrc"))
        .ok()
        .flatten()
        .is_some_and(|text| {
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("dwell direnv"))
        })
}
