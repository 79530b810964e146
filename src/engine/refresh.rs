//! When a project's inputs change: what the engine remembered about it is
//! forgotten, and a project a shell used within the hour is evaluated again in
//! the background, so the next prompt finds its environment ready.

use super::Engine;
use crate::jobs::Joined;
use crate::protocol::EvalEnv;
use crate::sync::locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A project re-evaluated in the background when its inputs change, if a shell
/// asked for it within this long.
pub const RECENT: Duration = Duration::from_secs(3600);

impl Engine {
    /// One of `root`'s files changed: forget what was remembered about it (its
    /// in-memory generation, its failures), so the next request looks again.
    pub fn forget(&self, root: &Path) {
        self.cache.forget(root);
        self.failures.forget(root);
        self.venv.forget(root);
    }

    /// Something changed outside this process (a prune, a trust decision).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }

    /// Re-evaluates `root` in the background if a shell used it recently (after
    /// its inputs changed). Returns whether an evaluation was started or joined.
    pub fn refresh(self: &Arc<Self>, root: &Path) -> bool {
        let recent = locked(&self.recent).get(root).cloned();
        let Some((eval_env, at)) = recent else {
            return false;
        };
        if at.elapsed() > RECENT {
            return false;
        }
        let Ok(Some((project, trust))) = self.project(root) else {
            return false;
        };
        if !trust.permits() || !project.kind().is_nix() || project.root != root {
            return false;
        }
        let Ok(context) = self.context(&project, &eval_env) else {
            return false;
        };
        match self.ensure_job(&project, &eval_env, &context, false) {
            Joined::Running(job) => {
                job.announce();
                true
            }
            Joined::NotNeeded => false,
        }
    }
}

/// Notes that `root` was just asked for with `eval_env`. Entries older than
/// [`RECENT`] count for nothing and go once there are more than a few: the map
/// holds only the projects used within the hour.
pub(super) fn note_recent(
    recent: &mut HashMap<PathBuf, (EvalEnv, Instant)>,
    root: &Path,
    eval_env: &EvalEnv,
) {
    if recent.len() >= 64 {
        recent.retain(|_, (_, at)| at.elapsed() <= RECENT);
    }
    recent.insert(root.to_path_buf(), (eval_env.clone(), Instant::now()));
}
