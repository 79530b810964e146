//! Input tracing: which files an evaluation read, and how.
//!
//! - **shell.nix / default.nix** are evaluated through [`WRAPPER`], which imports
//!   the project's own files with a `builtins` whose readers announce themselves
//!   with `builtins.trace`; Nix's `-vv` log names the files evaluated and the paths
//!   copied to the store.
//! - **A flake** is evaluated from its source's copy in the store. While Nix runs,
//!   [`opens`] watches that copy: every file opened there is a file read, every
//!   directory opened a listing read, whatever path expression led there (`self +
//!   "/poetry.lock"`, `./. + name`). A git flake's copy holds the files git tracks,
//!   so its directories are tracked by the entries git tracks: an untracked or
//!   ignored file (`__pycache__`, `.venv`) is not an input, a `git add` is. A
//!   devShell whose derivations use the source itself (`src = self`) depends on
//!   all of it. The relative path literals of the flake's .nix files that name no
//!   directory stay inputs too (a `pathExists` is a stat, which inotify does not
//!   report).
//!
//! | the evaluation reads a file by | shell.nix / default.nix | flake |
//! |---|---|---|
//! | the entry file | log | opens |
//! | `import` of a project file | log | opens |
//! | `readFile`, `fromJSON (readFile …)`, `fromTOML` | trace | opens |
//! | a computed path: `self + "/x"`, `./. + "/x"`, `projectDir + …` | trace | opens |
//! | `readDir` (the listing) | trace | opens (git: tracked entries) |
//! | a path copied to the store (`"${./x}"`, `src = ./.`) | log (whole tree) | opens (git: tracked files) |
//! | `builtins.path { filter }`, `filterSource` | trace (whole tree) | opens (what the filter kept) |
//! | the source used whole (`src = self`, `"${self}"`) | n/a | closure check: every tracked file |
//! | `pathExists` | trace | literal paths |
//! | `flake.lock`, `path:` inputs | n/a | always / log |
//! | `.dwell.toml` `watch = [...]` | always | always |

pub mod opens;

use crate::safe_fs::MAX_PROJECT_FILE;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// How an evaluation read a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Read {
    /// Its content: a file's bytes, a directory's whole tree (a copy to the
    /// store), or that it is absent.
    Content,
    /// A directory's listing: the names and types of its entries (`readDir`).
    Listing,
    /// A directory's listing as a git flake's source has it: the entries git
    /// tracks in the work tree (untracked and ignored files are not copied).
    Tracked,
}

/// The paths an evaluation read, absolute, and how.
pub type Reads = BTreeMap<PathBuf, Read>;

/// Adds a read; a path read in two ways keeps the one that sees more.
pub fn add(reads: &mut Reads, path: PathBuf, read: Read) {
    reads
        .entry(path)
        .and_modify(|r| *r = (*r).min(read))
        .or_insert(read);
}

/// `dir` joined with `rel`; `dir` itself (no trailing slash) for an empty `rel`.
fn below(dir: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(rel)
    }
}

/// Paths whose content was read.
pub fn contents(paths: impl IntoIterator<Item = PathBuf>) -> Reads {
    paths.into_iter().map(|p| (p, Read::Content)).collect()
}

/// The reads of a flake evaluation: what it opened in its source's store copy,
/// mapped back to `origin`, the directory the copy was made from.
pub fn flake_reads(opened: &opens::Opened, origin: &Path, git: bool) -> Reads {
    let at = |rel: &Path| below(origin, rel);
    let listing = if git { Read::Tracked } else { Read::Listing };
    let mut reads = Reads::new();
    for file in opened.files.keys() {
        add(&mut reads, at(file), Read::Content);
    }
    for dir in opened.dirs.keys() {
        add(&mut reads, at(dir), listing);
    }
    reads
}

/// Whether Nix's log shows it copying the flake's store copy `source` to the
/// store again before evaluating it (Nix 2.26 does for a `path:` flake): a read
/// of every file that is not the evaluation's.
pub fn source_read_before_evaluation(log: &str, source: &Path) -> bool {
    let source = source.to_string_lossy();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("evaluating file '")
            && rest.starts_with(source.as_ref())
        {
            return false;
        }
        if let Some(rest) = line.strip_prefix("copying '")
            && let Some(copied) = rest.split('\'').next()
            && copied.trim_end_matches('/') == source
        {
            return true;
        }
    }
    false
}

/// The tracing wrapper for shell.nix/default.nix, called with `--argstr root`,
/// `--argstr entry` and `--argstr attr` (a dotted attribute path, or empty).
/// Files under the root are imported with `scopedImport`, so `import`, `readFile`,
/// `readDir` and `pathExists` in them are the traced ones; everything else (nixpkgs)
/// is imported normally and keeps Nix's import cache.
pub const WRAPPER: &str = r#"{ root, entry, attr }:
let
  n = builtins.stringLength root;
  isLocal = p: let s = toString p; in
    s == root || builtins.substring 0 (n + 1) s == root + "/";
  note = kind: p: builtins.trace "dwell-input ${kind} ${toString p}";
  traced = builtins // {
    readFile = p: note "file" p (builtins.readFile p);
    readDir = p: note "dir" p (builtins.readDir p);
    pathExists = p: note "exists" p (builtins.pathExists p);
    hashFile = t: p: note "file" p (builtins.hashFile t p);
    filterSource = f: p: note "tree" p (builtins.filterSource f p);
    path = a: note "tree" a.path (builtins.path a);
    import = scoped;
  };
  scope = { builtins = traced; import = scoped; };
  scoped = p: if isLocal p then builtins.scopedImport scope p else builtins.import p;
  value = scoped (/. + entry);
  called = if builtins.isFunction value then value { } else value;
  path = builtins.filter builtins.isString (builtins.split "\\." attr);
in
if attr == "" then called else builtins.foldl' (v: a: builtins.getAttr a v) called path
"#;

/// What an evaluation may have read without its trace seeing it, for `dwell
/// status`: said only when the project's own `.nix` files (`nix_files`, with
/// their text) do what cannot be traced — a flake's `pathExists` (a stat is not
/// a read), or a path outside the project root handed to nixpkgs' helpers
/// (which read it outside the tracing wrapper). None: nothing of the kind.
pub fn coverage_gaps(flake: bool, root: &Path, nix_files: &[(PathBuf, String)]) -> Option<String> {
    let named = |file: &Path| {
        file.strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string()
    };
    if flake {
        let (file, _) = nix_files
            .iter()
            .find(|(_, text)| text.contains("pathExists"))?;
        return Some(format!(
            "{} uses pathExists: a path it checks that no .nix file names literally is not \
             traced (a stat is not a read). List such files under `watch`.",
            named(file)
        ));
    }
    let (file, _) = nix_files.iter().find(|(_, text)| text.contains("../"))?;
    Some(format!(
        "{} names a path outside the project: what nixpkgs' own helpers read there is not \
         traced. List such files under `watch`.",
        named(file)
    ))
}

/// Files read by an evaluation, from Nix's `-vv` log and the wrapper's traces.
/// Store copies of a flake's source are mapped back to the directory they came
/// from; for a flake at `flake_root`, a store copy whose
/// `flake.nix` has the same content as the project's is the project's own source
/// (Nix 2.8 copies a git flake without a `copying` line, and copies a flake again
/// after writing its lock), so its files map back to the project.
pub fn inputs_from_log(log: &str, store_dir: &Path, flake_root: Option<&Path>) -> Reads {
    fn quoted(rest: &str) -> Option<&str> {
        let rest = rest.strip_prefix('\'')?;
        Some(&rest[..rest.find('\'')?])
    }
    let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut pending_copy: Option<PathBuf> = None;
    let mut evaluated: Vec<(PathBuf, Read)> = Vec::new();
    let mut inputs = Reads::new();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("evaluating file ") {
            let Some(file) = quoted(rest) else { continue };
            let file = PathBuf::from(file);
            // Nix 2.8 logs "copying '<dir>'..." for a flake source, then evaluates
            // its flake.nix from the store copy: that pairs the copy with its origin.
            if file.file_name().is_some_and(|n| n == "flake.nix")
                && file.starts_with(store_dir)
                && let Some(origin) = pending_copy.take()
                && let Some(copy) = file.parent()
            {
                copies.push((copy.to_path_buf(), origin));
            }
            evaluated.push((file, Read::Content));
        } else if let Some(rest) = line.strip_prefix("copying ") {
            if let Some(dir) = quoted(rest) {
                pending_copy = Some(PathBuf::from(dir));
            }
        } else if let Some(rest) = line.strip_prefix("copied source ")
            && let Some(src) = quoted(rest)
        {
            evaluated.push((PathBuf::from(src), Read::Content));
        } else if let Some(rest) = line.strip_prefix("trace: dwell-input ")
            && let Some((kind, path)) = rest.split_once(' ')
        {
            let read = if kind == "dir" {
                Read::Listing
            } else {
                Read::Content
            };
            evaluated.push((PathBuf::from(path), read));
        }
    }
    if let Some(root) = flake_root {
        let read = |p: &Path| {
            crate::safe_fs::read_regular(p, MAX_PROJECT_FILE)
                .ok()
                .flatten()
        };
        let own = read(&root.join("flake.nix"));
        let mut seen = BTreeSet::new();
        for (file, _) in &evaluated {
            let Ok(rel) = file.strip_prefix(store_dir) else {
                continue;
            };
            let Some(first) = rel.components().next() else {
                continue;
            };
            let source = store_dir.join(first);
            if !seen.insert(source.clone()) || copies.iter().any(|(c, _)| *c == source) {
                continue;
            }
            if own.is_some() && read(&source.join("flake.nix")) == own {
                copies.push((source, root.to_path_buf()));
            }
        }
    }
    for (file, read) in evaluated {
        let mapped = copies
            .iter()
            .find_map(|(copy, origin)| file.strip_prefix(copy).ok().map(|rel| below(origin, rel)));
        match mapped {
            // A store path copied "from" itself (Nix 2.26 logs the copying of
            // store paths too) is no project file.
            Some(path) if !path.starts_with(store_dir) => add(&mut inputs, path, read),
            Some(_) => {}
            None if !file.starts_with(store_dir) && file.is_absolute() => {
                add(&mut inputs, file, read)
            }
            None => {}
        }
    }
    inputs
}

/// The relative path literals (`./x`, `../y/z.json`) in Nix source, resolved
/// against `dir`. Literals inside strings and comments count too: over-approximation
/// costs a re-evaluation at worst, never a stale environment.
pub fn path_literals(source: &str, dir: &Path) -> Vec<PathBuf> {
    let bytes = source.as_bytes();
    let is_path_char = |b: u8| b.is_ascii_alphanumeric() || b"._-+/".contains(&b);
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i] == b'.'
            && (i == 0 || !(is_path_char(bytes[i - 1]) || bytes[i - 1] == b':'))
            && (bytes[i..].starts_with(b"./") || bytes[i..].starts_with(b"../"));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_path_char(bytes[i]) {
            i += 1;
        }
        let literal = source[start..i].trim_end_matches('/');
        if let Some(path) = normalize(&dir.join(literal)) {
            found.push(path);
        }
    }
    found
}

/// Resolves `.` and `..` lexically (as Nix does for path literals).
pub fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.is_absolute().then_some(out)
}

/// For a flake: the files named by relative literals in the project's evaluated
/// .nix files, excluding the project root itself (`./.`, the flake's own source,
/// whose listing would make every new file a change).
pub fn path_literal_inputs(evaluated: &Reads, root: &Path) -> BTreeSet<PathBuf> {
    let mut named = BTreeSet::new();
    let mut queue: Vec<PathBuf> = evaluated.keys().cloned().collect();
    let mut scanned = BTreeSet::new();
    // .nix files named are scanned in turn: what they read counts too.
    while let Some(file) = queue.pop() {
        if !file.starts_with(root)
            || file.extension().is_none_or(|e| e != "nix")
            || !scanned.insert(file.clone())
        {
            continue;
        }
        let Ok(Some(source)) = crate::safe_fs::read_project_text(&file) else {
            continue;
        };
        let dir = file.parent().unwrap_or(root);
        for path in path_literals(&source, dir) {
            if path != root && path.starts_with(root) && named.insert(path.clone()) {
                queue.push(path);
            }
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flake_copies_map_back() {
        let log = "copying '/p'...\n\
            evaluating file '/s/aaa-source/flake.nix'\n\
            copying '/np'...\n\
            evaluating file '/s/bbb-source/flake.nix'\n\
            evaluating file '/s/aaa-source/nix/py.nix'\n\
            evaluating file '/s/ccc-other/x.nix'\n\
            copied source '/p/data' -> '/s/ddd-data'\n\
            evaluating file '/home/u/chan/default.nix'\n";
        let inputs: BTreeSet<PathBuf> = inputs_from_log(log, Path::new("/s"), None)
            .into_keys()
            .collect();
        let expect: BTreeSet<PathBuf> = [
            "/p/flake.nix",
            "/np/flake.nix",
            "/p/nix/py.nix",
            "/p/data",
            "/home/u/chan/default.nix",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(inputs, expect);
    }

    #[test]
    fn wrapper_traces_are_inputs() {
        let log = "evaluating file '/p/shell.nix'\n\
            trace: dwell-input file /p/.python-version\n\
            trace: dwell-input dir /p/overlays\n\
            trace: dwell-input file /s/abc-source/x\n";
        let inputs = inputs_from_log(log, Path::new("/s"), None);
        let expect: Reads = [
            ("/p/shell.nix", Read::Content),
            ("/p/.python-version", Read::Content),
            ("/p/overlays", Read::Listing),
        ]
        .into_iter()
        .map(|(p, r)| (PathBuf::from(p), r))
        .collect();
        assert_eq!(inputs, expect);
    }

    #[test]
    fn literals_resolve_against_the_file() {
        let src = r#"{ a = builtins.readFile ./data/a.json; b = ../shared/x.toml;
            url = "github:o/r"; c = "${./cfg.toml}"; d = ./.; e = x./y; # ./comment.txt
        }"#;
        let found = path_literals(src, Path::new("/p/nix"));
        let names: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "/p/nix/data/a.json",
                "/p/shared/x.toml",
                "/p/nix/cfg.toml",
                "/p/nix",
                "/p/nix/comment.txt"
            ]
        );
    }
}
