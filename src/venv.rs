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
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `pyvenv.cfg` as key/value pairs.
pub fn read_cfg(venv: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(venv.join("pyvenv.cfg"))
        .unwrap_or_default()
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

/// The first `python3` on `path` (a PATH value), skipping `skip` (the venv's bin).
pub fn find_python(path: &[u8], skip: Option<&Path>) -> Option<PathBuf> {
    path.split(|&b| b == b':')
        .filter(|e| !e.is_empty())
        .map(|e| PathBuf::from(std::ffi::OsStr::from_bytes(e)))
        .filter(|dir| Some(dir.as_path()) != skip)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
}

/// The `python3` an environment's operations put on PATH (the project's own
/// entries only, never the shell's), skipping the venv's `bin`.
pub fn python_of(ops: &[Op], venv: &Path) -> Option<PathBuf> {
    let mut env = crate::recipe::Env::new();
    for op in ops {
        crate::recipe::apply_op(&mut env, op);
    }
    find_python(env.get("PATH")?.as_bytes(), Some(&venv.join("bin")))
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

/// The requirement files of a project: `[venv] requirements`, else every
/// `requirements*.txt` in the root, else `pyproject.toml`.
fn requirement_files(root: &Path, config: &ProjectConfig) -> Vec<PathBuf> {
    if let Some(files) = &config.venv.requirements {
        return files.iter().map(|f| root.join(f)).collect();
    }
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
    if found.is_empty() && root.join("pyproject.toml").is_file() {
        found.push(root.join("pyproject.toml"));
    }
    found
}

/// blake3 of the requirement files' names and contents, and of the python.
fn fingerprint(files: &[PathBuf], python_version: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(python_version.as_bytes());
    for file in files {
        hasher.update(file.as_os_str().as_bytes());
        hasher.update(&[0]);
        hasher.update(&std::fs::read(file).unwrap_or_default());
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

const SYNC_FILE: &str = "dwell-sync";

/// What a sync of a project's venv installs: the requirement files, and their
/// fingerprint with the python's version (recorded in the venv once installed).
pub struct Wanted {
    pub files: Vec<PathBuf>,
    pub fingerprint: String,
}

impl Wanted {
    pub fn of(root: &Path, config: &ProjectConfig, python_version: &str) -> Wanted {
        let files = requirement_files(root, config);
        let fingerprint = fingerprint(&files, python_version);
        Wanted { files, fingerprint }
    }

    /// Whether `venv` (if any) has exactly this installed.
    pub fn installed_in(&self, venv: Option<&Path>) -> bool {
        venv.and_then(recorded_fingerprint).as_deref() == Some(self.fingerprint.as_str())
    }
}

/// The fingerprint recorded in the venv when dwell last installed into it.
fn recorded_fingerprint(venv: &Path) -> Option<String> {
    std::fs::read_to_string(venv.join(SYNC_FILE))
        .ok()
        .map(|s| s.trim().to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("no python3 in the project's Nix environment; add python3 to it, or pass --python")]
    NoPython,
    #[error("could not create the venv with {0}: {1}")]
    Create(PathBuf, String),
    #[error("installing the requirements failed ({0}); the previous venv is untouched:\n{1}")]
    Install(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The last lines of a failed command's output.
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// Runs `cmd` with dwell's one runner (so a stopping daemon stops it too),
/// passing each output line to `on_line`; Err(tail) when it fails.
fn run(cmd: Command, what: &str, on_line: &OnLine) -> Result<(), String> {
    let watch = Watch {
        on_line: Some(on_line.clone()),
        on_stdout_line: Some(on_line.clone()),
        timeout: None,
    };
    let out = crate::process::run(cmd, what, &watch).map_err(|e| e.to_string())?;
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

/// Builds a new venv for `venv` with `python`, installs `files` into it (with `uv`
/// from `path_for_tools` when there is one and the project is a pyproject.toml,
/// else pip), and only then makes `venv` point to it. `env` is the environment the
/// installers run in (the project's, so pip finds compilers and PIP_* settings).
pub fn create(
    root: &Path,
    venv: &Path,
    python: &Path,
    files: &[PathBuf],
    env: &BTreeMap<String, Value>,
    on_line: &OnLine,
) -> Result<PathBuf, VenvError> {
    let version = python_version(python).unwrap_or_default();
    let versions = versions_dir(venv);
    std::fs::create_dir_all(&versions)?;
    let new = new_version(&versions)?;
    let command = |program: &Path| {
        let mut cmd = Command::new(program);
        cmd.current_dir(root)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env_remove("VIRTUAL_ENV");
        cmd
    };
    let result = (|| {
        on_line(&format!("creating the venv with {}", python.display()));
        let mut make = command(python);
        make.args(["-m", "venv", "--prompt"])
            .arg(root.file_name().unwrap_or(root.as_os_str()))
            .arg(&new);
        run(make, "python", on_line).map_err(|e| VenvError::Create(python.to_path_buf(), e))?;
        let venv_python = new.join("bin/python3");
        let txt: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "txt"))
            .collect();
        let pyproject = files
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == "pyproject.toml"));
        let uv = env.get("PATH").and_then(|p| {
            p.as_bytes()
                .split(|&b| b == b':')
                .map(|e| PathBuf::from(std::ffi::OsStr::from_bytes(e)).join("uv"))
                .find(|p| p.is_file())
        });
        if !txt.is_empty() {
            let mut pip = command(&venv_python);
            pip.args(["-m", "pip", "install", "--disable-pip-version-check"]);
            for f in &txt {
                pip.arg("-r").arg(f);
            }
            run(pip, "pip", on_line).map_err(|e| VenvError::Install("pip".into(), e))?;
        } else if pyproject {
            let (mut install, tool) = match &uv {
                Some(uv) => {
                    let mut c = command(uv);
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
            install.current_dir(root);
            run(install, tool, on_line).map_err(|e| VenvError::Install(tool.into(), e))?;
        }
        std::fs::write(new.join(SYNC_FILE), fingerprint(files, &version))?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_version(&new);
        return Err(e);
    }
    swap(venv, &versions, &new)?;
    Ok(new)
}

/// Points `venv` at `new` atomically (a symlink renamed over the old one); a venv
/// that was a plain directory is moved aside first. Older versions dwell made are
/// removed.
fn swap(venv: &Path, versions: &Path, new: &Path) -> Result<(), VenvError> {
    let link = venv.with_file_name(format!(
        ".{}.dwell-{}",
        venv.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&link);
    let target = Path::new(versions.file_name().expect("versions dir has a name"))
        .join(new.file_name().expect("version has a name"));
    std::os::unix::fs::symlink(&target, &link)?;
    let plain_dir = std::fs::symlink_metadata(venv).is_ok_and(|m| m.is_dir());
    if plain_dir {
        let aside = versions.join(format!("replaced-{}", crate::paths::now_ms()));
        std::fs::rename(venv, &aside)?;
        eprintln!(
            "dwell: the venv that was there is kept at {}",
            aside.display()
        );
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
