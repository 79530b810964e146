//! Watching the inputs of served projects. notify watches each input's parent
//! directory, non-recursively (editors save by rename, which a watch on the file
//! itself would lose); access events are ignored, since hashing and Nix's own reads
//! produce them. A change forgets the in-memory generation and bumps the counter,
//! so every shell asks again at its next prompt.

use super::Counter;
use crate::cache::Generation;
use crate::engine::Engine;
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Directories watched at most; past it, projects are validated by stat alone.
const MAX_DIRS: usize = 512;

#[derive(Default)]
struct Watched {
    dirs: HashSet<PathBuf>,
    /// Input path to the project roots that read it.
    inputs: HashMap<PathBuf, HashSet<PathBuf>>,
    /// Generation keys already registered.
    generations: HashSet<String>,
    warned: bool,
}

#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

struct Inner {
    notify: Mutex<Option<notify::RecommendedWatcher>>,
    watched: Mutex<Watched>,
    engine: OnceLock<Arc<Engine>>,
    counter: Arc<Counter>,
}

impl Watcher {
    pub fn new(counter: Arc<Counter>) -> Watcher {
        let inner = Arc::new(Inner {
            notify: Mutex::new(None),
            watched: Mutex::new(Watched::default()),
            engine: OnceLock::new(),
            counter,
        });
        let weak = Arc::downgrade(&inner);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let (Some(inner), Ok(event)) = (weak.upgrade(), event) {
                inner.on_event(event);
            }
        });
        match watcher {
            Ok(w) => *inner.notify.lock().unwrap() = Some(w),
            Err(e) => eprintln!(
                "dwell daemon: cannot watch files ({e}); changes are noticed when a shell asks"
            ),
        }
        Watcher { inner }
    }

    pub fn attach(&self, engine: Arc<Engine>) {
        let _ = self.inner.engine.set(engine);
    }

    /// Watches the inputs of `generation` (once per generation).
    pub fn watch(&self, generation: &Generation) {
        let mut watched = self.inner.watched.lock().unwrap();
        if !watched.generations.insert(generation.key.clone()) {
            return;
        }
        let mut notify = self.inner.notify.lock().unwrap();
        for input in &generation.inputs {
            watched
                .inputs
                .entry(input.path.clone())
                .or_default()
                .insert(generation.root.clone());
            let Some(dir) = input.path.parent() else {
                continue;
            };
            if watched.dirs.contains(dir) || !dir.is_dir() {
                continue;
            }
            if watched.dirs.len() >= MAX_DIRS {
                if !watched.warned {
                    eprintln!(
                        "dwell daemon: watching {MAX_DIRS} directories; more are checked by stat"
                    );
                    watched.warned = true;
                }
                continue;
            }
            let Some(w) = notify.as_mut() else { continue };
            match w.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    watched.dirs.insert(dir.to_path_buf());
                }
                Err(e) if !watched.warned => {
                    eprintln!(
                        "dwell daemon: cannot watch {} ({e}); changes there are noticed when a shell asks",
                        dir.display()
                    );
                    watched.warned = true;
                }
                Err(_) => {}
            }
        }
    }
}

impl Inner {
    fn on_event(&self, event: notify::Event) {
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return;
        }
        let roots: HashSet<PathBuf> = {
            let watched = self.watched.lock().unwrap();
            event
                .paths
                .iter()
                .filter_map(|p| watched.inputs.get(p.as_path()))
                .flatten()
                .cloned()
                .collect()
        };
        if roots.is_empty() {
            return;
        }
        if let Some(engine) = self.engine.get() {
            for root in &roots {
                engine.cache.forget(Path::new(root));
            }
        }
        self.counter.bump();
    }
}
