//! The team cache: machine A evaluates, locks (`dwell lock`) and pushes (`dwell
//! push`) to a signed `file://` binary cache; machine B, a fresh clone with an
//! empty store, takes the environment from it with zero evaluations. Each machine
//! is a World of its own (HOME, state, daemon) with its own `/nix` (bwrap), so
//! both see store paths at `/nix/store`, as real machines do.

use crate::util::*;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One machine: a World whose Nix store is its own `/nix`, with `nix` wrapped
/// to log every call.
struct Machine {
    w: World,
    root: PathBuf,
    calls: PathBuf,
}

impl Machine {
    /// A machine whose Nix settings add `conf` to the tests' own.
    fn new(conf: &str) -> Machine {
        let mut w = World::new();
        for k in ["NIX_STORE_DIR", "NIX_STATE_DIR", "NIX_LOG_DIR"] {
            w.env.remove(k);
        }
        let root = w.dir.join("nix-root");
        let bin = w.dir.join("bin");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let calls = w.dir.join("nix-calls.log");
        logging_wrapper(&bin.join("nix"), &require("nix").unwrap(), &calls);
        let path = format!("{}:{}", bin.display(), w.env["PATH"].to_string_lossy());
        w.env.insert("PATH".into(), path.into());
        // The tests' settings name no substituter: this machine's come after.
        Machine { w, root, calls }.with_nix_config(conf)
    }

    /// This machine with `conf` in place of the Nix settings it was made with.
    fn with_nix_config(mut self, conf: &str) -> Machine {
        let config = format!("{}\n{conf}\n", crate::util::NIX_CONFIG);
        self.w.env.insert("NIX_CONFIG".into(), config.into());
        self
    }

    /// `program ARGS` on this machine: its own `/nix`, the world's environment.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = self.w.command("bwrap");
        cmd.args(["--dev-bind", "/", "/", "--bind"])
            .arg(&self.root)
            .args(["/nix", "--"])
            .arg(program)
            .args(args)
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn dwell(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command(Path::new(DWELL), args);
        cmd.current_dir(cwd).output().unwrap()
    }

    fn ok(&self, cwd: &Path, args: &[&str]) -> Output {
        let out = self.dwell(cwd, args);
        assert!(
            out.status.success(),
            "dwell {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The Nix calls that evaluated the project: `print-dev-env` of anything
    /// but a built environment (a `/nix/store/…-env` path).
    fn evaluations(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|l| l.contains("print-dev-env") && !l.ends_with("-env"))
            .collect()
    }

    /// Every Nix call that reads anything but a store path: with none, nothing
    /// was evaluated (a flake's `nix flake metadata` included).
    fn calls_beyond_the_store(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|l| l.trim() != "--version")
            .filter(|l| {
                let last = l.rsplit(' ').next().unwrap_or_default();
                !last.starts_with("/nix/store/")
            })
            .collect()
    }

    fn calls(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.calls).unwrap_or_default();
        log.lines().map(str::to_string).collect()
    }

    /// The environment `dwell export json` gives in `dir`, as a map.
    fn env(&self, dir: &Path) -> serde_json::Map<String, Json> {
        let out = self.ok(dir, &["export", "json"]);
        let json: Json = serde_json::from_slice(&out.stdout).unwrap();
        json.as_object().unwrap().clone()
    }
}

/// A team: machine A has evaluated, locked and pushed a git flake on the stand-in
/// nixpkgs (a `path:` input) to a `file://` cache signed with its key.
struct Team {
    a: Machine,
    repo: PathBuf,
    cache: PathBuf,
    public_key: String,
}

fn team() -> Option<Team> {
    for tool in ["nix", "bwrap", "git"] {
        require(tool)?;
    }
    if !need_root("bwrap gives each machine its own /nix") {
        return None;
    }
    let a = Machine::new("");
    let secret = a.w.dir.join("team-1.secret");
    new_key(&secret, "team-1");
    let public_key = public_key(&secret);
    // A signs what it builds: the environment is signed when it is made.
    let a = a.with_nix_config(&format!("secret-key-files = {}", secret.display()));
    let repo = team_flake(&a.w);
    a.ok(&repo, &["allow"]);
    // The first evaluation writes flake.lock, which the team commits; then
    // the lock is written, pushed, and committed too.
    a.ok(&repo, &["exec", "--", "true"]);
    let git = |args: &[&str]| {
        run_ok(
            a.w.command("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&repo),
        );
    };
    git(&["add", "-A"]);
    git(&["commit", "-qm", "flake.lock"]);
    let locked = a.ok(&repo, &["lock"]);
    let said = String::from_utf8_lossy(&locked.stderr);
    assert!(said.contains("wrote"), "{said}");
    let cache = a.w.dir.join("binary-cache");
    let url = format!("file://{}", cache.display());
    a.ok(&repo, &["push", &url]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "lock"]);
    Some(Team {
        a,
        repo,
        cache,
        public_key,
    })
}

/// A git flake: the stand-in nixpkgs as a `path:` input, a value from a file,
/// and a shellHook that depends on the machine (HOME) and counts its runs there.
fn team_flake(w: &World) -> PathBuf {
    let hook = "export HOOK_HOME=\"$HOME\"\necho ran >> \"$HOME/hook-runs\"";
    let p = w.flake_with("team", "TEAM_VAR", "\"shared\"", hook);
    let _ = w.git_repo(&p);
    p
}

impl Team {
    /// Machine B: a fresh clone of the repository, an empty store, and Nix
    /// set to substitute from the team's cache with the keys `trusted`.
    fn clone_on_new_machine(&self, trusted: &str) -> (Machine, PathBuf) {
        let b = Machine::new(&format!(
            "substituters = file://{}\ntrusted-public-keys = {trusted}",
            self.cache.display()
        ));
        let clone = b.w.dir.join("team");
        run_ok(
            b.w.command("git")
                .arg("clone")
                .arg("-q")
                .arg(&self.repo)
                .arg(&clone),
        );
        b.ok(&clone, &["allow"]);
        (b, clone)
    }
}

/// `nix key generate-secret` into `file`.
fn new_key(file: &Path, name: &str) {
    let out = run_ok(
        Command::new("nix")
            .args(["--extra-experimental-features", "nix-command"])
            .args(["key", "generate-secret", "--key-name", name]),
    );
    std::fs::write(file, out.stdout).unwrap();
}

/// The public key of the secret key in `file`.
fn public_key(file: &Path) -> String {
    let out = run_ok(
        Command::new("nix")
            .args(["--extra-experimental-features", "nix-command"])
            .args(["key", "convert-secret-to-public"])
            .stdin(std::fs::File::open(file).unwrap()),
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn hook_runs(m: &Machine) -> usize {
    std::fs::read_to_string(m.w.home.join("hook-runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_fresh_clone_takes_the_teams_environment_from_the_cache_without_evaluating() {
    let Some(team) = team() else { return };
    let (b, clone) = team.clone_on_new_machine(&team.public_key);
    let entered = b.ok(&clone, &["export", "bash"]);
    assert!(
        text(&entered).contains("team  flake · from dwell.lock · "),
        "{}",
        text(&entered)
    );
    let env = b.env(&clone);
    assert_eq!(
        b.calls_beyond_the_store(),
        Vec::<String>::new(),
        "B evaluated"
    );
    assert_eq!(env["TEAM_VAR"], "shared");
    assert_eq!(hook_runs(&b), 1, "the shellHook ran on B");
    assert_eq!(env["HOOK_HOME"], b.w.home.to_str().unwrap());
    // The same environment as A's, but for what depends on the machine (and
    // dwell's own record of what it loaded there).
    let mut on_a = team.a.env(&team.repo);
    let mut env = env;
    for e in [&mut on_a, &mut env] {
        e.remove("DWELL_STATE").expect("dwell's record");
    }
    let from_a = serde_json::to_string(&on_a)
        .unwrap()
        .replace(team.a.w.dir.to_str().unwrap(), "<machine>");
    let from_b = serde_json::to_string(&env)
        .unwrap()
        .replace(b.w.dir.to_str().unwrap(), "<machine>");
    assert_eq!(from_a, from_b);
    let status = String::from_utf8_lossy(&b.ok(&clone, &["status"]).stdout).into_owned();
    assert!(
        status.contains("lock       used: the environment came from dwell.lock"),
        "{status}"
    );
    // A CI runner: `dwell exec` in a fresh clone, nothing evaluated either.
    let (runner, checkout) = team.clone_on_new_machine(&team.public_key);
    let out = runner.ok(&checkout, &["exec", "--", "printenv", "TEAM_VAR"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "shared\n");
    assert_eq!(runner.calls_beyond_the_store(), Vec::<String>::new());
}

#[test]
fn every_mismatch_evaluates_and_says_why() {
    let Some(team) = team() else { return };
    let (b, clone) = team.clone_on_new_machine(&team.public_key);
    // An edit to a tracked file: a normal evaluation, and the line why.
    std::fs::write(clone.join("nix/value.nix"), "\"edited\"\n").unwrap();
    let out = b.ok(&clone, &["exec", "--", "printenv", "TEAM_VAR"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "edited\n");
    assert!(
        text(&out).contains(
            "dwell.lock not used (nix/value.nix changed since dwell.lock was written); evaluated"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(b.evaluations().len(), 1, "{:?}", b.evaluations());
    std::fs::write(clone.join("nix/value.nix"), "\"shared\"\n").unwrap();
    // A lock edited by hand asks for `dwell allow` before anything is used.
    let lock = clone.join("dwell.lock");
    let text_of_lock = std::fs::read_to_string(&lock).unwrap();
    let json: Json = serde_json::from_str(&text_of_lock).unwrap();
    let env = json["environment"].as_str().unwrap();
    let missing = format!("/nix/store/{}{}", "0".repeat(32), &env[43..]);
    std::fs::write(&lock, text_of_lock.replace(env, &missing)).unwrap();
    let refused = b.dwell(&clone, &["exec", "--", "true"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("dwell.lock"), "{}", text(&refused));
    // Allowed, it names a path the cache does not have: an evaluation.
    b.ok(&clone, &["allow"]);
    let out = b.ok(&clone, &["exec", "--", "printenv", "TEAM_VAR"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "shared\n");
    assert!(
        text(&out).contains(&format!(
            "dwell.lock not used (Nix could not substitute {}",
            &missing[11..]
        )),
        "{}",
        text(&out)
    );
    assert_eq!(b.evaluations().len(), 2, "{:?}", b.evaluations());
}

#[test]
fn a_cache_signed_by_a_key_not_trusted_is_not_used() {
    let Some(team) = team() else { return };
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("other.secret");
    new_key(&secret, "someone-else-1");
    let (b, clone) = team.clone_on_new_machine(&public_key(&secret));
    let out = b.ok(&clone, &["exec", "--", "printenv", "TEAM_VAR"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "shared\n");
    assert!(
        text(&out).contains("the binary cache's signature is not among the trusted-public-keys"),
        "{}",
        text(&out)
    );
    assert_eq!(b.evaluations().len(), 1, "{:?}", b.evaluations());
    let status = String::from_utf8_lossy(&b.ok(&clone, &["status"]).stdout).into_owned();
    assert!(
        status.contains("lock       not used: Nix could not"),
        "{status}"
    );
}

#[test]
fn an_environment_from_nix_path_is_refused_by_name() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("channel");
    let out = w.dwell(&p, &["lock"]).output().unwrap();
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains(&format!(
            "read {}/default.nix (<nixpkgs> from NIX_PATH), which is outside the project",
            fixture_nixpkgs().display()
        )),
        "{said}"
    );
    assert!(!p.join("dwell.lock").exists());
}

#[test]
fn a_self_contained_shell_nix_is_lockable_unless_it_reads_the_environment() {
    need!("nix");
    let w = World::new();
    // A shell.nix that imports nothing from outside the project.
    let shell = |value: &str| {
        format!(
            r#"derivation {{
  name = "plain-shell"; system = builtins.currentSystem; builder = "/bin/bash";
  args = [ "-c" "echo > $out" ]; outputs = [ "out" ];
  VALUE = {value};
}}
"#
        )
    };
    let p = w.project(
        "plain",
        &[
            ("shell.nix", &shell("import ./value.nix")),
            ("value.nix", "\"v\"\n"),
        ],
    );
    w.allow(&p);
    w.ok(&p, &["lock"]);
    let lock: Json = serde_json::from_slice(&std::fs::read(p.join("dwell.lock")).unwrap()).unwrap();
    assert_eq!(lock["entry"], "shell.nix");
    assert!(
        lock["inputs"]["value.nix"]
            .as_str()
            .unwrap()
            .starts_with("file:"),
        "{lock}"
    );
    assert_eq!(
        w.status_json(&p)["project"]["trust"]["state"],
        "allowed",
        "dwell lock keeps it allowed"
    );
    // Again: nothing changed, nothing written.
    let again = w.ok(&p, &["lock"]);
    assert!(
        text(&again).contains("dwell.lock is up to date"),
        "{}",
        text(&again)
    );
    std::fs::write(p.join("shell.nix"), shell("builtins.getEnv \"USER\"")).unwrap();
    w.allow(&p);
    let out = w.dwell(&p, &["lock"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("shell.nix reads the environment (builtins.getEnv)"),
        "{}",
        text(&out)
    );
}

#[test]
fn push_copies_only_an_allowed_projects_lock_and_only_a_store_environment() {
    let w = World::new();
    let lock = serde_json::json!({
        "version": 1, "system": system(), "entry": "shell.nix", "attr": null,
        "environment": "tools", "references": [], "inputs": {"shell.nix": "absent"},
    });
    let p = w.project(
        "pushed",
        &[
            ("shell.nix", "{ }\n"),
            ("tools/flake.nix", "{ outputs = _: { }; }\n"),
            ("dwell.lock", &lock.to_string()),
        ],
    );
    let refused = w.dwell(&p, &["push", "file:///nowhere"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(text(&refused).contains("not allowed"), "{}", text(&refused));
    w.allow(&p);
    let refused = w.dwell(&p, &["push", "file:///nowhere"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused)
            .contains("dwell.lock names tools, which is no environment in this machine's store"),
        "{}",
        text(&refused)
    );
}
