//! Shipping: man pages in sync with the CLI and rendering cleanly, completions that
//! parse in each shell, and `dwell doctor` finding each real problem.

use crate::util::*;
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn man_pages_are_in_sync_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(DWELL)
        .arg("generate-man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let committed = repo().join("man");
    assert_eq!(
        names(dir.path()),
        names(&committed),
        "man/ is stale: run `cargo run -- generate-man man`"
    );
    for name in names(dir.path()) {
        assert_eq!(
            std::fs::read(dir.path().join(&name)).unwrap(),
            std::fs::read(committed.join(&name)).unwrap(),
            "man/{name} is stale: run `cargo run -- generate-man man`"
        );
    }
}

#[test]
fn man_pages_render_without_warnings() {
    let Some(groff) = require("groff") else {
        return;
    };
    for entry in std::fs::read_dir(repo().join("man")).unwrap() {
        let page = entry.unwrap().path();
        let out = Command::new(&groff)
            .args(["-man", "-ww", "-z", "-Tutf8"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", page.display());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "{}",
            page.display()
        );
    }
    if let Some(man) = require("man") {
        let out = Command::new(man)
            .args(["-l"])
            .arg(repo().join("man/dwell.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("dwell-allow(1)") || text.contains("allow"),
            "{text}"
        );
    }
}

#[test]
fn completions_parse_in_each_shell() {
    for (shell, check) in [
        ("bash", vec!["-n"]),
        ("zsh", vec!["-n"]),
        ("fish", vec!["-n"]),
    ] {
        if require(shell).is_none() {
            continue;
        }
        let out = Command::new(DWELL)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in ["allow", "status", "prune", "exec"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        let parsed = Command::new(shell)
            .args(&check)
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            parsed.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&parsed.stderr)
        );
    }
}

fn doctor(w: &World) -> (bool, String) {
    let out = w.dwell(&w.dir, &["doctor"]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn doctor_reports_each_real_problem() {
    need!("nix");
    let mut w = World::new();
    w.env.insert("DWELL_SHELL".into(), "bash".into());
    // The login shell finds dwell (as rustup's ~/.profile line does for cargo's).
    w.env.insert("SHELL".into(), "/bin/sh".into());
    let bin = Path::new(DWELL).parent().unwrap().display().to_string();
    let profile = w.home.join(".profile");
    std::fs::write(&profile, format!("PATH=\"{bin}:$PATH\"\n")).unwrap();
    let p = w.allowed_shell_nix("doc");
    SimShell::new(&w).prompt(&p);
    let (healthy, text) = doctor(&w);
    assert!(healthy, "{text}");
    assert!(text.contains("no problems found"), "{text}");
    assert!(text.contains("daemon: pid"), "{text}");
    assert!(
        text.contains(&format!(
            "login shell: `/bin/sh -l` finds dwell at {bin}/dwell"
        )),
        "{text}"
    );

    // Editors take PATH from the login shell: one that does not find dwell.
    std::fs::remove_file(&profile).unwrap();
    let (ok, text) = doctor(&w);
    assert!(!ok);
    assert!(
        text.contains("PROBLEM  login shell: `/bin/sh -l` does not find dwell"),
        "{text}"
    );
    assert!(
        text.contains(&format!("add {bin} to PATH in ~/.profile")),
        "{text}"
    );
    std::fs::write(&profile, format!("PATH=\"{bin}:$PATH\"\n")).unwrap();

    // The hook is not installed in this shell.
    w.env.remove("DWELL_SHELL");
    let (ok, text) = doctor(&w);
    assert!(!ok);
    assert!(text.contains("PROBLEM  hook: not installed"), "{text}");
    assert!(text.contains("dwell hook bash"), "{text}");
    w.env.insert("DWELL_SHELL".into(), "bash".into());

    // Private dirs opened up.
    use std::os::unix::fs::PermissionsExt;
    let runtime = w.runtime.join("dwell");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = w.home.join(".cache/dwell");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, text) = doctor(&w);
    assert!(!ok);
    assert!(text.contains("PROBLEM  runtime dir"), "{text}");
    assert!(text.contains("PROBLEM  cache dir"), "{text}");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();

    // No nix on PATH.
    let path = w.env["PATH"].clone();
    w.env.insert("PATH".into(), "/nonexistent".into());
    let (ok, text) = doctor(&w);
    assert!(!ok);
    assert!(text.contains("PROBLEM  nix:"), "{text}");
    assert!(text.contains("apt-get install nix-bin"), "{text}");
    w.env.insert("PATH".into(), path);

    assert!(doctor(&w).0, "healthy again");
}

#[test]
fn doctor_spots_a_daemon_of_another_version() {
    need!("nix");
    let mut w = World::new();
    w.env.insert("DWELL_SHELL".into(), "bash".into());
    let dir = w.runtime.join("dwell");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(dir.join("daemon.sock")).unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let _ = stream.write_all(
                b"{\"protocol\":1,\"dwell\":\"0.0.0-old\",\"response\":\"pong\",\"pid\":4242,\"version\":\"0.0.0-old\"}\n",
            );
        }
    });
    let (ok, text) = doctor(&w);
    assert!(!ok);
    assert!(
        text.contains("PROBLEM  daemon: pid 4242 runs dwell 0.0.0-old"),
        "{text}"
    );
    std::fs::remove_file(dir.join("daemon.sock")).unwrap();
}

#[test]
fn doctor_reports_a_low_inotify_limit() {
    need!("nix", "unshare");
    let mut w = World::new();
    w.env.insert("DWELL_SHELL".into(), "bash".into());
    let script = format!("echo 100 > /proc/sys/user/max_inotify_watches && exec '{DWELL}' doctor");
    let out = w
        .command("unshare")
        .args(["--user", "--map-root-user", "bash", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("PROBLEM  inotify: max_user_watches is 100"),
        "{text}"
    );
    assert!(text.contains("fs.inotify.max_user_watches"), "{text}");
}
