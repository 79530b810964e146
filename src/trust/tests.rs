use super::diff::line_diff;
use super::*;

/// A directory with a shell.nix project at `p`, and a trust store beside it.
fn shell_project() -> (tempfile::TempDir, TrustStore) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("shell.nix"), "{}").unwrap();
    let store = TrustStore::new(&dir.path().join("data"));
    (dir, store)
}

#[test]
fn venv_inputs_once_allowed_stay_allowed_and_a_deny_holds_them_all() {
    let (dir, store) = shell_project();
    let root = dir.path().join("p");
    let project = || crate::project::discover(&root).unwrap().unwrap();
    let inputs = || Inputs::of(&root, &project().config).unwrap();
    let write = |text: &str| std::fs::write(root.join("requirements.txt"), text).unwrap();
    write("a==1\n");
    let one = inputs();
    assert!(!store.venv_allowed(&project(), &one, &[]), "never allowed");
    assert!(store.venv_allowed(&project(), &one, std::slice::from_ref(&root)));
    store.allow(&project(), false).unwrap();
    assert!(store.venv_allowed(&project(), &one, &[]));
    write("a==2\n");
    let two = inputs();
    assert!(
        !store.venv_allowed(&project(), &two, &[]),
        "a new lock asks"
    );
    store.allow(&project(), false).unwrap();
    assert!(store.venv_allowed(&project(), &two, &[]));
    assert!(
        store.venv_allowed(&project(), &one, &[]),
        "the old one stays"
    );
    store.deny(&project()).unwrap();
    assert!(!store.venv_allowed(&project(), &one, &[]));
    // Nothing to install runs nothing.
    std::fs::remove_file(root.join("requirements.txt")).unwrap();
    assert!(store.venv_allowed(&project(), &inputs(), &[]));
}

#[test]
fn diff_shows_changes_with_context() {
    let old = "a\nb\nc\nd\ne\nf\ng\n";
    let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
    let d = line_diff(old, new);
    assert_eq!(d, "  …\n  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n");
    assert_eq!(line_diff("x\n", "x\n"), "");
}

#[test]
fn a_record_from_before_dwell_lock_was_trusted_still_holds_and_a_lock_then_asks() {
    let (dir, store) = shell_project();
    let root = dir.path().join("p");
    let project = || crate::project::discover(&root).unwrap().unwrap();
    store.allow(&project(), false).unwrap();
    // The record as an older dwell wrote it: no `dwell.lock` named.
    let path = store.record_path(&root);
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["files"]
        .as_object_mut()
        .unwrap()
        .remove("dwell.lock");
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    assert_eq!(store.check(&project(), &[]), Trust::Allowed);
    std::fs::write(root.join("dwell.lock"), "{}").unwrap();
    assert_eq!(
        store.check(&project(), &[]),
        Trust::Changed {
            files: vec!["dwell.lock".into()]
        }
    );
    // Written by `dwell lock` for an allowed project, it is accepted; a lock
    // written over one the record does not hold is not.
    std::fs::remove_file(root.join("dwell.lock")).unwrap();
    store
        .accept_written(&project(), "dwell.lock", None, b"{}")
        .unwrap();
    std::fs::write(root.join("dwell.lock"), "{}").unwrap();
    assert_eq!(store.check(&project(), &[]), Trust::Allowed);
    store
        .accept_written(&project(), "dwell.lock", Some(b"{ }"), b"[]")
        .unwrap();
    std::fs::write(root.join("dwell.lock"), "[]").unwrap();
    assert!(matches!(
        store.check(&project(), &[]),
        Trust::Changed { .. }
    ));
}
