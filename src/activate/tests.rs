use super::*;
use crate::protocol::Kind;
use crate::protocol::{ProjectInfo, Served};

fn resolution(root: &str, trust: Trust, ops: Vec<Op>, key: &str) -> Resolution {
    Resolution {
        project: Some(ProjectInfo {
            root: root.into(),
            kind: Kind::ShellNix,
            trust,
            venv: None,
        }),
        env: Some(Served {
            key: key.into(),
            ops,
            freshness: Freshness::Cached,
            eval_ms: 5,
            notes: Vec::new(),
            hook_output: String::new(),
            venv: None,
            venv_synced: false,
            from_lock: false,
            inputs: Vec::new(),
            marker_mtime: None,
        }),
        error: None,
        pending: false,
        error_root: None,
    }
}

fn base() -> Env {
    [("PATH".to_string(), Value::from("/usr/bin"))].into()
}

fn set(name: &str, v: &str) -> Op {
    Op::Set {
        name: name.into(),
        value: v.into(),
    }
}

#[test]
fn enter_then_leave_restores() {
    let r = resolution("/p", Trust::Allowed, vec![set("FOO", "1")], "k1");
    let inside = plan(&base(), &r, &|_| false).env;
    assert_eq!(inside["FOO"], Value::from("1"));
    let out = plan(&inside, &Resolution::default(), &|_| false);
    assert_eq!(out.env, base());
    assert!(matches!(out.messages[0], Message::Unloaded(_)));
}

#[test]
fn same_key_changes_nothing_and_keeps_user_edits() {
    let r = resolution("/p", Trust::Allowed, vec![set("FOO", "1")], "k1");
    let mut inside = plan(&base(), &r, &|_| false).env;
    inside.insert("FOO".into(), "mine".into());
    let again = plan(&inside, &r, &|_| false);
    assert!(again.changes.is_empty());
    assert!(again.messages.is_empty());
}

#[test]
fn not_allowed_is_told_once() {
    let r = resolution("/p", Trust::NotAllowed, vec![set("FOO", "1")], "k1");
    let first = plan(&base(), &r, &|_| false);
    assert_eq!(first.messages.len(), 1);
    assert!(!first.env.contains_key("FOO"));
    let second = plan(&first.env, &r, &|_| false);
    assert!(second.messages.is_empty());
    assert!(second.changes.is_empty());
}

#[test]
fn leaving_for_a_broken_project_unloads_and_its_own_broken_file_does_not() {
    let ok = resolution("/p", Trust::Allowed, vec![set("FOO", "1")], "k1");
    let inside = plan(&base(), &ok, &|_| false).env;
    let broken = |root: &str| Resolution {
        error: Some("/x/.dwell.toml is not valid".into()),
        error_root: Some(root.into()),
        ..Resolution::default()
    };
    let elsewhere = plan(&inside, &broken("/other"), &|_| false);
    assert!(!elsewhere.env.contains_key("FOO"), "left /p");
    let own = plan(&inside, &broken("/p"), &|_| false);
    assert_eq!(own.env.get("FOO"), Some(&Value::from("1")), "still in /p");
}

#[test]
fn error_without_env_keeps_loaded_project() {
    let ok = resolution("/p", Trust::Allowed, vec![set("FOO", "1")], "k1");
    let inside = plan(&base(), &ok, &|_| false).env;
    let mut broken = ok.clone();
    broken.env = None;
    broken.error = Some("error: syntax error".into());
    let after = plan(&inside, &broken, &|_| false);
    assert_eq!(after.env["FOO"], Value::from("1"));
    assert_eq!(after.messages.len(), 1);
    let again = plan(&after.env, &broken, &|_| false);
    assert!(again.messages.is_empty(), "the error is shown once");
}

#[test]
fn an_unreadable_directory_keeps_the_loaded_project() {
    let r = resolution("/p", Trust::Allowed, vec![set("FOO", "1")], "k1");
    let inside = plan(&base(), &r, &|_| false).env;
    let unknown = Resolution {
        error: Some("cannot read the current directory: Permission denied".into()),
        ..Resolution::default()
    };
    let p = plan(&inside, &unknown, &|_| false);
    assert_eq!(p.env, inside);
    assert!(matches!(p.messages[..], [Message::Error(_)]));
}

#[test]
fn invalid_names_are_skipped_with_a_warning() {
    let r = resolution(
        "/p",
        Trust::Allowed,
        vec![set("a-b", "1"), set("OK", "2")],
        "k",
    );
    let p = plan(&base(), &r, &|_| false);
    assert!(!p.env.contains_key("a-b"));
    assert_eq!(p.env["OK"], Value::from("2"));
    assert!(p.messages.iter().any(|m| matches!(m, Message::Warning(_))));
}
