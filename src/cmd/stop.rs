//! `dwell stop`: asks the running daemon to stop.

use crate::client::request_running;
use crate::paths::Paths;
use crate::protocol::Request;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    match request_running(&paths, &Request::Stop)? {
        Some(_) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while paths.socket().exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("dwell: daemon stopped");
        }
        None => eprintln!("dwell: no daemon is running"),
    }
    Ok(ExitCode::SUCCESS)
}
