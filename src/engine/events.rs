//! What the engine tells whoever runs it, instead of printing or calling back:
//! the daemon logs these, watches what was served and bumps the generation
//! counter; a client evaluating in-process has no one listening, and nothing
//! reaches the user's prompt.

use std::path::PathBuf;
use std::sync::mpsc::Sender;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A generation was handed to a shell: its inputs are worth watching.
    Served {
        root: PathBuf,
        key: String,
        inputs: Vec<PathBuf>,
    },
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

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Served { root, key, .. } => write!(f, "served {} ({key})", root.display()),
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
pub struct Events(Option<Box<dyn Fn(Event) + Send + Sync>>);

impl Events {
    pub fn to(handler: impl Fn(Event) + Send + Sync + 'static) -> Events {
        Events(Some(Box::new(handler)))
    }

    /// Events sent on a channel (for tests and tools that collect them).
    pub fn channel(sender: Sender<Event>) -> Events {
        let sender = std::sync::Mutex::new(sender);
        Events::to(move |event| {
            let _ = crate::sync::locked(&sender).send(event);
        })
    }

    pub fn emit(&self, event: Event) {
        if let Some(handler) = &self.0 {
            handler(event);
        }
    }
}
