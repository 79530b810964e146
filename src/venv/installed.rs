//! What a venv has installed, read from its `*.dist-info` directories, and
//! whether that already satisfies a `poetry.lock`: answered without running
//! Poetry, which loads (and may install) a project's plugins, so that asking
//! about a lock nobody allowed yet runs nothing of the project's.

use std::collections::BTreeMap;
use std::path::Path;

/// A distribution name as PEP 503 compares them: lower case, each run of
/// `-`, `_` and `.` one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distributions installed in `venv`, by normalized name, with versions.
pub fn installed(venv: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let lib = std::fs::read_dir(venv.join("lib")).into_iter().flatten();
    for python in lib.flatten() {
        let site = python.path().join("site-packages");
        for entry in std::fs::read_dir(site).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".dist-info")
                && let Some((name, version)) = stem.rsplit_once('-')
            {
                found.insert(normalize(name), version.to_string());
            }
        }
    }
    found
}

/// Whether `installed` holds every package of a `poetry.lock` that Poetry
/// would install here, at the locked version: each one that is not optional
/// (an extra's) and not conditional (its `markers` may exclude this machine,
/// so one missing is no proof). A lock that cannot be read is not satisfied.
pub fn satisfies_poetry_lock(lock: &[u8], installed: &BTreeMap<String, String>) -> bool {
    let Ok(text) = std::str::from_utf8(lock) else {
        return false;
    };
    let Ok(lock) = text.parse::<toml::Table>() else {
        return false;
    };
    let Some(packages) = lock.get("package").and_then(|p| p.as_array()) else {
        return false;
    };
    packages.iter().all(|package| {
        let field = |key: &str| package.get(key);
        let (Some(name), Some(version)) = (
            field("name").and_then(|v| v.as_str()),
            field("version").and_then(|v| v.as_str()),
        ) else {
            return false;
        };
        let optional = field("optional").and_then(|v| v.as_bool()) == Some(true);
        let conditional = field("markers").is_some();
        match installed.get(&normalize(name)) {
            Some(have) => have == version || optional,
            None => optional || conditional,
        }
    })
}

/// Whether `installed` holds every requirement of pip requirement files that
/// pin exactly (`name==version`, extras and `; markers` allowed): anything else
/// (a range, a URL, a local path, an option) is no proof, and not satisfied.
pub fn satisfies_pins<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    installed: &BTreeMap<String, String>,
) -> bool {
    lines.into_iter().all(|line| {
        let (spec, conditional) = match line.split_once(';') {
            Some((spec, _)) => (spec.trim(), true),
            None => (line.trim(), false),
        };
        let Some((name, version)) = spec.split_once("==") else {
            return false;
        };
        let name = name.split('[').next().unwrap_or_default().trim();
        let version = version.trim();
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '!'))
        };
        if !plain(name) || !plain(version) {
            return false;
        }
        match installed.get(&normalize(name)) {
            Some(have) => have == version,
            None => conditional,
        }
    })
}
