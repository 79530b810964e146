//! The one way dwell runs another program (nix, the capture bash, python, pip,
//! uv): in a process group of its own, registered so that a daemon shutting down
//! can end it, with its output collected, each line passed on as it arrives, and
//! an optional deadline after which the whole group is stopped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
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

/// Reads `pipe` to its end in a thread, passing each line to `on_line`, and
/// says on `ended` (a channel and its own name) when it reached the end.
fn collect(
    pipe: Option<impl Read + Send + 'static>,
    on_line: Option<OnLine>,
    ended: (Sender<usize>, usize),
) -> Reader {
    std::thread::spawn(move || {
        let buf = read_all(pipe, on_line);
        let _ = ended.0.send(ended.1);
        buf
    })
}

fn read_all(pipe: Option<impl Read>, on_line: Option<OnLine>) -> Vec<u8> {
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
}

/// After the program itself ended: stops whatever it left running in its process
/// group (a shellHook's `server &`), so nothing it started outlives the run and
/// its output pipes reach their end; returns the collected (stderr, stdout). The
/// output of a process that left the group (`setsid`) and holds a pipe open is
/// given up after a grace period instead of waited for.
fn end_group(pgid: i32, readers: Readers) -> (Vec<u8>, Vec<u8>) {
    use rustix::process::Signal;
    let Readers {
        stderr,
        stdout,
        ended,
    } = readers;
    signal_group(pgid, Signal::TERM);
    // The readers end a moment after the program; each says so at once.
    let mut done = [false; 2];
    let wait = |done: &mut [bool; 2], within: Duration| {
        let deadline = Instant::now() + within;
        while *done != [true; 2] {
            let left = deadline.saturating_duration_since(Instant::now());
            match ended.recv_timeout(left) {
                Ok(reader) => done[reader] = true,
                Err(_) => return,
            }
        }
    };
    wait(&mut done, Duration::from_secs(2));
    if done != [true; 2] {
        signal_group(pgid, Signal::KILL);
        wait(&mut done, Duration::from_secs(1));
    }
    // A reader that said it ended is joined (it is returning); one still
    // reading is given up with its output.
    let take = |r: Reader, ended: bool| match ended {
        true => r.join().unwrap_or_default(),
        false => Vec::new(),
    };
    (take(stderr, done[STDERR]), take(stdout, done[STDOUT]))
}

/// Which reader says it ended.
const STDERR: usize = 0;
const STDOUT: usize = 1;

type Reader = std::thread::JoinHandle<Vec<u8>>;

/// The two threads reading a program's output, and where they say they ended.
struct Readers {
    stderr: Reader,
    stdout: Reader,
    ended: Receiver<usize>,
}

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
    let (ended_tx, ended) = channel();
    let readers = Readers {
        stderr: collect(
            child.stderr.take(),
            watch.on_line.clone(),
            (ended_tx.clone(), STDERR),
        ),
        stdout: collect(
            child.stdout.take(),
            watch.on_stdout_line.clone(),
            (ended_tx, STDOUT),
        ),
        ended,
    };
    // The program is waited for in a thread of its own that says when it
    // exited: this one sleeps until then or the deadline, never polling.
    let (exited_tx, exited) = channel();
    std::thread::spawn(move || {
        let _ = exited_tx.send(child.wait());
    });
    let lost = || std::io::Error::other(format!("lost track of {what}"));
    let status = match watch.timeout {
        None => exited.recv().unwrap_or_else(|_| Err(lost())),
        // (A limit too far out to represent is no limit: recv_timeout waits.)
        Some(limit) => match exited.recv_timeout(limit) {
            Ok(status) => status,
            Err(RecvTimeoutError::Disconnected) => Err(lost()),
            Err(RecvTimeoutError::Timeout) => {
                // Nix cleans up its builders on SIGTERM; KILL if the group lingers.
                signal_group(pgid, rustix::process::Signal::TERM);
                if exited.recv_timeout(Duration::from_secs(3)).is_err() {
                    signal_group(pgid, rustix::process::Signal::KILL);
                    let _ = exited.recv();
                }
                end_group(pgid, readers);
                unregister(pgid);
                return Err(RunError::TimedOut {
                    what: what.to_string(),
                    limit,
                });
            }
        },
    };
    let (stderr, stdout) = end_group(pgid, readers);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The voluntary context switches of the thread whose `/proc` status this
    /// is: each sleep of a polling loop is one.
    fn wakeups(status: &str) -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("a Linux /proc status")
    }

    fn own_wakeups() -> u64 {
        wakeups(&std::fs::read_to_string("/proc/thread-self/status").unwrap())
    }

    #[test]
    fn waiting_for_a_program_sleeps_until_it_ends() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.5; echo out; echo err >&2"]);
        let watch = Watch {
            timeout: Some(Duration::from_secs(60)),
            ..Watch::default()
        };
        let before = own_wakeups();
        let out = run(cmd, "sh", &watch).unwrap();
        let woke = own_wakeups() - before;
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
        // A 10 ms poll would wake fifty times in half a second.
        assert!(woke < 10, "woke {woke} times waiting");
    }

    #[test]
    fn a_program_past_its_limit_is_stopped() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let watch = Watch {
            timeout: Some(Duration::from_millis(200)),
            ..Watch::default()
        };
        let started = Instant::now();
        let err = run(cmd, "sleep", &watch).err().expect("stopped");
        assert!(matches!(err, RunError::TimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
