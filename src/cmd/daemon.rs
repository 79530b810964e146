//! `dwell daemon`: runs the daemon in the foreground.

use crate::paths::Paths;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    close_inherited_fds();
    crate::daemon::run(Paths::from_env()?)?;
    Ok(ExitCode::SUCCESS)
}

/// Closes every file descriptor above stderr that the daemon inherited. It
/// outlives whoever started it, and an inherited pipe would keep that program
/// waiting for its end forever: direnv, for one, reads the `.envrc`'s results
/// from a pipe on fd 3 until every holder has closed it.
#[allow(
    unsafe_code,
    reason = "one system call std has no safe form for; see SAFETY"
)]
fn close_inherited_fds() {
    let inherited: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in inherited {
        // SAFETY: nothing in this process uses these descriptors (the daemon has
        // opened nothing yet); one the listing itself used is closed already,
        // which fcntl tells, and is skipped.
        unsafe {
            let borrowed = std::os::fd::BorrowedFd::borrow_raw(fd);
            if rustix::io::fcntl_getfd(borrowed).is_ok() {
                rustix::io::close(fd);
            }
        }
    }
}
