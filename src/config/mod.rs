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
    /// How long the shellHook may run before it is stopped (`"30s"`).
    pub shellhook_timeout: Option<String>,
    /// How long a shell's prompt waits for an evaluation of this project
    /// before it comes back without it (the user config's `wait` otherwise).
    pub wait: Option<WaitSetting>,
    /// The team's binary cache, where `dwell push` copies the locked environment.
    pub cache: Option<String>,
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
    /// How long a shellHook may run before it is stopped (default "30s").
    pub shellhook_timeout: Option<String>,
    /// How long a shell's prompt waits for an evaluation before it comes back
    /// without it (default "2s"; 0 never waits, "forever" waits to the end).
    pub wait: Option<WaitSetting>,
    /// When to show what the shellHook printed: "always" (every entry), "first"
    /// (when it has just run) or "never".
    pub shellhook_output: Option<HookOutput>,
    /// How long a venv install (pip, uv, Poetry) may run before it is stopped
    /// (default "15m").
    pub install_timeout: Option<String>,
    /// Venv versions kept per project, the one in use included (default 4).
    pub venv_generations: Option<usize>,
}

/// When the shellHook's output is shown on entering a project.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HookOutput {
    /// On every entry, as nix-shell, `nix develop` and direnv show it.
    #[default]
    Always,
    /// Only when the shellHook has just run (the environment was evaluated).
    First,
    Never,
}

/// A venv install stopped after this long, unless configured otherwise: a hung
/// pip must not hold a project's venv for good.
pub const INSTALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A shellHook stopped after this long, unless configured otherwise.
pub const SHELLHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Parses a duration like `30d`, `12h`, `90m`, `45s`, `2w` or `500ms` (and `0`,
/// which needs no unit).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h, d or w)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (ms, s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(millis)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// How long the prompt waits for an evaluation, as written: a number of
/// seconds (`wait = 0`), a duration (`"2s"`, `"500ms"`) or `"forever"`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum WaitSetting {
    Seconds(u64),
    Text(String),
}

/// The prompt waits this long by default, then comes back without the
/// environment, which arrives at a later prompt.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl WaitSetting {
    /// The wait (None: to the end), or why the value means nothing.
    pub fn limit(&self) -> Result<Option<std::time::Duration>, String> {
        match self {
            WaitSetting::Seconds(n) => Ok(Some(std::time::Duration::from_secs(*n))),
            WaitSetting::Text(t) if t.trim() == "forever" => Ok(None),
            WaitSetting::Text(t) => parse_duration(t)
                .map(Some)
                .map_err(|e| format!("wait: {e} (or \"forever\")")),
        }
    }
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

/// blake3 of a file's bytes, as trust records keep it.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

impl ProjectConfig {
    /// Reads `root/.dwell.toml` once: the settings, and the hash of the very
    /// bytes they were parsed from (None: no file), which trust checks, so what
    /// is served is what was allowed, never a later rewrite of the file.
    pub fn load(root: &Path) -> Result<(ProjectConfig, Option<String>), ConfigError> {
        let path = root.join(".dwell.toml");
        let Some(bytes) = crate::safe_fs::read_regular(&path, crate::safe_fs::MAX_PROJECT_FILE)?
        else {
            return Ok((ProjectConfig::default(), None));
        };
        let hash = content_hash(&bytes);
        let text = String::from_utf8(bytes)
            .map_err(|_| ConfigError::Parse(path.clone(), "it is not valid UTF-8".into()))?;
        let config: ProjectConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse(path.clone(), e.message().to_string()))?;
        if let Some(text) = &config.shellhook_timeout {
            parse_duration(text)
                .map_err(|e| ConfigError::Parse(path.clone(), format!("shellhook_timeout: {e}")))?;
        }
        if let Some(wait) = &config.wait {
            wait.limit().map_err(|e| ConfigError::Parse(path, e))?;
        }
        Ok((config, Some(hash)))
    }

    /// How long a prompt waits for this project's evaluation: its own setting,
    /// else `user`'s (None: to the end).
    pub fn wait(&self, user: Option<std::time::Duration>) -> Option<std::time::Duration> {
        match self.wait.as_ref().map(WaitSetting::limit) {
            Some(Ok(limit)) => limit,
            _ => user,
        }
    }

    /// How long this project's shellHook may run: its own setting, else `user`'s.
    pub fn shellhook_timeout(&self, user: std::time::Duration) -> std::time::Duration {
        self.shellhook_timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(user)
    }
}

/// The user config, validated once: what the rest of dwell reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Projects under these directories need no `dwell allow` (`~` expanded).
    pub trusted: Vec<PathBuf>,
    pub status_line: bool,
    /// Generations kept per project.
    pub generations: usize,
    /// Generations not used for this long are pruned (None: never).
    pub prune_after: Option<std::time::Duration>,
    /// Never wait at the prompt.
    pub background: bool,
    /// How long a prompt waits for an evaluation (None: to the end).
    pub wait: Option<std::time::Duration>,
    /// Evaluations running longer are stopped (None: no limit).
    pub eval_timeout: Option<std::time::Duration>,
    /// Projects whose inputs are watched at most.
    pub watch_projects: usize,
    /// How long a shellHook may run (a project's `.dwell.toml` may say otherwise).
    pub shellhook_timeout: std::time::Duration,
    pub shellhook_output: HookOutput,
    /// How long a venv install may run.
    pub install_timeout: std::time::Duration,
    /// Venv versions kept per project, the one in use included.
    pub venv_generations: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        #[allow(clippy::expect_used, reason = "the defaults are valid settings")]
        Settings::from_config(UserConfig::default()).expect("the defaults are valid")
    }
}

impl Settings {
    /// Reads and checks the user config at `path` (absent: the defaults). A bad
    /// value is an error naming it, never silently dropped.
    ///
    /// The system-wide files come first: `dwell/config.toml` in each of
    /// `$XDG_CONFIG_DIRS` (default `/etc/xdg`; the first directory wins among
    /// them), then the user's file, whose keys win over all of them.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Settings::load_layers(&system_files(), path)
    }

    /// [`Settings::load`] with the system files given.
    pub fn load_layers(system: &[PathBuf], user: &Path) -> Result<Settings, ConfigError> {
        let mut merged = toml::Table::new();
        for file in system.iter().rev().map(PathBuf::as_path).chain([user]) {
            let table: toml::Table = load(file)?;
            merged.extend(table);
        }
        let config: UserConfig =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    ConfigError::Parse(user.to_path_buf(), e.message().to_string())
                })?;
        Settings::from_config(config).map_err(|e| ConfigError::Parse(user.to_path_buf(), e))
    }

    fn from_config(config: UserConfig) -> Result<Settings, String> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let trusted = config
            .trusted
            .into_iter()
            .map(|dir| match (dir.strip_prefix("~"), &home) {
                (Ok(rest), Some(home)) => home.join(rest),
                _ => dir,
            })
            .collect();
        let duration = |key: &str, value: Option<String>| -> Result<Option<_>, String> {
            match value.as_deref() {
                None | Some("off") => Ok(None),
                Some(text) => parse_duration(text)
                    .map(Some)
                    .map_err(|e| format!("{key}: {e}")),
            }
        };
        let prune_after = match config.prune_after {
            None => Some(std::time::Duration::from_secs(30 * 86400)),
            some => duration("prune_after", some)?,
        };
        Ok(Settings {
            trusted,
            status_line: config.status_line != Some(false),
            generations: config.generations.unwrap_or(GENERATIONS).max(1),
            prune_after,
            background: config.background == Some(true),
            wait: match &config.wait {
                None => Some(WAIT),
                Some(wait) => wait.limit()?,
            },
            eval_timeout: duration("eval_timeout", config.eval_timeout)?,
            watch_projects: config
                .watch_projects
                .unwrap_or(DEFAULT_WATCH_PROJECTS)
                .max(1),
            shellhook_timeout: duration("shellhook_timeout", config.shellhook_timeout)?
                .unwrap_or(SHELLHOOK_TIMEOUT),
            shellhook_output: config.shellhook_output.unwrap_or_default(),
            install_timeout: duration("install_timeout", config.install_timeout)?
                .unwrap_or(INSTALL_TIMEOUT),
            venv_generations: config.venv_generations.unwrap_or(VENV_GENERATIONS).max(1),
        })
    }
}

/// Generations kept per project, unless the user config says otherwise.
pub const GENERATIONS: usize = 8;

/// Venv versions kept per project unless the user config says otherwise.
pub const VENV_GENERATIONS: usize = 4;

/// The system-wide config files, most important first.
fn system_files() -> Vec<PathBuf> {
    let dirs = std::env::var_os("XDG_CONFIG_DIRS")
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/etc/xdg".into());
    std::env::split_paths(&dirs)
        .filter(|d| d.is_absolute())
        .map(|d| d.join("dwell/config.toml"))
        .collect()
}

/// Projects watched at most, unless the user config says otherwise.
pub const DEFAULT_WATCH_PROJECTS: usize = 64;

#[cfg(test)]
mod tests;
