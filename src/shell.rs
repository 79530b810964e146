//! Shell code: the hook scripts (real files under `shell-hooks/`, embedded) and the
//! emission of variable changes with each shell's quoting.

use crate::cli::HookShell;
use crate::protocol::Value;
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
        HookShell::Elvish => ELVISH_HOOK.replacen(
            ELVISH_EXE_LINE,
            &format!("var __dwell_exe = {}", quote_elvish(&exe)),
            1,
        ),
        HookShell::Xonsh => XONSH_HOOK.replacen(
            XONSH_EXE_LINE,
            &format!("    exe = os.fsdecode({})", quote_python_bytes(&exe)),
            1,
        ),
        HookShell::Nu => NU_HOOK.replacen(
            NU_EXE_LINE,
            &format!("  exe: {}", quote_nu(&exe.lossy())),
            1,
        ),
    }
}

const NU_HOOK: &str = include_str!("../shell-hooks/dwell.nu");
const NU_EXE_LINE: &str = "  exe: 'dwell'";

/// Quotes `text` as a Nushell double-quoted string (which interpolates nothing):
/// the backslash and the quote escaped, every control character as `\u{…}`.
pub fn quote_nu(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the Nushell hook applies, as JSON data (Nushell runs no code it is
/// handed): `{"set": {NAME: value}, "unset": [NAME], "genfile": path}`; and the
/// names of the values left out, which are not UTF-8 and so cannot be a
/// Nushell string.
pub fn render_nu(
    changes: &[(String, Option<Value>)],
    generation_file: Option<&Path>,
) -> (String, Vec<String>) {
    let mut set = serde_json::Map::new();
    let mut unset = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in changes {
        match value {
            None => unset.push(serde_json::Value::String(name.clone())),
            Some(v) => match std::str::from_utf8(v.as_bytes()) {
                Ok(text) => {
                    set.insert(name.clone(), serde_json::Value::String(text.into()));
                }
                Err(_) => skipped.push(name.clone()),
            },
        }
    }
    let genfile = generation_file.and_then(|p| p.to_str()).unwrap_or_default();
    let answer = serde_json::json!({ "set": set, "unset": unset, "genfile": genfile });
    let mut text = String::from_utf8_lossy(&crate::protocol::to_json(&answer)).into_owned();
    text.push('\n');
    (text, skipped)
}

/// Quotes `value` as a Python bytes literal: printable ASCII as it is, every
/// other byte as `\xhh`. The xonsh hook decodes it as the OS does
/// (`os.fsdecode`), so any bytes reach the environment unchanged.
pub fn quote_python_bytes(value: &Value) -> String {
    quote_hex(value, "b'", b'\'')
}

/// `value` between `open` and `close`: printable ASCII as it is but `close` and
/// the backslash (escaped), every other byte as `\xhh`.
fn quote_hex(value: &Value, open: &str, close: u8) -> String {
    let mut out = String::from(open);
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            _ if b == close => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(close as char);
    out
}

/// Python calls for `changes`, run by the xonsh hook with its own `__dwell_set`
/// and `__dwell_unset` (and nothing else) in scope.
pub fn render_xonsh(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        let name = quote_python_bytes(&Value::from(name.as_str()));
        match value {
            Some(value) => out.push_str(&format!(
                "__dwell_set({name}, {})\n",
                quote_python_bytes(value)
            )),
            None => out.push_str(&format!("__dwell_unset({name})\n")),
        }
    }
    out
}

/// Quotes `value` for elvish as a double-quoted string: printable ASCII as it is
/// (elvish does not interpolate), every other byte as `\xhh`, which elvish keeps
/// as that byte.
pub fn quote_elvish(value: &Value) -> String {
    quote_hex(value, "\"", b'"')
}

/// Elvish code for `changes`: `set-env` and `unset-env`.
pub fn render_elvish(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        let name = quote_elvish(&Value::from(name.as_str()));
        match value {
            Some(value) => out.push_str(&format!("set-env {name} {}\n", quote_elvish(value))),
            None => out.push_str(&format!("unset-env {name}\n")),
        }
    }
    out
}

const FISH_HOOK: &str = include_str!("../shell-hooks/dwell.fish");
const FISH_EXE_LINE: &str = "set -g __dwell_exe dwell";
const ELVISH_HOOK: &str = include_str!("../shell-hooks/dwell.elv");
const ELVISH_EXE_LINE: &str = "var __dwell_exe = 'dwell'";
const XONSH_HOOK: &str = include_str!("../shell-hooks/dwell.xsh");
const XONSH_EXE_LINE: &str = "    exe = 'dwell'";

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
    // Names are written unquoted: only identifiers, whatever the caller passed.
    for (name, value) in changes
        .iter()
        .filter(|(n, _)| crate::recipe::is_valid_name(n))
    {
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

/// Quotes `value` for fish, byte-exact: plain characters stay, every other byte is
/// written as fish's `\xHH` escape (a raw byte, so invalid UTF-8 survives) and other
/// Unicode as `\UXXXXXXXX`. An empty value is `''`.
pub fn quote_fish(value: &Value) -> String {
    if value.0.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(value.0.len() + 8);
    for chunk in value.0.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                'a'..='z'
                | 'A'..='Z'
                | '0'..='9'
                | '_'
                | '.'
                | '/'
                | ':'
                | ','
                | '+'
                | '='
                | '@'
                // Values follow `--` (and an executable's path starts with `/`),
                // so a dash is never taken for an option.
                | '-' => out.push(c),
                c if c.is_ascii() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether fish treats `name` as a path variable (a list joined with `:` on export).
fn fish_path_var(name: &str) -> bool {
    name.ends_with("PATH")
}

/// Code for fish. Path variables (PATH, MANPATH, …) are set as fish lists, one
/// element per entry, so `$PATH` stays a list in the user's shell.
pub fn render_fish(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes
        .iter()
        .filter(|(n, _)| crate::recipe::is_valid_name(n))
    {
        match value {
            Some(v) if fish_path_var(name) && !v.0.is_empty() => {
                out.push_str(&format!("set -gx -- {name}"));
                for entry in crate::recipe::split_list(&v.0) {
                    out.push(' ');
                    out.push_str(&quote_fish(&entry));
                }
                out.push_str(";\n");
            }
            Some(v) => out.push_str(&format!("set -gx -- {name} {};\n", quote_fish(v))),
            None => out.push_str(&format!("set -e -g {name};\n")),
        }
    }
    out
}

/// The hook's own state that `dwell export` sets after the variable changes: the
/// generation counter file the hook may read on its fast path (empty: none, and
/// every prompt asks dwell). Set only when the runtime directory passed dwell's
/// ownership check, so the hooks need no rule of their own for where it is.
pub fn render_hook_state(shell: HookShell, generation_file: Option<&Path>) -> String {
    let file = generation_file
        .map(|p| Value::from(p.as_os_str()))
        .unwrap_or_default();
    match shell {
        HookShell::Bash => format!("__dwell_genfile={};\n", quote_posix(&file)),
        HookShell::Zsh => format!("typeset -g __dwell_genfile={};\n", quote_posix(&file)),
        HookShell::Fish => format!("set -g __dwell_genfile {};\n", quote_fish(&file)),
        // The hook reads it from the namespace the code ran in.
        HookShell::Elvish => format!("var __dwell_genfile = {}\n", quote_elvish(&file)),
        HookShell::Xonsh => format!("__dwell_genfile({})\n", quote_python_bytes(&file)),
        // Carried in the JSON answer itself (`render_nu`).
        HookShell::Nu => String::new(),
    }
}

/// dwell's own variables (the hooks' `__dwell_*`, `DWELL_STATE`, `DWELL_SHELL`):
/// a devShell never sets them, in any shell or format (the plan skips them).
pub fn is_dwell_own(name: &str) -> bool {
    name.starts_with("__dwell_") || name == "DWELL_SHELL" || name == crate::state::VAR
}

/// Code around a change that keeps the shell's own unexported variables (bash's
/// `HISTFILE`, a `set -g` in fish), which dwell cannot see from its process: a
/// variable the project sets that the shell had not exported is saved first (as
/// `__dwell_local_NAME`), and put back, unexported, when dwell unsets it again,
/// so leaving never unsets what the shell had before entering. Returns the code
/// to run before the change and after it; elvish and xonsh have no such variables.
pub fn keep_shell_variables(
    shell: HookShell,
    current: &crate::recipe::Env,
    changes: &[(String, Option<Value>)],
) -> (String, String) {
    let (mut before, mut after) = (String::new(), String::new());
    for (name, value) in changes
        .iter()
        .filter(|(n, _)| crate::recipe::is_valid_name(n) && !is_dwell_own(n))
    {
        let saved = format!("__dwell_local_{name}");
        match (value, shell) {
            (Some(_), _) if current.contains_key(name) => {}
            (Some(_), HookShell::Bash) => {
                before.push_str(&format!("if [[ -v {name} ]]; then {saved}=${name}; fi;\n"))
            }
            (Some(_), HookShell::Zsh) => before.push_str(&format!(
                "if (( ${{+{name}}} )); then typeset -g {saved}=${name}; fi;\n"
            )),
            (Some(_), HookShell::Fish) => {
                before.push_str(&format!("set -qg {name}; and set -g {saved} ${name};\n"))
            }
            (None, HookShell::Bash) => after.push_str(&format!(
                "if [[ -v {saved} ]]; then {name}=${saved}; unset {saved}; fi;\n"
            )),
            (None, HookShell::Zsh) => after.push_str(&format!(
                "if (( ${{+{saved}}} )); then typeset -g {name}=${saved}; unset {saved}; fi;\n"
            )),
            (None, HookShell::Fish) => after.push_str(&format!(
                "set -qg {saved}; and set -g {name} ${saved}; and set -e -g {saved};\n"
            )),
            _ => {}
        }
    }
    (before, after)
}

/// The prompt variables of every shell (bash's and zsh's `PS1`…, zsh's `PROMPT`…):
/// a devShell that sets one (a shellHook that sources a venv's `activate` does)
/// never reaches the user's prompt, in any shell or format.
pub fn is_prompt(name: &str) -> bool {
    const PROMPTS: &[&str] = &[
        "PS1", "PS2", "PS3", "PS4", "PROMPT", "PROMPT2", "PROMPT3", "PROMPT4", "RPROMPT",
        "RPROMPT2", "RPS1", "RPS2", "SPROMPT",
    ];
    PROMPTS.contains(&name)
}

/// Variables each shell manages itself or ties to its own state: emitting them would
/// break the shell (`path` is PATH's array in zsh, `status` is read-only in fish), so
/// they are skipped with a warning.
pub fn is_reserved(shell: HookShell, name: &str) -> bool {
    const BASH: &[&str] = &[
        "BASHOPTS",
        "BASHPID",
        "BASH_ARGC",
        "BASH_ARGV",
        "BASH_LINENO",
        "BASH_SOURCE",
        "BASH_VERSINFO",
        "EUID",
        "FUNCNAME",
        "GROUPS",
        "PPID",
        "SHELLOPTS",
        "UID",
    ];
    const ZSH: &[&str] = &[
        "ARGC",
        "EGID",
        "EUID",
        "GID",
        "HISTCMD",
        "LINENO",
        "PPID",
        "UID",
        "USERNAME",
        "argv",
        "cdpath",
        "fignore",
        "fpath",
        "histchars",
        "mailpath",
        "manpath",
        "module_path",
        "path",
        "pipestatus",
        "prompt",
        "psvar",
        "status",
        "watch",
        "zsh_eval_context",
    ];
    const FISH: &[&str] = &[
        "FISH_VERSION",
        "PWD",
        "SHLVL",
        "_",
        "argv",
        "fish_pid",
        "history",
        "hostname",
        "last_pid",
        "pipestatus",
        "status",
        "status_generation",
        "umask",
        "version",
    ];
    // xonsh's own: its prompt, its directory, its settings (XONSH_*, above).
    const XONSH: &[&str] = &[
        "BOTTOM_TOOLBAR",
        "MULTILINE_PROMPT",
        "OLDPWD",
        "PROMPT",
        "PWD",
        "RIGHT_PROMPT",
        "SHLVL",
        "TITLE",
    ];
    // Nushell's own: set by it at each prompt or command, or read as its config.
    const NU: &[&str] = &[
        "CMD_DURATION_MS",
        "CURRENT_FILE",
        "ENV_CONVERSIONS",
        "FILE_PWD",
        "LAST_EXIT_CODE",
        "NU_VERSION",
        "OLDPWD",
        "PROMPT_COMMAND",
        "PROMPT_COMMAND_RIGHT",
        "PROMPT_INDICATOR",
        "PROMPT_INDICATOR_VI_INSERT",
        "PROMPT_INDICATOR_VI_NORMAL",
        "PROMPT_MULTILINE_INDICATOR",
        "PWD",
        "SHLVL",
        "TRANSIENT_PROMPT_COMMAND",
        "config",
    ];
    // What the hook itself lives on: a devShell that set these would replace the
    // hook, and the project could never be unloaded.
    const HOOK_BASH: &[&str] = &["PROMPT_COMMAND"];
    const HOOK_ZSH: &[&str] = &["precmd_functions", "chpwd_functions"];
    let (list, hook) = match shell {
        HookShell::Bash => (BASH, HOOK_BASH),
        HookShell::Zsh => (ZSH, HOOK_ZSH),
        HookShell::Fish => (FISH, &[][..]),
        // elvish keeps its own state in its own variables, apart from the
        // environment: no environment variable is its.
        HookShell::Elvish => (&[][..], &[][..]),
        HookShell::Xonsh => (XONSH, &[][..]),
        HookShell::Nu => (NU, &[][..]),
    };
    if shell == HookShell::Xonsh && name.starts_with("XONSH_") {
        return true;
    }
    list.contains(&name) || hook.contains(&name)
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
}
