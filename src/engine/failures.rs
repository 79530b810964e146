//! Failure memory: an evaluation that failed is remembered with the files it had
//! read, so an unchanged broken project is not evaluated again at every prompt,
//! and fixing a file recovers on its own. A failure that is not the files' fault
//! (the cache could not be written) is tried again after a while instead.

use crate::cache::{Input, inputs_unchanged, record_inputs};
use crate::paths::now_ns;
use crate::sync::locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Clone, Debug)]
struct Failure {
    message: String,
    inputs: Vec<Input>,
    recorded_at_ns: i64,
    retry_after: Option<Instant>,
}

/// Failures by project root and evaluation context.
#[derive(Default)]
pub struct Failures {
    known: Mutex<HashMap<(PathBuf, String), Failure>>,
}

impl Failures {
    /// Remembers that `root` failed in `context` with `message`, having read
    /// `inputs`; with `retry_after`, only until then.
    pub fn remember(
        &self,
        root: &Path,
        context: &str,
        message: String,
        inputs: &crate::trace::Reads,
        retry_after: Option<Instant>,
    ) {
        let failure = Failure {
            message,
            inputs: record_inputs(inputs, i64::MAX, None),
            recorded_at_ns: now_ns(),
            retry_after,
        };
        locked(&self.known).insert((root.to_path_buf(), context.to_string()), failure);
    }

    /// The message of a remembered failure that still holds: its retry time has
    /// not come and every file it read is unchanged.
    pub fn known(&self, root: &Path, context: &str) -> Option<String> {
        let failure = locked(&self.known)
            .get(&(root.to_path_buf(), context.to_string()))
            .cloned()?;
        if failure.retry_after.is_some_and(|t| Instant::now() >= t) {
            return None;
        }
        // Checked without the lock held: it stats (and may hash) files.
        inputs_unchanged(&failure.inputs, failure.recorded_at_ns).then_some(failure.message)
    }

    /// Forgets the failure of `root` in `context` (it evaluated fine).
    pub fn clear(&self, root: &Path, context: &str) {
        locked(&self.known).remove(&(root.to_path_buf(), context.to_string()));
    }

    /// Forgets every failure of `root` (one of its files changed).
    pub fn forget(&self, root: &Path) {
        locked(&self.known).retain(|(r, _), _| r != root);
    }

    /// The last remembered failure of `root` in any context (for `dwell status`).
    pub fn any_for(&self, root: &Path) -> Option<String> {
        locked(&self.known)
            .iter()
            .find(|((r, _), _)| r == root)
            .map(|(_, f)| f.message.clone())
    }
}
