//! The client side of the socket: connect to the daemon, starting it when none
//! answers (under a lock, so two clients never start two daemons), and exchange one
//! request for one response. A daemon of another version is asked to stop and
//! replaced.

use crate::paths::{Paths, private_dir};
use crate::protocol::{Envelope, MAX_MESSAGE, PROTOCOL, Request, Response, VERSION};
use crate::recipe::Env;
use crate::sync::poll_until;
use serde::Deserialize as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not reach the daemon at {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("could not start the daemon: {0} (see {1})")]
    Start(String, String),
    #[error("lost the connection to the daemon: {0}")]
    Io(#[from] std::io::Error),
    /// Something on this machine failed before any daemon was involved: not a
    /// lost connection, and nothing a retry would mend.
    #[error("could not {0}: {1}")]
    Local(String, std::io::Error),
    #[error("the daemon sent a reply this dwell cannot read: {0}")]
    Protocol(String),
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error("interrupted")]
    Interrupted,
    #[error("the daemon stopped answering (nothing for {} s)", STALL.as_secs())]
    Stalled,
    #[error(transparent)]
    UnsafeRuntime(#[from] crate::safe_fs::UnsafeDir),
    #[error(
        "the process answering on {0} runs as uid {1}, not as you (uid {2}); dwell does not talk to it"
    )]
    ForeignDaemon(String, u32, u32),
}

/// Checks dwell's runtime directory before anything in it is used: a real
/// directory owned by this user and closed to others, or absent (then dwell
/// makes it). Another local user could otherwise answer in the daemon's place.
pub fn check_runtime(paths: &Paths) -> Result<(), ClientError> {
    crate::safe_fs::check_private_dir(&paths.runtime)?;
    Ok(())
}

/// The generation counter file the shell hooks may read, when the runtime
/// directory passes [`check_runtime`] and the file is this user's own regular
/// file (or not written yet); None otherwise (every prompt then asks).
///
/// This is the one rule for every shell: a hook reads only the file dwell named
/// here. At each prompt the hooks check again that it is a regular file and not
/// a link (a FIFO would block the prompt), and its owner where the shell can
/// tell without a process (bash, zsh, fish, xonsh; Nushell when it is named;
/// elvish has no way and relies on this check and the private directory).
pub fn safe_generation_file() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let paths = Paths::from_env().ok()?;
    // Only a directory that exists and passed: one that does not exist yet could
    // still be made by someone else.
    if !crate::safe_fs::check_private_dir(&paths.runtime).ok()? {
        return None;
    }
    let file = paths.generation_file();
    match std::fs::symlink_metadata(&file) {
        Ok(meta) if !meta.is_file() || meta.uid() != rustix::process::getuid().as_raw() => None,
        _ => Some(file),
    }
}

/// Connects to the daemon's socket, after checking the runtime directory, and
/// checks that the peer runs as this user.
fn connect(paths: &Paths) -> Result<UnixStream, ClientError> {
    check_runtime(paths)?;
    let socket = paths.socket();
    let stream = UnixStream::connect(&socket)
        .map_err(|e| ClientError::Connect(socket.display().to_string(), e))?;
    let me = rustix::process::getuid().as_raw();
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map(|cred| cred.uid.as_raw())
        .map_err(|e| ClientError::Connect(socket.display().to_string(), e.into()))?;
    if peer != me {
        return Err(ClientError::ForeignDaemon(
            socket.display().to_string(),
            peer,
            me,
        ));
    }
    Ok(stream)
}

/// A daemon that sends nothing for this long, not even progress (sent at least
/// every second while it works), is taken for stuck.
pub const STALL: Duration = Duration::from_secs(30);

/// A reply as read, before its body is decoded: a daemon of another version may
/// speak another protocol, so the versions are looked at first.
type Reply = Envelope<serde_json::Value>;

/// Called with each progress line and the milliseconds elapsed.
pub type OnProgress<'a> = &'a mut dyn FnMut(&str, u64);

/// How a client follows a long request: progress lines, and a flag (set by
/// SIGINT) that stops waiting.
#[derive(Default)]
pub struct Follow<'a> {
    pub on_progress: Option<OnProgress<'a>>,
    pub interrupted: Option<&'a AtomicBool>,
}

/// Sends one request on a new connection and reads the reply, passing progress
/// lines to `follow` on the way.
fn exchange(
    paths: &Paths,
    request: &Request,
    timeout: Option<Duration>,
    follow: &mut Follow,
) -> Result<Reply, ClientError> {
    let mut stream = connect(paths)?;
    // With an interrupt flag, wake up regularly to look at it.
    let poll = follow.interrupted.map(|_| Duration::from_millis(100));
    stream.set_read_timeout(poll.or(timeout))?;
    let mut line = crate::protocol::to_json(&Envelope::new(request));
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reader = BufReader::new(stream);
    let started = Instant::now();
    loop {
        let mut buf = Vec::new();
        let waiting = Instant::now();
        loop {
            match (&mut reader)
                .take(MAX_MESSAGE as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(_) => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if follow.interrupted.is_some_and(|f| f.load(Ordering::SeqCst)) {
                        return Err(ClientError::Interrupted);
                    }
                    if poll.is_some() && timeout.is_some_and(|t| started.elapsed() > t) {
                        return Err(ClientError::Io(e));
                    }
                    if poll.is_some() && waiting.elapsed() > STALL {
                        return Err(ClientError::Stalled);
                    }
                }
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
        if buf.is_empty() {
            return Err(ClientError::Protocol(
                "the daemon closed the connection".into(),
            ));
        }
        let reply: Reply =
            serde_json::from_slice(&buf).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if reply.protocol == PROTOCOL
            && let Ok(Response::Progress { line, elapsed_ms }) = Response::deserialize(&reply.body)
        {
            if let Some(f) = follow.on_progress.as_mut() {
                f(&line, elapsed_ms);
            }
            continue;
        }
        return Ok(reply);
    }
}

use std::io::Read as _;

fn is_absent(e: &ClientError) -> bool {
    matches!(e, ClientError::Connect(_, io) if matches!(
        io.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    ))
}

/// Sends `request` to a running daemon; never starts one. None if no daemon runs.
pub fn request_running(paths: &Paths, request: &Request) -> Result<Option<Response>, ClientError> {
    match exchange(
        paths,
        request,
        Some(Duration::from_secs(10)),
        &mut Follow::default(),
    ) {
        Ok(reply) => decode(reply).map(Some),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn decode(reply: Reply) -> Result<Response, ClientError> {
    if reply.protocol != PROTOCOL {
        return Err(ClientError::Protocol(format!(
            "protocol {} (this dwell speaks {PROTOCOL})",
            reply.protocol
        )));
    }
    serde_json::from_value(reply.body).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Sends `request`, starting the daemon (with environment `daemon_env`) if needed.
pub fn request(
    paths: &Paths,
    request: &Request,
    daemon_env: &Env,
    follow: &mut Follow,
) -> Result<Response, ClientError> {
    // Evaluations can take minutes: a resolve waits as long as the daemon works.
    let timeout = match request {
        Request::Resolve { wait: true, .. } | Request::Reload { .. } => None,
        Request::Resolve { wait: false, .. } => Some(STALL),
        _ => Some(Duration::from_secs(10)),
    };
    let mut restarted = false;
    loop {
        match exchange(paths, request, timeout, follow) {
            Ok(reply) if reply.protocol == PROTOCOL && reply.dwell == VERSION => {
                return decode(reply);
            }
            Ok(_) if !restarted => {
                // Another dwell's daemon: ask it to go, then start ours.
                let _ = exchange(
                    paths,
                    &Request::Stop,
                    Some(Duration::from_secs(5)),
                    &mut Follow::default(),
                );
                wait_gone(paths);
                start(paths, daemon_env)?;
                restarted = true;
            }
            Ok(reply) => return decode(reply),
            Err(e) if is_absent(&e) && !restarted => {
                start(paths, daemon_env)?;
                restarted = true;
            }
            Err(e) => return Err(e),
        }
    }
}

fn wait_gone(paths: &Paths) {
    let deadline = Instant::now() + Duration::from_secs(5);
    poll_until(Some(deadline), Duration::from_millis(10), || {
        !paths.socket().exists()
    });
}

/// Starts a detached daemon and waits until it answers. Holds the start lock so
/// that concurrent clients start one daemon between them.
#[allow(
    unsafe_code,
    reason = "one system call std has no safe form for; see SAFETY"
)]
fn start(paths: &Paths, daemon_env: &Env) -> Result<(), ClientError> {
    check_runtime(paths)?;
    private_dir(&paths.runtime)?;
    private_dir(&paths.state)?;
    let local = |what: String| move |e: std::io::Error| ClientError::Local(what, e);
    let lock_path = paths.start_lock();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(local(format!(
            "open the start lock {}",
            lock_path.display()
        )))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| local("lock the start lock".into())(e.into()))?;
    if connect(paths).is_ok() {
        return Ok(());
    }
    let log_path = paths.daemon_log();
    let log = crate::paths::open_log(&log_path)
        .map_err(local(format!("open the daemon log {}", log_path.display())))?;
    let exe = std::env::current_exe().map_err(local("find dwell's own executable".into()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .env_clear()
        .envs(daemon_env.iter().map(|(k, v)| (k, v.as_os_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from the shell's
    // session and terminal so that closing the terminal does not end it.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ClientError::Start(e.to_string(), log_path.display().to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut exited = None;
    let answered = poll_until(Some(deadline), Duration::from_millis(5), || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
        }
        exited.is_some() || connect(paths).is_ok()
    });
    match exited {
        Some(status) => Err(ClientError::Start(
            format!("it exited with {status}"),
            log_path.display().to_string(),
        )),
        None if answered => {
            // Reap it later: the daemon outlives us, and init adopts it.
            std::mem::forget(child);
            Ok(())
        }
        None => Err(ClientError::Start(
            "it did not answer within 10 s".into(),
            log_path.display().to_string(),
        )),
    }
}
