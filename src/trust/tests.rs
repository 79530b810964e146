use super::diff::line_diff;
use super::*;

#[test]
fn venv_inputs_once_allowed_stay_allowed_and_a_deny_holds_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("shell.nix"), "{}").unwrap();
    let store = TrustStore::new(&dir.path().join("data"));
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
