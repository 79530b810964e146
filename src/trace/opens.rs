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

/// A running trace of the opens below one directory tree.
pub struct Trace {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Option<Opened>>>,
}

impl Drop for Trace {
    /// A trace given up (the evaluation failed to start) ends its thread too.
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Trace {
    /// Starts tracing opens below `root`. None when it cannot be traced here (not
    /// Linux, no inotify, more than [`MAX_DIRS`] directories).
    pub fn start(root: &Path) -> Option<Trace> {
        let (fd, dirs) = watch_tree(root)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
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
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take()?.join().ok().flatten()
    }
}

#[cfg(target_os = "linux")]
type Fd = std::os::fd::OwnedFd;
#[cfg(not(target_os = "linux"))]
type Fd = ();

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

/// Collects opens until `stop` is set and the queue is drained.
#[cfg(target_os = "linux")]
fn read_events(
    fd: Fd,
    dirs: HashMap<i32, PathBuf>,
    stop: &std::sync::atomic::AtomicBool,
) -> Option<Opened> {
    use rustix::fs::inotify::{ReadFlags, Reader};
    use std::os::unix::ffi::OsStrExt;
    let mut opened = Opened::default();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16 << 10];
    let mut reader = Reader::new(&fd, &mut buf);
    loop {
        // Read before looking at `stop`, so the events queued before it was set
        // are all taken.
        let stopping = stop.load(std::sync::atomic::Ordering::SeqCst);
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
                std::thread::sleep(std::time::Duration::from_millis(2))
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn read_events(
    _fd: Fd,
    _dirs: HashMap<i32, PathBuf>,
    _stop: &std::sync::atomic::AtomicBool,
) -> Option<Opened> {
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
}
