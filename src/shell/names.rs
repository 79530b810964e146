//! The variables each shell keeps for itself, the prompt's, dwell's own, and
//! the shell's unexported ones that a change must not lose.

use crate::cli::HookShell;
use crate::protocol::Value;

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

/// The variables each shell keeps for itself: never handed to it.
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

/// Variables each shell manages itself or ties to its own state: emitting them would
/// break the shell (`path` is PATH's array in zsh, `status` is read-only in fish), so
/// they are skipped with a warning.
pub fn is_reserved(shell: HookShell, name: &str) -> bool {
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
