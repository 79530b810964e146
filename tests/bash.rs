//! The bash hook in a real interactive bash on a pseudo-terminal, asserting on the
//! environment the shell ends up with (dumped with `env -0`), not on screen text.

use crate::util::*;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An interactive bash with the dwell hook, driven through a pty.
struct Term<'w> {
    world: &'w World,
    session: rexpect::session::PtySession,
    n: u32,
}

const TIMEOUT_MS: u64 = 60_000;

impl<'w> Term<'w> {
    /// Starts bash with `pre` run before the hook is installed and `post` after.
    fn bash_with(world: &'w World, exe: &Path, pre: &str, post: &str) -> Term<'w> {
        let hook = Command::new(DWELL).args(["hook", "bash"]).output().unwrap();
        assert!(hook.status.success());
        let hook =
            String::from_utf8(hook.stdout)
                .unwrap()
                .replacen(DWELL, &exe.display().to_string(), 1);
        let rc = world.dir.join(format!("bashrc-{}", rand_suffix()));
        std::fs::write(
            &rc,
            format!(
                "PS1='$ '\n{pre}\n{hook}\n{post}\n__t_dump() {{ /usr/bin/env -0 > \"$1\"; }}\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--noediting", "--rcfile"])
            .arg(&rc)
            .arg("-i")
            .current_dir(&world.dir)
            .env_clear()
            .envs(&world.env);
        let session = rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
        let mut term = Term {
            world,
            session,
            n: 0,
        };
        term.sync();
        term
    }

    fn bash(world: &'w World) -> Term<'w> {
        Term::bash_with(world, Path::new(DWELL), "", "")
    }

    /// Waits until every line sent so far has run. The marker is computed by the
    /// shell, so the echo of the command itself cannot match it.
    fn sync(&mut self) -> String {
        self.n += 1;
        let n = self.n;
        self.session
            .send_line(&format!("echo \"@@$(( {n} * 1000 + 7 ))@@\""))
            .unwrap();
        self.session
            .exp_string(&format!("@@{}@@", n * 1000 + 7))
            .unwrap()
    }

    /// Runs `line` (the hook runs at the prompt after it) and returns what it printed.
    fn run(&mut self, line: &str) -> String {
        self.session.send_line(line).unwrap();
        self.sync()
    }

    fn env(&mut self) -> BTreeMap<String, OsString> {
        let file = self.world.dir.join(format!("dump-{}", rand_suffix()));
        self.run(&format!("__t_dump '{}'", file.display()));
        let bytes = std::fs::read(&file).unwrap();
        bytes
            .split(|&b| b == 0)
            .filter(|e| !e.is_empty())
            .filter_map(|e| {
                let eq = e.iter().position(|&b| b == b'=')?;
                Some((
                    String::from_utf8(e[..eq].to_vec()).ok()?,
                    OsString::from_vec(e[eq + 1..].to_vec()),
                ))
            })
            .collect()
    }
}

impl Drop for Term<'_> {
    fn drop(&mut self) {
        let _ = self.session.send_line("exit");
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn s(v: Option<&OsString>) -> Option<String> {
    v.map(|v| v.to_string_lossy().into_owned())
}

/// Variables that differ between two dumps, ignoring what bash itself changes.
fn differences(a: &BTreeMap<String, OsString>, b: &BTreeMap<String, OsString>) -> Vec<String> {
    let ignore = ["_", "OLDPWD", "PWD", "SHLVL", "DWELL_STATE"];
    a.keys()
        .chain(b.keys())
        .filter(|k| !ignore.contains(&k.as_str()))
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[test]
fn allow_enter_leave_in_real_bash() {
    need!("nix", "bash");
    let w = World::new();
    let p = w.shell_nix("api");
    let venv = w.venv(&p);
    let mut t = Term::bash(&w);
    let outside = t.env();

    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("is not allowed yet"), "{screen}");
    assert_eq!(s(t.env().get("FOO")), None);

    // The prompt right after `dwell allow` loads the environment.
    let screen = t.run(&format!("'{DWELL}' allow"));
    assert!(screen.contains("evaluated in"), "{screen}");
    let inside = t.env();
    assert_eq!(s(inside.get("FOO")).as_deref(), Some("bar"));
    assert_eq!(s(inside.get("HOOKED")).as_deref(), Some("yes"));
    assert_eq!(
        s(inside.get("VIRTUAL_ENV")),
        Some(venv.display().to_string())
    );
    assert_eq!(s(inside.get("PYTHONPATH")), None);
    let which = t.run("command -v python");
    assert!(
        which.contains(&venv.join("bin/python").display().to_string()),
        "{which}"
    );
    let hello = t.run("hello");
    assert!(hello.contains("hello from the stand-in nixpkgs"), "{hello}");

    // The user adds a PATH entry and sets a variable dwell set; then leaves.
    t.run("PATH=/my/bin:$PATH; FOO=mine");
    let screen = t.run("cd ..");
    assert!(screen.contains("unloaded"), "{screen}");
    let after = t.env();
    assert_eq!(s(after.get("FOO")).as_deref(), Some("mine"));
    let path = s(after.get("PATH")).unwrap();
    assert_eq!(path, format!("/my/bin:{}", s(outside.get("PATH")).unwrap()));
    let mut expected = outside.clone();
    expected.insert("PATH".into(), path.into());
    expected.insert("FOO".into(), "mine".into());
    assert_eq!(differences(&expected, &after), Vec::<String>::new());
}

#[test]
fn idle_prompts_do_not_run_dwell() {
    need!("nix", "bash");
    let w = World::new();
    let p = w.shell_nix("idle");
    w.allow(&p);
    // A wrapper that logs every call of dwell by the hook.
    let log = w.dir.join("calls.log");
    let wrapper = w.dir.join("dwell-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\necho \"$*\" >> '{}'\nexec '{DWELL}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let calls = || {
        std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let mut t = Term::bash_with(&w, &wrapper, "", "");
    t.run(&format!("cd '{}'", p.display()));
    t.run(":");
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"));
    let settled = calls();
    for _ in 0..10 {
        t.run(":");
    }
    assert_eq!(calls(), settled, "idle prompts must not call dwell");
    t.run("cd nix");
    assert_eq!(calls(), settled + 1, "a cd calls it once");
    t.run(":");
    assert_eq!(calls(), settled + 1);
}

#[test]
fn edit_of_an_imported_file_shows_at_the_next_prompt() {
    need!("nix", "bash");
    let w = World::new();
    let p = w.shell_nix("refresh");
    w.allow(&p);
    let mut t = Term::bash(&w);
    t.run(&format!("cd '{}'", p.display()));
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"));
    let before = w.generation();
    std::fs::write(p.join("nix/foo.nix"), "\"edited\"\n").unwrap();
    // The daemon's watcher bumps the counter; the prompt after that sees it.
    assert!(wait_for(10, || w.generation() != before), "no counter bump");
    t.run(":");
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("edited"));
}

#[test]
fn hostile_values_reach_bash_byte_exact() {
    need!("nix", "bash");
    let w = World::new();
    let p = w.project(
        "hostile",
        &[(
            "shell.nix",
            r#"{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {
  Q = "a'b\"c $(touch ${builtins.getEnv "TMPDIR"}/pwned1) `touch ${builtins.getEnv "TMPDIR"}/pwned2` \\ end";
  shellHook = ''
    export NL=$'one\ntwo\r\n'
    export BIN=$'\x01\x7f\xff\xc3\xa9 %s %n'
  '';
}
"#,
        )],
    );
    w.allow(&p);
    let mut t = Term::bash(&w);
    t.run(&format!("cd '{}'", p.display()));
    let env = t.env();
    let tmp = w.dir.display().to_string();
    assert_eq!(
        s(env.get("Q")),
        Some(format!(
            "a'b\"c $(touch {tmp}/pwned1) `touch {tmp}/pwned2` \\ end"
        ))
    );
    assert_eq!(s(env.get("NL")).as_deref(), Some("one\ntwo\r\n"));
    assert_eq!(env["BIN"].as_bytes(), b"\x01\x7f\xff\xc3\xa9 %s %n");
    assert!(!w.dir.join("pwned1").exists() && !w.dir.join("pwned2").exists());
}

#[test]
fn coexists_with_prompt_command_and_keeps_exit_status() {
    need!("nix", "bash");
    let w = World::new();
    let log = w.dir.join("pc.log");
    for (form, pre) in [
        (
            "string",
            format!("PROMPT_COMMAND='echo ran >> {}'", log.display()),
        ),
        (
            "array",
            format!("PROMPT_COMMAND=('echo ran >> {}')", log.display()),
        ),
    ] {
        let _ = std::fs::remove_file(&log);
        // Installing twice (a re-sourced ~/.bashrc) must not stack the hook.
        let hook = String::from_utf8(
            Command::new(DWELL)
                .args(["hook", "bash"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let mut t = Term::bash_with(&w, Path::new(DWELL), &pre, &hook);
        let pc = t.run("declare -p PROMPT_COMMAND");
        assert_eq!(pc.matches("__dwell_hook").count(), 1, "{form}: {pc}");
        t.run("PS1='[st=$?] '");
        t.session.send_line("false").unwrap();
        t.session.exp_string("[st=1]").unwrap();
        t.session.send_line("true").unwrap();
        t.session.exp_string("[st=0]").unwrap();
        t.sync();
        let ran = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            ran.lines().count() >= 2,
            "{form}: the user's PROMPT_COMMAND runs"
        );
    }
}

#[test]
fn status_line_is_colored_on_a_terminal_unless_no_color() {
    need!("nix", "bash");
    let mut w = World::new();
    let p = w.shell_nix("color");
    w.allow(&p);
    {
        let mut t = Term::bash(&w);
        let screen = t.run(&format!("cd '{}'", p.display()));
        assert!(
            screen.contains("\u{1b}["),
            "colored on a terminal: {screen:?}"
        );
    }
    w.env.insert("NO_COLOR".into(), "1".into());
    let mut t = Term::bash(&w);
    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("cached"), "{screen:?}");
    assert!(!screen.contains('\u{1b}'), "NO_COLOR: {screen:?}");
}

#[test]
fn hook_is_clean_under_strict_mode() {
    need!("bash", "nix");
    let w = World::new();
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-u", "-o", "pipefail", "-c"])
        .arg(format!(
            "eval \"$('{DWELL}' hook bash)\"; __dwell_hook; __dwell_hook; echo done"
        ))
        .current_dir(&w.dir)
        .env_clear()
        .envs(&w.env)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
}

#[test]
fn hook_passes_shellcheck() {
    let Some(shellcheck) = require("shellcheck") else {
        return;
    };
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("shell-hooks/dwell.bash");
    let out = Command::new(shellcheck)
        .args(["--shell=bash", "--enable=all", "--exclude=SC2154"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
