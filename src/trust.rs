//! Trust: nothing in a project is evaluated or activated until the user allows it.
//! An allow records the content of the project's entry files (and keeps a copy, so
//! that a later change can be shown); when they change, the project must be allowed
//! again.

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
                .filter(|(name, hash)| r.files.get(*name) != Some(hash))
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
        let name = rel.to_string_lossy().into_owned();
        let path = self.record_path(&project.root);
        let Some(mut record) = self.record(&project.root) else {
            return Ok(());
        };
        if !record.allowed || record.files.get(&name) != Some(&None) {
            return Ok(());
        }
        let Ok(Some(lock)) = read_regular(&lock_path, MAX_PROJECT_FILE) else {
            return Ok(());
        };
        record
            .files
            .insert(name.clone(), Some(blake3::hash(&lock).to_hex().to_string()));
        write_atomic(
            &self.copies_dir(&project.root).join(copy_name(&name)),
            &lock,
        )?;
        write_atomic(&path, &crate::protocol::to_json_pretty(&record))
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

impl TrustStore {
    /// What changed in each entry file since the last allow: a line diff against
    /// the copy kept then (`+` added, `-` removed, a few lines of context).
    /// The venv's inputs (lock, requirements) count with them.
    pub fn diff(&self, project: &Project) -> Vec<(String, String)> {
        let copies = self.copies_dir(&project.root);
        let mut now: Vec<(String, Option<Vec<u8>>)> = project
            .trusted_files()
            .into_iter()
            .map(|name| {
                let bytes = read_trusted(project, &name).ok().flatten();
                (name, bytes)
            })
            .collect();
        if let Ok(inputs) = Inputs::of(&project.root, &project.config) {
            now.extend(inputs.files.into_iter().map(|(n, b)| (n, Some(b))));
        }
        let text = |bytes: Option<Vec<u8>>| bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut out = Vec::new();
        for (name, bytes) in now {
            let copy = read_regular(&copies.join(copy_name(&name)), MAX_LOCK_FILE);
            let old = text(copy.ok().flatten());
            let new = text(bytes);
            if old == new {
                continue;
            }
            let text = match (&old, &new) {
                (None, Some(_)) => "(new file)".to_string(),
                (Some(_), None) => "(removed)".to_string(),
                (Some(old), Some(new)) => line_diff(old, new),
                (None, None) => continue,
            };
            out.push((name, text));
        }
        out
    }
}

/// A small line diff (longest common subsequence), with two lines of context.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Entry files are small; a quadratic table is fine, but stay bounded.
    if a.len() * b.len() > 4_000_000 {
        return format!("({} lines before, {} now)", a.len(), b.len());
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as diff prints them.
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 2).min(lines.len() - 1);
        lines[lo..=hi].iter().any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (c, line)) in lines.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("  …\n");
                skipped = false;
            }
            out.push(*c);
            out.push(' ');
            out.push_str(line);
            out.push('\n');
        } else {
            skipped = true;
        }
    }
    out
}

fn under_prefix(root: &Path, prefixes: &[PathBuf]) -> bool {
    prefixes.iter().any(|p| root.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_inputs_once_allowed_stay_allowed_and_a_deny_holds_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("shell.nix"), "{}").unwrap();
        let store = TrustStore::new(&dir.path().join("data"));
        let project = || crate::project::discover(&root).unwrap().unwrap();
        let inputs = || Inputs::of(&root, &project().config).unwrap();
        let write = |text: &str| std::fs::write(root.join("requirements.txt"), text).unwrap();
        write("a==1\n");
        let one = inputs();
        assert!(!store.venv_allowed(&project(), &one, &[]), "never allowed");
        assert!(store.venv_allowed(&project(), &one, std::slice::from_ref(&root)));
        store.allow(&project(), false).unwrap();
        assert!(store.venv_allowed(&project(), &one, &[]));
        write("a==2\n");
        let two = inputs();
        assert!(
            !store.venv_allowed(&project(), &two, &[]),
            "a new lock asks"
        );
        store.allow(&project(), false).unwrap();
        assert!(store.venv_allowed(&project(), &two, &[]));
        assert!(
            store.venv_allowed(&project(), &one, &[]),
            "the old one stays"
        );
        store.deny(&project()).unwrap();
        assert!(!store.venv_allowed(&project(), &one, &[]));
        // Nothing to install runs nothing.
        std::fs::remove_file(root.join("requirements.txt")).unwrap();
        assert!(store.venv_allowed(&project(), &inputs(), &[]));
    }

    #[test]
    fn diff_shows_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d = line_diff(old, new);
        assert_eq!(d, "  …\n  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n");
        assert_eq!(line_diff("x\n", "x\n"), "");
    }
}
