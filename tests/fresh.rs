//! Freshness with a real daemon: background re-evaluation after an edit (debounced,
//! save-by-rename seen), failures remembered per input state, Ctrl-C to the last
//! good environment, SIGTERM and timeouts that leave nothing behind, a bounded
//! watch set, SIGHUP, and the async mode.

use crate::util::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn status(w: &World, p: &Path) -> serde_json::Value {
    serde_json::from_slice(&w.ok(p, &["status", "--json"]).stdout).unwrap()
}

/// How many evaluations of `root` the daemon started (from its log).
fn evaluations_logged(w: &World, root: &Path) -> usize {
    let log = w.daemon_log();
    let needle = format!(" evaluating {}\n", root.display());
    log.matches(&needle).count()
}

/// How many evaluations of `root` the daemon finished, well or not.
fn evaluations_ended(w: &World, root: &Path) -> usize {
    let log = w.daemon_log();
    let done = format!(" evaluated {} in ", root.display());
    let failed = format!(" evaluation of {} failed", root.display());
    log.matches(&done).count() + log.matches(&failed).count()
}

/// A shell.nix whose build sleeps `seconds`, tagged by nix/tag.nix (changing the
/// tag makes a new, slow, derivation).
fn slow_project(w: &World, name: &str, seconds: u32) -> std::path::PathBuf {
    let count = w.count_file(name);
    w.project(
        name,
        &[
            (
                "shell.nix",
                &format!(
                    "{{ pkgs ? import <nixpkgs> {{}} }}:\nlet tag = import ./nix/tag.nix; in\npkgs.mkShell {{\n  packages = [ (pkgs.slow {seconds} tag) ];\n  TAG = tag;\n  shellHook = \"echo x >> {}\";\n}}\n",
                    count.display()
                ),
            ),
            ("nix/tag.nix", "\"first\"\n"),
        ],
    )
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn an_edit_is_evaluated_in_the_background_before_the_next_prompt() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("bg");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    std::fs::write(p.join("nix/foo.nix"), "\"edited\"\n").unwrap();
    assert!(
        wait_for(15, || w.evaluations("bg") == 2
            && status(&w, &p)["cache"] == "fresh"),
        "no background evaluation"
    );
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached", "ready before the prompt asked");
    assert_eq!(sh.get("FOO").as_deref(), Some("edited"));
}

#[test]
fn a_burst_of_writes_is_one_evaluation_of_the_last_content() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("burst");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    // Twenty saves as fast as they go. The watcher acts on a project once it saw
    // no event for 50 ms: a pause of this test that long (a loaded machine)
    // splits the burst, and each part may be evaluated; the pauses are counted
    // instead of hoped away.
    let mut pauses = 0;
    let mut last = Instant::now();
    for i in 0..20 {
        std::fs::write(p.join("nix/foo.nix"), format!("\"v{i}\"\n")).unwrap();
        pauses += usize::from(last.elapsed() >= Duration::from_millis(40));
        last = Instant::now();
    }
    // Done when the daemon handled the change and the environment of the last
    // content is cached: nothing is left that could start an evaluation.
    assert!(
        wait_for(20, || !w.changes_handled(&p).is_empty()
            && status(&w, &p)["cache"] == "fresh"
            && evaluations_logged(&w, &p) == evaluations_ended(&w, &p)),
        "no background evaluation"
    );
    let handled = w.changes_handled(&p).len();
    assert!(handled <= 1 + pauses, "{handled} changes for one burst");
    assert!(
        (2..=2 + pauses).contains(&w.evaluations("burst")),
        "twenty writes, one evaluation ({pauses} pauses)"
    );
    assert_eq!(evaluations_logged(&w, &p), w.evaluations("burst"));
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached");
    assert_eq!(sh.get("FOO").as_deref(), Some("v19"));
}

#[test]
fn a_save_by_rename_is_seen() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("rename");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    let before = w.generation();
    // As editors do: write a new file, rename it over the old one.
    let tmp = p.join("nix/.foo.nix.swp");
    std::fs::write(&tmp, "\"renamed\"\n").unwrap();
    std::fs::rename(&tmp, p.join("nix/foo.nix")).unwrap();
    assert!(
        wait_for(10, || w.generation() != before),
        "the rename was not seen"
    );
    assert!(wait_for(15, || w.evaluations("rename") == 2));
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("renamed"));
}

#[test]
fn an_unchanged_broken_file_is_not_evaluated_at_every_prompt() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("broken");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    std::fs::write(p.join("nix/foo.nix"), "\"unterminated\n").unwrap();
    assert!(wait_for(15, || evaluations_ended(&w, &p) == 2));
    let mut errors = 0;
    for _ in 0..4 {
        sh.prompt(&p);
        assert_eq!(status(&w, &p)["cache"], "stale");
        assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "last good kept");
        errors += sh.last_stderr.matches("evaluation failed").count();
    }
    assert_eq!(errors, 1, "the error is shown once");
    assert_eq!(
        evaluations_logged(&w, &p),
        2,
        "the broken state was evaluated once"
    );
    assert!(
        status(&w, &p)["last_error"]
            .as_str()
            .unwrap()
            .contains("error:")
    );
    // Fixed: recovers without a command.
    std::fs::write(p.join("nix/foo.nix"), "\"fixed\"\n").unwrap();
    assert!(wait_for(15, || w.evaluations("broken") == 2));
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("fixed"));
}

#[test]
fn sigterm_during_an_evaluation_leaves_no_cache_entry_and_no_nix_process() {
    need!("nix");
    let w = World::new();
    let p = slow_project(&w, "term", 37);
    w.allow(&p);
    let mut export = w
        .dwell(&p, &["export", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(20, || !processes_with("/bin/sleep 37").is_empty()),
        "the slow build did not start"
    );
    // The shell goes away (its evaluation goes on in the daemon), then the daemon
    // is told to stop.
    export.kill().unwrap();
    let _ = export.wait();
    let pid = status(&w, &p)["daemon"]["pid"].as_i64().unwrap() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let store = w.dir.join("nix/store");
    assert!(
        wait_for(10, || processes_with("/bin/sleep 37").is_empty()
            && processes_with(&format!("{}", store.display())).is_empty()),
        "orphaned: {:?}",
        processes_with("/bin/sleep 37")
    );
    assert!(!w.runtime.join("dwell/daemon.sock").exists());
    assert!(!w.runtime.join("dwell/generation").exists());
    let cache = w.home.join(".cache/dwell");
    let entries = walk(&cache);
    assert!(
        !entries
            .iter()
            .any(|e| e.extension().is_some_and(|x| x == "json")),
        "no partial generation: {entries:?}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn an_evaluation_past_the_timeout_is_stopped_cleanly() {
    need!("nix");
    let w = World::new();
    w.set_user_config("eval_timeout = \"1s\"\n");
    let p = slow_project(&w, "timeout", 23);
    w.allow(&p);
    let started = Instant::now();
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(started.elapsed() < Duration::from_secs(15));
    sh.said("timed out");
    assert_eq!(sh.get("TAG"), None);
    assert!(
        wait_for(10, || processes_with("/bin/sleep 23").is_empty()),
        "orphaned build"
    );
    assert!(
        generation_files_or_none(&w).is_empty(),
        "no partial cache entry"
    );
    // A timeout is not a property of the files: the next prompt tries again.
    sh.prompt(&p);
    assert_eq!(evaluations_logged(&w, &p), 2);
}

fn generation_files_or_none(w: &World) -> Vec<std::path::PathBuf> {
    walk(&w.home.join(".cache/dwell"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect()
}

#[test]
fn the_watch_set_is_bounded_and_unwatched_projects_are_checked_by_stat() {
    need!("nix");
    let w = World::new();
    w.set_user_config("watch_projects = 2\n");
    let projects: Vec<_> = (0..4).map(|i| w.shell_nix(&format!("w{i}"))).collect();
    let mut sh = SimShell::new(&w);
    for p in &projects {
        w.allow(p);
        sh.prompt(p);
    }
    let watched: Vec<bool> = projects
        .iter()
        .map(|p| status(&w, p)["watched"].as_bool().unwrap())
        .collect();
    assert_eq!(
        watched,
        [false, false, true, true],
        "the two most recent only"
    );
    // An edit in an unwatched project reaches nothing (the barrier is the
    // most recent project, watched)...
    std::fs::write(projects[0].join("nix/foo.nix"), "\"cold\"\n").unwrap();
    w.watcher_caught_up(&projects[3]);
    assert_eq!(w.changes_handled(&projects[0]), Vec::<String>::new());
    // ...and is still found by stat at the next request.
    sh.prompt(&projects[0]);
    assert_eq!(sh.get("FOO").as_deref(), Some("cold"));
    assert!(
        status(&w, &projects[0])["watched"].as_bool().unwrap(),
        "used again: watched"
    );
}

#[test]
fn sighup_reloads_the_user_config() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("hup");
    SimShell::new(&w).prompt(&p);
    assert_eq!(status(&w, &p)["project"]["trust"]["state"], "not-allowed");
    w.set_user_config(&format!("trusted = [\"{}\"]\n", w.dir.display()));
    let pid = status(&w, &p)["daemon"]["pid"].as_i64().unwrap() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    assert!(
        wait_for(5, || status(&w, &p)["project"]["trust"]["state"]
            == "trusted-prefix"),
        "the daemon did not reload its config"
    );
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
}

#[test]
fn async_mode_serves_the_last_good_environment_at_once() {
    need!("nix");
    let w = World::new();
    w.set_user_config("async = true\n");
    let p = slow_project(&w, "async", 3);
    w.allow(&p);
    let mut sh = SimShell::at_prompt(&w);
    sh.prompt(&p);
    sh.said("evaluating in the background");
    assert!(wait_for(20, || status(&w, &p)["cache"] == "fresh"));
    sh.prompt(&p);
    assert_eq!(sh.get("TAG").as_deref(), Some("first"));
    std::fs::write(p.join("nix/tag.nix"), "\"second\"\n").unwrap();
    assert!(wait_for(10, || !w.changes_handled(&p).is_empty()));
    let started = Instant::now();
    sh.prompt(&p);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "async: no waiting"
    );
    sh.said("evaluating in the background; the last good environment until then");
    assert_eq!(sh.get("TAG").as_deref(), Some("first"));
    // A shell entering meanwhile gets the last good one too, and its status line
    // says what it is (not "stale", which is for a failure).
    let mut other = SimShell::at_prompt(&w);
    other.prompt(&p);
    other.said("· last good · evaluating ·");
    assert_eq!(other.get("TAG").as_deref(), Some("first"));
    assert!(wait_for(20, || status(&w, &p)["cache"] == "fresh"));
    sh.prompt(&p);
    assert_eq!(sh.get("TAG").as_deref(), Some("second"));
}

/// At inotify's limit the daemon warns once and carries on: projects are then
/// validated by stat when a shell asks. The limit is lowered in a user namespace
/// of the test's own, where `max_inotify_watches` is private to it.
#[test]
fn the_inotify_limit_degrades_to_stat_checks_with_one_warning() {
    need!("nix", "unshare");
    let w = World::new();
    let projects: Vec<_> = (0..3).map(|i| w.shell_nix(&format!("lim{i}"))).collect();
    for p in &projects {
        w.allow(p);
    }
    let in_namespace = |p: &Path| -> serde_json::Value {
        let script =
            format!("echo 2 > /proc/sys/user/max_inotify_watches && exec '{DWELL}' export json");
        let out = run_ok(
            w.command("unshare")
                .args(["--user", "--map-root-user", "bash", "-c", &script])
                .current_dir(p),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The daemon starts inside the namespace, with room for two watches.
    for p in &projects {
        let out = in_namespace(p);
        assert_eq!(out["FOO"], "bar", "{out}");
    }
    let log = w.daemon_log();
    assert_eq!(
        log.matches("the inotify watch limit is reached").count(),
        1,
        "one warning:\n{log}"
    );
    // An edit nobody watches is still found by stat.
    std::fs::write(projects[2].join("nix/foo.nix"), "\"by stat\"\n").unwrap();
    let out = in_namespace(&projects[2]);
    assert_eq!(out["FOO"], "by stat", "{out}");
}

/// Regression: the watcher deadlocked when events arrived while it added watches
/// for a new project (notify answers watch calls on its event thread), and every
/// prompt then hung.
#[test]
fn events_during_new_watches_do_not_deadlock_the_daemon() {
    need!("nix");
    let w = World::new();
    let a = w.allowed_shell_nix("busy");
    SimShell::new(&w).prompt(&a);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let file = a.join("scratch.txt");
        let watched = a.join("nix/foo.nix");
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::fs::write(&file, i.to_string()).unwrap();
                if i.is_multiple_of(50) {
                    std::fs::write(&watched, "\"bar\"\n").unwrap();
                }
                i += 1;
            }
        })
    };
    for i in 0..12 {
        let p = w.shell_nix(&format!("new{i}"));
        w.allow(&p);
        let mut child = w
            .dwell(&p, &["export", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let done = wait_for(30, || child.try_wait().unwrap().is_some());
        if !done {
            let _ = child.kill();
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            panic!("export {i} hung: the daemon is stuck");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
}

/// Regression: a failing shellHook in an imported file was remembered against the
/// entry file only, so fixing the imported file never recovered.
#[test]
fn fixing_a_failing_shell_hook_in_an_imported_file_recovers() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "hookfail",
        &[
            (
                "shell.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell (import ./nix/shell.nix)\n",
            ),
            ("nix/shell.nix", "{ V = \"x\"; shellHook = \"exit 3\"; }\n"),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("capture shell");
    std::fs::write(p.join("nix/shell.nix"), "{ V = \"fixed\"; }\n").unwrap();
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("fixed"), "{}", sh.last_stderr);
}

/// Regression: a timeout reached only the first of the requests waiting for it;
/// the others started evaluations of their own.
#[test]
fn every_waiting_shell_gets_a_failed_evaluations_error_and_only_one_runs() {
    need!("nix");
    let w = World::new();
    w.set_user_config("eval_timeout = \"1s\"\n");
    let p = slow_project(&w, "fourwait", 19);
    w.allow(&p);
    for out in concurrent_exports(&w, &p, 4) {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("timed out"), "{said}");
    }
    assert_eq!(evaluations_logged(&w, &p), 1);
}

#[test]
fn an_edit_deep_inside_a_directory_input_is_evaluated_in_the_background() {
    need!("nix");
    let w = World::new();
    let count = w.count_file("deep");
    let p = w.project(
        "deep",
        &[
            (
                "shell.nix",
                &format!(
                    "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{ V = builtins.readFile \"${{./data}}/a/b/x.txt\"; shellHook = \"echo x >> {}\"; }}\n",
                    count.display()
                ),
            ),
            ("data/a/b/x.txt", "one"),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("one"));
    std::fs::write(p.join("data/a/b/x.txt"), "two").unwrap();
    assert!(
        wait_for(15, || w.evaluations("deep") == 2),
        "the nested edit was not seen"
    );
    assert!(wait_for(15, || status(&w, &p)["cache"] == "fresh"));
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached", "ready before the prompt");
    assert_eq!(sh.get("V").as_deref(), Some("two"));
}

/// In a git flake with `src = ./.`, the daemon's watcher follows what git tracks:
/// Python's bytecode and a venv start no evaluation, a `git add` starts one in the
/// background (the git index is watched).
#[test]
fn the_watcher_ignores_untracked_files_of_a_git_flake_and_sees_git_add() {
    need!("nix", "git");
    let w = World::new();
    let count = w.count_file("gitwatch");
    let p = w.project(
        "gitwatch",
        &[
            (
                "flake.nix",
                &format!(
                    "{{\n  inputs.nixpkgs.url = \"path:{}\";\n  outputs = {{ self, nixpkgs }}: {{\n    devShells.{sys}.default = nixpkgs.legacyPackages.{sys}.mkShell {{\n      src = ./.;\n      shellHook = \"echo x >> {}\";\n    }};\n  }};\n}}\n",
                    fixture_nixpkgs().display(),
                    count.display(),
                    sys = system()
                ),
            ),
            ("app.py", "print(1)\n"),
            (".gitignore", "__pycache__/\n.venv/\n"),
        ],
    );
    let git = w.git_repo(&p);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(sh.get("src").is_some(), "{}", sh.last_stderr);
    let before = w.evaluations("gitwatch");
    let barrier = w.barrier_project();
    w.write(
        &p,
        &[
            ("__pycache__/app.cpython-311.pyc", "bytecode"),
            (".venv/lib/python3.11/site-packages/x.py", "x"),
            ("notes.txt", "untracked"),
        ],
    );
    w.watcher_caught_up(&barrier);
    assert!(
        !w.changes_handled(&p)
            .iter()
            .any(|what| what.starts_with("evaluating")),
        "untracked files: {:?}",
        w.changes_handled(&p)
    );
    assert_eq!(w.evaluations("gitwatch"), before, "untracked files");
    git(&["add", "notes.txt"]);
    assert!(
        wait_for(15, || w.evaluations("gitwatch") == before + 1
            && status(&w, &p)["cache"] == "fresh"),
        "git add was not seen in the background"
    );
}

/// `wait`: a shell's prompt waits for a cold evaluation only this long, then
/// comes back without it and says so; the evaluation goes on, its end bumps the
/// counter, and the next prompt in the project has the environment. An editor
/// (`export json`) still gets the final environment.
#[test]
fn a_cold_evaluation_holds_the_prompt_no_longer_than_wait() {
    need!("nix");
    let w = World::new();
    w.set_user_config("wait = \"1s\"\n");
    let p = slow_project(&w, "cold", 8);
    w.allow(&p);
    let mut sh = SimShell::at_prompt(&w);
    let before = w.generation();
    let started = Instant::now();
    sh.prompt(&p);
    let took = started.elapsed();
    // (A margin for a loaded machine; the benchmark measures it exactly. The
    // evaluation itself takes more than 8 s.)
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "the prompt came back after {took:?}"
    );
    sh.said("(shell.nix): evaluating in the background; the shell goes on without it, and it arrives at a later prompt");
    assert_eq!(sh.get("TAG"), None);
    assert_eq!(status(&w, &p)["evaluating"], true, "shown as pending");
    // It lands without anyone asking: the counter moves, a prompt takes it.
    assert!(
        wait_for(30, || status(&w, &p)["cache"] == "fresh"
            && w.generation() != before),
        "the evaluation did not land"
    );
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached");
    assert_eq!(sh.get("TAG").as_deref(), Some("first"));
    assert_eq!(w.evaluations("cold"), 1, "one evaluation for both prompts");
}

#[test]
fn a_shell_that_left_before_the_evaluation_landed_gets_nothing_of_it() {
    need!("nix");
    let w = World::new();
    w.set_user_config("wait = 0\n");
    let p = slow_project(&w, "left", 3);
    w.allow(&p);
    let mut sh = SimShell::at_prompt(&w);
    sh.prompt(&p);
    sh.said("evaluating in the background");
    sh.prompt(&w.dir);
    assert!(wait_for(30, || status(&w, &p)["cache"] == "fresh"));
    sh.prompt(&w.dir);
    assert_eq!(sh.get("TAG"), None, "{}", sh.last_stderr);
    // An editor asking for JSON waits for the final environment.
    let mut editor = SimShell::new(&w);
    std::fs::write(p.join("nix/tag.nix"), "\"second\"\n").unwrap();
    editor.prompt(&p);
    assert_eq!(editor.get("TAG").as_deref(), Some("second"));
}

/// A project's own `wait` wins over the user's: "forever" waits to the end.
#[test]
fn a_projects_wait_setting_wins() {
    need!("nix");
    let w = World::new();
    w.set_user_config("wait = 0\n");
    let p = slow_project(&w, "patient", 2);
    std::fs::write(p.join(".dwell.toml"), "wait = \"forever\"\n").unwrap();
    w.allow(&p);
    let mut sh = SimShell::at_prompt(&w);
    sh.prompt(&p);
    assert_eq!(
        sh.get("TAG").as_deref(),
        Some("first"),
        "{}",
        sh.last_stderr
    );
    std::fs::write(p.join(".dwell.toml"), "wait = \"soon\"\n").unwrap();
    let out = w.dwell(&p, &["status"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("wait: \"soon\" does not start with a number (or \"forever\")"),
        "{said}"
    );
}

/// An evaluation that outlasts both `wait` and `eval_timeout`: the prompt that
/// stopped waiting is told why at its next prompt, once, and the next few
/// prompts do not start it all over again.
#[test]
fn a_timeout_after_the_prompt_stopped_waiting_is_said_at_the_next_prompt() {
    need!("nix");
    let w = World::new();
    w.set_user_config("wait = \"1s\"\neval_timeout = \"3s\"\n");
    let p = slow_project(&w, "late-timeout", 30);
    w.allow(&p);
    let mut sh = SimShell::at_prompt(&w);
    sh.prompt(&p);
    sh.said("evaluating in the background");
    assert!(
        wait_for(30, || w
            .daemon_log()
            .contains("failed: evaluation timed out after 3 s")),
        "the evaluation did not time out"
    );
    sh.prompt(&p);
    sh.said("evaluation timed out after 3 s");
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("timed out"),
        "said once: {}",
        sh.last_stderr
    );
    assert_eq!(evaluations_logged(&w, &p), 1, "not started again at once");
}

/// `wait` is for prompts: `dwell exec` and `dwell direnv` (what editors run)
/// wait for the final environment even with `wait = 0`.
#[test]
fn exec_and_direnv_wait_for_the_final_environment_whatever_wait_says() {
    need!("nix");
    let w = World::new();
    w.set_user_config("wait = 0\n");
    let exec = slow_project(&w, "exec-waits", 2);
    w.allow(&exec);
    let out = w.ok(&exec, &["exec", "--", "sh", "-c", "echo \"TAG=$TAG\""]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "TAG=first");
    let direnv = slow_project(&w, "direnv-waits", 2);
    w.allow(&direnv);
    let out = w.ok(&direnv, &["direnv"]);
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(code.contains("export TAG=$'first'"), "{code}");
}
