//! The programs an evaluation runs, found once: nix, bash, env; Nix's version
//! (part of every cache key) and the current system.

use super::*;
use crate::process::{Watch, run};
use crate::protocol::EvalEnv;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools an evaluation uses, found once.
#[derive(Clone, Debug)]
pub struct Tools {
    pub nix: PathBuf,
    pub nix_version: String,
    pub system: String,
    pub bash: PathBuf,
    pub env: PathBuf,
}

pub(super) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.is_file() && std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
        })
}

impl Tools {
    /// Finds nix, bash and env on PATH and learns nix's version. The version is
    /// remembered in `cache_dir`, keyed by the nix binary's identity, so that a
    /// fresh daemon answers its first request without starting nix.
    pub fn find(cache_dir: Option<&Path>) -> Result<Tools, EvalError> {
        let nix = which("nix").ok_or(EvalError::NixMissing)?;
        let nix_version = nix_version(&nix, cache_dir)?;
        let bash = which("bash").unwrap_or_else(|| "/bin/bash".into());
        let env = ["/usr/bin/env", "/bin/env"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| which("env"))
            .unwrap_or_else(|| "env".into());
        Ok(Tools {
            nix,
            nix_version,
            system: current_system(),
            bash,
            env,
        })
    }
}

impl Tools {
    /// `nix` as every call of dwell's runs it: the request's evaluation
    /// environment over ours, in `dir` if given, with the experimental commands
    /// it uses (`nix-command`, `flakes`) turned on.
    pub(super) fn nix_command(&self, eval_env: &EvalEnv, dir: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.nix);
        cmd.env_clear()
            .envs(child_env(eval_env))
            .args(["--extra-experimental-features", "nix-command flakes"]);
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// `nix --version`, from the cache when the binary is the one it was asked of.
pub(super) fn nix_version(nix: &Path, cache_dir: Option<&Path>) -> Result<String, EvalError> {
    let mut failed = None;
    let dir = cache_dir.map(|d| d.join("program-versions"));
    let version = crate::process::remembered(nix, dir.as_deref(), || {
        let mut cmd = Command::new(nix);
        cmd.arg("--version");
        match run(cmd, "nix", &Watch::default()) {
            Ok(out) if out.status.success() => {
                Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
            }
            Ok(out) => {
                failed = Some(Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()));
                None
            }
            Err(e) => {
                failed = Some(Err(e));
                None
            }
        }
    });
    match (version, failed) {
        (Some(version), _) => Ok(version),
        (None, Some(Ok(said))) => Ok(said),
        (None, Some(Err(e))) => Err(e.into()),
        (None, None) => Ok(String::new()),
    }
}

/// Nix's name for this platform (what `builtins.currentSystem` says by default).
pub fn current_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{}-{}", std::env::consts::ARCH, os)
}

/// The store directory Nix uses under `eval_env`.
pub fn store_dir(eval_env: &EvalEnv) -> PathBuf {
    eval_env
        .get("NIX_STORE_DIR")
        .map(|v| PathBuf::from(v.as_os_str()))
        .unwrap_or_else(|| "/nix/store".into())
}

/// Environment for child processes: ours without the evaluation variables, plus the
/// request's.
pub(super) fn child_env(eval_env: &EvalEnv) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !k.to_str().is_some_and(affects_evaluation))
        .collect();
    env.extend(
        eval_env
            .iter()
            .map(|(k, v)| (OsString::from(k), v.as_os_str().to_owned())),
    );
    env
}
