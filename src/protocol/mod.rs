//! The daemon's wire protocol, and the vocabulary it is written in: one JSON
//! object per line each way, carrying a protocol version. It depends on nothing
//! else in the crate (the client, the daemon and every library use it, never the
//! other way round); no socket code lives here.

pub mod os_path;
mod value;

pub use value::Value;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The crate version, which client and daemon must share.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The client's values of the variables that change what an evaluation produces.
/// They are passed to Nix and are part of the cache key.
pub type EvalEnv = BTreeMap<String, Value>;

/// What kind of project a directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Flake,
    ShellNix,
    DefaultNix,
    Venv,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Flake => "flake",
            Kind::ShellNix => "shell.nix",
            Kind::DefaultNix => "default.nix",
            Kind::Venv => "venv",
        }
    }

    pub fn is_nix(self) -> bool {
        self != Kind::Venv
    }
}

/// Whether a project may be activated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Trust {
    Allowed,
    /// Under a trusted prefix from the user config.
    TrustedPrefix,
    NotAllowed,
    Denied,
    /// Allowed once, but these files changed since.
    Changed {
        files: Vec<String>,
    },
    /// An entry file cannot be read as a regular file (a directory, a FIFO, a
    /// loop, no permission): trust fails closed.
    Unreadable {
        file: String,
        reason: String,
    },
    /// The project's directory or one of its entry files belongs to another
    /// user (root excepted): never offered for allow.
    OtherOwner {
        file: String,
        owner: String,
    },
}

impl Trust {
    pub fn permits(&self) -> bool {
        matches!(self, Trust::Allowed | Trust::TrustedPrefix)
    }

    /// Why a command cannot act on the project, and what to do: for a project
    /// that is not permitted.
    pub fn refusal(&self) -> String {
        match self {
            Trust::Changed { files } => format!(
                "{} changed since you allowed it; review with `dwell status`, then run `dwell allow`",
                files.join(", ")
            ),
            Trust::Unreadable { file, reason } => {
                format!("{file} cannot be read as a regular file ({reason}); fix or remove it")
            }
            Trust::OtherOwner { file, owner } => format!(
                "{file} belongs to {owner}, not to you (`dwell allow --other-owner` if you mean to)"
            ),
            Trust::Denied => "denied; `dwell allow` undoes that".into(),
            _ => "not allowed yet; run `dwell allow` first".into(),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Trust::Allowed => "allowed",
            Trust::TrustedPrefix => "trusted (prefix)",
            Trust::NotAllowed => "not allowed",
            Trust::Denied => "denied",
            Trust::Changed { .. } => "changed since allowed",
            Trust::Unreadable { .. } => "not allowed (unreadable file)",
            Trust::OtherOwner { .. } => "another user's",
        }
    }
}

/// One change to a variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Set { name: String, value: Value },
    Unset { name: String },
    Prepend { name: String, entries: Vec<Value> },
    Append { name: String, entries: Vec<Value> },
}

impl Op {
    pub fn name(&self) -> &str {
        match self {
            Op::Set { name, .. }
            | Op::Unset { name }
            | Op::Prepend { name, .. }
            | Op::Append { name, .. } => name,
        }
    }
}

/// Bumped on any incompatible change; a client that meets another version asks that
/// daemon to stop and starts its own.
pub const PROTOCOL: u32 = 1;
/// Largest reply a client accepts (an environment can be large).
pub const MAX_MESSAGE: usize = 8 << 20;
/// Largest request the daemon accepts: a directory and a few variables.
pub const MAX_REQUEST: usize = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
/// Every message, either way: the protocol version, the sender's dwell version
/// (a client restarts a daemon of another one), and the request or response.
pub struct Envelope<T> {
    pub protocol: u32,
    #[serde(default)]
    pub dwell: String,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The environment for a directory. With `wait` (the default), a needed
    /// evaluation is waited for, with `Progress` replies meanwhile; without, the
    /// last good environment is served at once and the evaluation runs on.
    Resolve {
        #[serde(with = "os_path")]
        dir: PathBuf,
        eval_env: EvalEnv,
        #[serde(default = "yes")]
        wait: bool,
        /// Also send the files the environment was made from (`Served::inputs`).
        #[serde(default)]
        with_inputs: bool,
        /// A shell's prompt asks: it waits for an evaluation only as long as
        /// the `wait` setting allows (an editor waits to the end).
        #[serde(default)]
        prompt: bool,
    },
    /// What is known about a directory's project, without evaluating.
    Status {
        #[serde(with = "os_path")]
        dir: PathBuf,
        eval_env: EvalEnv,
    },
    /// Evaluate again even if the cache is valid.
    Reload {
        #[serde(with = "os_path")]
        dir: PathBuf,
        eval_env: EvalEnv,
    },
    /// Something a shell might see changed outside the daemon (a trust decision).
    Changed,
    Ping,
    Stop,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// Sent while an evaluation runs, before the final answer.
    Progress {
        line: String,
        elapsed_ms: u64,
    },
    Resolved(Resolution),
    Status(StatusReport),
    Pong(DaemonInfo),
    Done,
    Error {
        message: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectInfo {
    #[serde(with = "os_path")]
    pub root: PathBuf,
    pub kind: Kind,
    pub trust: Trust,
    #[serde(with = "os_path::option")]
    pub venv: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Freshness {
    /// From a valid cached generation.
    Cached,
    /// Evaluated for this request.
    Evaluated,
    /// The last good generation, served because the evaluation failed.
    Stale,
}

/// The environment to apply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Served {
    /// Identifies this environment: the generation and the layers on top.
    pub key: String,
    pub ops: Vec<Op>,
    pub freshness: Freshness,
    pub eval_ms: u64,
    /// Things the user should know about this environment (a broken venv).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What the devShell's shellHook printed when it ran, shown on entry.
    #[serde(default)]
    pub hook_output: String,
    /// The name of the venv layered on top (`.venv`), if one is.
    #[serde(default)]
    pub venv: Option<String>,
    /// Whether this request brought the venv in sync (installed into it).
    #[serde(default)]
    pub venv_synced: bool,
    /// The Nix environment was taken from the project's `dwell.lock`: with
    /// `Evaluated`, it was fetched and captured now, nothing evaluated.
    #[serde(default)]
    pub from_lock: bool,
    /// The files the environment was made from (only when asked for).
    #[serde(default)]
    #[serde(with = "os_path::seq")]
    pub inputs: Vec<PathBuf>,
    /// With the inputs: the modification time (seconds) the project's marker
    /// file had before this answer was looked for. Any newer environment moves
    /// it to a later second, so direnv, told this one, always notices.
    #[serde(default)]
    pub marker_mtime: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Resolution {
    pub project: Option<ProjectInfo>,
    pub env: Option<Served>,
    /// An evaluation error (the environment, if any, is then stale).
    pub error: Option<String>,
    /// An evaluation runs in the background; the environment is the last good one.
    #[serde(default)]
    pub pending: bool,
    /// With `error` and no project: the root of the project that could not be
    /// read (a broken `.dwell.toml`), when one was found.
    #[serde(default, with = "os_path::option")]
    pub error_root: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CacheState {
    Fresh,
    Stale,
    NeverEvaluated,
    /// Venv-only projects have nothing to evaluate.
    NotNeeded,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GenerationSummary {
    pub key: String,
    pub evaluated_at_ms: u64,
    pub eval_ms: u64,
    #[serde(with = "os_path::seq")]
    pub inputs: Vec<PathBuf>,
    /// The Nix profile that roots the environment against garbage collection.
    #[serde(with = "os_path::option")]
    pub gc_root: Option<PathBuf>,
    /// The derivations the devShell is built from (`nix show-derivation`).
    pub packages: Vec<String>,
    /// Generations kept for this project and these settings.
    pub generations: usize,
    /// The environment was taken from the project's `dwell.lock`, not evaluated.
    #[serde(default)]
    pub from_lock: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusReport {
    #[serde(with = "os_path")]
    pub dir: PathBuf,
    pub project: Option<ProjectInfo>,
    pub cache: Option<CacheState>,
    pub generation: Option<GenerationSummary>,
    pub last_error: Option<String>,
    pub daemon: Option<DaemonInfo>,
    /// What input tracing cannot see for this kind of project.
    pub not_traced: Option<String>,
    /// Whether the daemon watches the project's inputs now (None without daemon).
    #[serde(default)]
    pub watched: Option<bool>,
    /// For a project changed since allowed: each changed file and its diff.
    #[serde(default)]
    pub trust_diff: Vec<(String, String)>,
    /// Functions or aliases the shellHook defines, which cannot reach the shell.
    #[serde(default)]
    pub hook_definitions: Vec<String>,
    /// Why the venv is not what the project's lock asks for: a sync held until
    /// `dwell allow`, or one that failed.
    #[serde(default)]
    pub venv_problem: Option<String>,
    /// A lock or requirements file with no venv set up: what would enable one.
    #[serde(default)]
    pub venv_hint: Option<String>,
    /// A new venv version is being built in the background.
    #[serde(default)]
    pub venv_updating: bool,
    /// An evaluation of the project runs now (a prompt that stopped waiting
    /// for it gets it later).
    #[serde(default)]
    pub evaluating: bool,
    /// Whether the project's `dwell.lock` gave the environment, and if not why.
    #[serde(default)]
    pub lock: Option<String>,
}

/// `value` as JSON. dwell's own types always serialize (paths and values are
/// written as bytes, maps have string keys), so this cannot fail.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    #[allow(clippy::expect_used, reason = "dwell's own types always serialize")]
    serde_json::to_vec(value).expect("dwell's own types serialize")
}

/// [`to_json`], indented for a file a person may read.
pub fn to_json_pretty<T: Serialize>(value: &T) -> Vec<u8> {
    #[allow(clippy::expect_used, reason = "dwell's own types always serialize")]
    serde_json::to_vec_pretty(value).expect("dwell's own types serialize")
}

impl<T> Envelope<T> {
    pub fn new(body: T) -> Self {
        Envelope {
            protocol: PROTOCOL,
            dwell: VERSION.to_string(),
            body,
        }
    }
}
