//! The Python `.venv` of a project: the layer applied on top of the Nix environment
//! (its `bin` first on PATH, Nix's Python paths kept out), its creation and sync
//! with the project's requirements using the Nix environment's python, and the
//! checks that find a venv broken by a garbage-collected or upgraded python.
//!
//! A venv cannot be moved (its scripts name their interpreter by absolute path), so
//! dwell builds each venv in place under `<venv>.d/<n>` and makes `<venv>` a
//! symlink to it, swapped atomically once the install succeeded: a failed install
//! leaves the previous venv untouched.

use crate::config::{Libraries, ProjectConfig};
use crate::process::{OnLine, Watch};
use crate::protocol::Op;
use crate::protocol::Value;
use crate::safe_fs::{MAX_LOCK_FILE, ReadError, read_regular};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `pyvenv.cfg` as key/value pairs.
pub fn read_cfg(venv: &Path) -> BTreeMap<String, String> {
    let bytes = read_regular(&venv.join("pyvenv.cfg"), 64 << 10)
        .ok()
        .flatten()
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The prompt name from `pyvenv.cfg` (`prompt = …`), else the venv dir's name.
pub fn prompt(venv: &Path) -> String {
    read_cfg(venv)
        .get("prompt")
        .map(|p| p.trim_matches(['\'', '"']).to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            venv.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "venv".into())
        })
}

fn bytes(p: &Path) -> Value {
    Value(p.as_os_str().as_bytes().to_vec())
}

/// The operations that activate `venv`, as its own `bin/activate` would.
pub fn layer(venv: &Path) -> Vec<Op> {
    vec![
        Op::Set {
            name: "VIRTUAL_ENV".into(),
            value: bytes(venv),
        },
        Op::Set {
            name: "VIRTUAL_ENV_PROMPT".into(),
            value: prompt(venv).into(),
        },
        Op::Prepend {
            name: "PATH".into(),
            entries: vec![bytes(&venv.join("bin"))],
        },
        Op::Unset {
            name: "PYTHONHOME".into(),
        },
        Op::Unset {
            name: "PYTHONPATH".into(),
        },
        // The user's own uv and Poetry in the shell use this venv and its python,
        // and never download another.
        Op::Set {
            name: "UV_PROJECT_ENVIRONMENT".into(),
            value: bytes(venv),
        },
        Op::Set {
            name: "UV_PYTHON".into(),
            value: bytes(&venv.join("bin/python3")),
        },
        Op::Set {
            name: "UV_PYTHON_DOWNLOADS".into(),
            value: "never".into(),
        },
        Op::Set {
            name: "POETRY_VIRTUALENVS_IN_PROJECT".into(),
            value: "true".into(),
        },
    ]
}

/// `LD_LIBRARY_PATH` with the `lib` dirs of the environment's store paths (all, or
/// those whose name contains one of `only`), so manylinux wheels find libz,
/// libstdc++ and the like on NixOS.
pub fn libraries(store_paths: &[PathBuf], which: &Libraries) -> Option<Op> {
    let wanted = |p: &Path| match which {
        Libraries::All(all) => *all,
        Libraries::Only(names) => {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = crate::store_path::name_of(&name).unwrap_or(&name);
            names
                .iter()
                .any(|n| name == n || name.starts_with(&format!("{n}-")))
        }
    };
    let entries: Vec<Value> = store_paths
        .iter()
        .filter(|p| wanted(p))
        .map(|p| p.join("lib"))
        .filter(|lib| lib.is_dir())
        .map(|lib| bytes(&lib))
        .collect();
    (!entries.is_empty()).then(|| Op::Prepend {
        name: "LD_LIBRARY_PATH".into(),
        entries,
    })
}

/// The first executable `name` on `path` (a PATH value), skipping the
/// directory `skip` (the venv's own `bin`).
fn find_on_path(path: &[u8], name: &str, skip: Option<&Path>) -> Option<PathBuf> {
    path.split(|&b| b == b':')
        .filter(|e| !e.is_empty())
        .map(|e| PathBuf::from(std::ffi::OsStr::from_bytes(e)))
        .filter(|dir| Some(dir.as_path()) != skip)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The PATH entries the Nix environment's operations add (the project's own,
/// never the user's): where the project's python and tools come from.
pub fn nix_path(ops: &[Op]) -> Vec<u8> {
    let mut env = crate::recipe::Env::new();
    for op in ops {
        crate::recipe::apply_op(&mut env, op);
    }
    env.get("PATH")
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_default()
}

/// The `python3` an environment's operations put on PATH, skipping the venv's
/// `bin`.
pub fn python_of(ops: &[Op], venv: &Path) -> Option<PathBuf> {
    find_on_path(&nix_path(ops), "python3", Some(&venv.join("bin")))
}

/// `3.11` from `Python 3.11.2`.
fn major_minor(version: &str) -> Option<String> {
    let v = version.trim().trim_start_matches("Python").trim();
    let mut parts = v.split('.');
    Some(format!("{}.{}", parts.next()?, parts.next()?))
}

/// The version a python reports (`3.11.2`).
pub fn python_version(python: &Path) -> Option<String> {
    let mut cmd = Command::new(python);
    cmd.arg("--version");
    let out = crate::process::run(cmd, "python", &Watch::default()).ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let v = text.trim().trim_start_matches("Python").trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// What is wrong with `venv`, if anything: its interpreter is gone (a
/// garbage-collected or removed python), or it was made with another Python
/// version than the Nix environment's `nix_python_version`.
pub fn health(venv: &Path, nix_python_version: Option<&str>) -> Option<String> {
    let cfg = read_cfg(venv);
    let interpreter = venv.join("bin/python3");
    let home = cfg.get("home").map(PathBuf::from);
    if !interpreter.exists() || home.as_ref().is_some_and(|h| !h.exists()) {
        let gone = home
            .map(|h| h.display().to_string())
            .unwrap_or_else(|| interpreter.display().to_string());
        return Some(format!(
            "the venv's python ({gone}) no longer exists; run `dwell venv --recreate`"
        ));
    }
    let venv_version = cfg.get("version_info").or_else(|| cfg.get("version"))?;
    let (Some(have), Some(want)) = (
        major_minor(venv_version),
        nix_python_version.and_then(major_minor),
    ) else {
        return None;
    };
    (have != want).then(|| {
        format!("the venv has Python {have}, the Nix environment Python {want}; run `dwell venv --recreate`")
    })
}

/// How a project's venv is installed: by the project's own lock and tool when it
/// has one, else from its requirement files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installer {
    /// `uv.lock`: `uv sync --frozen`.
    UvLock,
    /// `poetry.lock`: `poetry sync`.
    PoetryLock,
    /// `pylock.toml` (PEP 751): `uv pip install -r pylock.toml`.
    Pylock,
    /// `requirements*.txt`: pip (`--require-hashes` when they carry hashes).
    Requirements,
    /// A `pyproject.toml` without a lock: `pip install -e .` (uv when there).
    Editable,
    /// Nothing to install: the venv alone.
    Nothing,
}

/// What a project installs into its venv, and with what: `[venv] requirements`,
/// else `uv.lock`, `poetry.lock` or `pylock.toml` (with `pyproject.toml`), else
/// every `requirements*.txt` in the root, else `pyproject.toml`.
fn installs(root: &Path, config: &ProjectConfig) -> (Installer, Vec<PathBuf>) {
    if let Some(files) = &config.venv.requirements {
        // Requirement files go to pip; a pyproject.toml named alone is installed
        // as the project (`pip install -e .`), as before locks were known.
        let files: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
        let txt = files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "txt"));
        let installer = if txt {
            Installer::Requirements
        } else {
            Installer::Editable
        };
        return (installer, files);
    }
    let pyproject = root.join("pyproject.toml");
    for (lock, installer) in [
        ("uv.lock", Installer::UvLock),
        ("poetry.lock", Installer::PoetryLock),
        ("pylock.toml", Installer::Pylock),
    ] {
        let lock = root.join(lock);
        if lock.is_file() {
            let mut files = vec![lock];
            files.extend(Some(pyproject.clone()).filter(|p| p.is_file()));
            return (installer, files);
        }
    }
    let files = requirement_files(root);
    if !files.is_empty() {
        return (Installer::Requirements, files);
    }
    if pyproject.is_file() {
        return (Installer::Editable, vec![pyproject]);
    }
    (Installer::Nothing, Vec::new())
}

/// The files whose change may change what a synced venv must hold (`[venv]
/// create = true`): each lock, `pyproject.toml` and the requirement files, present
/// or not (a lock that appears counts). Watched so that a `git pull` that brings a
/// new lock reaches the shell at its next prompt, not at its next entry.
pub fn sync_files(root: &Path, config: &ProjectConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["uv.lock", "poetry.lock", "pylock.toml", "pyproject.toml"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    files.push(root.join("requirements.txt"));
    files.extend(requirement_files(root));
    files.extend(installs(root, config).1);
    files.sort();
    files.dedup();
    files
}

/// Every `requirements*.txt` in the root, sorted.
fn requirement_files(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("requirements") && name.ends_with(".txt")
        })
        .collect();
    found.sort();
    found
}

/// The requirement files as read once, bounded: regular files only, so a FIFO
/// or a link to `/dev/zero` is an error, never a hung or bloated daemon.
fn read_files(files: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, ReadError> {
    files
        .iter()
        .map(|f| {
            Ok((
                f.clone(),
                read_regular(f, MAX_LOCK_FILE)?.unwrap_or_default(),
            ))
        })
        .collect()
}

/// blake3 of the requirement files' names and contents, and of the python.
fn fingerprint(files: &[(PathBuf, Vec<u8>)], python_version: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(python_version.as_bytes());
    for (file, bytes) in files {
        hasher.update(file.as_os_str().as_bytes());
        hasher.update(&[0]);
        hasher.update(bytes);
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

const SYNC_FILE: &str = "dwell-sync";

/// What a sync of a project's venv installs: the requirement files, and their
/// fingerprint with the python's version (recorded in the venv once installed).
pub struct Wanted {
    pub installer: Installer,
    pub files: Vec<PathBuf>,
    pub fingerprint: String,
    /// The requirement files carry `--hash=`: pip must check every one.
    pub hashed: bool,
}

impl Wanted {
    /// What `root` asks for, from its files read once: a file that cannot be
    /// read as a regular file (a FIFO, a device, too large) is the error.
    pub fn of(
        root: &Path,
        config: &ProjectConfig,
        python_version: &str,
    ) -> Result<Wanted, VenvError> {
        let (installer, files) = installs(root, config);
        let read = read_files(&files)?;
        let hashed = installer == Installer::Requirements
            && read
                .iter()
                .any(|(_, bytes)| bytes.windows(7).any(|w| w == b"--hash="));
        Ok(Wanted {
            installer,
            fingerprint: fingerprint(&read, python_version),
            files,
            hashed,
        })
    }

    /// Whether `venv` already has what the lock says though dwell did not put it
    /// there (the user ran `uv add`, `uv sync` or `poetry add` in the shell):
    /// asked of the lock's tool (`uv sync --frozen --check`, `poetry sync
    /// --dry-run`), only when the lock changed. If so, the venv is marked as
    /// synced with this lock.
    pub fn synced_by_user(
        &self,
        root: &Path,
        venv: &Path,
        env: &BTreeMap<String, Value>,
        nix_path: &[u8],
    ) -> bool {
        let in_sync = match self.installer {
            Installer::UvLock => {
                let Some(uv) = find_tool(nix_path, "uv") else {
                    return false;
                };
                let mut check = tool_command(&uv, root, env);
                check
                    .args(["sync", "--frozen", "--check"])
                    .env("UV_PROJECT_ENVIRONMENT", venv)
                    .env("UV_PYTHON_DOWNLOADS", "never");
                crate::process::run(check, "uv", &CHECK_WATCH).is_ok_and(|out| out.status.success())
            }
            Installer::PoetryLock => {
                let Some(poetry) = find_tool(nix_path, "poetry") else {
                    return false;
                };
                let mut check = poetry_command(&poetry, root, env, venv);
                check.args(["sync", "--dry-run", "--no-interaction"]);
                crate::process::run(check, "poetry", &CHECK_WATCH)
                    .is_ok_and(|out| out.status.success() && poetry_has_nothing_to_do(&out.stdout))
            }
            _ => false,
        };
        in_sync && std::fs::write(venv.join(SYNC_FILE), &self.fingerprint).is_ok()
    }

    /// Whether `venv` (if any) has exactly this installed.
    pub fn installed_in(&self, venv: Option<&Path>) -> bool {
        venv.and_then(recorded_fingerprint).as_deref() == Some(self.fingerprint.as_str())
    }
}

/// The fingerprint recorded in the venv when dwell last installed into it.
fn recorded_fingerprint(venv: &Path) -> Option<String> {
    let bytes = read_regular(&venv.join(SYNC_FILE), 4096).ok()??;
    Some(String::from_utf8_lossy(&bytes).trim().to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("no python3 in the project's Nix environment; add python3 to it, or pass --python")]
    NoPython,
    #[error("could not create the venv with {0}: {1}")]
    Create(PathBuf, String),
    #[error("installing the requirements failed ({0}); the previous venv is untouched:\n{1}")]
    Install(String, String),
    #[error(
        "{file} needs {tool}, which the project's Nix environment does not have: add pkgs.{tool} to its packages (shell.nix or flake.nix)"
    )]
    ToolMissing {
        file: &'static str,
        tool: &'static str,
    },
    #[error("{} is {what}; dwell leaves it alone (move it, or set [venv] path in .dwell.toml)", .path.display())]
    NotOurs { path: PathBuf, what: &'static str },
    #[error("{0}")]
    Unreadable(#[from] ReadError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The last lines of a failed command's output.
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// How the programs of a venv install run: in the Nix environment, their lines
/// passed on, for a bounded time.
pub struct Setup<'a> {
    /// The environment they run in (the project's Nix environment).
    pub env: &'a BTreeMap<String, Value>,
    /// That environment's PATH, where the lock's tool is looked for.
    pub nix_path: &'a [u8],
    /// Called with each line they print.
    pub on_line: &'a OnLine,
    /// Each program is stopped after this long (`install_timeout`).
    pub timeout: std::time::Duration,
    /// The user asked for this venv (`dwell venv`): a venv they made by hand at
    /// its path is moved aside (kept). A sync nobody asked for leaves it alone.
    pub move_hand_made: bool,
}

/// Runs `cmd` with dwell's one runner (so a stopping daemon stops it too),
/// passing each output line on; Err(tail) when it fails or runs too long.
fn run(cmd: Command, what: &str, setup: &Setup) -> Result<(), String> {
    let watch = Watch {
        on_line: Some(setup.on_line.clone()),
        on_stdout_line: Some(setup.on_line.clone()),
        timeout: Some(setup.timeout),
    };
    let out = crate::process::run(cmd, what, &watch).map_err(|e| match e {
        crate::process::RunError::TimedOut { .. } => {
            format!("{e}; if it needs longer, raise install_timeout in ~/.config/dwell/config.toml")
        }
        e => e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        let mut all = out.stdout;
        all.extend(out.stderr);
        Err(tail(&all))
    }
}

/// Where the versions of `venv` live: `<venv>.d/`.
fn versions_dir(venv: &Path) -> PathBuf {
    let name = venv
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "venv".into());
    venv.with_file_name(format!("{name}.d"))
}

/// A check of a tool's own (is the venv in sync?) gives up after this: a tool
/// that hangs must not hold the prompt.
const CHECK_WATCH: Watch = Watch {
    on_line: None,
    on_stdout_line: None,
    timeout: Some(std::time::Duration::from_secs(30)),
};

/// The first executable `name` among the Nix environment's PATH entries.
fn find_tool(nix_path: &[u8], name: &str) -> Option<PathBuf> {
    find_on_path(nix_path, name, None)
}

/// `program` run in `root` with exactly `env`, minus what would point it at
/// another python or venv.
fn tool_command(program: &Path, root: &Path, env: &BTreeMap<String, Value>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// Whether `poetry sync --dry-run` said it would change nothing.
fn poetry_has_nothing_to_do(said: &[u8]) -> bool {
    let said = String::from_utf8_lossy(said);
    said.contains("operations: 0 installs, 0 updates, 0 removals")
        || said.contains("No dependencies to install or update")
}

/// Poetry, run with `venv` active (Poetry installs into the active venv).
fn poetry_command(
    poetry: &Path,
    root: &Path,
    env: &BTreeMap<String, Value>,
    venv: &Path,
) -> Command {
    let mut path = venv.join("bin").into_os_string();
    if let Some(rest) = env.get("PATH") {
        path.push(":");
        path.push(rest.as_os_str());
    }
    let mut cmd = tool_command(poetry, root, env);
    cmd.env("VIRTUAL_ENV", venv)
        .env("PATH", path)
        .env("POETRY_VIRTUALENVS_CREATE", "false");
    cmd
}

/// Builds a new venv for `venv` with `python`, installs what `wanted` says into
/// it with the project's own tool (uv, Poetry) or pip, and only then makes
/// `venv` point to it. `env` is the environment the installers run in (the
/// project's, so they find compilers, PIP_* and UV_* settings).
pub fn create(
    root: &Path,
    venv: &Path,
    python: &Path,
    wanted: &Wanted,
    setup: &Setup,
) -> Result<PathBuf, VenvError> {
    let (env, nix_path, on_line) = (setup.env, setup.nix_path, setup.on_line);
    // The lock's tool, from the Nix environment, found before anything is made.
    let step = Step::of(wanted, nix_path)?;
    let files = &wanted.files;
    let versions = versions_dir(venv);
    // Checked before anything is built, and again at the swap.
    occupant(venv, &versions).replaceable(venv, setup.move_hand_made)?;
    std::fs::create_dir_all(&versions)?;
    let new = new_version(&versions)?;
    let command = |program: &Path| tool_command(program, root, env);
    let result = (|| {
        on_line(&format!("creating the venv with {}", python.display()));
        let mut make = command(python);
        make.args(["-m", "venv", "--prompt"])
            .arg(root.file_name().unwrap_or(root.as_os_str()))
            .arg(&new);
        run(make, "python", setup).map_err(|e| VenvError::Create(python.to_path_buf(), e))?;
        let venv_python = new.join("bin/python3");
        let install = |cmd: Command, what: &str| {
            run(cmd, what, setup).map_err(|e| VenvError::Install(what.into(), e))
        };
        match &step {
            Step::UvSync(uv) => {
                let mut sync = command(uv);
                sync.args(["sync", "--frozen"])
                    .env("UV_PROJECT_ENVIRONMENT", &new)
                    .env("UV_PYTHON", python)
                    .env("UV_PYTHON_DOWNLOADS", "never");
                install(sync, "uv")?;
            }
            Step::PoetrySync(poetry) => {
                // `poetry sync` is Poetry 2's (1.x says the command does not exist,
                // which the failure line shows).
                let mut sync = poetry_command(poetry, root, env, &new);
                sync.args(["sync", "--no-interaction"]);
                install(sync, "poetry")?;
            }
            Step::Pylock { uv, lock } => {
                let mut pip = command(uv);
                pip.args(["pip", "install", "--python"])
                    .arg(&venv_python)
                    .arg("-r")
                    .arg(lock)
                    .env("UV_PYTHON_DOWNLOADS", "never");
                install(pip, "uv")?;
            }
            Step::Requirements => {
                let mut pip = command(&venv_python);
                pip.args(["-m", "pip", "install", "--disable-pip-version-check"]);
                // Hashes in a requirements file mean: install exactly these.
                if wanted.hashed {
                    pip.arg("--require-hashes");
                }
                for f in files
                    .iter()
                    .filter(|f| f.extension().is_some_and(|e| e == "txt"))
                {
                    pip.arg("-r").arg(f);
                }
                install(pip, "pip")?;
            }
            Step::Editable => {
                let (mut editable, tool) = match find_tool(nix_path, "uv") {
                    Some(uv) => {
                        let mut c = command(&uv);
                        c.args(["pip", "install", "--python"])
                            .arg(&venv_python)
                            .args(["-e", "."]);
                        (c, "uv")
                    }
                    None => {
                        let mut c = command(&venv_python);
                        c.args([
                            "-m",
                            "pip",
                            "install",
                            "--disable-pip-version-check",
                            "-e",
                            ".",
                        ]);
                        (c, "pip")
                    }
                };
                editable.current_dir(root);
                install(editable, tool)?;
            }
            Step::Nothing => {}
        }
        // What was read when the sync was decided: a file changed since makes
        // the next look sync again.
        std::fs::write(new.join(SYNC_FILE), &wanted.fingerprint)?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_version(&new);
        return Err(e);
    }
    swap(venv, &versions, &new, setup)?;
    Ok(new)
}

/// What an install runs, with the tool it needs already found.
enum Step {
    UvSync(PathBuf),
    PoetrySync(PathBuf),
    Pylock { uv: PathBuf, lock: PathBuf },
    Requirements,
    Editable,
    Nothing,
}

impl Step {
    /// The step for `wanted`; the lock's tool is looked for on the Nix
    /// environment's PATH, and its absence is the error, before anything is made.
    fn of(wanted: &Wanted, nix_path: &[u8]) -> Result<Step, VenvError> {
        let tool = |file: &'static str, tool: &'static str| {
            find_tool(nix_path, tool).ok_or(VenvError::ToolMissing { file, tool })
        };
        Ok(match wanted.installer {
            Installer::UvLock => Step::UvSync(tool("uv.lock", "uv")?),
            Installer::PoetryLock => Step::PoetrySync(tool("poetry.lock", "poetry")?),
            Installer::Pylock => {
                let uv = tool("pylock.toml", "uv")?;
                let lock = wanted.files.first().cloned().ok_or_else(|| {
                    VenvError::Io(std::io::Error::other("no pylock.toml to install"))
                })?;
                Step::Pylock { uv, lock }
            }
            Installer::Requirements => Step::Requirements,
            Installer::Editable => Step::Editable,
            Installer::Nothing => Step::Nothing,
        })
    }
}

/// Points `venv` at `new` atomically (a symlink renamed over the old one); a venv
/// that was a plain directory is moved aside first. Older versions dwell made are
/// removed.
fn swap(venv: &Path, versions: &Path, new: &Path, setup: &Setup) -> Result<(), VenvError> {
    let now = occupant(venv, versions);
    if let Err(e) = now.replaceable(venv, setup.move_hand_made) {
        remove_version(new);
        return Err(e);
    }
    let link = venv.with_file_name(format!(
        ".{}.dwell-{}",
        venv.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&link);
    let name = |p: &Path| p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let target = Path::new(&name(versions)).join(name(new));
    std::os::unix::fs::symlink(&target, &link)?;
    if now == Occupant::HandMade {
        let aside = versions.join(format!("replaced-{}", crate::paths::now_ms()));
        std::fs::rename(venv, &aside)?;
        (setup.on_line)(&format!(
            "the venv that was there is kept at {}",
            aside.display()
        ));
    }
    std::fs::rename(&link, venv)?;
    // Older versions dwell built go. Anything else in the directory — a venv the
    // user made by hand (moved aside as replaced-<time>), files of their own when
    // `<venv>.d` was already theirs — is never deleted.
    for old in std::fs::read_dir(versions)?.flatten() {
        if old.path() != new {
            remove_version(&old.path());
        }
    }
    Ok(())
}

/// What is at a venv's path before dwell puts its link there.
#[derive(Debug, PartialEq, Eq)]
enum Occupant {
    Nothing,
    /// dwell's own link into its versions directory.
    Ours,
    /// A venv directory the user made (`python -m venv .venv`).
    HandMade,
    /// Anything else: never replaced (what it is, for the message).
    Foreign(&'static str),
}

fn occupant(venv: &Path, versions: &Path) -> Occupant {
    let Ok(meta) = std::fs::symlink_metadata(venv) else {
        return Occupant::Nothing;
    };
    if meta.file_type().is_symlink() {
        // dwell's links are `<name>.d/<version>`, relative.
        let ours = std::fs::read_link(venv).is_ok_and(|target| {
            let mut parts = target.components();
            parts.next().map(|c| c.as_os_str())
                == versions.file_name().map(|n| n as &std::ffi::OsStr)
                && parts.next().is_some()
                && parts.next().is_none()
        });
        return if ours {
            Occupant::Ours
        } else {
            Occupant::Foreign("a link dwell did not make")
        };
    }
    if meta.is_dir() {
        return if venv.join("pyvenv.cfg").is_file() {
            Occupant::HandMade
        } else {
            Occupant::Foreign("a directory that is not a venv")
        };
    }
    if meta.is_file() {
        Occupant::Foreign("a file")
    } else {
        Occupant::Foreign("not a directory")
    }
}

impl Occupant {
    /// Whether dwell may put its link at `venv`: over nothing or its own link,
    /// over a hand-made venv only when the user asked (it is moved aside), over
    /// anything else never.
    fn replaceable(&self, venv: &Path, move_hand_made: bool) -> Result<(), VenvError> {
        match self {
            Occupant::Nothing | Occupant::Ours => Ok(()),
            Occupant::HandMade if move_hand_made => Ok(()),
            Occupant::HandMade => Err(VenvError::NotOurs {
                path: venv.to_path_buf(),
                what: "a venv made by hand; `dwell venv` replaces it (keeping it aside)",
            }),
            Occupant::Foreign(what) => Err(VenvError::NotOurs {
                path: venv.to_path_buf(),
                what,
            }),
        }
    }
}

/// The file dwell writes into each venv version it makes: only a directory that
/// holds it is ever deleted by dwell.
const MADE_BY_DWELL: &str = ".dwell-version";

/// Makes the next numbered version directory under `versions`, marked as
/// dwell's. An existing directory is never taken over.
fn new_version(versions: &Path) -> std::io::Result<PathBuf> {
    let mut next = std::fs::read_dir(versions)?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    loop {
        let dir = versions.join(next.to_string());
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::write(
                    dir.join(MADE_BY_DWELL),
                    "made by dwell; removed when replaced\n",
                )?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Removes `dir` if dwell made it (a real directory with dwell's mark, not a
/// link); anything else is left alone.
fn remove_version(dir: &Path) {
    let ours = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && std::fs::symlink_metadata(dir.join(MADE_BY_DWELL)).is_ok_and(|m| m.is_file());
    if ours {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_is_in_sync_only_with_nothing_to_do() {
        let said = |s: &str| poetry_has_nothing_to_do(s.as_bytes());
        assert!(said(
            "Package operations: 0 installs, 0 updates, 0 removals, 1 skipped"
        ));
        assert!(said("No dependencies to install or update"));
        assert!(!said(
            "Package operations: 10 installs, 0 updates, 0 removals"
        ));
        assert!(!said(
            "Package operations: 0 installs, 1 updates, 0 removals"
        ));
    }

    #[test]
    fn prompt_from_cfg_or_dir_name() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        std::fs::create_dir(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert_eq!(prompt(&venv), ".venv");
        std::fs::write(venv.join("pyvenv.cfg"), "home = /x\nprompt = 'api'\n").unwrap();
        assert_eq!(prompt(&venv), "api");
    }

    #[test]
    fn versions_compare_by_major_minor() {
        assert_eq!(major_minor("Python 3.11.2").as_deref(), Some("3.11"));
        assert_eq!(major_minor("3.12.0rc1").as_deref(), Some("3.12"));
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("v");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::os::unix::fs::symlink("/bin/sh", venv.join("bin/python3")).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /bin\nversion_info = 3.11.2\n",
        )
        .unwrap();
        assert_eq!(health(&venv, Some("3.11.7")), None);
        assert!(
            health(&venv, Some("3.12.1"))
                .unwrap()
                .contains("Python 3.11")
        );
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /nix/store/gone-python/bin\n",
        )
        .unwrap();
        assert!(health(&venv, None).unwrap().contains("no longer exists"));
    }

    #[test]
    fn library_dirs_of_store_paths() {
        let dir = tempfile::tempdir().unwrap();
        let zlib = dir.path().join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-zlib-1.3");
        let cc = dir
            .path()
            .join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-gcc-13-lib");
        let nolib = dir.path().join("cccccccccccccccccccccccccccccccc-hello");
        for p in [&zlib, &cc] {
            std::fs::create_dir_all(p.join("lib")).unwrap();
        }
        std::fs::create_dir_all(&nolib).unwrap();
        let paths = vec![zlib.clone(), cc.clone(), nolib];
        let Some(Op::Prepend { entries, .. }) = libraries(&paths, &Libraries::All(true)) else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        let Some(Op::Prepend { entries, .. }) =
            libraries(&paths, &Libraries::Only(vec!["zlib".into()]))
        else {
            panic!()
        };
        assert_eq!(entries, vec![bytes(&zlib.join("lib"))]);
        assert!(libraries(&paths, &Libraries::All(false)).is_none());
    }
}
