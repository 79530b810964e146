//! The daemon over its real socket: lifecycle, malformed input, stale files.

use crate::util::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

fn socket(w: &World) -> std::path::PathBuf {
    w.runtime.join("dwell/daemon.sock")
}

fn start_daemon(w: &World) {
    w.ok(&w.dir, &["export", "json"]);
    assert!(wait_for(10, || socket(w).exists()), "daemon did not start");
}

fn roundtrip(w: &World, bytes: &[u8]) -> serde_json::Value {
    let mut s = UnixStream::connect(socket(w)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(bytes).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad reply {line:?}: {e}"))
}

fn daemon_pid(w: &World) -> i32 {
    let reply = roundtrip(w, b"{\"protocol\":1,\"request\":\"ping\"}\n");
    reply["pid"].as_i64().unwrap() as i32
}

#[test]
fn malformed_messages_get_an_error_and_the_daemon_carries_on() {
    need!("nix");
    let w = World::new();
    start_daemon(&w);
    for bad in [
        &b"not json\n"[..],
        b"{\"protocol\":1,\"request\":\"launch_missiles\"}\n",
        b"{\"protocol\":99,\"request\":\"ping\"}\n",
        b"{\"protocol\":1,\"request\":\"resolve\",\"dir\":42}\n",
        b"\xff\xfe\x00\n",
    ] {
        let reply = roundtrip(&w, bad);
        assert_eq!(reply["response"], "error", "{reply}");
        assert!(reply["message"].as_str().unwrap().len() > 5);
    }
    // A message over the size limit.
    let mut huge = vec![b'x'; 9 << 20];
    huge.push(b'\n');
    let mut s = UnixStream::connect(socket(&w)).unwrap();
    let _ = s.write_all(&huge);
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    assert!(line.contains("too large") || line.is_empty(), "{line}");
    // A client that connects and says nothing does not hold up the others.
    let _idle = UnixStream::connect(socket(&w)).unwrap();
    let reply = roundtrip(&w, b"{\"protocol\":1,\"request\":\"ping\"}\n");
    assert_eq!(reply["response"], "pong");
    assert_eq!(reply["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn sigterm_removes_socket_and_generation_file() {
    need!("nix");
    let w = World::new();
    start_daemon(&w);
    let gen_file = w.runtime.join("dwell/generation");
    assert!(gen_file.exists());
    let pid = daemon_pid(&w);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(wait_for(10, || !alive(pid)), "daemon still running");
    assert!(!socket(&w).exists());
    assert!(!gen_file.exists());
}

#[test]
fn generation_counter_changes_on_restart_and_on_allow() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("gen");
    start_daemon(&w);
    let first = w.generation().unwrap();
    w.allow(&p);
    let second = w.generation().unwrap();
    assert_ne!(first, second, "a trust decision bumps the counter");
    w.stop();
    assert_eq!(w.generation(), None, "a stopped daemon leaves no counter");
    start_daemon(&w);
    let third = w.generation().unwrap();
    assert_ne!(third, second);
    assert_ne!(third, first);
}

#[test]
fn a_second_daemon_refuses_to_start() {
    need!("nix");
    let w = World::new();
    start_daemon(&w);
    let out = w.dwell(&w.dir, &["daemon"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
    // The first one still answers.
    daemon_pid(&w);
}

#[test]
fn stale_socket_from_a_crashed_daemon_is_replaced() {
    need!("nix");
    let w = World::new();
    let dir = w.runtime.join("dwell");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // Bind and drop: leaves a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(socket(&w)).unwrap());
    assert!(socket(&w).exists());
    let p = w.allowed_shell_nix("stale");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert!(
        !sh.last_stderr.contains("evaluating in this process"),
        "{}",
        sh.last_stderr
    );
}

#[test]
fn daemon_killed_mid_work_loses_nothing() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("killed");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    let pid = daemon_pid(&w);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    assert!(wait_for(10, || !alive(pid)));
    // SIGKILL left the socket and counter behind; the next prompt still works.
    sh.prompt(&p.join("nix"));
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    let mut other = SimShell::new(&w);
    let out = other.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached");
    assert_eq!(w.evaluations("killed"), 1);
}

#[test]
fn truncated_cache_file_is_ignored_and_replaced() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("corrupt");
    SimShell::new(&w).prompt(&p);
    w.stop();
    let cache = cache_dir(&w);
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&cache).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() / 2]).unwrap();
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(w.evaluations("corrupt"), 2, "re-evaluated, not crashed");
    let mut again = SimShell::new(&w);
    assert_eq!(again.prompt(&p)["freshness"], "cached", "and replaced");
}

#[test]
fn corrupt_dwell_state_is_reported_and_the_shell_goes_on() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("state");
    let mut sh = SimShell::new(&w);
    sh.env.insert("DWELL_STATE".into(), "%%%garbage".into());
    sh.prompt(&p);
    sh.said("DWELL_STATE");
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
}

#[test]
fn cache_and_runtime_files_are_private() {
    need!("nix");
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let p = w.allowed_shell_nix("perm");
    SimShell::new(&w).prompt(&p);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&w.runtime.join("dwell")), 0o700);
    let cache = cache_dir(&w);
    for dir in std::fs::read_dir(&cache).unwrap() {
        let dir = dir.unwrap().path();
        assert_eq!(mode(&dir), 0o700);
        for f in std::fs::read_dir(&dir).unwrap() {
            assert_eq!(mode(&f.unwrap().path()), 0o600);
        }
    }
}

#[test]
fn a_daemon_of_another_version_is_replaced() {
    need!("nix");
    let w = World::new();
    let dir = w.runtime.join("dwell");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(socket(&w)).unwrap();
    let sock = socket(&w);
    // An "old dwell" daemon: answers every request as version 0.0.0-old and goes
    // away when asked to stop.
    let old = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let request: serde_json::Value = serde_json::from_str(&line).unwrap();
            let kind = request["request"].as_str().unwrap_or("").to_string();
            let reply = if kind == "stop" {
                "{\"protocol\":1,\"dwell\":\"0.0.0-old\",\"response\":\"done\"}\n"
            } else {
                "{\"protocol\":1,\"dwell\":\"0.0.0-old\",\"response\":\"error\",\"message\":\"old\"}\n"
            };
            stream.write_all(reply.as_bytes()).unwrap();
            seen.push(kind.clone());
            if kind == "stop" {
                std::fs::remove_file(&sock).unwrap();
                return seen;
            }
        }
        seen
    });
    let p = w.allowed_shell_nix("upgrade");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    let seen = old.join().unwrap();
    assert_eq!(seen.last().map(String::as_str), Some("stop"), "{seen:?}");
    let reply = roundtrip(&w, b"{\"protocol\":1,\"request\":\"ping\"}\n");
    assert_eq!(reply["version"], env!("CARGO_PKG_VERSION"));
}
