//! `dwell status`: what is known about a directory's project — trust and its
//! diff, the cache state, the generation and its inputs, the last error —
//! answered without evaluating.

use super::{Engine, Evaluator};
use crate::cache::{Generation, Lookup};
use crate::project::Project;
use crate::protocol::{CacheState, EvalEnv, GenerationSummary, Kind, Op, StatusReport, Trust};
use crate::sync::Memo;
use std::path::{Path, PathBuf};

/// The packages of generations, by generation key: asked of Nix once per
/// generation (a generation never changes), the last few hundred kept.
pub struct Packages(Memo<String, Vec<String>>);

impl Default for Packages {
    fn default() -> Packages {
        Packages(Memo::new(256))
    }
}

impl Packages {
    pub fn packages(
        &self,
        evaluator: &dyn Evaluator,
        generation: &Generation,
        eval_env: &EvalEnv,
    ) -> Vec<String> {
        if let Some(known) = self.0.get(&generation.key) {
            return known;
        }
        let Some(env_path) = generation
            .gc_root
            .as_ref()
            .and_then(|r| std::fs::canonicalize(r).ok())
        else {
            return Vec::new();
        };
        let found = evaluator.packages(&env_path, eval_env);
        if !found.is_empty() {
            self.0.insert(generation.key.clone(), found.clone());
        }
        found
    }
}

impl Engine {
    /// The files the environment served for `dir` was made from (for `dwell
    /// direnv`, which has direnv watch them); asked only by those who need them,
    /// so ordinary answers stay small.
    pub fn inputs(&self, dir: &Path, eval_env: &EvalEnv) -> Vec<PathBuf> {
        let newest = self
            .cached(dir, eval_env)
            .filter(|(_, trust, _)| trust.permits())
            .and_then(|(_, _, lookup)| lookup.newest);
        newest
            .map(|g| g.inputs.iter().map(|i| i.path.clone()).collect())
            .unwrap_or_default()
    }

    /// The project of `dir`, its trust, and what the cache holds for it under
    /// `eval_env` (None: no Nix project, or none found).
    fn cached(&self, dir: &Path, eval_env: &EvalEnv) -> Option<(Project, Trust, Lookup)> {
        let (project, trust) = self.project(dir).ok()??;
        if !project.kind().is_nix() {
            return None;
        }
        let context = self.context(&project, eval_env).ok()?;
        let lookup = self.cache.lookup(&project.root, &context);
        Some((project, trust, lookup))
    }

    /// The project of `dir` and the generation its cache holds as valid now,
    /// if any (what `dwell lock` writes down).
    pub fn current_generation(
        &self,
        dir: &Path,
        eval_env: &EvalEnv,
    ) -> Option<(Project, std::sync::Arc<Generation>)> {
        let (project, _, lookup) = self.cached(dir, eval_env)?;
        Some((project, lookup.valid?))
    }

    /// The modification time (seconds) of the marker file of `dir`'s project
    /// (`Paths::project_marker`), if it has one.
    pub fn marker_mtime(&self, dir: &Path) -> Option<i64> {
        use std::os::unix::fs::MetadataExt;
        let (project, _) = self.project(dir).ok()??;
        let marker = self.paths().project_marker(&project.root);
        std::fs::symlink_metadata(marker).ok().map(|m| m.mtime())
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
            venv_problem: None,
            venv_hint: None,
            venv_updating: false,
            evaluating: false,
            lock: None,
        };
        let (project, trust) = match self.project(dir) {
            Ok(Some(found)) => found,
            Ok(None) => return report,
            Err(e) => {
                report.last_error = Some(e.to_string());
                return report;
            }
        };
        let held = self.venv.held(&project.root);
        if matches!(trust, Trust::Changed { .. }) || held.is_some() {
            report.trust_diff = self.trust.diff(&project);
        }
        report.venv_problem = held.or_else(|| self.venv.failure_detail(&project.root));
        report.venv_hint = venv_hint(&project);
        report.venv_updating = self.jobs.is_running(&super::JobKey::VenvSync {
            root: project.root.clone(),
        });
        report.project = Some(Self::info(&project, trust));
        if project.kind() == Kind::Venv {
            report.cache = Some(CacheState::NotNeeded);
            return report;
        }
        report.last_error = self.failures.any_for(&project.root);
        let context = match self.context(&project, eval_env) {
            Ok(c) => c,
            Err(e) => {
                report.last_error = Some(e.to_string());
                return report;
            }
        };
        report.evaluating = self.jobs.is_running(&super::JobKey::Evaluation {
            root: project.root.clone(),
            context: context.clone(),
        });
        let lookup = self.cache.lookup(&project.root, &context);
        let (state, generation) = match (&lookup.valid, &lookup.newest) {
            (Some(g), _) => (CacheState::Fresh, Some(g)),
            (None, Some(g)) => (CacheState::Stale, Some(g)),
            (None, None) => (CacheState::NeverEvaluated, None),
        };
        report.cache = Some(state);
        if let Some(g) = generation {
            report.hook_definitions = hook_definitions(&g.recipe);
            report.not_traced = not_traced(&project, g);
            report.lock = super::locked::status_line(&g.origin, &project);
        }
        let kept = self.cache.generations(&project.root, &context).len();
        report.generation = generation.map(|g| GenerationSummary {
            key: g.key.clone(),
            evaluated_at_ms: g.evaluated_at_ms,
            eval_ms: g.eval_ms,
            inputs: g.inputs.iter().map(|i| i.path.clone()).collect(),
            gc_root: g.gc_root.clone(),
            packages: self.status.packages(self.evaluator.as_ref(), g, eval_env),
            generations: kept,
            from_lock: g.origin == crate::recipe::Origin::Lock,
        });
        report
    }
}

/// For a project with a lock or requirements and no venv that dwell keeps in
/// sync: the one line that would give it one.
fn venv_hint(project: &crate::project::Project) -> Option<String> {
    let venv = &project.config.venv;
    if project.venv.is_some() || venv.create == Some(true) || venv.enable == Some(false) {
        return None;
    }
    let inputs = crate::venv::Inputs::of(&project.root, &project.config).ok()?;
    if inputs.files.is_empty() {
        return None;
    }
    Some(format!(
        "none yet, for {}: `dwell venv` makes one; `create = true` under [venv] in .dwell.toml keeps it in sync",
        inputs.names()
    ))
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

/// What `generation`'s evaluation may have read untraced, judged from the
/// project's own `.nix` files it read (see [`crate::trace::coverage_gaps`]).
fn not_traced(project: &crate::project::Project, generation: &Generation) -> Option<String> {
    let nix_files: Vec<(PathBuf, String)> = generation
        .inputs
        .iter()
        .map(|i| &i.path)
        .filter(|p| p.starts_with(&project.root) && p.extension().is_some_and(|e| e == "nix"))
        .filter_map(|p| {
            let text = crate::safe_fs::read_project_text(p).ok()??;
            Some((p.clone(), text))
        })
        .collect();
    crate::trace::coverage_gaps(project.kind() == Kind::Flake, &project.root, &nix_files)
}
