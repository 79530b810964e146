//! Watching the inputs of the projects shells use. notify watches each input's
//! parent directory, non-recursively (editors save by rename, which a watch on the
//! file itself would lose), plus directories that are inputs themselves (a
//! listing; a whole tree with its subdirectories) and the git index a listing of
//! tracked entries depends on. Access events are ignored: hashing and Nix's own reads
//! produce them. At most `limit` projects are watched, the least recently used
//! dropped first, so inotify's limits are never exhausted; unwatched projects are
//! validated by stat at their next request.
//!
//! A change is debounced (a burst of saves, a `git checkout`, is one change), then
//! the roots of the projects it touched are sent on the channel [`Watcher::new`]
//! returns; the daemon decides what to do about them. The watcher knows nothing
//! of the engine.

use crate::cache::{FileState, Generation};
use crate::sync::locked;
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Subdirectories of one directory input watched at most.
const SUBDIRS: usize = 256;
/// A change is acted on once its project saw no event for this long...
const QUIET: Duration = Duration::from_millis(50);
/// ...or this long after its first event, whichever comes first.
const MAX_DELAY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Project {
    last_used: Option<Instant>,
    inputs: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
    keys: HashSet<String>,
}

#[derive(Default)]
struct Watched {
    projects: HashMap<PathBuf, Project>,
    /// How many watched projects need each directory.
    dir_refs: HashMap<PathBuf, usize>,
    /// Input path to the projects that read it.
    input_roots: HashMap<PathBuf, HashSet<PathBuf>>,
    warned: bool,
}

/// The venv's path, and a synced venv's lock and requirement files: no input
/// of the Nix evaluation, but a venv made or removed in the project, or a lock
/// changed, must reach the shell's next prompt.
fn venv_files(root: &Path) -> Vec<PathBuf> {
    match crate::project::load(root) {
        Ok(p) if p.config.venv.enable != Some(false) => {
            let mut files = vec![p.venv_path.clone()];
            if p.config.venv.create == Some(true) {
                files.extend(crate::venv::sync_files(&p.root, &p.config));
            }
            files
        }
        _ => Vec::new(),
    }
}

/// Counts `project`'s use of each of `dirs`; returns those no project watched
/// until now (to be watched).
fn take_dirs(
    dir_refs: &mut HashMap<PathBuf, usize>,
    project: &mut Project,
    dirs: Vec<PathBuf>,
) -> Vec<PathBuf> {
    let mut new = Vec::new();
    for dir in dirs {
        if !dir.is_dir() || !project.dirs.insert(dir.clone()) {
            continue;
        }
        let refs = dir_refs.entry(dir.clone()).or_insert(0);
        *refs += 1;
        if *refs == 1 {
            new.push(dir);
        }
    }
    new
}

#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

struct Inner {
    notify: Mutex<Option<notify::RecommendedWatcher>>,
    watched: Mutex<Watched>,
    /// Projects watched at most (least recently used dropped first).
    limit: AtomicUsize,
    changes: Sender<Vec<PathBuf>>,
}

impl Watcher {
    /// A watcher of at most `limit` projects, and the channel on which it sends
    /// the roots of the projects whose inputs changed (debounced).
    pub fn new(limit: usize) -> (Watcher, Receiver<Vec<PathBuf>>) {
        let (tx, rx) = channel();
        let (changed_tx, changed_rx) = channel();
        let inner = Arc::new(Inner {
            notify: Mutex::new(None),
            watched: Mutex::new(Watched::default()),
            limit: AtomicUsize::new(limit.max(1)),
            changes: tx,
        });
        let weak = Arc::downgrade(&inner);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let (Some(inner), Ok(event)) = (weak.upgrade(), event) {
                inner.on_event(event);
            }
        });
        match watcher {
            Ok(w) => *locked(&inner.notify) = Some(w),
            Err(e) => log::warn!(
                "cannot watch files ({}); changes are noticed when a shell asks",
                describe(&e)
            ),
        }
        let debouncer = inner.clone();
        std::thread::spawn(move || debouncer.debounce_loop(rx, changed_tx));
        (Watcher { inner }, changed_rx)
    }

    /// Changes how many projects are watched at most (a reloaded user config).
    pub fn set_limit(&self, limit: usize) {
        self.inner.limit.store(limit.max(1), Ordering::SeqCst);
    }

    /// Whether `root`'s inputs are watched now.
    pub fn is_watched(&self, root: &Path) -> bool {
        locked(&self.inner.watched).projects.contains_key(root)
    }

    /// Watches the inputs of `generation`, marking its project as just used.
    ///
    /// notify is never called with `watched` locked: its inotify backend answers
    /// watch requests from the thread that also delivers events, and event
    /// delivery must never wait on a lock that a watch call holds.
    pub fn watch(&self, generation: &Generation) {
        let (root, key) = (generation.root.as_path(), generation.key.as_str());
        let limit = self.inner.limit.load(Ordering::SeqCst);
        {
            let mut watched = locked(&self.inner.watched);
            if let Some(project) = watched.projects.get_mut(root) {
                project.last_used = Some(Instant::now());
                if project.keys.contains(key) {
                    return;
                }
            }
        }
        // A whole directory input is watched through its subdirectories too
        // (bounded), found before taking the lock; a listing, in itself, and a
        // git-tracked listing through the git index as well.
        // The venv too (`venv_files`).
        let venv_files = venv_files(root);
        let mut inputs: Vec<&PathBuf> = venv_files.iter().collect();
        let mut trees: HashMap<&Path, Vec<PathBuf>> = HashMap::new();
        for input in &generation.inputs {
            inputs.push(&input.path);
            match &input.state {
                FileState::Dir { .. } => {
                    let below = crate::cache::subdirs(&input.path, SUBDIRS);
                    trees.insert(&input.path, below);
                }
                FileState::Listing { index, .. } => {
                    trees.insert(&input.path, Vec::new());
                    inputs.extend(index);
                }
                _ => {}
            }
        }
        let (add, remove) = {
            let mut guard = locked(&self.inner.watched);
            let watched = &mut *guard;
            let project = watched.projects.entry(root.to_path_buf()).or_default();
            project.last_used = Some(Instant::now());
            if !project.keys.insert(key.to_string()) {
                return;
            }
            let mut add = Vec::new();
            for &input in &inputs {
                let mut dirs: Vec<PathBuf> =
                    input.parent().map(Path::to_path_buf).into_iter().collect();
                if let Some(below) = trees.get(input.as_path()) {
                    dirs.push(input.clone());
                    dirs.extend(below.iter().cloned());
                }
                watched
                    .input_roots
                    .entry(input.clone())
                    .or_default()
                    .insert(root.to_path_buf());
                project.inputs.insert(input.clone());
                add.extend(take_dirs(&mut watched.dir_refs, project, dirs));
            }
            let mut remove = Vec::new();
            while watched.projects.len() > limit {
                let oldest = watched
                    .projects
                    .iter()
                    .filter(|(r, _)| r.as_path() != root)
                    .min_by_key(|(_, p)| p.last_used)
                    .map(|(root, _)| root.clone());
                let Some(oldest) = oldest else { break };
                remove.extend(unwatch(watched, &oldest));
            }
            (add, remove)
        };
        self.apply(add, remove);
    }

    /// Adds and removes inotify watches (never with `watched` locked).
    fn apply(&self, add: Vec<PathBuf>, remove: Vec<PathBuf>) {
        let mut notify = locked(&self.inner.notify);
        let Some(w) = notify.as_mut() else { return };
        for dir in remove {
            let _ = w.unwatch(&dir);
        }
        for dir in add {
            if let Err(e) = w.watch(&dir, RecursiveMode::NonRecursive) {
                let mut watched = locked(&self.inner.watched);
                if !watched.warned {
                    log::warn!(
                        "cannot watch {} ({}); changes there are noticed when a shell asks",
                        dir.display(),
                        describe(&e)
                    );
                    watched.warned = true;
                }
            }
        }
    }
}

/// Forgets `root`'s watches; returns the directories no other project needs.
fn unwatch(watched: &mut Watched, root: &Path) -> Vec<PathBuf> {
    let Some(project) = watched.projects.remove(root) else {
        return Vec::new();
    };
    let mut released = Vec::new();
    for dir in project.dirs {
        let refs = watched.dir_refs.entry(dir.clone()).or_insert(1);
        *refs -= 1;
        if *refs == 0 {
            watched.dir_refs.remove(&dir);
            released.push(dir);
        }
    }
    for input in project.inputs {
        if let Some(roots) = watched.input_roots.get_mut(&input) {
            roots.remove(root);
            if roots.is_empty() {
                watched.input_roots.remove(&input);
            }
        }
    }
    released
}

/// inotify's resource errors, with what to do about them.
fn describe(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "the inotify watch limit is reached; raise fs.inotify.max_user_watches".into()
        }
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => {
            "too many open files; raise fs.inotify.max_user_instances".into()
        }
        _ => e.to_string(),
    }
}

impl Inner {
    /// Runs on notify's thread: only hands the paths on, taking no lock.
    fn on_event(&self, event: notify::Event) {
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return;
        }
        let _ = self.changes.send(event.paths);
    }

    /// The projects whose inputs `paths` are: a file itself, or anything below a
    /// directory that is an input.
    fn roots_of(&self, paths: &[PathBuf]) -> HashSet<PathBuf> {
        let watched = locked(&self.watched);
        paths
            .iter()
            // git's own bookkeeping is not below any input (directory inputs leave
            // it out); a git index may be an input itself.
            .flat_map(|p| {
                let in_git = p.components().any(|c| c.as_os_str() == ".git");
                p.ancestors().take(if in_git { 1 } else { usize::MAX })
            })
            .filter_map(|p| watched.input_roots.get(p))
            .flatten()
            .cloned()
            .collect()
    }

    /// Debounces changes per project, then sends the roots that changed.
    fn debounce_loop(&self, rx: Receiver<Vec<PathBuf>>, changed: Sender<Vec<PathBuf>>) {
        // Project root to (first event, last event).
        let mut pending: HashMap<PathBuf, (Instant, Instant)> = HashMap::new();
        loop {
            let timeout = pending
                .values()
                .map(|(first, last)| (*last + QUIET).min(*first + MAX_DELAY))
                .min()
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(timeout) {
                Ok(paths) => {
                    // Everything already queued is taken before anything is
                    // found due: a pause of this thread never splits a burst.
                    let queued = std::iter::once(paths).chain(rx.try_iter());
                    let now = Instant::now();
                    for paths in queued {
                        for root in self.roots_of(&paths) {
                            pending
                                .entry(root)
                                .and_modify(|(_, last)| *last = now)
                                .or_insert((now, now));
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Due items are handled on every pass, so a steady stream of events
            // cannot hold them back past MAX_DELAY.
            let now = Instant::now();
            let due: Vec<PathBuf> = pending
                .iter()
                .filter(|(_, (first, last))| now >= *last + QUIET || now >= *first + MAX_DELAY)
                .map(|(root, _)| root.clone())
                .collect();
            for root in &due {
                pending.remove(root);
            }
            if !due.is_empty() && changed.send(due).is_err() {
                return;
            }
        }
    }
}
