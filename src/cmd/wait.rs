//! `dwell await`: asks for the current directory's environment as an editor
//! does, to the end of any evaluation, and prints nothing: its exit says the
//! environment is ready (or failed, which the hook's next ask reports). The zsh
//! hook runs it in the background, watched by its line editor.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let dir = std::env::current_dir().and_then(std::fs::canonicalize)?;
    super::resolve(&dir, false, false)?;
    Ok(ExitCode::SUCCESS)
}
