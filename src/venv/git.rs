//! Keeping dwell's venvs out of `git status`, whatever the project's
//! `.gitignore` says: `<venv>.d/` holds a `.gitignore` of `*` (as uv does in
//! the venvs it makes), and the `<venv>` link, which a `.venv/` pattern does
//! not match (git sees a link, not a directory), is named in the repository's
//! own `info/exclude`, which is never committed.

use crate::safe_fs::{MAX_PROJECT_FILE, read_regular};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Hides `versions` and the `venv` link from git. Best effort: a project that
/// is not in a git repository, or whose `.git` cannot be written, is left as is.
pub(super) fn hide_from_git(venv: &Path, versions: &Path) -> std::io::Result<()> {
    let ignore = versions.join(".gitignore");
    if std::fs::symlink_metadata(&ignore).is_err() {
        std::fs::write(
            &ignore,
            "# made by dwell: its venv versions are not sources\n*\n",
        )?;
    }
    let Some((top, exclude)) = exclude_file(venv) else {
        return Ok(());
    };
    let Ok(rel) = venv.strip_prefix(&top) else {
        return Ok(());
    };
    let line = format!("/{}", rel.display());
    let now = read_regular(&exclude, MAX_PROJECT_FILE)
        .ok()
        .flatten()
        .unwrap_or_default();
    if String::from_utf8_lossy(&now)
        .lines()
        .any(|l| l.trim() == line)
    {
        return Ok(());
    }
    if let Some(dir) = exclude.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&exclude)?;
    let newline = if now.is_empty() || now.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    write!(file, "{newline}# dwell's venv link\n{line}\n")
}

/// The work tree's top directory above `venv` and its `info/exclude`: `.git`
/// as a directory, or as a file (a worktree or submodule) naming its git
/// directory, whose `commondir` holds the shared `info/`.
fn exclude_file(venv: &Path) -> Option<(PathBuf, PathBuf)> {
    let top = venv
        .parent()?
        .ancestors()
        .find(|d| d.join(".git").symlink_metadata().is_ok())?;
    let dot_git = top.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        let text = read_regular(&dot_git, 4096).ok()??;
        let text = String::from_utf8(text).ok()?;
        let named = Path::new(text.strip_prefix("gitdir:")?.trim());
        let dir = top.join(named);
        match read_regular(&dir.join("commondir"), 4096).ok().flatten() {
            Some(common) => dir.join(String::from_utf8(common).ok()?.trim()),
            None => dir,
        }
    };
    Some((top.to_path_buf(), git_dir.join("info/exclude")))
}
