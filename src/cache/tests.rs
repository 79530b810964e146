use super::generation::*;
use super::inputs::*;
use super::*;
use crate::paths::now_ns;
use crate::protocol::Kind;
use crate::recipe::Recipe;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn generation(root: &Path, inputs: Vec<Input>) -> Generation {
    Generation {
        format: FORMAT,
        key: generation_key("ctx", &inputs),
        root: root.to_path_buf(),
        context: "ctx".into(),
        kind: Kind::ShellNix,
        inputs,
        recipe: Recipe::default(),
        evaluated_at_ms: crate::paths::now_ms(),
        eval_ms: 1,
        recorded_at_ns: now_ns(),
        gc_root: None,
        store_paths: Vec::new(),
        hook: Default::default(),
    }
}

#[test]
fn content_change_invalidates_and_restoring_it_validates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shell.nix");
    std::fs::write(&file, "a").unwrap();
    let paths: BTreeSet<PathBuf> = [file.clone(), dir.path().join("absent")].into();
    let mut g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(validate(&mut g).0);
    std::fs::write(&file, "b").unwrap();
    assert!(!validate(&mut g).0);
    std::fs::write(&file, "a").unwrap();
    assert!(validate(&mut g).0, "same content again is valid");
    std::fs::write(dir.path().join("absent"), "now here").unwrap();
    assert!(!validate(&mut g).0, "a file that appeared invalidates");
}

#[test]
fn file_changed_during_evaluation_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.nix");
    std::fs::write(&file, "a").unwrap();
    let paths: BTreeSet<PathBuf> = [file].into();
    let mut g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), i64::MIN, None),
    );
    assert!(!validate(&mut g).0);
}

#[test]
fn a_directory_input_covers_its_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("deep")).unwrap();
    std::fs::write(data.join("deep/x"), "one").unwrap();
    std::fs::create_dir_all(data.join(".git")).unwrap();
    let paths: BTreeSet<PathBuf> = [data.clone()].into();
    let mut g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(validate(&mut g).0);
    std::fs::write(data.join(".git/index"), "git noise").unwrap();
    assert!(validate(&mut g).0, ".git is not part of it");
    std::fs::write(data.join("deep/x"), "two").unwrap();
    assert!(!validate(&mut g).0, "a nested edit invalidates");
    std::fs::write(data.join("deep/x"), "one").unwrap();
    assert!(validate(&mut g).0, "the same content again is valid");
    std::fs::write(data.join("new"), "").unwrap();
    assert!(!validate(&mut g).0, "a new file invalidates");
}

#[test]
fn a_file_stamped_in_the_future_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.nix");
    std::fs::write(&file, "a").unwrap();
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .append(true)
        .open(&file)
        .unwrap()
        .set_modified(future)
        .unwrap();
    let paths: BTreeSet<PathBuf> = [file].into();
    let mut g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(validate(&mut g).0);
}

#[test]
fn corrupt_files_are_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path(), crate::config::GENERATIONS);
    let root = Path::new("/some/project");
    let g = generation(root, Vec::new());
    cache.save(&g).unwrap();
    let pdir = cache.project_dir(root);
    std::fs::write(pdir.join("bad.json"), "{\"format\": 1, trunc").unwrap();
    let fresh = Cache::new(dir.path(), crate::config::GENERATIONS);
    let found = fresh.lookup(root, "ctx");
    assert_eq!(found.valid.unwrap().key, g.key);
    assert!(!pdir.join("bad.json").exists());
}
