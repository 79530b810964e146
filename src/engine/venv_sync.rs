//! `[venv] create = true`: the venv is created, or re-installed into a new
//! version, when the requirements (or the python) changed — as a job of its own,
//! waited for with progress, its failure a note that leaves the previous venv
//! working.

use super::{Engine, Event, JobKey, Mode, Progress};
use crate::cache::Generation;
use crate::jobs::Joined;
use crate::project::Project;
use crate::sync::locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failed sync: the fingerprint it failed for, its one line, and everything
/// the tool said.
struct Failure {
    fingerprint: String,
    line: String,
    detail: String,
}

/// Venv syncs that failed, by project, with the fingerprint they failed for;
/// and those held until `dwell allow`, with the line that says why.
#[derive(Default)]
pub struct VenvSync {
    failures: Mutex<HashMap<PathBuf, Failure>>,
    held: Mutex<HashMap<PathBuf, String>>,
}

impl VenvSync {
    /// The message of the failed sync of `root` for `fingerprint`, if any.
    fn failed(&self, root: &Path, fingerprint: &str) -> Option<String> {
        locked(&self.failures)
            .get(root)
            .filter(|f| f.fingerprint == fingerprint)
            .map(|f| f.line.clone())
    }

    pub fn forget(&self, root: &Path) {
        locked(&self.failures).remove(root);
    }

    /// Why `root`'s venv sync waits for `dwell allow`, if it does.
    pub fn held(&self, root: &Path) -> Option<String> {
        locked(&self.held).get(root).cloned()
    }

    /// The last failed sync of `root`, if the last one failed.
    pub fn any_failure(&self, root: &Path) -> Option<String> {
        locked(&self.failures).get(root).map(|f| f.line.clone())
    }

    /// The last failed sync of `root` with all the tool said (`dwell status`).
    pub fn failure_detail(&self, root: &Path) -> Option<String> {
        locked(&self.failures).get(root).map(|f| f.detail.clone())
    }
}

impl Engine {
    /// With `[venv] create = true`: creates the venv, or re-installs into a new one
    /// when the requirements (or the python) changed, waiting with progress. A
    /// failure is a note; the previous venv stays. Returns the project as it is now,
    /// and whether a sync ran (or was waited for) and succeeded.
    pub(super) fn sync_venv(
        self: &Arc<Self>,
        project: &Project,
        generation: &Generation,
        mode: Mode,
        progress: Progress,
        notes: &mut Vec<String>,
    ) -> (Project, bool) {
        if project.config.venv.create != Some(true) || project.config.venv.enable == Some(false) {
            return (project.clone(), false);
        }
        let Some(python) = crate::venv::python_of(&generation.recipe.ops, &project.venv_path)
        else {
            notes.push(crate::venv::VenvError::NoPython.to_string());
            return (project.clone(), false);
        };
        let version = self.layers.python_version(&python).unwrap_or_default();
        let wanted = match crate::venv::Wanted::of(&project.root, &project.config, &version) {
            Ok(wanted) => wanted,
            Err(e) => {
                notes.push(e.to_string());
                return (project.clone(), false);
            }
        };
        locked(&self.venv.held).remove(&project.root);
        if wanted.installed_in(project.venv.as_deref()) {
            return (project.clone(), false);
        }
        let fingerprint = wanted.fingerprint.clone();
        if let Some(message) = self.venv.failed(&project.root, &fingerprint) {
            notes.push(message);
            return (project.clone(), false);
        }
        let nix_path = crate::venv::nix_path(&generation.recipe.ops);
        let mut env: crate::recipe::Env = crate::activate::process_env();
        for op in &generation.recipe.ops {
            crate::recipe::apply_op(&mut env, op);
        }
        // The user synced it themselves (`uv add` in the shell): nothing to build.
        if let Some(venv) = &project.venv
            && crate::venv::health(venv, Some(&version)).is_none()
            && wanted.synced_by_user(&project.root, venv, &env, &nix_path)
        {
            return (project.clone(), false);
        }
        // Installing runs the lock's build backends: the project's code. Inputs
        // never allowed wait for `dwell allow`; the venv as it is keeps serving.
        let prefixes = self.settings().trusted;
        if !self.trust.venv_allowed(project, &wanted.inputs, &prefixes) {
            let line = format!(
                "{} changed since you allowed the project; the venv stays as it is until you review (`dwell status`) and run `dwell allow`",
                wanted.inputs.names()
            );
            locked(&self.venv.held).insert(project.root.clone(), line.clone());
            notes.push(line);
            return (project.clone(), false);
        }
        let engine = self.clone();
        let p = project.clone();
        let key = JobKey::VenvSync {
            root: project.root.clone(),
        };
        let joined = self.jobs.join_or_start(
            &key,
            || true,
            move |job| {
                let progress_of = job.clone();
                let on_line: crate::process::OnLine = Arc::new(move |line: &str| {
                    if !line.trim().is_empty() {
                        progress_of.set_progress(format!("venv: {}", line.trim()));
                    }
                });
                engine.events.emit(Event::VenvSyncing {
                    root: p.root.clone(),
                });
                let setup = crate::venv::Setup {
                    env: &env,
                    nix_path: &nix_path,
                    on_line: &on_line,
                    timeout: engine.settings().install_timeout,
                    move_hand_made: false,
                };
                let result = crate::venv::create(&p.root, &p.venv_path, &python, &wanted, &setup);
                match result {
                    Ok(_) => engine.venv.forget(&p.root),
                    Err(e) => {
                        engine.events.emit(Event::VenvFailed {
                            root: p.root.clone(),
                            error: e.detail(),
                        });
                        let failure = Failure {
                            fingerprint,
                            line: e.to_string(),
                            detail: e.detail(),
                        };
                        locked(&engine.venv.failures).insert(p.root.clone(), failure);
                    }
                }
            },
        );
        if let Joined::Running(job) = joined {
            // Without waiting (async mode, after Ctrl-C): the current venv now, the
            // synced one at a later prompt.
            if mode == Mode::NoWait {
                job.announce();
                notes.push("syncing the venv in the background".into());
                return (project.clone(), false);
            }
            while !job.wait(Duration::from_millis(100)) {
                if !progress(&job.progress(), job.started.elapsed()) {
                    job.announce();
                    break;
                }
            }
        }
        // A failure changed nothing: the venv as it was, and one line.
        if let Some(message) = self.venv.any_failure(&project.root) {
            notes.push(message);
            return (project.clone(), false);
        }
        // Only the venv is looked at again: the settings stay those trust checked.
        let mut now = project.clone();
        now.look_for_venv();
        (now, true)
    }
}
