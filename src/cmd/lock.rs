//! `dwell lock`: writes `dwell.lock`, the environment a team shares; `dwell
//! push`: copies that environment to the team's binary cache with `nix copy`.

use super::{dir_or_cwd, no_project, resolve};
use crate::engine::Engine;
use crate::eval::eval_env_from_process;
use crate::lock::{FILE, Lock};
use crate::paths::{Paths, tildify, write_atomic};
use crate::safe_fs::{MAX_PROJECT_FILE, read_regular};
use crate::trust::TrustStore;
use anyhow::{Context, anyhow, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(dir: Option<PathBuf>, no_daemon: bool) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    // The environment as it is now, evaluated first if it has to be.
    let resolution = resolve(&dir, no_daemon, false)?;
    let Some(info) = &resolution.project else {
        return Err(no_project(&dir, &resolution));
    };
    if !info.trust.permits() {
        bail!("{}: {}", tildify(&info.root), info.trust.refusal());
    }
    if let Some(error) = &resolution.error {
        bail!("{}: no environment to lock: {error}", tildify(&info.root));
    }
    let paths = Paths::from_env()?;
    let eval_env = eval_env_from_process();
    let engine = Engine::new(paths.clone());
    let Some((project, generation)) = engine.current_generation(&dir, &eval_env) else {
        bail!(
            "{}: no Nix environment to lock (the project has no Nix file, or a file changed just now: run `dwell lock` again)",
            tildify(&info.root)
        );
    };
    let lock = Lock::make(&project, &generation, &eval_env)?;
    let path = project.root.join(FILE);
    let before = read_regular(&path, MAX_PROJECT_FILE)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.reason()))?;
    let bytes = lock.to_bytes();
    if before.as_deref() == Some(&bytes[..]) {
        crate::say!("dwell: {} is up to date", tildify(&path));
        return Ok(ExitCode::SUCCESS);
    }
    write_atomic(&path, &bytes)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)))
        .with_context(|| format!("could not write {}", path.display()))?;
    // The user wrote it: an allowed project stays allowed.
    TrustStore::new(&paths.data)
        .accept_written(&project, FILE, before.as_deref(), &bytes)
        .with_context(|| format!("could not record {} as trusted", path.display()))?;
    crate::say!(
        "dwell: wrote {} ({} inputs, environment {}); commit it, and `dwell push` copies the environment to the team's binary cache",
        tildify(&path),
        lock.inputs.len(),
        lock.environment.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `dwell push [CACHE]`: `nix copy --to CACHE` of the locked environment.
pub fn push(cache: Option<String>, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    let Some((project, trust)) = Engine::new(Paths::from_env()?).project(&dir)? else {
        bail!("no project at {}", dir.display());
    };
    // The lock and the cache it may name are the project's: only once allowed.
    if !trust.permits() {
        bail!("{}: {}", tildify(&project.root), trust.refusal());
    }
    let lock = Lock::read(&project)
        .map_err(|e| anyhow!(e))?
        .ok_or_else(|| {
            anyhow!(
                "{} has no {FILE}: run `dwell lock` first",
                tildify(&project.root)
            )
        })?;
    let Some(cache) = cache.or_else(|| project.config.cache.clone()) else {
        bail!(
            "no binary cache to push to: name one (`dwell push file:///srv/nix-cache`) or set `cache` in .dwell.toml"
        );
    };
    let store = crate::eval::store_dir(&eval_env_from_process());
    if !crate::lock::environment_path(&lock.environment, &store) {
        bail!(
            "{FILE} names {}, which is no environment in this machine's store ({})",
            lock.environment.display(),
            store.display()
        );
    }
    if !lock.environment.exists() {
        bail!(
            "{} is not in this machine's Nix store: push from the machine that ran `dwell lock`, or run it here",
            lock.environment.display()
        );
    }
    let status = std::process::Command::new("nix")
        .args([
            "--extra-experimental-features",
            "nix-command",
            "copy",
            "--to",
        ])
        .arg(&cache)
        .arg(&lock.environment)
        .status()
        .context("could not run nix")?;
    if !status.success() {
        bail!("nix copy to {cache} failed (Nix said why above)");
    }
    crate::say!(
        "dwell: pushed {} and its closure to {cache}",
        lock.environment.display()
    );
    Ok(ExitCode::SUCCESS)
}
