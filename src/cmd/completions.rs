//! `dwell completions SHELL` and `dwell generate-man DIR`: both come from the clap
//! definitions in `cli.rs`, so they never drift from the real flags.

use anyhow::Context;
use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

pub fn run(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "dwell", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man(dir: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    for (name, page) in crate::man::pages()? {
        let path = dir.join(&name);
        std::fs::write(&path, page)
            .with_context(|| format!("could not write {}", path.display()))?;
        crate::say!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
