//! `dwell status [DIR] [--json]`: what dwell knows about a directory's project.

use super::dir_or_cwd;
use crate::client::request_running;
use crate::engine::Engine;
use crate::eval::eval_env_from_process;
use crate::paths::{Paths, tildify};
use crate::protocol::{CacheState, Request, Response, StatusReport};
use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(dir: Option<PathBuf>, json: bool, no_daemon: bool) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    let paths = Paths::from_env()?;
    let eval_env = eval_env_from_process();
    let from_daemon = if no_daemon {
        None
    } else {
        let request = Request::Status {
            dir: dir.clone(),
            eval_env: eval_env.clone(),
        };
        match request_running(&paths, &request) {
            Ok(Some(Response::Status(report))) => Some(report),
            Ok(Some(Response::Error { message })) => bail!("the daemon refused: {message}"),
            _ => None,
        }
    };
    let report = match from_daemon {
        Some(report) => report,
        None => Engine::new(paths).status(&dir, &eval_env),
    };
    if json {
        // JSON escapes every control byte itself.
        crate::term::show(&serde_json::to_string_pretty(&report)?);
    } else {
        // Paths, Nix's errors and diffs come from the project: nothing in them
        // may drive the terminal.
        let text = text(&report);
        crate::term::show(text.strip_suffix('\n').unwrap_or(&text));
    }
    Ok(ExitCode::SUCCESS)
}

fn ago(ms: u64) -> String {
    let secs = crate::paths::now_ms().saturating_sub(ms) / 1000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

fn text(report: &StatusReport) -> String {
    let mut out = String::new();
    project_lines(&mut out, report);
    cache_lines(&mut out, report);
    problem_lines(&mut out, report);
    out
}

/// One `key value` line of `dwell status`.
fn line(out: &mut String, k: &str, v: String) {
    out.push_str(&format!("{k:<10} {v}\n"));
}

/// The project, its kind, trust and venv.
fn project_lines(out: &mut String, report: &StatusReport) {
    match &report.project {
        None => line(
            out,
            "project",
            format!(
                "none at {}{}",
                tildify(&report.dir),
                super::allow::nix_files_hint(&report.dir)
            ),
        ),
        Some(p) => {
            line(out, "project", tildify(&p.root));
            line(out, "kind", p.kind.label().to_string());
            let trust = match &p.trust {
                crate::protocol::Trust::Changed { files } => {
                    format!("changed since allowed: {}", files.join(", "))
                }
                crate::protocol::Trust::Unreadable { file, reason } => {
                    format!("not allowed: {file} cannot be read as a regular file ({reason})")
                }
                crate::protocol::Trust::OtherOwner { file, owner } => format!(
                    "ignored: {file} belongs to {owner}, not to you (`dwell allow --other-owner` if you mean to)"
                ),
                other => other.label().to_string(),
            };
            line(out, "trust", trust);
            if let Some(venv) = &p.venv {
                line(out, "venv", tildify(venv));
            }
        }
    }
}

/// The cache, the generation served and the files it was made from.
fn cache_lines(out: &mut String, report: &StatusReport) {
    let root = report.project.as_ref().map(|p| p.root.clone());
    if let Some(cache) = report.cache {
        let label = match cache {
            CacheState::Fresh => "fresh",
            CacheState::Stale => "stale (inputs changed since the last evaluation)",
            CacheState::NeverEvaluated => "never evaluated",
            CacheState::NotNeeded => "nothing to evaluate (venv only)",
        };
        let pending = match report.evaluating {
            true => "; evaluating now, in the background",
            false => "",
        };
        line(out, "cache", format!("{label}{pending}"));
    }
    if let Some(g) = &report.generation {
        let kept = format!("{} (of {} kept)", &g.key[..12], g.generations);
        line(out, "generation", kept);
        let when = format!("{} in {} ms", ago(g.evaluated_at_ms), g.eval_ms);
        match g.from_lock {
            true => line(out, "taken", format!("from dwell.lock {when}")),
            false => line(out, "evaluated", when),
        }
        if let Some(lock) = &report.lock {
            line(out, "lock", lock.clone());
        }
        if !g.packages.is_empty() {
            line(out, "packages", g.packages.join(" "));
        }
        if let Some(gc_root) = &g.gc_root {
            line(out, "gc root", tildify(gc_root));
        }
        line(out, "inputs", format!("{} files", g.inputs.len()));
        for input in &g.inputs {
            let shown = shown_input(root.as_deref(), input);
            let absent = if input.exists() { "" } else { "  (absent)" };
            out.push_str(&format!("{:<10}   {shown}{absent}\n", ""));
        }
    }
}

/// The venv's state, what changed since the allow, what is not traced, the
/// last error, and the daemon.
fn problem_lines(out: &mut String, report: &StatusReport) {
    if report.venv_updating {
        line(
            out,
            "venv",
            "updating: a new version is being built; the current one serves until it is ready"
                .into(),
        );
    }
    if let Some(hint) = &report.venv_hint {
        line(out, "venv", hint.clone());
    }
    if let Some(problem) = &report.venv_problem {
        line(out, "venv", problem.replace('\n', "\n           "));
    }
    for (file, diff) in &report.trust_diff {
        line(out, "changed", format!("{file} since you allowed it:"));
        for l in diff.lines() {
            out.push_str(&format!("{:<10}   {l}\n", ""));
        }
    }
    if !report.hook_definitions.is_empty() {
        let names = report.hook_definitions.join(", ");
        line(
            out,
            "shellHook",
            format!(
                "defines {names}: these stay in the capture shell (exported variables cross, functions and aliases cannot)"
            ),
        );
    }
    if let Some(gaps) = &report.not_traced {
        line(out, "not traced", gaps.clone());
    }
    if let Some(error) = &report.last_error {
        line(out, "error", error.replace('\n', "\n           "));
    }
    match &report.daemon {
        Some(d) => line(
            out,
            "daemon",
            format!("pid {} · dwell {}", d.pid, d.version),
        ),
        None => line(out, "daemon", "not running".into()),
    }
}

/// An input as `dwell status` lists it: relative to the project root (the root
/// itself as `./`, never an empty line), else with `~` for HOME.
fn shown_input(root: Option<&std::path::Path>, input: &std::path::Path) -> String {
    match root.and_then(|r| input.strip_prefix(r).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => "./".to_string(),
        Some(rel) => rel.display().to_string(),
        None => tildify(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn inputs_are_listed_relative_to_the_root_which_is_dot_slash() {
        let root = Some(Path::new("/p"));
        assert_eq!(shown_input(root, Path::new("/p")), "./");
        assert_eq!(shown_input(root, Path::new("/p/nix/a.nix")), "nix/a.nix");
        assert_eq!(shown_input(root, Path::new("/elsewhere/x")), "/elsewhere/x");
    }
}
