//! Reading files that someone else may control (a project's `.dwell.toml`, its
//! entry files, the inputs hashed for the cache key) and checking directories
//! that hold dwell's own secrets. A project file is read only if it is a regular
//! file, with a size cap, and opened non-blocking, so a FIFO, a device or a link
//! to `/dev/zero` gets one clear error instead of a hung or bloated daemon.

use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest project file dwell reads whole (`.dwell.toml`, entry files).
pub const MAX_PROJECT_FILE: u64 = 1 << 20;

/// The largest lock or requirements file dwell reads whole (a big project's
/// `uv.lock` runs to megabytes).
pub const MAX_LOCK_FILE: u64 = 64 << 20;

/// The last `limit` bytes of `path`, a regular file (None: no such file).
pub fn read_tail(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    use std::io::Seek;
    let Some((mut file, len)) = open_regular(path)? else {
        return Ok(None);
    };
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    file.seek(io::SeekFrom::Start(len.saturating_sub(limit)))
        .map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    Ok(Some(bytes))
}

/// Why a file could not be read as a regular file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} is {kind}, not a regular file", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is larger than {} KiB", .path.display(), .limit / 1024)]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// The reason alone, without the path (for messages that name the file).
    pub fn reason(&self) -> String {
        match self {
            ReadError::NotRegular { kind, .. } => format!("it is {kind}"),
            ReadError::TooLarge { limit, .. } => format!("it is larger than {} KiB", limit / 1024),
            ReadError::Io { source, .. } => source.to_string(),
        }
    }
}

/// What kind of file `meta` describes, in words, for one that is not regular.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// Opens `path` for reading without blocking on a FIFO, and checks it is a
/// regular file (symbolic links are followed; a loop is an error). Ok(None):
/// the file does not exist.
pub fn open_regular(path: &Path) -> Result<Option<(std::fs::File, u64)>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A socket cannot be opened, a loop cannot be followed: say what it is.
        Err(e) => {
            let kind = match std::fs::metadata(path) {
                Ok(meta) if !meta.is_file() => kind_of(&meta),
                Err(_) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                    "a loop of symbolic links"
                }
                _ => return Err(io(e)),
            };
            return Err(ReadError::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    Ok(Some((file, meta.len())))
}

/// Reads `path` whole if it is a regular file of at most `limit` bytes.
/// Ok(None): the file does not exist.
pub fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let Some((file, len)) = open_regular(path)? else {
        return Ok(None);
    };
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The size may grow while we read: never take more than the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

/// Like [`read_regular`] with the project-file cap, as text.
pub fn read_project_text(path: &Path) -> Result<Option<String>, ReadError> {
    read_regular(path, MAX_PROJECT_FILE)?
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| ReadError::Io {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidData, "it is not valid UTF-8"),
            })
        })
        .transpose()
}

/// Why a directory holding dwell's socket or secrets cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{} {why}; dwell does not use it (remove it, or set XDG_RUNTIME_DIR to a private directory)", .path.display())]
pub struct UnsafeDir {
    pub path: PathBuf,
    pub why: String,
}

/// Checks that `dir`, if it exists, is a real directory (not a symbolic link)
/// owned by this user and closed to group and others, as OpenSSH and systemd
/// demand of the directories they trust. Ok(false): it does not exist.
pub fn check_private_dir(dir: &Path) -> Result<bool, UnsafeDir> {
    let unsafe_dir = |why: String| UnsafeDir {
        path: dir.to_path_buf(),
        why,
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(unsafe_dir(format!("cannot be checked: {e}"))),
    };
    if !meta.is_dir() {
        return Err(unsafe_dir(format!(
            "is {}, not a directory",
            kind_of(&meta)
        )));
    }
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return Err(unsafe_dir(format!(
            "is owned by uid {}, not by you (uid {me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "is open to other users (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(true)
}

/// `text` with control characters made visible (`\e`, `\x07`, …), so that a
/// hostile directory name or a Nix error cannot drive the terminal. Newlines and
/// tabs stay when `keep_lines` is set (multi-line errors).
pub fn printable(text: &str, keep_lines: bool) -> String {
    if !text.chars().any(|c| c.is_control() || invisible(c)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' if keep_lines => out.push(c),
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if invisible(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Characters that print nothing yet change what is seen: bidi overrides and
/// isolates (which reorder a line, so a diff reads other than it is),
/// zero-width ones, and the Unicode line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{061c}'
    )
}

/// Like [`printable`] with lines kept, but color and style sequences (SGR,
/// `ESC [ … m`) pass: a shellHook's greeting keeps its colors, and nothing in it
/// can move the cursor, clear the screen or set the title.
pub fn printable_with_colors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&printable(&rest[..at], true));
        let after = &rest[at + 1..];
        let params = after.strip_prefix('[').map(|p| {
            p.len()
                - p.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';')
                    .len()
        });
        match params {
            Some(n) if after[1 + n..].starts_with('m') => {
                out.push_str(&rest[at..at + 1 + 1 + n + 1]);
                rest = &after[1 + n + 1..];
            }
            _ => {
                out.push_str("\\e");
                rest = after;
            }
        }
    }
    out.push_str(&printable(rest, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_that_reorder_or_hide_text_are_shown() {
        assert_eq!(printable("a\u{202e}b", true), "a\\u{202e}b");
        assert_eq!(
            printable("x\u{2066}y\u{200b}", false),
            "x\\u{2066}y\\u{200b}"
        );
        assert_eq!(printable("line\u{2028}two", true), "line\\u{2028}two");
        assert_eq!(printable("plain é 日本", true), "plain é 日本");
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read_regular(&fifo, 10),
            Err(ReadError::NotRegular { kind: "a FIFO", .. })
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_regular(dir.path(), 10),
            Err(ReadError::NotRegular { .. })
        ));
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert!(matches!(
            read_regular(&looped, 10),
            Err(ReadError::NotRegular {
                kind: "a loop of symbolic links",
                ..
            })
        ));
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(matches!(
            read_regular(&socket, 10),
            Err(ReadError::NotRegular {
                kind: "a socket",
                ..
            })
        ));
        assert!(
            read_regular(&dir.path().join("absent"), 10)
                .unwrap()
                .is_none()
        );
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 11]).unwrap();
        assert!(matches!(
            read_regular(&big, 10),
            Err(ReadError::TooLarge { .. })
        ));
        assert_eq!(read_regular(&big, 11).unwrap().unwrap().len(), 11);
    }

    #[test]
    fn private_dirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        assert!(!check_private_dir(&d).unwrap());
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_private_dir(&d).unwrap());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(check_private_dir(&d).is_err());
        let link = dir.path().join("link");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(check_private_dir(&link).is_err());
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(
            printable("x\x1b]0;t\x07\x1b[2J", false),
            "x\\e]0;t\\x07\\e[2J"
        );
        assert_eq!(printable("a\nb", true), "a\nb");
        assert_eq!(printable("a\nb", false), "a\\nb");
        assert_eq!(printable("plain ü", false), "plain ü");
        assert_eq!(printable("\u{9b}31m", false), "\\x9b31m");
        assert_eq!(
            printable_with_colors("\x1b[1;32mready\x1b[0m\n\x1b]0;t\x07\x1b[2J"),
            "\x1b[1;32mready\x1b[0m\n\\e]0;t\\x07\\e[2J"
        );
    }
}
