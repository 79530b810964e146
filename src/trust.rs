//! Trust: nothing in a project is evaluated or activated until the user allows it.
//! An allow records the content of the project's entry files (and keeps a copy, so
//! that a later change can be shown); when they change, the project must be allowed
//! again.

use crate::config::content_hash;
use crate::paths::{path_id, private_dir, write_atomic};
use crate::project::Project;
use crate::protocol::Trust;
use crate::safe_fs::{MAX_PROJECT_FILE, ReadError, read_regular};
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
}

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
        let record: Option<Record> = std::fs::read(self.record_path(&project.root))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|r: &Record| r.root == project.root);
        if record.as_ref().is_some_and(|r| !r.allowed) {
            return Trust::Denied;
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
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(());
        };
        let Ok(mut record) = serde_json::from_slice::<Record>(&bytes) else {
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

    /// Trusts the project's entry files as they are now. Fails when one cannot
    /// be read as a regular file: nothing unreadable is ever trusted.
    pub fn allow(&self, project: &Project) -> std::io::Result<()> {
        let mut contents = BTreeMap::new();
        for name in project.trusted_files() {
            let content = read_trusted(project, &name).map_err(std::io::Error::other)?;
            contents.insert(name, content);
        }
        self.write(project, true, contents)
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
        self.write(project, false, contents)
    }

    fn write(
        &self,
        project: &Project,
        allowed: bool,
        contents: BTreeMap<String, Option<Vec<u8>>>,
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
        let record = Record {
            root: project.root.clone(),
            allowed,
            files,
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
    pub fn diff(&self, project: &Project) -> Vec<(String, String)> {
        let copies = self.copies_dir(&project.root);
        let mut out = Vec::new();
        for name in project.trusted_files() {
            let text =
                |bytes: Option<Vec<u8>>| bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
            let old = text(std::fs::read(copies.join(copy_name(&name))).ok());
            let new = text(read_trusted(project, &name).ok().flatten());
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
    fn diff_shows_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d = line_diff(old, new);
        assert_eq!(d, "  …\n  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n");
        assert_eq!(line_diff("x\n", "x\n"), "");
    }
}
