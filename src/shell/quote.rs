//! Each shell's quoting, and the code (or, for Nushell, the data) that applies
//! a list of variable changes.

use crate::protocol::Value;
use std::path::Path;

/// Quotes `text` as a Nushell double-quoted string (which interpolates nothing):
/// the backslash and the quote escaped, every control character as `\u{…}`.
pub fn quote_nu(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the Nushell hook applies, as JSON data (Nushell runs no code it is
/// handed): `{"set": {NAME: value}, "unset": [NAME], "genfile": path}`; and the
/// names of the values left out, which are not UTF-8 and so cannot be a
/// Nushell string.
pub fn render_nu(
    changes: &[(String, Option<Value>)],
    generation_file: Option<&Path>,
) -> (String, Vec<String>) {
    let mut set = serde_json::Map::new();
    let mut unset = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in changes {
        match value {
            None => unset.push(serde_json::Value::String(name.clone())),
            Some(v) => match std::str::from_utf8(v.as_bytes()) {
                Ok(text) => {
                    set.insert(name.clone(), serde_json::Value::String(text.into()));
                }
                Err(_) => skipped.push(name.clone()),
            },
        }
    }
    let genfile = generation_file.and_then(|p| p.to_str()).unwrap_or_default();
    let answer = serde_json::json!({ "set": set, "unset": unset, "genfile": genfile });
    let mut text = String::from_utf8_lossy(&crate::protocol::to_json(&answer)).into_owned();
    text.push('\n');
    (text, skipped)
}

/// Quotes `value` as a Python bytes literal: printable ASCII as it is, every
/// other byte as `\xhh`. The xonsh hook decodes it as the OS does
/// (`os.fsdecode`), so any bytes reach the environment unchanged.
pub fn quote_python_bytes(value: &Value) -> String {
    quote_hex(value, "b'", b'\'')
}

/// `value` between `open` and `close`: printable ASCII as it is but `close` and
/// the backslash (escaped), every other byte as `\xhh`.
fn quote_hex(value: &Value, open: &str, close: u8) -> String {
    let mut out = String::from(open);
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            _ if b == close => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(close as char);
    out
}

/// Python calls for `changes`, run by the xonsh hook with its own `__dwell_set`
/// and `__dwell_unset` (and nothing else) in scope.
pub fn render_xonsh(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        let name = quote_python_bytes(&Value::from(name.as_str()));
        match value {
            Some(value) => out.push_str(&format!(
                "__dwell_set({name}, {})\n",
                quote_python_bytes(value)
            )),
            None => out.push_str(&format!("__dwell_unset({name})\n")),
        }
    }
    out
}

/// Quotes `value` for elvish as a double-quoted string: printable ASCII as it is
/// (elvish does not interpolate), every other byte as `\xhh`, which elvish keeps
/// as that byte.
pub fn quote_elvish(value: &Value) -> String {
    quote_hex(value, "\"", b'"')
}

/// Elvish code for `changes`: `set-env` and `unset-env`.
pub fn render_elvish(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes {
        let name = quote_elvish(&Value::from(name.as_str()));
        match value {
            Some(value) => out.push_str(&format!("set-env {name} {}\n", quote_elvish(value))),
            None => out.push_str(&format!("unset-env {name}\n")),
        }
    }
    out
}

/// Quotes `value` for bash and zsh as `$'…'`, which carries every byte but NUL.
pub fn quote_posix(value: &Value) -> String {
    let mut out = String::with_capacity(value.0.len() + 3);
    out.push_str("$'");
    for &b in &value.0 {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

/// Code for bash or zsh that sets (Some) or unsets (None) each variable.
pub fn render_posix(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    // Names are written unquoted: only identifiers, whatever the caller passed.
    for (name, value) in changes
        .iter()
        .filter(|(n, _)| crate::recipe::is_valid_name(n))
    {
        match value {
            Some(v) => {
                out.push_str("export ");
                out.push_str(name);
                out.push('=');
                out.push_str(&quote_posix(v));
                out.push_str(";\n");
            }
            None => {
                out.push_str("unset ");
                out.push_str(name);
                out.push_str(";\n");
            }
        }
    }
    out
}

/// Quotes `value` for fish, byte-exact: plain characters stay, every other byte is
/// written as fish's `\xHH` escape (a raw byte, so invalid UTF-8 survives) and other
/// Unicode as `\UXXXXXXXX`. An empty value is `''`.
pub fn quote_fish(value: &Value) -> String {
    if value.0.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(value.0.len() + 8);
    for chunk in value.0.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                'a'..='z'
                | 'A'..='Z'
                | '0'..='9'
                | '_'
                | '.'
                | '/'
                | ':'
                | ','
                | '+'
                | '='
                | '@'
                // Values follow `--` (and an executable's path starts with `/`),
                // so a dash is never taken for an option.
                | '-' => out.push(c),
                c if c.is_ascii() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether fish treats `name` as a path variable (a list joined with `:` on export).
fn fish_path_var(name: &str) -> bool {
    name.ends_with("PATH")
}

/// Code for fish. Path variables (PATH, MANPATH, …) are set as fish lists, one
/// element per entry, so `$PATH` stays a list in the user's shell.
pub fn render_fish(changes: &[(String, Option<Value>)]) -> String {
    let mut out = String::new();
    for (name, value) in changes
        .iter()
        .filter(|(n, _)| crate::recipe::is_valid_name(n))
    {
        match value {
            Some(v) if fish_path_var(name) && !v.0.is_empty() => {
                out.push_str(&format!("set -gx -- {name}"));
                for entry in crate::recipe::split_list(&v.0) {
                    out.push(' ');
                    out.push_str(&quote_fish(&entry));
                }
                out.push_str(";\n");
            }
            Some(v) => out.push_str(&format!("set -gx -- {name} {};\n", quote_fish(v))),
            None => out.push_str(&format!("set -e -g {name};\n")),
        }
    }
    out
}
