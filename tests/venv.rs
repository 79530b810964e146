//! `dwell venv` and `[venv] create = true`, offline with real pip: a tiny wheel
//! made in the test, installed with `--no-index --find-links`, into venvs made with
//! the python of the project's Nix environment.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `name-version-py3-none-any.whl` (a module `name` with VERSION) to `dir`.
fn make_wheel(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"
import sys, zipfile, hashlib, base64
d, name, version = sys.argv[1:4]
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\n",
    f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: dwell-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(f"{d}/{name}-{version}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
        z.writestr(path, data)
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    z.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
"#;
    run_ok(
        Command::new(python())
            .args(["-c", script])
            .arg(dir)
            .args([name, version]),
    );
}

/// A world whose pip installs only from local wheels (no network).
fn offline_world() -> (World, PathBuf) {
    let mut w = World::new();
    let wheels = w.dir.join("wheels");
    make_wheel(&wheels, "tinypkg", "1.0");
    make_wheel(&wheels, "tinypkg", "2.0");
    w.env.insert("PIP_NO_INDEX".into(), "1".into());
    // Debian keeps setuptools' wheel there, for building pyproject.toml projects.
    w.env.insert(
        "PIP_FIND_LINKS".into(),
        format!("{} /usr/share/python-wheels", wheels.display()).into(),
    );
    w.env
        .insert("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into());
    (w, wheels)
}

/// A level-1 project: python from Nix, a requirements.txt.
fn level1(w: &World, name: &str, requirements: &str) -> PathBuf {
    let p = w.project(
        name,
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; FOO = \"bar\"; }\n",
            ),
            ("requirements.txt", requirements),
        ],
    );
    w.allow(&p);
    p
}

/// `python -c CODE` in the project's environment (through `dwell exec`).
fn python_in(w: &World, p: &Path, code: &str) -> (bool, String) {
    let out = w
        .dwell(p, &["exec", "--", "python", "-c", code])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string()
            + &String::from_utf8_lossy(&out.stderr),
    )
}

fn syncs_logged(w: &World, root: &Path) -> usize {
    w.daemon_log()
        .matches(&format!("syncing the venv of {}\n", root.display()))
        .count()
}

#[test]
fn dwell_venv_creates_the_venv_with_the_nix_python_and_installs_requirements() {
    need!("nix");
    let (w, wheels) = offline_world();
    let p = level1(&w, "api", "tinypkg==1.0\n");
    // Before: status says what would give the project its venv.
    let status = String::from_utf8_lossy(&w.ok(&p, &["status"]).stdout).into_owned();
    assert!(
        status.contains("none yet, for requirements.txt: `dwell venv` makes one"),
        "{status}"
    );
    let out = w.ok(&p, &["venv"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is ready ("), "{said}");
    assert!(said.contains(", from requirements.txt)"), "{said}");
    let (ok, text) = python_in(
        &w,
        &p,
        "import sys, tinypkg; print(tinypkg.VERSION, sys.prefix)",
    );
    assert!(ok, "{text}");
    assert!(text.starts_with("1.0 "), "{text}");
    assert!(
        text.contains(&format!("{}/.venv", p.display())),
        "the venv's python: {text}"
    );
    // Made with the Nix environment's python: its home is in the Nix store.
    let cfg = std::fs::read_to_string(p.join(".venv/pyvenv.cfg")).unwrap();
    let store = w.dir.join("nix/store");
    assert!(
        cfg.contains(&format!("home = {}", store.display())),
        "{cfg}"
    );
    // The prompt is the project's name.
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("VIRTUAL_ENV_PROMPT").as_deref(), Some("api"));
    // Unchanged requirements: nothing to do.
    let again = w.ok(&p, &["venv"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("is up to date"));
    // Another pin builds a new version; the old pin back is switched back to,
    // with no install.
    let first = std::fs::read_link(p.join(".venv")).unwrap();
    w.write(&p, &[("requirements.txt", "tinypkg==2.0\n")]);
    w.allow(&p);
    w.ok(&p, &["venv"]);
    assert_ne!(std::fs::read_link(p.join(".venv")).unwrap(), first);
    w.write(&p, &[("requirements.txt", "tinypkg==1.0\n")]);
    let back = w.ok(&p, &["venv"]);
    let said = String::from_utf8_lossy(&back.stderr);
    assert!(
        said.contains("switched back to the venv built before"),
        "{said}"
    );
    assert!(!said.contains("Processing"), "no install: {said}");
    assert_eq!(std::fs::read_link(p.join(".venv")).unwrap(), first);
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
    // Only `venv_generations` versions are kept, the one in use among them.
    w.set_user_config("venv_generations = 2\n");
    make_wheel(&wheels, "tinypkg", "3.0");
    w.write(&p, &[("requirements.txt", "tinypkg==3.0\n")]);
    w.allow(&p);
    w.ok(&p, &["venv"]);
    let kept: Vec<_> = std::fs::read_dir(p.join(".venv.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u64>().is_ok())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("3.0"), "{text}");
}

#[test]
fn create_true_builds_and_syncs_the_venv_on_entry() {
    need!("nix");
    let (w, wheels) = offline_world();
    let p = level1(&w, "auto", "tinypkg==1.0\n");
    w.write(&p, &[(".dwell.toml", "[venv]\ncreate = true\n")]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(sh.get("VIRTUAL_ENV").is_some(), "{}", sh.last_stderr);
    // The status line says what took the time: Nix, then the venv.
    sh.said(" · evaluated · nix ");
    sh.said(" · venv synced · total ");
    sh.said(" + .venv");
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
    assert_eq!(syncs_logged(&w, &p), 1);

    // The requirements change (a pull): installing runs what they name, so it
    // waits for `dwell allow`; the shell sitting here is told once, the venv
    // stays, and status shows the diff.
    std::fs::write(p.join("requirements.txt"), "tinypkg==2.0\n").unwrap();
    sh.prompt(&p);
    sh.said("requirements.txt changed since you allowed the project; the venv stays as it is");
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("changed since"),
        "once: {}",
        sh.last_stderr
    );
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
    assert_eq!(syncs_logged(&w, &p), 1);
    let status = String::from_utf8_lossy(&w.ok(&p, &["status"]).stdout).into_owned();
    assert!(
        status.contains("\nvenv       requirements.txt changed"),
        "{status}"
    );
    assert!(status.contains("+ tinypkg==2.0"), "{status}");
    // Allowed: one re-install, in the background, the current venv serving
    // meanwhile; the shell hears when the new one is in.
    w.allow(&p);
    sh.prompt(&p);
    sh.said("updating the venv for requirements.txt in the background; the current one serves until it is ready");
    venv_settled(&w, &p);
    sh.prompt(&p);
    sh.said("the venv was updated for requirements.txt (in ");
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("updated"),
        "once: {}",
        sh.last_stderr
    );
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("2.0"), "{text}");
    assert_eq!(syncs_logged(&w, &p), 2);
    // Unchanged: no re-install.
    sh.prompt(&p);
    let mut other = SimShell::new(&w);
    other.prompt(&p);
    assert_eq!(syncs_logged(&w, &p), 2);
    // A comment edited is no change to install.
    std::fs::write(
        p.join("requirements.txt"),
        "# pinned for the API\ntinypkg==2.0  # see #12\n",
    )
    .unwrap();
    sh.prompt(&p);
    assert_eq!(syncs_logged(&w, &p), 2);
    // The branch switched back: contents once allowed stay allowed, and the
    // venv built for them is kept, so it is served at once, with no install.
    std::fs::write(p.join("requirements.txt"), "tinypkg==1.0\n").unwrap();
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("changed since") && !sh.last_stderr.contains("background"),
        "{}",
        sh.last_stderr
    );
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
    assert_eq!(syncs_logged(&w, &p), 2, "no install");
    // The user installs a new pin with pip in the shell and writes it down:
    // the venv already has it, so nothing is held and nothing runs.
    make_wheel(&wheels, "tinypkg", "3.0");
    let pip = w
        .dwell(
            &p,
            &[
                "exec",
                "--",
                "python",
                "-m",
                "pip",
                "install",
                "tinypkg==3.0",
            ],
        )
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );
    std::fs::write(p.join("requirements.txt"), "tinypkg==3.0\n").unwrap();
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("changed since"),
        "{}",
        sh.last_stderr
    );
    assert_eq!(syncs_logged(&w, &p), 2, "no install");
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("3.0"), "{text}");
}

#[test]
fn a_failed_install_leaves_the_previous_venv_working() {
    need!("nix");
    let (w, _) = offline_world();
    let p = level1(&w, "fail", "tinypkg==1.0\n");
    w.ok(&p, &["venv"]);
    let before = std::fs::read_link(p.join(".venv")).unwrap();
    std::fs::write(
        p.join("requirements.txt"),
        "tinypkg==1.0\nno-such-package==9\n",
    )
    .unwrap();
    // `dwell venv` installs only what was allowed.
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("requirements.txt changed since you allowed"),
        "{said}"
    );
    w.allow(&p);
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("dwell: requirements.txt: pip failed: Could not find a version that satisfies the requirement no-such-package==9 (from versions: none); the current venv stays as it was"),
        "{said}"
    );
    assert_eq!(std::fs::read_link(p.join(".venv")).unwrap(), before);
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
    // With create = true the failure is one line at entry, and the old venv stays.
    w.write(&p, &[(".dwell.toml", "[venv]\ncreate = true\n")]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    prompt_settled(&w, &mut sh, &p);
    let line = "requirements.txt: pip failed: Could not find a version that satisfies the requirement no-such-package==9 (from versions: none); the current venv stays as it was";
    sh.said(line);
    assert!(
        !sh.last_stderr.contains("Collecting") && !sh.last_stderr.contains("\\n"),
        "one line, not the tool's output: {}",
        sh.last_stderr
    );
    assert!(sh.get("VIRTUAL_ENV").is_some());
    assert_eq!(std::fs::read_link(p.join(".venv")).unwrap(), before);
    // Not retried, nor said again, at the prompts after; the whole output is in
    // `dwell status`.
    sh.prompt(&p);
    assert!(!sh.last_stderr.contains("pip failed"), "{}", sh.last_stderr);
    assert_eq!(syncs_logged(&w, &p), 1);
    let status = String::from_utf8_lossy(&w.ok(&p, &["status"]).stdout).into_owned();
    assert!(status.contains(line), "{status}");
    assert!(
        status.contains("ERROR: Could not find a version"),
        "{status}"
    );
    let log = w.daemon_log();
    assert!(
        log.contains("ERROR: Could not find a version"),
        "the log has it all: {log}"
    );
}

#[test]
fn a_first_install_that_fails_claims_no_previous_venv() {
    need!("nix");
    let (w, _) = offline_world();
    let p = level1(&w, "firstfail", "no-such-package==9\n");
    w.write(&p, &[(".dwell.toml", "[venv]\ncreate = true\n")]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("requirements.txt: pip failed: Could not find a version that satisfies the requirement no-such-package==9 (from versions: none); no venv was made");
    assert!(!sh.last_stderr.contains("stays"), "{}", sh.last_stderr);
    assert!(std::fs::symlink_metadata(p.join(".venv")).is_err());
}

#[test]
fn a_venv_whose_python_vanished_is_reported_and_recreated() {
    need!("nix", "nix-collect-garbage");
    let (w, _) = offline_world();
    let p = level1(&w, "stale", "tinypkg==1.0\n");
    // The venv is made with an older python package...
    let old = w.project("old", &[(
        "shell.nix",
        "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ (pkgs.pythonNamed \"python3-old\") ]; }\n",
    )]);
    w.allow(&old);
    let old_python = {
        let out = w.ok(&old, &["exec", "--", "bash", "-c", "command -v python3"]);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    w.ok(&p, &["venv", "--python", &old_python]);
    // ...which is then garbage-collected (its project's roots pruned).
    std::fs::remove_dir_all(&old).unwrap();
    for f in generation_files(&w) {
        let old_time = std::time::SystemTime::now() - std::time::Duration::from_secs(90 * 86400);
        let text = std::fs::read_to_string(&f).unwrap();
        if text.contains("\"root\":\"") && text.contains(&format!("{}\"", old.display())) {
            set_mtime(&f, old_time);
        }
    }
    w.ok(&p, &["prune", "--older-than", "30d"]);
    w.stop();
    run_ok(&mut w.command("nix-collect-garbage"));
    assert!(!Path::new(&old_python).exists(), "the old python is gone");

    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("no longer exists");
    sh.said("dwell venv --recreate");
    assert_eq!(
        sh.get("FOO").as_deref(),
        Some("bar"),
        "the rest is still served"
    );
    w.ok(&p, &["venv", "--recreate"]);
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("1.0"), "{text}");
}

#[test]
fn libraries_put_the_nix_packages_lib_dirs_on_ld_library_path() {
    need!("nix");
    let (w, _) = offline_world();
    let shell = "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 pkgs.python3Packages.numpy ]; }\n";
    let p = w.project("libs", &[("shell.nix", shell)]);
    w.venv(&p);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("LD_LIBRARY_PATH"), None, "off by default");
    w.write(&p, &[(".dwell.toml", "[venv]\nlibraries = true\n")]);
    w.allow(&p);
    sh.prompt(&p);
    let lib = sh.get("LD_LIBRARY_PATH").expect("set");
    assert!(lib.split(':').any(|d| d.ends_with("-numpy/lib")), "{lib}");
    w.write(
        &p,
        &[(".dwell.toml", "[venv]\nlibraries = [\"python3\"]\n")],
    );
    w.allow(&p);
    sh.prompt(&p);
    assert_eq!(
        sh.get("LD_LIBRARY_PATH"),
        None,
        "python3 has no lib dir; numpy not listed"
    );
}

#[test]
fn a_venv_outside_the_root_and_a_pyproject_project() {
    need!("nix");
    let (w, _) = offline_world();
    let p = w.project(
        "app",
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; }\n",
            ),
            (".dwell.toml", "[venv]\npath = \"../shared-venv\"\n"),
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"build\"]\n\n[project]\nname = \"myapp\"\nversion = \"0.3\"\n",
            ),
            ("myapp/__init__.py", "VERSION = '0.3'\n"),
            // An in-tree PEP 517 backend: setuptools would need the `wheel`
            // package, which is not available offline.
            ("build/backend.py", BACKEND),
        ],
    );
    w.allow(&p);
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shared = w.dir.join("shared-venv");
    assert!(shared.join("pyvenv.cfg").exists());
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("VIRTUAL_ENV"), Some(shared.display().to_string()));
    let (ok, text) = python_in(&w, &p, "import myapp; print(myapp.VERSION)");
    assert!(ok && text.starts_with("0.3"), "{text}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("uv (stand-in)"));

    // With uv in the Nix environment, uv installs the pyproject project.
    if require("uv").is_none() {
        return;
    }
    w.write(
        &p,
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 pkgs.uv ]; }\n",
        )],
    );
    w.allow(&p);
    let out = w.dwell(&p, &["venv", "--recreate"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    // (uv's own report of what it installed; pip says "Successfully installed".)
    assert!(said.contains("+ myapp==0.3"), "{said}");
    let (ok, text) = python_in(&w, &p, "import myapp; print(myapp.VERSION)");
    assert!(ok && text.starts_with("0.3"), "{text}");
}

const BACKEND: &str = r#"
import base64, hashlib, os, zipfile

def _wheel(directory, editable):
    name = "myapp-0.3-py3-none-any.whl"
    files = {}
    if editable:
        files["myapp.pth"] = os.getcwd() + "\n"
    else:
        files["myapp/__init__.py"] = open("myapp/__init__.py").read()
    files["myapp-0.3.dist-info/METADATA"] = "Metadata-Version: 2.1\nName: myapp\nVersion: 0.3\n"
    files["myapp-0.3.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            z.writestr(path, data)
        record.append("myapp-0.3.dist-info/RECORD,,")
        z.writestr("myapp-0.3.dist-info/RECORD", "\n".join(record) + "\n")
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, False)

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, True)
"#;

#[test]
fn no_python_in_the_nix_environment_is_one_clear_line() {
    need!("nix");
    let (w, _) = offline_world();
    let p = w.project(
        "nopy",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.hello ]; }\n",
        )],
    );
    w.allow(&p);
    let mut w2 = w;
    // Make sure no python3 is found on the shell's own PATH either.
    w2.env.insert(
        "PATH".into(),
        format!(
            "{}:/bin",
            require("nix").unwrap().parent().unwrap().display()
        )
        .into(),
    );
    let out = w2.dwell(&p, &["venv"]).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("no python3 in the project's Nix environment"),
        "{said}"
    );
    assert!(!p.join(".venv").exists());
}

#[test]
fn requirements_named_in_dwell_toml_are_the_ones_installed() {
    need!("nix");
    let (w, _) = offline_world();
    let p = level1(&w, "named", "no-such-package==1\n");
    w.write(
        &p,
        &[
            (
                ".dwell.toml",
                "[venv]\nrequirements = [\"deps/base.txt\"]\n",
            ),
            ("deps/base.txt", "tinypkg==2.0\n"),
        ],
    );
    w.allow(&p);
    // requirements.txt (broken) is not named, so it is not used.
    w.ok(&p, &["venv"]);
    let (ok, text) = python_in(&w, &p, "import tinypkg; print(tinypkg.VERSION)");
    assert!(ok && text.starts_with("2.0"), "{text}");
}

#[test]
fn a_hand_made_venv_is_moved_aside_never_deleted() {
    need!("nix");
    let (w, _) = offline_world();
    let p = level1(&w, "handmade", "tinypkg==1.0\n");
    let venv = w.venv(&p);
    std::fs::write(venv.join("my-notes.txt"), "mine").unwrap();
    let out = w.ok(&p, &["venv"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is kept at"), "{said}");
    let kept: Vec<_> = std::fs::read_dir(p.join(".venv.d"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("replaced-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::fs::read_to_string(kept[0].join("my-notes.txt")).unwrap(),
        "mine"
    );
    // And a later sync keeps it too.
    w.ok(&p, &["venv", "--recreate"]);
    assert!(kept[0].join("my-notes.txt").exists());
}

#[test]
fn a_hung_installer_is_stopped_after_install_timeout() {
    need!("nix");
    let (w, _) = offline_world();
    w.set_user_config("install_timeout = \"20s\"\n");
    // An in-tree build backend that never returns: pip waits for it for good.
    let p = w.project(
        "hung",
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; }\n",
            ),
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"build\"]\n\n[project]\nname = \"hung\"\nversion = \"1\"\n",
            ),
            ("build/backend.py", "import time\ntime.sleep(3600)\n"),
        ],
    );
    w.allow(&p);
    let started = std::time::Instant::now();
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("ran longer than 20 s and was stopped") && said.contains("install_timeout"),
        "{said}"
    );
    assert!(started.elapsed().as_secs() < 120, "stopped, not waited out");
    assert!(!p.join(".venv").exists(), "nothing half-made is served");
}

#[test]
fn the_venv_never_shows_in_git_status() {
    need!("nix", "git");
    let (w, _) = offline_world();
    let p = level1(&w, "gitproject", "tinypkg==1.0\n");
    // A `.venv/` pattern does not match a link: git would list `.venv`.
    w.write(&p, &[(".gitignore", ".venv/\n")]);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    w.ok(&p, &["venv"]);
    assert!(p.join(".venv/bin/python").exists());
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".venv"), "{status}");
    assert!(
        status.contains("requirements.txt"),
        "git sees the rest: {status}"
    );
    // Said once, however many versions are built.
    w.ok(&p, &["venv", "--recreate"]);
    let exclude = std::fs::read_to_string(p.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.matches("/.venv\n").count(), 1, "{exclude}");
}

#[test]
fn a_python_the_project_does_not_accept_is_said_before_anything_is_built() {
    need!("nix");
    let (w, _) = offline_world();
    let p = level1(&w, "needs", "");
    std::fs::remove_file(p.join("requirements.txt")).unwrap();
    w.write(
        &p,
        &[
            (".dwell.toml", "[venv]\ncreate = true\n"),
            (
                "pyproject.toml",
                "[project]\nname = \"needs\"\nversion = \"1\"\nrequires-python = \">=99\"\n",
            ),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("pyproject.toml needs Python >=99, and the project's Nix environment has 3.");
    sh.said("nothing was built");
    assert!(std::fs::symlink_metadata(p.join(".venv")).is_err());
    assert!(!p.join(".venv.d").exists(), "no venv was started");
}
