//! `dwell venv [DIR] [--recreate] [--python PATH]`: creates or re-syncs the
//! project's venv with the Nix environment's python, showing pip's progress.

use super::{dir_or_cwd, notify_daemon, resolve};
use crate::activate::{plan, process_env};
use crate::paths::tildify;
use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(
    dir: Option<PathBuf>,
    recreate: bool,
    python: Option<PathBuf>,
    no_daemon: bool,
) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    let resolution = resolve(&dir, no_daemon, false)?;
    let Some(info) = &resolution.project else {
        return Err(super::no_project(&dir, &resolution));
    };
    // Trust is checked on the project as loaded here, whose settings are used.
    let project = crate::project::load(&info.root)?;
    let paths = crate::paths::Paths::from_env()?;
    let settings = crate::config::Settings::load(&paths.user_config())?;
    let trust_store = crate::trust::TrustStore::new(&paths.data);
    let trust = trust_store.check(&project, &settings.trusted);
    if !trust.permits() {
        bail!("{}: {}", tildify(&info.root), trust.refusal());
    }
    if resolution.env.is_none() && project.kind().is_nix() {
        let error = resolution.error.as_deref();
        bail!("{}", error.unwrap_or("no environment for this project"));
    }
    // The project's environment without its venv: where its python lives.
    let env = plan(&process_env(), &resolution, &|_| false).env;
    let ops = resolution
        .env
        .as_ref()
        .map(|e| e.ops.as_slice())
        .unwrap_or_default();
    let python = match python {
        Some(p) => p,
        None => crate::venv::python_of(ops, &project.venv_path)
            .ok_or(crate::venv::VenvError::NoPython)?,
    };
    let version = crate::venv::python_version(&python).unwrap_or_default();
    let wanted = crate::venv::Wanted::of(&project.root, &project.config, &version)?;
    if !trust_store.venv_allowed(&project, &wanted.inputs, &settings.trusted) {
        bail!(
            "{} changed since you allowed the project, and installing runs what it names; review with `dwell status`, then run `dwell allow`",
            wanted.inputs.names()
        );
    }
    let healthy = project
        .venv
        .as_ref()
        .is_some_and(|v| crate::venv::health(v, Some(&version)).is_none());
    if !recreate && healthy && wanted.installed_in(project.venv.as_deref()) {
        crate::say!("dwell: {} is up to date", tildify(&project.venv_path));
        return Ok(ExitCode::SUCCESS);
    }
    let mut env = env;
    for name in ["VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT"] {
        env.remove(name);
    }
    let show: crate::process::OnLine = std::sync::Arc::new(|line: &str| crate::say!("  {line}"));
    let setup = crate::venv::Setup {
        env: &env,
        nix_path: &crate::venv::nix_path(ops),
        on_line: &show,
        move_hand_made: true,
        timeout: settings.install_timeout,
        keep: settings.venv_generations,
    };
    // A version built before for exactly this is switched back to, not rebuilt.
    let built = crate::venv::built_for(&project.venv_path, &wanted).filter(|_| !recreate);
    let new = match built {
        Some(built) => {
            crate::venv::switch_to(&project.venv_path, &built, &setup)?;
            crate::say!("  switched back to the venv built before for these files");
            built
        }
        None => crate::venv::create(&project.root, &project.venv_path, &python, &wanted, &setup)?,
    };
    notify_daemon();
    crate::say!(
        "dwell: {} is ready ({}, {})",
        tildify(&project.venv_path),
        tildify(&new),
        made_from(&project.root, &wanted.files),
    );
    Ok(ExitCode::SUCCESS)
}

/// What a venv was made from, for its one line: the files, relative to the root.
fn made_from(root: &std::path::Path, files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect();
    match names.is_empty() {
        true => "nothing to install".to_string(),
        false => format!("from {}", names.join(", ")),
    }
}
