//! The daemon: one per user, serving environments over a Unix socket. It holds a
//! lock for its lifetime (so a second one exits), keeps the generation counter that
//! the shell hooks read, and watches the inputs of the projects it served.

mod counter;
mod server;
mod watch;

pub use counter::Counter;
pub use watch::Watcher;

use crate::engine::Engine;
use crate::paths::{Paths, private_dir};
use std::os::unix::net::UnixListener;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("another dwell daemon is already running (lock {0})")]
    AlreadyRunning(String),
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error("could not {0}: {1}")]
    Io(&'static str, std::io::Error),
}

/// Runs the daemon until it is told to stop or gets SIGTERM/SIGINT.
pub fn run(paths: Paths) -> Result<(), DaemonError> {
    private_dir(&paths.runtime)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths.daemon_lock())
        .map_err(|e| DaemonError::Io("open the daemon lock", e))?;
    // A daemon that is shutting down still holds the lock for a moment after its
    // socket is gone: wait for it. One that answers on the socket is running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        if std::os::unix::net::UnixStream::connect(paths.socket()).is_ok()
            || std::time::Instant::now() > deadline
        {
            return Err(DaemonError::AlreadyRunning(
                paths.daemon_lock().display().to_string(),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // We hold the lock: any socket file left is from a daemon that died.
    let socket = paths.socket();
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).map_err(|e| DaemonError::Io("bind the socket", e))?;

    let counter = Arc::new(Counter::new(paths.generation_file()));
    counter.bump();
    let mut engine = Engine::new(paths.clone());
    let watcher = watch::Watcher::new(counter.clone());
    let served_watcher = watcher.clone();
    engine.on_served = Box::new(move |generation| served_watcher.watch(generation));
    let evaluated_counter = counter.clone();
    engine.on_evaluated = Box::new(move || evaluated_counter.bump());
    let engine = Arc::new(engine);
    watcher.attach(engine.clone());

    let shutdown = {
        let paths = paths.clone();
        move || {
            crate::eval::kill_running();
            let _ = std::fs::remove_file(paths.socket());
            let _ = std::fs::remove_file(paths.generation_file());
        }
    };
    let shutdown = Arc::new(shutdown);
    {
        let shutdown = shutdown.clone();
        let engine = engine.clone();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGHUP,
        ])
        .map_err(|e| DaemonError::Io("install signal handlers", e))?;
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if signal == signal_hook::consts::SIGHUP {
                    engine.reload_user_config();
                    continue;
                }
                shutdown();
                std::process::exit(0);
            }
        });
    }
    {
        let engine = engine.clone();
        std::thread::spawn(move || prune_on_schedule(&engine));
    }
    eprintln!(
        "dwell daemon {} (pid {}) serving {}",
        crate::client::VERSION,
        std::process::id(),
        socket.display()
    );
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let engine = engine.clone();
                let counter = counter.clone();
                let watcher = watcher.clone();
                let shutdown = shutdown.clone();
                std::thread::spawn(move || {
                    if server::handle(stream, &engine, &counter, &watcher) == server::After::Stop {
                        shutdown();
                        std::process::exit(0);
                    }
                });
            }
            Err(e) => eprintln!("dwell daemon: accept failed: {e}"),
        }
    }
    drop(lock);
    Ok(())
}

/// Prunes by the user config's policy (`prune_after`, default 30 days) at start and
/// then once a day.
fn prune_on_schedule(engine: &Engine) {
    loop {
        let policy = engine.user.lock().unwrap().prune_after.clone();
        let policy = policy.as_deref().unwrap_or("30d");
        if policy != "off" {
            match crate::config::parse_duration(policy) {
                Ok(age) => {
                    let pruned = engine.cache.prune(age, false);
                    if pruned.generations > 0 {
                        eprintln!(
                            "dwell daemon: pruned {} generations not used for {policy}",
                            pruned.generations
                        );
                    }
                }
                Err(e) => eprintln!("dwell daemon: prune_after in the user config: {e}"),
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    }
}
