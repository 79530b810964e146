//! Shell code: the hook scripts (real files under `shell-hooks/`, embedded) and the
//! emission of variable changes with each shell's quoting.

use crate::cli::HookShell;
use crate::value::Value;
use std::path::Path;

const BASH_HOOK: &str = include_str!("../shell-hooks/dwell.bash");
const ZSH_HOOK: &str = include_str!("../shell-hooks/dwell.zsh");

/// The line in each hook that names the executable; only it is substituted, so the
/// files stay plain, lintable shell.
const EXE_LINE: &str = "__dwell_exe='dwell'";

/// The hook for `shell`, calling `exe`.
pub fn hook(shell: HookShell, exe: &Path) -> String {
    let exe = Value::from(exe.as_os_str());
    match shell {
        HookShell::Bash => {
            BASH_HOOK.replacen(EXE_LINE, &format!("__dwell_exe={}", quote_posix(&exe)), 1)
        }
        HookShell::Zsh => {
            ZSH_HOOK.replacen(EXE_LINE, &format!("__dwell_exe={}", quote_posix(&exe)), 1)
        }
        HookShell::Fish => FISH_HOOK.replacen(
            FISH_EXE_LINE,
            &format!("set -g __dwell_exe {}", quote_fish(&exe)),
            1,
        ),
    }
}

const FISH_HOOK: &str = include_str!("../shell-hooks/dwell.fish");
const FISH_EXE_LINE: &str = "set -g __dwell_exe 'dwell'";

/// Quotes `value` for bash and zsh as `$'…'`, which carries every byte but NUL.
pub fn quote_posix(value: &Value) -> String {
    let mut out = String::with_capacity(value.0.len() + 3);
    out.push_str("$'");
    for &b in &value.0 {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

/// Code for bash or zsh that sets (Some) or unsets (None) each variable.
pub fn render_posix(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        match value {
            Some(v) => {
                out.push_str("export ");
                out.push_str(name);
                out.push('=');
                out.push_str(&quote_posix(v));
                out.push_str(";\n");
            }
            None => {
                out.push_str("unset ");
                out.push_str(name);
                out.push_str(";\n");
            }
        }
    }
    out
}

/// Quotes `value` for fish in single quotes (fish escapes only `'` and `\` there).
/// Fish cannot hold every byte sequence faithfully; callers check [`fish_can_hold`].
pub fn quote_fish(value: &Value) -> String {
    let text = value.lossy();
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether fish can hold `value` exactly: valid UTF-8 only.
pub fn fish_can_hold(value: &Value) -> bool {
    std::str::from_utf8(&value.0).is_ok()
}

/// Code for fish; lists of PATH-like variables are set as fish lists.
pub fn render_fish(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        match value {
            Some(v) if name == "PATH" || name.ends_with("PATH") || name.ends_with("_DIRS") => {
                out.push_str(&format!("set -gx --path {name}"));
                for entry in crate::recipe::split_list(&v.0) {
                    out.push(' ');
                    out.push_str(&quote_fish(&entry));
                }
                out.push_str(";\n");
            }
            Some(v) => out.push_str(&format!("set -gx {name} {};\n", quote_fish(v))),
            None => out.push_str(&format!("set -e {name};\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_quoting_escapes_everything_active() {
        let v = Value(b"a'b\\c$(x)`y`\n\xff".to_vec());
        assert_eq!(quote_posix(&v), "$'a\\'b\\\\c$(x)`y`\\x0a\\xff'");
    }

    #[test]
    fn hook_substitutes_only_the_exe() {
        let text = hook(HookShell::Bash, Path::new("/opt/my dwell/dwell"));
        assert!(text.contains("__dwell_exe=$'/opt/my dwell/dwell'"));
        assert!(!text.contains(EXE_LINE));
    }
}
