//! `dwell export SHELL|json`: prints the code that moves this shell to the current
//! directory's environment (the slow path of the hook), and the status line.

use crate::activate::{Message, Plan, plan, process_env};
use crate::cli::{ExportFormat, HookShell};
use crate::config::HookOutput;
use crate::status_line::{color_enabled, render};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(format: ExportFormat, prompt: bool, no_daemon: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let current = process_env();
    // A shell's prompt waits only as long as `wait` allows; an editor asking
    // for JSON gets the final environment. A directory that vanished under the
    // shell has no project: leave cleanly. One that cannot be read is said so;
    // either way the shell goes on.
    let asking = super::Asking {
        with_inputs: false,
        prompt: prompt || format != ExportFormat::Json,
    };
    let resolution = match std::env::current_dir().and_then(std::fs::canonicalize) {
        Ok(dir) => super::resolve_with(&dir, no_daemon, false, asking)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => crate::protocol::Resolution {
            error: Some(format!("cannot read the current directory: {e}")),
            ..Default::default()
        },
    };
    // A project direnv loads through `dwell direnv` is left to it: one hook per
    // project, never both. (Checked after asking: the answer comes from the same
    // cache direnv uses, and a project's .envrc is one small read, where finding
    // the project here first would cost every prompt a walk up the tree.)
    let resolution = match &resolution.project {
        Some(project) if super::direnv::managed_by_direnv(&project.root) => Default::default(),
        _ => resolution,
    };
    let shell = match format {
        ExportFormat::Bash => Some(HookShell::Bash),
        ExportFormat::Zsh => Some(HookShell::Zsh),
        ExportFormat::Fish => Some(HookShell::Fish),
        ExportFormat::Elvish => Some(HookShell::Elvish),
        ExportFormat::Xonsh => Some(HookShell::Xonsh),
        ExportFormat::Nu => Some(HookShell::Nu),
        ExportFormat::Json => None,
    };
    let reserved = |name: &str| shell.is_some_and(|s| crate::shell::is_reserved(s, name));
    let plan = plan(&current, &resolution, &reserved);
    // Checked once per answer: the hooks' fast path reads only this file.
    let genfile = shell.and_then(|_| crate::client::safe_generation_file());
    let (keep_before, keep_after) = shell
        .map(|s| crate::shell::keep_shell_variables(s, &current, &plan.changes))
        .unwrap_or_default();
    let mut code = keep_before;
    code.push_str(&match format {
        ExportFormat::Bash | ExportFormat::Zsh => crate::shell::render_posix(&plan.changes),
        ExportFormat::Fish => crate::shell::render_fish(&plan.changes),
        ExportFormat::Elvish => crate::shell::render_elvish(&plan.changes),
        ExportFormat::Xonsh => crate::shell::render_xonsh(&plan.changes),
        ExportFormat::Nu => {
            let (code, skipped) = crate::shell::render_nu(&plan.changes, genfile.as_deref());
            for name in skipped {
                crate::say!(
                    "dwell: warning: skipped variable {name:?}: its value is not UTF-8, which a Nushell string cannot hold"
                );
            }
            code
        }
        ExportFormat::Json => json(&plan),
    });
    code.push_str(&keep_after);
    if let Some(shell) = shell {
        code.push_str(&crate::shell::render_hook_state(
            shell,
            genfile.as_deref(),
            resolution.pending,
        ));
    }
    tell(&plan.messages, started.elapsed().as_millis() as u64);
    let mut out = std::io::stdout().lock();
    out.write_all(code.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the messages for the user, as the user config says: `status_line =
/// false` silences the routine lines, never warnings or errors.
fn tell(messages: &[Message], elapsed: u64) {
    let color = color_enabled();
    let settings = crate::paths::Paths::from_env()
        .ok()
        .and_then(|p| crate::config::Settings::load(&p.user_config()).ok())
        .unwrap_or_default();
    for message in messages {
        let routine = matches!(message, Message::Loaded { .. } | Message::Unloaded(_));
        if routine && !settings.status_line {
            continue;
        }
        if let Message::HookOutput { just_ran, .. } = message {
            let show = match settings.shellhook_output {
                HookOutput::Always => true,
                HookOutput::First => *just_ran,
                HookOutput::Never => false,
            };
            if !show {
                continue;
            }
        }
        crate::term::say_rendered(&format!("{}\n", render(message, elapsed, color)));
    }
}

/// The change in direnv's `export json` format: one flat object, name → new value,
/// `null` to unset; nothing at all when nothing changes. A value that is not
/// UTF-8 cannot be written there: it is skipped with a warning.
fn json(plan: &Plan) -> String {
    let mut changes = serde_json::Map::new();
    for (name, value) in &plan.changes {
        let v = match value {
            None => serde_json::Value::Null,
            Some(v) => match std::str::from_utf8(v.as_bytes()) {
                Ok(text) => serde_json::Value::String(text.to_string()),
                Err(_) => {
                    crate::say!(
                        "dwell: warning: skipped variable {name:?}: its value is not UTF-8, which JSON cannot carry"
                    );
                    continue;
                }
            },
        };
        changes.insert(name.clone(), v);
    }
    if changes.is_empty() {
        return String::new();
    }
    let mut text = String::from_utf8_lossy(&crate::protocol::to_json(&changes)).into_owned();
    text.push('\n');
    text
}
