//! Lockfile-exact venvs with the real uv and Poetry, offline: wheels made here,
//! path sources. The lock's own tool installs it into the venv with the Nix
//! environment's python; an unchanged lock starts no tool at all.

use crate::util::*;
use std::path::{Path, PathBuf};

/// A wheel of a one-module package `name` (with `WORD = word`), made offline.
fn wheel(dir: &Path, name: &str, version: &str, word: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let script = r#"
import base64, hashlib, sys, zipfile
path, name, version, word = sys.argv[1:5]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"WORD = {word!r}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: dwell-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for n, c in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{n},sha256={digest},{len(c.encode())}")
files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
with zipfile.ZipFile(path, "w") as z:
    for n, c in files.items():
        z.writestr(n, c)
"#;
    run_ok(
        std::process::Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&path)
            .args([name, version, word]),
    );
    path
}

/// A shell.nix with python3 and `tools`, offline for uv and Poetry; with `log`,
/// each of them (python3 too) writes its arguments there when it runs.
fn shell_nix(tools: &[&str], log: Option<&Path>) -> String {
    let packages: Vec<String> = ["python3"]
        .iter()
        .chain(tools)
        .map(|t| match log {
            // While `<log>.gate` exists, installs (`uv sync --frozen` alone)
            // wait: a sync the test holds open.
            Some(log) => format!(
                "(pkgs.writeShellScriptBin \"{t}\" ''echo \"{t} $*\" >> {log}; if [ \"$*\" = \"sync --frozen\" ]; then while [ -e {log}.gate ]; do sleep 0.05; done; fi; exec ${{pkgs.{t}}}/bin/{t} \"$@\"'')",
                log = log.display()
            ),
            None => format!("pkgs.{t}"),
        })
        .collect();
    format!(
        "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{\n  packages = [ {} ];\n  UV_OFFLINE = \"1\";\n}}\n",
        packages.join(" ")
    )
}

fn pyproject_uv(wheel: &Path) -> String {
    format!(
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"greet\"]\n\n[tool.uv.sources]\ngreet = {{ path = \"{}\" }}\n",
        wheel.display()
    )
}

/// A uv project `name` with `shell_nix`, `[venv] create = true`, depending on the
/// wheel `greet`, locked by the real uv.
fn uv_project(w: &World, name: &str, shell_nix: &str, greet: &Path) -> PathBuf {
    let p = w.project(
        name,
        &[
            ("shell.nix", shell_nix),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            ("pyproject.toml", &pyproject_uv(greet)),
        ],
    );
    tool(w, &p, "uv", &["lock"]);
    p
}

/// `tool ARGS` in `p`, as the user would run it there (offline), with `envs`.
fn tool_in(
    w: &World,
    p: &Path,
    tool: &str,
    args: &[&std::ffi::OsStr],
    envs: &[(&str, &std::ffi::OsStr)],
) -> std::process::Output {
    let path = require(tool).expect("checked by need!");
    let out = w
        .command(path)
        .args(args)
        .current_dir(p)
        .envs(envs.iter().copied())
        .env("UV_OFFLINE", "1")
        .env("UV_PYTHON", "/usr/bin/python3")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What `python -c CODE` prints in the project's environment (`dwell exec`).
/// `tool ARGS` in `p`, as the user would run it there (offline).
fn tool(w: &World, p: &Path, name: &str, args: &[&str]) -> std::process::Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    tool_in(w, p, name, &args, &[])
}

fn python_in(w: &World, p: &Path, code: &str) -> String {
    let out = w
        .dwell(p, &["exec", "--", "python", "-c", code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// uv's `sync --frozen` runs that installed (`check`: false) or only checked.
fn syncs(log: &Path, check: bool) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("uv sync --frozen") && l.contains("--check") == check)
        .count()
}

/// The venv version `.venv` points to now.
fn venv_version(p: &Path) -> PathBuf {
    std::fs::read_link(p.join(".venv")).unwrap()
}

#[test]
fn a_uv_lock_is_synced_exactly_once_per_change_and_never_when_unchanged() {
    need!("nix", "uv");
    let w = World::new();
    let log = w.dir.join("uv-calls.log");
    let wheels = w.dir.join("wheels");
    let one = wheel(&wheels, "greet", "0.1.0", "one");
    let p = uv_project(&w, "uvlock", &shell_nix(&["uv"], Some(&log)), &one);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        python_in(&w, &p, "import greet; print(greet.WORD)"),
        "one",
        "{}",
        sh.last_stderr
    );
    assert_eq!(syncs(&log, false), 1, "{}", sh.last_stderr);
    // The shell's own uv uses the same venv, its python, and downloads none.
    assert_eq!(
        sh.get("UV_PROJECT_ENVIRONMENT"),
        Some(p.join(".venv").display().to_string())
    );
    assert_eq!(sh.get("UV_PYTHON_DOWNLOADS").as_deref(), Some("never"));

    // Twenty entries with nothing changed: no uv, no python at all.
    let before = std::fs::read_to_string(&log).unwrap();
    // uv made the venv (milliseconds, no pip): the python ran no `-m venv`.
    assert!(before.contains("uv venv "), "uv is logged: {before}");
    assert!(!before.contains("-m venv"), "{before}");
    for _ in 0..20 {
        sh.prompt(&w.dir);
        sh.prompt(&p);
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), before);
    // A freshly started daemon too: what it learned of the python is kept.
    w.ok(&p, &["stop"]);
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert!(running_daemon_pid(&w).is_some(), "{}", sh.last_stderr);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        before,
        "no python from a fresh daemon"
    );
    assert_eq!(
        sh.get("UV_PROJECT_ENVIRONMENT"),
        Some(p.join(".venv").display().to_string())
    );

    // A new lock (a `git pull` while the shell sits in the project): the daemon
    // sends the shells down the slow path; the lock was never allowed, so the
    // next prompt says so once and installs nothing, until `dwell allow`.
    let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap();
    let first = [read("pyproject.toml"), read("uv.lock")];
    let two = wheel(&wheels, "greet", "0.2.0", "two");
    let counter = w.generation();
    w.write(&p, &[("pyproject.toml", &pyproject_uv(&two))]);
    // A prompt between the edit and `uv lock`: the venv still holds the lock,
    // and is noted as holding this state too (never instead of the first).
    assert!(wait_for(10, || w.generation() != counter));
    sh.prompt(&p);
    let counter = w.generation();
    tool(&w, &p, "uv", &["lock"]);
    assert!(
        wait_for(10, || w.generation() != counter),
        "the lock change did not reach the shells"
    );
    sh.prompt(&p);
    assert!(
        sh.last_stderr
            .contains("uv.lock, pyproject.toml changed since you allowed the project"),
        "{}",
        sh.last_stderr
    );
    assert_eq!(python_in(&w, &p, "import greet; print(greet.WORD)"), "one");
    assert_eq!(syncs(&log, false), 1, "held: {}", sh.last_stderr);
    // Allowed, it installs in the background: while the install is held open,
    // prompts and commands are answered at once with the venv as it was.
    let gate = log.with_extension("log.gate");
    std::fs::write(&gate, "").unwrap();
    let release = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            // A safety: a prompt that waited would hang the test.
            wait_for(60, || !gate.exists());
            let _ = std::fs::remove_file(gate);
        })
    };
    let before = venv_version(&p);
    w.allow(&p);
    sh.prompt(&p);
    sh.said("updating the venv for uv.lock, pyproject.toml in the background");
    for _ in 0..5 {
        sh.prompt(&w.dir);
        sh.prompt(&p);
    }
    // Twenty shells entering at once: every one answered, with the venv as it
    // is, while the install is still held.
    let entering: Vec<_> = (0..20)
        .map(|_| {
            let mut export = w.dwell(&p, &["export", "json"]);
            std::thread::spawn(move || export.output().unwrap())
        })
        .collect();
    for shell in entering {
        let out = shell.join().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        let env: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            env["VIRTUAL_ENV"].as_str(),
            p.join(".venv").to_str(),
            "{said}"
        );
    }
    assert_eq!(python_in(&w, &p, "import greet; print(greet.WORD)"), "one");
    assert!(
        gate.exists(),
        "every answer came while the install was held"
    );
    assert!(w.status_json(&p)["venv_updating"] == true);
    std::fs::remove_file(&gate).unwrap();
    release.join().unwrap();
    venv_settled(&w, &p);
    sh.prompt(&p);
    sh.said("the venv was updated for uv.lock, pyproject.toml (in ");
    assert_eq!(python_in(&w, &p, "import greet; print(greet.WORD)"), "two");
    assert_eq!(syncs(&log, false), 2, "{}", sh.last_stderr);
    let synced = venv_version(&p);
    assert_ne!(synced, before);

    // A broken lock: one clear error, and the venv before it still works.
    let good = std::fs::read_to_string(p.join("uv.lock")).unwrap();
    w.write(&p, &[("uv.lock", "this is not a lock\n")]);
    w.allow(&p);
    sh.prompt(&w.dir);
    prompt_settled(&w, &mut sh, &p);
    assert!(sh.last_stderr.contains("uv"), "{}", sh.last_stderr);
    assert!(
        sh.last_stderr.contains("the current venv stays as it was"),
        "{}",
        sh.last_stderr
    );
    assert_eq!(python_in(&w, &p, "import greet; print(greet.WORD)"), "two");
    assert_eq!(venv_version(&p), synced);
    w.write(&p, &[("uv.lock", &good)]);
    sh.prompt(&p);
    assert_eq!(venv_version(&p), synced, "the venv matches the lock again");

    // The branch switched back: its venv was kept, and is served at once, with
    // no process at all; and forth again.
    let second = [read("pyproject.toml"), read("uv.lock")];
    let calls = std::fs::read_to_string(&log).unwrap();
    for (files, word) in [(&first, "one"), (&second, "two")] {
        w.write(&p, &[("pyproject.toml", &files[0]), ("uv.lock", &files[1])]);
        sh.prompt(&p);
        assert!(!sh.last_stderr.contains("background"), "{}", sh.last_stderr);
        assert_eq!(python_in(&w, &p, "import greet; print(greet.WORD)"), word);
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        calls,
        "no uv, no python"
    );
    assert_eq!(venv_version(&p), synced);

    // The user adds a package with their own uv in the shell: uv locks and syncs
    // the venv; dwell sees it matches and builds nothing.
    let extra = wheel(&wheels, "extra", "1.0.0", "added");
    let venv = p.join(".venv");
    tool_in(
        &w,
        &p,
        "uv",
        &["add".as_ref(), extra.as_os_str()],
        &[("UV_PROJECT_ENVIRONMENT", venv.as_os_str())],
    );
    let (installs, checks) = (syncs(&log, false), syncs(&log, true));
    sh.prompt(&p);
    assert_eq!(venv_version(&p), synced, "no rebuild: {}", sh.last_stderr);
    assert_eq!(syncs(&log, false), installs, "no install");
    assert_eq!(syncs(&log, true), checks + 1, "one check");
    assert_eq!(
        python_in(&w, &p, "import extra; print(extra.WORD)"),
        "added"
    );

    // Leaving undoes the venv layer's variables like any other.
    sh.prompt(&w.dir);
    assert_eq!(sh.get("UV_PROJECT_ENVIRONMENT"), None);
    assert_eq!(sh.get("POETRY_VIRTUALENVS_IN_PROJECT"), None);
}

#[test]
fn a_lock_whose_tool_is_missing_says_which_package_to_add() {
    need!("nix", "uv");
    let w = World::new();
    let one = wheel(&w.dir.join("wheels"), "greet", "0.1.0", "one");
    let p = uv_project(&w, "notool", &shell_nix(&[], None), &one);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(
        sh.last_stderr.contains("uv.lock needs uv") && sh.last_stderr.contains("add pkgs.uv"),
        "{}",
        sh.last_stderr
    );
    assert!(!p.join(".venv").exists());
}

#[test]
fn a_poetry_lock_is_installed_by_poetry_with_the_nix_python() {
    need!("nix", "poetry");
    let w = World::new();
    let log = w.dir.join("poetry-calls.log");
    let one = wheel(&w.dir.join("wheels"), "greet", "0.1.0", "one");
    let p = w.project(
        "poetrylock",
        &[
            ("shell.nix", &shell_nix(&["poetry"], Some(&log))),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            (
                "pyproject.toml",
                &format!(
                    "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\npython = \">=3.8\"\ngreet = {{ path = \"{}\" }}\n",
                    one.display()
                ),
            ),
        ],
    );
    tool(&w, &p, "poetry", &["lock", "--no-interaction"]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        python_in(&w, &p, "import greet; print(greet.WORD)"),
        "one",
        "{}",
        sh.last_stderr
    );
    // Installed into dwell's venv, made with the Nix environment's python.
    let prefix = python_in(&w, &p, "import sys; print(sys.prefix)");
    assert_eq!(
        Path::new(&prefix).canonicalize().unwrap(),
        p.join(".venv").canonicalize().unwrap()
    );
    assert_eq!(
        sh.get("POETRY_VIRTUALENVS_IN_PROJECT").as_deref(),
        Some("true")
    );

    // Unchanged: twenty entries start no Poetry and no python.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("poetry sync --no-interaction"), "{calls}");
    for _ in 0..20 {
        sh.prompt(&w.dir);
        sh.prompt(&p);
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), calls);

    // The user adds a package with Poetry in the shell (the venv is active
    // there): Poetry locks and installs it; dwell sees the venv has it and
    // rebuilds nothing.
    let synced = venv_version(&p);
    let extra = wheel(&w.dir.join("wheels"), "extra", "1.0.0", "added");
    let venv = p.join(".venv");
    tool_in(
        &w,
        &p,
        "poetry",
        &[
            "add".as_ref(),
            "--no-interaction".as_ref(),
            extra.as_os_str(),
        ],
        &[("VIRTUAL_ENV", venv.as_os_str())],
    );
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert_eq!(venv_version(&p), synced, "no rebuild: {}", sh.last_stderr);
    let after = std::fs::read_to_string(&log).unwrap();
    // Checked against the venv's dist-info: no Poetry at all (it would load
    // the project's plugins for a lock nobody allowed).
    assert_eq!(&after[calls.len()..], "", "no check by Poetry, no install");
    assert_eq!(
        python_in(&w, &p, "import extra; print(extra.WORD)"),
        "added"
    );
}

#[test]
fn a_pylock_toml_is_installed_by_uv_and_hashed_requirements_by_pip() {
    need!("nix", "uv");
    let w = World::new();
    let one = wheel(&w.dir.join("wheels"), "greet", "0.1.0", "one");
    let p = uv_project(&w, "pylock", &shell_nix(&["uv"], None), &one);
    tool(
        &w,
        &p,
        "uv",
        &["export", "--format", "pylock.toml", "-o", "pylock.toml"],
    );
    std::fs::remove_file(p.join("uv.lock")).unwrap();
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        python_in(&w, &p, "import greet; print(greet.WORD)"),
        "one",
        "{}",
        sh.last_stderr
    );

    // requirements.txt with hashes: pip installs exactly these, checking them.
    let out = run_ok(
        w.command("/usr/bin/python3")
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
            ])
            .arg(&one),
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let q = w.project(
        "hashed",
        &[
            ("shell.nix", &shell_nix(&[], None)),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            (
                "requirements.txt",
                &format!("greet @ file://{} --hash=sha256:{hash}\n", one.display()),
            ),
        ],
    );
    w.allow(&q);
    sh.prompt(&q);
    assert_eq!(
        python_in(&w, &q, "import greet; print(greet.WORD)"),
        "one",
        "{}",
        sh.last_stderr
    );
    // A wrong hash is refused: the requirements are checked, not trusted.
    w.write(
        &q,
        &[(
            "requirements.txt",
            &format!(
                "greet @ file://{} --hash=sha256:{}\n",
                one.display(),
                "0".repeat(64)
            ),
        )],
    );
    w.allow(&q);
    sh.prompt(&w.dir);
    prompt_settled(&w, &mut sh, &q);
    assert!(
        sh.last_stderr.contains("the current venv stays as it was"),
        "{}",
        sh.last_stderr
    );
}
