//! Fault injection: the daemon killed with SIGKILL at random points of an
//! evaluation, and a cache on a full filesystem. Nothing may be corrupted or
//! lost, no GC root may leak past a prune, and the shell keeps the last good
//! environment.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The profiles (not their `-N-link` generations) under the GC roots dir.
fn profiles(w: &World) -> Vec<PathBuf> {
    let dir = w.home.join(".local/state/dwell/gcroots");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| !p.to_string_lossy().ends_with("-link"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The GC roots named by saved generations; every generation file must parse.
fn roots_of_generations(w: &World) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for file in generation_files(w) {
        if file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let g: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("corrupt cache entry {}: {e}", file.display()));
        if let Some(root) = g["gc_root"].as_str() {
            roots.push(PathBuf::from(root));
        }
    }
    roots.sort();
    roots.dedup();
    roots
}

/// Makes every GC root look older than a prune's grace period.
fn age_roots(w: &World) {
    let dir = w.home.join(".local/state/dwell/gcroots");
    for entry in std::fs::read_dir(dir).unwrap() {
        run_ok(
            Command::new("touch")
                .args(["-h", "-d", "20 minutes ago"])
                .arg(entry.unwrap().path()),
        );
    }
}

#[test]
fn sigkill_at_random_points_of_an_evaluation_loses_nothing() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "killed",
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { FOO = import ./nix/foo.nix; shellHook = ''sleep 0.3''; }\n",
            ),
            ("nix/foo.nix", "\"v0\"\n"),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("v0"));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut rounds, mut wrong, mut restarts) = (0, 0, 0);
    for round in 1..=20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let value = format!("v{round}");
        w.write(&p, &[("nix/foo.nix", &format!("\"{value}\"\n"))]);
        let victim = running_daemon_pid(&w);
        let child = w
            .dwell(&p, &["export", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Somewhere in the evaluation: Nix, the capture, the save.
        std::thread::sleep(Duration::from_millis(seed % 700));
        if let Some(pid) = victim.or_else(|| running_daemon_pid(&w)) {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid).unwrap(),
                rustix::process::Signal::KILL,
            );
            restarts += 1;
        }
        let out = child.wait_with_output().unwrap();
        rounds += 1;
        // The prompt that saw the kill may be served by a new daemon or in
        // process; either way the next prompt is right, and the cache is whole.
        let _ = roots_of_generations(&w);
        let mut check = SimShell::new(&w);
        check.prompt(&p);
        if check.get("FOO").as_deref() != Some(value.as_str()) {
            wrong += 1;
            eprintln!(
                "round {round}: FOO={:?}; the killed prompt said: {}",
                check.get("FOO"),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Roots left by killed evaluations are reclaimed by a prune (once older than
    // a running evaluation could be); the saved generations keep theirs.
    age_roots(&w);
    w.stop();
    w.ok(&w.dir, &["prune", "--older-than", "3650d"]);
    let referenced = roots_of_generations(&w);
    assert_eq!(profiles(&w), referenced, "a GC root outlived the prune");
    for root in &referenced {
        assert!(
            std::fs::canonicalize(root).is_ok(),
            "{} dangles",
            root.display()
        );
    }
    eprintln!("kill -9: {rounds} rounds, {wrong} wrong environments, {restarts} daemon restarts");
    assert_eq!(wrong, 0);
}

/// A small tmpfs mounted over a directory for the length of a test.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        run_ok(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
                .arg("tmpfs")
                .arg(dir),
        );
        Mount(dir.to_path_buf())
    }

    /// Fills the filesystem to the last byte.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        // Small files take whatever the big one left.
        for i in 0.. {
            if std::fs::write(self.0.join(format!("crumb{i}")), b"x").is_err() {
                break;
            }
        }
        filler
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_one_clear_error_and_the_last_good_environment_stays() {
    need!("nix");
    if !need_root("it mounts a small tmpfs") {
        return;
    }
    let w = World::new();
    let cache = Mount::tmpfs(&w.home.join(".cache"), "4m");
    let p = w.allowed_shell_nix("full");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(w.evaluations("full"), 1);
    let served_root = profiles(&w);
    assert_eq!(served_root.len(), 1);

    let filler = cache.fill();
    w.write(&p, &[("nix/foo.nix", "\"baz\"\n")]);
    sh.prompt(&p);
    sh.said("no space left on");
    sh.said("free space or run `dwell prune`");
    assert!(
        !sh.last_stderr.contains("kept changing"),
        "{}",
        sh.last_stderr
    );
    assert_eq!(
        sh.get("FOO").as_deref(),
        Some("bar"),
        "the last good environment is kept"
    );
    assert_eq!(w.evaluations("full"), 2, "one evaluation, no retry loop");
    // The next prompts neither evaluate again nor repeat the error.
    for _ in 0..3 {
        sh.prompt(&p);
        assert!(
            !sh.last_stderr.contains("no space left"),
            "{}",
            sh.last_stderr
        );
    }
    assert_eq!(w.evaluations("full"), 2);
    assert_eq!(
        profiles(&w),
        served_root,
        "no GC root for an unsaved generation"
    );

    // `dwell reload` says why it failed and keeps the served generation's root.
    let reload = w.dwell(&p, &["reload"]).output().unwrap();
    let said = String::from_utf8_lossy(&reload.stderr);
    assert!(!reload.status.success(), "{said}");
    assert!(said.contains("no space left on"), "{said}");
    assert!(!said.contains("reloaded"), "{said}");
    assert_eq!(profiles(&w), served_root);
    assert!(std::fs::canonicalize(&served_root[0]).is_ok());
    let mut fresh = SimShell::new(&w);
    fresh.prompt(&p);
    assert_eq!(
        fresh.get("FOO").as_deref(),
        Some("bar"),
        "{}",
        fresh.last_stderr
    );

    // With space again, a reload brings the new environment.
    std::fs::remove_file(filler).unwrap();
    for crumb in std::fs::read_dir(&cache.0).unwrap() {
        let crumb = crumb.unwrap().path();
        if crumb
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("crumb")
        {
            std::fs::remove_file(crumb).unwrap();
        }
    }
    w.ok(&p, &["reload"]);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("baz"), "{}", sh.last_stderr);
    w.stop();
}

#[test]
fn a_directory_whose_name_is_not_utf8_is_served_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    need!("nix");
    let w = World::new();
    // No project there: silence, not a backtrace at every prompt.
    let plain = w.dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&plain).unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "xonsh", "json"] {
        let out = w.dwell(&plain, &["export", shell]).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !said.contains("panicked"),
            "{shell}: {said}"
        );
    }
    // A project there: evaluated, cached (its generation and GC root written),
    // and loaded and unloaded like any other.
    let p = plain.join(std::ffi::OsStr::from_bytes(b"proj-\xff"));
    w.allowed_foo_shell_at(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    sh.prompt(&w.dir);
    assert_eq!(sh.get("FOO"), None, "{}", sh.last_stderr);
    // A fresh daemon reads the generation back from disk.
    w.stop();
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(sh.last_json["freshness"], "cached", "{}", sh.last_stderr);
    let status = w.ok(&p, &["status", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(report["project"]["root"]["base64"].is_string(), "{report}");
}

#[test]
fn a_local_failure_to_start_the_daemon_is_named_not_a_lost_connection() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("api");
    w.stop();
    // The start lock cannot be opened: a directory is where the file goes.
    let lock = w.runtime.join("dwell/start.lock");
    std::fs::create_dir_all(&lock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let private = std::fs::Permissions::from_mode(0o700);
    std::fs::set_permissions(w.runtime.join("dwell"), private).unwrap();
    let out = w.dwell(&p, &["export", "json"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("could not open the start lock"), "{said}");
    assert!(!said.contains("lost the connection"), "{said}");
    // The shell still gets its environment, from this process.
    assert!(out.status.success(), "{said}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"FOO\""));
}
