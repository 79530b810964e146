//! The recorded state of an input file or directory, and whether it still holds:
//! a stat fast path, content hashes, directory trees (bounded).

use crate::paths::now_ns;
use crate::trace::{Read, Reads};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

pub(super) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

pub(super) fn ctime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
}

/// Every entry below `dir` (relative path, metadata), sorted; `.git` is left out:
/// git rewrites it at every command, and Nix reads no project file from it.
pub(super) fn walk(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::fs::Metadata)>> {
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
pub(super) fn tree_stats(dir: &Path) -> std::io::Result<(String, i64, i64)> {
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
pub(super) fn tree_hash(dir: &Path) -> std::io::Result<String> {
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

/// Nanoseconds of timestamp granularity within which a stat match is not trusted.
const RACY_NS: i64 = 1_000_000_000;

/// Whether `input` still has its recorded content. Returns the refreshed state when
/// the content matched but the stat had changed (so the next check is cheap).
pub(super) fn still_valid(input: &Input, recorded_at_ns: i64) -> (bool, Option<FileState>) {
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

pub(super) fn same_content(a: &FileState, b: &FileState) -> bool {
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
