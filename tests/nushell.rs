//! The Nushell hook in a real `nu`: its hook function run as the prompt runs it
//! (`pre_prompt` and `env_change.PWD` call `__dwell_hook`), in one script, with
//! the environment the shell ends up with printed as JSON and compared.

use crate::util::*;
use std::path::{Path, PathBuf};

/// The hook for `exe`, written to a file the script sources (Nushell sources
/// files at parse time, as its users do with `dwell hook nu | save`).
fn hook_file(w: &World, exe: &Path) -> PathBuf {
    let file = w.dir.join(format!("dwell-{}.nu", crate::shells::unique()));
    let code = dwell::hook(dwell::cli::HookShell::Nu, exe);
    std::fs::write(&file, code).unwrap();
    file
}

/// Runs `script` in `nu` after sourcing the hook; returns stdout, stderr.
fn nu(w: &World, hook: &Path, script: &str) -> (String, String) {
    let all = format!("source '{}'\n{script}\n", hook.display());
    let out = w
        .command("nu")
        .args(["--no-config-file", "-c", &all])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}\n{stdout}");
    (stdout, stderr)
}

/// `$env.NAME` as JSON (null when unset), one per line, prefixed with `tag`.
fn show(tag: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("print $\"{tag} {n} (($env | get -o {n}) | to json -r)\"\n"))
        .collect()
}

fn value(out: &str, tag: &str, name: &str) -> serde_json::Value {
    let prefix = format!("{tag} {name} ");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {out}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn nushell_enters_and_leaves_a_project_and_idles_without_a_process() {
    need!("nix", "nu");
    let w = World::new();
    let p = w.allowed_shell_nix("nuproj");
    let (wrapper, log) = crate::shells::counting_wrapper(&w);
    let hook = hook_file(&w, &wrapper);
    let script = format!(
        "{before}cd '{p}'\n__dwell_hook\n{inside}__dwell_hook\n{idle}__dwell_hook\n__dwell_hook\n__dwell_hook\n{idle}cd '{out}'\n__dwell_hook\n{after}",
        before = show("before", &["FOO", "PATH", "PYTHONPATH"]),
        p = p.display(),
        inside = show("inside", &["FOO", "HOOKED", "PATH", "PYTHONPATH"]),
        idle = "print $\"calls (open --raw '".to_string()
            + &log.display().to_string()
            + "' | lines | length)\"\n",
        out = w.dir.display(),
        after = show("after", &["FOO", "HOOKED", "PATH", "PYTHONPATH"]),
    );
    let (out, err) = nu(&w, &hook, &script);
    assert_eq!(value(&out, "inside", "FOO"), "bar", "{err}");
    assert_eq!(value(&out, "inside", "HOOKED"), "yes");
    assert_eq!(value(&out, "inside", "PYTHONPATH"), "/nix-python-path");
    // PATH is a list in Nushell, the project's bin first.
    let path = value(&out, "inside", "PATH");
    let first = path[0].as_str().unwrap_or_else(|| panic!("a list: {path}"));
    assert!(first.ends_with("-hello/bin"), "{path}");
    // The prompt after entering learns the counter (as in every shell); from
    // then on, prompts with nothing changed start no process.
    let calls: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("calls "))
        .collect();
    assert_eq!(calls, ["2", "2"], "{out}");
    // Leaving puts back exactly what was there.
    for name in ["FOO", "PATH", "PYTHONPATH"] {
        assert_eq!(
            value(&out, "after", name),
            value(&out, "before", name),
            "{name}"
        );
    }
    assert_eq!(value(&out, "after", "HOOKED"), serde_json::Value::Null);
    assert!(err.contains("nuproj"), "the status line: {err}");
}

#[test]
fn nushell_takes_hostile_values_exactly_and_runs_none() {
    need!("nix", "nu");
    let w = World::new();
    let p = hostile_project(&w);
    let hook = hook_file(&w, Path::new(DWELL));
    let script = format!(
        "cd '{}'\n__dwell_hook\n{}",
        p.display(),
        show("in", &["Q", "NL", "BIN", "DASH"])
    );
    let (out, err) = nu(&w, &hook, &script);
    let tmp = w.dir.display().to_string();
    assert_eq!(
        value(&out, "in", "Q"),
        format!(
            "a'b\"c $(touch {tmp}/pwned1) `touch {tmp}/pwned2` \\ end; %s {{x}} * (touch pwned3)"
        )
    );
    assert_eq!(value(&out, "in", "NL"), "one\ntwo\r\n");
    assert_eq!(value(&out, "in", "DASH"), "-e");
    // Not UTF-8: a Nushell string cannot hold it; skipped, and said.
    assert_eq!(value(&out, "in", "BIN"), serde_json::Value::Null);
    assert!(err.contains("skipped variable \"BIN\""), "{err}");
    for marker in ["pwned1", "pwned2", "pwned3"] {
        assert!(!w.dir.join(marker).exists() && !p.join(marker).exists());
    }
}

#[test]
fn nushell_never_reads_a_counter_file_that_is_a_link() {
    need!("nu");
    let w = World::new();
    let hook = hook_file(&w, Path::new("/bin/true"));
    let real = w.dir.join("real");
    std::fs::write(&real, "7\n").unwrap();
    let link = w.dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let fifo = w.dir.join("fifo");
    mkfifo(&fifo);
    // With a link or a FIFO as the counter, the hook asks dwell (here `true`,
    // which answers nothing) instead of reading it: it neither hangs nor trusts it.
    for file in [&link, &fifo] {
        let script = format!(
            "$env.__dwell.genfile = '{}'\n__dwell_hook\nprint $\"seen ($env.__dwell.seen | to json -r)\"",
            file.display()
        );
        let (out, _) = nu(&w, &hook, &script);
        assert!(out.contains("seen \"\""), "{}: {out}", file.display());
    }
    let script = format!(
        "$env.__dwell.genfile = '{}'\n__dwell_hook\nprint $\"seen ($env.__dwell.seen | to json -r)\"",
        real.display()
    );
    let (out, _) = nu(&w, &hook, &script);
    assert!(out.contains("seen \"7\\n\""), "own regular file: {out}");
    // A counter file dwell names is taken only if it is this user's own.
    if rustix::process::getuid().is_root() {
        let theirs = w.dir.join("theirs");
        std::fs::write(&theirs, "8\n").unwrap();
        std::os::unix::fs::lchown(&theirs, Some(65534), Some(65534)).unwrap();
        for (file, kept) in [(&theirs, false), (&link, false), (&real, true)] {
            let script = format!(
                "__dwell_apply {{set: {{}}, unset: [], genfile: '{}'}}\nprint $\"genfile ($env.__dwell.genfile)\"",
                file.display()
            );
            let (out, _) = nu(&w, &hook, &script);
            let want = if kept {
                file.display().to_string()
            } else {
                String::new()
            };
            assert!(
                out.contains(&format!("genfile {want}\n")),
                "{}: {out}",
                file.display()
            );
        }
    }
}

#[test]
fn nushell_installs_the_hook_once_however_often_it_is_sourced() {
    need!("nu");
    let w = World::new();
    let hook = hook_file(&w, Path::new(DWELL));
    let script = format!(
        "source '{}'\nprint ($env.config.hooks.pre_prompt | where {{|h| $h == '__dwell_hook'}} | length)\nprint ($env.config.hooks.env_change.PWD | where {{|h| $h == '__dwell_hook'}} | length)",
        hook.display()
    );
    let (out, _) = nu(&w, &hook, &script);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1", "1"], "{out}");
}
