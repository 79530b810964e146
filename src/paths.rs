//! Where dwell keeps its files: the runtime dir (socket, generation counter, locks),
//! the cache, the state dir (GC roots, daemon log), trust records and user config.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Paths {
    pub runtime: PathBuf,
    pub cache: PathBuf,
    pub state: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("neither HOME nor the XDG base directories are set; dwell cannot place its files")]
    NoHome,
    #[error("{0} is not owned by you or is open to others (mode {1:o}); remove it or fix it")]
    Unsafe(PathBuf, u32),
    #[error("could not create {0}: {1}")]
    Create(PathBuf, io::Error),
}

fn xdg(var: &str, home_rel: &str) -> Result<PathBuf, PathsError> {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => Ok(PathBuf::from(v).join("dwell")),
        _ => {
            let home = std::env::var_os("HOME").ok_or(PathsError::NoHome)?;
            Ok(PathBuf::from(home).join(home_rel).join("dwell"))
        }
    }
}

/// The runtime directory: `$XDG_RUNTIME_DIR/dwell`, else `${TMPDIR:-/tmp}/dwell-UID`.
/// (The shell hooks are told the counter file's path by `dwell export`.)
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v).join("dwell"),
        _ => {
            let tmp = std::env::var_os("TMPDIR")
                .filter(|t| Path::new(t).is_absolute())
                .unwrap_or_else(|| "/tmp".into());
            PathBuf::from(tmp).join(format!("dwell-{}", rustix::process::getuid().as_raw()))
        }
    }
}

impl Paths {
    pub fn from_env() -> Result<Paths, PathsError> {
        Ok(Paths {
            runtime: runtime_dir(),
            cache: xdg("XDG_CACHE_HOME", ".cache")?,
            state: xdg("XDG_STATE_HOME", ".local/state")?,
            data: xdg("XDG_DATA_HOME", ".local/share")?,
            config: xdg("XDG_CONFIG_HOME", ".config")?,
        })
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.join("daemon.sock")
    }

    pub fn generation_file(&self) -> PathBuf {
        self.runtime.join("generation")
    }

    /// A file per project that the daemon touches when a new environment for it
    /// is ready; `dwell direnv` has direnv watch it.
    pub fn project_marker(&self, root: &Path) -> PathBuf {
        self.runtime.join("projects").join(path_id(root))
    }

    pub fn daemon_lock(&self) -> PathBuf {
        self.runtime.join("daemon.lock")
    }

    pub fn start_lock(&self) -> PathBuf {
        self.runtime.join("start.lock")
    }

    /// The Nix profiles that keep served environments from garbage collection.
    pub fn gcroots(&self) -> PathBuf {
        self.state.join("gcroots")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.state.join("daemon.log")
    }

    pub fn user_config(&self) -> PathBuf {
        self.config.join("config.toml")
    }
}

/// Creates `dir` (and parents) as 0700 and checks that it is ours and private.
pub fn private_dir(dir: &Path) -> Result<(), PathsError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| PathsError::Create(dir.to_path_buf(), e))?;
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| PathsError::Create(dir.to_path_buf(), e))?;
    let mode = meta.mode() & 0o777;
    if !meta.is_dir() || meta.uid() != rustix::process::getuid().as_raw() || mode & 0o077 != 0 {
        // A dir we created ourselves with a looser umask-independent mode is fixed quietly.
        if meta.is_dir() && meta.uid() == rustix::process::getuid().as_raw() {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| PathsError::Create(dir.to_path_buf(), e))?;
            return Ok(());
        }
        return Err(PathsError::Unsafe(dir.to_path_buf(), mode));
    }
    Ok(())
}

/// Opens dwell's log for appending, 0600 like every file dwell writes (it names
/// projects and holds Nix's errors); an older, looser log is tightened.
pub fn open_log(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically (temp file in the same dir, then rename), 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        unique()
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A number that differs between calls in this process (for temp file names).
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    (NEXT.fetch_add(1, Ordering::Relaxed) << 32) ^ since_epoch().subsec_nanos() as u64
}

/// `~/x` for paths under HOME, for messages.
pub fn tildify(path: &Path) -> String {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty() && h != "/")
        && let Ok(rest) = path.strip_prefix(&home)
    {
        if rest.as_os_str().is_empty() {
            return "~".into();
        }
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

/// A short hex digest naming a path in dwell's stores.
pub fn path_id(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    blake3::hash(path.as_os_str().as_bytes()).to_hex()[..24].to_string()
}

/// The time since the Unix epoch (zero if the clock is before it): dwell's one
/// wall clock.
pub fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Nanoseconds since the Unix epoch (comparable with file timestamps).
pub fn now_ns() -> i64 {
    since_epoch().as_nanos() as i64
}

/// The name `/etc/passwd` gives user `uid`, if any.
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = crate::safe_fs::read_regular(Path::new("/etc/passwd"), 16 << 20)
        .ok()
        .flatten()?;
    let text = String::from_utf8_lossy(&passwd);
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
    })
}
