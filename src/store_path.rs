//! Nix store paths: `<store dir>/<32 nix-base32 chars>-<name>`, found in the values
//! of an environment so that a generation whose store paths were garbage-collected
//! is known to be invalid.
//!
//! This is a small module of our own on purpose: the `nix-compat` crate on crates.io
//! is an empty placeholder (the real one lives in the snix monorepo, under GPL-3.0),
//! and dwell only needs to recognise and validate paths, not read the store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Nix's base-32 alphabet (no e, o, t, u).
const NIX_BASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
const HASH_LEN: usize = 32;

fn valid_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-._?=".contains(&b)
}

/// Parses the store path at the start of `text` (which begins right after
/// `<store dir>/`): returns the length of `<hash>-<name>`, if valid.
fn parse_base_name(text: &[u8]) -> Option<usize> {
    if text.len() < HASH_LEN + 2 || text[HASH_LEN] != b'-' {
        return None;
    }
    if !text[..HASH_LEN].iter().all(|b| NIX_BASE32.contains(b)) {
        return None;
    }
    let name_len = text[HASH_LEN + 1..]
        .iter()
        .take_while(|&&b| valid_name_char(b))
        .count();
    // Names are 1..=211 characters and do not start with a dot.
    if name_len == 0 || name_len > 211 || text[HASH_LEN + 1] == b'.' {
        return None;
    }
    Some(HASH_LEN + 1 + name_len)
}

/// The name part of a store path's base name (`<hash>-<name>` → `<name>`), if
/// it is one.
pub fn name_of(base: &str) -> Option<&str> {
    let len = parse_base_name(base.as_bytes())?;
    (len == base.len()).then(|| &base[HASH_LEN + 1..])
}

/// Every top-level store path mentioned in `text`.
pub fn find_in(text: &[u8], store_dir: &Path, found: &mut BTreeSet<PathBuf>) {
    use std::os::unix::ffi::OsStrExt;
    let mut prefix = store_dir.as_os_str().as_bytes().to_vec();
    prefix.push(b'/');
    let mut i = 0;
    while let Some(at) = find(&text[i..], &prefix) {
        let start = i + at + prefix.len();
        if let Some(len) = parse_base_name(&text[start..]) {
            let mut path = prefix.clone();
            path.extend_from_slice(&text[start..start + len]);
            found.insert(PathBuf::from(std::ffi::OsStr::from_bytes(&path)));
            i = start + len;
        } else {
            i = start;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `path` is a valid top-level store path under `store_dir`.
    fn is_store_path(path: &Path, store_dir: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let Ok(rest) = path.strip_prefix(store_dir) else {
            return false;
        };
        let rest = rest.as_os_str().as_bytes();
        parse_base_name(rest) == Some(rest.len())
    }

    #[test]
    fn names_of_store_paths() {
        assert_eq!(
            name_of("0c2bd9hy2m8gpkb7jh0jycl0lqcmzsn5-python3-3.11.drv"),
            Some("python3-3.11.drv")
        );
        assert_eq!(name_of("not-a-store-path"), None);
        assert_eq!(name_of("0c2bd9hy2m8gpkb7jh0jycl0lqcmzsn5-x y"), None);
    }

    #[test]
    fn recognises_valid_store_paths_only() {
        let store = Path::new("/nix/store");
        assert!(is_store_path(
            Path::new("/nix/store/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-hello"),
            store
        ));
        for bad in [
            "/nix/store/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-hello/bin",
            "/nix/store/gp6jzsdklaf5mj1jvlz35xbqfii28kce-hello",
            "/nix/store/short-hello",
            "/nix/store/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-",
            "/nix/store/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-.hidden",
            "/other/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-hello",
        ] {
            assert!(!is_store_path(Path::new(bad), store), "{bad}");
        }
    }

    #[test]
    fn finds_paths_inside_values() {
        let mut found = BTreeSet::new();
        let text = b"/s/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-hello/bin:/usr/bin:/s/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-py-3.11/lib:/s/bad";
        find_in(text, Path::new("/s"), &mut found);
        let found: Vec<_> = found.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            found,
            [
                "/s/gp6jzsdklaf5mj1jvlz35xbqfii28kcv-hello",
                "/s/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-py-3.11"
            ]
        );
    }
}
