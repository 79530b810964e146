//! The resolution of one directory, shared by the daemon and the in-process client.
//! A request flows through the files of this folder in order:
//!
//! 1. here, [`Engine::resolve`]: discover the project and check trust;
//! 2. the cache lookup ([`crate::cache`]), and if nothing valid is there,
//! 3. an evaluation job ([`job`]): one per project however many ask, through the
//!    [`Evaluator`] seam, its failures remembered ([`failures`]);
//! 4. the venv brought in sync ([`venv_sync`]) and the layers put on top ([`layers`]);
//! 5. the answer, or the last good environment when there is none.
//!
//! [`status`] answers `dwell status` from the same parts without evaluating.
//! The engine prints nothing: it reports [`Event`]s to whoever runs it.

mod evaluator;
mod events;
mod failures;
mod job;
mod layers;
mod locked;
mod refresh;
mod status;
mod venv_sync;

use refresh::note_recent;

pub use evaluator::{Evaluator, Nix};
pub use events::{Event, Events};

use crate::cache::{Cache, Generation, Lookup};
use crate::config::Settings;
use crate::eval::EvalError;
use crate::jobs::{Jobs, Joined};
use crate::paths::{Paths, now_ms};
use crate::project::{Project, ProjectError, discover};
use crate::protocol::{EvalEnv, Freshness, ProjectInfo, Resolution, Trust};
use crate::sync::locked;
use crate::trust::TrustStore;
use failures::Failures;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a request wants its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Wait for an evaluation if one is needed, to its end (an editor, `dwell
    /// exec`, an evaluation in this process).
    Wait,
    /// A shell's prompt: wait as long as the project's `wait` setting (else the
    /// user's) allows, then answer without it while the evaluation goes on; its
    /// end bumps the counter, and a later prompt gets it.
    Prompt,
    /// Answer at once: a needed evaluation runs in the background and the last
    /// good generation is served meanwhile.
    NoWait,
    /// Evaluate even if the cache is valid, and wait.
    Force,
}

/// What a job works on: one evaluation per project and context, one venv sync
/// per project.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JobKey {
    Evaluation { root: PathBuf, context: String },
    VenvSync { root: PathBuf },
}

/// Called while a request waits, with what is being done and for how long;
/// returns false when nobody listens any more.
pub type Progress<'a> = &'a mut dyn FnMut(&str, Duration) -> bool;

pub struct Engine {
    paths: Paths,
    cache: Cache,
    trust: TrustStore,
    settings: Mutex<Settings>,
    evaluator: Arc<dyn Evaluator>,
    jobs: Arc<Jobs<JobKey>>,
    failures: Failures,
    /// Projects asked for, with the settings of the last request and when.
    recent: Mutex<HashMap<PathBuf, (EvalEnv, Instant)>>,
    layers: layers::Layers,
    venv: venv_sync::VenvSync,
    status: status::Packages,
    events: Events,
}

impl Engine {
    /// An engine that evaluates with the real `nix` and tells no one.
    pub fn new(paths: Paths) -> Engine {
        let nix = Arc::new(Nix::new(&paths.cache));
        Engine::with(paths, nix, Events::default())
    }

    /// An engine with its evaluator and event sink chosen by the caller.
    pub fn with(paths: Paths, evaluator: Arc<dyn Evaluator>, events: Events) -> Engine {
        let settings = Settings::load(&paths.user_config()).unwrap_or_default();
        let versions = paths.cache.join("program-versions");
        Engine {
            cache: Cache::new(&paths.cache, settings.generations),
            trust: TrustStore::new(&paths.data),
            settings: Mutex::new(settings),
            paths,
            evaluator,
            jobs: Arc::new(Jobs::default()),
            failures: Failures::default(),
            recent: Mutex::new(HashMap::new()),
            layers: layers::Layers::new(versions),
            venv: venv_sync::VenvSync::default(),
            status: status::Packages::default(),
            events,
        }
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The user's settings as last read.
    pub fn settings(&self) -> Settings {
        locked(&self.settings).clone()
    }

    /// Reads the user config again (SIGHUP); a broken file keeps the old one.
    pub fn reload_settings(&self) -> Result<(), crate::config::ConfigError> {
        let settings = Settings::load(&self.paths.user_config())?;
        *locked(&self.settings) = settings;
        Ok(())
    }

    /// The project of `dir` and whether it may be activated.
    pub fn project(&self, dir: &Path) -> Result<Option<(Project, Trust)>, ProjectError> {
        let Some(project) = discover(dir)? else {
            return Ok(None);
        };
        let prefixes = self.settings().trusted;
        let trust = self.trust.check(&project, &prefixes);
        Ok(Some((project, trust)))
    }

    /// Everything besides the inputs that an evaluation's result depends on.
    fn context(&self, project: &Project, eval_env: &EvalEnv) -> Result<String, EvalError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(format!("dwell-cache-{}\0", crate::cache::FORMAT).as_bytes());
        hasher.update(self.evaluator.identity()?.as_bytes());
        hasher.update(b"\0");
        hasher.update(project.kind().label().as_bytes());
        hasher.update(b"\0");
        if let Some(entry) = project.entry() {
            hasher.update(entry.as_os_str().as_encoded_bytes());
        }
        hasher.update(b"\0");
        hasher.update(project.config.attr.as_deref().unwrap_or("").as_bytes());
        hasher.update(b"\0");
        for (name, value) in eval_env {
            hasher.update(name.as_bytes());
            hasher.update(b"=");
            hasher.update(value.as_bytes());
            hasher.update(b"\0");
        }
        Ok(hasher.finalize().to_hex()[..32].to_string())
    }

    fn info(project: &Project, trust: Trust) -> ProjectInfo {
        ProjectInfo {
            root: project.root.clone(),
            kind: project.kind(),
            trust,
            venv: project.venv.clone(),
        }
    }

    /// The environment for `dir`. `progress` is called while an evaluation runs
    /// (with what Nix is doing and for how long); it returns false when nobody
    /// is listening any more, and the request stops waiting (the evaluation goes on).
    pub fn resolve(
        self: &Arc<Self>,
        dir: &Path,
        eval_env: &EvalEnv,
        mode: Mode,
        progress: Progress,
    ) -> Resolution {
        let (project, trust) = match self.project(dir) {
            Ok(Some(found)) => found,
            Ok(None) => return Resolution::default(),
            Err(e) => {
                return Resolution {
                    error: Some(e.to_string()),
                    error_root: e.root().map(Path::to_path_buf),
                    ..Resolution::default()
                };
            }
        };
        let info = Self::info(&project, trust.clone());
        if !trust.permits() {
            return Resolution {
                project: Some(info),
                ..Resolution::default()
            };
        }
        if !project.kind().is_nix() {
            return Resolution {
                project: Some(info),
                env: Some(self.layers.serve(&project, None, Freshness::Cached)),
                ..Resolution::default()
            };
        }
        let context = match self.context(&project, eval_env) {
            Ok(c) => c,
            Err(e) => {
                return Resolution {
                    project: Some(info),
                    error: Some(e.to_string()),
                    ..Resolution::default()
                };
            }
        };
        note_recent(&mut locked(&self.recent), &project.root, eval_env);
        let mut resolution = self.generation_for(&project, eval_env, &context, mode, progress);
        // (An answer that found trust gone while it was made says so itself.)
        resolution.project.get_or_insert(info);
        resolution
    }

    /// A generation handed to a shell: remembered as used, and reported.
    fn served(&self, generation: &Generation) {
        self.cache.touch(generation);
        self.events.emit(Event::Served(generation));
    }

    fn generation_for(
        self: &Arc<Self>,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        mode: Mode,
        progress: Progress,
    ) -> Resolution {
        let asked_ms = now_ms();
        let asked = Instant::now();
        let budget = match mode {
            Mode::Prompt => project.config.wait(self.settings().wait),
            Mode::NoWait => Some(Duration::ZERO),
            Mode::Wait | Mode::Force => None,
        };
        if mode != Mode::Force
            && let Some(g) = self.cache.lookup(&project.root, context).valid
        {
            self.served(&g);
            return self.answer(project, &g, Freshness::Cached, mode, progress);
        }
        let mut force = mode == Mode::Force;
        // A file that changes while Nix reads it makes the result untrustworthy:
        // evaluate again, a few times at most.
        for _ in 0..3 {
            if !force && let Some(message) = self.failures.known(&project.root, context) {
                return self.fallback(project, context, Some(message));
            }
            let job = match self.ensure_job(project, eval_env, context, force) {
                Joined::Running(job) => job,
                // Another job finished just now: its result is in the cache.
                Joined::NotNeeded => {
                    force = false;
                    if let Some(g) = self.cache.lookup(&project.root, context).valid {
                        self.served(&g);
                        return self.answer(project, &g, Freshness::Cached, mode, progress);
                    }
                    continue;
                }
            };
            force = false;
            let in_background = || {
                job.announce();
                let mut answer = self.fallback(project, context, None);
                answer.pending = true;
                answer
            };
            // (No budget left, zero included: the answer goes without the job.)
            loop {
                let step = match budget {
                    Some(limit) => match limit.checked_sub(asked.elapsed()) {
                        Some(left) if !left.is_zero() => left.min(Duration::from_millis(100)),
                        _ => return in_background(),
                    },
                    None => Duration::from_millis(100),
                };
                if job.wait(step) {
                    break;
                }
                if !progress(&job.progress(), job.started.elapsed()) {
                    job.announce();
                    return self.fallback(project, context, None);
                }
            }
            if let Some(g) = self.cache.lookup(&project.root, context).valid {
                self.served(&g);
                let fresh = if g.evaluated_at_ms >= asked_ms {
                    Freshness::Evaluated
                } else {
                    Freshness::Cached
                };
                return self.answer(project, &g, fresh, mode, progress);
            }
            // Every request that waited for a failed job gets its error.
            if let Some(message) = job.error() {
                return self.fallback(project, context, Some(message));
            }
        }
        self.fallback(
            project,
            context,
            Some("the project's files kept changing while Nix read them".into()),
        )
    }

    /// The answer for a valid generation, after bringing the venv in sync.
    fn answer(
        self: &Arc<Self>,
        project: &Project,
        generation: &Generation,
        freshness: Freshness,
        mode: Mode,
        progress: Progress,
    ) -> Resolution {
        let mut notes = Vec::new();
        let (mut project, synced) = self.sync_venv(project, generation, mode, progress, &mut notes);
        // A shellHook may have made the venv (the guides' Level 1): one stat.
        if freshness == Freshness::Evaluated && project.venv.is_none() {
            project.look_for_venv();
        }
        // Nix read the entry files itself, and a sync takes seconds: what either
        // made is handed out only if what was allowed still is. (A plain cache
        // hit read nothing since the check.)
        if synced || freshness == Freshness::Evaluated {
            let now = self.trust.check(&project, &self.settings().trusted);
            if !now.permits() {
                return Resolution {
                    project: Some(Self::info(&project, now)),
                    ..Resolution::default()
                };
            }
        }
        let mut served = self.layers.serve(&project, Some(generation), freshness);
        served
            .notes
            .extend(locked::not_used_note(&generation.origin));
        served.notes.extend(notes);
        served.venv_synced = synced;
        Resolution {
            project: None,
            env: Some(served),
            error: None,
            pending: false,
            error_root: None,
        }
    }

    /// Without a valid generation: the last good one, marked stale (if any).
    fn fallback(&self, project: &Project, context: &str, error: Option<String>) -> Resolution {
        let lookup: Lookup = self.cache.lookup(&project.root, context);
        let env = lookup.newest.as_ref().map(|g| {
            self.served(g);
            self.layers.serve(project, Some(g), Freshness::Stale)
        });
        Resolution {
            project: None,
            env,
            error,
            pending: false,
            error_root: None,
        }
    }
}

#[cfg(test)]
mod tests;
