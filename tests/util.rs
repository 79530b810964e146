//! Test harness: an isolated world (HOME, XDG dirs, a Nix store of its own) in a
//! temp dir, projects built from the stand-in nixpkgs, the real `dwell` binary, and
//! a simulated shell that applies `dwell export json` as a shell would.

#![allow(dead_code)]

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const DWELL: &str = env!("CARGO_BIN_EXE_dwell");

pub const NIX_CONFIG: &str = "substituters =\nbuild-users-group =\nsandbox = false\nexperimental-features = nix-command flakes";

pub fn fixture_nixpkgs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nixpkgs")
}

/// Whether a missing tool fails the run: under CI, and under `tests/run`
/// (which installs every tool first, so a green run means every test ran).
pub fn strict() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("DWELL_TESTS_STRICT").is_some()
}

/// Finds `tool` on PATH. Missing: a failure when [`strict`], a skip (None)
/// elsewhere. Every test that needs a tool asks here (or through `need!`),
/// tools the stand-in nixpkgs wraps (uv, Poetry) included: `tests/structure.rs`
/// checks it.
pub fn require(tool: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if strict() {
            panic!("{tool} is required for this test: install it (tests/run does)");
        }
        skip(&format!("{tool} is not installed"));
    }
    found
}

static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Says on the real stderr (not the test harness's captured output, which a
/// passing test never shows) that the current test did not run, and why; the
/// count of skipped tests is said again after the harness's own summary.
pub fn skip(why: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (tests/run installs what is missing)"
    );
    if SKIPPED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        // SAFETY: atexit only records a function pointer; the handler touches
        // nothing but an atomic and stderr, which live until the process ends.
        #[allow(unsafe_code, reason = "the harness has no end-of-run hook")]
        unsafe {
            libc::atexit(report_skipped);
        }
    }
}

/// Runs as the test binary exits, after "test result: ok": a green run that
/// skipped tests must not pass for a full one.
extern "C" fn report_skipped() {
    use std::io::Write;
    let n = SKIPPED.load(std::sync::atomic::Ordering::SeqCst);
    let _ = writeln!(
        std::io::stderr(),
        "\nwarning: {n} tests SKIPPED for a missing tool (see the SKIPPED lines above); run tests/run to install them and run everything"
    );
}

/// Skips the test (outside CI) when a tool is missing.
#[macro_export]
macro_rules! need {
    ($($tool:expr),+) => {
        $( if $crate::util::require($tool).is_none() { return; } )+
    };
}

pub struct World {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub home: PathBuf,
    pub runtime: PathBuf,
    /// The environment every process of the world starts with.
    pub env: BTreeMap<String, OsString>,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("dwell-test")
            .tempdir()
            .unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let home = dir.join("home");
        let runtime = dir.join("run");
        for d in [&home, &runtime] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut env = BTreeMap::new();
        let nix_dir = require("nix")
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| "/usr/bin".into());
        let set = |env: &mut BTreeMap<String, OsString>, k: &str, v: &Path| {
            env.insert(k.to_string(), v.as_os_str().to_owned());
        };
        env.insert(
            "PATH".into(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", nix_dir.display()).into(),
        );
        set(&mut env, "HOME", &home);
        set(&mut env, "XDG_RUNTIME_DIR", &runtime);
        set(&mut env, "XDG_CACHE_HOME", &home.join(".cache"));
        set(&mut env, "XDG_STATE_HOME", &home.join(".local/state"));
        set(&mut env, "XDG_DATA_HOME", &home.join(".local/share"));
        set(&mut env, "XDG_CONFIG_HOME", &home.join(".config"));
        set(&mut env, "XDG_CONFIG_DIRS", &dir.join("etc-xdg"));
        set(&mut env, "TMPDIR", &dir);
        set(&mut env, "NIX_STORE_DIR", &dir.join("nix/store"));
        set(&mut env, "NIX_STATE_DIR", &dir.join("nix/var"));
        set(&mut env, "NIX_LOG_DIR", &dir.join("nix/log"));
        env.insert("NIX_CONFIG".into(), NIX_CONFIG.into());
        env.insert(
            "NIX_PATH".into(),
            format!("nixpkgs={}", fixture_nixpkgs().display()).into(),
        );
        env.insert("TERM".into(), "dumb".into());
        env.insert("USER".into(), "tester".into());
        // The machine-wide config, under the user's own: the scenarios in real
        // shells check the environment right after a prompt, so their prompts
        // wait for it (a loaded machine evaluates slower than the default
        // `wait`); the tests of `wait` set their own in the user config.
        let etc = dir.join("etc-xdg/dwell");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("config.toml"), "wait = \"forever\"\n").unwrap();
        World {
            _tmp: tmp,
            dir,
            home,
            runtime,
            env,
        }
    }

    /// A `dwell` command in this world, run in `cwd`.
    pub fn dwell(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(DWELL);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs dwell and returns its output; panics with stderr if it failed.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> Output {
        let out = self.dwell(cwd, args).output().unwrap();
        assert!(
            out.status.success(),
            "dwell {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn allow(&self, dir: &Path) {
        self.ok(dir, &["allow"]);
    }

    /// Writes `files` (relative path, content) under `dir`, creating it.
    pub fn write(&self, dir: &Path, files: &[(&str, &str)]) {
        for (rel, content) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    pub fn project(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.write(&dir, files);
        dir
    }

    /// The file a test shellHook appends to on every evaluation.
    pub fn count_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.evaluations"))
    }

    /// How many times the shellHook counting into `name` ran.
    pub fn evaluations(&self, name: &str) -> usize {
        std::fs::read_to_string(self.count_file(name))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// A shell.nix project: hello on PATH, FOO from an imported file, a shellHook
    /// that exports HOOKED and counts evaluations.
    pub fn shell_nix(&self, name: &str) -> PathBuf {
        let count = self.count_file(name);
        let shell = format!(
            r#"{{ pkgs ? import <nixpkgs> {{}} }}:
pkgs.mkShell {{
  packages = [ pkgs.hello ];
  FOO = import ./nix/foo.nix;
  PYTHONPATH = "/nix-python-path";
  shellHook = ''
    export HOOKED=yes
    echo x >> {}
  '';
}}
"#,
            count.display()
        );
        self.project(name, &[("shell.nix", &shell), ("nix/foo.nix", "\"bar\"\n")])
    }

    /// [`World::shell_nix`], already allowed.
    pub fn allowed_shell_nix(&self, name: &str) -> PathBuf {
        let p = self.shell_nix(name);
        self.allow(&p);
        p
    }

    /// An allowed shell.nix setting FOO=bar at `dir`, any path (a name that is
    /// not UTF-8 too).
    pub fn allowed_foo_shell_at(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("shell.nix"),
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { FOO = \"bar\"; }\n",
        )
        .unwrap();
        self.allow(dir);
    }

    /// A flake project using the stand-in nixpkgs as a `path:` input.
    pub fn flake(&self, name: &str) -> PathBuf {
        let count = self.count_file(name);
        let hook = format!("export FLAKE_HOOKED=yes\necho x >> {}", count.display());
        self.flake_with(name, "FLAKE_VAR", "\"from-flake\"", &hook)
    }

    /// A flake on the stand-in nixpkgs (a `path:` input): hello on PATH, `var`
    /// set to the value of nix/value.nix (`value`), and `hook` as its shellHook.
    pub fn flake_with(&self, name: &str, var: &str, value: &str, hook: &str) -> PathBuf {
        let flake = format!(
            r#"{{
  inputs.nixpkgs.url = "path:{}";
  outputs = {{ self, nixpkgs }}:
    let system = "{}"; pkgs = nixpkgs.legacyPackages.${{system}};
    in {{
      devShells.${{system}}.default = pkgs.mkShell {{
        packages = [ pkgs.hello ];
        {var} = import ./nix/value.nix;
        shellHook = ''
          {hook}
        '';
      }};
    }};
}}
"#,
            fixture_nixpkgs().display(),
            system(),
        );
        self.project(
            name,
            &[
                ("flake.nix", &flake),
                ("nix/value.nix", &format!("{value}\n")),
            ],
        )
    }

    /// Makes a real venv (no pip: offline) at `dir/.venv`.
    pub fn venv(&self, dir: &Path) -> PathBuf {
        let venv = dir.join(".venv");
        let out = Command::new(python())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "venv: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        venv
    }

    pub fn stop(&self) {
        let _ = self.dwell(&self.dir, &["stop"]).output();
    }

    /// The daemon's generation counter, if the file exists.
    pub fn generation(&self) -> Option<String> {
        std::fs::read_to_string(self.runtime.join("dwell/generation")).ok()
    }

    /// The daemon's log (empty if none yet).
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.home.join(".local/state/dwell/daemon.log")).unwrap_or_default()
    }

    /// The changes to `root`'s inputs the daemon has handled, each with what it
    /// did about it ("evaluating in the background", "nothing to evaluate now").
    pub fn changes_handled(&self, root: &Path) -> Vec<String> {
        let needle = format!(" inputs of {} changed: ", root.display());
        self.daemon_log()
            .lines()
            .filter_map(|l| l.split_once(&needle).map(|(_, what)| what.to_string()))
            .collect()
    }

    /// A small project, served once, whose edits are a barrier for the watcher
    /// (see [`World::watcher_caught_up`]).
    pub fn barrier_project(&self) -> PathBuf {
        let p = self.allowed_shell_nix("barrier");
        SimShell::new(self).prompt(&p);
        p
    }

    /// Edits `barrier` (from [`World::barrier_project`]) and waits until the
    /// daemon has handled that change. The watcher takes events in order and a
    /// project's change is due no later than one that came after it, so every
    /// change made before this call has been handled too: a test can then say
    /// that something did *not* happen without sleeping.
    pub fn watcher_caught_up(&self, barrier: &Path) {
        let before = self.changes_handled(barrier).len();
        let value = format!("\"{}\"\n", crate::shells::unique());
        std::fs::write(barrier.join("nix/foo.nix"), value).unwrap();
        assert!(
            wait_for(20, || self.changes_handled(barrier).len() > before),
            "the daemon never handled the barrier's change"
        );
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The versioned cache directory (`$XDG_CACHE_HOME/dwell/vN`).
pub fn cache_dir(w: &World) -> PathBuf {
    let base = w.home.join(".cache/dwell");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('v'))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

/// Every generation file in the cache.
pub fn generation_files(w: &World) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(cache_dir(w)).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    files
}

pub fn system() -> String {
    let arch = std::env::consts::ARCH;
    format!("{arch}-linux")
}

pub fn python() -> PathBuf {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| require("python3"))
        .expect("python3")
}

/// A shell simulated in Rust: keeps an environment and applies `dwell export json`
/// to it as the hook would.
pub struct SimShell<'w> {
    pub world: &'w World,
    pub env: BTreeMap<String, OsString>,
    pub last_stderr: String,
    pub last_json: Json,
    /// Asks as a shell's hook does (`--prompt`: waits only as long as the
    /// `wait` setting allows); otherwise as an editor, for the final answer.
    pub as_shell: bool,
}

impl<'w> SimShell<'w> {
    pub fn new(world: &'w World) -> SimShell<'w> {
        SimShell {
            world,
            env: world.env.clone(),
            last_stderr: String::new(),
            last_json: Json::Null,
            as_shell: false,
        }
    }

    /// A simulated shell whose prompts ask as a shell's hook does.
    pub fn at_prompt(world: &'w World) -> SimShell<'w> {
        SimShell {
            as_shell: true,
            ..SimShell::new(world)
        }
    }

    /// One prompt in `dir`: runs export and applies the changes.
    pub fn prompt(&mut self, dir: &Path) -> &Json {
        let args = match self.as_shell {
            true => &["export", "json", "--prompt"][..],
            false => &["export", "json"][..],
        };
        let out = Command::new(DWELL)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        self.last_stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // Shown by the test harness when a test fails.
        eprintln!("[prompt in {}]\n{}", dir.display(), self.last_stderr);
        assert!(out.status.success(), "export failed: {}", self.last_stderr);
        // direnv's format: a flat object of changes, or nothing at all.
        let changes: Json = if out.stdout.is_empty() {
            Json::Object(Default::default())
        } else {
            serde_json::from_slice(&out.stdout).unwrap()
        };
        for (name, value) in changes.as_object().expect("a flat object") {
            match value {
                Json::Null => {
                    self.env.remove(name);
                }
                v => {
                    self.env.insert(name.clone(), json_value(v));
                }
            }
        }
        self.last_json = serde_json::json!({
            "changes": changes,
            "freshness": freshness_said(&self.last_stderr),
        });
        &self.last_json
    }

    /// Asserts that the last prompt printed `needle` on stderr.
    #[track_caller]
    pub fn said(&self, needle: &str) {
        assert!(
            self.last_stderr.contains(needle),
            "expected {needle:?} on stderr, got:\n{}",
            self.last_stderr
        );
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.env.get(name).map(|v| v.to_string_lossy().into_owned())
    }

    pub fn path(&self) -> Vec<String> {
        self.get("PATH")
            .unwrap_or_default()
            .split(':')
            .map(String::from)
            .collect()
    }
}

/// How the environment a prompt loaded was made, from its status line:
/// "cached", "evaluated" or "stale" (null: nothing was loaded).
pub fn freshness_said(stderr: &str) -> Json {
    let line = stderr.lines().find(|l| l.contains(" · "));
    match line {
        Some(l) if l.contains(" · cached · ") => "cached".into(),
        Some(l) if l.contains(" · evaluated · nix ") => "evaluated".into(),
        Some(l) if l.contains(" · stale · ") => "stale".into(),
        _ => Json::Null,
    }
}

impl World {
    /// Makes `p` a git repository with everything committed; returns a runner of
    /// git commands there.
    pub fn git_repo<'a>(&'a self, p: &'a Path) -> impl Fn(&[&str]) + 'a {
        let git = move |args: &[&str]| {
            run_ok(
                self.command("git")
                    .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                    .args(args)
                    .current_dir(p),
            );
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "one"]);
        git
    }

    /// `dwell status --json` for `dir`.
    pub fn status_json(&self, dir: &Path) -> Json {
        let out = self.ok(dir, &["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Writes the user config (`$XDG_CONFIG_HOME/dwell/config.toml`).
    pub fn set_user_config(&self, text: &str) {
        self.write(&self.home.join(".config/dwell"), &[("config.toml", text)]);
    }
}

/// A value from the JSON form: a string, or `{"base64": …}` for other bytes.
pub fn json_value(v: &Json) -> OsString {
    use base64::Engine;
    match v {
        Json::String(s) => s.into(),
        Json::Object(map) => OsString::from_vec(
            base64::engine::general_purpose::STANDARD
                .decode(map["base64"].as_str().unwrap())
                .unwrap(),
        ),
        other => panic!("unexpected value {other}"),
    }
}

/// Sets a file's modification time (as `touch -d` would).
pub fn set_mtime(file: &Path, when: std::time::SystemTime) {
    std::fs::File::options()
        .append(true)
        .open(file)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// Makes every cached generation look unused for `days` (its file's mtime).
pub fn age_generations(w: &World, days: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86400);
    for file in generation_files(w) {
        set_mtime(&file, then);
    }
}

/// `n` shells asking for `dir`'s environment at the same time; their outputs.
pub fn concurrent_exports(w: &World, dir: &Path, n: usize) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            w.dwell(dir, &["export", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Runs `cmd` and returns its output, failing the test (with stderr) if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl World {
    /// `program` with this world's environment (and nothing else).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(&self.env).current_dir(&self.dir);
        cmd
    }
}

/// An allowed project whose environment holds values that are code in some
/// shell (quotes, `$(…)`, backticks, Nushell's `(…)`), newlines, and bytes
/// that are not UTF-8: each must arrive exactly, or be skipped, and run nothing.
pub fn hostile_project(w: &World) -> PathBuf {
    let p = w.project(
        "hostile",
        &[(
            "shell.nix",
            r#"{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {
  Q = "a'b\"c $(touch ${builtins.getEnv "TMPDIR"}/pwned1) `touch ${builtins.getEnv "TMPDIR"}/pwned2` \\ end; %s {x} * (touch pwned3)";
  shellHook = ''
    export NL=$'one\ntwo\r\n'
    export BIN=$'\x01\x7f\xff\xc3\xa9 %s %n -x'
    export DASH='-e'
  '';
}
"#,
        )],
    );
    w.allow(&p);
    p
}

/// Waits (up to two minutes) until no venv of `dir`'s project is being built
/// in the background.
pub fn venv_settled(w: &World, dir: &Path) {
    let updating = || w.status_json(dir)["venv_updating"] == true;
    assert!(wait_for(120, || !updating()), "the venv sync did not end");
}

/// Waits up to `secs` for `cond`.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// Tests that act as a second user or mount a filesystem need root. Missing: a
/// failure under CI, a printed skip elsewhere.
pub fn need_root(why: &str) -> bool {
    if rustix::process::getuid().is_root() {
        return true;
    }
    if strict() {
        panic!("this test needs root ({why}); CI runs as root");
    }
    skip(&format!("this test needs root ({why})"));
    false
}

/// Writes an executable at `path` that appends its arguments to `log`, one line
/// per call, then runs `program` with them.
pub fn logging_wrapper(path: &Path, program: &Path, log: &Path) {
    std::fs::write(
        path,
        format!(
            "#!/bin/bash\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            program.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

/// The running daemon's pid, from `dwell status --json` (None: no daemon).
pub fn running_daemon_pid(w: &World) -> Option<i32> {
    let out = w.dwell(&w.dir, &["status", "--json"]).output().ok()?;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    status["daemon"]["pid"].as_i64().map(|p| p as i32)
}

/// Whether process `pid` lives (a zombie does not count).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// A prompt in `dir`, and when it started a venv sync in the background, the
/// prompt after it ended: what a user sees once the venv is ready (the stderr
/// of both, in order).
pub fn prompt_settled(w: &World, sh: &mut SimShell, dir: &Path) {
    sh.prompt(dir);
    let first = sh.last_stderr.clone();
    if first.contains("in the background") {
        venv_settled(w, dir);
        sh.prompt(dir);
        sh.last_stderr = first + &sh.last_stderr;
    }
}

/// Asserts that elvish compiles the hook text `hook` (`-compileonly`). The line
/// editor's variables exist only in an interactive elvish: a variable of the
/// same shape stands in for them, so everything else is compiled as it is.
pub fn assert_elvish_compiles(elvish: &Path, hook: &str, dir: &Path) {
    assert!(hook.contains("edit:before-readline"), "{hook}");
    let stand_in = format!(
        "var before-readline = []\n{}",
        hook.replace("edit:before-readline", "before-readline")
    );
    let file = dir.join(format!("compiled-{}.elv", crate::shells::unique()));
    std::fs::write(&file, stand_in).unwrap();
    run_ok(Command::new(elvish).arg("-compileonly").arg(&file));
}

/// Asserts that Nushell parses the hook file `hook` (`nu-check`).
pub fn assert_nu_parses(nu: &Path, hook: &Path) {
    run_ok(
        Command::new(nu)
            .args(["--no-config-file", "-c", "nu-check --debug $env.HOOK"])
            .env("HOOK", hook),
    );
}
