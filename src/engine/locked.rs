//! A project's `dwell.lock` used in place of an evaluation: when every file it
//! names hashes as it says, the environment it names is what an evaluation would
//! give, and it is taken from the store or the team's binary cache. Otherwise, or
//! when Nix cannot substitute it, the project is evaluated, with one line why.

use super::Engine;
use crate::eval::{EvalError, Evaluation};
use crate::lock::{FILE, Lock};
use crate::process::Watch;
use crate::project::Project;
use crate::protocol::EvalEnv;
use crate::recipe::Origin;
use std::path::Path;

impl Engine {
    /// The project's environment from its lock if the lock holds, else from an
    /// evaluation; and where it came from. `forced` (`dwell reload`) evaluates:
    /// the user asked for exactly that.
    pub(super) fn locked_or_evaluated(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        profile: &Path,
        watch: &Watch,
        forced: bool,
    ) -> (Result<Evaluation, EvalError>, Origin) {
        let hook_limit = project
            .config
            .shellhook_timeout(self.settings().shellhook_timeout);
        let lock = match forced {
            true => Ok(None),
            false => Lock::read(project),
        };
        let reason = match lock {
            Ok(None) => None,
            Err(why) => Some(why),
            Ok(Some(lock)) => match lock.check(project, eval_env) {
                Err(why) => Some(why),
                Ok(reads) => {
                    if let Some(on_line) = &watch.on_line {
                        on_line(&format!("taking the environment {FILE} names"));
                    }
                    let env = &lock.environment;
                    match self
                        .evaluator
                        .take_built(project, eval_env, env, profile, watch, hook_limit)
                    {
                        Ok(mut evaluation) => {
                            evaluation.inputs = reads;
                            return (Ok(evaluation), Origin::Lock);
                        }
                        // Nix could not give it (not in any cache, a signature
                        // not trusted): evaluate. Anything else (the shellHook
                        // failed, a timeout) is the answer an evaluation would
                        // have had too.
                        Err(EvalError::Nix { message, .. }) => Some(format!(
                            "Nix could not substitute {}: {message}",
                            env.file_name().unwrap_or_default().to_string_lossy()
                        )),
                        // A failing shellHook is remembered against the files
                        // the lock names, so that an edit of one tries again.
                        Err(EvalError::Capture { message, .. }) => {
                            let inputs = reads;
                            return (Err(EvalError::Capture { message, inputs }), Origin::Lock);
                        }
                        Err(e) => return (Err(e), Origin::Lock),
                    }
                }
            },
        };
        let result = self
            .evaluator
            .evaluate(project, eval_env, profile, watch, hook_limit);
        let origin = match reason {
            Some(reason) => Origin::LockNotUsed { reason },
            None => Origin::Evaluated,
        };
        (result, origin)
    }
}

/// What `dwell status` says of the lock, for a generation from `origin`.
pub(super) fn status_line(origin: &Origin, project: &Project) -> Option<String> {
    match origin {
        Origin::Lock => Some(format!(
            "used: the environment came from {FILE}, nothing was evaluated"
        )),
        Origin::LockNotUsed { reason } => Some(format!("not used: {reason}")),
        Origin::Evaluated => project.root.join(FILE).exists().then(|| {
            "not used: the environment in use was evaluated (by `dwell reload`, or before the lock was written)".to_string()
        }),
    }
}

/// The line a shell is told when a project with a lock was evaluated instead.
pub(super) fn not_used_note(origin: &Origin) -> Option<String> {
    match origin {
        Origin::LockNotUsed { reason } => Some(format!("{FILE} not used ({reason}); evaluated")),
        _ => None,
    }
}
