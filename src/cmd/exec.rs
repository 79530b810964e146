//! `dwell exec [DIR --] CMD…`: runs a command in the environment of DIR's project,
//! for scripts and editors.

use super::{dir_or_cwd, resolve};
use crate::activate::{Message, plan, process_env};
use crate::status_line::render;
use anyhow::{Context, bail};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(command: Vec<OsString>, no_daemon: bool) -> anyhow::Result<ExitCode> {
    let (dir, command) = split_dir(command);
    let dir = dir_or_cwd(dir)?;
    let resolution = resolve(&dir, no_daemon, false)?;
    let Some(project) = &resolution.project else {
        return Err(super::no_project(&dir, &resolution));
    };
    if !project.trust.permits() {
        bail!("{}: {}", project.root.display(), project.trust.refusal());
    }
    if resolution.env.is_none() {
        bail!(
            "{}",
            resolution
                .error
                .unwrap_or_else(|| "no environment for this project".into())
        );
    }
    let plan = plan(&process_env(), &resolution, &|_| false);
    for message in &plan.messages {
        if matches!(message, Message::Error(_) | Message::Warning(_)) {
            crate::term::say_rendered(&format!("{}\n", render(message, 0, false)));
        }
    }
    let Some((program, args)) = command.split_first() else {
        anyhow::bail!("no command given: dwell exec [DIR --] COMMAND [ARGS…]");
    };
    let error = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v.as_os_str())))
        .exec();
    Err(error).with_context(|| format!("could not run {}", program.to_string_lossy()))
}

/// `DIR -- CMD…` (DIR an existing directory) names the project; anything else
/// is the command itself, run in the current directory's project. (A leading
/// `--` is clap's: `dwell exec -- CMD…` reaches here as `CMD…`.)
fn split_dir(mut args: Vec<OsString>) -> (Option<PathBuf>, Vec<OsString>) {
    if args.len() >= 3 && args[1] == "--" && std::path::Path::new(&args[0]).is_dir() {
        let command = args.split_off(2);
        return (Some(PathBuf::from(args.swap_remove(0))), command);
    }
    (None, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_directory_before_dashes_is_the_project_else_all_is_the_command() {
        assert_eq!(
            split_dir(args(&["pytest", "-x"])),
            (None, args(&["pytest", "-x"]))
        );
        assert_eq!(
            split_dir(args(&["/", "--", "ls", "-l"])),
            (Some(PathBuf::from("/")), args(&["ls", "-l"]))
        );
        // Not a directory: `--` belongs to the command.
        assert_eq!(
            split_dir(args(&["/no/such/dir", "--", "x"])),
            (None, args(&["/no/such/dir", "--", "x"]))
        );
    }
}
