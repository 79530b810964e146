//! Property tests of the emitted shell code: random values of any bytes but NUL and
//! random names, set by the code dwell emits for each shell, read back byte-exact
//! from the real shell's environment, with nothing executed on the way.

use crate::shells::{Sh, read_dump};
use crate::util::require;
use dwell::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

/// Cases per shell (each run is one shell process evaluating all of them).
const CASES: usize = 400;

/// xorshift64*: small, seedable, good enough to spread bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seed() -> u64 {
    std::env::var("DWELL_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// A value: mostly shell-active characters, some arbitrary bytes, some UTF-8.
fn value(rng: &mut Rng) -> Vec<u8> {
    const ACTIVE: &[u8] = b"'\"$`\\!*?[]{}()<>|&;#~%^ \t\n\r=:,-";
    let len = rng.below(24);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match rng.below(4) {
            0 => out.push(ACTIVE[rng.below(ACTIVE.len())]),
            1 => out.push(1 + rng.below(255) as u8),
            2 => out.extend(
                "é→€😀\u{200b}"
                    .chars()
                    .nth(rng.below(5))
                    .unwrap()
                    .to_string()
                    .bytes(),
            ),
            _ => out.push(b'a' + rng.below(26) as u8),
        }
    }
    out
}

/// A name: a valid identifier, prefixed so it never hits the shell's own variables.
fn name(rng: &mut Rng, i: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
    let mut n = format!("DWT{i}_");
    for _ in 0..rng.below(8) {
        n.push(CHARS[rng.below(CHARS.len())] as char);
    }
    n
}

/// Values written to break out of quoting; each would create `marker` if executed.
fn hostile(marker: &str) -> Vec<Vec<u8>> {
    [
        format!("$(touch {marker})"),
        format!("`touch {marker}`"),
        format!("'; touch {marker}; '"),
        format!("\"; touch {marker}; \""),
        format!("$'\\'; touch {marker}; '"),
        format!("\\'; touch {marker} #"),
        format!("(touch {marker})"),
        format!("\n touch {marker}\n"),
        format!("x\\\ntouch {marker}"),
        format!("{{touch,{marker}}}"),
        format!("%(touch {marker})"),
        "-e".into(),
        "--".into(),
        "".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .chain([
        b"\xff\xfe".to_vec(),
        b"\xc3(".to_vec(),
        vec![0x7f, 0x1b, b'[', b'2', b'J'],
    ])
    .collect()
}

fn run(sh: Sh, code: &str, dir: &std::path::Path) -> BTreeMap<String, OsString> {
    let code_file = dir.join(format!("code-{}", sh.name()));
    let dump = dir.join(format!("dump-{}", sh.name()));
    std::fs::write(&code_file, code).unwrap();
    let mut cmd = Command::new(require(sh.name()).expect("checked by the caller"));
    match sh {
        // As the hooks do: eval the captured output of `dwell export`.
        Sh::Bash => cmd.args([
            "--noprofile",
            "--norc",
            "-c",
            "eval \"$(cat \"$1\")\" && exec /usr/bin/env -0 > \"$2\"",
            "-",
        ]),
        Sh::Zsh => cmd.args([
            "--no-rcs",
            "-c",
            "eval \"$(cat \"$1\")\" && exec /usr/bin/env -0 > \"$2\"",
            "-",
        ]),
        Sh::Fish => cmd.args([
            "--no-config",
            "-c",
            "cat $argv[1] | source; and /usr/bin/env -0 > $argv[2]",
        ]),
        Sh::Elvish => cmd.args([
            "-norc",
            "-c",
            "eval (slurp < $args[0]); /usr/bin/env -0 > $args[1]",
        ]),
        // The hook itself, applying each answer (one JSON line) as it does.
        Sh::Nu => {
            let hook = dir.join("hook.nu");
            let code = dwell::hook(dwell::cli::HookShell::Nu, Path::new("dwell"));
            std::fs::write(&hook, code).unwrap();
            let script = format!(
                "source '{}'\ndef --env main [code: string, dump: string] {{ for line in (open --raw $code | decode utf-8 | lines) {{ __dwell_apply ($line | from json) }}; ^/usr/bin/env -0 | save -f $dump }}",
                hook.display()
            );
            let script_file = dir.join("run.nu");
            std::fs::write(&script_file, script).unwrap();
            cmd.args(["--no-config-file"]).arg(script_file)
        }
        // The calls the xonsh hook runs, with the setters it defines.
        Sh::Xonsh => {
            let script = dir.join("run.xsh");
            std::fs::write(&script, XONSH_RUNNER).unwrap();
            cmd.arg("--no-rc").arg(script)
        }
    };
    let out = cmd
        .arg(&code_file)
        .arg(&dump)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sh:?} failed on the emitted code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_dump(&dump)
}

fn round_trip(sh: Sh) {
    if require(sh.name()).is_none() {
        return;
    }
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let marker = marker.to_str().unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = hostile(marker)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("DWH{i}"), v))
        .collect();
    for i in 0..CASES {
        cases.push((name(&mut rng, i), value(&mut rng)));
    }
    // PATH-like lists too: fish sets them as lists.
    for i in 0..20 {
        let entries: Vec<Vec<u8>> = (0..1 + rng.below(4)).map(|_| value(&mut rng)).collect();
        cases.push((format!("DWL{i}_PATH"), entries.join(&b':')));
    }
    // xonsh expands a leading `~` in each entry of its list variables (…PATH,
    // …DIRS) when it passes them on, as it always does: such entries are left
    // out of the byte-exact comparison.
    if sh == Sh::Xonsh {
        for (name, value) in &mut cases {
            if name.ends_with("PATH") || name.ends_with("DIRS") {
                let entries: Vec<Vec<u8>> = value
                    .split(|&b| b == b':')
                    .map(|e| match e.first() {
                        Some(b'~') => [b"x", e].concat(),
                        _ => e.to_vec(),
                    })
                    .collect();
                *value = entries.join(&b':');
            }
        }
    }
    let changes: Vec<(String, Option<Value>)> = cases
        .iter()
        .map(|(n, v)| (n.clone(), Some(Value(v.clone()))))
        .collect();
    let code = match sh {
        Sh::Bash | Sh::Zsh => dwell::render_posix(&changes),
        Sh::Fish => dwell::render_fish(&changes),
        Sh::Elvish => dwell::render_elvish(&changes),
        Sh::Xonsh => dwell::render_xonsh(&changes),
        Sh::Nu => dwell::render_nu(&changes, None).0,
    };
    let env = run(sh, &code, dir.path());
    for (n, v) in &cases {
        let got = env.get(n).map(|g| g.as_bytes().to_vec());
        // A Nushell string holds only UTF-8: other values are skipped.
        let want = match sh {
            Sh::Nu if std::str::from_utf8(v).is_err() => None,
            _ => Some(&v[..]),
        };
        assert_eq!(
            got.as_deref(),
            want,
            "{sh:?}, seed {seed} (DWELL_PROP_SEED={seed}): {n} = {:?}",
            String::from_utf8_lossy(v)
        );
    }
    assert!(
        !std::path::Path::new(marker).exists(),
        "{sh:?}: something was executed"
    );

    // And unsetting removes each of them again.
    let unset: Vec<(String, Option<Value>)> =
        cases.iter().map(|(n, _)| (n.clone(), None)).collect();
    let code = code
        + &match sh {
            Sh::Bash | Sh::Zsh => dwell::render_posix(&unset),
            Sh::Fish => dwell::render_fish(&unset),
            Sh::Elvish => dwell::render_elvish(&unset),
            Sh::Xonsh => dwell::render_xonsh(&unset),
            Sh::Nu => dwell::render_nu(&unset, None).0,
        };
    let env = run(sh, &code, dir.path());
    for (n, _) in &cases {
        assert!(!env.contains_key(n), "{sh:?}: {n} still set");
    }
}

#[test]
fn bash_round_trips_any_bytes() {
    round_trip(Sh::Bash);
}

#[test]
fn zsh_round_trips_any_bytes() {
    round_trip(Sh::Zsh);
}

#[test]
fn fish_round_trips_any_bytes() {
    round_trip(Sh::Fish);
}

#[test]
fn elvish_round_trips_any_bytes() {
    round_trip(Sh::Elvish);
}

#[test]
fn xonsh_round_trips_any_bytes() {
    round_trip(Sh::Xonsh);
}

#[test]
fn nushell_round_trips_any_utf8_and_skips_the_rest() {
    round_trip(Sh::Nu);
}

/// Runs `dwell export xonsh` output (the file $ARGS[1]) as the xonsh hook does,
/// then dumps the environment a child gets to $ARGS[2].
const XONSH_RUNNER: &str = r#"
import os
env = __xonsh__.env
def set_var(name, value):
    env[os.fsdecode(name)] = os.fsdecode(value)
def unset_var(name):
    name = os.fsdecode(name)
    if name in env:
        del env[name]
code = open($ARGS[1], 'rb').read().decode('ascii')
exec(code, {'__dwell_set': set_var, '__dwell_unset': unset_var})
/usr/bin/env -0 > @($ARGS[2])
"#;
