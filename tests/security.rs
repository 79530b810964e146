//! Trust under attack and failure: another local user on the machine, files that
//! are not what they claim to be, hostile names and values, a full disk, a flood
//! of connections. One regression test per hole found in review.

use crate::util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The uid the "other user" runs as (nobody).
const OTHER_UID: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// A fake daemon run by the other user: binds `socket` (as root, so it can be
/// placed anywhere), then drops to [`OTHER_UID`] before listening, so the peer
/// credentials a client sees are the other user's. It answers every request
/// with an environment that would take over the shell, and counts connections
/// into `log`.
fn hostile_daemon(socket: &Path, root: &Path, log: &Path) -> std::process::Child {
    let reply = serde_json::json!({
        "protocol": 1,
        "dwell": env!("CARGO_PKG_VERSION"),
        "response": "resolved",
        "project": {"root": root, "kind": "shell-nix", "trust": {"state": "allowed"}, "venv": null},
        "env": {
            "key": "evil",
            "ops": [
                {"op": "set", "name": "PROMPT_COMMAND", "value": "touch /tmp/pwned"},
                {"op": "set", "name": "EVIL", "value": "yes"},
                {"op": "prepend", "name": "PATH", "entries": ["/evil/bin"]}
            ],
            "freshness": "cached",
            "eval_ms": 0
        },
        "error": null
    });
    let script = r#"
import os, socket, sys
path, reply, log, uid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o777)
os.setgid(uid); os.setuid(uid)
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    with open(log, "a") as f: f.write("connection\n")
    try:
        c.settimeout(5)
        c.recv(65536)
        c.sendall(reply.encode() + b"\n")
    except Exception:
        pass
    c.close()
"#;
    std::fs::write(log, "").unwrap();
    chmod(log, 0o666);
    let mut child = Command::new(python())
        .args(["-c", script])
        .arg(socket)
        .arg(reply.to_string())
        .arg(log)
        .arg(OTHER_UID.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    child
}

fn assert_not_taken_over(out: &std::process::Output) {
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(!code.contains("/evil/bin"), "the other user's PATH: {code}");
    assert!(!code.contains("EVIL"), "the other user's variable: {code}");
    assert!(!code.contains("pwned"), "the other user's command: {code}");
}

#[test]
fn another_user_cannot_answer_in_the_daemons_place_through_the_temp_dir() {
    need!("nix");
    if !need_root("it acts as a second user") {
        return;
    }
    let mut w = World::new();
    let p = w.allowed_shell_nix("victim");
    // No XDG_RUNTIME_DIR: the runtime dir is ${TMPDIR}/dwell-UID, and TMPDIR is a
    // world-writable, sticky directory like /tmp.
    let tmp = tempfile::Builder::new()
        .prefix("dwell-shared-tmp")
        .tempdir()
        .unwrap();
    chmod(tmp.path(), 0o1777);
    let uid = rustix::process::getuid().as_raw();
    let planted = tmp.path().join(format!("dwell-{uid}"));
    std::fs::create_dir(&planted).unwrap();
    chmod(&planted, 0o777);
    chown(&planted, OTHER_UID);
    let log = w.dir.join("hostile.log");
    chmod(&w.dir, 0o755);
    let mut daemon = hostile_daemon(&planted.join("daemon.sock"), &p, &log);
    w.env.remove("XDG_RUNTIME_DIR");
    w.env.insert("TMPDIR".into(), tmp.path().into());

    let out = w.dwell(&p, &["export", "bash"]).output().unwrap();
    let _ = daemon.kill();
    let _ = daemon.wait();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert_not_taken_over(&out);
    assert!(
        said.contains(&format!("is owned by uid {OTHER_UID}, not by you")),
        "one clear line: {said}"
    );
    assert_eq!(
        said.lines().filter(|l| l.contains("not by you")).count(),
        1,
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "nobody connected to it"
    );
    // The project is evaluated in-process instead, and the hook is told no
    // counter file may be trusted.
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(code.contains("export FOO=$'bar'"), "{code}");
    assert!(code.contains("__dwell_genfile=$'';"), "{code}");
}

#[test]
fn a_daemon_of_another_uid_is_refused() {
    need!("nix");
    if !need_root("it acts as a second user") {
        return;
    }
    let w = World::new();
    let p = w.allowed_shell_nix("peer");
    // A private runtime dir of ours, but the process listening in it is another
    // user's (the peer credentials say so).
    let dir = w.runtime.join("dwell");
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o700);
    let log = w.dir.join("hostile.log");
    let mut daemon = hostile_daemon(&dir.join("daemon.sock"), &p, &log);
    let out = w.dwell(&p, &["export", "bash"]).output().unwrap();
    let _ = daemon.kill();
    let _ = daemon.wait();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_not_taken_over(&out);
    assert!(
        said.contains(&format!("runs as uid {OTHER_UID}, not as you")),
        "{said}"
    );
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(
        code.contains("export FOO=$'bar'"),
        "evaluated in-process: {code}"
    );
}

/// Every shell's hook reads only the counter file dwell names, and dwell names
/// none that is not this user's own regular file: the one rule that also covers
/// the shells that cannot check an owner at each prompt (elvish).
#[test]
fn export_names_no_counter_file_of_another_user_in_any_shell() {
    need!("nix");
    if !need_root("it acts as a second user") {
        return;
    }
    let w = World::new();
    // The daemon runs and its runtime directory is private.
    run_ok(&mut w.dwell(&w.dir, &["export", "bash"]));
    let counter = w.runtime.join("dwell/generation");
    let planted = w.runtime.join("dwell/planted");
    std::fs::write(&planted, "42\n").unwrap();
    let named = |shell: &str| {
        let out = run_ok(&mut w.dwell(&w.dir, &["export", shell])).stdout;
        String::from_utf8(out).unwrap().contains("generation")
    };
    for shell in ["bash", "zsh", "fish", "elvish", "xonsh", "nu"] {
        assert!(named(shell), "{shell}: our own counter is named");
    }
    chown(&planted, OTHER_UID);
    std::fs::rename(&planted, &counter).unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "xonsh", "nu"] {
        assert!(
            !named(shell),
            "{shell}: another user's counter is not named"
        );
    }
}

/// Runs the hook function once in `shell` with `__dwell_genfile` pointing at
/// `file` (whose counter value the shell has already seen) and returns whether
/// the hook ran dwell (the slow path).
fn hook_forks(w: &World, shell: &str, file: &Path) -> bool {
    let marker = w.dir.join(format!("{shell}.forked"));
    let _ = std::fs::remove_file(&marker);
    let fake = w.dir.join("fake-dwell");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho x >> {}\n", marker.display()),
    )
    .unwrap();
    chmod(&fake, 0o755);
    let hook = run_ok(&mut w.dwell(&w.dir, &["hook", shell])).stdout;
    let hook = String::from_utf8(hook).unwrap();
    // (A FIFO is not read here: that would block the test.)
    let seen = match file.is_file() {
        true => std::fs::read_to_string(file).unwrap().trim().to_string(),
        false => "42".to_string(),
    };
    let script = match shell {
        "fish" => format!(
            "{hook}\nset -g __dwell_exe {fake}\nset -g __dwell_genfile {file}\nset -g __dwell_seen {seen}\nset -g __dwell_pwd $PWD\n__dwell_hook\n",
            fake = fake.display(),
            file = file.display()
        ),
        _ => format!(
            "{hook}\n__dwell_exe={fake}\n__dwell_genfile={file}\n__dwell_seen={seen}\n__dwell_pwd=$PWD\n__dwell_hook\n",
            fake = fake.display(),
            file = file.display()
        ),
    };
    // A hook that blocks is stopped (and fails the run) after 10 s.
    let mut cmd = Command::new("timeout");
    cmd.args(["10", shell]);
    match shell {
        "bash" => cmd.args(["--noprofile", "--norc", "-c", &script]),
        "zsh" => cmd.args(["-f", "-c", &script]),
        _ => cmd.args(["--no-config", "--interactive", "-c", &script]),
    };
    run_ok(cmd.current_dir(&w.dir));
    marker.exists()
}

#[test]
fn the_hooks_trust_only_a_counter_file_of_their_own_user() {
    need!("bash", "zsh", "fish");
    if !need_root("it acts as a second user") {
        return;
    }
    let w = World::new();
    let mine = w.dir.join("mine");
    std::fs::write(&mine, "42\n").unwrap();
    let theirs = w.dir.join("theirs");
    std::fs::write(&theirs, "42\n").unwrap();
    chown(&theirs, OTHER_UID);
    let link = w.dir.join("link");
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    for shell in ["bash", "zsh", "fish"] {
        assert!(
            !hook_forks(&w, shell, &mine),
            "{shell}: own file, fast path"
        );
        assert!(
            hook_forks(&w, shell, &theirs),
            "{shell}: another user's file is not trusted"
        );
        assert!(
            hook_forks(&w, shell, &link),
            "{shell}: a symbolic link is not trusted"
        );
    }
}

#[test]
fn the_hooks_never_read_a_counter_that_is_not_a_regular_file() {
    need!("bash", "zsh", "fish");
    let w = World::new();
    // A FIFO of the user's own: reading it would hold the prompt for good.
    let fifo = w.dir.join("fifo");
    mkfifo(&fifo);
    let dir = w.dir.join("a-dir");
    std::fs::create_dir(&dir).unwrap();
    for shell in ["bash", "zsh", "fish"] {
        for file in [&fifo, &dir] {
            assert!(
                hook_forks(&w, shell, file),
                "{shell}: {} is not trusted",
                file.display()
            );
        }
    }
}

/// The shellHook of an edited project writes this marker when it runs.
fn hostile_edit(w: &World, p: &Path) -> PathBuf {
    let marker = w.dir.join("hook-ran");
    w.write(
        p,
        &[(
            "shell.nix",
            &format!(
                "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{ FOO = \"edited\"; shellHook = ''touch {}''; }}\n",
                marker.display()
            ),
        )],
    );
    marker
}

#[test]
fn an_entry_file_that_is_not_a_regular_file_fails_trust_closed() {
    need!("nix");
    type Break = fn(&Path);
    let cases: [(&str, Break); 3] = [
        ("flake.lock", |p| {
            std::fs::create_dir(p.join("flake.lock")).unwrap()
        }),
        ("default.nix", |p| {
            std::os::unix::fs::symlink("default.nix", p.join("default.nix")).unwrap()
        }),
        ("flake.lock", |p| mkfifo(&p.join("flake.lock"))),
    ];
    for (i, (file, break_it)) in cases.into_iter().enumerate() {
        let w = World::new();
        let p = w.allowed_shell_nix(&format!("closed{i}"));
        let marker = hostile_edit(&w, &p);
        break_it(&p);
        let mut sh = SimShell::new(&w);
        sh.prompt(&p);
        assert!(!marker.exists(), "{file}: the edited shellHook ran");
        assert_eq!(sh.get("FOO"), None, "{file}: {}", sh.last_stderr);
        sh.said(&format!("{file} cannot be read as a regular file"));
        let status = w.ok(&p, &["status"]);
        let status = String::from_utf8_lossy(&status.stdout);
        assert!(status.contains("not allowed: "), "{status}");
        // And an allow of an unreadable file is refused, not recorded.
        let allow = w.dwell(&p, &["allow"]).output().unwrap();
        assert!(!allow.status.success());
        assert!(String::from_utf8_lossy(&allow.stderr).contains(file));
    }
}

/// Runs `dwell export json` in `dir` and fails the test if it does not finish
/// within `secs` (a hang is the bug).
fn export_within(w: &World, dir: &Path, secs: u64) -> std::process::Output {
    dwell_within(w, dir, &["export", "json"], secs)
}

fn daemon_rss_kib(w: &World) -> u64 {
    let pid = daemon_pid(w);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn daemon_pid(w: &World) -> i32 {
    running_daemon_pid(w).expect("a daemon runs")
}

#[test]
fn special_files_in_a_project_never_hang_or_bloat_the_daemon() {
    need!("nix");
    let w = World::new();
    // A link to /dev/zero and a FIFO as .dwell.toml, before any trust.
    let zero = w.project("zero", &[("shell.nix", "{}")]);
    std::os::unix::fs::symlink("/dev/zero", zero.join(".dwell.toml")).unwrap();
    let fifo = w.project("fifo", &[("shell.nix", "{}")]);
    mkfifo(&fifo.join(".dwell.toml"));
    for (dir, kind) in [(&zero, "a character device"), (&fifo, "a FIFO")] {
        for _ in 0..3 {
            let out = export_within(&w, dir, 20);
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(
                said.contains(&format!(".dwell.toml is {kind}, not a regular file")),
                "{said}"
            );
        }
    }
    // A .dwell.toml over the size cap is one clear error too.
    let big = w.project("big", &[("shell.nix", "{}")]);
    std::fs::write(big.join(".dwell.toml"), vec![b'#'; 2 << 20]).unwrap();
    let said = String::from_utf8_lossy(&export_within(&w, &big, 20).stderr).into_owned();
    assert!(said.contains("is larger than 1024 KiB"), "{said}");

    // `watch = [...]` naming a device in an allowed project: served, not read.
    let watched = w.allowed_shell_nix("watched");
    w.write(
        &watched,
        &[(".dwell.toml", "watch = [\"/dev/zero\", \"pipe\"]\n")],
    );
    mkfifo(&watched.join("pipe"));
    w.allow(&watched);
    for _ in 0..2 {
        let out = export_within(&w, &watched, 60);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["FOO"],
            "bar",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(daemon_rss_kib(&w) < 40 * 1024, "the daemon stays small");
}

#[test]
fn a_venv_versions_dir_that_holds_user_files_loses_nothing() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "conf",
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; }\n",
            ),
            (".dwell.toml", "[venv]\npath = \"conf\"\n"),
            ("conf.d/important/data.txt", "precious\n"),
            ("conf.d/7/notes.txt", "mine, though named like a version\n"),
        ],
    );
    w.allow(&p);
    // One version kept: each new one replaces the last.
    w.set_user_config("venv_generations = 1\n");
    w.ok(&p, &["venv"]);
    w.ok(&p, &["venv", "--recreate"]);
    w.ok(&p, &["venv", "--recreate"]);
    assert_eq!(
        std::fs::read_to_string(p.join("conf.d/important/data.txt")).unwrap(),
        "precious\n"
    );
    assert!(p.join("conf.d/7/notes.txt").exists());
    // dwell's own older versions are gone; the one in use stays.
    let versions: Vec<String> = std::fs::read_dir(p.join("conf.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u64>().is_ok() && n != "7")
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(p.join("conf/pyvenv.cfg").exists());
}

#[test]
fn an_entry_file_outside_the_root_is_trusted_by_absolute_path() {
    need!("nix");
    let w = World::new();
    let outside = w.project(
        "elsewhere",
        &[(
            "dev.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { FOO = \"bar\"; }\n",
        )],
    );
    let entry = outside.join("dev.nix");
    let p = w.project(
        "abs",
        &[(".dwell.toml", &format!("file = \"{}\"\n", entry.display()))],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    let marker = w.dir.join("abs-hook-ran");
    std::fs::write(
        &entry,
        format!(
            "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{ FOO = \"edited\"; shellHook = ''touch {}''; }}\n",
            marker.display()
        ),
    )
    .unwrap();
    sh.prompt(&p);
    assert!(
        !marker.exists(),
        "the edited file was evaluated without an allow"
    );
    // What was allowed stays loaded in this shell; the edit is not served.
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    sh.said(&format!("{} changed since you allowed it", entry.display()));
}

#[test]
fn escape_sequences_in_names_never_reach_the_terminal() {
    need!("nix");
    let w = World::new();
    let p = w.project("x\x1b]0;title\x07\x1b[2J", &[("shell.nix", "{}")]);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(!sh.last_stderr.contains('\x1b'), "{:?}", sh.last_stderr);
    assert!(!sh.last_stderr.contains('\x07'), "{:?}", sh.last_stderr);
    sh.said("x\\e]0;title\\x07\\e[2J");
    let status = w.ok(&p, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    // What the devShell prints (a failing shellHook's output, in the error) is
    // escaped too.
    let q = w.project(
        "noisy",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { shellHook = ''printf 'bad\\033[2J value\\n' >&2; exit 3''; }\n",
        )],
    );
    w.allow(&q);
    sh.prompt(&q);
    assert!(!sh.last_stderr.contains('\x1b'), "{:?}", sh.last_stderr);
    sh.said("bad\\e[2J value");
}

#[test]
fn a_devshell_cannot_replace_the_hook_it_is_loaded_by() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "hooky",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { FOO = \"bar\"; PROMPT_COMMAND = \"echo owned\"; precmd_functions = \"owned\"; chpwd_functions = \"owned\"; DWELL_SHELL = \"x\"; }\n",
        )],
    );
    w.allow(&p);
    for shell in ["bash", "zsh", "fish"] {
        let out = w.ok(&p, &["export", shell]);
        let code = String::from_utf8_lossy(&out.stdout);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(code.contains("FOO"), "{shell}: {code}");
        let hooks: &[&str] = match shell {
            "bash" => &["PROMPT_COMMAND"],
            "zsh" => &["precmd_functions", "chpwd_functions"],
            _ => &[],
        };
        for name in hooks.iter().chain(&["DWELL_SHELL"]) {
            let set = code
                .lines()
                .any(|l| l.contains(&format!(" {name}=")) || l.contains(&format!("-- {name} ")));
            assert!(!set, "{shell} sets {name}: {code}");
        }
        for name in hooks {
            assert!(
                said.contains(&format!("skipped variable \"{name}\"")),
                "{shell}: {said}"
            );
        }
        assert!(
            said.contains("skipped variable \"DWELL_SHELL\""),
            "{shell}: {said}"
        );
    }
    // In a real bash, the project loads and unloads.
    let hook = String::from_utf8(w.ok(&w.dir, &["hook", "bash"]).stdout).unwrap();
    let script = format!(
        "{hook}\ncd {}\n__dwell_hook\necho \"in:$FOO:$PROMPT_COMMAND\"\ncd /\n__dwell_hook\necho \"out:${{FOO-unset}}\"\n",
        p.display()
    );
    let out = run_ok(
        w.command("bash")
            .args(["--noprofile", "--norc", "-c", &script]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("in:bar:\n"), "{text}");
    assert!(text.contains("out:unset"), "{text}");
}

#[test]
fn a_daemon_whose_runtime_dir_was_removed_exits() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("gone");
    SimShell::new(&w).prompt(&p);
    let first = daemon_pid(&w);
    std::fs::remove_dir_all(w.runtime.join("dwell")).unwrap();
    // A new request starts a new daemon; the old one notices and leaves.
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    let second = daemon_pid(&w);
    assert_ne!(first, second);
    assert!(
        wait_for(10, || !alive(first)),
        "the unreachable daemon {first} lives on"
    );
    assert!(alive(second));
    let log = w.daemon_log();
    assert!(
        log.contains("is gone or no longer this daemon's; stopping"),
        "{log}"
    );
}

#[test]
fn the_daemon_log_is_private() {
    need!("nix");
    let w = World::new();
    let log = w.home.join(".local/state/dwell/daemon.log");
    // A log left by an older dwell with a loose mode is tightened too.
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "old\n").unwrap();
    chmod(&log, 0o644);
    let p = w.allowed_shell_nix("log");
    SimShell::new(&w).prompt(&p);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

fn socket(w: &World) -> PathBuf {
    w.runtime.join("dwell/daemon.sock")
}

fn ping(w: &World) -> Option<serde_json::Value> {
    let mut s = UnixStream::connect(socket(w)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"{\"protocol\":1,\"request\":\"ping\"}\n")
        .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

#[test]
fn a_connection_flood_is_refused_and_the_daemon_keeps_serving() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("flood");
    SimShell::new(&w).prompt(&p);
    let pid = daemon_pid(&w);
    // Far more idle connections than the daemon serves at once.
    let mut held = Vec::new();
    for _ in 0..2000 {
        match UnixStream::connect(socket(&w)) {
            Ok(s) => held.push(s),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert!(held.len() > 1000, "only {} connections", held.len());
    // The ones past the cap are told so at once.
    let mut refused = 0;
    for s in held.iter().rev().take(50) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = String::new();
        if BufReader::new(s).read_line(&mut line).is_ok() && line.contains("busy") {
            refused += 1;
        }
    }
    assert_eq!(refused, 50, "connections past the cap get a clear refusal");
    // A shell asking meanwhile still gets its environment (in-process if need be).
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    drop(held);
    // The idle ones are dropped at the request deadline; then it serves again.
    assert!(
        wait_for(15, || ping(&w).is_some_and(|r| r["response"] == "pong")),
        "the daemon serves again"
    );
    assert_eq!(daemon_pid(&w), pid, "the same daemon, never restarted");
}

#[test]
fn a_client_dripping_bytes_cannot_hold_a_handler() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("drip");
    SimShell::new(&w).prompt(&p);
    let mut s = UnixStream::connect(socket(&w)).unwrap();
    let started = Instant::now();
    let mut reply = String::new();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    // One byte a second, never a newline: the daemon gives up on the request as
    // a whole after its deadline, though each byte arrives in time.
    for b in b"{\"protocol\":1,\"request\":\"ping\"".iter().cycle() {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        if reader.read_line(&mut reply).is_ok_and(|n| n > 0) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "held for 20 s");
        std::thread::sleep(Duration::from_millis(990));
    }
    // The daemon may have answered and closed just before a write failed.
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    if !reply.ends_with('\n') {
        let _ = reader.read_line(&mut reply);
    }
    assert!(reply.contains("no whole request within"), "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Deterministic pseudo-random numbers (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One generated or mutated request: random bytes, truncated or deeply nested
/// JSON, huge numbers, wrong types, NUL bytes; sometimes an 8 MiB line.
fn hostile_message(rng: &mut Rng, dir: &Path, round: usize) -> Vec<u8> {
    let valid = [
        "{\"protocol\":1,\"request\":\"ping\"}".to_string(),
        format!(
            "{{\"protocol\":1,\"request\":\"status\",\"dir\":{:?},\"eval_env\":{{}}}}",
            dir.display().to_string()
        ),
        format!(
            "{{\"protocol\":1,\"request\":\"resolve\",\"dir\":{:?},\"eval_env\":{{}},\"wait\":false}}",
            dir.display().to_string()
        ),
    ];
    let base = valid[rng.below(valid.len())].as_bytes().to_vec();
    let mut msg = match rng.below(9) {
        0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        1 => base[..rng.below(base.len())].to_vec(),
        2 => {
            let depth = 1 + rng.below(100_000);
            let mut m = b"{\"protocol\":1,\"request\":".to_vec();
            m.extend(std::iter::repeat_n(b'[', depth));
            m
        }
        3 => format!(
            "{{\"protocol\":{}{},\"request\":\"ping\"}}",
            rng.next(),
            "9".repeat(rng.below(400))
        )
        .into_bytes(),
        4 => {
            let wrong = ["null", "true", "[]", "{}", "-1", "1e999", "\"x\"", "12345678901234567890"];
            let w = wrong[rng.below(wrong.len())];
            String::from_utf8_lossy(&base)
                .replacen("\"ping\"", w, 1)
                .replacen("{}", w, 1)
                .replacen("false", w, 1)
                .into_bytes()
        }
        5 => {
            let mut m = base.clone();
            let at = rng.below(m.len());
            m.insert(at, 0);
            m
        }
        6 => {
            let mut m = base.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len());
                m[at] = rng.next() as u8;
            }
            m
        }
        7 => format!(
            "{{\"protocol\":1,\"request\":\"resolve\",\"dir\":\"{}\",\"eval_env\":{{\"NIX_PATH\":{}}}}}",
            "/".repeat(rng.below(5000)),
            rng.next()
        )
        .into_bytes(),
        _ => base,
    };
    // Every 1000th message is a line of 8 MiB.
    if round % 1000 == 999 {
        msg = vec![b'a'; 8 << 20];
    }
    if rng.below(10) != 0 {
        msg.push(b'\n');
    }
    msg
}

#[test]
fn ten_thousand_hostile_messages_get_an_answer_each_and_the_daemon_goes_on() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("fuzz");
    SimShell::new(&w).prompt(&p);
    let pid = daemon_pid(&w);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut errors, mut valid, mut reset) = (0, 0, 0);
    for round in 0..10_000 {
        let msg = hostile_message(&mut rng, &p, round);
        let mut s = UnixStream::connect(socket(&w)).expect("the daemon accepts");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The daemon may answer and close before taking a huge line whole.
        let wrote = s.write_all(&msg);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        match s.read_to_end(&mut reply) {
            Ok(_) => {}
            Err(e) if wrote.is_err() || e.kind() == std::io::ErrorKind::ConnectionReset => {
                reset += 1;
                continue;
            }
            Err(e) => panic!("round {round}: {e}"),
        }
        if reply.is_empty() && wrote.is_err() {
            reset += 1;
            continue;
        }
        let last = reply
            .split(|&b| b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "round {round}: no answer to {:?}",
                    String::from_utf8_lossy(&msg[..msg.len().min(200)])
                )
            });
        let json: serde_json::Value = serde_json::from_slice(last).unwrap_or_else(|e| {
            panic!(
                "round {round}: not JSON ({e}): {:?}",
                String::from_utf8_lossy(last)
            )
        });
        assert_eq!(json["protocol"], 1, "round {round}: {json}");
        if json["response"] == "error" {
            errors += 1;
        } else {
            valid += 1;
        }
    }
    eprintln!(
        "protocol fuzz: {errors} error replies, {valid} valid replies, {reset} reset during an oversized write"
    );
    assert!(
        valid > 500 && errors > 5000,
        "{valid} valid, {errors} errors"
    );
    assert!(reset <= 10, "only the 8 MiB lines may be cut off: {reset}");
    assert_eq!(
        daemon_pid(&w),
        pid,
        "the same daemon serves after 10,000 messages"
    );
    let rss = daemon_rss_kib(&w);
    assert!(rss < 20 * 1024, "daemon RSS {rss} KiB after the fuzz");
}

#[test]
fn a_flake_directory_whose_name_nix_would_read_as_a_reference_is_refused() {
    need!("nix");
    let w = World::new();
    // Nix reads `sub#x` as the flake `sub` with the attribute `x`: evaluating the
    // allowed project would run `sub/flake.nix`, which nobody allowed.
    let other = w.flake("sub");
    let marker = w.dir.join("other-flake-ran");
    let text = std::fs::read_to_string(other.join("flake.nix"))
        .unwrap()
        .replace(
            "export FLAKE_HOOKED=yes",
            &format!("touch {}", marker.display()),
        )
        .replace(".default = ", ".x = ");
    std::fs::write(other.join("flake.nix"), text).unwrap();
    let p = w.flake("sub#x");
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("has `#` or `?` in its path");
    assert!(
        !marker.exists(),
        "a flake that was never allowed was evaluated"
    );
    assert_eq!(sh.get("FLAKE_VAR"), None);
}

#[test]
fn a_request_over_one_mib_is_refused_as_too_large() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("big-request");
    SimShell::new(&w).prompt(&p);
    let s = UnixStream::connect(socket(&w)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = s.try_clone().unwrap();
    // 2 MiB: over the request cap, under the cap on replies.
    let sending = std::thread::spawn(move || {
        let mut line = vec![b' '; 2 << 20];
        line.push(b'\n');
        let _ = writer.write_all(&line);
    });
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).unwrap();
    let _ = sending.join();
    assert!(reply.contains("request too large"), "{reply:?}");
    assert!(ping(&w).is_some_and(|r| r["response"] == "pong"));
}

/// A level-1 shell.nix: python from Nix.
const PYTHON_SHELL: &str =
    "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; }\n";

#[test]
fn a_dwell_toml_rewritten_while_the_venv_syncs_is_never_served() {
    need!("nix");
    let mut w = World::new();
    w.env.insert("PIP_NO_INDEX".into(), "1".into());
    // An in-tree build backend that takes seconds and then fails: the sync is
    // the window in which the file is rewritten.
    let p = w.project(
        "race",
        &[
            ("shell.nix", PYTHON_SHELL),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"build\"]\n\n[project]\nname = \"race\"\nversion = \"1\"\n",
            ),
            (
                "build/backend.py",
                "import time\ntime.sleep(4)\nraise SystemExit('a slow backend')\n",
            ),
        ],
    );
    w.allow(&p);
    let file = p.join(".dwell.toml");
    let pull = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::write(
            file,
            "[venv]\ncreate = true\n[env]\nPWNED = \"$(touch pwned)\"\n",
        )
        .unwrap();
    });
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    pull.join().unwrap();
    // What was served is what was allowed: the settings as they were read.
    assert_eq!(sh.get("PWNED"), None, "{}", sh.last_stderr);
    // And the next prompt asks for an allow.
    sh.prompt(&p);
    assert_eq!(sh.get("PWNED"), None, "{}", sh.last_stderr);
    sh.said(".dwell.toml changed since you allowed it");
}

#[test]
fn a_venv_path_dwell_did_not_make_is_left_alone() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "pipenv",
        &[
            ("shell.nix", PYTHON_SHELL),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            ("requirements.txt", "\n"),
            // Pipenv's pointer file, say.
            (".venv", "/home/someone/.local/share/virtualenvs/x\n"),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said(".venv is a file; dwell leaves it alone");
    assert_eq!(
        std::fs::read_to_string(p.join(".venv")).unwrap(),
        "/home/someone/.local/share/virtualenvs/x\n"
    );
    // `dwell venv` says the same and touches nothing either.
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    assert!(!out.status.success());
    assert!(p.join(".venv").is_file());
    // A link to elsewhere is not dwell's to replace either.
    std::fs::remove_file(p.join(".venv")).unwrap();
    std::os::unix::fs::symlink(&w.home, p.join(".venv")).unwrap();
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("a link dwell did not make"), "{said}");
    assert_eq!(std::fs::read_link(p.join(".venv")).unwrap(), w.home);
}

#[test]
fn special_requirement_files_never_hang_or_bloat_the_daemon() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "reqs",
        &[
            ("shell.nix", PYTHON_SHELL),
            (".dwell.toml", "[venv]\ncreate = true\n"),
            ("requirements.txt", "\n"),
        ],
    );
    w.allow(&p);
    let extra = p.join("requirements-extra.txt");
    for (make, kind) in [
        (
            Box::new(|f: &Path| std::os::unix::fs::symlink("/dev/zero", f).unwrap())
                as Box<dyn Fn(&Path)>,
            "a character device",
        ),
        (Box::new(|f: &Path| mkfifo(f)), "a FIFO"),
    ] {
        let _ = std::fs::remove_file(&extra);
        make(&extra);
        for _ in 0..2 {
            let out = export_within(&w, &p, 60);
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(
                said.contains(&format!(
                    "requirements-extra.txt is {kind}, not a regular file"
                )),
                "{said}"
            );
        }
        assert!(daemon_rss_kib(&w) < 40 * 1024, "the daemon stays small");
    }
    // `dwell venv` gives the same one line.
    let out = w.dwell(&p, &["venv"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("is a FIFO"),
        "{said}"
    );
}

#[test]
fn no_subcommand_lets_a_project_drive_the_terminal() {
    use std::os::unix::ffi::OsStrExt;
    need!("nix");
    let w = World::new();
    let p = w
        .dir
        .join(std::ffi::OsStr::from_bytes(b"evil\x1b]0;owned\x07\x1b[2J"));
    let entry = "\x1b]0;owned\x07\x1b[2Jdev.nix";
    w.write(
        &p,
        &[
            (
                entry,
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; shellHook = ''echo $'\\e[2Jhook'; ''; }\n",
            ),
            (
                ".dwell.toml",
                "file = \"\\u001b]0;owned\\u0007\\u001b[2Jdev.nix\"\n[venv]\npath = \"\\u001b[2Jvenv\"\n",
            ),
            ("requirements.txt", "\x1b[2Jnot-a-package\n"),
        ],
    );
    let runs: &[&[&str]] = &[
        &["status"],
        &["allow"],
        &["status"],
        &["reload"],
        &["export", "json"],
        &["exec", "--", "true"],
        &["venv"],
        &["deny"],
        &["status"],
        &["prune", "--dry-run"],
    ];
    for args in runs {
        let out = w.dwell(&p, args).output().unwrap();
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07),
                "dwell {args:?} wrote a raw control byte to {stream}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

#[test]
fn another_users_project_files_are_ignored_and_allowed_only_by_name() {
    need!("nix");
    if !need_root("it acts as a second user") {
        return;
    }
    let w = World::new();
    // A shared sticky directory (as /tmp) where a stranger left a shell.nix,
    // and the user's own directory below it.
    let shared = w.shell_nix("shared");
    chmod(&shared, 0o1777);
    chown(&shared.join("shell.nix"), OTHER_UID);
    let mine = shared.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();
    sh.prompt(&mine);
    sh.said("is ignored: shell.nix belongs to nobody (uid 65534), not to you");
    sh.env.remove("DWELL_STATE");
    assert_eq!(sh.env, before, "nothing of theirs is loaded");
    let out = w.dwell(&mine, &["allow"]).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("shell.nix belongs to nobody (uid 65534), not to you")
            && said.contains("--other-owner"),
        "{said}"
    );
    let status = String::from_utf8_lossy(&w.ok(&mine, &["status"]).stdout).into_owned();
    assert!(
        status.contains("ignored: shell.nix belongs to nobody"),
        "{status}"
    );
    // Named explicitly, it is allowed.
    w.ok(&mine, &["allow", "--other-owner"]);
    sh.prompt(&mine);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);

    // A directory of theirs holding a file of the user's counts the same: they
    // can replace the file.
    let theirs = w.shell_nix("theirs");
    chown(&theirs, OTHER_UID);
    let out = w.dwell(&theirs, &["allow"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("belongs to nobody"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `dwell ARGS` in `dir`, killed (and the test failed) after `secs`.
fn dwell_within(w: &World, dir: &Path, args: &[&str], secs: u64) -> std::process::Output {
    let mut child = w
        .dwell(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dwell {args:?} in {} hung", dir.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn hostile_trees_get_one_clear_answer_from_every_subcommand() {
    need!("nix");
    type Make = fn(&Path);
    // Everything a project file can be that is not a small regular file.
    let kinds: [(&str, Make); 6] = [
        ("fifo", |f| mkfifo(f)),
        ("dev-zero", |f| {
            std::os::unix::fs::symlink("/dev/zero", f).unwrap()
        }),
        ("socket", |f| {
            std::os::unix::net::UnixListener::bind(f).unwrap();
        }),
        ("directory", |f| std::fs::create_dir(f).unwrap()),
        ("loop", |f| {
            std::os::unix::fs::symlink(f.file_name().unwrap(), f).unwrap()
        }),
        ("100MiB", |f| {
            std::fs::File::create(f)
                .unwrap()
                .set_len(100 << 20)
                .unwrap()
        }),
    ];
    // Every file dwell may read in a project, itself or for the venv.
    let files = [
        ".dwell.toml",
        "shell.nix",
        "requirements.txt",
        "requirements-dev.txt",
        "uv.lock",
        "poetry.lock",
        "pylock.toml",
        "pyproject.toml",
        ".venv",
        ".venv/pyvenv.cfg",
        ".envrc",
    ];
    let commands: &[&[&str]] = &[
        &["allow"],
        &["export", "json"],
        &["status"],
        &["direnv"],
        &["exec", "--", "true"],
        // The Nix python is not needed to read what would be installed.
        &["venv", "--python", "/bin/false"],
    ];
    let w = World::new();
    let first = w.allowed_shell_nix("first");
    w.ok(&first, &["export", "json"]);
    let daemon = daemon_pid(&w);
    let mut answers = 0;
    for (n, file) in files.iter().enumerate() {
        for (kind, make) in &kinds {
            let p = w.project(
                &format!("t{n}-{kind}"),
                &[(
                    "shell.nix",
                    "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { FOO = \"bar\"; }\n",
                )],
            );
            let target = p.join(file);
            let _ = std::fs::remove_file(&target);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            make(&target);
            for args in commands {
                let out = dwell_within(&w, &p, args, 30);
                let said = String::from_utf8_lossy(&out.stderr);
                let case = format!("{file} as {kind}, dwell {args:?}");
                assert!(!said.contains("panicked"), "{case}: {said}");
                assert!(
                    out.status.code().is_some(),
                    "{case}: killed by a signal: {said}"
                );
                // A failure says why in words, on its last line.
                if !out.status.success() {
                    let last = said.trim_end().lines().last().unwrap_or_default();
                    assert!(
                        last.starts_with("dwell: ") && !last.ends_with(": "),
                        "{case}: {said}"
                    );
                    // Each part said once (not "X is a FIFO: X is a FIFO").
                    let parts: Vec<&str> = last.split(": ").filter(|p| p.len() > 8).collect();
                    let unique: std::collections::BTreeSet<&&str> = parts.iter().collect();
                    assert_eq!(parts.len(), unique.len(), "{case}: {last}");
                    assert!(!last.contains("no project at"), "{case}: {last}");
                }
                answers += 1;
            }
        }
    }
    assert_eq!(answers, files.len() * kinds.len() * commands.len());
    // The daemon is the one from the start, and still serving.
    assert_eq!(daemon_pid(&w), daemon, "the daemon never restarted");
    let mut sh = SimShell::new(&w);
    sh.prompt(&first);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    assert!(daemon_rss_kib(&w) < 40 * 1024, "the daemon stays small");
}

#[test]
fn another_users_venv_in_a_shared_directory_is_never_put_on_path() {
    if !need_root("it acts as a second user") {
        return;
    }
    let w = World::new();
    // A stranger's venv in a shared directory, above the user's own.
    let shared = w.dir.join("sharedvenv");
    std::fs::create_dir_all(shared.join(".venv/bin")).unwrap();
    chmod(&shared, 0o1777);
    std::fs::write(shared.join(".venv/pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    std::fs::write(shared.join(".venv/bin/ls"), "#!/bin/sh\necho owned\n").unwrap();
    for path in [".venv", ".venv/pyvenv.cfg", ".venv/bin", ".venv/bin/ls"] {
        chown(&shared.join(path), OTHER_UID);
    }
    let mine = shared.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let mut sh = SimShell::new(&w);
    sh.prompt(&mine);
    sh.said(".venv belongs to nobody (uid 65534), not to you");
    assert!(
        !sh.path().iter().any(|p| p.contains("sharedvenv")),
        "{:?}",
        sh.path()
    );
    let out = w.dwell(&mine, &["allow"]).output().unwrap();
    assert!(!out.status.success(), "not offered for allow");
}
