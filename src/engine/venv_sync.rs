//! `[venv] create = true`: the venv is created, or re-installed into a new
//! version, when the requirements (or the python) changed — as a job of its own.
//! A project with a working venv never waits for it: the current venv serves
//! until the new one is swapped in, and every shell in the project hears of it at
//! its next prompt. A version built before for the same inputs is switched back
//! to with no process. A failure is one line that leaves the venv as it was.

use super::{Engine, Event, JobKey, Mode, Progress};
use crate::cache::Generation;
use crate::jobs::Joined;
use crate::project::Project;
use crate::sync::locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A failed sync: the fingerprint it failed for, its one line, and everything
/// the tool said.
struct Failure {
    fingerprint: String,
    line: String,
    detail: String,
}

/// Venv syncs that failed, by project, with the fingerprint they failed for;
/// those held until `dwell allow`, with the line that says why; and the last
/// one that ended in the background, with its line, until a while has passed.
#[derive(Default)]
pub struct VenvSync {
    failures: Mutex<HashMap<PathBuf, Failure>>,
    held: Mutex<HashMap<PathBuf, String>>,
    updated: Mutex<HashMap<PathBuf, (PathBuf, String, Instant)>>,
}

/// How long a venv updated in the background is announced to shells that load
/// the project: long enough for every shell sitting in it to see it once.
const UPDATED_TOLD_FOR: Duration = Duration::from_secs(600);

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

    /// The line announcing `venv`'s current version, if it was swapped in by a
    /// sync that ended in the background a short while ago.
    pub fn updated(&self, venv: &Path, root: &Path) -> Option<String> {
        let target = std::fs::read_link(venv).ok()?;
        let updated = locked(&self.updated);
        let (version, line, at) = updated.get(root)?;
        (target.file_name() == version.file_name() && at.elapsed() < UPDATED_TOLD_FOR)
            .then(|| line.clone())
    }

    /// The last failed sync of `root` with all the tool said (`dwell status`).
    pub fn failure_detail(&self, root: &Path) -> Option<String> {
        locked(&self.failures).get(root).map(|f| f.detail.clone())
    }
}

impl Engine {
    /// With `[venv] create = true`: brings the venv in line with the project's
    /// lock or requirements (and python). Returns the project as it is now, and
    /// whether a sync ran (or was waited for) and succeeded.
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
        // A version swapped in by a sync nobody waited for: said to the shells.
        if let Some(venv) = &project.venv
            && let Some(line) = self.venv.updated(venv, &project.root)
        {
            notes.push(line);
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
        if let Some(message) = self.venv.failed(&project.root, &wanted.fingerprint) {
            notes.push(message);
            return (project.clone(), false);
        }
        let setting_up = SyncSetup::of(generation);
        if let Some(now) = self.switch_back(project, &wanted, &setting_up, notes) {
            return (now, true);
        }
        // A working venv: what it can do without building.
        let working = project
            .venv
            .as_ref()
            .filter(|v| crate::venv::health(v, Some(&version)).is_none());
        // The user synced it themselves (`uv add` in the shell): nothing to build.
        if let Some(venv) = working
            && wanted.synced_by_user(&project.root, venv, &setting_up.env, &setting_up.nix_path)
        {
            return (project.clone(), false);
        }
        if let Some(line) = self.held(project, &wanted) {
            notes.push(line);
            return (project.clone(), false);
        }
        let files = wanted.inputs.names();
        let job = self.start_sync(project, python, wanted, setting_up);
        if let Joined::Running(job) = job {
            // With a working venv nobody waits: it serves until the new one is
            // ready, and the shells hear of it then. Without one, the prompt
            // waits (Ctrl-C, or async mode, stops waiting).
            if working.is_some() || mode == Mode::NoWait {
                job.announce();
                notes.push(in_background(&files, working.is_some()));
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

    /// The version built before for exactly `wanted` (a branch switched back),
    /// swapped in: one rename, no process; what was installed then runs nothing
    /// new. The project as it is now, or None (a failure is noted).
    fn switch_back(
        &self,
        project: &Project,
        wanted: &crate::venv::Wanted,
        setting_up: &SyncSetup,
        notes: &mut Vec<String>,
    ) -> Option<Project> {
        let built = crate::venv::built_for(&project.venv_path, wanted)?;
        let on_line: crate::process::OnLine = Arc::new(|_: &str| {});
        let setup = setting_up.setup(&on_line, &self.settings());
        match crate::venv::switch_to(&project.venv_path, &built, &setup) {
            Ok(()) => {
                self.venv.forget(&project.root);
                let mut now = project.clone();
                now.look_for_venv();
                Some(now)
            }
            Err(e) => {
                notes.push(e.to_string());
                None
            }
        }
    }

    /// Installing runs the lock's build backends: the project's code. Inputs
    /// never allowed wait for `dwell allow`, and the venv as it is keeps
    /// serving: the line that says so (kept for `dwell status`), or None.
    fn held(&self, project: &Project, wanted: &crate::venv::Wanted) -> Option<String> {
        let prefixes = self.settings().trusted;
        if self.trust.venv_allowed(project, &wanted.inputs, &prefixes) {
            return None;
        }
        let line = format!(
            "{} changed since you allowed the project; the venv stays as it is until you review (`dwell status`) and run `dwell allow`",
            wanted.inputs.names()
        );
        locked(&self.venv.held).insert(project.root.clone(), line.clone());
        Some(line)
    }

    /// Starts (or joins) the job that builds a new venv version for `wanted`
    /// and swaps it in; its end is announced to the shells when nobody waited.
    fn start_sync(
        self: &Arc<Self>,
        project: &Project,
        python: PathBuf,
        wanted: crate::venv::Wanted,
        setting_up: SyncSetup,
    ) -> Joined {
        let engine = self.clone();
        let p = project.clone();
        let key = JobKey::VenvSync {
            root: project.root.clone(),
        };
        self.jobs.join_or_start(
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
                let setup = setting_up.setup(&on_line, &engine.settings());
                let started = Instant::now();
                match crate::venv::create(&p.root, &p.venv_path, &python, &wanted, &setup) {
                    Ok(version) => {
                        engine.venv.forget(&p.root);
                        if job.is_announced() {
                            let line = format!(
                                "the venv was updated for {} (in {:.1} s)",
                                wanted.inputs.names(),
                                started.elapsed().as_secs_f64()
                            );
                            locked(&engine.venv.updated)
                                .insert(p.root.clone(), (version, line, Instant::now()));
                        }
                    }
                    Err(e) => {
                        engine.events.emit(Event::VenvFailed {
                            root: p.root.clone(),
                            error: e.detail(),
                        });
                        let failure = Failure {
                            fingerprint: wanted.fingerprint.clone(),
                            line: e.to_string(),
                            detail: e.detail(),
                        };
                        locked(&engine.venv.failures).insert(p.root.clone(), failure);
                    }
                }
                engine.announce_end(job, &p.root);
            },
        )
    }
}

/// What an install runs in: the project's Nix environment and its PATH.
struct SyncSetup {
    env: crate::recipe::Env,
    nix_path: Vec<u8>,
}

impl SyncSetup {
    fn of(generation: &Generation) -> SyncSetup {
        let mut env: crate::recipe::Env = crate::activate::process_env();
        for op in &generation.recipe.ops {
            crate::recipe::apply_op(&mut env, op);
        }
        SyncSetup {
            env,
            nix_path: crate::venv::nix_path(&generation.recipe.ops),
        }
    }

    fn setup<'a>(
        &'a self,
        on_line: &'a crate::process::OnLine,
        settings: &crate::config::Settings,
    ) -> crate::venv::Setup<'a> {
        crate::venv::Setup {
            env: &self.env,
            nix_path: &self.nix_path,
            on_line,
            timeout: settings.install_timeout,
            move_hand_made: false,
            keep: settings.venv_generations,
        }
    }
}

/// The line for a sync nobody waits for.
fn in_background(files: &str, working: bool) -> String {
    match working {
        true => format!(
            "updating the venv for {files} in the background; the current one serves until it is ready"
        ),
        false => format!("making the venv for {files} in the background"),
    }
}
