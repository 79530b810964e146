//! Another user's files: a project whose directory, entry files or venv belong
//! to someone else is never offered for allow.

use crate::project::Project;
use std::path::Path;

/// The first of the project's directory, entry files and venv that belongs to another
/// user than the one running dwell (root excepted, as git's `safe.directory`
/// does), with that user's name: a stranger's `shell.nix` in a shared directory
/// such as `/tmp` is never your project. A link counts by itself and its target.
pub fn other_owner(project: &Project) -> Option<(String, String)> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::getuid().as_raw();
    let foreign = |path: &Path| {
        [std::fs::symlink_metadata(path), std::fs::metadata(path)]
            .into_iter()
            .flatten()
            .map(|m| m.uid())
            .find(|&uid| uid != me && uid != 0)
    };
    // The venv too: its `bin` goes first on PATH.
    let venv = match project.venv_path.strip_prefix(&project.root) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => project.venv_path.to_string_lossy().into_owned(),
    };
    let names = std::iter::once(".".to_string())
        .chain(project.trusted_files())
        .chain([venv]);
    names.into_iter().find_map(|name| {
        let uid = foreign(&project.root.join(&name))?;
        let file = if name == "." {
            project.root.display().to_string()
        } else {
            name
        };
        Some((file, user_name(uid)))
    })
}

/// `alice (uid 1001)`, or `uid 1001` when `/etc/passwd` does not name it.
fn user_name(uid: u32) -> String {
    match crate::paths::user_name(uid) {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}
