//! End-to-end flows through `dwell export json` with a real daemon and real Nix,
//! applied by a simulated shell: allow, enter, leave, venv, cache, refresh, errors.

use crate::util::*;
use std::path::Path;
use std::process::Command;

#[test]
fn shell_nix_needs_allow_then_loads_and_unloads() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("api");
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();

    sh.prompt(&p);
    sh.said("is not allowed yet");
    assert!(sh.last_stderr.contains("dwell allow"));
    assert_eq!(sh.get("FOO"), None);
    assert_eq!(w.evaluations("api"), 0, "nothing runs before allow");
    assert_eq!(
        w.status_json(&p)["project"]["trust"]["state"],
        "not-allowed"
    );

    // The notice is shown once per entry.
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("not allowed"),
        "{}",
        sh.last_stderr
    );

    w.allow(&p);
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "evaluated");
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(sh.get("HOOKED").as_deref(), Some("yes"));
    let path = sh.path();
    assert!(path[0].ends_with("-hello/bin"), "{path:?}");
    assert!(
        path.contains(&"/usr/bin".to_string()),
        "the shell's PATH is kept"
    );
    assert!(!path.iter().any(|e| e.is_empty() || e == "/path-not-set"));
    for stripped in ["TMPDIR", "NIX_BUILD_TOP", "SHLVL", "BASH", "HOME"] {
        assert_eq!(sh.env.get(stripped), before.get(stripped), "{stripped}");
    }
    sh.said("shell.nix · evaluated");

    // A subdirectory belongs to the project: nothing changes.
    let sub = p.join("nix");
    let out = sh.prompt(&sub).clone();
    assert!(out["changes"].as_object().unwrap().is_empty(), "{out}");

    // Leaving restores the shell exactly.
    sh.prompt(&w.dir);
    sh.said("unloaded");
    assert_eq!(sh.env, before);
    assert_eq!(w.evaluations("api"), 1);
}

#[test]
fn flake_devshell_loads() {
    need!("nix");
    let w = World::new();
    let p = w.flake("web");
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();
    let out = sh.prompt(&p).clone();
    assert_eq!(w.status_json(&p)["project"]["kind"], "flake", "{out}");
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("from-flake"));
    assert_eq!(sh.get("FLAKE_HOOKED").as_deref(), Some("yes"));
    assert!(sh.path()[0].ends_with("-hello/bin"));
    sh.prompt(&w.dir);
    assert_eq!(sh.env, before);

    // Editing an imported file of the flake refreshes; editing a README does not.
    std::fs::write(p.join("README.md"), "docs").unwrap();
    sh.prompt(&p);
    assert_eq!(
        w.evaluations("web"),
        1,
        "a file the evaluation did not read"
    );
    std::fs::write(p.join("nix/value.nix"), "\"edited\"\n").unwrap();
    sh.prompt(&p.join("nix"));
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("edited"));
    assert_eq!(w.evaluations("web"), 2);
}

#[test]
fn venv_is_layered_on_top_of_nix() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("ml");
    let venv = w.venv(&p);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.env.insert("PYTHONHOME".into(), "/somewhere".into());
    let before = sh.env.clone();
    sh.prompt(&p);
    let path = sh.path();
    assert_eq!(path[0], venv.join("bin").display().to_string());
    assert!(
        path[1].ends_with("-hello/bin"),
        "venv first, then Nix: {path:?}"
    );
    assert_eq!(sh.get("VIRTUAL_ENV"), Some(venv.display().to_string()));
    assert_eq!(sh.get("VIRTUAL_ENV_PROMPT").as_deref(), Some(".venv"));
    assert_eq!(
        sh.get("PYTHONPATH"),
        None,
        "Nix's PYTHONPATH must not leak in"
    );
    assert_eq!(sh.get("PYTHONHOME"), None);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));

    // `python` resolves to the venv's.
    let which = std::process::Command::new("bash")
        .args(["-c", "command -v python"])
        .env_clear()
        .envs(&sh.env)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&which.stdout).trim(),
        venv.join("bin/python").display().to_string()
    );
    sh.prompt(&w.dir);
    assert_eq!(sh.env, before);
}

#[test]
fn venv_only_project_works_without_nix_evaluation() {
    need!("nix");
    let w = World::new();
    let p = w.project("plain", &[("src/app.py", "print(1)\n")]);
    let venv = w.venv(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p.join("src"));
    sh.said("(venv) is not allowed yet");
    w.allow(&p);
    sh.prompt(&p.join("src"));
    assert_eq!(w.status_json(&p.join("src"))["project"]["kind"], "venv");
    assert_eq!(sh.get("VIRTUAL_ENV"), Some(venv.display().to_string()));
    assert_eq!(sh.path()[0], venv.join("bin").display().to_string());
}

#[test]
fn leaving_keeps_what_the_user_changed_inside() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("undo");
    let mut sh = SimShell::new(&w);
    sh.env.insert("FOO".into(), "original".into());
    sh.env.insert("KEEP".into(), "k".into());
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));

    // Inside, the user prepends to PATH and changes HOOKED.
    let path = format!("/my/tools:{}", sh.get("PATH").unwrap());
    sh.env.insert("PATH".into(), path.into());
    sh.env.insert("HOOKED".into(), "mine".into());
    sh.prompt(&w.dir);

    assert_eq!(sh.get("FOO").as_deref(), Some("original"), "restored");
    assert_eq!(
        sh.get("HOOKED").as_deref(),
        Some("mine"),
        "user's change survives"
    );
    let path = sh.path();
    assert_eq!(path[0], "/my/tools", "user's PATH entry survives");
    assert!(!path.iter().any(|e| e.contains("-hello")), "{path:?}");
    assert_eq!(sh.get("KEEP").as_deref(), Some("k"));
}

#[test]
fn moving_between_projects_swaps_environments() {
    need!("nix");
    let w = World::new();
    let a = w.shell_nix("a");
    let b = w.flake("b");
    w.allow(&a);
    w.allow(&b);
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();
    sh.prompt(&a);
    sh.prompt(&b);
    assert_eq!(sh.get("FOO"), None, "a's variables are gone");
    assert_eq!(sh.get("FLAKE_VAR").as_deref(), Some("from-flake"));
    assert_eq!(sh.path().iter().filter(|e| e.contains("-hello")).count(), 1);
    sh.prompt(&w.dir);
    assert_eq!(sh.env, before);
}

#[test]
fn nearest_project_upward_wins() {
    need!("nix");
    let w = World::new();
    let outer = w.shell_nix("outer");
    let inner = outer.join("services/inner");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(
        inner.join("shell.nix"),
        "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { INNER = \"1\"; }\n",
    )
    .unwrap();
    w.allow(&outer);
    w.allow(&inner);
    let mut sh = SimShell::new(&w);
    sh.prompt(&inner.join(".."));
    let root = |dir: &Path| w.status_json(dir)["project"]["root"].clone();
    assert_eq!(root(&inner.join("..")), outer.display().to_string());
    sh.prompt(&inner);
    assert_eq!(root(&inner), inner.display().to_string());
    assert_eq!(sh.get("INNER").as_deref(), Some("1"));
    assert_eq!(sh.get("FOO"), None);
}

#[test]
fn cached_for_a_second_shell_and_for_a_fresh_daemon() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("cache");
    let mut first = SimShell::new(&w);
    first.prompt(&p);
    assert_eq!(w.evaluations("cache"), 1);

    let mut second = SimShell::new(&w);
    let out = second.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached");
    assert_eq!(second.get("FOO").as_deref(), Some("bar"));

    w.stop();
    let mut third = SimShell::new(&w);
    let out = third.prompt(&p).clone();
    assert_eq!(
        out["freshness"], "cached",
        "the disk cache serves a new daemon"
    );
    assert_eq!(
        w.evaluations("cache"),
        1,
        "no Nix evaluation after the first"
    );
}

#[test]
fn editing_an_imported_file_refreshes_and_reverting_is_a_hit() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("edit");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    std::fs::write(p.join("nix/foo.nix"), "\"baz\"\n").unwrap();
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "evaluated");
    assert_eq!(sh.get("FOO").as_deref(), Some("baz"));
    // Back to the old content (a branch switched back): served from the cache.
    std::fs::write(p.join("nix/foo.nix"), "\"bar\"\n").unwrap();
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "cached");
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(w.evaluations("edit"), 2);
    // A touch without a content change is not a change.
    let f = std::fs::File::options()
        .append(true)
        .open(p.join("shell.nix"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    sh.prompt(&p);
    assert_eq!(w.evaluations("edit"), 2);
}

#[test]
fn single_flight_one_evaluation_for_many_shells() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("flight");
    for out in concurrent_exports(&w, &p, 8) {
        assert!(out.status.success());
    }
    assert_eq!(w.evaluations("flight"), 1, "eight shells, one evaluation");
}

#[test]
fn status_reports_project_cache_and_daemon() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("stat");
    let status = |w: &World| -> serde_json::Value {
        serde_json::from_slice(&w.ok(&p, &["status", "--json"]).stdout).unwrap()
    };
    let s = status(&w);
    assert_eq!(s["project"]["root"], p.display().to_string());
    assert_eq!(s["project"]["kind"], "shell-nix");
    assert_eq!(s["project"]["trust"]["state"], "not-allowed");
    assert_eq!(s["cache"], "never-evaluated");
    w.allow(&p);
    SimShell::new(&w).prompt(&p);
    let s = status(&w);
    assert_eq!(s["cache"], "fresh");
    assert_eq!(s["project"]["trust"]["state"], "allowed");
    let inputs: Vec<String> = s["generation"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    assert!(inputs.contains(&p.join("shell.nix").display().to_string()));
    assert!(inputs.contains(&p.join("nix/foo.nix").display().to_string()));
    assert!(s["generation"]["eval_ms"].as_u64().is_some());
    assert!(s["daemon"]["pid"].as_u64().unwrap() > 0);
    std::fs::write(p.join("nix/foo.nix"), "\"changed\"\n").unwrap();
    assert_eq!(status(&w)["cache"], "stale");
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    for needle in ["project", "shell.nix", "allowed", "stale", "daemon", "pid"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn exec_runs_in_the_project_environment() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("exec");
    let refused = w
        .dwell(&w.dir, &["exec", p.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("dwell allow"));
    w.allow(&p);
    let out = w.ok(
        &w.dir,
        &[
            "exec",
            p.to_str().unwrap(),
            "--",
            "bash",
            "-c",
            "echo \"$FOO\"; hello",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "bar\nhello from the stand-in nixpkgs\n"
    );
    // Without `--`, in the project: the whole line is the command, its own
    // options and a `--` of its own included.
    let out = w.ok(
        &p,
        &["exec", "bash", "-c", "echo \"$FOO $*\"", "x", "--", "-y"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bar -- -y\n");
    let out = w.ok(&p, &["exec", "--", "hello"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the stand-in nixpkgs\n"
    );
}

#[test]
fn deny_silences_a_project() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("denied");
    w.ok(&p, &["deny"]);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.last_stderr, "");
    assert_eq!(sh.get("FOO"), None);
    assert_eq!(w.evaluations("denied"), 0);
}

#[test]
fn allow_names_each_file_it_trusted_once() {
    let w = World::new();
    let p = w.shell_nix("named");
    let out = w.ok(&p, &["allow"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.ends_with("named (shell.nix)\n"), "{said}");
    w.write(&p, &[(".dwell.toml", "[env]\nX = \"1\"\n")]);
    let out = w.ok(&p, &["allow"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.ends_with("named (shell.nix, .dwell.toml)\n"), "{said}");
    let f = w.flake("flaky");
    let out = w.ok(&f, &["allow"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.ends_with("flaky (flake: flake.nix)\n"), "{said}");
    // What a venv sync would install from is named with the project.
    w.write(&p, &[("requirements.txt", "tinypkg==1.0\n")]);
    let out = w.ok(&p, &["allow"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.ends_with("named (shell.nix, .dwell.toml; venv from requirements.txt)\n"),
        "{said}"
    );
}

#[test]
fn editing_an_allowed_entry_file_asks_again_and_says_what_changed() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("trust");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    let text = std::fs::read_to_string(p.join("shell.nix")).unwrap();
    std::fs::write(
        p.join("shell.nix"),
        text.replace("HOOKED=yes", "HOOKED=evil"),
    )
    .unwrap();
    sh.prompt(&p);
    assert!(
        sh.last_stderr
            .contains("shell.nix changed since you allowed it"),
        "{}",
        sh.last_stderr
    );
    // The environment allowed stays until the user allows or leaves; the new
    // bytes are not run.
    sh.said("keeping the environment you allowed");
    assert_eq!(sh.get("HOOKED").as_deref(), Some("yes"));
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(w.evaluations("trust"), 1);
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("changed"),
        "said once: {}",
        sh.last_stderr
    );
    // A shell that enters now, and this one after leaving, get nothing.
    let mut other = SimShell::new(&w);
    other.prompt(&p);
    other.said("changed since you allowed it; review with `dwell status`");
    assert_eq!(other.get("FOO"), None);
    sh.prompt(&w.dir);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO"), None, "unloaded after leaving");
    assert_eq!(w.evaluations("trust"), 1);
    w.allow(&p);
    sh.prompt(&p);
    assert_eq!(sh.get("HOOKED").as_deref(), Some("evil"));
}

#[test]
fn broken_nix_keeps_last_good_env_and_tells_once() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("broken");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    std::fs::write(p.join("nix/foo.nix"), "\"unterminated\n").unwrap();
    sh.prompt(&p);
    sh.said("keeping the last good environment");
    sh.said("error:");
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "last good env kept");
    let errors = sh.last_stderr.matches("evaluation failed").count();
    assert_eq!(errors, 1, "{}", sh.last_stderr);
    sh.prompt(&p);
    assert!(
        !sh.last_stderr.contains("evaluation failed"),
        "shown once: {}",
        sh.last_stderr
    );
    // Fixing the file recovers without a command.
    std::fs::write(p.join("nix/foo.nix"), "\"fixed\"\n").unwrap();
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("fixed"));
}

#[test]
fn a_flake_error_names_the_file_the_user_edits() {
    need!("nix");
    let w = World::new();
    let p = w.flake("flakebroken");
    w.allow(&p);
    std::fs::write(p.join("nix/value.nix"), "1 + \"x\"\n").unwrap();
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("evaluation failed");
    sh.said(&format!("{}/nix/value.nix", p.display()));
    assert!(
        !sh.last_stderr.contains("-source/nix/value.nix"),
        "the store copy is not named: {}",
        sh.last_stderr
    );
}

#[test]
fn syntax_error_on_first_entry_is_one_clear_line_and_no_env() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "syntax",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {\n",
        )],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();
    sh.prompt(&p);
    sh.said("evaluation failed");
    sh.said("syntax error");
    sh.env.remove("DWELL_STATE");
    assert_eq!(sh.env, before);
}

#[test]
fn flake_without_devshell_for_this_system_says_so() {
    need!("nix");
    let w = World::new();
    let p = w.project("nodev", &[("flake.nix", "{ outputs = { self }: { }; }\n")]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("devShells");
}

#[test]
fn missing_nix_is_a_clear_error() {
    need!("nix");
    let mut w = World::new();
    let p = w.allowed_shell_nix("nonix");
    w.env
        .insert("PATH".into(), "/usr/bin/nonexistent:/bin-none".into());
    // The dwell binary itself is found by absolute path; bash and env are not needed.
    let out = w
        .dwell(&p, &["export", "json", "--no-daemon"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("nix was not found"), "{stderr}");
}

#[test]
fn hostile_values_arrive_byte_exact() {
    need!("nix");
    let w = World::new();
    // shellHook produces values no Nix string literal could: quotes, $(), backticks,
    // newlines, backslashes, invalid UTF-8.
    let p = w.project(
        "hostile",
        &[(
            "shell.nix",
            r#"{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {
  QUOTES = "it's \"quoted\" $(touch /tmp/dwell-pwned) `id`";
  shellHook = ''
    export NEWLINES=$'line1\nline2\n\ttab\\back'
    export BYTES=$'\xff\xfe caf\xc3\xa9'
  '';
}
"#,
        )],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        sh.get("QUOTES").as_deref(),
        Some("it's \"quoted\" $(touch /tmp/dwell-pwned) `id`")
    );
    assert_eq!(
        sh.get("NEWLINES").as_deref(),
        Some("line1\nline2\n\ttab\\back")
    );
    // JSON (direnv's format) carries text only: a value that is not UTF-8 is
    // skipped there, with a warning; the shells get it byte-exact.
    assert!(!sh.env.contains_key("BYTES"));
    sh.said("skipped variable \"BYTES\": its value is not UTF-8");
    let out = run_ok(
        w.command("bash")
            .args(["--noprofile", "--norc", "-c"])
            .arg(format!(
                "eval \"$('{DWELL}' export bash)\"; printf %s \"$BYTES\""
            ))
            .current_dir(&p),
    );
    assert_eq!(out.stdout, b"\xff\xfe caf\xc3\xa9");
    assert!(!Path::new("/tmp/dwell-pwned").exists());
}

#[test]
fn shells_with_different_nix_settings_never_share_an_entry() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "settings",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { UNFREE = builtins.getEnv \"NIXPKGS_ALLOW_UNFREE\"; }\n",
        )],
    );
    w.allow(&p);
    let mut plain = SimShell::new(&w);
    plain.prompt(&p);
    let mut unfree = SimShell::new(&w);
    unfree.env.insert("NIXPKGS_ALLOW_UNFREE".into(), "1".into());
    let out = unfree.prompt(&p).clone();
    assert_eq!(
        out["freshness"], "evaluated",
        "a different setting is a different entry"
    );
    assert_eq!(unfree.get("UNFREE").as_deref(), Some("1"));
    assert_eq!(plain.get("UNFREE").as_deref(), Some(""));
    let mut plain_again = SimShell::new(&w);
    assert_eq!(plain_again.prompt(&p)["freshness"], "cached");
    assert_eq!(plain_again.get("UNFREE").as_deref(), Some(""));
}

#[test]
fn dwell_toml_extra_variables_and_watch_files() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("toml");
    w.write(
        &p,
        &[
            (
                ".dwell.toml",
                "watch = [\"requirements.txt\"]\n[env]\nEXTRA = \"from toml\"\n\"bad-name\" = \"x\"\n",
            ),
            ("requirements.txt", "requests\n"),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("EXTRA").as_deref(), Some("from toml"));
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    sh.said("skipped variable \"bad-name\"");
    assert_eq!(sh.env.get("bad-name"), None);
    std::fs::write(p.join("requirements.txt"), "requests\nnumpy\n").unwrap();
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "evaluated", "a watched file is an input");
    assert_eq!(w.evaluations("toml"), 2);
}

#[test]
fn broken_dwell_toml_is_one_clear_line() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("badtoml");
    w.write(&p, &[(".dwell.toml", "watch = [unclosed\n")]);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said(".dwell.toml is not valid");
    assert_eq!(sh.last_stderr.lines().count(), 1, "{}", sh.last_stderr);
}

#[test]
fn a_directory_removed_under_the_shell_unloads_cleanly() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("vanish");
    let mut sh = SimShell::new(&w);
    let before = sh.env.clone();
    sh.prompt(&p);
    let sub = p.join("gone");
    std::fs::create_dir(&sub).unwrap();
    // The shell sits in a directory that is then deleted.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "cd \"$1\" && rmdir \"$1\" && exec \"$2\" export json",
            "-",
        ])
        .arg(&sub)
        .arg(DWELL)
        .env_clear()
        .envs(&sh.env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = if out.stdout.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (name, value) in json.as_object().unwrap() {
        match value {
            serde_json::Value::Null => sh.env.remove(name),
            v => sh.env.insert(name.clone(), json_value(v)),
        };
    }
    assert_eq!(sh.env, before);
}

#[test]
fn status_line_can_be_turned_off_but_errors_still_show() {
    need!("nix");
    let w = World::new();
    w.write(
        &w.home.join(".config/dwell"),
        &[("config.toml", "status_line = false\n")],
    );
    let p = w.allowed_shell_nix("quiet");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(sh.last_stderr, "");
    std::fs::write(p.join("nix/foo.nix"), "\"broken\n").unwrap();
    sh.prompt(&p);
    sh.said("evaluation failed");
}

#[test]
fn status_shows_what_changed_since_allow_and_hook_functions() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "hooky",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {\n  shellHook = ''\n    export READY=1\n    greet() { echo hi; }\n    alias ll='ls -l'\n  '';\n}\n",
        )],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("READY").as_deref(), Some("1"));
    let status: serde_json::Value =
        serde_json::from_slice(&w.ok(&p, &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        status["hook_definitions"],
        serde_json::json!(["function greet", "alias ll"])
    );
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    assert!(text.contains("defines function greet, alias ll"), "{text}");

    let shell = std::fs::read_to_string(p.join("shell.nix")).unwrap();
    std::fs::write(p.join("shell.nix"), shell.replace("READY=1", "READY=2")).unwrap();
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    assert!(text.contains("shell.nix since you allowed it"), "{text}");
    assert!(text.contains("-     export READY=1"), "{text}");
    assert!(text.contains("+     export READY=2"), "{text}");
}

#[test]
fn reload_evaluates_again_even_when_the_cache_is_valid() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("reload");
    SimShell::new(&w).prompt(&p);
    assert_eq!(w.evaluations("reload"), 1);
    let out = w.ok(&p, &["reload"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("reloaded"));
    assert_eq!(w.evaluations("reload"), 2);
}

#[test]
fn cached_entries_start_no_nix_process_even_for_a_fresh_daemon() {
    need!("nix");
    let mut w = World::new();
    // A `nix` first on PATH that logs every call, then runs the real one.
    let real = require("nix").unwrap();
    let bin = w.dir.join("logged-bin");
    let log = w.dir.join("nix-calls.log");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["nix", "nix-store"] {
        let target = real.with_file_name(tool);
        std::fs::write(
            bin.join(tool),
            format!(
                "#!/bin/bash\necho \"{tool} $*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                target.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            bin.join(tool),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let path = format!("{}:{}", bin.display(), w.env["PATH"].to_string_lossy());
    w.env.insert("PATH".into(), path.into());
    let calls = || {
        std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let p = w.allowed_shell_nix("nonix");
    SimShell::new(&w).prompt(&p);
    assert!(calls() >= 1, "the first entry evaluates with nix");
    let after_first = calls();
    let mut second = SimShell::new(&w);
    assert_eq!(second.prompt(&p)["freshness"], "cached");
    w.stop();
    let mut third = SimShell::new(&w);
    assert_eq!(third.prompt(&p)["freshness"], "cached");
    assert_eq!(third.get("FOO").as_deref(), Some("bar"));
    assert_eq!(
        calls(),
        after_first,
        "no nix process for cached entries: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// As an unprivileged user (root reads everything): a directory whose parent lost
/// its permissions gives one clear line, and the loaded environment is kept... or
/// left cleanly; the shell goes on.
#[test]
fn an_unreadable_directory_is_one_clear_line() {
    let Some(setpriv) = require("setpriv") else {
        return;
    };
    if rustix::process::getuid().as_raw() != 0 {
        return; // needs root to become another user; as a user, perms already apply
    }
    let w = World::new();
    let base = w.dir.join("nobody");
    let project = base.join("proj/sub");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(base.join("proj/.dwell.toml"), "[env]\nX = \"1\"\n").unwrap();
    let home = base.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for dir in [&w.dir, &base] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    run_ok(Command::new("chown").args(["-R", "65534:65534"]).arg(&base));
    // The shell is in proj/sub; then proj loses every permission.
    let script = format!(
        "cd '{}' && chmod 000 '{}' && exec '{DWELL}' export json --no-daemon",
        project.display(),
        base.join("proj").display()
    );
    let out = Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
            &script,
        ])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", "/usr/bin:/bin")
        .env("XDG_RUNTIME_DIR", base.join("run"))
        .output()
        .unwrap();
    let _ = Command::new("chmod")
        .arg("755")
        .arg(base.join("proj"))
        .status();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Permission denied") || stderr.contains("permission denied"),
        "{stderr}"
    );
}

/// Regression: the file named by `.dwell.toml`'s `file =` was evaluated without
/// being part of what `dwell allow` trusted.
#[test]
fn the_entry_file_named_in_dwell_toml_is_trusted_content() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "custom",
        &[
            (".dwell.toml", "file = \"nix/dev.nix\"\n"),
            (
                "nix/dev.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { V = \"1\"; }\n",
            ),
        ],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("1"));
    let marker = w.dir.join("hook-ran");
    std::fs::write(
        p.join("nix/dev.nix"),
        format!(
            "{{ pkgs ? import <nixpkgs> {{}} }}: pkgs.mkShell {{ V = \"2\"; shellHook = \"touch {}\"; }}\n",
            marker.display()
        ),
    )
    .unwrap();
    sh.prompt(&p);
    sh.said("nix/dev.nix changed since you allowed it");
    // What was allowed stays loaded; the edit is not served.
    assert_eq!(sh.get("V").as_deref(), Some("1"));
    assert!(!marker.exists(), "nothing runs before a new allow");
}

#[test]
fn dwell_toml_attr_picks_the_shell_of_a_file_or_a_flake() {
    need!("nix");
    let w = World::new();
    let file = w.project(
        "attrfile",
        &[
            (
                "default.nix",
                "{ pkgs ? import <nixpkgs> {} }: { shells.dev = pkgs.mkShell { WHICH = \"dev\"; }; package = pkgs.hello; }\n",
            ),
            (".dwell.toml", "attr = \"shells.dev\"\n"),
        ],
    );
    w.allow(&file);
    let mut sh = SimShell::new(&w);
    sh.prompt(&file);
    assert_eq!(
        sh.get("WHICH").as_deref(),
        Some("dev"),
        "{}",
        sh.last_stderr
    );

    let count = w.count_file("attrflake");
    let flake = w.project(
        "attrflake",
        &[
            (
                "flake.nix",
                &format!(
                    "{{ inputs.nixpkgs.url = \"path:{}\"; outputs = {{ self, nixpkgs }}: let pkgs = nixpkgs.legacyPackages.{sys}; in {{ devShells.{sys} = {{ default = pkgs.mkShell {{ WHICH = \"default\"; }}; api = pkgs.mkShell {{ WHICH = \"api\"; shellHook = \"echo x >> {}\"; }}; }}; }}; }}\n",
                    fixture_nixpkgs().display(),
                    count.display(),
                    sys = system()
                ),
            ),
            (".dwell.toml", &format!("attr = \"devShells.{}.api\"\n", system())),
        ],
    );
    w.allow(&flake);
    sh.prompt(&flake);
    assert_eq!(
        sh.get("WHICH").as_deref(),
        Some("api"),
        "{}",
        sh.last_stderr
    );
}

#[test]
fn venv_enable_false_turns_the_layer_off() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("novenv");
    w.venv(&p);
    w.write(&p, &[(".dwell.toml", "[venv]\nenable = false\n")]);
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    assert_eq!(sh.get("VIRTUAL_ENV"), None);
    assert!(!sh.path()[0].ends_with(".venv/bin"));
}

/// Variables a shell manages itself are never emitted for it: zsh's `path` is
/// PATH's array, fish's `status` is read-only, bash's `UID` too.
#[test]
fn each_shell_skips_the_variables_it_manages_itself() {
    need!("nix");
    let w = World::new();
    let p = w.project(
        "reserved",
        &[(
            ".dwell.toml",
            "[env]\npath = \"/x\"\nstatus = \"1\"\nUID = \"7\"\nKEPT = \"yes\"\n",
        )],
    );
    w.allow(&p);
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("zsh", &["path", "status", "UID"], &[]),
        ("fish", &["status"], &["path", "UID"]),
        ("bash", &["UID"], &["path", "status"]),
    ];
    for (shell, skipped, emitted) in cases {
        let out = w.ok(&p, &["export", shell]);
        let code = String::from_utf8_lossy(&out.stdout);
        let said = String::from_utf8_lossy(&out.stderr);
        let names: Vec<&str> = code
            .lines()
            .filter_map(|l| {
                let l = l
                    .strip_prefix("export ")
                    .or_else(|| l.strip_prefix("set -gx -- "))?;
                l.split(['=', ' ']).next()
            })
            .collect();
        for name in skipped {
            assert!(
                said.contains(&format!("skipped variable \"{name}\"")),
                "{shell}: {said}"
            );
            assert!(!names.contains(name), "{shell}: {name} emitted: {code}");
        }
        for name in emitted.iter().chain(&["KEPT"]) {
            assert!(names.contains(name), "{shell}: {name} missing from {code}");
        }
    }
}

/// The quick start's `trusted = ["~/src"]`: `~` is the user's home, and a
/// project under it needs no `dwell allow`.
#[test]
fn a_trusted_prefix_under_the_home_directory_needs_no_allow() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("home/src/mine");
    assert!(p.starts_with(&w.home));
    w.set_user_config("trusted = [\"~/src\"]\n");
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
}

#[test]
fn the_system_wide_config_applies_under_the_users_own() {
    need!("nix");
    let w = World::new();
    let p = w.shell_nix("system-trusted");
    // What the NixOS module writes, for every user.
    w.write(
        &w.dir.join("etc-xdg/dwell"),
        &[(
            "config.toml",
            &format!("trusted = [\"{}\"]\nstatus_line = false\n", w.dir.display()),
        )],
    );
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
    assert!(
        !sh.last_stderr.contains("shell.nix ·"),
        "status_line = false applies"
    );
    // The user's own key wins.
    w.set_user_config("status_line = true\n");
    sh.prompt(&w.dir);
    sh.prompt(&p);
    sh.said("shell.nix · cached");
}

#[test]
fn leaving_for_a_directory_whose_dwell_toml_is_broken_unloads_the_project() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("api");
    let broken = w.project("broken", &[(".dwell.toml", "this is [not toml\n")]);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"));
    sh.prompt(&broken);
    assert_eq!(sh.get("FOO"), None, "{}", sh.last_stderr);
    sh.said("unloaded");
    sh.said(".dwell.toml is not valid");
    // The loaded project's own .dwell.toml breaking keeps it loaded.
    sh.prompt(&p);
    w.write(&p, &[(".dwell.toml", "this is [not toml\n")]);
    sh.prompt(&p);
    assert_eq!(sh.get("FOO").as_deref(), Some("bar"), "{}", sh.last_stderr);
}
