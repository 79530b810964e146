//! The cache: generations of a project's environment, each keyed by the content of
//! every file its evaluation read. A generation is valid while every input still has
//! the recorded content, checked cheaply by stat and re-hashed only when the stat
//! changed (or is too recent to be trusted, as git does).

use crate::paths::{now_ns, path_id, private_dir, write_atomic};
use crate::protocol::Kind;
use crate::recipe::Recipe;
use crate::sync::locked;
use crate::trace::{Read, Reads};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bumped whenever the on-disk format or the meaning of a key changes.
pub const FORMAT: u32 = 3;
/// A GC root no generation names is removed by a prune once it is this old (a
/// younger one may belong to an evaluation still running).
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(300);
/// Generations kept per project, unless the user config says otherwise.
pub const KEEP: usize = 8;

/// The recorded state of one input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum FileState {
    Absent,
    File {
        hash: String,
        size: u64,
        mtime_ns: i64,
        ctime_ns: i64,
        ino: u64,
    },
    /// A directory, whole (a path copied to the store, a `readDir`): the hash
    /// of every entry's name, type and content below it (`.git` left out), and
    /// a fingerprint of their stats for the cheap check. `mtime_ns` and
    /// `ctime_ns` are the newest in the tree.
    Dir {
        hash: String,
        #[serde(default)]
        stats: String,
        mtime_ns: i64,
        ctime_ns: i64,
        ino: u64,
    },
    /// A directory's listing (a `readDir`, a directory of a flake's source
    /// opened): the hash of its entries' names and types, or with `index` (a git
    /// flake's source) of the entries git tracks. `stats` fingerprints the
    /// directory's and the index's stat for the cheap check.
    Listing {
        hash: String,
        stats: String,
        mtime_ns: i64,
        #[serde(default)]
        #[serde(with = "crate::protocol::os_path::option")]
        index: Option<PathBuf>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    #[serde(with = "crate::protocol::os_path")]
    pub path: PathBuf,
    pub state: FileState,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Generation {
    pub format: u32,
    pub key: String,
    #[serde(with = "crate::protocol::os_path")]
    pub root: PathBuf,
    /// Fingerprint of everything besides the inputs that the result depends on.
    pub context: String,
    pub kind: Kind,
    pub inputs: Vec<Input>,
    pub recipe: Recipe,
    pub evaluated_at_ms: u64,
    pub eval_ms: u64,
    /// When the inputs were stat'ed and hashed (ns since the epoch).
    pub recorded_at_ns: i64,
    /// The Nix profile holding this environment's GC root.
    #[serde(default)]
    #[serde(with = "crate::protocol::os_path::option")]
    pub gc_root: Option<PathBuf>,
    /// The store paths the environment refers to; if one vanished (garbage
    /// collected despite the root), the generation is invalid.
    #[serde(default)]
    #[serde(with = "crate::protocol::os_path::seq")]
    pub store_paths: Vec<PathBuf>,
    /// How the shellHook ran: its output, and whether it had to be stopped.
    #[serde(default)]
    pub hook: crate::eval::HookRun,
}

impl Generation {
    /// Whether every store path the environment refers to still exists.
    pub fn store_paths_exist(&self) -> bool {
        self.store_paths.iter().all(|p| p.exists())
    }
}

/// Reads a generation file; None when it is missing, truncated or foreign.
fn read_generation(path: &Path) -> Option<Generation> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

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

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

fn ctime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
}

/// Every entry below `dir` (relative path, metadata), sorted; `.git` is left out:
/// git rewrites it at every command, and Nix reads no project file from it.
fn walk(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            if entry.file_name() == ".git" {
                continue;
            }
            let path = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(dir.join(&path))?;
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push((path, meta));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The directories below `dir` (`.git` left out), at most `limit` of them.
pub fn subdirs(dir: &Path, limit: usize) -> Vec<PathBuf> {
    walk(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, meta)| meta.is_dir())
        .take(limit)
        .map(|(rel, _)| dir.join(rel))
        .collect()
}

/// The cheap fingerprint of a tree (names and stats), with its newest times.
fn tree_stats(dir: &Path) -> std::io::Result<(String, i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let mut hasher = blake3::Hasher::new();
    let (mut newest_m, mut newest_c) = (i64::MIN, i64::MIN);
    for (rel, meta) in walk(dir)? {
        hasher.update(rel.as_os_str().as_bytes());
        hasher.update(
            format!(
                "\0{}\0{}\0{}\0{}\0{}\0",
                meta.len(),
                mtime_ns(&meta),
                ctime_ns(&meta),
                meta.ino(),
                meta.mode()
            )
            .as_bytes(),
        );
        newest_m = newest_m.max(mtime_ns(&meta));
        newest_c = newest_c.max(ctime_ns(&meta));
    }
    Ok((hasher.finalize().to_hex().to_string(), newest_m, newest_c))
}

/// The content hash of a tree: names, types, file contents, link targets and the
/// executable bit, as a store copy of it would differ.
fn tree_hash(dir: &Path) -> std::io::Result<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut hasher = blake3::Hasher::new();
    for (rel, meta) in walk(dir)? {
        hasher.update(rel.as_os_str().as_bytes());
        let full = dir.join(&rel);
        if meta.is_symlink() {
            hasher.update(b"\0l\0");
            hasher.update(std::fs::read_link(&full)?.as_os_str().as_bytes());
        } else if meta.is_dir() {
            hasher.update(b"\0d\0");
        } else if !meta.is_file() {
            // A FIFO or a device: its kind, never its content (reading could
            // block or never end).
            hasher.update(b"\0s\0");
            hasher.update(crate::safe_fs::kind_of(&meta).as_bytes());
        } else {
            hasher.update(if meta.mode() & 0o111 != 0 {
                b"\0x\0"
            } else {
                b"\0f\0"
            });
            let mut file = blake3::Hasher::new();
            if let Some((f, _)) =
                crate::safe_fs::open_regular(&full).map_err(std::io::Error::other)?
            {
                file.update_reader(f)?;
            }
            hasher.update(file.finalize().as_bytes());
        }
        hasher.update(b"\0");
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Reads the current state of `path` as `read` saw it.
pub fn read_state(path: &Path, read: Read) -> std::io::Result<FileState> {
    let tracked = match read {
        Read::Content => return file_state(path),
        Read::Listing => false,
        Read::Tracked => true,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => return file_state(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Absent),
        Err(e) => return Err(e),
    };
    let index = if tracked {
        crate::listing::git_index(path)
    } else {
        None
    };
    // The stats first: a change racing with the hash then shows at the next check.
    let stats = crate::listing::stats(path, index.as_deref())?;
    Ok(FileState::Listing {
        hash: crate::listing::hash(path, index.is_some())?,
        stats,
        mtime_ns: mtime_ns(&meta),
        index,
    })
}

/// Reads the current state of `path` (hashing its content).
pub fn file_state(path: &Path) -> std::io::Result<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Absent),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        let (stats, newest_m, newest_c) = tree_stats(path)?;
        return Ok(FileState::Dir {
            hash: tree_hash(path)?,
            stats,
            mtime_ns: newest_m.max(mtime_ns(&meta)),
            ctime_ns: newest_c.max(ctime_ns(&meta)),
            ino: meta.ino(),
        });
    }
    let hash = if meta.is_file() {
        let mut hasher = blake3::Hasher::new();
        // Opened non-blocking and checked again: it may have been replaced by a
        // FIFO since the stat.
        if let Some((file, _)) =
            crate::safe_fs::open_regular(path).map_err(std::io::Error::other)?
        {
            hasher.update_reader(file)?;
        }
        hasher.finalize().to_hex().to_string()
    } else {
        // A FIFO or a device (`watch = ["/dev/zero"]`): its kind stands for its
        // content; reading it could block or never end.
        format!("special:{}", crate::safe_fs::kind_of(&meta))
    };
    Ok(FileState::File {
        hash,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
        ctime_ns: ctime_ns(&meta),
        ino: meta.ino(),
    })
}

/// Records `paths` as inputs. A file modified after `started_ns` (while the
/// evaluation ran) gets no hash, so the generation is invalid at once and the next
/// request evaluates again instead of trusting a result of unknown content.
/// `written` is a file the evaluation itself wrote (a new flake.lock), exempt.
/// A directory whose listing changed only by `written` is exempt too.
pub fn record_inputs(reads: &Reads, started_ns: i64, written: Option<&Path>) -> Vec<Input> {
    // A file stamped in the future (clock skew, an unpacked archive) did not
    // change during the evaluation: only mtimes between its start and now count.
    let now = now_ns();
    let written_in = written.and_then(Path::parent);
    reads
        .iter()
        .map(|(path, &read)| {
            let mut state = read_state(path, read).unwrap_or(FileState::Absent);
            let exempt = match state {
                FileState::Listing { .. } => written_in == Some(path.as_path()),
                _ => written == Some(path.as_path()),
            };
            if let FileState::File { hash, mtime_ns, .. }
            | FileState::Dir { hash, mtime_ns, .. }
            | FileState::Listing { hash, mtime_ns, .. } = &mut state
                && *mtime_ns >= started_ns
                && *mtime_ns <= now
                && !exempt
            {
                hash.clear();
            }
            Input {
                path: path.clone(),
                state,
            }
        })
        .collect()
}

/// The key of a generation: its context and the content of its inputs.
pub fn generation_key(context: &str, inputs: &[Input]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(context.as_bytes());
    let mut sorted: Vec<&Input> = inputs.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for input in sorted {
        use std::os::unix::ffi::OsStrExt;
        hasher.update(input.path.as_os_str().as_bytes());
        hasher.update(&[0]);
        let hash = match &input.state {
            FileState::Absent => "-",
            FileState::File { hash, .. }
            | FileState::Dir { hash, .. }
            | FileState::Listing { hash, .. } => hash,
        };
        hasher.update(hash.as_bytes());
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// Nanoseconds of timestamp granularity within which a stat match is not trusted.
const RACY_NS: i64 = 1_000_000_000;

/// Whether `input` still has its recorded content. Returns the refreshed state when
/// the content matched but the stat had changed (so the next check is cheap).
fn still_valid(input: &Input, recorded_at_ns: i64) -> (bool, Option<FileState>) {
    let meta = match std::fs::metadata(&input.path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => return (false, None),
    };
    match (&input.state, meta) {
        (FileState::Absent, None) => (true, None),
        (FileState::Absent, Some(_)) | (_, None) => (false, None),
        (
            FileState::File { hash, .. }
            | FileState::Dir { hash, .. }
            | FileState::Listing { hash, .. },
            _,
        ) if hash.is_empty() => (false, None),
        (
            FileState::Listing {
                hash,
                stats,
                mtime_ns: m,
                index,
            },
            Some(meta),
        ) => {
            if !meta.is_dir() {
                return (false, None);
            }
            let cheap = crate::listing::stats(&input.path, index.as_deref());
            if *m < recorded_at_ns - RACY_NS && cheap.as_ref().is_ok_and(|now| now == stats) {
                return (true, None);
            }
            let read = if index.is_some() {
                Read::Tracked
            } else {
                Read::Listing
            };
            match read_state(&input.path, read) {
                Ok(now) if matches!(&now, FileState::Listing { hash: h, .. } if h == hash) => {
                    (true, Some(now))
                }
                _ => (false, None),
            }
        }
        (
            FileState::File {
                size,
                mtime_ns: m,
                ctime_ns: c,
                ino,
                ..
            },
            Some(meta),
        ) if !meta.is_dir()
            && meta.len() == *size
            && mtime_ns(&meta) == *m
            && ctime_ns(&meta) == *c
            && meta.ino() == *ino
            && *m < recorded_at_ns - RACY_NS =>
        {
            (true, None)
        }
        (
            FileState::Dir {
                stats,
                mtime_ns: m,
                ino,
                ..
            },
            Some(meta),
        ) if meta.is_dir()
            && meta.ino() == *ino
            && *m < recorded_at_ns - RACY_NS
            && tree_stats(&input.path).is_ok_and(|(now, _, _)| now == *stats) =>
        {
            (true, None)
        }
        (recorded, Some(_)) => match file_state(&input.path) {
            Ok(now) if same_content(recorded, &now) => (true, Some(now)),
            _ => (false, None),
        },
    }
}

fn same_content(a: &FileState, b: &FileState) -> bool {
    match (a, b) {
        (FileState::File { hash: x, .. }, FileState::File { hash: y, .. })
        | (FileState::Dir { hash: x, .. }, FileState::Dir { hash: y, .. }) => x == y,
        _ => false,
    }
}

/// Whether every one of `inputs` still has its recorded content.
pub fn inputs_unchanged(inputs: &[Input], recorded_at_ns: i64) -> bool {
    inputs
        .iter()
        .all(|input| still_valid(input, recorded_at_ns).0)
}

/// Checks every input; refreshes recorded stats whose content proved unchanged.
/// Returns whether the generation is valid and whether it was refreshed.
pub fn validate(generation: &mut Generation) -> (bool, bool) {
    let mut refreshed = false;
    let recorded_at = generation.recorded_at_ns;
    for input in &mut generation.inputs {
        match still_valid(input, recorded_at) {
            (false, _) => return (false, false),
            (true, Some(state)) => {
                input.state = state;
                refreshed = true;
            }
            (true, None) => {}
        }
    }
    if !generation.store_paths_exist() {
        return (false, false);
    }
    if refreshed {
        generation.recorded_at_ns = now_ns();
    }
    (true, refreshed)
}

/// What a lookup found for a project in a context.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The newest generation whose inputs all match the files on disk.
    pub valid: Option<Generation>,
    /// The newest generation whose store paths still exist (the last good one
    /// to fall back to when an evaluation fails).
    pub newest: Option<Generation>,
}

/// Generations on disk under `$XDG_CACHE_HOME/dwell/v1/`, with the last one served
/// per project kept in memory.
pub struct Cache {
    dir: PathBuf,
    keep: usize,
    memory: Mutex<HashMap<(PathBuf, String), Generation>>,
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
    pub fn new(cache_dir: &Path, keep: usize) -> Cache {
        Cache {
            dir: cache_dir.join(format!("v{FORMAT}")),
            keep: keep.max(1),
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn project_dir(&self, root: &Path) -> PathBuf {
        self.dir.join(path_id(root))
    }

    fn file(&self, generation: &Generation) -> PathBuf {
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
        if let Some(mut generation) = remembered {
            let (valid, refreshed) = validate(&mut generation);
            if valid {
                if refreshed {
                    let _ = self.store(&generation);
                    self.remember(&generation);
                }
                return Lookup {
                    valid: Some(generation.clone()),
                    newest: Some(generation),
                };
            }
        }
        let mut lookup = Lookup::default();
        for mut generation in self.generations(root, context) {
            let (valid, refreshed) = validate(&mut generation);
            if lookup.newest.is_none() && generation.store_paths_exist() {
                lookup.newest = Some(generation.clone());
            }
            if valid {
                if refreshed {
                    let _ = self.store(&generation);
                }
                self.remember(&generation);
                lookup.valid = Some(generation);
                break;
            }
        }
        lookup
    }

    /// Keeps `generation` as the one to check first for its project and context.
    fn remember(&self, generation: &Generation) {
        locked(&self.memory).insert(
            (generation.root.clone(), generation.context.clone()),
            generation.clone(),
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
        self.remember(generation);
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

    /// Forgets every in-memory copy (after a prune by another process).
    pub fn forget_all(&self) {
        locked(&self.memory).clear();
    }

    /// Forgets the in-memory copy for `root` (after its inputs changed).
    pub fn forget(&self, root: &Path) {
        locked(&self.memory).retain(|(r, _), _| r != root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(root: &Path, inputs: Vec<Input>) -> Generation {
        Generation {
            format: FORMAT,
            key: generation_key("ctx", &inputs),
            root: root.to_path_buf(),
            context: "ctx".into(),
            kind: Kind::ShellNix,
            inputs,
            recipe: Recipe::default(),
            evaluated_at_ms: crate::paths::now_ms(),
            eval_ms: 1,
            recorded_at_ns: now_ns(),
            gc_root: None,
            store_paths: Vec::new(),
            hook: Default::default(),
        }
    }

    #[test]
    fn content_change_invalidates_and_restoring_it_validates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shell.nix");
        std::fs::write(&file, "a").unwrap();
        let paths: BTreeSet<PathBuf> = [file.clone(), dir.path().join("absent")].into();
        let mut g = generation(
            dir.path(),
            record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
        );
        assert!(validate(&mut g).0);
        std::fs::write(&file, "b").unwrap();
        assert!(!validate(&mut g).0);
        std::fs::write(&file, "a").unwrap();
        assert!(validate(&mut g).0, "same content again is valid");
        std::fs::write(dir.path().join("absent"), "now here").unwrap();
        assert!(!validate(&mut g).0, "a file that appeared invalidates");
    }

    #[test]
    fn file_changed_during_evaluation_is_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.nix");
        std::fs::write(&file, "a").unwrap();
        let paths: BTreeSet<PathBuf> = [file].into();
        let mut g = generation(
            dir.path(),
            record_inputs(&crate::trace::contents(paths.clone()), i64::MIN, None),
        );
        assert!(!validate(&mut g).0);
    }

    #[test]
    fn a_directory_input_covers_its_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("deep")).unwrap();
        std::fs::write(data.join("deep/x"), "one").unwrap();
        std::fs::create_dir_all(data.join(".git")).unwrap();
        let paths: BTreeSet<PathBuf> = [data.clone()].into();
        let mut g = generation(
            dir.path(),
            record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
        );
        assert!(validate(&mut g).0);
        std::fs::write(data.join(".git/index"), "git noise").unwrap();
        assert!(validate(&mut g).0, ".git is not part of it");
        std::fs::write(data.join("deep/x"), "two").unwrap();
        assert!(!validate(&mut g).0, "a nested edit invalidates");
        std::fs::write(data.join("deep/x"), "one").unwrap();
        assert!(validate(&mut g).0, "the same content again is valid");
        std::fs::write(data.join("new"), "").unwrap();
        assert!(!validate(&mut g).0, "a new file invalidates");
    }

    #[test]
    fn a_file_stamped_in_the_future_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.nix");
        std::fs::write(&file, "a").unwrap();
        let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .append(true)
            .open(&file)
            .unwrap()
            .set_modified(future)
            .unwrap();
        let paths: BTreeSet<PathBuf> = [file].into();
        let mut g = generation(
            dir.path(),
            record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
        );
        assert!(validate(&mut g).0);
    }

    #[test]
    fn corrupt_files_are_ignored_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), KEEP);
        let root = Path::new("/some/project");
        let g = generation(root, Vec::new());
        cache.save(&g).unwrap();
        let pdir = cache.project_dir(root);
        std::fs::write(pdir.join("bad.json"), "{\"format\": 1, trunc").unwrap();
        let fresh = Cache::new(dir.path(), KEEP);
        let found = fresh.lookup(root, "ctx");
        assert_eq!(found.valid.unwrap().key, g.key);
        assert!(!pdir.join("bad.json").exists());
    }
}
