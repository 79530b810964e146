//! The daemon's wire protocol: one JSON object per line each way, carrying a
//! protocol version. Transport-agnostic types only; no socket code lives here.

use crate::eval::EvalEnv;
use crate::project::Kind;
use crate::recipe::Op;
use crate::trust::Trust;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bumped on any incompatible change; a client that meets another version asks that
/// daemon to stop and starts its own.
pub const PROTOCOL: u32 = 1;
/// Largest reply a client accepts (an environment can be large).
pub const MAX_MESSAGE: usize = 8 << 20;
/// Largest request the daemon accepts: a directory and a few variables.
pub const MAX_REQUEST: usize = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub protocol: u32,
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
        dir: PathBuf,
        eval_env: EvalEnv,
        #[serde(default = "yes")]
        wait: bool,
    },
    /// What is known about a directory's project, without evaluating.
    Status {
        dir: PathBuf,
        eval_env: EvalEnv,
    },
    /// Evaluate again even if the cache is valid.
    Reload {
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
    pub root: PathBuf,
    pub kind: Kind,
    pub trust: Trust,
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
    pub inputs: Vec<PathBuf>,
    /// The Nix profile that roots the environment against garbage collection.
    pub gc_root: Option<PathBuf>,
    /// The derivations the devShell is built from (`nix show-derivation`).
    pub packages: Vec<String>,
    /// Generations kept for this project and these settings.
    pub generations: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusReport {
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
}

impl<T> Envelope<T> {
    pub fn new(body: T) -> Self {
        Envelope {
            protocol: PROTOCOL,
            body,
        }
    }
}
