//! dwell with direnv: `dwell export json` in direnv's own format, and dwell as
//! direnv's Nix backend (`eval "$(dwell direnv)"` in an `.envrc`), driven by the
//! real direnv from a separate process with a clean environment, as editor
//! plugins (VS Code's direnv extension, envrc.el, direnv.vim) run it.

use crate::util::*;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::Output;

fn stdout_json(out: &Output) -> Option<Json> {
    (!out.stdout.is_empty()).then(|| serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn export_json_speaks_direnvs_format() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("fmt");
    let export = |env: &BTreeMap<String, OsString>, dir: &Path| {
        let out = w
            .dwell(dir, &["export", "json"])
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        assert!(out.status.success());
        out
    };
    let mut env = w.env.clone();
    let entered = export(&env, &p);
    let json = stdout_json(&entered).expect("changes on entry");
    // One flat object: name → new value.
    let object = json.as_object().unwrap();
    assert_eq!(object["FOO"], "bar");
    assert!(
        object.values().all(|v| v.is_string() || v.is_null()),
        "{json}"
    );
    assert!(
        !String::from_utf8_lossy(&entered.stderr).is_empty(),
        "messages on stderr"
    );
    for (name, value) in object {
        env.insert(name.clone(), json_value(value));
    }
    // Nothing changes: nothing is printed, not even `{}`.
    let again = export(&env, &p);
    assert!(
        again.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&again.stdout)
    );
    // Leaving: null unsets.
    let left = stdout_json(&export(&env, &w.dir)).unwrap();
    assert_eq!(left["FOO"], Json::Null);
    assert_eq!(left["HOOKED"], Json::Null);
}

/// A world whose PATH starts with the directory of the dwell under test, as an
/// installed dwell is on PATH for direnv's `.envrc`.
fn world_with_dwell_on_path() -> World {
    let mut w = World::new();
    let bin = Path::new(DWELL).parent().unwrap();
    let path = format!("{}:{}", bin.display(), w.env["PATH"].to_string_lossy());
    w.env.insert("PATH".into(), path.into());
    w
}

/// `direnv ARGS` in `dir` with exactly `env`.
fn direnv(w: &World, env: &BTreeMap<String, OsString>, dir: &Path, args: &[&str]) -> Output {
    let out = w
        .command("direnv")
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "direnv {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Gives `p` the one-line `.envrc` and `direnv allow`s it (dwell's own allow is
/// separate).
fn use_dwell_direnv(w: &World, p: &Path) {
    w.write(p, &[(".envrc", "eval \"$(dwell direnv)\"\n")]);
    direnv(w, &w.env, p, &["allow"]);
}

/// The files direnv watches in a shell with environment `shell` (its
/// `DIRENV_WATCHES`, decoded by direnv).
fn watched(w: &World, shell: &BTreeMap<String, OsString>, p: &Path) -> String {
    let dump = shell["DIRENV_WATCHES"].to_string_lossy().into_owned();
    String::from_utf8_lossy(&direnv(w, shell, p, &["show_dump", &dump]).stdout).into_owned()
}

/// Applies direnv's JSON to `env`.
fn apply(env: &mut BTreeMap<String, OsString>, json: &Option<Json>) {
    for (name, value) in json.iter().flat_map(|j| j.as_object().unwrap()) {
        match value {
            Json::Null => env.remove(name),
            v => env.insert(name.clone(), json_value(v)),
        };
    }
}

fn path_of(json: &Json) -> Vec<String> {
    json["PATH"]
        .as_str()
        .unwrap_or("")
        .split(':')
        .map(String::from)
        .collect()
}

/// The guarded `.envrc` of docs/editors.md, run where dwell is not on PATH (an
/// editor whose login shell does not find it): one readable line in direnv's
/// log, and an error the editor shows, never a quiet empty environment.
#[test]
fn an_envrc_where_dwell_is_not_on_path_says_so_in_direnvs_log() {
    need!("nix", "direnv");
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/editors.md"))
            .unwrap();
    let from = docs.find("## An editor that finds no dwell").unwrap();
    let rest = &docs[from..];
    let start = rest.find("```sh\n").unwrap() + 6;
    let envrc = &rest[start..start + rest[start..].find("```").unwrap()];
    assert!(envrc.contains("eval \"$(dwell direnv)\""), "{envrc}");
    // dwell is not on this world's PATH.
    let w = World::new();
    let p = w.allowed_shell_nix("nopath");
    w.write(&p, &[(".envrc", envrc)]);
    direnv(&w, &w.env, &p, &["allow"]);
    let out = w
        .command("direnv")
        .args(["export", "json"])
        .env_clear()
        .envs(&w.env)
        .current_dir(&p)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("dwell is not on the PATH direnv runs with here")
            && said.contains("dwell doctor"),
        "{said}"
    );
    // With dwell on PATH, the same .envrc gives the environment.
    let w2 = world_with_dwell_on_path();
    let q = w2.allowed_shell_nix("onpath");
    w2.write(&q, &[(".envrc", envrc)]);
    direnv(&w2, &w2.env, &q, &["allow"]);
    let json = stdout_json(&direnv(&w2, &w2.env, &q, &["export", "json"])).unwrap();
    assert_eq!(json["FOO"], "bar");
}

#[test]
fn direnv_gets_the_environment_from_dwell_for_every_editor() {
    need!("nix", "direnv");
    let w = world_with_dwell_on_path();
    let p = w.shell_nix("editor");
    let venv = w.venv(&p);
    use_dwell_direnv(&w, &p);

    // direnv's allow covers the .envrc only: dwell's trust still decides.
    let untrusted = direnv(&w, &w.env, &p, &["export", "json"]);
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert!(said.contains("is not allowed yet"), "{said}");
    assert!(stdout_json(&untrusted).is_none_or(|j| j.get("FOO").is_none()));
    assert_eq!(w.evaluations("editor"), 0);

    w.allow(&p);
    // An editor: a separate process, a clean environment, `direnv export json`.
    let first = stdout_json(&direnv(&w, &w.env, &p, &["export", "json"])).unwrap();
    assert_eq!(first["FOO"], "bar", "{first}");
    assert_eq!(first["HOOKED"], "yes");
    assert_eq!(first["VIRTUAL_ENV"], venv.display().to_string());
    let path = path_of(&first);
    assert_eq!(path[0], venv.join("bin").display().to_string(), "{path:?}");
    assert!(path.iter().any(|e| e.ends_with("-hello/bin")), "{path:?}");
    assert!(
        first.get("DWELL_STATE").is_none(),
        "direnv does the undoing"
    );
    assert_eq!(w.evaluations("editor"), 1);

    // A second editor (or shell) is answered from the cache: no evaluation.
    let second = stdout_json(&direnv(&w, &w.env, &p, &["export", "json"])).unwrap();
    assert_eq!(second["FOO"], "bar");
    assert_eq!(w.evaluations("editor"), 1);

    // dwell's own hook stays silent in a project direnv loads through dwell.
    let own = w.ok(&p, &["export", "json"]);
    assert!(
        own.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&own.stdout)
    );

    // direnv watches the inputs dwell traced: a touch re-runs the .envrc, which
    // dwell answers from the cache; an edit brings the new value.
    let mut shell = w.env.clone();
    apply(&mut shell, &Some(first));
    let watches = watched(&w, &shell, &p);
    assert!(watches.contains("foo.nix"), "{watches}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    set_mtime(&p.join("nix/foo.nix"), std::time::SystemTime::now());
    let touched = direnv(&w, &shell, &p, &["export", "json"]);
    let said = String::from_utf8_lossy(&touched.stderr).into_owned();
    assert!(
        said.contains("direnv: loading"),
        "the .envrc ran again: {said}"
    );
    assert_eq!(w.evaluations("editor"), 1, "a touch is not a change");
    apply(&mut shell, &stdout_json(&touched));
    // direnv compares mtimes to the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(p.join("nix/foo.nix"), "\"edited\"\n").unwrap();
    let edited = stdout_json(&direnv(&w, &shell, &p, &["export", "json"])).unwrap();
    assert_eq!(edited["FOO"], "edited");
    assert_eq!(w.evaluations("editor"), 2);
    apply(&mut shell, &Some(edited));

    // Leaving is direnv's: it restores what it set.
    let left = stdout_json(&direnv(&w, &shell, &w.dir, &["export", "json"])).unwrap();
    assert_eq!(left["FOO"], Json::Null);
    assert_eq!(left["VIRTUAL_ENV"], Json::Null);
}

#[test]
fn a_broken_edit_keeps_the_last_good_environment_through_direnv() {
    need!("nix", "direnv");
    let w = world_with_dwell_on_path();
    let p = w.allowed_shell_nix("broken-direnv");
    use_dwell_direnv(&w, &p);
    let mut shell = w.env.clone();
    let first = stdout_json(&direnv(&w, &shell, &p, &["export", "json"]));
    apply(&mut shell, &first);
    // direnv compares mtimes to the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(p.join("nix/foo.nix"), "\"unterminated\n").unwrap();
    let out = direnv(&w, &shell, &p, &["export", "json"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.matches("evaluation failed").count(), 1, "{said}");
    apply(&mut shell, &stdout_json(&out));
    assert_eq!(
        shell
            .get("FOO")
            .map(|v| v.to_string_lossy().into_owned())
            .as_deref(),
        Some("bar")
    );
}

#[test]
fn a_background_evaluation_reaches_direnv_through_the_projects_file() {
    need!("nix", "direnv");
    let w = world_with_dwell_on_path();
    let p = w.allowed_shell_nix("bg-direnv");
    use_dwell_direnv(&w, &p);
    let mut shell = w.env.clone();
    let first = stdout_json(&direnv(&w, &shell, &p, &["export", "json"]));
    apply(&mut shell, &first);
    // Among the files direnv watches: the project's file in dwell's runtime dir.
    let watches = watched(&w, &shell, &p);
    let projects = w.runtime.join("dwell/projects");
    let marker = std::fs::read_dir(&projects)
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .expect("a project file");
    assert!(watches.contains(&marker.display().to_string()), "{watches}");
    let mtime = || std::fs::metadata(&marker).unwrap().modified().unwrap();
    let before = mtime();
    // An edit: the daemon re-evaluates in the background and touches the file,
    // so direnv reloads at the next prompt even if nothing else changed for it.
    // direnv compares mtimes to the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(p.join("nix/foo.nix"), "\"background\"\n").unwrap();
    assert!(
        wait_for(20, || mtime() > before),
        "the project's file was not touched"
    );
    assert_eq!(w.evaluations("bg-direnv"), 2);
    let reloaded = stdout_json(&direnv(&w, &shell, &p, &["export", "json"])).unwrap();
    assert_eq!(reloaded["FOO"], "background");
    assert_eq!(w.evaluations("bg-direnv"), 2, "answered from the cache");
}

/// direnv compares modification times to the second. Edits made within the
/// second the shell last loaded — the machine loaded, with a busy thread per
/// core and one more — still reach the direnv shell at its next prompt: the
/// daemon moves the project's marker to a later second when the new
/// environment lands, and dwell recorded the marker as it was before the answer.
#[test]
fn an_edit_within_the_same_second_reaches_a_direnv_shell_under_load() {
    need!("nix", "direnv");
    let w = world_with_dwell_on_path();
    let p = w.allowed_shell_nix("same-second");
    use_dwell_direnv(&w, &p);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let load: Vec<_> = (0..=cores)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let mut shell = w.env.clone();
    let first = stdout_json(&direnv(&w, &shell, &p, &["export", "json"]));
    apply(&mut shell, &first);
    for round in 1..=3 {
        // At once, no pause: within the second of the last load.
        std::fs::write(p.join("nix/foo.nix"), format!("\"round{round}\"\n")).unwrap();
        assert!(
            wait_for(60, || w.evaluations("same-second") > round
                && w.status_json(&p)["cache"] == "fresh"),
            "round {round}: the edit was not evaluated"
        );
        let next = direnv(&w, &shell, &p, &["export", "json"]);
        let said = String::from_utf8_lossy(&next.stderr).into_owned();
        apply(&mut shell, &stdout_json(&next));
        assert_eq!(
            shell.get("FOO").map(|v| v.to_string_lossy().into_owned()),
            Some(format!("round{round}")),
            "round {round}: {said}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in load {
        thread.join().unwrap();
    }
}
