use super::*;

#[test]
fn posix_quoting_escapes_everything_active() {
    let v = Value(b"a'b\\c$(x)`y`\n\xff".to_vec());
    assert_eq!(quote_posix(&v), "$'a\\'b\\\\c$(x)`y`\\x0a\\xff'");
}

#[test]
fn fish_quoting_escapes_everything_but_plain_characters() {
    let v = Value(b"a b'$(x)\n\xff".to_vec());
    assert_eq!(quote_fish(&v), "a\\x20b\\x27\\x24\\x28x\\x29\\x0a\\xff");
    assert_eq!(quote_fish(&Value::from("caf\u{e9}")), "caf\\U000000e9");
    assert_eq!(quote_fish(&Value::default()), "''");
}

#[test]
fn names_that_are_not_identifiers_are_never_emitted() {
    let changes = vec![
        ("a;echo x;b".to_string(), Some(Value::from("v"))),
        ("OK".to_string(), None),
    ];
    assert_eq!(render_posix(&changes), "unset OK;\n");
    assert_eq!(render_fish(&changes), "set -e -g OK;\n");
}

#[test]
fn a_plain_path_stays_readable_in_the_fish_hook() {
    let text = hook(HookShell::Fish, Path::new("/tmp/ci-check/target/dwell"));
    assert!(
        text.contains("set -g __dwell_exe /tmp/ci-check/target/dwell\n"),
        "{text}"
    );
}

#[test]
fn hook_substitutes_only_the_exe() {
    let text = hook(HookShell::Bash, Path::new("/opt/my dwell/dwell"));
    assert!(text.contains("__dwell_exe=$'/opt/my dwell/dwell'"));
    assert!(!text.contains(EXE_LINE));
}
