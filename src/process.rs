//! The one way dwell runs another program (nix, the capture bash, python, pip,
//! uv): in a process group of its own, registered so that a daemon shutting down
//! can end it, with its output collected, each line passed on as it arrives, and
//! an optional deadline after which the whole group is stopped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Called with each line of a program's output as it arrives.
pub type OnLine = Arc<dyn Fn(&str) + Send + Sync>;

/// How a run reports what the program is doing, and how long it may take.
#[derive(Clone, Default)]
pub struct Watch {
    /// Called with each line the program writes to stderr (Nix's log).
    pub on_line: Option<OnLine>,
    /// Called with each line the program writes to stdout (pip's progress).
    pub on_stdout_line: Option<OnLine>,
    /// Past this, the program's process group is terminated.
    pub timeout: Option<Duration>,
}

/// What a finished program left.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not run {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("{what} ran longer than {} s and was stopped", .limit.as_secs())]
    TimedOut { what: String, limit: Duration },
    #[error("{0} was stopped by a signal")]
    Killed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Process groups of running programs, so a shutting-down daemon can end them.
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Ends every running program's process group (at daemon shutdown).
pub fn kill_running() {
    for pgid in crate::sync::locked(&RUNNING).drain(..) {
        signal_group(pgid, rustix::process::Signal::TERM);
    }
}

fn signal_group(pgid: i32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

fn unregister(pgid: i32) {
    crate::sync::locked(&RUNNING).retain(|&p| p != pgid);
}

/// The most of a program's output kept (a devShell's environment is a few MiB).
const MAX_OUTPUT: usize = 64 << 20;

/// Reads `pipe` to its end in a thread, passing each line to `on_line`.
fn collect(pipe: Option<impl Read + Send + 'static>, on_line: Option<OnLine>) -> Reader {
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut buf = Vec::new();
        let Some(pipe) = pipe else {
            return buf;
        };
        let mut lines = std::io::BufReader::new(pipe);
        loop {
            let start = buf.len();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(f) = &on_line {
                        f(String::from_utf8_lossy(&buf[start..]).trim_end());
                    }
                    // A program that prints without end keeps only its last part.
                    if buf.len() > MAX_OUTPUT {
                        buf.drain(..buf.len() - MAX_OUTPUT / 2);
                    }
                }
            }
        }
        buf
    })
}

/// After the program itself ended: stops whatever it left running in its process
/// group (a shellHook's `server &`), so nothing it started outlives the run and
/// its output pipes reach their end; returns the collected (stderr, stdout). The
/// output of a process that left the group (`setsid`) and holds a pipe open is
/// given up after a grace period instead of waited for.
fn end_group(pgid: i32, stderr: Reader, stdout: Reader) -> (Vec<u8>, Vec<u8>) {
    use rustix::process::Signal;
    let drained = |a: &Reader, b: &Reader| a.is_finished() && b.is_finished();
    let soon = |ms| Instant::now().checked_add(Duration::from_millis(ms));
    signal_group(pgid, Signal::TERM);
    // The readers end a moment after the program: looked at often, so that the
    // ordinary case (nothing left running) costs no sleep worth measuring.
    if !crate::sync::poll_until(soon(2000), Duration::from_micros(200), || {
        drained(&stderr, &stdout)
    }) {
        signal_group(pgid, Signal::KILL);
        crate::sync::poll_until(soon(1000), Duration::from_millis(10), || {
            drained(&stderr, &stdout)
        });
    }
    let take = |r: Reader| {
        if r.is_finished() {
            r.join().unwrap_or_default()
        } else {
            Vec::new()
        }
    };
    (take(stderr), take(stdout))
}

type Reader = std::thread::JoinHandle<Vec<u8>>;

/// Runs `cmd` (called `what` in errors) to its end in its own process group.
pub fn run(mut cmd: Command, what: &str, watch: &Watch) -> Result<Output, RunError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| RunError::Spawn(what.to_string(), e))?;
    let pgid = child.id() as i32;
    crate::sync::locked(&RUNNING).push(pgid);
    let stderr = collect(child.stderr.take(), watch.on_line.clone());
    let stdout = collect(child.stdout.take(), watch.on_stdout_line.clone());
    let status = match watch.timeout {
        None => child.wait(),
        Some(limit) => {
            // A limit too far out to represent is no limit.
            let deadline = Instant::now().checked_add(limit);
            let finished = crate::sync::poll_until(deadline, Duration::from_millis(10), || {
                !matches!(child.try_wait(), Ok(None))
            });
            if !finished {
                // Nix cleans up its builders on SIGTERM; KILL if the group lingers.
                signal_group(pgid, rustix::process::Signal::TERM);
                crate::sync::poll_until(
                    Instant::now().checked_add(Duration::from_secs(3)),
                    Duration::from_millis(20),
                    || !matches!(child.try_wait(), Ok(None)),
                );
                signal_group(pgid, rustix::process::Signal::KILL);
                let _ = child.wait();
                end_group(pgid, stderr, stdout);
                unregister(pgid);
                return Err(RunError::TimedOut {
                    what: what.to_string(),
                    limit,
                });
            }
            child.wait()
        }
    };
    let (stderr, stdout) = end_group(pgid, stderr, stdout);
    unregister(pgid);
    let status = status?;
    use std::os::unix::process::ExitStatusExt;
    if status.signal().is_some() {
        return Err(RunError::Killed(what.to_string()));
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// What `ask` says about the program `binary` (its `--version`), remembered on
/// disk in `dir` by the binary's identity (its real path, size, times and
/// inode), so that a freshly started daemon asks no program it asked before.
/// Without `dir`, or when the file cannot be written, `ask` is simply asked.
pub fn remembered(
    binary: &std::path::Path,
    dir: Option<&std::path::Path>,
    ask: impl FnOnce() -> Option<String>,
) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    let identity = std::fs::metadata(&real).ok().map(|m| {
        let id = format!(
            "{}\0{}\0{}\0{}\0{}",
            real.display(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino()
        );
        blake3::hash(id.as_bytes()).to_hex()[..32].to_string()
    });
    let file = dir.zip(identity).map(|(d, id)| d.join(id));
    if let Some(file) = &file
        && let Ok(Some(bytes)) = crate::safe_fs::read_regular(file, 4096)
        && let Ok(text) = String::from_utf8(bytes)
        && !text.trim().is_empty()
    {
        return Some(text.trim().to_string());
    }
    let answer = ask()?;
    if let Some(file) = &file
        && file
            .parent()
            .is_some_and(|d| crate::paths::private_dir(d).is_ok())
    {
        let _ = crate::paths::write_atomic(file, format!("{answer}\n").as_bytes());
    }
    Some(answer)
}
