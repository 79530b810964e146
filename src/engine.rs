//! The resolution of one directory, shared by the daemon and the in-process client:
//! discover the project, check trust, look up the cache, evaluate (once per project
//! however many ask), and layer the venv and config variables on top.

use crate::cache::{Cache, Generation, Lookup, generation_key, now_ns, record_inputs};
use crate::config::UserConfig;
use crate::eval::Watch;
use crate::eval::{EvalEnv, EvalError, Tools, evaluate};
use crate::jobs::{Job, Jobs, Joined};
use crate::paths::{Paths, now_ms};
use crate::project::{Kind, Project, ProjectError, discover};
use crate::protocol::{
    CacheState, Freshness, GenerationSummary, ProjectInfo, Resolution, Served, StatusReport,
};
use crate::recipe::Op;
use crate::trust::{Trust, TrustStore};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A failed evaluation, remembered with the inputs it had read, so that an
/// unchanged broken project is not evaluated again at every prompt.
#[derive(Clone, Debug)]
struct Failure {
    message: String,
    inputs: Vec<crate::cache::Input>,
    recorded_at_ns: i64,
    /// A failure that is not the files' fault (the cache could not be written)
    /// is tried again after this, even with unchanged files.
    retry_after: Option<Instant>,
}

/// How long a failure to save (a full disk) is remembered before trying again.
const STORAGE_RETRY: Duration = Duration::from_secs(60);

/// How a request wants its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Wait for an evaluation if one is needed.
    Wait,
    /// Answer at once: a needed evaluation runs in the background and the last
    /// good generation is served meanwhile.
    NoWait,
    /// Evaluate even if the cache is valid, and wait.
    Force,
}

/// A project re-evaluated in the background when its inputs change, if a shell
/// asked for it within this long.
pub const RECENT: Duration = Duration::from_secs(3600);

pub struct Engine {
    pub paths: Paths,
    pub cache: Cache,
    pub trust: TrustStore,
    pub user: Mutex<UserConfig>,
    tools: Mutex<Option<Tools>>,
    jobs: Arc<Jobs>,
    failures: Mutex<HashMap<(PathBuf, String), Failure>>,
    /// Projects asked for, with the settings of the last request and when.
    recent: Mutex<HashMap<PathBuf, (EvalEnv, Instant)>>,
    /// The packages of generations, by generation key.
    packages: Mutex<HashMap<String, Vec<String>>>,
    /// Versions of the pythons of Nix environments, by interpreter path.
    python_versions: Mutex<HashMap<PathBuf, Option<String>>>,
    /// Venv syncs that failed, by project, with the fingerprint they failed for.
    venv_failures: Mutex<HashMap<PathBuf, (String, String)>>,
    /// Called with each generation served, so the daemon can watch its inputs.
    pub on_served: Box<dyn Fn(&Generation) + Send + Sync>,
    /// Called when an evaluation ends (the daemon bumps the generation counter).
    pub on_evaluated: Box<dyn Fn() + Send + Sync>,
}

impl Engine {
    pub fn new(paths: Paths) -> Engine {
        let user = UserConfig::load(&paths.user_config()).unwrap_or_default();
        Engine {
            cache: Cache::new(&paths.cache, user.generations.unwrap_or(crate::cache::KEEP)),
            trust: TrustStore::new(&paths.data),
            user: Mutex::new(user),
            paths,
            tools: Mutex::new(None),
            jobs: Arc::new(Jobs::default()),
            failures: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            packages: Mutex::new(HashMap::new()),
            python_versions: Mutex::new(HashMap::new()),
            venv_failures: Mutex::new(HashMap::new()),
            on_served: Box::new(|_| {}),
            on_evaluated: Box::new(|| {}),
        }
    }

    /// Reads the user config again (SIGHUP); a broken file keeps the old one.
    pub fn reload_user_config(&self) {
        match UserConfig::load(&self.paths.user_config()) {
            Ok(config) => *self.user.lock().unwrap() = config,
            Err(e) => eprintln!("dwell daemon: keeping the previous user config: {e}"),
        }
    }

    /// The tools, found on first use; a failure is not remembered, so installing
    /// Nix while the daemon runs is picked up at the next request.
    pub fn tools(&self) -> Result<Tools, EvalError> {
        if let Some(tools) = self.tools.lock().unwrap().clone() {
            return Ok(tools);
        }
        // Found without the lock held: it may run `nix --version`.
        let found = Tools::find(Some(&self.paths.cache))?;
        *self.tools.lock().unwrap() = Some(found.clone());
        Ok(found)
    }

    /// The project of `dir` and whether it may be activated.
    pub fn project(&self, dir: &Path) -> Result<Option<(Project, Trust)>, ProjectError> {
        let Some(project) = discover(dir)? else {
            return Ok(None);
        };
        let prefixes = self.user.lock().unwrap().trusted.clone();
        let trust = self.trust.check(&project, &prefixes);
        Ok(Some((project, trust)))
    }

    /// Everything besides the inputs that an evaluation's result depends on.
    pub fn context(&self, project: &Project, eval_env: &EvalEnv) -> Result<String, EvalError> {
        let tools = self.tools()?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(format!("dwell-cache-{}\0", crate::cache::FORMAT).as_bytes());
        hasher.update(tools.nix_version.as_bytes());
        hasher.update(b"\0");
        hasher.update(tools.system.as_bytes());
        hasher.update(b"\0");
        hasher.update(project.kind.label().as_bytes());
        hasher.update(b"\0");
        if let Some(entry) = &project.entry {
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

    /// The operations layered on top of the Nix environment (the venv, the
    /// library path for wheels, the project's extra variables), with notes for the
    /// user (a broken venv).
    fn layers(&self, project: &Project, generation: Option<&Generation>) -> (Vec<Op>, Vec<String>) {
        let mut ops = Vec::new();
        let mut notes = Vec::new();
        if let Some(venv) = &project.venv {
            let python = generation.and_then(|g| crate::venv::python_of(&g.recipe.ops, venv));
            let version = python.as_deref().and_then(|p| self.python_version(p));
            if let Some(problem) = crate::venv::health(venv, version.as_deref()) {
                notes.push(problem);
            }
            ops.extend(crate::venv::layer(venv));
        }
        if let (Some(which), Some(g)) = (&project.config.venv.libraries, generation)
            && let Some(op) = crate::venv::libraries(&g.store_paths, which)
        {
            ops.push(op);
        }
        for (name, value) in &project.config.env {
            ops.push(Op::Set {
                name: name.clone(),
                value: value.as_str().into(),
            });
        }
        (ops, notes)
    }

    /// The derivations a generation's environment was built from, asked of Nix
    /// once per generation (a generation never changes).
    fn packages(&self, generation: &Generation, eval_env: &EvalEnv) -> Vec<String> {
        if let Some(known) = self.packages.lock().unwrap().get(&generation.key) {
            return known.clone();
        }
        let env_path = generation
            .gc_root
            .as_ref()
            .and_then(|r| std::fs::canonicalize(r).ok());
        let found = match (self.tools(), env_path) {
            (Ok(tools), Some(env_path)) => crate::eval::packages(&tools, &env_path, eval_env),
            _ => return Vec::new(),
        };
        self.packages
            .lock()
            .unwrap()
            .insert(generation.key.clone(), found.clone());
        found
    }

    /// A python's version, asked once per interpreter path.
    fn python_version(&self, python: &Path) -> Option<String> {
        let mut known = self.python_versions.lock().unwrap();
        if let Some(v) = known.get(python) {
            return v.clone();
        }
        let v = crate::venv::python_version(python);
        known.insert(python.to_path_buf(), v.clone());
        v
    }

    /// A generation handed to a shell: remembered as used, and watched.
    fn served(&self, generation: &Generation) {
        self.cache.touch(generation);
        (self.on_served)(generation);
    }

    fn serve(
        &self,
        project: &Project,
        generation: Option<&Generation>,
        freshness: Freshness,
    ) -> Served {
        let mut ops = generation.map(|g| g.recipe.ops.clone()).unwrap_or_default();
        let (layers, notes) = self.layers(project, generation);
        ops.extend(layers);
        let mut hasher = blake3::Hasher::new();
        hasher.update(generation.map(|g| g.key.as_str()).unwrap_or("-").as_bytes());
        hasher.update(&serde_json::to_vec(&ops).expect("ops serialize"));
        Served {
            key: hasher.finalize().to_hex()[..32].to_string(),
            ops,
            freshness,
            eval_ms: generation.map(|g| g.eval_ms).unwrap_or(0),
            notes,
        }
    }

    /// With `[venv] create = true`: creates the venv, or re-installs into a new one
    /// when the requirements (or the python) changed, waiting with progress. A
    /// failure is a note; the previous venv stays. Returns the project as it is now.
    fn sync_venv(
        self: &Arc<Self>,
        project: &Project,
        generation: &Generation,
        mode: Mode,
        progress: &mut dyn FnMut(&str, Duration) -> bool,
        notes: &mut Vec<String>,
    ) -> Project {
        if project.config.venv.create != Some(true) || project.config.venv.enable == Some(false) {
            return project.clone();
        }
        let Some(python) = crate::venv::python_of(&generation.recipe.ops, &project.venv_path)
        else {
            notes.push(crate::venv::VenvError::NoPython.to_string());
            return project.clone();
        };
        let version = self.python_version(&python).unwrap_or_default();
        let wanted = crate::venv::Wanted::of(&project.root, &project.config, &version);
        if wanted.installed_in(project.venv.as_deref()) {
            return project.clone();
        }
        let crate::venv::Wanted {
            files,
            fingerprint: wanted,
        } = wanted;
        if let Some((failed, message)) = self.venv_failures.lock().unwrap().get(&project.root)
            && *failed == wanted
        {
            notes.push(message.clone());
            return project.clone();
        }
        let mut env: crate::recipe::Env = crate::activate::process_env();
        for op in &generation.recipe.ops {
            crate::recipe::apply_op(&mut env, op);
        }
        let engine = self.clone();
        let p = project.clone();
        let key = format!("venv\0{}", project.root.display());
        let joined = self.jobs.join_or_start(
            &key,
            || true,
            move |job| {
                let mut on_line = |line: &str| {
                    if !line.trim().is_empty() {
                        job.set_progress(format!("venv: {}", line.trim()));
                    }
                };
                eprintln!("dwell daemon: syncing the venv of {}", p.root.display());
                let result =
                    crate::venv::create(&p.root, &p.venv_path, &python, &files, &env, &mut on_line);
                let mut failures = engine.venv_failures.lock().unwrap();
                match result {
                    Ok(_) => {
                        failures.remove(&p.root);
                    }
                    Err(e) => {
                        eprintln!("dwell daemon: venv of {} failed: {e}", p.root.display());
                        failures.insert(p.root.clone(), (wanted, e.to_string()));
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
                return project.clone();
            }
            while !job.wait(Duration::from_millis(100)) {
                if !progress(&job.progress(), job.started.elapsed()) {
                    job.announce();
                    break;
                }
            }
        }
        if let Some((_, message)) = self.venv_failures.lock().unwrap().get(&project.root) {
            notes.push(message.clone());
        }
        crate::project::load(&project.root).unwrap_or_else(|_| project.clone())
    }

    fn info(project: &Project, trust: Trust) -> ProjectInfo {
        ProjectInfo {
            root: project.root.clone(),
            kind: project.kind,
            trust,
            venv: project.venv.clone(),
        }
    }

    /// Evaluates `project` now and stores the new generation.
    fn evaluate_and_save(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        job: &Arc<Job>,
    ) -> Result<Generation, EvalError> {
        let started_ns = now_ns();
        let tools = self.tools()?;
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
        let result = evaluate(&tools, project, eval_env, &profile, &watch);
        // Nix writes a missing flake.lock from the allowed flake.nix, even when the
        // evaluation then fails: it is part of what was allowed.
        if !lock_existed
            && project.flake_lock().is_some_and(|l| l.exists())
            && let Err(e) = self.trust.accept_new_lock(project)
        {
            eprintln!("dwell: could not record the new flake.lock as trusted: {e}");
        }
        let evaluation = match result {
            Ok(evaluation) => evaluation,
            Err(e) => {
                crate::cache::remove_gc_root(&profile);
                return Err(e);
            }
        };
        let mut paths: BTreeSet<PathBuf> = evaluation.inputs;
        paths.extend(Self::always_inputs(project));
        // A flake.lock that Nix wrote during this evaluation is its output, not an
        // edit racing with it.
        let written = project.flake_lock().filter(|_| !lock_existed);
        let inputs = record_inputs(&paths, started_ns, written.as_deref());
        let store_dir = crate::eval::store_dir(eval_env);
        let mut store_paths = std::collections::BTreeSet::new();
        if let Ok(env_path) = std::fs::canonicalize(&profile) {
            store_paths.insert(env_path);
        }
        for op in &evaluation.recipe.ops {
            let values: Vec<&crate::value::Value> = match op {
                Op::Set { value, .. } => vec![value],
                Op::Prepend { entries, .. } | Op::Append { entries, .. } => {
                    entries.iter().collect()
                }
                Op::Unset { .. } => vec![],
            };
            for value in values {
                crate::store_path::find_in(value.as_bytes(), &store_dir, &mut store_paths);
            }
        }
        let generation = Generation {
            format: crate::cache::FORMAT,
            key: generation_key(context, &inputs),
            root: project.root.clone(),
            context: context.to_string(),
            kind: project.kind,
            inputs,
            recipe: evaluation.recipe,
            evaluated_at_ms: now_ms(),
            eval_ms: evaluation.duration.as_millis() as u64,
            recorded_at_ns: now_ns(),
            gc_root: Some(profile.clone()),
            store_paths: store_paths.into_iter().collect(),
        };
        // A generation that cannot be saved is not served and keeps no root: the
        // last good one (and its root) stays, and the user learns why.
        if let Err(source) = self.cache.save(&generation) {
            crate::cache::remove_gc_root(&profile);
            return Err(EvalError::Storage {
                dir: self.cache.dir().to_path_buf(),
                source,
            });
        }
        Ok(generation)
    }

    /// Progress reporting and the user's timeout for one evaluation.
    fn watch_for(&self, project: &Project, job: &Arc<Job>) -> Watch {
        let configured = self.user.lock().unwrap().eval_timeout.clone();
        let timeout = configured
            .as_deref()
            .and_then(|t| crate::config::parse_duration(t).ok());
        let job = job.clone();
        let root = project.root.clone();
        Watch {
            on_line: Some(Arc::new(move |line: &str| {
                if let Some(progress) = progress_line(line, &root) {
                    job.set_progress(progress);
                }
            })),
            timeout,
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
        progress: &mut dyn FnMut(&str, Duration) -> bool,
    ) -> Resolution {
        let (project, trust) = match self.project(dir) {
            Ok(Some(found)) => found,
            Ok(None) => return Resolution::default(),
            Err(e) => {
                return Resolution {
                    error: Some(e.to_string()),
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
        if !project.kind.is_nix() {
            return Resolution {
                project: Some(info),
                env: Some(self.serve(&project, None, Freshness::Cached)),
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
        self.recent
            .lock()
            .unwrap()
            .insert(project.root.clone(), (eval_env.clone(), Instant::now()));
        let mut resolution = self.generation_for(&project, eval_env, &context, mode, progress);
        resolution.project = Some(info);
        resolution
    }

    fn flight_key(project: &Project, context: &str) -> String {
        format!("{}\0{}", project.root.display(), context)
    }

    /// The message of a remembered failure whose inputs are all unchanged.
    fn known_failure(&self, root: &Path, context: &str) -> Option<String> {
        let failures = self.failures.lock().unwrap();
        let failure = failures.get(&(root.to_path_buf(), context.to_string()))?;
        if failure.retry_after.is_some_and(|t| Instant::now() >= t) {
            return None;
        }
        crate::cache::inputs_unchanged(&failure.inputs, failure.recorded_at_ns)
            .then(|| failure.message.clone())
    }

    /// Joins or starts the evaluation of `project`, unless the cache became valid
    /// or the project is known to fail with its current files.
    fn ensure_job(
        self: &Arc<Self>,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        force: bool,
    ) -> Joined {
        let key = Self::flight_key(project, context);
        let engine = self.clone();
        let (p, e, c) = (project.clone(), eval_env.clone(), context.to_string());
        self.jobs.join_or_start(
            &key,
            || {
                force
                    || (self.cache.lookup(&project.root, context).valid.is_none()
                        && self.known_failure(&project.root, context).is_none())
            },
            move |job| engine.run_job(&p, &e, &c, job),
        )
    }

    /// The body of an evaluation job: evaluate, save or remember the failure.
    fn run_job(&self, project: &Project, eval_env: &EvalEnv, context: &str, job: &Arc<Job>) {
        let failure_key = (project.root.clone(), context.to_string());
        eprintln!("dwell daemon: evaluating {}", project.root.display());
        match self.evaluate_and_save(project, eval_env, context, job) {
            Ok(g) => {
                eprintln!(
                    "dwell daemon: evaluated {} in {} ms",
                    project.root.display(),
                    g.eval_ms
                );
                self.failures.lock().unwrap().remove(&failure_key);
            }
            Err(e) => {
                eprintln!(
                    "dwell daemon: evaluation of {} failed: {e}",
                    project.root.display()
                );
                job.fail(e.to_string());
                // A Nix error or a failing shellHook comes from the files, and stays
                // known while they do not change. A full disk stays known for a
                // while (no evaluation at every prompt meanwhile). A timeout or a
                // missing nix does not: only the requests waiting for this job
                // see it.
                let (inputs, retry_after) = match &e {
                    EvalError::Nix { inputs, .. } | EvalError::Capture { inputs, .. } => {
                        (inputs.clone(), None)
                    }
                    EvalError::Storage { .. } => {
                        (BTreeSet::new(), Some(Instant::now() + STORAGE_RETRY))
                    }
                    _ => return self.announce_end(job),
                };
                let mut inputs = inputs;
                inputs.extend(Self::always_inputs(project));
                self.failures.lock().unwrap().insert(
                    failure_key,
                    Failure {
                        message: e.to_string(),
                        inputs: record_inputs(&inputs, i64::MAX, None),
                        recorded_at_ns: now_ns(),
                        retry_after,
                    },
                );
            }
        }
        self.announce_end(job);
    }

    /// Shells that took the last good environment meanwhile learn of the new
    /// one; the requests that waited for it already have it.
    fn announce_end(&self, job: &Job) {
        if job.is_announced() {
            (self.on_evaluated)();
        }
    }

    /// Files that are inputs of every evaluation of `project`.
    fn always_inputs(project: &Project) -> BTreeSet<PathBuf> {
        let mut paths = BTreeSet::new();
        if let Some(entry) = &project.entry {
            paths.insert(entry.clone());
        }
        paths.insert(project.root.join(".dwell.toml"));
        paths.extend(project.flake_lock());
        for extra in &project.config.watch {
            paths.insert(project.root.join(extra));
        }
        paths
    }

    fn generation_for(
        self: &Arc<Self>,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        mode: Mode,
        progress: &mut dyn FnMut(&str, Duration) -> bool,
    ) -> Resolution {
        let asked_ms = now_ms();
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
            if !force && let Some(message) = self.known_failure(&project.root, context) {
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
            if mode == Mode::NoWait {
                job.announce();
                let mut answer = self.fallback(project, context, None);
                answer.pending = true;
                return answer;
            }
            while !job.wait(Duration::from_millis(100)) {
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
        progress: &mut dyn FnMut(&str, Duration) -> bool,
    ) -> Resolution {
        let mut notes = Vec::new();
        let project = self.sync_venv(project, generation, mode, progress, &mut notes);
        let mut served = self.serve(&project, Some(generation), freshness);
        served.notes.extend(notes);
        Resolution {
            project: None,
            env: Some(served),
            error: None,
            pending: false,
        }
    }

    /// Without a valid generation: the last good one, marked stale (if any).
    fn fallback(&self, project: &Project, context: &str, error: Option<String>) -> Resolution {
        let lookup: Lookup = self.cache.lookup(&project.root, context);
        let env = lookup.newest.as_ref().map(|g| {
            self.served(g);
            self.serve(project, Some(g), Freshness::Stale)
        });
        Resolution {
            project: None,
            env,
            error,
            pending: false,
        }
    }

    /// Forgets what failed for `root` (one of its files changed): the next
    /// request evaluates again, whatever the recorded inputs say.
    pub fn forget_failures(&self, root: &Path) {
        self.failures.lock().unwrap().retain(|(r, _), _| r != root);
        self.venv_failures.lock().unwrap().remove(root);
    }

    /// Re-evaluates `root` in the background if a shell used it recently (after
    /// its inputs changed). Returns whether an evaluation was started or joined.
    pub fn refresh(self: &Arc<Self>, root: &Path) -> bool {
        let recent = self.recent.lock().unwrap().get(root).cloned();
        let Some((eval_env, at)) = recent else {
            return false;
        };
        if at.elapsed() > RECENT {
            return false;
        }
        let Ok(Some((project, trust))) = self.project(root) else {
            return false;
        };
        if !trust.permits() || !project.kind.is_nix() || project.root != root {
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

    /// What is known about `dir`'s project, without evaluating.
    pub fn status(&self, dir: &Path, eval_env: &EvalEnv) -> StatusReport {
        let mut report = StatusReport {
            dir: dir.to_path_buf(),
            project: None,
            cache: None,
            generation: None,
            last_error: None,
            daemon: None,
            not_traced: None,
            watched: None,
            trust_diff: Vec::new(),
            hook_definitions: Vec::new(),
        };
        let (project, trust) = match self.project(dir) {
            Ok(Some(found)) => found,
            Ok(None) => return report,
            Err(e) => {
                report.last_error = Some(e.to_string());
                return report;
            }
        };
        if matches!(trust, Trust::Changed { .. }) {
            report.trust_diff = self.trust.diff(&project);
        }
        report.project = Some(Self::info(&project, trust));
        if project.kind.is_nix() {
            report.not_traced =
                Some(crate::trace::coverage_gaps(project.kind == Kind::Flake).into());
        }
        if project.kind == Kind::Venv {
            report.cache = Some(CacheState::NotNeeded);
            return report;
        }
        report.last_error = self
            .failures
            .lock()
            .unwrap()
            .iter()
            .find(|((root, _), _)| *root == project.root)
            .map(|(_, f)| f.message.clone());
        let context = match self.context(&project, eval_env) {
            Ok(c) => c,
            Err(e) => {
                report.last_error = Some(e.to_string());
                return report;
            }
        };
        let lookup = self.cache.lookup(&project.root, &context);
        let (state, generation) = match (&lookup.valid, &lookup.newest) {
            (Some(g), _) => (CacheState::Fresh, Some(g)),
            (None, Some(g)) => (CacheState::Stale, Some(g)),
            (None, None) => (CacheState::NeverEvaluated, None),
        };
        report.cache = Some(state);
        if let Some(g) = generation {
            report.hook_definitions = hook_definitions(&g.recipe);
        }
        let kept = self.cache.generations(&project.root, &context).len();
        report.generation = generation.map(|g| GenerationSummary {
            key: g.key.clone(),
            evaluated_at_ms: g.evaluated_at_ms,
            eval_ms: g.eval_ms,
            inputs: g.inputs.iter().map(|i| i.path.clone()).collect(),
            gc_root: g.gc_root.clone(),
            packages: self.packages(g, eval_env),
            generations: kept,
        });
        report
    }
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
        let name = Path::new(&drv).file_name()?.to_string_lossy().into_owned();
        let name = name
            .get(33..)
            .unwrap_or(&name)
            .trim_end_matches(".drv")
            .to_string();
        return Some(format!("building {name}"));
    }
    if let Some(rest) = line.strip_prefix("evaluating file ") {
        return Some(format!("evaluating {}", short(&quoted(rest)?)));
    }
    if let Some(rest) = line.strip_prefix("copying ") {
        return Some(format!("copying {}", short(&quoted(rest)?)));
    }
    None
}

/// Functions and aliases a devShell's shellHook defines: they run in the capture
/// shell only and cannot cross into the user's shell (as with direnv), so `dwell
/// status` names them. Found in the hook's text, as `name() {`, `function name`
/// and `alias name=`.
pub fn hook_definitions(recipe: &crate::recipe::Recipe) -> Vec<String> {
    let Some(hook) = recipe.ops.iter().find_map(|op| match op {
        Op::Set { name, value } if name == "shellHook" => Some(value.lossy().into_owned()),
        _ => None,
    }) else {
        return Vec::new();
    };
    let ident = |s: &str| -> Option<String> {
        let name: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_-:.".contains(*c))
            .collect();
        (!name.is_empty()).then_some(name)
    };
    let mut found = Vec::new();
    for line in hook.lines().map(str::trim) {
        let definition = if let Some(rest) = line.strip_prefix("function ") {
            ident(rest.trim()).map(|n| format!("function {n}"))
        } else if let Some(rest) = line.strip_prefix("alias ") {
            ident(rest.trim()).map(|n| format!("alias {n}"))
        } else if let Some(open) = line.find("()") {
            let name = line[..open].trim();
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c)))
            .then(|| format!("function {name}"))
        } else {
            None
        };
        if let Some(d) = definition
            && !found.contains(&d)
        {
            found.push(d);
        }
    }
    found
}
