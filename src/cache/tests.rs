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
        origin: Default::default(),
    }
}

/// Whether `validate` finds `g` valid (refreshed or not).
fn valid(g: &Generation) -> bool {
    !matches!(validate(g), Validity::Invalid)
}

#[test]
fn content_change_invalidates_and_restoring_it_validates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shell.nix");
    std::fs::write(&file, "a").unwrap();
    let paths: BTreeSet<PathBuf> = [file.clone(), dir.path().join("absent")].into();
    let g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(valid(&g));
    std::fs::write(&file, "b").unwrap();
    assert!(!valid(&g));
    std::fs::write(&file, "a").unwrap();
    assert!(valid(&g), "same content again is valid");
    std::fs::write(dir.path().join("absent"), "now here").unwrap();
    assert!(!valid(&g), "a file that appeared invalidates");
}

#[test]
fn file_changed_during_evaluation_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.nix");
    std::fs::write(&file, "a").unwrap();
    let paths: BTreeSet<PathBuf> = [file].into();
    let g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), i64::MIN, None),
    );
    assert!(!valid(&g));
}

#[test]
fn a_directory_input_covers_its_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("deep")).unwrap();
    std::fs::write(data.join("deep/x"), "one").unwrap();
    std::fs::create_dir_all(data.join(".git")).unwrap();
    let paths: BTreeSet<PathBuf> = [data.clone()].into();
    let g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(valid(&g));
    std::fs::write(data.join(".git/index"), "git noise").unwrap();
    assert!(valid(&g), ".git is not part of it");
    std::fs::write(data.join("deep/x"), "two").unwrap();
    assert!(!valid(&g), "a nested edit invalidates");
    std::fs::write(data.join("deep/x"), "one").unwrap();
    assert!(valid(&g), "the same content again is valid");
    std::fs::write(data.join("new"), "").unwrap();
    assert!(!valid(&g), "a new file invalidates");
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
    let g = generation(
        dir.path(),
        record_inputs(&crate::trace::contents(paths.clone()), now_ns(), None),
    );
    assert!(valid(&g));
}

/// A lookup hands out the generation the cache holds in memory, not a copy
/// (one is made only to refresh stats, and then remembered).
#[test]
fn lookups_share_the_remembered_generation() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path(), crate::config::GENERATIONS);
    let project = tempfile::tempdir().unwrap();
    let file = project.path().join("shell.nix");
    std::fs::write(&file, "x").unwrap();
    // Written well before it was recorded: its stat alone proves it unchanged.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let set_mtime = |t| {
        std::fs::File::options()
            .append(true)
            .open(&file)
            .unwrap()
            .set_modified(t)
            .unwrap()
    };
    set_mtime(past);
    let g = generation(
        project.path(),
        record_inputs(
            &crate::trace::contents(BTreeSet::from([file.clone()])),
            now_ns(),
            None,
        ),
    );
    cache.save(&g).unwrap();
    let first = cache.lookup(project.path(), "ctx").valid.unwrap();
    let second = cache.lookup(project.path(), "ctx").valid.unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    // The same bytes written again: valid, its stats refreshed once.
    set_mtime(std::time::SystemTime::now() - std::time::Duration::from_secs(30));
    let refreshed = cache.lookup(project.path(), "ctx").valid.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first, &refreshed));
    let after = cache.lookup(project.path(), "ctx").valid.unwrap();
    assert!(std::sync::Arc::ptr_eq(&refreshed, &after));
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
