//! `dwell stop`: asks the running daemon to stop.

use crate::client::request_running;
use crate::paths::Paths;
use crate::protocol::{Request, Response};
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let pid = match request_running(&paths, &Request::Ping) {
        Ok(Some(Response::Pong(info))) => Some(info.pid),
        _ => None,
    };
    match request_running(&paths, &Request::Stop)? {
        Some(_) => {
            // Done when the process is gone (it releases its lock at exit).
            let gone = || match pid {
                Some(pid) => !is_running(pid),
                None => !paths.socket().exists(),
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            crate::sync::poll_until(Some(deadline), std::time::Duration::from_millis(10), gone);
            crate::say!("dwell: daemon stopped");
        }
        None => crate::say!("dwell: no daemon is running"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether process `pid` exists and is not a zombie waiting to be reaped.
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => rustix::process::Pid::from_raw(pid as i32)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok()),
    }
}
