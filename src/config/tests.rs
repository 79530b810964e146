use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86400);
    assert_eq!(parse_duration("2w").unwrap().as_secs(), 14 * 86400);
    assert_eq!(parse_duration("0s").unwrap().as_secs(), 0);
    assert_eq!(parse_duration("0").unwrap().as_secs(), 0);
    assert!(parse_duration("30").is_err());
    assert!(parse_duration("d").is_err());
    assert!(parse_duration("3y").is_err());
    assert!(parse_duration("99999999999999999w").is_err());
}

#[test]
fn wait_is_two_seconds_unless_said_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let wait = |text: &str| {
        std::fs::write(&file, text).unwrap();
        Settings::load_layers(&[], &file).map(|s| s.wait)
    };
    let secs = |n| Some(std::time::Duration::from_secs(n));
    assert_eq!(wait("").unwrap(), secs(2));
    assert_eq!(wait("wait = 0\n").unwrap(), secs(0));
    assert_eq!(wait("wait = \"0\"\n").unwrap(), secs(0));
    assert_eq!(wait("wait = 5\n").unwrap(), secs(5));
    assert_eq!(
        wait("wait = \"500ms\"\n").unwrap(),
        Some(std::time::Duration::from_millis(500))
    );
    assert_eq!(wait("wait = \"forever\"\n").unwrap(), None);
    let refused = wait("wait = \"always\"\n").unwrap_err().to_string();
    assert!(refused.contains("wait: \"always\""), "{refused}");
}

#[test]
fn settings_are_checked_once_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "eval_timeout = \"10x\"\n").unwrap();
    let e = Settings::load(&file).unwrap_err().to_string();
    assert!(
        e.contains("eval_timeout") && e.contains("unknown unit"),
        "{e}"
    );
    std::fs::write(&file, "eval_timeout = \"90s\"\nprune_after = \"off\"\n").unwrap();
    let s = Settings::load(&file).unwrap();
    assert_eq!(s.eval_timeout, Some(std::time::Duration::from_secs(90)));
    assert_eq!(s.prune_after, None);
    assert_eq!(
        Settings::default().prune_after.unwrap().as_secs(),
        30 * 86400
    );
    assert_eq!(Settings::default().shellhook_timeout.as_secs(), 30);
    assert_eq!(Settings::default().install_timeout.as_secs(), 900);
    std::fs::write(&file, "install_timeout = \"2m\"\n").unwrap();
    assert_eq!(
        Settings::load(&file).unwrap().install_timeout.as_secs(),
        120
    );
}

#[test]
fn system_files_lie_under_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    let user = dir.path().join("user.toml");
    std::fs::write(&first, "generations = 3\nstatus_line = false\n").unwrap();
    std::fs::write(
        &second,
        "generations = 5\nwatch_projects = 9\nasync = true\n",
    )
    .unwrap();
    std::fs::write(&user, "async = false\n").unwrap();
    let s = Settings::load_layers(&[first.clone(), second.clone()], &user).unwrap();
    assert_eq!(s.generations, 3, "the first system dir wins over the next");
    assert_eq!(s.watch_projects, 9);
    assert!(!s.status_line);
    assert!(!s.background, "the user's key wins");
    std::fs::write(&second, "bogus = 1\n").unwrap();
    assert!(Settings::load_layers(&[second], &user).is_err());
    let absent = dir.path().join("absent.toml");
    assert_eq!(
        Settings::load_layers(&[absent], &user).unwrap().generations,
        8
    );
}
