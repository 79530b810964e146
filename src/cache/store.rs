//! The `Cache`: generations on disk, one file each, the last served per project
//! in memory; lookup, save and trimming to the newest few.

use super::generation::read_generation;
use super::*;
use crate::paths::{path_id, private_dir, write_atomic};
use crate::sync::locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a lookup found for a project in a context. Shared with the cache's
/// memory: a lookup at every prompt copies no generation.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The newest generation whose inputs all match the files on disk.
    pub valid: Option<Arc<Generation>>,
    /// The newest generation whose store paths still exist (the last good one
    /// to fall back to when an evaluation fails).
    pub newest: Option<Arc<Generation>>,
}

/// Generations on disk under `$XDG_CACHE_HOME/dwell/v1/`, with the last one served
/// per project kept in memory.
pub struct Cache {
    pub(super) dir: PathBuf,
    pub(super) keep: usize,
    pub(super) memory: Mutex<HashMap<(PathBuf, String), Arc<Generation>>>,
}

impl Cache {
    pub fn new(cache_dir: &Path, keep: usize) -> Cache {
        Cache {
            dir: cache_dir.join(format!("v{FORMAT}")),
            keep: keep.max(1),
            memory: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn project_dir(&self, root: &Path) -> PathBuf {
        self.dir.join(path_id(root))
    }

    pub(super) fn file(&self, generation: &Generation) -> PathBuf {
        self.project_dir(&generation.root)
            .join(format!("{}.json", generation.key))
    }

    /// Marks `generation` as used now (the file's mtime is its last use), at most
    /// once an hour, so serving from the cache costs no write.
    pub fn touch(&self, generation: &Generation) {
        let file = self.file(generation);
        let stale = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if stale && let Ok(f) = std::fs::File::options().append(true).open(&file) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }

    /// Every readable generation of `root` in `context`, newest first. Corrupt or
    /// foreign files are removed: they are never fatal.
    pub fn generations(&self, root: &Path, context: &str) -> Vec<Generation> {
        let Ok(entries) = std::fs::read_dir(self.project_dir(root)) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A file that cannot be read now (too many open files) is left alone;
            // only one that reads but is corrupt or foreign is removed.
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let parsed = serde_json::from_slice::<Generation>(&bytes)
                .ok()
                .filter(|g| g.format == FORMAT && g.root == root);
            match parsed {
                Some(g) if g.context == context => found.push(g),
                Some(_) => {}
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        found.sort_by_key(|g| std::cmp::Reverse(g.evaluated_at_ms));
        found
    }

    pub fn lookup(&self, root: &Path, context: &str) -> Lookup {
        let mem_key = (root.to_path_buf(), context.to_string());
        let remembered = locked(&self.memory).get(&mem_key).cloned();
        if let Some(generation) = remembered
            && let Some(valid) = self.checked(generation)
        {
            return Lookup {
                valid: Some(valid.clone()),
                newest: Some(valid),
            };
        }
        let mut lookup = Lookup::default();
        for generation in self.generations(root, context) {
            let generation = Arc::new(generation);
            if lookup.newest.is_none() && generation.store_paths_exist() {
                lookup.newest = Some(generation.clone());
            }
            if let Some(valid) = self.checked(generation) {
                self.remember(valid.clone());
                lookup.valid = Some(valid);
                break;
            }
        }
        lookup
    }

    /// `generation` if it is valid, with its stats refreshed (and saved) when
    /// they were out of date.
    fn checked(&self, generation: Arc<Generation>) -> Option<Arc<Generation>> {
        match validate(&generation) {
            Validity::Invalid => None,
            Validity::Valid => Some(generation),
            Validity::Refreshed(copy) => {
                let _ = self.store(&copy);
                let copy = Arc::new(*copy);
                self.remember(copy.clone());
                Some(copy)
            }
        }
    }

    /// Keeps `generation` as the one to check first for its project and context.
    fn remember(&self, generation: Arc<Generation>) {
        locked(&self.memory).insert(
            (generation.root.clone(), generation.context.clone()),
            generation,
        );
    }

    fn store(&self, generation: &Generation) -> std::io::Result<()> {
        let dir = self.project_dir(&generation.root);
        private_dir(&dir).map_err(std::io::Error::other)?;
        let bytes = crate::protocol::to_json(generation);
        write_atomic(&dir.join(format!("{}.json", generation.key)), &bytes)
    }

    /// Saves a new generation and drops the oldest beyond the number kept, with
    /// their GC roots. A generation it replaces (same key) gives up its root.
    ///
    /// Nothing is dropped before the new generation is safely on disk: when the
    /// write fails (a full disk), the old generation and its root stay.
    pub fn save(&self, generation: &Generation) -> std::io::Result<()> {
        let replaced = read_generation(&self.file(generation));
        self.store(generation)?;
        if let Some(old) = replaced
            && old.gc_root != generation.gc_root
            && let Some(root) = &old.gc_root
        {
            remove_gc_root(root);
        }
        self.remember(Arc::new(generation.clone()));
        // Saved: what follows is best effort, and never undoes the save.
        let dir = self.project_dir(&generation.root);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut all: Vec<(u64, PathBuf, Option<PathBuf>)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let g = read_generation(&path)?;
                Some((g.evaluated_at_ms, path, g.gc_root))
            })
            .collect();
        all.sort_by_key(|(at, _, _)| std::cmp::Reverse(*at));
        // The file first, then its root: a process killed in between leaves a
        // root no generation names (an orphan a prune reclaims), never a
        // generation whose root is gone.
        for (_, path, root) in all.into_iter().skip(self.keep) {
            if std::fs::remove_file(path).is_ok()
                && let Some(root) = root
            {
                remove_gc_root(&root);
            }
        }
        Ok(())
    }

    /// The directory generations are stored in (for messages).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets every in-memory copy (after a prune by another process).
    pub fn forget_all(&self) {
        locked(&self.memory).clear();
    }

    /// Forgets the in-memory copy for `root` (after its inputs changed).
    pub fn forget(&self, root: &Path) {
        locked(&self.memory).retain(|(r, _), _| r != root);
    }
}
