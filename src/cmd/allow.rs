//! `dwell allow` / `dwell deny`: records the user's trust decision for a project.

use super::{dir_or_cwd, notify_daemon};
use crate::paths::{Paths, tildify};
use crate::project::discover;
use crate::trust::TrustStore;
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(dir: Option<PathBuf>, allow: bool) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    let trust = TrustStore::new(&Paths::from_env()?.data);
    let Some(project) = discover(&dir)? else {
        bail!(
            "no project at {}: no flake.nix, shell.nix, default.nix, .dwell.toml or .venv here or above",
            dir.display()
        );
    };
    let verb = if allow { "allowed" } else { "denied" };
    if allow {
        trust.allow(&project)
    } else {
        trust.deny(&project)
    }
    .with_context(|| {
        format!(
            "could not record the decision for {}",
            project.root.display()
        )
    })?;
    notify_daemon();
    eprintln!(
        "dwell: {verb} {} ({})",
        tildify(&project.root),
        project.kind().label()
    );
    Ok(ExitCode::SUCCESS)
}
