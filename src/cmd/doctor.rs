//! `dwell doctor`: checks the installation and says what to fix.

use crate::client::request_running;
use crate::paths::Paths;
use crate::protocol::VERSION;
use crate::protocol::{Request, Response};
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

/// One finding.
struct Check {
    ok: bool,
    what: String,
    fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Check {
    Check {
        ok: true,
        what: what.into(),
        fix: None,
    }
}

fn problem(what: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        ok: false,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// The lowest inotify watch limit at which watching stays reliable.
pub const MIN_INOTIFY_WATCHES: u64 = 8192;

/// Judges the inotify watch limit.
pub fn inotify_check(max_user_watches: Option<u64>) -> Result<String, String> {
    match max_user_watches {
        None => Ok("inotify: limit unknown (not Linux?); changes are checked by stat".into()),
        Some(n) if n < MIN_INOTIFY_WATCHES => Err(format!(
            "inotify: max_user_watches is {n}, below {MIN_INOTIFY_WATCHES}"
        )),
        Some(n) => Ok(format!("inotify: max_user_watches {n}")),
    }
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn checks(paths: &Paths) -> Vec<Check> {
    [
        nix_check(),
        hook_check(),
        login_shell_check(),
        runtime_dir_check(paths),
        cache_dir_check(paths),
        daemon_check(paths),
        inotify_limit_check(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Nix, new enough for `print-dev-env`.
fn nix_check() -> Vec<Check> {
    let mut found = Vec::new();
    match crate::eval::Tools::find(None) {
        Ok(tools) => {
            let version = tools.nix_version.clone();
            let modern = version
                .rsplit(' ')
                .next()
                .and_then(|v| {
                    let mut parts = v.split('.');
                    Some((
                        parts.next()?.parse::<u32>().ok()?,
                        parts.next()?.parse::<u32>().ok()?,
                    ))
                })
                .is_some_and(|(major, minor)| major > 2 || (major == 2 && minor >= 4));
            if modern {
                found.push(ok(format!("nix: {version} at {}", tools.nix.display())));
                found.push(ok(
                    "nix features: dwell turns on nix-command and flakes for its own calls",
                ));
            } else {
                found.push(problem(
                    format!("nix: {version} is older than 2.4 (no print-dev-env)"),
                    "install a newer Nix",
                ));
            }
        }
        Err(e) => found.push(problem(
            format!("nix: {e}"),
            "install Nix (Debian: apt-get install nix-bin)",
        )),
    }
    found
}

/// The hook in the shell that runs doctor, or the line to add.
fn hook_check() -> Vec<Check> {
    let mut found = Vec::new();
    match std::env::var("DWELL_SHELL") {
        Ok(shell) if !shell.is_empty() => {
            found.push(ok(format!("hook: installed in this {shell}")))
        }
        _ => {
            let shell = std::env::var("SHELL").unwrap_or_default();
            let line = if shell.ends_with("/nu") {
                "dwell hook nu | save -f ($nu.default-config-dir | path join dwell.nu), then in config.nu: source ($nu.default-config-dir | path join dwell.nu)"
            } else if shell.ends_with("xonsh") {
                "execx($(dwell hook xonsh))   (in ~/.xonshrc)"
            } else if shell.ends_with("elvish") {
                "eval (dwell hook elvish | slurp)   (in ~/.config/elvish/rc.elv)"
            } else if shell.ends_with("fish") {
                "dwell hook fish | source   (in ~/.config/fish/config.fish)"
            } else if shell.ends_with("zsh") {
                "eval \"$(dwell hook zsh)\"   (in ~/.zshrc)"
            } else {
                "eval \"$(dwell hook bash)\"   (in ~/.bashrc)"
            };
            found.push(problem(
                "hook: not installed in this shell",
                format!("add {line}, then open a new shell"),
            ));
        }
    }
    found
}

/// Editors (VS Code) take PATH from the user's login shell, not from the
/// terminal they were started in: an `.envrc` running `dwell direnv` finds
/// dwell there only if a login shell does.
fn login_shell_check() -> Vec<Check> {
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
    let name = std::path::Path::new(&shell)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let profile = match name.as_str() {
        "bash" => "~/.profile (or ~/.bash_profile)",
        "zsh" => "~/.zprofile",
        "fish" => "~/.config/fish/config.fish",
        "sh" | "dash" | "ksh" => "~/.profile",
        _ => {
            return vec![ok(format!(
                "login shell: {name} not checked (editors take PATH from it: it must find dwell)"
            ))];
        }
    };
    let mut cmd = std::process::Command::new(&shell);
    cmd.args(["-l", "-c", "command -v dwell"]);
    let watch = crate::process::Watch {
        timeout: Some(std::time::Duration::from_secs(5)),
        ..Default::default()
    };
    let found = crate::process::run(cmd, &shell, &watch)
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
            Some(last.trim().to_string())
        })
        .filter(|path| path.starts_with('/'));
    match found {
        Some(path) => vec![ok(format!(
            "login shell: `{shell} -l` finds dwell at {path}"
        ))],
        None => {
            let dir = std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.display().to_string()))
                .unwrap_or_else(|| "dwell's directory".into());
            vec![problem(
                format!(
                    "login shell: `{shell} -l` does not find dwell, so editors that take PATH from it (VS Code) cannot run `dwell direnv`"
                ),
                format!("add {dir} to PATH in {profile}, then log in again"),
            )]
        }
    }
}

/// The runtime directory (socket, counter): private to this user.
fn runtime_dir_check(paths: &Paths) -> Vec<Check> {
    let mut found = Vec::new();
    let uid = rustix::process::getuid().as_raw();
    match std::fs::metadata(&paths.runtime) {
        Ok(meta) if meta.uid() != uid || meta.mode() & 0o077 != 0 => found.push(problem(
            format!(
                "runtime dir {}: owner {} mode {:o}, not private to you",
                paths.runtime.display(),
                meta.uid(),
                meta.mode() & 0o777
            ),
            format!(
                "chmod 700 {} (or remove it; dwell recreates it)",
                paths.runtime.display()
            ),
        )),
        Ok(_) => found.push(ok(format!(
            "runtime dir {} is private",
            paths.runtime.display()
        ))),
        Err(_) => found.push(ok(format!(
            "runtime dir {} not created yet",
            paths.runtime.display()
        ))),
    }
    found
}

/// The cache: private to this user.
fn cache_dir_check(paths: &Paths) -> Vec<Check> {
    let mut found = Vec::new();
    let uid = rustix::process::getuid().as_raw();
    match std::fs::metadata(&paths.cache) {
        Ok(meta) if meta.uid() != uid || meta.mode() & 0o077 != 0 => found.push(problem(
            format!(
                "cache dir {} is open to others (mode {:o})",
                paths.cache.display(),
                meta.mode() & 0o777
            ),
            format!("chmod 700 {}", paths.cache.display()),
        )),
        Ok(_) => found.push(ok(format!(
            "cache dir {} is private",
            paths.cache.display()
        ))),
        Err(_) => found.push(ok(format!(
            "cache dir {} not created yet",
            paths.cache.display()
        ))),
    }
    found
}

/// The daemon, when one runs: this version.
fn daemon_check(paths: &Paths) -> Vec<Check> {
    let mut found = Vec::new();
    match request_running(paths, &Request::Ping) {
        Ok(Some(Response::Pong(info))) if info.version == VERSION => found.push(ok(format!(
            "daemon: pid {}, dwell {}",
            info.pid, info.version
        ))),
        Ok(Some(Response::Pong(info))) => found.push(problem(
            format!(
                "daemon: pid {} runs dwell {}, this is {VERSION}",
                info.pid, info.version
            ),
            "dwell stop (the next prompt starts the new version)",
        )),
        Ok(Some(_)) => found.push(problem(
            "daemon: answers, but not as this dwell expects (another version?)",
            "dwell stop",
        )),
        Ok(None) => found.push(ok("daemon: not running (the next prompt starts it)")),
        Err(e) => found.push(problem(
            format!("daemon: {e}"),
            "dwell stop, or remove the stale socket",
        )),
    }
    found
}

/// Enough inotify watches for the projects watched.
fn inotify_limit_check() -> Vec<Check> {
    let mut found = Vec::new();
    // The system-wide limit, and the one of this user namespace (containers).
    let limit = [
        read_number("/proc/sys/fs/inotify/max_user_watches"),
        read_number("/proc/sys/user/max_inotify_watches"),
    ]
    .into_iter()
    .flatten()
    .min();
    match inotify_check(limit) {
        Ok(text) => found.push(ok(text)),
        Err(text) => found.push(problem(
            text,
            "sysctl fs.inotify.max_user_watches=524288 (edits are still noticed by stat, but later)",
        )),
    }
    found
}

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let found = checks(&paths);
    let mut problems = 0;
    for check in &found {
        if check.ok {
            crate::show!("ok       {}", check.what);
        } else {
            problems += 1;
            crate::show!("PROBLEM  {}", check.what);
            if let Some(fix) = &check.fix {
                crate::show!("         fix: {fix}");
            }
        }
    }
    if problems == 0 {
        crate::show!("\nno problems found");
        Ok(ExitCode::SUCCESS)
    } else {
        crate::show!("\n{problems} problem(s) found");
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_limits() {
        assert!(inotify_check(Some(1024)).is_err());
        assert!(inotify_check(Some(MIN_INOTIFY_WATCHES)).is_ok());
        assert!(inotify_check(None).is_ok());
    }
}
