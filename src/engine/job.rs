//! The evaluation job of a project: joined by every request that needs it,
//! evaluated through the [`Evaluator`](super::Evaluator), saved as a generation
//! with its GC root, or remembered as a failure.

use super::{Engine, Event, JobKey};
use crate::cache::{Generation, generation_key, record_inputs, remove_gc_root};
use crate::eval::EvalError;
use crate::jobs::{Job, Joined};
use crate::paths::{now_ms, now_ns};
use crate::process::Watch;
use crate::project::Project;
use crate::protocol::{EvalEnv, Op};
use crate::trace::Reads;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a failure that is no property of the files (a full disk; a timeout
/// a prompt stopped waiting for) is remembered before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(60);

impl Engine {
    /// Joins or starts the evaluation of `project`, unless the cache became valid
    /// or the project is known to fail with its current files.
    pub(super) fn ensure_job(
        self: &Arc<Self>,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        force: bool,
    ) -> Joined {
        let key = JobKey::Evaluation {
            root: project.root.clone(),
            context: context.to_string(),
        };
        let engine = self.clone();
        let (p, e, c) = (project.clone(), eval_env.clone(), context.to_string());
        self.jobs.join_or_start(
            &key,
            || {
                force
                    || (self.cache.lookup(&project.root, context).valid.is_none()
                        && self.failures.known(&project.root, context).is_none())
            },
            move |job| engine.run_job(&p, &e, &c, job, force),
        )
    }

    /// The body of an evaluation job: evaluate (`forced`: `dwell reload`, never
    /// from the lock), save or remember the failure.
    fn run_job(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        job: &Arc<Job>,
        forced: bool,
    ) {
        let root = project.root.clone();
        self.events.emit(Event::Evaluating { root: root.clone() });
        match self.evaluate_and_save(project, eval_env, context, job, forced) {
            Ok(g) => {
                self.events.emit(Event::Evaluated {
                    root,
                    ms: g.eval_ms,
                });
                self.failures.clear(&project.root, context);
            }
            Err(e) => {
                self.events.emit(Event::EvaluationFailed {
                    root,
                    error: e.to_string(),
                });
                job.fail(e.to_string());
                // A Nix error or a failing shellHook comes from the files, and stays
                // known while they do not change. A full disk stays known for a
                // while (no evaluation at every prompt meanwhile). A timeout or a
                // missing nix does not: the requests waiting for this job see it;
                // when a prompt stopped waiting (`wait`), it stays known for a
                // while too, so that prompt's shell is told at its next one.
                let (mut inputs, retry_after) = match &e {
                    EvalError::Nix { inputs, .. } | EvalError::Capture { inputs, .. } => {
                        (inputs.clone(), None)
                    }
                    e if matches!(e, EvalError::Storage { .. }) || job.is_announced() => {
                        (Reads::new(), Some(Instant::now() + RETRY_AFTER))
                    }
                    _ => return self.announce_end(job, &project.root),
                };
                if retry_after.is_none() {
                    inputs.extend(always_inputs(project));
                }
                self.failures
                    .remember(&project.root, context, e.to_string(), &inputs, retry_after);
            }
        }
        self.announce_end(job, &project.root);
    }

    /// Shells that took the last good environment meanwhile learn of the new
    /// one; the requests that waited for it already have it.
    pub(super) fn announce_end(&self, job: &Job, root: &Path) {
        if job.is_announced() {
            self.events.emit(Event::Ready {
                root: root.to_path_buf(),
            });
        }
    }

    /// Evaluates `project` now and stores the new generation.
    fn evaluate_and_save(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        job: &Arc<Job>,
        forced: bool,
    ) -> Result<Generation, EvalError> {
        let started_ns = now_ns();
        let lock_existed = project.flake_lock().is_some_and(|l| l.exists());
        let gcroots = self.paths.gcroots();
        crate::paths::private_dir(&gcroots).map_err(std::io::Error::other)?;
        let profile = gcroots.join(format!(
            "{}-{}-{}",
            crate::paths::path_id(&project.root),
            now_ms(),
            crate::paths::unique() % 100_000
        ));
        let watch = self.watch_for(project, job);
        let (result, origin) =
            self.locked_or_evaluated(project, eval_env, &profile, &watch, forced);
        // Nix writes a missing flake.lock from the allowed flake.nix, even when the
        // evaluation then fails: it is part of what was allowed.
        if !lock_existed
            && project.flake_lock().is_some_and(|l| l.exists())
            && let Err(e) = self.trust.accept_new_lock(project)
        {
            self.events.emit(Event::Warning(format!(
                "could not record the new flake.lock of {} as trusted: {e}",
                project.root.display()
            )));
        }
        let evaluation = match result {
            Ok(evaluation) => evaluation,
            Err(e) => {
                remove_gc_root(&profile);
                return Err(e);
            }
        };
        let mut paths: Reads = evaluation.inputs;
        paths.extend(always_inputs(project));
        // A flake.lock that Nix wrote during this evaluation is its output, not an
        // edit racing with it.
        let written = project.flake_lock().filter(|_| !lock_existed);
        let inputs = record_inputs(&paths, started_ns, written.as_deref());
        let store_paths = store_paths_of(&evaluation.recipe.ops, &profile, eval_env);
        let generation = Generation {
            format: crate::cache::FORMAT,
            key: generation_key(context, &inputs),
            root: project.root.clone(),
            context: context.to_string(),
            kind: project.kind(),
            inputs,
            recipe: evaluation.recipe,
            hook: evaluation.hook,
            evaluated_at_ms: now_ms(),
            eval_ms: evaluation.duration.as_millis() as u64,
            recorded_at_ns: now_ns(),
            gc_root: Some(profile.clone()),
            store_paths,
            origin,
        };
        // A generation that cannot be saved is not served and keeps no root: the
        // last good one (and its root) stays, and the user learns why.
        if let Err(source) = self.cache.save(&generation) {
            remove_gc_root(&profile);
            return Err(EvalError::Storage {
                dir: self.cache.dir().to_path_buf(),
                source,
            });
        }
        Ok(generation)
    }

    /// Progress reporting and the user's timeout for one evaluation.
    fn watch_for(&self, project: &Project, job: &Arc<Job>) -> Watch {
        let job = job.clone();
        let root = project.root.clone();
        Watch {
            on_line: Some(Arc::new(move |line: &str| {
                if let Some(progress) = progress_line(line, &root) {
                    job.set_progress(progress);
                }
            })),
            on_stdout_line: None,
            timeout: self.settings().eval_timeout,
        }
    }
}

/// Files that are inputs of every evaluation of `project`.
pub(super) fn always_inputs(project: &Project) -> Reads {
    let mut paths = BTreeSet::new();
    if let Some(entry) = project.entry() {
        paths.insert(entry.to_path_buf());
    }
    paths.insert(project.root.join(".dwell.toml"));
    paths.insert(project.root.join(crate::lock::FILE));
    paths.extend(project.flake_lock());
    for extra in &project.config.watch {
        paths.insert(project.root.join(extra));
    }
    crate::trace::contents(paths)
}

/// What to show of one line of Nix's log while it evaluates, if anything.
fn progress_line(line: &str, root: &Path) -> Option<String> {
    let quoted = |rest: &str| -> Option<String> {
        let rest = rest.strip_prefix('\'')?;
        Some(rest[..rest.find('\'')?].to_string())
    };
    let short = |path: &str| -> String {
        let path = Path::new(path);
        match path.strip_prefix(root) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    };
    if let Some(rest) = line.strip_prefix("building ") {
        let drv = quoted(rest)?;
        let base = Path::new(&drv).file_name()?.to_string_lossy().into_owned();
        let name = crate::store_path::name_of(&base).unwrap_or(&base);
        return Some(format!("building {}", name.trim_end_matches(".drv")));
    }
    if let Some(rest) = line.strip_prefix("evaluating file ") {
        return Some(format!("evaluating {}", short(&quoted(rest)?)));
    }
    if let Some(rest) = line.strip_prefix("copying ") {
        return Some(format!("copying {}", short(&quoted(rest)?)));
    }
    None
}

/// The store paths an environment needs: the profile's own (what Nix built for
/// `print-dev-env`) and every one its values name. Checked before serving it: a
/// generation whose store paths were collected is evaluated again.
fn store_paths_of(
    ops: &[Op],
    profile: &std::path::Path,
    eval_env: &EvalEnv,
) -> Vec<std::path::PathBuf> {
    let store_dir = crate::eval::store_dir(eval_env);
    let mut store_paths = BTreeSet::new();
    if let Ok(env_path) = std::fs::canonicalize(profile) {
        store_paths.insert(env_path);
    }
    for op in ops {
        let values: Vec<&crate::protocol::Value> = match op {
            Op::Set { value, .. } => vec![value],
            Op::Prepend { entries, .. } | Op::Append { entries, .. } => entries.iter().collect(),
            Op::Unset { .. } => vec![],
        };
        for value in values {
            crate::store_path::find_in(value.as_bytes(), &store_dir, &mut store_paths);
        }
    }
    store_paths.into_iter().collect()
}
