//! Configuration files: the project's optional `.dwell.toml` and the user's
//! `$XDG_CONFIG_HOME/dwell/config.toml`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A project's `.dwell.toml`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The Nix file to evaluate instead of the discovered entry (relative to the root).
    pub file: Option<PathBuf>,
    /// The attribute: a flake output (`devShells.x86_64-linux.api`) or an attribute
    /// of the file's value.
    pub attr: Option<String>,
    /// More files whose change refreshes the environment.
    #[serde(default)]
    pub watch: Vec<PathBuf>,
    #[serde(default)]
    pub venv: VenvConfig,
    /// Extra variables set on top of the environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VenvConfig {
    /// The venv directory (relative to the root); default `.venv`.
    pub path: Option<PathBuf>,
    /// `false` turns the venv layer off.
    pub enable: Option<bool>,
}

/// The user's config.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Projects under these directories are trusted without `dwell allow`.
    #[serde(default)]
    pub trusted: Vec<PathBuf>,
    /// Print the status line on entering a project (default true).
    pub status_line: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not valid: {1}")]
    Parse(PathBuf, String),
}

fn load<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(path.to_path_buf(), e.message().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(ConfigError::Read(path.to_path_buf(), e)),
    }
}

impl ProjectConfig {
    pub fn load(root: &Path) -> Result<ProjectConfig, ConfigError> {
        load(&root.join(".dwell.toml"))
    }
}

impl UserConfig {
    pub fn load(path: &Path) -> Result<UserConfig, ConfigError> {
        let mut config: UserConfig = load(path)?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        for dir in &mut config.trusted {
            if let (Ok(rest), Some(home)) = (dir.strip_prefix("~"), &home) {
                *dir = home.join(rest);
            }
        }
        Ok(config)
    }
}
