//! A directory's listing as an evaluation sees it: the names and types of its
//! entries. Nix's `readDir` sees the directory as it is; a git flake's source is a
//! copy of the files git tracks, so there a listing is the entries git tracks (a
//! new `__pycache__` or an untracked file is no change, a `git add` is).

use crate::process::{Watch, run};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The hash of `dir`'s listing; `tracked`: of the entries git tracks there.
pub fn hash(dir: &Path, tracked: bool) -> std::io::Result<String> {
    hash_without(dir, tracked, None)
}

/// [`hash`], with the entry `left_out` not counted (a file that describes the
/// listing itself: `dwell.lock`, committed after it was written).
pub fn hash_without(dir: &Path, tracked: bool, left_out: Option<&str>) -> std::io::Result<String> {
    let mut entries = if tracked {
        tracked_entries(dir)?
    } else {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = kind_char(&std::fs::symlink_metadata(entry.path())?);
            entries.push((entry.file_name().as_bytes().to_vec(), kind));
        }
        entries
    };
    entries.retain(|(name, _)| Some(&name[..]) != left_out.map(str::as_bytes));
    entries.sort();
    entries.dedup();
    let mut hasher = blake3::Hasher::new();
    for (name, kind) in entries {
        hasher.update(&name);
        hasher.update(&[0, kind, 0]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn kind_char(meta: &std::fs::Metadata) -> u8 {
    if meta.is_symlink() {
        b'l'
    } else if meta.is_dir() {
        b'd'
    } else if meta.is_file() {
        b'f'
    } else {
        b's'
    }
}

/// The entries of `dir` that git tracks and that exist in the work tree (as Nix
/// copies a dirty tree), by `git ls-files`.
fn tracked_entries(dir: &Path) -> std::io::Result<Vec<(Vec<u8>, u8)>> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["ls-files", "-z", "--cached"])
        // The user's shell may point git elsewhere; the work tree is `dir`'s.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    let watch = Watch {
        timeout: Some(Duration::from_secs(20)),
        ..Watch::default()
    };
    let out = run(cmd, "git", &watch).map_err(std::io::Error::other)?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "git ls-files in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut entries = Vec::new();
    for path in out.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let (name, kind) = match path.iter().position(|&b| b == b'/') {
            Some(slash) => (&path[..slash], b'd'),
            None => {
                let name = std::ffi::OsStr::from_bytes(path);
                match std::fs::symlink_metadata(dir.join(name)) {
                    Ok(meta) => (path, kind_char(&meta)),
                    // Tracked but deleted: not in the copy.
                    Err(_) => continue,
                }
            }
        };
        entries.push((name.to_vec(), kind));
    }
    Ok(entries)
}

/// The index of the git work tree `dir` is in, if any: `.git/index`, or the
/// index of the git dir a `.git` file points to (a worktree, a submodule).
pub fn git_index(dir: &Path) -> Option<PathBuf> {
    for top in dir.ancestors() {
        let dot_git = top.join(".git");
        let Ok(meta) = std::fs::symlink_metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git.join("index"));
        }
        let text = crate::safe_fs::read_regular(&dot_git, 4096).ok()??;
        let text = String::from_utf8(text).ok()?;
        let gitdir = text.trim().strip_prefix("gitdir:")?.trim();
        return Some(top.join(gitdir).join("index"));
    }
    None
}

/// A cheap fingerprint of what a listing depends on: the directory's stat and,
/// for a tracked listing, the git index's.
pub fn stats(dir: &Path, index: Option<&Path>) -> std::io::Result<String> {
    let meta = std::fs::metadata(dir)?;
    let mut text = format!(
        "{}.{} {}.{} {}",
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino()
    );
    if let Some(index) = index {
        match std::fs::metadata(index) {
            Ok(m) => {
                text += &format!(
                    " {} {}.{} {}.{} {}",
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.ino()
                )
            }
            Err(_) => text += " -",
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .map(|o| o.status.success());
        assert!(matches!(ok, Ok(true)), "git {args:?}");
    }

    #[test]
    fn a_tracked_listing_changes_with_git_add_only() {
        if Command::new("git").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "git is needed in CI");
            eprintln!("SKIPPED a_tracked_listing_changes_with_git_add_only: no git");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q"]);
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/app.py"), "x").unwrap();
        std::fs::write(root.join("flake.nix"), "{}").unwrap();
        git(root, &["add", "-A"]);
        let tracked = hash(root, true).unwrap();
        let plain = hash(root, false).unwrap();
        std::fs::create_dir(root.join("__pycache__")).unwrap();
        std::fs::write(root.join("notes.txt"), "untracked").unwrap();
        assert_eq!(hash(root, true).unwrap(), tracked, "untracked files");
        assert_ne!(
            hash(root, false).unwrap(),
            plain,
            "a plain listing sees them"
        );
        git(root, &["add", "notes.txt"]);
        assert_ne!(hash(root, true).unwrap(), tracked, "git add");
        assert_eq!(git_index(&root.join("src")), Some(root.join(".git/index")));
    }
}
