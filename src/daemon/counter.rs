//! The generation counter: a short file the shell hooks read with a builtin on every
//! prompt. It changes whenever anything a shell might see changes, and starts from
//! a fresh value each time the daemon starts, so a value is never reused.

use std::path::PathBuf;
use std::sync::Mutex;

pub struct Counter {
    file: PathBuf,
    value: Mutex<u64>,
}

impl Counter {
    pub fn new(file: PathBuf) -> Counter {
        // Start from the clock, so a restarted daemon never repeats a value a
        // shell saw from its predecessor.
        let start = crate::paths::since_epoch().as_micros() as u64;
        Counter {
            file,
            value: Mutex::new(start),
        }
    }

    /// Moves to a new value and writes it (atomically: a hook never reads half).
    pub fn bump(&self) {
        let mut value = crate::sync::locked(&self.value);
        *value += 1;
        if let Err(e) = crate::paths::write_atomic(&self.file, format!("{value}\n").as_bytes()) {
            log::error!("could not write {}: {e}", self.file.display());
        }
    }
}
