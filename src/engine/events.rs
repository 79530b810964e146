//! What the engine tells whoever runs it, instead of printing or calling back:
//! the daemon logs these, watches what was served and bumps the generation
//! counter; a client evaluating in-process has no one listening, and nothing
//! reaches the user's prompt.

use crate::cache::Generation;
use std::path::PathBuf;

/// What happened. Borrowed where the engine holds the data already: a served
/// generation is handed over as it is, not copied at every prompt.
#[derive(Debug)]
pub enum Event<'a> {
    /// A generation was handed to a shell: its inputs are worth watching.
    Served(&'a Generation),
    Evaluating {
        root: PathBuf,
    },
    Evaluated {
        root: PathBuf,
        ms: u64,
    },
    EvaluationFailed {
        root: PathBuf,
        error: String,
    },
    /// A job nobody waited for ended for the project at `root`: shells should
    /// ask again.
    Ready {
        root: PathBuf,
    },
    VenvSyncing {
        root: PathBuf,
    },
    VenvFailed {
        root: PathBuf,
        error: String,
    },
    /// Something went wrong that is worth a line in the log.
    Warning(String),
}

impl std::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Served(g) => write!(f, "served {} ({})", g.root.display(), g.key),
            Event::Evaluating { root } => write!(f, "evaluating {}", root.display()),
            Event::Evaluated { root, ms } => write!(f, "evaluated {} in {ms} ms", root.display()),
            Event::EvaluationFailed { root, error } => {
                write!(f, "evaluation of {} failed: {error}", root.display())
            }
            Event::Ready { root } => write!(f, "a new environment for {} is ready", root.display()),
            Event::VenvSyncing { root } => write!(f, "syncing the venv of {}", root.display()),
            Event::VenvFailed { root, error } => {
                write!(f, "venv of {} failed: {error}", root.display())
            }
            Event::Warning(text) => f.write_str(text),
        }
    }
}

/// Where events go: handed, as they happen and on the engine's own thread, to a
/// function of whoever runs the engine (so what was served is watched before the
/// answer leaves), or nowhere.
#[derive(Default)]
pub struct Events(Option<Box<Handler>>);

/// A function that takes the engine's events.
type Handler = dyn Fn(&Event) + Send + Sync;

impl Events {
    pub fn to(handler: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        Events(Some(Box::new(handler)))
    }

    pub fn emit(&self, event: Event) {
        if let Some(handler) = &self.0 {
            handler(&event);
        }
    }
}
