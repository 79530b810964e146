//! The daemon: one per user, serving environments over a Unix socket. It holds a
//! lock for its lifetime (so a second one exits), keeps the generation counter that
//! the shell hooks read, and watches the inputs of the projects it served.

mod counter;
pub mod logger;
mod server;
mod watch;

pub use counter::Counter;
pub use watch::Watcher;

use crate::engine::{Engine, Event, Events, Nix};
use crate::paths::{Paths, private_dir};
use std::os::unix::net::UnixListener;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("another dwell daemon is already running (lock {0})")]
    AlreadyRunning(String),
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error(transparent)]
    Unsafe(#[from] crate::safe_fs::UnsafeDir),
    #[error("could not {0}: {1}")]
    Io(&'static str, std::io::Error),
}

/// Runs the daemon until it is told to stop or gets SIGTERM/SIGINT.
pub fn run(paths: Paths) -> Result<(), DaemonError> {
    // The same check as every client makes: never serve from a directory another
    // user made or can write.
    crate::safe_fs::check_private_dir(&paths.runtime)?;
    private_dir(&paths.runtime)?;
    let lock = take_lock(&paths)?;
    private_dir(&paths.state)?;
    logger::init(paths.daemon_log());
    // We hold the lock: any socket file left is from a daemon that died.
    let socket = paths.socket();
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).map_err(|e| DaemonError::Io("bind the socket", e))?;
    let bound = socket_identity(&socket).map_err(|e| DaemonError::Io("stat the socket", e))?;

    let counter = Arc::new(Counter::new(paths.generation_file()));
    counter.bump();
    // The watcher first: the engine's events go to it. Its limit is set from the
    // engine's settings once the engine is made.
    let (watcher, changed) = Watcher::new(crate::config::DEFAULT_WATCH_PROJECTS);
    let events = engine_events(&watcher, &counter, &paths);
    let engine = Arc::new(Engine::with(
        paths.clone(),
        Arc::new(Nix::new(&paths.cache)),
        events,
    ));
    watcher.set_limit(engine.settings().watch_projects);
    {
        let (engine, counter) = (engine.clone(), counter.clone());
        std::thread::spawn(move || follow_changes(&engine, &counter, changed));
    }
    let shutdown: Arc<dyn Fn() + Send + Sync> = {
        let paths = paths.clone();
        Arc::new(move || {
            crate::process::kill_running();
            // Only our own files: a new daemon may serve in our place already.
            if socket_identity(&paths.socket()).ok() == Some(bound) {
                let _ = std::fs::remove_file(paths.socket());
                let _ = std::fs::remove_file(paths.generation_file());
            }
        })
    };
    on_signals(&engine, &watcher, shutdown.clone())?;
    {
        let engine = engine.clone();
        std::thread::spawn(move || prune_on_schedule(&engine));
    }
    {
        let socket = socket.clone();
        std::thread::spawn(move || exit_when_the_socket_is_gone(&socket, bound));
    }
    ::log::info!(
        "dwell daemon {} (pid {}) serving {}",
        crate::protocol::VERSION,
        std::process::id(),
        socket.display()
    );
    serve(listener, &engine, &counter, &watcher, &shutdown);
    drop(lock);
    Ok(())
}

/// Takes the daemon lock, or says another daemon runs. A daemon that is shutting
/// down still holds the lock for a moment after its socket is gone: waited for.
/// One that answers on the socket is running.
fn take_lock(paths: &Paths) -> Result<std::fs::File, DaemonError> {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths.daemon_lock())
        .map_err(|e| DaemonError::Io("open the daemon lock", e))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut answering = false;
    let locked_it =
        crate::sync::poll_until(Some(deadline), std::time::Duration::from_millis(10), || {
            if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_ok()
            {
                answering = false;
                return true;
            }
            answering = std::os::unix::net::UnixStream::connect(paths.socket()).is_ok();
            answering
        });
    if !locked_it || answering {
        return Err(DaemonError::AlreadyRunning(
            paths.daemon_lock().display().to_string(),
        ));
    }
    Ok(lock)
}

/// Where the engine's events go: what it reports is logged, what it served is
/// watched before the answer leaves, and shells are told when a result nobody
/// waited for is ready.
fn engine_events(watcher: &Watcher, counter: &Arc<Counter>, paths: &Paths) -> Events {
    let watcher = watcher.clone();
    let counter = counter.clone();
    let marker_paths = paths.clone();
    Events::to(move |event| match &event {
        Event::Served(generation) => watcher.watch(generation),
        Event::Ready { root } => {
            counter.bump();
            // `dwell direnv` has direnv watch this file: the new environment
            // reaches a direnv shell at its next prompt.
            let _ = move_marker(&marker_paths.project_marker(root));
        }
        _ => ::log::info!("{event}"),
    })
}

/// Moves a project's marker file (if `dwell direnv` made one) to a later second
/// than it had: direnv compares modification times to the second, and an
/// environment that lands within the second the marker was last seen in must
/// still reach it.
fn move_marker(marker: &std::path::Path) -> std::io::Result<()> {
    use std::time::{Duration, SystemTime};
    let file = match std::fs::File::options().append(true).open(marker) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    let whole_second_after = |t: SystemTime| {
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs() + 1)
    };
    let now = SystemTime::now();
    let later = file.metadata()?.modified().map(whole_second_after)?;
    file.set_modified(now.max(later))
}

/// Projects whose inputs changed: forget what was known, evaluate again in the
/// background if a shell used them lately, and send every shell down the slow
/// path once.
fn follow_changes(
    engine: &Arc<Engine>,
    counter: &Counter,
    changed: std::sync::mpsc::Receiver<Vec<std::path::PathBuf>>,
) {
    for roots in changed {
        for root in &roots {
            engine.forget(root);
            // One line per change handled: what tests wait on, instead of
            // sleeping.
            let next = match engine.refresh(root) {
                true => "evaluating in the background",
                false => "nothing to evaluate now",
            };
            ::log::info!("inputs of {} changed: {next}", root.display());
        }
        counter.bump();
    }
}

/// SIGHUP reloads the user config; SIGTERM and SIGINT shut the daemon down.
fn on_signals(
    engine: &Arc<Engine>,
    watcher: &Watcher,
    shutdown: Arc<dyn Fn() + Send + Sync>,
) -> Result<(), DaemonError> {
    let (engine, watcher) = (engine.clone(), watcher.clone());
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| DaemonError::Io("install signal handlers", e))?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == signal_hook::consts::SIGHUP {
                match engine.reload_settings() {
                    Ok(()) => watcher.set_limit(engine.settings().watch_projects),
                    Err(e) => ::log::warn!("keeping the previous user config: {e}"),
                }
                continue;
            }
            shutdown();
            std::process::exit(0);
        }
    });
    Ok(())
}

/// A daemon whose socket was removed (`rm -rf` of the runtime dir) or replaced
/// can no longer be reached, and a new one may already serve in its place: it
/// stops its evaluations and exits, touching nothing of the new daemon's.
fn exit_when_the_socket_is_gone(socket: &std::path::Path, bound: (u64, u64)) {
    loop {
        std::thread::sleep(SOCKET_CHECK);
        if socket_identity(socket).ok() != Some(bound) {
            ::log::warn!(
                "{} is gone or no longer this daemon's; stopping",
                socket.display()
            );
            crate::process::kill_running();
            std::process::exit(0);
        }
    }
}

/// Accepts connections, each handled in a thread of its own (at most
/// [`MAX_CONNECTIONS`] at once), until one asks the daemon to stop.
fn serve(
    listener: UnixListener,
    engine: &Arc<Engine>,
    counter: &Arc<Counter>,
    watcher: &Watcher,
    shutdown: &Arc<dyn Fn() + Send + Sync>,
) {
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors or memory: wait for connections to end
                // instead of spinning; the daemon keeps serving.
                ::log::error!("accept failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let Some(slot) = Slot::take(&active) else {
            server::refuse(
                stream,
                "the daemon is busy (too many connections); try again",
            );
            continue;
        };
        let engine = engine.clone();
        let counter = counter.clone();
        let watcher = watcher.clone();
        let shutdown = shutdown.clone();
        let spawned = std::thread::Builder::new()
            .name("dwell-conn".into())
            .spawn(move || {
                let _slot = slot;
                if server::handle(stream, &engine, &counter, &watcher) == server::After::Stop {
                    shutdown();
                    std::process::exit(0);
                }
            });
        // No thread to be had: the connection (moved into the closure) is closed,
        // its slot freed, and the daemon goes on.
        if let Err(e) = spawned {
            ::log::error!("could not start a connection handler: {e}");
        }
    }
}

/// Connections served at once; more are refused with a clear reply, so a flood
/// of connections cannot exhaust the daemon's threads.
pub const MAX_CONNECTIONS: usize = 128;

/// How often the daemon checks that its socket is still its own.
const SOCKET_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// A socket file's identity (device, inode).
fn socket_identity(socket: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(socket)?;
    Ok((meta.dev(), meta.ino()))
}

/// One of the [`MAX_CONNECTIONS`] handler slots, given back when dropped.
struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Slot {
    fn take(active: &Arc<std::sync::atomic::AtomicUsize>) -> Option<Slot> {
        use std::sync::atomic::Ordering;
        active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_CONNECTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(active.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Prunes by the user config's policy (`prune_after`, default 30 days) at start and
/// then once a day.
fn prune_on_schedule(engine: &Engine) {
    loop {
        if let Some(age) = engine.settings().prune_after {
            let pruned = engine.cache().prune(age, false);
            ::log::info!(
                "pruned {} generations not used for {} days",
                pruned.generations,
                age.as_secs() / 86400
            );
        }
        let orphans = engine.cache().prune_orphan_roots(
            &engine.paths().gcroots(),
            crate::cache::ORPHAN_AGE,
            false,
        );
        if orphans > 0 {
            ::log::info!("removed {orphans} GC roots that no generation uses");
        }
        std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    }
}
