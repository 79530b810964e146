//! `dwell hook SHELL`: prints the hook for the shell's startup file.

use crate::cli::HookShell;
use anyhow::Context;
use std::process::ExitCode;

pub fn run(shell: HookShell) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("could not find the dwell executable")?;
    print!("{}", crate::shell::hook(shell, &exe));
    Ok(ExitCode::SUCCESS)
}
