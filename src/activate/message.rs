//! What a plan tells the user: the status line's facts and the lines around it,
//! as data (`status_line.rs` renders them).

use crate::protocol::Freshness;

/// One thing to tell the user about this prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The status line after loading: root, kind, freshness, counts.
    Loaded {
        root: String,
        kind: String,
        freshness: Freshness,
        eval_ms: u64,
        summary: String,
        /// The venv's name when one is layered, and whether it was synced now.
        venv: Option<String>,
        venv_synced: bool,
        /// Taken from the project's `dwell.lock`, not evaluated.
        from_lock: bool,
        /// An evaluation runs in the background: this is the last good
        /// environment until it lands.
        pending: bool,
    },
    Unloaded(String),
    Info(String),
    Warning(String),
    Error(String),
    /// What the project's shellHook printed; `just_ran` when it ran for this
    /// request (the environment was evaluated now).
    HookOutput {
        text: String,
        just_ran: bool,
    },
}
