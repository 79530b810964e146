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
