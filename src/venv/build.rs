//! Building a venv version under `<venv>.d/` and swapping `<venv>` to it
//! atomically; dwell replaces only its own link and deletes only what it marked.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the versions of `venv` live: `<venv>.d/`.
pub(super) fn versions_dir(venv: &Path) -> PathBuf {
    let name = venv
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "venv".into());
    venv.with_file_name(format!("{name}.d"))
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
    // A python the project does not accept: said before anything is built.
    if let Some((file, needs)) = requires_python(&wanted.inputs.files)
        && !wanted.python_version.is_empty()
        && !meets(&wanted.python_version, &needs)
    {
        return Err(VenvError::NeedsPython {
            file,
            needs,
            has: wanted.python_version.clone(),
        });
    }
    let versions = versions_dir(venv);
    // Checked before anything is built, and again at the swap.
    occupant(venv, &versions).replaceable(venv, setup.move_hand_made)?;
    let kept = venv.join("bin").is_dir();
    std::fs::create_dir_all(&versions)?;
    if let Err(e) = hide_from_git(venv, &versions) {
        on_line(&format!("could not hide the venv from git: {e}"));
    }
    let new = new_version(&versions)?;
    let result = (|| {
        on_line(&format!("creating the venv with {}", python.display()));
        let (make, what) = venv_command(&step, python, root, env, &new);
        run(make, what, setup).map_err(|e| VenvError::Create(python.to_path_buf(), e))?;
        if let Some((cmd, tool)) = install_command(&step, wanted, root, python, &new, setup) {
            run(cmd, tool, setup).map_err(|output| VenvError::Install {
                files: wanted.inputs.names(),
                tool: tool.into(),
                why: first_reason(&output),
                kept,
                output,
            })?;
        }
        // What was read when the sync was decided: a file changed since makes
        // the next look sync again.
        std::fs::write(new.join(SYNC_FILE), &wanted.fingerprint)?;
        // Marked again: an installer may have made the directory anew (uv does
        // when it finds another interpreter than the one it made it with).
        mark_as_ours(&new)?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_version(&new);
        return Err(e);
    }
    swap(venv, &versions, &new, setup)?;
    Ok(new)
}

/// The command that makes an empty venv at `new`, and its tool's name. Where
/// uv installs, uv makes the venv (in milliseconds, without pip, which uv never
/// uses); elsewhere the python does, with pip.
fn venv_command(
    step: &Step,
    python: &Path,
    root: &Path,
    env: &std::collections::BTreeMap<String, crate::protocol::Value>,
    new: &Path,
) -> (Command, &'static str) {
    let prompt = root.file_name().unwrap_or(root.as_os_str());
    match step.uv() {
        Some(uv) => {
            let mut make = tool_command(uv, root, env);
            make.args(["venv", "--quiet", "--allow-existing", "--python"])
                .arg(python)
                .arg("--prompt")
                .arg(prompt)
                .arg(new)
                .env("UV_PYTHON_DOWNLOADS", "never");
            (make, "uv")
        }
        None => {
            let mut make = tool_command(python, root, env);
            make.args(["-m", "venv", "--prompt"]).arg(prompt).arg(new);
            (make, "python")
        }
    }
}

/// The command that installs what `wanted` names into the venv at `new` with
/// the lock's own tool, and the tool's name (None: nothing to install).
fn install_command(
    step: &Step,
    wanted: &Wanted,
    root: &Path,
    python: &Path,
    new: &Path,
    setup: &Setup,
) -> Option<(Command, &'static str)> {
    let command = |program: &Path| tool_command(program, root, setup.env);
    let venv_python = new.join("bin/python3");
    let installing = match step {
        Step::UvSync(uv) => {
            let mut sync = command(uv);
            sync.args(["sync", "--frozen"])
                .env("UV_PROJECT_ENVIRONMENT", new)
                .env("UV_PYTHON", python)
                .env("UV_PYTHON_DOWNLOADS", "never");
            (sync, "uv")
        }
        Step::PoetrySync(poetry) => {
            // `poetry sync` is Poetry 2's (1.x says the command does not exist,
            // which the failure line shows).
            let mut sync = poetry_command(poetry, root, setup.env, new);
            sync.args(["sync", "--no-interaction"]);
            (sync, "poetry")
        }
        Step::Pylock { uv, lock } => {
            let mut pip = command(uv);
            pip.args(["pip", "install", "--python"])
                .arg(&venv_python)
                .arg("-r")
                .arg(lock)
                .env("UV_PYTHON_DOWNLOADS", "never");
            (pip, "uv")
        }
        Step::Requirements => {
            let mut pip = command(&venv_python);
            pip.args(["-m", "pip", "install", "--disable-pip-version-check"]);
            // Hashes in a requirements file mean: install exactly these.
            if wanted.hashed {
                pip.arg("--require-hashes");
            }
            let requirement_files = wanted
                .files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "txt"));
            for f in requirement_files {
                pip.arg("-r").arg(f);
            }
            (pip, "pip")
        }
        Step::Editable => match find_tool(setup.nix_path, "uv") {
            Some(uv) => {
                let mut c = command(&uv);
                c.args(["pip", "install", "--python"])
                    .arg(&venv_python)
                    .args(["-e", "."]);
                (c, "uv")
            }
            None => {
                let mut c = command(&venv_python);
                c.args(["-m", "pip", "install", "--disable-pip-version-check"])
                    .args(["-e", "."]);
                (c, "pip")
            }
        },
        Step::Nothing => return None,
    };
    Some(installing)
}

/// Points `venv` at `new` atomically (a symlink renamed over the old one); a venv
/// that was a plain directory is moved aside first. Older versions dwell made are
/// removed.
pub(super) fn swap(
    venv: &Path,
    versions: &Path,
    new: &Path,
    setup: &Setup,
) -> Result<(), VenvError> {
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
    // The newest versions dwell built stay, `setup.keep` of them besides the one
    // in use, so a branch switched back finds its venv built; older ones go.
    // Anything else in the directory — a venv the user made by hand (moved aside
    // as replaced-<time>), files of their own when `<venv>.d` was already
    // theirs — is never deleted.
    let mut built: Vec<(u64, PathBuf)> = std::fs::read_dir(versions)?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .filter(|(_, path)| path != new && is_ours(path))
        .collect();
    built.sort();
    let old = built.len().saturating_sub(setup.keep.saturating_sub(1));
    for (_, path) in &built[..old] {
        remove_version(path);
    }
    Ok(())
}

/// A version of `venv` dwell built for exactly what `wanted` asks (the same
/// inputs, python and installer), still whole: the newest such, if any.
pub fn built_for(venv: &Path, wanted: &Wanted) -> Option<PathBuf> {
    let versions = versions_dir(venv);
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&versions)
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .filter(|(_, dir)| {
            is_ours(dir)
                && recorded_fingerprints(dir).contains(&wanted.fingerprint)
                && health(dir, Some(&wanted.python_version)).is_none()
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// Points `venv` at `version`, one dwell built before (see [`built_for`]): no
/// process, one rename.
pub fn switch_to(venv: &Path, version: &Path, setup: &Setup) -> Result<(), VenvError> {
    swap(venv, &versions_dir(venv), version, setup)
}

/// What is at a venv's path before dwell puts its link there.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Occupant {
    Nothing,
    /// dwell's own link into its versions directory.
    Ours,
    /// A venv directory the user made (`python -m venv .venv`).
    HandMade,
    /// Anything else: never replaced (what it is, for the message).
    Foreign(&'static str),
}

pub(super) fn occupant(venv: &Path, versions: &Path) -> Occupant {
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
    pub(super) fn replaceable(&self, venv: &Path, move_hand_made: bool) -> Result<(), VenvError> {
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
pub(super) const MADE_BY_DWELL: &str = ".dwell-version";

/// Makes the next numbered version directory under `versions`, marked as
/// dwell's. An existing directory is never taken over.
pub(super) fn new_version(versions: &Path) -> std::io::Result<PathBuf> {
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
                mark_as_ours(&dir)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(e),
        }
    }
}

fn mark_as_ours(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join(MADE_BY_DWELL),
        "made by dwell; removed when replaced\n",
    )
}

/// Removes `dir` if dwell made it (a real directory with dwell's mark, not a
/// link); anything else is left alone.
pub(super) fn remove_version(dir: &Path) {
    if is_ours(dir) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A real directory (not a link) that holds dwell's mark.
fn is_ours(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && std::fs::symlink_metadata(dir.join(MADE_BY_DWELL)).is_ok_and(|m| m.is_file())
}
