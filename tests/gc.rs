//! Generations and GC roots against the real `nix-collect-garbage`, in each test's
//! own Nix store: roots keep served environments alive, prune drops them, a
//! generation whose store paths vanished is evaluated again, never served broken.

use crate::util::*;
use std::process::Command;

fn collect_garbage(w: &World) -> String {
    let out = run_ok(w.command("nix-collect-garbage").arg("-d"));
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

fn hello_works(w: &World, sh: &SimShell) -> bool {
    let out = Command::new("bash")
        .args(["-c", "hello"])
        .env_clear()
        .envs(&sh.env)
        .current_dir(&w.dir)
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn collect_garbage_leaves_served_environments_intact() {
    need!("nix", "nix-collect-garbage");
    let w = World::new();
    let p = w.allowed_shell_nix("rooted");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert!(hello_works(&w, &sh));
    w.stop();
    collect_garbage(&w);
    let mut again = SimShell::new(&w);
    let out = again.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached", "re-entered with no evaluation");
    assert_eq!(w.evaluations("rooted"), 1);
    assert!(
        hello_works(&w, &again),
        "the environment's packages survived the GC"
    );
}

#[test]
fn vanished_store_paths_mean_a_new_evaluation_not_a_broken_env() {
    need!("nix", "nix-collect-garbage");
    let w = World::new();
    let p = w.allowed_shell_nix("vanished");
    SimShell::new(&w).prompt(&p);
    w.stop();
    // The root is removed behind dwell's back, then the store is collected.
    let gcroots = w.home.join(".local/state/dwell/gcroots");
    for link in std::fs::read_dir(&gcroots).unwrap() {
        std::fs::remove_file(link.unwrap().path()).unwrap();
    }
    collect_garbage(&w);
    let mut sh = SimShell::new(&w);
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "evaluated");
    assert_eq!(w.evaluations("vanished"), 2);
    assert!(hello_works(&w, &sh));
}

#[test]
fn prune_drops_old_generations_with_their_roots() {
    need!("nix", "nix-collect-garbage");
    let w = World::new();
    let p = w.allowed_shell_nix("pruned");
    SimShell::new(&w).prompt(&p);
    let gcroots = w.home.join(".local/state/dwell/gcroots");
    let roots = || std::fs::read_dir(&gcroots).unwrap().count();
    assert!(roots() >= 1);
    assert_eq!(generation_files(&w).len(), 1);

    let out = w.ok(&p, &["prune", "--older-than", "30d"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("dropped 0 generations"), "{said}");
    assert_eq!(generation_files(&w).len(), 1, "used recently: kept");

    // Make the generation look unused for a long time.
    age_generations(&w, 40);
    let out = w.ok(&p, &["prune", "--older-than", "30d", "--dry-run"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("would drop 1 generations of 1 projects"),
        "{said}"
    );
    assert_eq!(generation_files(&w).len(), 1, "a dry run removes nothing");

    let out = w.ok(&p, &["prune", "--older-than", "30d"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("dropped 1 generations"), "{said}");
    assert!(said.contains("1 GC roots"), "{said}");
    assert!(std::fs::read_dir(cache_dir(&w)).unwrap().next().is_none());
    assert_eq!(roots(), 0, "the root went with the generation");

    w.stop();
    collect_garbage(&w);
    let mut sh = SimShell::new(&w);
    assert_eq!(sh.prompt(&p)["freshness"], "evaluated");
    assert!(hello_works(&w, &sh));
}

#[test]
fn prune_rejects_a_bad_duration() {
    need!("nix");
    let w = World::new();
    let out = w
        .dwell(&w.dir, &["prune", "--older-than", "soon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--older-than"));
}

#[test]
fn a_project_keeps_its_last_n_generations() {
    need!("nix");
    let w = World::new();
    w.write(
        &w.home.join(".config/dwell"),
        &[("config.toml", "generations = 2\n")],
    );
    let p = w.allowed_shell_nix("keep");
    let mut sh = SimShell::new(&w);
    for value in ["a", "b", "c"] {
        std::fs::write(p.join("nix/foo.nix"), format!("\"{value}\"\n")).unwrap();
        sh.prompt(&p);
        assert_eq!(sh.get("FOO").as_deref(), Some(value));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(generation_files(&w).len(), 2);
    let gcroots = w.home.join(".local/state/dwell/gcroots");
    let profiles = std::fs::read_dir(&gcroots)
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-link")
        })
        .count();
    assert_eq!(profiles, 2, "the dropped generation's root is gone");
    // "b" is still kept: switching back to it is a hit.
    std::fs::write(p.join("nix/foo.nix"), "\"b\"\n").unwrap();
    assert_eq!(sh.prompt(&p)["freshness"], "cached");
    assert_eq!(w.evaluations("keep"), 3);
}

#[test]
fn switching_git_branches_back_is_a_cache_hit() {
    need!("nix", "git");
    let w = World::new();
    let p = w.flake("branches");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&p)
            .env_clear()
            .envs(&w.env)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "main"]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    // flake.lock was written by the first evaluation; commit it on main.
    git(&["add", "-A"]);
    git(&["commit", "-qm", "lock"]);
    sh.prompt(&p);
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("from-flake"));
    let first = w.evaluations("branches");

    git(&["checkout", "-q", "-b", "feature"]);
    std::fs::write(p.join("nix/value.nix"), "\"feature\"\n").unwrap();
    git(&["commit", "-qam", "feature"]);
    sh.prompt(&p);
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("feature"));
    assert_eq!(w.evaluations("branches"), first + 1);

    git(&["checkout", "-q", "main"]);
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached", "switching back needs no Nix");
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("from-flake"));
    assert_eq!(w.evaluations("branches"), first + 1);
}

#[test]
fn the_daemon_prunes_by_the_user_config_policy() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("policy");
    SimShell::new(&w).prompt(&p);
    w.stop();
    age_generations(&w, 20);
    // Twenty days unused: kept under the default policy (30 days)...
    SimShell::new(&w).prompt(&w.dir);
    assert!(
        wait_for(10, || w.daemon_log().contains("pruned 0 generations")),
        "the daemon did not prune at start"
    );
    assert_eq!(generation_files(&w).len(), 1);
    w.stop();
    // ...dropped, with its root, by a daemon told to prune after two weeks.
    w.write(
        &w.home.join(".config/dwell"),
        &[("config.toml", "prune_after = \"2w\"\n")],
    );
    SimShell::new(&w).prompt(&w.dir);
    assert!(
        wait_for(10, || std::fs::read_dir(cache_dir(&w))
            .unwrap()
            .next()
            .is_none()),
        "not pruned"
    );
    let gcroots = w.home.join(".local/state/dwell/gcroots");
    assert_eq!(std::fs::read_dir(&gcroots).unwrap().count(), 0);
}

#[test]
fn prune_removes_temp_files_a_killed_write_left_behind() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("leftovers");
    SimShell::new(&w).prompt(&p);
    let project_dir = std::fs::read_dir(cache_dir(&w))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // What write_atomic leaves when its process is killed mid-write.
    let abandoned = project_dir.join(".abc.json.1234.5.tmp");
    let writing = project_dir.join(".abc.json.1234.6.tmp");
    std::fs::write(&abandoned, "{\"format\"").unwrap();
    std::fs::write(&writing, "{\"format\"").unwrap();
    set_mtime(
        &abandoned,
        std::time::SystemTime::now() - std::time::Duration::from_secs(600),
    );
    w.ok(&p, &["prune", "--older-than", "30d"]);
    assert!(!abandoned.exists(), "an abandoned temp file stays");
    assert!(
        writing.exists(),
        "a write that may still be under way is left alone"
    );
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
}
