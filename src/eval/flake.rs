//! A flake's source: where Nix copies it (`nix flake metadata`), whether it is a
//! git flake, and whether the devShell's closure holds the source itself.

use super::*;
use crate::process::{Watch, run};
use crate::protocol::EvalEnv;
use crate::safe_fs::{MAX_LOCK_FILE, read_regular};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A flake's source as Nix copied it to the store, and where it was copied from.
#[derive(Debug)]
pub(super) struct FlakeSource {
    pub(super) store: PathBuf,
    pub(super) origin: PathBuf,
    /// A git work tree: the copy holds the files git tracks.
    pub(super) git: bool,
}

/// Asks Nix where the flake in `dir` is copied to (`nix flake metadata`, which
/// also writes a missing flake.lock first, as the evaluation would), so that the
/// evaluation's reads there can be traced. None when Nix cannot say.
pub(super) fn flake_source(
    tools: &Tools,
    eval_env: &EvalEnv,
    dir: &Path,
    watch: &Watch,
) -> Option<FlakeSource> {
    let metadata = || -> Option<serde_json::Value> {
        let mut cmd = tools.nix_command(eval_env, Some(dir));
        cmd.args(["flake", "metadata", "--json"]).arg(dir);
        let out = run(cmd, "nix", watch).ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    };
    // A lock written now changes a git flake's source (Nix 2.26 names the copy
    // from before the write): asked again, Nix names the one it will evaluate.
    let lock = dir.join("flake.lock");
    let read_lock = || read_regular(&lock, MAX_LOCK_FILE).ok().flatten();
    let before = read_lock();
    let mut json = metadata()?;
    if read_lock() != before {
        json = metadata()?;
    }
    let store = PathBuf::from(json["path"].as_str()?);
    let (origin, git) = match json["locked"]["type"].as_str()? {
        // The copy is of the whole work tree; the flake may be in a subdirectory.
        "git" => (
            dir.ancestors()
                .find(|d| d.join(".git").exists())?
                .to_path_buf(),
            true,
        ),
        "path" => (dir.to_path_buf(), false),
        _ => return None,
    };
    let rel = dir.strip_prefix(&origin).ok()?;
    let copied = store.join(rel).join("flake.nix");
    (store.starts_with(store_dir(eval_env)) && copied.is_file()).then_some(FlakeSource {
        store,
        origin,
        git,
    })
}

/// Whether the environment in `profile` was built from `source` itself (`src =
/// self`, `"${self}"`): then it changes with any file of it, read or not.
pub(super) fn closure_has(
    tools: &Tools,
    eval_env: &EvalEnv,
    profile: &Path,
    source: &Path,
) -> bool {
    let nix_store = tools.nix.with_file_name("nix-store");
    let query = |args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(&nix_store);
        cmd.env_clear().envs(child_env(eval_env)).args(args);
        run(cmd, "nix-store", &Watch::default())
            .ok()
            .filter(|out| out.status.success())
            .map(|out| out.stdout)
    };
    let Some(deriver) = query(&[
        "--query".as_ref(),
        "--deriver".as_ref(),
        profile.as_os_str(),
    ]) else {
        // Unknown: assume it was (more inputs, never fewer).
        return true;
    };
    let drv = String::from_utf8_lossy(&deriver).trim().to_string();
    let Some(closure) = query(&["--query".as_ref(), "--requisites".as_ref(), drv.as_ref()]) else {
        return true;
    };
    closure
        .split(|&b| b == b'\n')
        .any(|line| line == source.as_os_str().as_bytes())
}
