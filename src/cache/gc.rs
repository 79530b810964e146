//! GC roots (the Nix profiles that keep a generation's store paths alive) and
//! pruning: unused generations, and roots no generation names.

use super::generation::read_generation;
use super::*;
use crate::sync::locked;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Removes a Nix profile made for a generation: the profile link and its
/// `NAME-N-link` generations. Nix drops the indirect roots that now dangle.
pub fn remove_gc_root(profile: &Path) {
    let _ = std::fs::remove_file(profile);
    let (Some(dir), Some(name)) = (profile.parent(), profile.file_name()) else {
        return;
    };
    let prefix = format!("{}-", name.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(rest) = file.strip_prefix(&prefix)
                && rest.ends_with("-link")
                && rest
                    .trim_end_matches("-link")
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// What a prune removed (or would remove, in a dry run).
#[derive(Debug, Default, serde::Serialize)]
pub struct Pruned {
    pub generations: usize,
    #[serde(with = "crate::protocol::os_path::seq")]
    pub projects: BTreeSet<PathBuf>,
    pub gc_roots: usize,
    pub bytes: u64,
}

impl Cache {
    /// Drops every generation not used within `older_than` (all projects), with
    /// its GC root. In a dry run, only reports.
    pub fn prune(&self, older_than: std::time::Duration, dry_run: bool) -> Pruned {
        let mut pruned = Pruned::default();
        let Ok(projects) = std::fs::read_dir(&self.dir) else {
            return pruned;
        };
        for project in projects.filter_map(|e| e.ok()) {
            let Ok(files) = std::fs::read_dir(project.path()) else {
                continue;
            };
            for file in files.filter_map(|e| e.ok()) {
                let path = file.path();
                let Ok(meta) = file.metadata() else { continue };
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > older_than);
                // A temp file left by a process killed mid-write is never read;
                // once no write could still be under way, it goes.
                if path.extension().is_some_and(|e| e == "tmp") {
                    let abandoned = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > ORPHAN_AGE);
                    if abandoned && !dry_run {
                        let _ = std::fs::remove_file(&path);
                    }
                    continue;
                }
                if !old || path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let generation = read_generation(&path);
                // Counted once it is gone (or would be, in a dry run); the file
                // before its root, so a kill in between leaves only an orphan root.
                if !dry_run && std::fs::remove_file(&path).is_err() {
                    continue;
                }
                pruned.generations += 1;
                pruned.bytes += meta.len();
                if let Some(g) = &generation {
                    pruned.projects.insert(g.root.clone());
                    if let Some(root) = &g.gc_root {
                        pruned.gc_roots += 1;
                        if !dry_run {
                            remove_gc_root(root);
                        }
                    }
                }
            }
            if !dry_run {
                // Removes the project's directory once it is empty.
                let _ = std::fs::remove_dir(project.path());
            }
        }
        locked(&self.memory).clear();
        pruned
    }

    /// Removes the GC roots in `gcroots` that no saved generation names (left by
    /// a daemon killed mid-evaluation, a corrupt generation file, a full disk),
    /// if older than `min_age`, so that a running evaluation's root is safe.
    /// Returns how many profiles were (or, in a dry run, would be) removed.
    pub fn prune_orphan_roots(
        &self,
        gcroots: &Path,
        min_age: std::time::Duration,
        dry_run: bool,
    ) -> usize {
        // Every root a generation names. A directory or file that cannot be read
        // (too many open files, a permission) could name any root: then nothing
        // is pruned this time.
        let mut named: BTreeSet<std::ffi::OsString> = BTreeSet::new();
        let readable = (|| -> std::io::Result<()> {
            let projects = match std::fs::read_dir(&self.dir) {
                Ok(projects) => projects,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            for project in projects {
                for file in std::fs::read_dir(project?.path())? {
                    let path = file?.path();
                    if path.extension().is_none_or(|e| e != "json") {
                        continue;
                    }
                    let bytes = std::fs::read(&path)?;
                    let root = serde_json::from_slice::<Generation>(&bytes)
                        .ok()
                        .and_then(|g| g.gc_root);
                    if let Some(name) = root.as_deref().and_then(Path::file_name) {
                        named.insert(name.to_owned());
                    }
                }
            }
            Ok(())
        })();
        if readable.is_err() {
            return 0;
        }
        let mut orphans = BTreeSet::new();
        for entry in std::fs::read_dir(gcroots).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let text = name.to_string_lossy();
            // A profile `P` and its generations `P-N-link`.
            let profile = match text.strip_suffix("-link").and_then(|t| t.rsplit_once('-')) {
                Some((p, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                    p.to_string()
                }
                _ => text.into_owned(),
            };
            if named.contains(std::ffi::OsStr::new(&profile)) {
                continue;
            }
            let old = std::fs::symlink_metadata(entry.path())
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age);
            if old {
                orphans.insert(profile);
            }
        }
        if !dry_run {
            for profile in &orphans {
                remove_gc_root(&gcroots.join(profile));
            }
        }
        orphans.len()
    }
}
