//! What an evaluation opened inside a flake's source in the Nix store.
//!
//! Nix evaluates a flake from a copy of its source in the store. Store paths are
//! immutable and nothing else has a reason to read a project's fresh copy, so every
//! open inside it while `nix print-dev-env` runs is the evaluation reading: a file
//! opened is a file read (`import`, `readFile`, a copy to the store through
//! `"${./x}"` or `builtins.path`), a directory opened is its listing read
//! (`readDir`, a copy). inotify reports both, with any path expression Nix used to
//! get there (`self + "/x"`, `./. + name`, `inputs.self.outPath`), on every Nix
//! version that copies flakes to the store (2.8 to 2.26 at least).
//!
//! What inotify cannot see stays with the callers: a `pathExists` (a stat, no
//! open), and a store path used without being read (`src = self`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Directories of one source watched at most; a bigger source is not traced
/// (the caller stays conservative).
pub const MAX_DIRS: usize = 4096;

/// Paths relative to the source's root that were opened, and how many times.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opened {
    pub files: BTreeMap<PathBuf, u32>,
    pub dirs: BTreeMap<PathBuf, u32>,
}

impl Opened {
    /// Everything in the tree at `root`: what an evaluation that used the whole
    /// source (as a store path, `src = self`) depends on.
    pub fn everything(root: &Path) -> std::io::Result<Opened> {
        let mut all = Opened::default();
        all.dirs.insert(PathBuf::new(), 1);
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for entry in std::fs::read_dir(root.join(&rel))? {
                let entry = entry?;
                let path = rel.join(entry.file_name());
                if entry.file_type()?.is_dir() {
                    stack.push(path.clone());
                    all.dirs.insert(path, 1);
                } else {
                    all.files.insert(path, 1);
                }
            }
        }
        Ok(all)
    }

    /// Takes away one whole read of the tree at `root`, which Nix made before
    /// evaluating (Nix 2.26 hashes a `path:` flake's store copy again, reading
    /// every file once). Nothing is taken when some path was not opened at all:
    /// then no such read happened, and every open is the evaluation's.
    pub fn without_one_dump(mut self, root: &Path) -> Opened {
        let Ok(all) = Opened::everything(root) else {
            return self;
        };
        // A symlink is read (readlink), never opened: it cannot show.
        let covered = |seen: &BTreeMap<PathBuf, u32>, all: &BTreeMap<PathBuf, u32>| {
            all.keys().all(|p| {
                seen.contains_key(p)
                    || std::fs::symlink_metadata(root.join(p)).is_ok_and(|m| m.is_symlink())
            })
        };
        if !covered(&self.files, &all.files) || !covered(&self.dirs, &all.dirs) {
            return self;
        }
        for counts in [&mut self.files, &mut self.dirs] {
            counts.retain(|_, n| {
                *n -= 1;
                *n > 0
            });
        }
        self
    }
}

/// A running trace of the opens below one directory tree. Its thread sleeps in
/// `poll` until an open or the stop arrives: no time is spent between events.
pub struct Trace {
    /// Written once to end the trace: an eventfd the thread polls.
    stop: Fd,
    thread: Option<std::thread::JoinHandle<Option<Opened>>>,
}

impl Drop for Trace {
    /// A trace given up (the evaluation failed to start) ends its thread too.
    fn drop(&mut self) {
        signal(&self.stop);
    }
}

impl Trace {
    /// Starts tracing opens below `root`. None when it cannot be traced here (not
    /// Linux, no inotify, more than [`MAX_DIRS`] directories).
    pub fn start(root: &Path) -> Option<Trace> {
        let (fd, dirs) = watch_tree(root)?;
        let stop = stop_fd()?;
        let stopped = duplicate(&stop)?;
        let thread = std::thread::Builder::new()
            .name("dwell-trace".into())
            .spawn(move || read_events(fd, dirs, &stopped))
            .ok()?;
        Some(Trace {
            stop,
            thread: Some(thread),
        })
    }

    /// Ends the trace (call it after the evaluation exited: its opens are queued
    /// by then). None when events were lost: the caller must assume everything.
    pub fn finish(mut self) -> Option<Opened> {
        signal(&self.stop);
        self.thread.take()?.join().ok().flatten()
    }
}

#[cfg(target_os = "linux")]
type Fd = std::os::fd::OwnedFd;
#[cfg(not(target_os = "linux"))]
type Fd = ();

#[cfg(target_os = "linux")]
fn stop_fd() -> Option<Fd> {
    use rustix::event::{EventfdFlags, eventfd};
    eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok()
}

#[cfg(target_os = "linux")]
fn duplicate(fd: &Fd) -> Option<Fd> {
    fd.try_clone().ok()
}

/// Tells the trace's thread to stop (more than once is harmless).
#[cfg(target_os = "linux")]
fn signal(stop: &Fd) {
    let _ = rustix::io::write(stop, &1u64.to_ne_bytes());
}

#[cfg(not(target_os = "linux"))]
fn stop_fd() -> Option<Fd> {
    None
}

#[cfg(not(target_os = "linux"))]
fn duplicate(_fd: &Fd) -> Option<Fd> {
    None
}

#[cfg(not(target_os = "linux"))]
fn signal(_stop: &Fd) {}

/// An inotify instance watching every directory below `root` for opens, with the
/// relative path of each watch.
#[cfg(target_os = "linux")]
fn watch_tree(root: &Path) -> Option<(Fd, HashMap<i32, PathBuf>)> {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    // The tree is listed before any watch is added: listing it is an open.
    let mut tree = vec![PathBuf::new()];
    let mut next = 0;
    while let Some(rel) = tree.get(next).cloned() {
        next += 1;
        for entry in std::fs::read_dir(root.join(&rel)).ok()? {
            let entry = entry.ok()?;
            if entry.file_type().ok()?.is_dir() {
                tree.push(rel.join(entry.file_name()));
            }
        }
        if tree.len() > MAX_DIRS {
            return None;
        }
    }
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok()?;
    let mut dirs = HashMap::new();
    for rel in tree {
        let flags = WatchFlags::OPEN | WatchFlags::ONLYDIR | WatchFlags::DONT_FOLLOW;
        let wd = inotify::add_watch(&fd, root.join(&rel), flags).ok()?;
        dirs.insert(wd, rel);
    }
    Some((fd, dirs))
}

#[cfg(not(target_os = "linux"))]
fn watch_tree(_root: &Path) -> Option<(Fd, HashMap<i32, PathBuf>)> {
    None
}

/// Collects opens until `stop` is signalled and the queue is drained.
#[cfg(target_os = "linux")]
fn read_events(fd: Fd, dirs: HashMap<i32, PathBuf>, stop: &Fd) -> Option<Opened> {
    use rustix::event::{PollFd, PollFlags, poll};
    use rustix::fs::inotify::{ReadFlags, Reader};
    use std::os::unix::ffi::OsStrExt;
    let mut opened = Opened::default();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16 << 10];
    let mut reader = Reader::new(&fd, &mut buf);
    // Set once the stop arrived: from then on the queue is read to its end (the
    // evaluation exited before, so every open it made is queued), then done.
    let mut stopping = false;
    loop {
        match reader.next() {
            Ok(event) => {
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    return None;
                }
                let Some(dir) = dirs.get(&event.wd()) else {
                    continue;
                };
                match event.file_name() {
                    // The watched directory itself was opened: its listing.
                    None if flags.contains(ReadFlags::OPEN) => {
                        *opened.dirs.entry(dir.clone()).or_default() += 1;
                    }
                    Some(name) if !flags.contains(ReadFlags::ISDIR) => {
                        let name = std::ffi::OsStr::from_bytes(name.to_bytes());
                        *opened.files.entry(dir.join(name)).or_default() += 1;
                    }
                    _ => {}
                }
            }
            Err(rustix::io::Errno::AGAIN) if stopping => return Some(opened),
            Err(rustix::io::Errno::AGAIN) => {
                // Asleep until an open is queued or the stop arrives.
                let mut fds = [
                    PollFd::new(&fd, PollFlags::IN),
                    PollFd::new(stop, PollFlags::IN),
                ];
                match poll(&mut fds, None) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(_) => return None,
                }
                stopping |= !fds[1].revents().is_empty();
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn read_events(_fd: Fd, _dirs: HashMap<i32, PathBuf>, _stop: &Fd) -> Option<Opened> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn reads_are_seen_and_only_they() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("read.txt"), "x").unwrap();
        std::fs::write(root.join("unread.txt"), "x").unwrap();
        std::fs::write(root.join("a/b/deep.txt"), "x").unwrap();
        let trace = Trace::start(root).expect("inotify works here");
        std::fs::read(root.join("read.txt")).unwrap();
        std::fs::read(root.join("a/b/deep.txt")).unwrap();
        std::fs::read_dir(root.join("a")).unwrap().for_each(drop);
        // A stat is not a read.
        std::fs::metadata(root.join("unread.txt")).unwrap();
        let opened = trace.finish().expect("no events lost");
        let names = |m: &BTreeMap<PathBuf, u32>| -> Vec<String> {
            m.keys().map(|p| p.display().to_string()).collect()
        };
        assert_eq!(names(&opened.files), ["a/b/deep.txt", "read.txt"]);
        assert_eq!(names(&opened.dirs), ["a"]);
        let all = Opened::everything(root).unwrap();
        assert_eq!(all.files.len(), 3);
        assert_eq!(all.dirs.len(), 3, "the root, a and a/b");
        // Not every path was opened: no dump to take away.
        assert_eq!(opened.without_one_dump(root).files.len(), 2);
    }

    #[test]
    fn a_dump_before_the_evaluation_is_taken_away() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("flake.nix"), "{}").unwrap();
        std::fs::write(root.join("sub/unread.txt"), "x").unwrap();
        let mut opened = Opened::everything(root).unwrap();
        *opened.files.get_mut(Path::new("flake.nix")).unwrap() += 1;
        // A symlink in the source is never opened by the dump (only read).
        std::os::unix::fs::symlink("flake.nix", root.join("result")).unwrap();
        let left = opened.without_one_dump(root);
        assert_eq!(
            left.files.keys().collect::<Vec<_>>(),
            [Path::new("flake.nix")]
        );
        assert!(left.dirs.is_empty());
    }

    /// The voluntary context switches of this process's thread named `name`
    /// (the newest, if several).
    fn wakeups_of(name: &str) -> Option<u64> {
        let mut tasks: Vec<_> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| t.ok())
            .filter_map(|t| t.file_name().to_str()?.parse::<u32>().ok())
            .collect();
        tasks.sort();
        tasks.into_iter().rev().find_map(|tid| {
            let dir = format!("/proc/self/task/{tid}");
            let comm = std::fs::read_to_string(format!("{dir}/comm")).ok()?;
            (comm.trim() == name).then_some(())?;
            let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok())
        })
    }

    #[test]
    fn an_idle_trace_sleeps() {
        let dir = tempfile::tempdir().unwrap();
        let trace = Trace::start(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let before = wakeups_of("dwell-trace").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let woke = wakeups_of("dwell-trace").unwrap() - before;
        std::fs::write(dir.path().join("late"), "x").unwrap();
        let opened = trace.finish().unwrap();
        assert!(opened.files.contains_key(Path::new("late")));
        // A 2 ms poll would wake 150 times in 300 ms.
        assert!(woke < 5, "an idle trace woke {woke} times");
    }
}
