//! The resolution of one directory, shared by the daemon and the in-process client:
//! discover the project, check trust, look up the cache, evaluate (once per project
//! however many ask), and layer the venv and config variables on top.

use crate::cache::{Cache, Generation, Lookup, generation_key, now_ns, record_inputs};
use crate::config::UserConfig;
use crate::eval::{EvalEnv, EvalError, Tools, evaluate};
use crate::flight::Flights;
use crate::paths::{Paths, now_ms};
use crate::project::{Kind, Project, ProjectError, discover};
use crate::protocol::{
    CacheState, Freshness, GenerationSummary, ProjectInfo, Resolution, Served, StatusReport,
};
use crate::recipe::Op;
use crate::trust::{Trust, TrustStore};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A failed evaluation, remembered so that waiters and `status` can report it.
#[derive(Clone, Debug)]
struct Failure {
    at_ns: i64,
    message: String,
}

pub struct Engine {
    pub paths: Paths,
    pub cache: Cache,
    pub trust: TrustStore,
    pub user: Mutex<UserConfig>,
    tools: Mutex<Option<Tools>>,
    flights: Flights,
    failures: Mutex<HashMap<PathBuf, Failure>>,
    /// Called with each project whose generation was just evaluated or served, so
    /// the daemon can watch its inputs.
    pub on_served: Box<dyn Fn(&Generation) + Send + Sync>,
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
            flights: Flights::default(),
            failures: Mutex::new(HashMap::new()),
            on_served: Box::new(|_| {}),
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
        let mut tools = self.tools.lock().unwrap();
        if tools.is_none() {
            *tools = Some(Tools::find()?);
        }
        Ok(tools.clone().expect("just set"))
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

    /// The operations layered on top of the Nix environment: the venv, then the
    /// project's extra variables.
    pub fn layers(project: &Project) -> Vec<Op> {
        let mut ops = Vec::new();
        if let Some(venv) = &project.venv {
            ops.extend(crate::venv::layer(venv));
        }
        for (name, value) in &project.config.env {
            ops.push(Op::Set {
                name: name.clone(),
                value: value.as_str().into(),
            });
        }
        ops
    }

    /// A generation handed to a shell: remembered as used, and watched.
    fn served(&self, generation: &Generation) {
        self.cache.touch(generation);
        (self.on_served)(generation);
    }

    fn serve(project: &Project, generation: Option<&Generation>, freshness: Freshness) -> Served {
        let mut ops = generation.map(|g| g.recipe.ops.clone()).unwrap_or_default();
        ops.extend(Self::layers(project));
        let mut hasher = blake3::Hasher::new();
        hasher.update(generation.map(|g| g.key.as_str()).unwrap_or("-").as_bytes());
        hasher.update(&serde_json::to_vec(&ops).expect("ops serialize"));
        Served {
            key: hasher.finalize().to_hex()[..32].to_string(),
            ops,
            freshness,
            eval_ms: generation.map(|g| g.eval_ms).unwrap_or(0),
        }
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
    ) -> Result<Generation, EvalError> {
        let started_ns = now_ns();
        let tools = self.tools()?;
        let lock_existed = project.root.join("flake.lock").exists();
        let gcroots = self.paths.state.join("gcroots");
        crate::paths::private_dir(&gcroots).map_err(std::io::Error::other)?;
        let profile = gcroots.join(format!(
            "{}-{}-{}",
            crate::paths::path_id(&project.root),
            now_ms(),
            crate::paths::unique() % 100_000
        ));
        let evaluation = match evaluate(&tools, project, eval_env, &profile) {
            Ok(evaluation) => evaluation,
            Err(e) => {
                crate::cache::remove_gc_root(&profile);
                return Err(e);
            }
        };
        if project.kind == Kind::Flake
            && !lock_existed
            && let Err(e) = self.trust.accept_new_lock(project)
        {
            eprintln!("dwell: could not record the new flake.lock as trusted: {e}");
        }
        let mut paths: BTreeSet<PathBuf> = evaluation.inputs;
        paths.insert(project.root.join(".dwell.toml"));
        if project.kind == Kind::Flake {
            paths.insert(project.root.join("flake.lock"));
        }
        for extra in &project.config.watch {
            paths.insert(project.root.join(extra));
        }
        // A flake.lock that Nix wrote during this evaluation is its output, not an
        // edit racing with it.
        let written = (!lock_existed).then(|| project.root.join("flake.lock"));
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
            gc_root: Some(profile),
            store_paths: store_paths.into_iter().collect(),
        };
        if let Err(e) = self.cache.save(&generation) {
            eprintln!("dwell: could not write the cache: {e}");
        }
        Ok(generation)
    }

    /// The environment for `dir`. `force` evaluates even when the cache is valid.
    pub fn resolve(&self, dir: &Path, eval_env: &EvalEnv, force: bool) -> Resolution {
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
                env: Some(Self::serve(&project, None, Freshness::Cached)),
                error: None,
            };
        }
        let context = match self.context(&project, eval_env) {
            Ok(c) => c,
            Err(e) => {
                return Resolution {
                    project: Some(info),
                    env: None,
                    error: Some(e.to_string()),
                };
            }
        };
        let (env, error) = self.generation_for(&project, eval_env, &context, force);
        Resolution {
            project: Some(info),
            env,
            error,
        }
    }

    fn generation_for(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        context: &str,
        force: bool,
    ) -> (Option<Served>, Option<String>) {
        let asked_ns = now_ns();
        if !force && let Some(g) = self.cache.lookup(&project.root, context).valid {
            self.served(&g);
            return (
                Some(Self::serve(project, Some(&g), Freshness::Cached)),
                None,
            );
        }
        let flight_key = format!("{}\0{}", project.root.display(), context);
        loop {
            let Some(_leader) = self.flights.lead_or_wait(&flight_key) else {
                // Another request evaluated while we waited: use its result.
                let lookup = self.cache.lookup(&project.root, context);
                if let Some(g) = &lookup.valid {
                    self.served(g);
                    return (Some(Self::serve(project, Some(g), Freshness::Cached)), None);
                }
                if let Some(failure) = self.failure_since(&project.root, asked_ns) {
                    return self.fallback(project, lookup, failure.message);
                }
                continue;
            };
            if !force && let Some(g) = self.cache.lookup(&project.root, context).valid {
                self.served(&g);
                return (
                    Some(Self::serve(project, Some(&g), Freshness::Cached)),
                    None,
                );
            }
            return match self.evaluate_and_save(project, eval_env, context) {
                Ok(g) => {
                    self.failures.lock().unwrap().remove(&project.root);
                    self.served(&g);
                    (
                        Some(Self::serve(project, Some(&g), Freshness::Evaluated)),
                        None,
                    )
                }
                Err(e) => {
                    let message = e.to_string();
                    self.failures.lock().unwrap().insert(
                        project.root.clone(),
                        Failure {
                            at_ns: now_ns(),
                            message: message.clone(),
                        },
                    );
                    let lookup = self.cache.lookup(&project.root, context);
                    self.fallback(project, lookup, message)
                }
            };
        }
    }

    fn failure_since(&self, root: &Path, since_ns: i64) -> Option<Failure> {
        self.failures
            .lock()
            .unwrap()
            .get(root)
            .filter(|f| f.at_ns >= since_ns)
            .cloned()
    }

    /// After a failed evaluation: the last good generation, marked stale.
    fn fallback(
        &self,
        project: &Project,
        lookup: Lookup,
        message: String,
    ) -> (Option<Served>, Option<String>) {
        let env = lookup
            .newest
            .as_ref()
            .map(|g| Self::serve(project, Some(g), Freshness::Stale));
        (env, Some(message))
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
        };
        let (project, trust) = match self.project(dir) {
            Ok(Some(found)) => found,
            Ok(None) => return report,
            Err(e) => {
                report.last_error = Some(e.to_string());
                return report;
            }
        };
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
            .get(&project.root)
            .map(|f| f.message.clone());
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
        let kept = self.cache.generations(&project.root, &context).len();
        report.generation = generation.map(|g| GenerationSummary {
            key: g.key.clone(),
            evaluated_at_ms: g.evaluated_at_ms,
            eval_ms: g.eval_ms,
            inputs: g.inputs.iter().map(|i| i.path.clone()).collect(),
            gc_root: g.gc_root.clone(),
            packages: match (
                self.tools(),
                g.gc_root
                    .as_ref()
                    .and_then(|r| std::fs::canonicalize(r).ok()),
            ) {
                (Ok(tools), Some(env_path)) => crate::eval::packages(&tools, &env_path, eval_env),
                _ => Vec::new(),
            },
            generations: kept,
        });
        report
    }
}
