//! What a project asks to install into its venv (a lock, requirement files, its
//! pyproject), read once and bounded, and whether a venv already has it.

use super::*;
use crate::config::ProjectConfig;
use crate::protocol::Value;
use crate::safe_fs::{MAX_LOCK_FILE, ReadError, read_regular};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How a project's venv is installed: by the project's own lock and tool when it
/// has one, else from its requirement files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installer {
    /// `uv.lock`: `uv sync --frozen`.
    UvLock,
    /// `poetry.lock`: `poetry sync`.
    PoetryLock,
    /// `pylock.toml` (PEP 751): `uv pip install -r pylock.toml`.
    Pylock,
    /// `requirements*.txt`: pip (`--require-hashes` when they carry hashes).
    Requirements,
    /// A `pyproject.toml` without a lock: `pip install -e .` (uv when there).
    Editable,
    /// Nothing to install: the venv alone.
    Nothing,
}

/// What a project installs into its venv, and with what: `[venv] requirements`,
/// else `uv.lock`, `poetry.lock` or `pylock.toml` (with `pyproject.toml`), else
/// every `requirements*.txt` in the root, else `pyproject.toml`.
pub(super) fn installs(root: &Path, config: &ProjectConfig) -> (Installer, Vec<PathBuf>) {
    if let Some(files) = &config.venv.requirements {
        // Requirement files go to pip; a pyproject.toml named alone is installed
        // as the project (`pip install -e .`), as before locks were known.
        let mut files: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
        let txt = files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "txt"));
        return match (files.is_empty(), txt) {
            (true, _) => (Installer::Nothing, files),
            (false, true) => (Installer::Requirements, files),
            (false, false) => {
                files.extend(build_files(root));
                files.sort();
                files.dedup();
                (Installer::Editable, files)
            }
        };
    }
    let pyproject = root.join("pyproject.toml");
    for (lock, installer) in [
        ("uv.lock", Installer::UvLock),
        ("poetry.lock", Installer::PoetryLock),
        ("pylock.toml", Installer::Pylock),
    ] {
        // Present in any form: a FIFO or a directory named `uv.lock` is the
        // project's lock, and reading it says what is wrong with it.
        let lock = root.join(lock);
        if lock.symlink_metadata().is_ok() {
            let mut files = vec![lock];
            files.extend(Some(pyproject.clone()).filter(|p| p.symlink_metadata().is_ok()));
            return (installer, files);
        }
    }
    let files = requirement_files(root);
    if !files.is_empty() {
        return (Installer::Requirements, files);
    }
    if pyproject.symlink_metadata().is_ok() {
        return (Installer::Editable, build_files(root));
    }
    (Installer::Nothing, Vec::new())
}

/// The file a requirements line includes, if it does (`-r base.txt`,
/// `--requirement=base.txt`, `-c constraints.txt`); URLs are not followed.
fn included(line: &str) -> Option<&str> {
    let rest = ["--requirement", "--constraint", "-r", "-c"]
        .iter()
        .find_map(|flag| line.strip_prefix(flag))?;
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (!rest.is_empty() && !rest.contains("://")).then_some(rest)
}

/// What `pip install -e .` runs of the project's own: its `pyproject.toml`
/// and, when there, `setup.py` and `setup.cfg` (a build backend's code).
fn build_files(root: &Path) -> Vec<PathBuf> {
    ["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .map(|f| root.join(f))
        .filter(|f| f.symlink_metadata().is_ok())
        .collect()
}

/// The files whose change may change what a synced venv must hold (`[venv]
/// create = true`): each lock, `pyproject.toml` and the requirement files, present
/// or not (a lock that appears counts). Watched so that a `git pull` that brings a
/// new lock reaches the shell at its next prompt, not at its next entry.
pub fn sync_files(root: &Path, config: &ProjectConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["uv.lock", "poetry.lock", "pylock.toml", "pyproject.toml"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    files.push(root.join("requirements.txt"));
    files.extend(requirement_files(root));
    let installed = installs(root, config).1;
    // The files they include too, as far as they can be read now.
    match read_files(&installed) {
        Ok(read) => files.extend(read.into_iter().map(|(path, _)| path)),
        Err(_) => files.extend(installed),
    }
    files.sort();
    files.dedup();
    files
}

/// Every `requirements*.txt` in the root, sorted.
pub(super) fn requirement_files(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("requirements") && name.ends_with(".txt")
        })
        .collect();
    found.sort();
    found
}

/// The requirement files as read once, bounded: regular files only, so a FIFO
/// or a link to `/dev/zero` is an error, never a hung or bloated daemon. A
/// requirements `.txt` brings the files it includes (`-r`, `-c` and their long
/// forms), as pip follows them: relative to the including file, up to 64 files.
/// What pip reads is what trust keys and a change re-syncs; pip itself is
/// handed only the files named (a constraints file is no requirement).
pub(super) fn read_files(files: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, ReadError> {
    let mut read: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut queue: Vec<PathBuf> = files.to_vec();
    let mut next = 0;
    while next < queue.len() && queue.len() <= 64 {
        let file = queue[next].clone();
        next += 1;
        let bytes = read_regular(&file, MAX_LOCK_FILE)?.unwrap_or_default();
        if file.extension().is_some_and(|e| e == "txt") {
            for line in requirement_lines(&bytes) {
                if let Some(named) = included(&line) {
                    let path = file.parent().unwrap_or(Path::new("/")).join(named);
                    if !queue.contains(&path) {
                        queue.push(path);
                    }
                }
            }
        }
        read.push((file, bytes));
    }
    Ok(read)
}

/// blake3 of the requirement files' names and contents, and of the python. A
/// requirements `.txt` counts by its requirement lines (see
/// [`requirement_lines`]): a comment edited is no change to install.
pub(super) fn fingerprint(files: &[(PathBuf, Vec<u8>)], python_version: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(python_version.as_bytes());
    for (file, bytes) in files {
        hasher.update(file.as_os_str().as_bytes());
        hasher.update(&[0]);
        if file.extension().is_some_and(|e| e == "txt") {
            for line in requirement_lines(bytes) {
                hasher.update(line.as_bytes());
                hasher.update(b"\n");
            }
        } else {
            hasher.update(bytes);
        }
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// blake3 of the files' names and exact bytes: what trust allows. Nothing is
/// left out, so no byte pip reads can differ from what was allowed.
fn raw_key(files: &[(PathBuf, Vec<u8>)]) -> String {
    let mut hasher = blake3::Hasher::new();
    for (file, bytes) in files {
        hasher.update(file.as_os_str().as_bytes());
        hasher.update(&[0]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// The requirement lines of a requirements file as pip reads them: split where
/// Python's `str.splitlines` splits (not only at `\n`: a `\r` or a form feed
/// starts a line too), each without its comment (`#` at the start or after
/// whitespace) and surrounding whitespace, empty ones left out.
pub(super) fn requirement_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let newline = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    text.split(newline)
        .filter_map(|line| {
            let end = line
                .char_indices()
                .find(|&(i, c)| {
                    c == '#' && (i == 0 || line[..i].ends_with(|p: char| p.is_whitespace()))
                })
                .map_or(line.len(), |(i, _)| i);
            let line = line[..end].trim();
            (!line.is_empty()).then(|| line.to_string())
        })
        .collect()
}

pub(super) const SYNC_FILE: &str = "dwell-sync";

/// What a sync would install from, as trust sees it: the files (named relative
/// to the root) and their contents, and a key for them that leaves out the
/// python (the same lock on a new python runs nothing new).
pub struct Inputs {
    pub key: String,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Inputs {
    /// The inputs of `root`'s venv, read once and bounded.
    pub fn of(root: &Path, config: &ProjectConfig) -> Result<Inputs, ReadError> {
        let read = read_files(&installs(root, config).1)?;
        Ok(Inputs::from_read(root, read))
    }

    fn from_read(root: &Path, read: Vec<(PathBuf, Vec<u8>)>) -> Inputs {
        let key = raw_key(&read);
        let files = read
            .into_iter()
            .map(|(path, bytes)| {
                let name = path.strip_prefix(root).unwrap_or(&path);
                (name.to_string_lossy().into_owned(), bytes)
            })
            .collect();
        Inputs { key, files }
    }

    /// `uv.lock, pyproject.toml`: the files, for one line.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|(n, _)| n.as_str()).collect();
        names.join(", ")
    }
}

/// What a sync of a project's venv installs: the requirement files, and their
/// fingerprint with the python's version (recorded in the venv once installed).
pub struct Wanted {
    pub installer: Installer,
    pub files: Vec<PathBuf>,
    pub fingerprint: String,
    /// The requirement files carry `--hash=`: pip must check every one.
    pub hashed: bool,
    /// The same bytes as trust sees them: a sync runs only inputs once allowed.
    pub inputs: Inputs,
    /// The version of the python the venv is built with.
    pub python_version: String,
}

impl Wanted {
    /// What `root` asks for, from its files read once: a file that cannot be
    /// read as a regular file (a FIFO, a device, too large) is the error.
    pub fn of(
        root: &Path,
        config: &ProjectConfig,
        python_version: &str,
    ) -> Result<Wanted, VenvError> {
        let (installer, files) = installs(root, config);
        let read = read_files(&files)?;
        let hashed = installer == Installer::Requirements
            && read
                .iter()
                .any(|(_, bytes)| bytes.windows(7).any(|w| w == b"--hash="));
        Ok(Wanted {
            installer,
            fingerprint: fingerprint(&read, python_version),
            inputs: Inputs::from_read(root, read),
            python_version: python_version.to_string(),
            files,
            hashed,
        })
    }

    /// Whether `venv` already has what the lock says though dwell did not put it
    /// there (the user ran `uv add`, `poetry add` or `pip install` in the shell),
    /// asked only when the lock changed, and never by running the project's
    /// code: uv's own check (`uv sync --frozen --check` installs and builds
    /// nothing); for `poetry.lock` and exactly pinned requirements, the venv's
    /// `*.dist-info` against the file (Poetry itself would load the project's
    /// plugins). If so, the venv is marked as synced with this lock.
    pub fn synced_by_user(
        &self,
        root: &Path,
        venv: &Path,
        env: &BTreeMap<String, Value>,
        nix_path: &[u8],
    ) -> bool {
        let in_sync = match self.installer {
            Installer::UvLock => {
                let Some(uv) = find_tool(nix_path, "uv") else {
                    return false;
                };
                let mut check = tool_command(&uv, root, env);
                check
                    .args(["sync", "--frozen", "--check"])
                    .env("UV_PROJECT_ENVIRONMENT", venv)
                    .env("UV_PYTHON_DOWNLOADS", "never");
                crate::process::run(check, "uv", &CHECK_WATCH).is_ok_and(|out| out.status.success())
            }
            Installer::PoetryLock => self
                .inputs
                .files
                .iter()
                .find(|(name, _)| name == "poetry.lock")
                .is_some_and(|(_, lock)| satisfies_poetry_lock(lock, &installed(venv))),
            Installer::Requirements => {
                let lines: Vec<String> = self
                    .inputs
                    .files
                    .iter()
                    .flat_map(|(_, bytes)| requirement_lines(bytes))
                    .collect();
                satisfies_pins(lines.iter().map(String::as_str), &installed(venv))
            }
            _ => false,
        };
        in_sync && self.note_in(venv).is_ok()
    }

    /// Notes in `venv` that it holds what this asks for, beside the input
    /// states it was found to hold before (the one it was built for first): a
    /// pyproject edited before `uv lock` matches the venv by its lock, and the
    /// venv must still be found for the files it was built from when a branch
    /// is switched back. The last few are kept.
    fn note_in(&self, venv: &Path) -> std::io::Result<()> {
        let mut known = recorded_fingerprints(venv);
        if known.contains(&self.fingerprint) {
            return Ok(());
        }
        known.push(self.fingerprint.clone());
        let keep = known.len().saturating_sub(KNOWN_STATES);
        std::fs::write(venv.join(SYNC_FILE), known[keep..].join("\n") + "\n")
    }

    /// Whether `venv` (if any) has exactly this installed.
    pub fn installed_in(&self, venv: Option<&Path>) -> bool {
        venv.is_some_and(|v| recorded_fingerprints(v).contains(&self.fingerprint))
    }
}

/// Input states a venv's record keeps at most (see `Wanted::note_in`).
const KNOWN_STATES: usize = 16;

/// The fingerprints of the input states the venv holds: the one it was built
/// for, and those it was found to hold since.
pub(super) fn recorded_fingerprints(venv: &Path) -> Vec<String> {
    let Ok(Some(bytes)) = read_regular(&venv.join(SYNC_FILE), 4096) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
