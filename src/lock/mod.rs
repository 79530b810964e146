//! `dwell.lock`: a project's environment as a team shares it. It names the
//! store path Nix built for `print-dev-env` (the `…-env` path, a JSON of the
//! devShell's variables and functions) and the content of every project file the
//! evaluation read. On another machine whose files hash the same, that path is
//! the result an evaluation would give: it is substituted from the team's binary
//! cache and used without evaluating (its shellHook still runs there, as HOME and
//! the user's settings differ).
//!
//! An evaluation that read anything outside the project and the store (a
//! `<nixpkgs>` from `NIX_PATH`, a file in `$HOME`) is not the same elsewhere, and
//! is refused by name. A flake's inputs are pinned by its `flake.lock`, which is
//! one of the files read.

use crate::cache::{FileState, Generation, record_inputs};
use crate::paths::now_ns;
use crate::project::Project;
use crate::protocol::EvalEnv;
use crate::safe_fs::{MAX_PROJECT_FILE, read_regular};
use crate::trace::{Read, Reads};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The lock's file name, in the project's root.
pub const FILE: &str = "dwell.lock";
const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// The Nix system the environment was built for.
    pub system: String,
    /// The Nix file evaluated, relative to the root.
    pub entry: String,
    /// The attribute evaluated (`.dwell.toml`'s `attr`).
    pub attr: Option<String>,
    /// What Nix built for `print-dev-env`: a store path ending in `-env`. Its
    /// references are the environment's closure.
    pub environment: PathBuf,
    /// The store paths the environment's variables name, for the reader.
    pub references: Vec<PathBuf>,
    /// Every project file the evaluation read (relative), with its content:
    /// `absent`, `file:HASH`, `tree:HASH` (a directory, whole), `listing:HASH`
    /// (a directory's entries) or `tracked:HASH` (the entries git tracks).
    pub inputs: BTreeMap<String, String>,
}

/// Why a lock cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the environment read {path}{hint}, which is outside the project and not in the Nix store, so another machine would not evaluate the same; pin it in the project (a flake input, or a file in the project)"
    )]
    Outside { path: PathBuf, hint: String },
    #[error(
        "{0} {1}, which each machine has its own of: an environment that depends on it cannot be shared"
    )]
    MachineDependent(String, &'static str),
    #[error("{0} changed while Nix read it: evaluate again (`dwell reload`), then lock")]
    Unsettled(PathBuf),
    #[error("the environment's GC root is gone ({0}); evaluate again with `dwell reload`")]
    NoEnvironment(PathBuf),
    #[error("{0}: the path is not valid UTF-8, which a lock file cannot name")]
    NotUtf8(PathBuf),
}

impl Lock {
    /// The lock for `generation` of `project`: refuses an environment that
    /// depends on anything outside the project and the store.
    pub fn make(
        project: &Project,
        generation: &Generation,
        eval_env: &EvalEnv,
    ) -> Result<Lock, LockError> {
        let store = crate::eval::store_dir(eval_env);
        let profile = generation.gc_root.clone().unwrap_or_default();
        let environment = std::fs::canonicalize(&profile)
            .ok()
            .filter(|p| environment_path(p, &store))
            .ok_or(LockError::NoEnvironment(profile))?;
        let mut inputs = BTreeMap::new();
        for input in &generation.inputs {
            if input.path.starts_with(&store) || input.path == project.root.join(FILE) {
                continue;
            }
            let inside = input.path.strip_prefix(&project.root).ok();
            // (`watch = ["../x"]` names a path outside through the root.)
            let Some(rel) =
                inside.filter(|r| r.as_os_str().is_empty() || plain_relative(&r.to_string_lossy()))
            else {
                return Err(LockError::Outside {
                    hint: nix_path_hint(&input.path, eval_env),
                    path: input.path.clone(),
                });
            };
            // (The root itself, as `.`: a flake's source listed.)
            let rel = match rel.as_os_str().is_empty() {
                true => ".".to_string(),
                false => utf8(rel)?,
            };
            let root = (input.path == project.root).then_some(project.root.as_path());
            let state =
                encode(&input.state, root).ok_or(LockError::Unsettled(input.path.clone()))?;
            inputs.insert(rel, state);
        }
        // (After the files outside: what they are says more.)
        if project.kind() != crate::protocol::Kind::Flake {
            for rel in inputs.keys() {
                if let Some(why) = machine_dependent(&project.root.join(rel)) {
                    return Err(LockError::MachineDependent(rel.clone(), why));
                }
            }
        }
        let entry = project.entry().unwrap_or(&project.root);
        Ok(Lock {
            version: VERSION,
            system: crate::eval::current_system(),
            entry: utf8(entry.strip_prefix(&project.root).unwrap_or(entry))?,
            attr: project.config.attr.clone(),
            references: generation
                .store_paths
                .iter()
                .filter(|p| **p != environment)
                .cloned()
                .collect(),
            environment,
            inputs,
        })
    }

    /// The lock as a file: pretty JSON, keys in a stable order, for review.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::protocol::to_json_pretty(self)
    }

    /// The project's lock: None when it has none.
    pub fn read(project: &Project) -> Result<Option<Lock>, String> {
        let path = project.root.join(FILE);
        match read_regular(&path, MAX_PROJECT_FILE) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{FILE} cannot be read: {e}")),
            Err(e) => Err(format!("{FILE} cannot be read: {}", e.reason())),
        }
    }

    /// Whether this lock holds for `project` as its files are now: the reads to
    /// record as the environment's inputs, or why not, in one line.
    pub fn check(&self, project: &Project, eval_env: &EvalEnv) -> Result<Reads, String> {
        if self.version != VERSION {
            return Err(format!(
                "{FILE} is version {}; this dwell reads version {VERSION}",
                self.version
            ));
        }
        let system = crate::eval::current_system();
        if self.system != system {
            return Err(format!("{FILE} is for {}, this is {system}", self.system));
        }
        let entry = project
            .entry()
            .and_then(|e| e.strip_prefix(&project.root).ok());
        if entry != Some(Path::new(&self.entry)) || self.attr != project.config.attr {
            return Err(format!(
                "{FILE} was written for another entry or attribute ({}{})",
                self.entry,
                self.attr
                    .as_deref()
                    .map(|a| format!("#{a}"))
                    .unwrap_or_default()
            ));
        }
        let store = crate::eval::store_dir(eval_env);
        if !environment_path(&self.environment, &store) {
            return Err(format!(
                "{FILE} names {}, which is no environment in this machine's store ({})",
                self.environment.display(),
                store.display()
            ));
        }
        // A lock without its entry file (a bad merge) would match any checkout.
        if !self.inputs.contains_key(&self.entry) {
            return Err(format!("{FILE} does not list {}", self.entry));
        }
        let mut reads = Reads::new();
        let mut locked = BTreeMap::new();
        for (rel, state) in &self.inputs {
            let read = read_of(state)
                .filter(|_| plain_relative(rel))
                .ok_or(format!(
                    "{FILE} has an input it cannot check: {rel} {state}"
                ))?;
            let path = match rel.as_str() {
                "." => project.root.clone(),
                _ => project.root.join(rel),
            };
            // A link in the checkout leads no read outside the project.
            if std::fs::canonicalize(&path).is_ok_and(|real| !real.starts_with(&project.root)) {
                return Err(format!(
                    "{FILE} names {rel}, which leads outside the project"
                ));
            }
            reads.insert(path.clone(), read);
            locked.insert(path, (rel, state));
        }
        for input in record_inputs(&reads, now_ns(), None) {
            let Some((rel, state)) = locked.get(&input.path) else {
                continue;
            };
            let root = (input.path == project.root).then_some(project.root.as_path());
            if encode(&input.state, root).as_ref() != Some(*state) {
                return Err(match read_of(state) {
                    Some(Read::Content) => format!("{rel} changed since {FILE} was written"),
                    _ => format!(
                        "files were added to or removed from {rel} since {FILE} was written"
                    ),
                });
            }
        }
        Ok(reads)
    }
}

/// What in the project's Nix file at `path` makes an impure evaluation (a
/// `shell.nix`'s) depend on the machine: reading an environment variable, or
/// a search path (`<nixpkgs>`) that `NIX_PATH` resolves, into the store or not.
/// (Read by its text: dwell's trace sees files, not variables or lookups. A
/// flake's evaluation is pure, and allows neither.)
fn machine_dependent(path: &Path) -> Option<&'static str> {
    if path.extension().is_none_or(|e| e != "nix") {
        return None;
    }
    let text = crate::safe_fs::read_project_text(path).ok()??;
    let code: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    if code.contains("getEnv") {
        return Some("reads the environment (builtins.getEnv)");
    }
    let search_path = code.split('<').skip(1).any(|rest| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "._+-/".contains(*c))
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with('>')
    });
    search_path.then_some("names a search path (like <nixpkgs>), which NIX_PATH resolves")
}

/// Whether `path` is a store path of `store` whose name ends in `-env` (what
/// `print-dev-env` builds, and reads back without evaluating).
pub fn environment_path(path: &Path, store: &Path) -> bool {
    path.parent() == Some(store)
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(crate::store_path::name_of)
            .is_some_and(|name| name.ends_with("-env"))
}

/// A relative path that stays inside the project: no `..`, no root; `.` is
/// the project's root.
fn plain_relative(rel: &str) -> bool {
    rel == "."
        || !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
}

fn utf8(path: &Path) -> Result<String, LockError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| LockError::NotUtf8(path.to_path_buf()))
}

/// An input's content as the lock writes it (None: it changed while read).
/// The project root's listing (`root`) leaves the lock itself out: the lock is
/// added to the project, and to git, after it was written.
fn encode(state: &FileState, root: Option<&Path>) -> Option<String> {
    let (kind, hash) = match state {
        FileState::Absent => return Some("absent".into()),
        FileState::File { hash, .. } => ("file", hash.clone()),
        FileState::Dir { hash, .. } => ("tree", hash.clone()),
        FileState::Listing { hash, index, .. } => {
            let tracked = index.is_some();
            let hash = match root {
                Some(dir) if !hash.is_empty() => {
                    crate::listing::hash_without(dir, tracked, Some(FILE)).ok()?
                }
                _ => hash.clone(),
            };
            (if tracked { "tracked" } else { "listing" }, hash)
        }
    };
    (!hash.is_empty()).then(|| format!("{kind}:{hash}"))
}

/// How an input written as `state` is read again.
fn read_of(state: &str) -> Option<Read> {
    match state.split_once(':').map_or(state, |(kind, _)| kind) {
        "absent" | "file" | "tree" => Some(Read::Content),
        "listing" => Some(Read::Listing),
        "tracked" => Some(Read::Tracked),
        _ => None,
    }
}

/// Names the `NIX_PATH` entry a path came from (` (<nixpkgs> from NIX_PATH)`).
fn nix_path_hint(path: &Path, eval_env: &EvalEnv) -> String {
    let nix_path = eval_env
        .get("NIX_PATH")
        .map(|v| v.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    nix_path
        .split(':')
        .filter_map(|entry| entry.split_once('='))
        .find(|(_, dir)| !dir.is_empty() && path.starts_with(dir))
        .map(|(name, _)| format!(" (<{name}> from NIX_PATH)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
