//! The one printer. Everything dwell writes for a person goes through here, and
//! is escaped on the way ([`printable`]): paths, file names, tool output and Nix
//! errors come from projects, and none of their bytes may drive the terminal
//! (ESC, OSC, CSI). `tests/structure.rs` keeps every other file from printing.
//!
//! Shell code for `eval` is not for a person: `dwell hook` and `dwell export`
//! write it to stdout themselves, quoted by `shell.rs`.

use crate::safe_fs::printable;
use std::io::Write;

/// A line on stderr, escaped (newlines and tabs kept).
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{}", printable(text, true));
}

/// A line on stdout, escaped (newlines and tabs kept).
pub fn show(text: &str) {
    let _ = writeln!(std::io::stdout(), "{}", printable(text, true));
}

/// Text on stderr that was made safe already: the status line and the shellHook's
/// output, whose colours ([`crate::safe_fs::printable_with_colors`]) are kept;
/// the progress line's own cursor codes.
pub fn say_rendered(text: &str) {
    let _ = write!(std::io::stderr(), "{text}");
}

/// `say!("…", args)`: [`say`] with `format!`'s arguments.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::term::say(&format!($($arg)*)) };
}

/// `show!("…", args)`: [`show`] with `format!`'s arguments.
#[macro_export]
macro_rules! show {
    ($($arg:tt)*) => { $crate::term::show(&format!($($arg)*)) };
}
