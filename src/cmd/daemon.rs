//! `dwell daemon`: runs the daemon in the foreground.

use crate::paths::Paths;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    crate::daemon::run(Paths::from_env()?)?;
    Ok(ExitCode::SUCCESS)
}
