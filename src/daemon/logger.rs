//! The daemon's log: `daemon.log` in dwell's state directory, one line per
//! record with its time (UTC) and level, escaped like everything dwell prints
//! (it names projects and holds Nix's and pip's errors). Past [`CAP`] the file is
//! moved to `daemon.log.1` (the one before is dropped) and a new one started, so
//! it never only grows.

use crate::paths::open_log;
use crate::sync::locked;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The log is rotated past this size.
pub const CAP: u64 = 1 << 20;

struct Logger {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// The process's stderr is this log (a started daemon): it follows a rotation.
    follow_stderr: bool,
}

/// Sends the `log` crate's records to `path` (info and above) for the rest of
/// the process.
pub fn init(path: PathBuf) {
    let logger = Box::leak(Box::new(Logger {
        path,
        file: Mutex::new(None),
        follow_stderr: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
    }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:<5} {}\n",
            utc_now(),
            record.level(),
            crate::safe_fs::printable(&record.args().to_string(), false)
        );
        let mut file = locked(&self.file);
        let full = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| m.len() > CAP);
        if full {
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
            *file = open_log(&self.path).ok();
            // A started daemon's stderr is the log (a panic's message goes
            // there): the new file from now on.
            if let Some(f) = file.as_ref()
                && self.follow_stderr
            {
                let _ = rustix::stdio::dup2_stderr(f);
            }
        }
        if file.is_none() {
            *file = open_log(&self.path).ok();
        }
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
        // `dwell daemon` run by hand in a terminal: shown there too.
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            crate::term::say_rendered(&line);
        }
    }

    fn flush(&self) {}
}

/// Now as `2026-12-05T10:07:00.123Z`.
fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rest) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        now.subsec_millis()
    )
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

    #[test]
    fn lines_carry_time_and_level_are_escaped_and_the_file_is_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let logger = Logger {
            path: path.clone(),
            file: Mutex::new(None),
            follow_stderr: false,
        };
        let say = |text: &str| {
            logger.log(
                &log::Record::builder()
                    .level(log::Level::Warn)
                    .args(format_args!("{text}"))
                    .build(),
            )
        };
        say("evaluating /p\x1b[2J");
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.ends_with(" WARN  evaluating /p\\e[2J\n"), "{first:?}");
        assert_eq!(first.as_bytes()[4], b'-', "{first:?}");
        let line = "x".repeat(1000);
        for _ in 0..1100 {
            say(&line);
        }
        let rotated = path.with_extension("log.1");
        assert!(rotated.exists(), "moved aside past the cap");
        assert!(std::fs::metadata(&path).unwrap().len() < CAP / 2);
        assert!(
            std::fs::read_to_string(rotated)
                .unwrap()
                .starts_with(&first)
        );
    }

    #[test]
    fn dates_are_the_calendars() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_792), (2026, 12, 5));
        assert!(utc_now().ends_with('Z') && utc_now().len() == 24);
    }
}
