//! `dwell reload [DIR]`: evaluates the project again, even if its cache is valid.

use super::{dir_or_cwd, resolve};
use crate::paths::tildify;
use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(dir: Option<PathBuf>, no_daemon: bool) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    let resolution = resolve(&dir, no_daemon, true)?;
    let Some(project) = resolution.project.clone() else {
        return Err(super::no_project(&dir, &resolution));
    };
    if !project.trust.permits() {
        bail!("{}: {}", tildify(&project.root), project.trust.refusal());
    }
    if let Some(error) = resolution.error {
        bail!("evaluation of {} failed:\n{error}", tildify(&project.root));
    }
    let ms = resolution.env.map(|e| e.eval_ms).unwrap_or(0);
    crate::say!("dwell: reloaded {} in {ms} ms", tildify(&project.root));
    Ok(ExitCode::SUCCESS)
}
