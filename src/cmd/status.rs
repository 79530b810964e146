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
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
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
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<10} {v}\n"));
    match &report.project {
        None => line("project", format!("none at {}", tildify(&report.dir))),
        Some(p) => {
            line("project", tildify(&p.root));
            line("kind", p.kind.label().to_string());
            let trust = match &p.trust {
                crate::trust::Trust::Changed { files } => {
                    format!("changed since allowed: {}", files.join(", "))
                }
                other => other.label().to_string(),
            };
            line("trust", trust);
            if let Some(venv) = &p.venv {
                line("venv", tildify(venv));
            }
        }
    }
    if let Some(cache) = report.cache {
        let label = match cache {
            CacheState::Fresh => "fresh",
            CacheState::Stale => "stale (inputs changed since the last evaluation)",
            CacheState::NeverEvaluated => "never evaluated",
            CacheState::NotNeeded => "nothing to evaluate (venv only)",
        };
        line("cache", label.to_string());
    }
    if let Some(g) = &report.generation {
        line(
            "evaluated",
            format!(
                "{} in {} ms (generation {})",
                ago(g.evaluated_at_ms),
                g.eval_ms,
                &g.key[..12]
            ),
        );
        line("inputs", format!("{} files", g.inputs.len()));
        for input in &g.inputs {
            out.push_str(&format!("{:<10}   {}\n", "", tildify(input)));
        }
    }
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<10} {v}\n"));
    if let Some(error) = &report.last_error {
        line("error", error.replace('\n', "\n           "));
    }
    match &report.daemon {
        Some(d) => line("daemon", format!("pid {} · dwell {}", d.pid, d.version)),
        None => line("daemon", "not running".into()),
    }
    out
}
