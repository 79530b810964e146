//! The capture: the devShell's script run in a clean bash, the shellHook bounded
//! by its timeout, the environment read back as bytes.

use super::*;
use crate::process::{RunError, Watch, run};
use crate::project::Project;
use crate::protocol::EvalEnv;
use crate::protocol::Value;
use crate::recipe::{Env, HookRun, Recipe, diff};
use crate::safe_fs::read_tail;
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The last line of `nix print-dev-env`'s script runs the shellHook (`eval
/// "$shellHook"` in Nix 2.8, `eval "${shellHook:-}"` in 2.26): the script
/// without it, if it is there, so the capture can run the hook on its own.
pub(super) fn without_hook_line(script: &[u8]) -> Option<&[u8]> {
    let text = script.trim_ascii_end();
    let start = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last = &text[start..];
    let runs_hook = last == b"eval \"$shellHook\"" || last == b"eval \"${shellHook:-}\"";
    runs_hook.then(|| &script[..start])
}

/// Runs the devShell script in a clean bash and returns its difference from the
/// base, with how its shellHook ran. The environment is dumped once before the
/// shellHook and once after, so a hook that never returns (`jupyter lab`) is
/// stopped after `hook_limit` and the devShell is served without it.
pub(super) fn capture(
    tools: &Tools,
    project: &Project,
    eval_env: &EvalEnv,
    script: &[u8],
    hook_limit: Duration,
) -> Result<(Recipe, HookRun), EvalError> {
    let tmp = new_private_dir()?;
    let result = (|| {
        let script_path = tmp.join("dev-env.sh");
        let before_path = tmp.join("before-hook.dump");
        let done_path = tmp.join("before-hook.done");
        let after_path = tmp.join("env.dump");
        let hook_path = tmp.join("hook.out");
        let separate = without_hook_line(script);
        std::fs::write(&script_path, separate.unwrap_or(script))?;
        let base = base_env(eval_env, &tmp);
        // $1 script, $2 dump before the hook, $3 its completion mark, $4 the dump
        // after, $5 the hook's output, $6 env.
        let body = if separate.is_some() {
            r#". "$1" 1>&2; "$6" -0 >"$2" && : >"$3"; { eval "${shellHook:-}"; } >"$5" 2>&1 </dev/null; exec "$6" -0 >"$4""#
        } else {
            r#". "$1" >"$5" 2>&1; exec "$6" -0 >"$4""#
        };
        let mut cmd = Command::new(&tools.bash);
        cmd.env_clear()
            .envs(base.iter().map(|(k, v)| (k, v.as_os_str())))
            .current_dir(&project.root)
            .args(["--noprofile", "--norc", "-c", body, "dwell-capture"])
            .args([
                &script_path,
                &before_path,
                &done_path,
                &after_path,
                &hook_path,
                &tools.env,
            ]);
        let watch = Watch {
            timeout: Some(hook_limit),
            ..Watch::default()
        };
        // What a shellHook printed, its last 64 KiB at most (it travels with
        // every answer for the project).
        let hook_output = || {
            let tail = read_tail(&hook_path, 64 << 10).ok().flatten();
            String::from_utf8_lossy(&tail.unwrap_or_default()).into_owned()
        };
        let out = match run(cmd, "bash", &watch) {
            Ok(out) => out,
            // The hook did not return: the environment from before it.
            Err(RunError::TimedOut { limit, .. }) if done_path.exists() => {
                let dump = std::fs::read(&before_path)?;
                let hook = HookRun {
                    output: String::new(),
                    stopped_after_s: Some(limit.as_secs()),
                };
                return Ok((diff(&base, &parse_env_dump(&dump)), hook));
            }
            Err(e) => return Err(e.into()),
        };
        if !out.status.success() {
            let log = String::from_utf8_lossy(&out.stderr).into_owned() + &hook_output();
            return Err(failed(out.status, &log));
        }
        let dump = std::fs::read(&after_path)?;
        let hook = HookRun {
            output: hook_output(),
            stopped_after_s: None,
        };
        Ok((diff(&base, &parse_env_dump(&dump)), hook))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// A directory for one capture's files, made here and new (never an existing
/// directory), so that removing it after removes only what dwell made.
fn new_private_dir() -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let tmp = std::env::temp_dir().join(format!(
        "dwell-capture-{}-{}",
        std::process::id(),
        crate::paths::unique()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
    Ok(tmp)
}

/// A capture that failed: its exit status and the last lines it (and the
/// shellHook) printed.
fn failed(status: std::process::ExitStatus, log: &str) -> EvalError {
    let tail: Vec<&str> = log.lines().rev().take(6).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    EvalError::capture(format!(
        "exit status {}{}{}",
        status.code().unwrap_or(-1),
        if tail.is_empty() { "" } else { ": " },
        tail.join("\n")
    ))
}

/// The environment the capture shell starts from.
pub(super) fn base_env(eval_env: &EvalEnv, tmp: &Path) -> Env {
    let mut env = Env::new();
    for name in ["HOME", "USER", "LOGNAME", "LANG", "LC_ALL"] {
        if let Some(v) = std::env::var_os(name) {
            env.insert(name.into(), Value::from(v.as_os_str()));
        }
    }
    env.insert("PATH".into(), BASE_PATH.into());
    env.insert("TERM".into(), "dumb".into());
    env.insert("TMPDIR".into(), Value(tmp.as_os_str().as_bytes().to_vec()));
    env.extend(eval_env.clone());
    env
}

/// Parses `env -0` output.
pub fn parse_env_dump(dump: &[u8]) -> Env {
    let mut env = Env::new();
    let mut seen = HashSet::new();
    for entry in dump.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let Ok(name) = String::from_utf8(entry[..eq].to_vec()) else {
            continue;
        };
        if seen.insert(name.clone()) {
            env.insert(name, Value(entry[eq + 1..].to_vec()));
        }
    }
    env
}
