//! Trust: nothing in a project is evaluated or activated until the user allows it.
//! An allow records the content of the project's entry files (and keeps a copy, so
//! that a later change can be shown); when they change, the project must be allowed
//! again. The rooms: this file (the record, the check, allow and deny),
//! [`owner`] (another user's files) and [`diff`] (what changed since the allow).

mod diff;
mod owner;
#[cfg(test)]
mod tests;

pub use owner::other_owner;

use crate::config::content_hash;
use crate::paths::{path_id, private_dir, write_atomic};
use crate::project::Project;
use crate::protocol::Trust;
use crate::safe_fs::{MAX_LOCK_FILE, MAX_PROJECT_FILE, ReadError, read_regular};
use crate::venv::Inputs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    #[serde(with = "crate::protocol::os_path")]
    root: PathBuf,
    allowed: bool,
    /// File name to blake3 of its content (None: the file did not exist).
    files: BTreeMap<String, Option<String>>,
    /// The venv inputs (lock, requirements) ever allowed, by key, newest last:
    /// contents once allowed stay allowed, so a branch switched back installs
    /// without asking, while a lock never seen waits for `dwell allow`.
    #[serde(default)]
    venv: Vec<String>,
    /// Allowed with `--other-owner`: files of another user are accepted.
    #[serde(default)]
    other_owner: bool,
}

/// How many allowed venv inputs a project's record keeps.
const VENV_INPUTS_KEPT: usize = 64;

pub struct TrustStore {
    dir: PathBuf,
}

/// An entry file that cannot be trusted because it cannot be read as a regular
/// file: its name (as in the record) and the read error.
#[derive(Debug, thiserror::Error)]
#[error("cannot trust {name}: {}", .error.reason())]
pub struct Unreadable {
    pub name: String,
    pub error: ReadError,
}

/// Reads one trusted file: its content, None if it does not exist.
fn read_trusted(project: &Project, name: &str) -> Result<Option<Vec<u8>>, Unreadable> {
    read_regular(&project.root.join(name), MAX_PROJECT_FILE).map_err(|error| Unreadable {
        name: name.to_string(),
        error,
    })
}

/// The blake3 of each trusted file (None: absent). Any file that exists but
/// cannot be read as a regular file is an error, never "unchanged".
fn fingerprints(project: &Project) -> Result<BTreeMap<String, Option<String>>, Unreadable> {
    let mut files = BTreeMap::new();
    for name in project.trusted_files() {
        // `.dwell.toml` as it was parsed: the settings in use are what is checked.
        if name == ".dwell.toml" {
            files.insert(name, project.config_hash.clone());
            continue;
        }
        let hash = read_trusted(project, &name)?.map(|b| content_hash(&b));
        files.insert(name, hash);
    }
    Ok(files)
}

/// The file name a trusted file's copy is kept under (names may hold a `/`).
fn copy_name(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

impl TrustStore {
    pub fn new(data_dir: &Path) -> TrustStore {
        TrustStore {
            dir: data_dir.join("trust"),
        }
    }

    fn record_path(&self, root: &Path) -> PathBuf {
        self.dir.join(format!("{}.json", path_id(root)))
    }

    /// The copies of the entry files taken at the last allow.
    pub fn copies_dir(&self, root: &Path) -> PathBuf {
        self.dir.join(path_id(root))
    }

    pub fn check(&self, project: &Project, trusted_prefixes: &[PathBuf]) -> Trust {
        let record = self.record(&project.root);
        if record.as_ref().is_some_and(|r| !r.allowed) {
            return Trust::Denied;
        }
        if let Some((file, owner)) = other_owner(project)
            && !record.as_ref().is_some_and(|r| r.allowed && r.other_owner)
        {
            return Trust::OtherOwner { file, owner };
        }
        let now = match fingerprints(project) {
            Ok(now) => now,
            Err(Unreadable { name, error }) => {
                return Trust::Unreadable {
                    file: name,
                    reason: error.reason(),
                };
            }
        };
        if let Some(r) = record {
            let changed: Vec<String> = now
                .iter()
                // (A file the record does not name was absent: a record from
                // before dwell trusted it.)
                .filter(|(name, hash)| r.files.get(*name).unwrap_or(&None) != *hash)
                .map(|(name, _)| name.clone())
                .collect();
            if changed.is_empty() {
                return Trust::Allowed;
            }
            if !under_prefix(&project.root, trusted_prefixes) {
                return Trust::Changed { files: changed };
            }
        }
        if under_prefix(&project.root, trusted_prefixes) {
            Trust::TrustedPrefix
        } else {
            Trust::NotAllowed
        }
    }

    /// Nix writes `flake.lock` itself on a flake's first evaluation: a lock that did
    /// not exist when the project was allowed, written by our own evaluation of the
    /// allowed `flake.nix`, is accepted into the record. A lock that appears any
    /// other way (a pull, a checkout) still asks again.
    pub fn accept_new_lock(&self, project: &Project) -> std::io::Result<()> {
        let Some(lock_path) = project.flake_lock() else {
            return Ok(());
        };
        let Ok(rel) = lock_path.strip_prefix(&project.root) else {
            return Ok(());
        };
        let Ok(Some(lock)) = read_regular(&lock_path, MAX_PROJECT_FILE) else {
            return Ok(());
        };
        self.accept_written(project, &rel.to_string_lossy(), None, &lock)
    }

    /// A trusted file written by dwell or by Nix for the user (a new `flake.lock`,
    /// `dwell lock`'s `dwell.lock`) is accepted into the record, when the record
    /// allowed the content it had before (`before`; None: absent): nothing
    /// the user did not allow is let in with it.
    pub fn accept_written(
        &self,
        project: &Project,
        name: &str,
        before: Option<&[u8]>,
        now: &[u8],
    ) -> std::io::Result<()> {
        let Some(mut record) = self.record(&project.root) else {
            return Ok(());
        };
        let before = before.map(content_hash);
        if !record.allowed || *record.files.get(name).unwrap_or(&None) != before {
            return Ok(());
        }
        record
            .files
            .insert(name.to_string(), Some(content_hash(now)));
        private_dir(&self.copies_dir(&project.root)).map_err(std::io::Error::other)?;
        write_atomic(&self.copies_dir(&project.root).join(copy_name(name)), now)?;
        write_atomic(
            &self.record_path(&project.root),
            &crate::protocol::to_json_pretty(&record),
        )
    }

    fn record(&self, root: &Path) -> Option<Record> {
        let bytes = read_regular(&self.record_path(root), MAX_LOCK_FILE).ok()??;
        serde_json::from_slice(&bytes)
            .ok()
            .filter(|r: &Record| r.root == root)
    }

    /// Whether a sync may install from `inputs`: the project is allowed and
    /// these contents were allowed once (or it is under a trusted prefix). An
    /// installer runs the lock's build backends, which are the project's code.
    pub fn venv_allowed(&self, project: &Project, inputs: &Inputs, prefixes: &[PathBuf]) -> bool {
        if inputs.files.is_empty() || under_prefix(&project.root, prefixes) {
            return true;
        }
        self.record(&project.root)
            .is_some_and(|r| r.allowed && r.venv.contains(&inputs.key))
    }

    /// Trusts the project's entry files as they are now, and its venv inputs.
    /// Fails when an entry file cannot be read as a regular file: nothing
    /// unreadable is ever trusted (venv inputs that cannot be read are left out;
    /// the sync says why).
    /// `other_owner`: the user accepted files of another user (`--other-owner`).
    pub fn allow(&self, project: &Project, other_owner: bool) -> std::io::Result<()> {
        let mut contents = BTreeMap::new();
        for name in project.trusted_files() {
            let content = read_trusted(project, &name).map_err(std::io::Error::other)?;
            contents.insert(name, content);
        }
        let venv = Inputs::of(&project.root, &project.config).ok();
        if let Some(inputs) = &venv {
            let copies = self.copies_dir(&project.root);
            private_dir(&copies).map_err(std::io::Error::other)?;
            for (name, bytes) in &inputs.files {
                write_atomic(&copies.join(copy_name(name)), bytes)?;
            }
        }
        self.write(project, true, contents, venv.map(|i| i.key), other_owner)
    }

    /// Never activates the project. Works whatever state its files are in.
    pub fn deny(&self, project: &Project) -> std::io::Result<()> {
        let contents = project
            .trusted_files()
            .into_iter()
            .map(|name| {
                let content = read_trusted(project, &name).ok().flatten();
                (name, content)
            })
            .collect();
        self.write(project, false, contents, None, false)
    }

    fn write(
        &self,
        project: &Project,
        allowed: bool,
        contents: BTreeMap<String, Option<Vec<u8>>>,
        venv_key: Option<String>,
        other_owner: bool,
    ) -> std::io::Result<()> {
        private_dir(&self.dir).map_err(std::io::Error::other)?;
        let copies = self.copies_dir(&project.root);
        private_dir(&copies).map_err(std::io::Error::other)?;
        let mut files = BTreeMap::new();
        for (name, content) in contents {
            let copy = copies.join(copy_name(&name));
            match &content {
                Some(bytes) => write_atomic(&copy, bytes)?,
                None => {
                    let _ = std::fs::remove_file(copy);
                }
            }
            let hash = content.map(|b| blake3::hash(&b).to_hex().to_string());
            files.insert(name, hash);
        }
        let mut venv = self
            .record(&project.root)
            .map(|r| r.venv)
            .unwrap_or_default();
        if let Some(key) = venv_key {
            venv.retain(|k| *k != key);
            venv.push(key);
        }
        let excess = venv.len().saturating_sub(VENV_INPUTS_KEPT);
        venv.drain(..excess);
        let record = Record {
            root: project.root.clone(),
            allowed,
            files,
            venv,
            other_owner,
        };
        write_atomic(
            &self.record_path(&project.root),
            &crate::protocol::to_json_pretty(&record),
        )
    }
}

fn under_prefix(root: &Path, prefixes: &[PathBuf]) -> bool {
    prefixes.iter().any(|p| root.starts_with(p))
}
