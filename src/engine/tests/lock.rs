//! A project's `dwell.lock` in place of an evaluation: used when its files
//! match, else an evaluation with the line why.

use super::*;

const ENV: &str = "/nix/store/3njfbchkgffs6vi7dad6lqj4y4hm1xz3-nix-shell-env";

/// Writes a lock for the project as its files are now, and allows it.
fn lock(s: &Setup) {
    let hash = |name: &str| {
        let bytes = std::fs::read(s.project.join(name)).unwrap();
        format!("file:{}", blake3::hash(&bytes).to_hex())
    };
    let lock = serde_json::json!({
        "version": 1,
        "system": crate::eval::current_system(),
        "entry": "shell.nix",
        "attr": null,
        "environment": ENV,
        "references": [],
        "inputs": {
            ".dwell.toml": "absent",
            "shell.nix": hash("shell.nix"),
            "value.txt": hash("value.txt"),
        },
    });
    std::fs::write(
        s.project.join("dwell.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();
    allow(s);
}

/// Allows the project as its files are now.
fn allow(s: &Setup) {
    let found = discover(&s.project).unwrap().unwrap();
    s.engine.trust.allow(&found, false).unwrap();
}

fn notes(r: &Resolution) -> String {
    r.env.as_ref().unwrap().notes.join("\n")
}

#[test]
fn a_lock_that_matches_gives_its_environment_without_evaluating() {
    let s = setup();
    lock(&s);
    let r = resolve(&s, Mode::Wait);
    assert_eq!(foo(&r).as_deref(), Some(&ENV[11..]), "{r:?}");
    assert_eq!(calls(&s), 0, "nothing evaluated");
    assert_eq!(s.fake.taken.load(Ordering::SeqCst), 1);
    assert_eq!(notes(&r), "");
    let status = s.engine.status(&s.project, &EvalEnv::new());
    assert!(status.generation.unwrap().from_lock);
    assert!(status.lock.unwrap().starts_with("used"));
}

#[test]
fn an_edited_input_is_evaluated_with_the_line_why() {
    let s = setup();
    lock(&s);
    write(&s.project, "two");
    let r = resolve(&s, Mode::Wait);
    assert_eq!(foo(&r).as_deref(), Some("two"));
    assert_eq!(calls(&s), 1);
    assert_eq!(s.fake.taken.load(Ordering::SeqCst), 0);
    assert_eq!(
        notes(&r),
        "dwell.lock not used (value.txt changed since dwell.lock was written); evaluated"
    );
    let status = s.engine.status(&s.project, &EvalEnv::new());
    assert_eq!(
        status.lock.as_deref(),
        Some("not used: value.txt changed since dwell.lock was written")
    );
}

#[test]
fn an_environment_nix_cannot_substitute_is_evaluated_with_the_line_why() {
    let s = setup();
    lock(&s);
    s.fake.no_substitute.store(true, Ordering::SeqCst);
    let r = resolve(&s, Mode::Wait);
    assert_eq!(foo(&r).as_deref(), Some("one"));
    assert_eq!((calls(&s), s.fake.taken.load(Ordering::SeqCst)), (1, 1));
    assert!(
        notes(&r).contains("Nix could not substitute 3njfbchkgffs6vi7dad6lqj4y4hm1xz3-nix-shell-env: there is no substituter"),
        "{}",
        notes(&r)
    );
}

#[test]
fn a_lock_naming_a_path_outside_the_project_is_not_read() {
    let s = setup();
    lock(&s);
    let path = s.project.join("dwell.lock");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"value.txt\"", "\"../value.txt\"");
    std::fs::write(&path, text).unwrap();
    allow(&s);
    let r = resolve(&s, Mode::Wait);
    assert_eq!(calls(&s), 1);
    assert!(
        notes(&r).contains("an input it cannot check: ../value.txt"),
        "{}",
        notes(&r)
    );
}

#[test]
fn a_lock_that_cannot_be_read_is_evaluated_with_the_line_why() {
    let s = setup();
    std::fs::write(s.project.join("dwell.lock"), "{ not json").unwrap();
    allow(&s);
    let r = resolve(&s, Mode::Wait);
    assert_eq!(foo(&r).as_deref(), Some("one"));
    assert_eq!(calls(&s), 1);
    assert!(
        notes(&r).starts_with("dwell.lock not used (dwell.lock cannot be read: "),
        "{}",
        notes(&r)
    );
}

#[test]
fn a_reload_evaluates_even_with_a_lock_that_matches() {
    let s = setup();
    lock(&s);
    let r = resolve(&s, Mode::Force);
    assert_eq!(foo(&r).as_deref(), Some("one"));
    assert_eq!((calls(&s), s.fake.taken.load(Ordering::SeqCst)), (1, 0));
    assert_eq!(notes(&r), "", "asked for: nothing to warn of");
    let status = s.engine.status(&s.project, &EvalEnv::new());
    assert!(status.lock.unwrap().contains("by `dwell reload`"));
}

#[test]
fn a_shellhook_failing_from_the_lock_is_tried_again_when_a_file_it_names_changes() {
    let s = setup();
    lock(&s);
    s.fake.hook_fails.store(true, Ordering::SeqCst);
    let r = resolve(&s, Mode::Wait);
    assert!(
        r.error.as_deref().unwrap().contains("the hook failed"),
        "{r:?}"
    );
    write(&s.project, "two");
    let r = resolve(&s, Mode::Wait);
    assert_eq!(foo(&r).as_deref(), Some("two"), "{r:?}");
}

#[test]
fn a_lock_without_its_entry_or_leading_outside_is_not_used() {
    let s = setup();
    lock(&s);
    let path = s.project.join("dwell.lock");
    let locked = std::fs::read_to_string(&path).unwrap();
    // A link in the checkout to the root of the filesystem: never walked.
    std::os::unix::fs::symlink("/", s.project.join("up")).unwrap();
    std::fs::write(&path, locked.replace("\"value.txt\"", "\"up\"")).unwrap();
    allow(&s);
    let r = resolve(&s, Mode::Wait);
    assert!(
        notes(&r).contains("names up, which leads outside the project"),
        "{}",
        notes(&r)
    );
    // A hand merge that lost the entry file.
    std::fs::write(&path, locked.replace("\"shell.nix\": ", "\"other.nix\": ")).unwrap();
    allow(&s);
    write(&s.project, "two");
    let r = resolve(&s, Mode::Wait);
    assert!(
        notes(&r).contains("dwell.lock does not list shell.nix"),
        "{}",
        notes(&r)
    );
    assert_eq!(s.fake.taken.load(Ordering::SeqCst), 0);
}

#[test]
fn a_slow_download_from_the_lock_never_holds_a_prompt() {
    let s = setup();
    lock(&s);
    s.fake.delay_ms.store(300, Ordering::SeqCst);
    let now = resolve(&s, Mode::NoWait);
    assert!(now.pending, "{now:?}");
    assert!(wait_for_event(&s, |e| e.starts_with("a new environment for")));
    let later = resolve(&s, Mode::Wait);
    assert_eq!(foo(&later).as_deref(), Some(&ENV[11..]));
    assert_eq!((calls(&s), s.fake.taken.load(Ordering::SeqCst)), (0, 1));
}
