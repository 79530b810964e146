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
    /// Create the venv on first entry and keep it in sync with the requirements.
    pub create: Option<bool>,
    /// The requirements files (default: `requirements*.txt`, else `pyproject.toml`).
    pub requirements: Option<Vec<PathBuf>>,
    /// Put the library dirs of the Nix environment's packages on LD_LIBRARY_PATH,
    /// so that manylinux wheels load: `true`, or a list of package names.
    pub libraries: Option<Libraries>,
}

/// `libraries = true` or `libraries = ["zlib", "gcc-lib"]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Libraries {
    All(bool),
    Only(Vec<String>),
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
    /// Generations kept per project (default 8).
    pub generations: Option<usize>,
    /// The daemon drops generations not used for this long (default "30d";
    /// "off" never prunes).
    pub prune_after: Option<String>,
    /// Serve the last good environment at once and re-evaluate in the background,
    /// instead of waiting at the prompt (default false).
    #[serde(rename = "async")]
    pub background: Option<bool>,
    /// Stop an evaluation that takes longer than this (default: no limit).
    pub eval_timeout: Option<String>,
    /// Projects whose inputs are watched at most (least recently used first out).
    pub watch_projects: Option<usize>,
}

/// Parses a duration like `30d`, `12h`, `90m`, `45s` or `2w`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (s, m, h, d or w)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (s, m, h, d or w)")),
    };
    n.checked_mul(secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] crate::safe_fs::ReadError),
    #[error("{0} is not valid: {1}")]
    Parse(PathBuf, String),
}

fn load<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ConfigError> {
    // A project's file is read like any file a stranger may have written:
    // regular files only, bounded, never blocking on a FIFO.
    match crate::safe_fs::read_project_text(path)? {
        Some(text) => toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(path.to_path_buf(), e.message().to_string())),
        None => Ok(T::default()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86400);
        assert_eq!(parse_duration("2w").unwrap().as_secs(), 14 * 86400);
        assert_eq!(parse_duration("0s").unwrap().as_secs(), 0);
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("99999999999999999w").is_err());
    }
}
