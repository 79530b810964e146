use super::*;

#[test]
fn inputs_are_read_back_as_they_were_written() {
    for (state, read) in [
        ("absent", Some(Read::Content)),
        ("file:ab", Some(Read::Content)),
        ("tree:ab", Some(Read::Content)),
        ("listing:ab", Some(Read::Listing)),
        ("tracked:ab", Some(Read::Tracked)),
        ("socket:ab", None),
    ] {
        assert_eq!(read_of(state), read, "{state}");
    }
    let cleared = FileState::File {
        hash: String::new(),
        size: 0,
        mtime_ns: 0,
        ctime_ns: 0,
        ino: 0,
    };
    assert_eq!(
        encode(&cleared, None),
        None,
        "a file that changed while read"
    );
}

#[test]
fn a_lock_names_nothing_outside_the_project() {
    for rel in ["../etc/passwd", "/etc/passwd", "a/../../b", ""] {
        assert!(!plain_relative(rel), "{rel}");
    }
    assert!(plain_relative("nix/value.nix"));
    assert!(plain_relative("."));
    assert!(!plain_relative("./."));
}

#[test]
fn only_an_env_store_path_is_an_environment() {
    let store = Path::new("/nix/store");
    let hash = "3njfbchkgffs6vi7dad6lqj4y4hm1xz3";
    assert!(environment_path(
        &store.join(format!("{hash}-nix-shell-env")),
        store
    ));
    assert!(!environment_path(
        &store.join(format!("{hash}-hello")),
        store
    ));
    assert!(!environment_path(
        Path::new(&format!("/tmp/store/{hash}-nix-shell-env")),
        store
    ));
    assert!(!environment_path(Path::new("/nix/store/x-env"), store));
}

#[test]
fn a_shell_nix_depending_on_the_machine_is_found_by_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shell.nix");
    for (text, found) in [
        ("{ x = builtins.getEnv \"USER\"; }", true),
        ("{ pkgs ? import <nixpkgs> {} }: pkgs.hello", true),
        ("import <nixpkgs/lib>", true),
        ("# getEnv was used here once\n{ }", false),
        ("{ a = 1 < 2 && 3 > 2; }", false),
        ("{ pkgs ? import ./pinned.nix {} }: pkgs.hello", false),
    ] {
        std::fs::write(&file, text).unwrap();
        assert_eq!(machine_dependent(&file).is_some(), found, "{text}");
    }
}

#[test]
fn a_path_from_nix_path_is_named() {
    let env: EvalEnv = [(
        "NIX_PATH".to_string(),
        crate::protocol::Value::from("nixpkgs=/chan/nixpkgs:other=/o"),
    )]
    .into_iter()
    .collect();
    assert_eq!(
        nix_path_hint(Path::new("/chan/nixpkgs/default.nix"), &env),
        " (<nixpkgs> from NIX_PATH)"
    );
    assert_eq!(nix_path_hint(Path::new("/home/u/x.nix"), &env), "");
}
