//! One saved environment: what it was made from, its key, and its validation
//! against the files on disk.

use super::inputs::still_valid;
use super::*;
use crate::paths::now_ns;
use crate::protocol::Kind;
use crate::recipe::Recipe;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    pub hook: crate::recipe::HookRun,
    /// Evaluated, or taken from the project's `dwell.lock`.
    #[serde(default)]
    pub origin: crate::recipe::Origin,
}

impl Generation {
    /// Whether every store path the environment refers to still exists.
    pub fn store_paths_exist(&self) -> bool {
        self.store_paths.iter().all(|p| p.exists())
    }
}

/// Reads a generation file; None when it is missing, truncated or foreign.
pub(super) fn read_generation(path: &Path) -> Option<Generation> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
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

/// What [`validate`] found.
#[derive(Debug)]
pub enum Validity {
    /// An input changed, or a store path is gone.
    Invalid,
    Valid,
    /// Valid, and some recorded stats were out of date while the content was
    /// unchanged (a `touch`, a checkout of the same bytes): this copy has them
    /// brought up to date, worth saving so the next check is by stat again.
    Refreshed(Box<Generation>),
}

/// Checks every input of `generation`. A copy is made only when a recorded stat
/// needs refreshing: a valid generation is checked in place.
pub fn validate(generation: &Generation) -> Validity {
    let mut refreshed: Option<Generation> = None;
    let recorded_at = generation.recorded_at_ns;
    for (i, input) in generation.inputs.iter().enumerate() {
        match still_valid(input, recorded_at) {
            (false, _) => return Validity::Invalid,
            (true, Some(state)) => {
                refreshed.get_or_insert_with(|| generation.clone()).inputs[i].state = state;
            }
            (true, None) => {}
        }
    }
    if !generation.store_paths_exist() {
        return Validity::Invalid;
    }
    match refreshed {
        Some(mut copy) => {
            copy.recorded_at_ns = now_ns();
            Validity::Refreshed(Box::new(copy))
        }
        None => Validity::Valid,
    }
}
