//! The evaluator seam: what the engine asks of Nix. The real one runs `nix`
//! (found once, on first use); tests put a fake in its place to check the
//! engine's single flight, failure memory and refresh in milliseconds.

use crate::eval::{EvalError, Evaluation, Tools};
use crate::process::Watch;
use crate::project::Project;
use crate::protocol::EvalEnv;
use crate::sync::locked;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Evaluates projects.
pub trait Evaluator: Send + Sync {
    /// What besides the files read an evaluation's result depends on: the Nix
    /// version and the system, as one string for the cache key.
    fn identity(&self) -> Result<String, EvalError>;

    /// Evaluates `project` (a Nix project) and captures its environment, its
    /// shellHook stopped after `hook_limit`; makes `profile` a GC root of it.
    fn evaluate(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        profile: &Path,
        watch: &Watch,
        hook_limit: Duration,
    ) -> Result<Evaluation, EvalError>;

    /// The environment `env` (a `…-env` store path `print-dev-env` built, named
    /// by a `dwell.lock`) without evaluating: substituted through the user's
    /// own substituters if it is not in the store, made a GC root at `profile`,
    /// and captured here (its shellHook runs on this machine). The result has
    /// no inputs: the lock says what they are.
    fn take_built(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        env: &Path,
        profile: &Path,
        watch: &Watch,
        hook_limit: Duration,
    ) -> Result<Evaluation, EvalError>;

    /// The derivations an environment (a store path) was built from.
    fn packages(&self, env_path: &Path, eval_env: &EvalEnv) -> Vec<String>;
}

/// The real `nix`.
pub struct Nix {
    /// Where the Nix version is cached between daemons.
    cache_dir: PathBuf,
    tools: Mutex<Option<Tools>>,
}

impl Nix {
    pub fn new(cache_dir: &Path) -> Nix {
        Nix {
            cache_dir: cache_dir.to_path_buf(),
            tools: Mutex::new(None),
        }
    }

    /// The tools, found on first use; a failure is not remembered, so installing
    /// Nix while the daemon runs is picked up at the next request.
    fn tools(&self) -> Result<Tools, EvalError> {
        if let Some(tools) = locked(&self.tools).clone() {
            return Ok(tools);
        }
        // Found without the lock held: it may run `nix --version`.
        let found = Tools::find(Some(&self.cache_dir))?;
        *locked(&self.tools) = Some(found.clone());
        Ok(found)
    }
}

impl Evaluator for Nix {
    fn identity(&self) -> Result<String, EvalError> {
        let tools = self.tools()?;
        Ok(format!("{}\0{}", tools.nix_version, tools.system))
    }

    fn evaluate(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        profile: &Path,
        watch: &Watch,
        hook_limit: Duration,
    ) -> Result<Evaluation, EvalError> {
        crate::eval::evaluate(
            &self.tools()?,
            project,
            eval_env,
            profile,
            watch,
            hook_limit,
        )
    }

    fn take_built(
        &self,
        project: &Project,
        eval_env: &EvalEnv,
        env: &Path,
        profile: &Path,
        watch: &Watch,
        hook_limit: Duration,
    ) -> Result<Evaluation, EvalError> {
        let tools = self.tools()?;
        crate::eval::take_built(&tools, project, eval_env, env, profile, watch, hook_limit)
    }

    fn packages(&self, env_path: &Path, eval_env: &EvalEnv) -> Vec<String> {
        match self.tools() {
            Ok(tools) => crate::eval::packages(&tools, env_path, eval_env),
            Err(_) => Vec::new(),
        }
    }
}
