//! Shell code: the hook scripts (real files under `shell-hooks/`, embedded, in
//! this file), the quoting and emission of variable changes for each shell
//! ([`quote`]), and the names each shell keeps for itself ([`names`]).

mod names;
mod quote;
#[cfg(test)]
mod tests;

pub use names::*;
pub use quote::*;

use crate::cli::HookShell;
use crate::protocol::Value;
use std::path::Path;

const BASH_HOOK: &str = include_str!("../../shell-hooks/dwell.bash");
const ZSH_HOOK: &str = include_str!("../../shell-hooks/dwell.zsh");

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

const NU_HOOK: &str = include_str!("../../shell-hooks/dwell.nu");
const NU_EXE_LINE: &str = "  exe: 'dwell'";

const FISH_HOOK: &str = include_str!("../../shell-hooks/dwell.fish");
const FISH_EXE_LINE: &str = "set -g __dwell_exe dwell";
const ELVISH_HOOK: &str = include_str!("../../shell-hooks/dwell.elv");
const ELVISH_EXE_LINE: &str = "var __dwell_exe = 'dwell'";
const XONSH_HOOK: &str = include_str!("../../shell-hooks/dwell.xsh");
const XONSH_EXE_LINE: &str = "    exe = 'dwell'";

/// The hook's own state that `dwell export` sets after the variable changes: the
/// generation counter file the hook may read on its fast path (empty: none, and
/// every prompt asks dwell). Set only when the runtime directory passed dwell's
/// ownership check, so the hooks need no rule of their own for where it is. zsh
/// is also told whether an evaluation still runs (`pending`): it waits for it
/// while its prompt sits idle (`zle -F`), so it arrives without a keypress; the
/// other shells take it at their next prompt.
pub fn render_hook_state(
    shell: HookShell,
    generation_file: Option<&Path>,
    pending: bool,
) -> String {
    let file = generation_file
        .map(|p| Value::from(p.as_os_str()))
        .unwrap_or_default();
    match shell {
        HookShell::Bash => format!("__dwell_genfile={};\n", quote_posix(&file)),
        HookShell::Zsh => format!(
            "typeset -g __dwell_genfile={};\ntypeset -g __dwell_pending={};\n",
            quote_posix(&file),
            u8::from(pending)
        ),
        HookShell::Fish => format!("set -g __dwell_genfile {};\n", quote_fish(&file)),
        // The hook reads it from the namespace the code ran in.
        HookShell::Elvish => format!("var __dwell_genfile = {}\n", quote_elvish(&file)),
        HookShell::Xonsh => format!("__dwell_genfile({})\n", quote_python_bytes(&file)),
        // Carried in the JSON answer itself (`render_nu`).
        HookShell::Nu => String::new(),
    }
}
