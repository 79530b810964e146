//! The seed's Python projects as its readers write them (the guide dwell was made
//! from): the Level 1 `shell.nix` with its greeting, the Level 2 `python-env.nix`
//! and the `jupyter-env.nix` whose shellHook never returns — rebuilt on the
//! stand-in nixpkgs.

use crate::util::*;

use std::time::{Duration, Instant};

/// The seed's Level 1 shell.nix, word for word (python311, pip, virtualenv,
/// postgresql, gcc, stdenv and the greeting).
pub const LEVEL1_SHELL_NIX: &str = r#"{ pkgs ? import <nixpkgs> {} }:

pkgs.mkShell {
  buildInputs = with pkgs; [
    # Python and pip
    python311
    python311Packages.pip
    python311Packages.virtualenv

    # System dependencies your Python packages might need
    postgresql  # for psycopg2
    gcc         # for packages that compile C extensions
    stdenv      # standard build environment
  ];

  shellHook = ''
    echo "🐍 Python development environment ready!"
    echo "Create a virtual environment with: python -m venv .venv"
    echo "Activate it with: source .venv/bin/activate"
  '';
}
"#;

/// The seed's Level 2 python-env.nix, word for word.
pub const PYTHON_ENV_NIX: &str = r#"# python-env.nix - Your entire Python environment as code
{ pkgs ? import <nixpkgs> {} }:

let
  myPython = pkgs.python311.withPackages (ps: with ps; [
    # Web framework
    django

    # Data science
    pandas
    numpy
    matplotlib
    jupyter

    # Utilities
    requests
    pytest
    black

    # Any other packages you need
  ]);
in
pkgs.mkShell {
  buildInputs = [
    myPython
    # Other tools
    pkgs.git
    pkgs.ruff
  ];

  shellHook = ''
    echo "🚀 Declarative Python environment loaded!"
    echo "All packages are already available - no pip needed!"
    echo "Run 'python' to start coding"
  '';
}
"#;

/// The seed's jupyter-env.nix, word for word: its shellHook runs `jupyter lab`.
pub const JUPYTER_ENV_NIX: &str = r#"# jupyter-env.nix
{ pkgs ? import <nixpkgs> {} }:

let
  myPython = pkgs.python311.withPackages (ps: with ps; [
    jupyter
    ipykernel
    pandas
    numpy
    matplotlib
    seaborn
    scikit-learn
  ]);
in
pkgs.mkShell {
  buildInputs = [ myPython ];

  shellHook = ''
    jupyter lab
  '';
}
"#;

#[test]
fn the_level1_greeting_is_shown_on_every_entry() {
    need!("nix");
    let w = World::new();
    let p = w.project("level1", &[("shell.nix", LEVEL1_SHELL_NIX)]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("🐍 Python development environment ready!");
    sh.said("Activate it with: source .venv/bin/activate");
    assert!(
        sh.path().iter().any(|e| e.ends_with("-psql/bin")),
        "{:?}",
        sh.path()
    );
    // Not on a prompt where nothing changes; again on the next entry (cached).
    sh.prompt(&p);
    assert!(!sh.last_stderr.contains("🐍"), "{}", sh.last_stderr);
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert_eq!(sh.last_json["freshness"], "cached");
    sh.said("🐍 Python development environment ready!");
    // `shellhook_output = "first"`: only when the shellHook has just run.
    w.set_user_config("shellhook_output = \"first\"\n");
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert!(!sh.last_stderr.contains("🐍"), "{}", sh.last_stderr);
    let mut fresh = SimShell::new(&w);
    w.write(
        &p,
        &[("shell.nix", &LEVEL1_SHELL_NIX.replace("ready!", "ready!!"))],
    );
    w.allow(&p);
    fresh.prompt(&p);
    fresh.said("🐍 Python development environment ready!!");
    w.set_user_config("shellhook_output = \"never\"\n");
    fresh.prompt(&w.dir);
    fresh.prompt(&p);
    assert!(!fresh.last_stderr.contains("🐍"), "{}", fresh.last_stderr);
}

/// The guides' other common Level 1: the shellHook makes the venv and sources
/// its `activate`. The venv is served (layered by dwell), the user's prompt is
/// not taken, and dwell says once that the line can go.
#[test]
fn a_level1_shellhook_that_sources_the_venv_keeps_the_prompt() {
    need!("nix");
    let w = World::new();
    let shell = LEVEL1_SHELL_NIX.replace(
        "echo \"Activate it with: source .venv/bin/activate\"",
        "if [ ! -d .venv ]; then python -m venv --without-pip .venv; fi\n    source .venv/bin/activate",
    );
    assert_ne!(shell, LEVEL1_SHELL_NIX);
    let p = w.project("level1-activate", &[("shell.nix", &shell)]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("kept your prompt: the project's environment sets PS1");
    assert_eq!(sh.get("PS1"), None);
    assert_eq!(
        sh.get("VIRTUAL_ENV"),
        Some(p.join(".venv").display().to_string())
    );
    sh.said("dwell already layers the project's venv");
    // Said on a load, not at every prompt.
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("kept your prompt"),
        "{}",
        sh.last_stderr
    );
    sh.prompt(&w.dir);
    assert_eq!(sh.get("VIRTUAL_ENV"), None);
    assert_eq!(sh.get("PS1"), None);
}

fn pids(w: &World) -> Vec<i32> {
    std::fs::read_to_string(w.home.join("jupyter-standin.pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn a_shellhook_that_never_returns_is_stopped_and_the_devshell_served() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "notebook",
        &[
            ("jupyter-env.nix", JUPYTER_ENV_NIX),
            (".dwell.toml", "shellhook_timeout = \"3s\"\n"),
        ],
    );
    w.ok(&p, &["allow", "--file", "jupyter-env.nix"]);
    let mut sh = SimShell::new(&w);
    let started = Instant::now();
    sh.prompt(&p);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "the prompt waited {took:?}");
    // The devShell's environment, without the hook's effects, and why.
    assert!(
        sh.path().iter().any(|e| e.contains("python3-env/bin")),
        "{:?}\n{}",
        sh.path(),
        sh.last_stderr
    );
    sh.said("the shellHook did not finish within 3 s and was stopped");
    sh.said("dwell exec jupyter lab");
    // The server the hook started is gone, with its whole process group.
    let started_pids = pids(&w);
    assert_eq!(started_pids.len(), 1, "jupyter ran once");
    assert!(
        wait_for(5, || !alive(started_pids[0])),
        "jupyter (pid {}) outlived the hook",
        started_pids[0]
    );
    // Entering again waits for nothing: the result is cached, marked so.
    let again = Instant::now();
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert!(again.elapsed() < Duration::from_secs(3));
    sh.said("did not finish within 3 s");
    assert_eq!(pids(&w).len(), 1, "the hook did not run again");
}

#[test]
fn allow_file_uses_the_seeds_python_env_nix_in_one_step() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "declarative",
        &[
            ("python-env.nix", PYTHON_ENV_NIX),
            (
                ".dwell.toml",
                "# my settings\n[env]\nDATABASE_URL = \"postgres:///app\"\n",
            ),
        ],
    );
    std::fs::remove_file(p.join(".dwell.toml")).unwrap();
    // Not a project yet: status says what would use the file.
    let status = w.ok(&p, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("`dwell allow --file python-env.nix`"),
        "{text}"
    );
    // With a .dwell.toml of the user's own: its lines are kept.
    w.write(
        &p,
        &[(
            ".dwell.toml",
            "# my settings\n[env]\nDATABASE_URL = \"postgres:///app\"\n",
        )],
    );
    let out = w.ok(&p, &["allow", "--file", "python-env.nix"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("python-env.nix"));
    let config = std::fs::read_to_string(p.join(".dwell.toml")).unwrap();
    assert_eq!(
        config,
        "file = \"python-env.nix\"\n# my settings\n[env]\nDATABASE_URL = \"postgres:///app\"\n"
    );
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("🚀 Declarative Python environment loaded!");
    assert_eq!(sh.get("DATABASE_URL").as_deref(), Some("postgres:///app"));
    assert!(sh.path().iter().any(|e| e.contains("python3-env/bin")));
    // python from the environment imports the declared packages.
    let out = w.ok(
        &p,
        &[
            "exec",
            "--",
            "python",
            "-c",
            "import django, pandas; print(django.NAME)",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "django");
    // Run again, the same file: the line is replaced, not repeated.
    w.ok(&p, &["allow", "--file", "python-env.nix"]);
    let again = std::fs::read_to_string(p.join(".dwell.toml")).unwrap();
    assert_eq!(again.matches("file =").count(), 1, "{again}");
    // A file that is not there is one clear error.
    let missing = w
        .dwell(&p, &["allow", "--file", "nope.nix"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no file nope.nix"));
}

#[test]
fn a_shellhook_that_leaves_a_background_process_neither_hangs_nor_leaves_it_running() {
    need!("nix");
    let w = World::new();
    let pidfile = w.dir.join("background.pid");
    let p = w.project(
        "background",
        &[(
            "shell.nix",
            &format!(
                "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{ FOO = \"bar\"; shellHook = ''( while sleep 1; do :; done ) & echo $! > {}''; }}\n",
                pidfile.display()
            ),
        )],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    let started = Instant::now();
    sh.prompt(&p);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(5, || !alive(pid)),
        "the hook's background loop (pid {pid}) lives on"
    );
}
