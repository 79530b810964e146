//! Project discovery: the nearest directory upward from the shell's directory that
//! holds a `flake.nix`, `shell.nix`, `default.nix`, `.dwell.toml` or a Python `.venv`.

use crate::config::{ConfigError, ProjectConfig};
use crate::protocol::Kind;
use std::path::{Path, PathBuf};

/// Files whose content is what the user trusts when allowing a project.
pub const TRUSTED_FILES: &[&str] = &[
    "flake.nix",
    "flake.lock",
    "shell.nix",
    "default.nix",
    ".dwell.toml",
    "dwell.lock",
];

/// What a project evaluates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A Nix file: a flake's `flake.nix`, a `shell.nix` or `default.nix`, or the
    /// file `.dwell.toml` names.
    Nix { kind: Kind, entry: PathBuf },
    /// Nothing: the project is only a venv.
    Venv,
}

#[derive(Clone, Debug)]
pub struct Project {
    /// Canonical path of the project's directory.
    pub root: PathBuf,
    pub source: Source,
    /// The venv layered on top, when it exists.
    pub venv: Option<PathBuf>,
    /// Where the venv is (or would be created): `[venv] path`, default `.venv`.
    pub venv_path: PathBuf,
    pub config: ProjectConfig,
    /// blake3 of the `.dwell.toml` bytes `config` was parsed from (None: no
    /// file): trust checks this, not a second read of the file.
    pub config_hash: Option<String>,
}

impl Project {
    pub fn kind(&self) -> Kind {
        match &self.source {
            Source::Nix { kind, .. } => *kind,
            Source::Venv => Kind::Venv,
        }
    }

    /// The Nix file evaluated (None for venv-only projects).
    pub fn entry(&self) -> Option<&Path> {
        match &self.source {
            Source::Nix { entry, .. } => Some(entry),
            Source::Venv => None,
        }
    }

    /// The flake's lock file (next to its flake.nix), for flake projects.
    pub fn flake_lock(&self) -> Option<PathBuf> {
        match &self.source {
            Source::Nix {
                kind: Kind::Flake,
                entry,
            } => entry.parent().map(|dir| dir.join("flake.lock")),
            _ => None,
        }
    }

    /// The files whose content an allow trusts: the usual entry files (relative
    /// to the root), and the entry and lock `.dwell.toml` names elsewhere —
    /// relative when inside the root, by absolute path when outside it.
    pub fn trusted_files(&self) -> Vec<String> {
        let mut names: Vec<String> = TRUSTED_FILES.iter().map(|n| n.to_string()).collect();
        for extra in self
            .entry()
            .map(Path::to_path_buf)
            .into_iter()
            .chain(self.flake_lock())
        {
            let name = match extra.strip_prefix(&self.root) {
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(_) => extra.to_string_lossy().into_owned(),
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read directory {0}: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0} names file {1}, which does not exist")]
    MissingFile(PathBuf, PathBuf),
    /// A project was found at `root`, and could not be read.
    #[error("{source}")]
    Broken {
        root: PathBuf,
        source: Box<ProjectError>,
    },
}

impl ProjectError {
    /// The root of the project that could not be read, when one was found.
    pub fn root(&self) -> Option<&Path> {
        match self {
            ProjectError::Broken { root, .. } => Some(root),
            _ => None,
        }
    }
}

fn is_venv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
}

fn marks_root(dir: &Path) -> Result<bool, ProjectError> {
    for name in ["flake.nix", "shell.nix", "default.nix", ".dwell.toml"] {
        match std::fs::symlink_metadata(dir.join(name)) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(false),
            Err(e) => return Err(ProjectError::Unreadable(dir.to_path_buf(), e)),
        }
    }
    Ok(is_venv(&dir.join(".venv")))
}

/// Finds the project that `dir` belongs to: the nearest root upward wins.
pub fn discover(dir: &Path) -> Result<Option<Project>, ProjectError> {
    let dir = std::fs::canonicalize(dir).map_err(|e| ProjectError::Unreadable(dir.into(), e))?;
    for candidate in dir.ancestors() {
        if marks_root(candidate)? {
            return load(candidate).map(Some).map_err(|e| ProjectError::Broken {
                root: candidate.to_path_buf(),
                source: Box::new(e),
            });
        }
    }
    Ok(None)
}

/// Reads the project rooted at `root`.
pub fn load(root: &Path) -> Result<Project, ProjectError> {
    let (config, config_hash) = ProjectConfig::load(root)?;
    let nix = |kind, entry| Source::Nix { kind, entry };
    let source = if let Some(file) = &config.file {
        let entry = root.join(file);
        if !entry.is_file() {
            return Err(ProjectError::MissingFile(root.join(".dwell.toml"), entry));
        }
        let kind = if entry.file_name().is_some_and(|n| n == "flake.nix") {
            Kind::Flake
        } else {
            Kind::ShellNix
        };
        nix(kind, entry)
    } else if root.join("flake.nix").is_file() {
        nix(Kind::Flake, root.join("flake.nix"))
    } else if root.join("shell.nix").is_file() {
        nix(Kind::ShellNix, root.join("shell.nix"))
    } else if root.join("default.nix").is_file() {
        nix(Kind::DefaultNix, root.join("default.nix"))
    } else {
        Source::Venv
    };
    let configured = root.join(config.venv.path.as_deref().unwrap_or(Path::new(".venv")));
    let venv_path = crate::trace::normalize(&configured).unwrap_or(configured);
    let mut project = Project {
        root: root.to_path_buf(),
        source,
        venv: None,
        venv_path,
        config,
        config_hash,
    };
    project.look_for_venv();
    Ok(project)
}

impl Project {
    /// Looks again whether the venv exists (after a sync made or replaced it),
    /// without reading anything the project's trust covers.
    pub fn look_for_venv(&mut self) {
        self.venv = (self.config.venv.enable != Some(false) && is_venv(&self.venv_path))
            .then(|| self.venv_path.clone());
    }
}
