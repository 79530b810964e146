//! The venv as a layer on the Nix environment: its `bin` first on PATH, Nix's
//! Python paths kept out; the Nix python and its version; health checks.

use crate::config::Libraries;
use crate::process::Watch;
use crate::protocol::Op;
use crate::protocol::Value;
use crate::safe_fs::read_regular;
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

pub(super) fn bytes(p: &Path) -> Value {
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
pub(super) fn find_on_path(path: &[u8], name: &str, skip: Option<&Path>) -> Option<PathBuf> {
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
pub(super) fn major_minor(version: &str) -> Option<String> {
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
