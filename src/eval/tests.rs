use super::*;

#[test]
fn error_tail_starts_at_error() {
    let log = "evaluating file '/x'\nerror: syntax error, unexpected '}'\n\n       at /p/shell.nix:3:1:\n(use '--show-trace' to show detailed location information)\n";
    assert_eq!(
        error_tail(log),
        "error: syntax error, unexpected '}'\n\n       at /p/shell.nix:3:1:"
    );
}

#[test]
fn the_hook_line_is_found_in_both_nix_versions() {
    assert_eq!(
        without_hook_line(b"export A=1\neval \"$shellHook\"\n\n"),
        Some(&b"export A=1\n"[..])
    );
    assert_eq!(
        without_hook_line(b"export A=1\neval \"${shellHook:-}\"\n"),
        Some(&b"export A=1\n"[..])
    );
    assert_eq!(without_hook_line(b"export A=1\n"), None);
}

#[test]
fn env_dump_keeps_any_bytes() {
    let env = parse_env_dump(b"A=1\0B=x=y\nz\0\xff=skip\0C=\xfe\0");
    assert_eq!(env["A"], Value::from("1"));
    assert_eq!(env["B"], Value::from("x=y\nz"));
    assert_eq!(env["C"], Value(vec![0xfe]));
    assert_eq!(env.len(), 3);
}

#[test]
fn an_untrusted_signature_is_said_as_such_in_both_nix_versions() {
    let required = "error: path '/nix/store/x-env' is required, but there is no substituter that can build it\n";
    for warning in [
        // Nix 2.8
        "warning: the substitute for '/nix/store/x-env' from 'file:///c' is not signed by any of the keys in 'trusted-public-keys'\n",
        // Nix 2.26
        "warning: ignoring substitute for '/nix/store/x-env' from 'file:///c', as it's not signed by any of the keys in 'trusted-public-keys'\n",
    ] {
        assert_eq!(
            substitution_failure(&format!("{warning}{required}")),
            "the binary cache's signature is not among the trusted-public-keys"
        );
    }
    assert_eq!(
        substitution_failure(required),
        "path '/nix/store/x-env' is required, but there is no substituter that can build it"
    );
}
