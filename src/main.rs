//! The `dwell` binary: parses the command line, dispatches, maps errors to exit codes.

use clap::Parser;
use dwell::cli::{Cli, Command};
use dwell::cmd;
use dwell::cmd::allow::Decision;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hook { shell } => cmd::hook::run(shell),
        Command::Export {
            format,
            prompt,
            local,
        } => cmd::export::run(format, prompt, local.no_daemon),
        Command::Direnv { local } => cmd::direnv::run(local.no_daemon),
        Command::Allow {
            dir,
            file,
            other_owner,
        } => cmd::allow::run(dir, file, Decision::Allow { other_owner }),
        Command::Deny { dir } => cmd::allow::run(dir, None, Decision::Deny),
        Command::Status { dir, json, local } => cmd::status::run(dir, json, local.no_daemon),
        Command::Reload { dir, local } => cmd::reload::run(dir, local.no_daemon),
        Command::Exec { command, local } => cmd::exec::run(command, local.no_daemon),
        Command::Venv {
            dir,
            local,
            recreate,
            python,
        } => cmd::venv::run(dir, recreate, python, local.no_daemon),
        Command::Prune {
            older_than,
            dry_run,
        } => cmd::prune::run(&older_than, dry_run),
        Command::Lock { dir, local } => cmd::lock::run(dir, local.no_daemon),
        Command::Push { cache, dir } => cmd::lock::push(cache, dir),
        Command::Await => cmd::wait::run(),
        Command::Daemon => cmd::daemon::run(),
        Command::Stop => cmd::stop::run(),
        Command::Doctor => cmd::doctor::run(),
        Command::Completions { shell } => cmd::completions::run(shell),
        Command::GenerateMan { dir } => cmd::completions::man(&dir),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            dwell::say!("dwell: {}", cmd::error_text(&e));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
