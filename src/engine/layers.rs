//! The layers put on top of a generation's Nix environment before it is served:
//! the venv (with a note when it is broken), the library path for manylinux
//! wheels, the project's `[env]` variables; and the served key, which changes
//! when any layer does, so a new venv reaches shells without an evaluation.

use crate::cache::Generation;
use crate::project::Project;
use crate::protocol::{Freshness, Op, Served};
use crate::sync::Memo;
use std::path::{Path, PathBuf};

/// Interpreters whose versions are kept in memory (more are asked of the disk).
const PYTHONS: usize = 256;

pub struct Layers {
    /// Versions of the pythons of Nix environments, by interpreter path.
    python_versions: Memo<PathBuf, Option<String>>,
    /// Where they are remembered across daemons.
    versions_dir: PathBuf,
}

impl Layers {
    pub fn new(versions_dir: PathBuf) -> Layers {
        Layers {
            python_versions: Memo::new(PYTHONS),
            versions_dir,
        }
    }

    /// A python's version, asked once per interpreter (never with the lock held
    /// while python runs), and remembered on disk: a fresh daemon serving an
    /// unchanged project runs no python.
    pub fn python_version(&self, python: &Path) -> Option<String> {
        if let Some(known) = self.python_versions.get(python) {
            return known;
        }
        let found = crate::process::remembered(python, Some(&self.versions_dir), || {
            crate::venv::python_version(python)
        });
        self.python_versions
            .insert(python.to_path_buf(), found.clone());
        found
    }

    /// The operations layered on top of the Nix environment, with notes for
    /// the user (a broken venv).
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

    /// The environment served for `project`: the generation's operations (if
    /// any) and the layers, under a key that names both.
    pub fn serve(
        &self,
        project: &Project,
        generation: Option<&Generation>,
        freshness: Freshness,
    ) -> Served {
        let mut ops = generation.map(|g| g.recipe.ops.clone()).unwrap_or_default();
        let (layers, mut notes) = self.layers(project, generation);
        if let Some(secs) = generation.and_then(|g| g.hook.stopped_after_s) {
            notes.push(format!(
                "the shellHook did not finish within {secs} s and was stopped; this is the devShell's environment without it. Start long-running programs with `dwell exec jupyter lab` (say), not from shellHook; or raise shellhook_timeout in .dwell.toml"
            ));
        }
        // The shellHook sources the venv dwell layers (the guides' Level 1).
        let venv = crate::protocol::Value::from(project.venv_path.as_os_str());
        let hook_activates = |g: &Generation| {
            g.recipe.ops.iter().any(|op| {
                matches!(op, Op::Set { name, value } if name == "VIRTUAL_ENV" && *value == venv)
            })
        };
        if project.config.venv.enable != Some(false) && generation.is_some_and(hook_activates) {
            notes.push(
                "the shellHook activates a venv itself (`source .venv/bin/activate`); dwell already layers the project's venv, so that line can go".into(),
            );
        }
        ops.extend(layers);
        let mut hasher = blake3::Hasher::new();
        hasher.update(generation.map(|g| g.key.as_str()).unwrap_or("-").as_bytes());
        hasher.update(&crate::protocol::to_json(&ops));
        // A new venv version behind the same `.venv` link is a new environment.
        if let Ok(version) = std::fs::read_link(&project.venv_path) {
            hasher.update(version.as_os_str().as_encoded_bytes());
        }
        Served {
            key: hasher.finalize().to_hex()[..32].to_string(),
            ops,
            freshness,
            eval_ms: generation.map(|g| g.eval_ms).unwrap_or(0),
            notes,
            hook_output: generation
                .map(|g| g.hook.output.clone())
                .unwrap_or_default(),
            venv: project
                .venv
                .as_ref()
                .and_then(|v| v.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            venv_synced: false,
            from_lock: generation.is_some_and(|g| g.origin == crate::recipe::Origin::Lock),
            inputs: Vec::new(),
            marker_mtime: None,
        }
    }
}
