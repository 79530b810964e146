//! `dwell direnv`: dwell as direnv's Nix backend. An `.envrc` holding only
//! `eval "$(dwell direnv)"` gets the project's environment from dwell's daemon and
//! cache (the same one dwell's own hook gives), and tells direnv which files to
//! watch: the inputs the evaluation read, and a file the daemon touches when a
//! background evaluation brings a new environment. direnv applies and unloads it;
//! dwell's trust still decides whether anything is evaluated.

use super::resolve_with;
use crate::activate::{Message, plan, process_env};
use crate::cli::HookShell;
use crate::paths::Paths;
use crate::protocol::Value;
use crate::shell::quote_posix;
use crate::status_line::{color_enabled, render};
use std::io::Write;
use std::process::ExitCode;

pub fn run(no_daemon: bool) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let dir = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| anyhow::anyhow!("could not read the current directory: {e}"))?;
    // direnv runs .envrc in the environment from before it loaded anything, and
    // undoes what it applied itself: dwell's own undo state has no part here.
    let mut current = process_env();
    current.remove(crate::state::VAR);
    let asking = super::Asking {
        with_inputs: true,
        prompt: false,
    };
    let resolution = resolve_with(&dir, no_daemon, false, asking)?;
    let reserved = |name: &str| crate::shell::is_reserved(HookShell::Bash, name);
    let plan = plan(&current, &resolution, &reserved);
    let mut code = String::new();
    let mut watched: Vec<(Value, Option<i64>)> = resolution
        .env
        .iter()
        .flat_map(|e| &e.inputs)
        .map(|p| (Value::from(p.as_os_str()), None))
        .collect();
    if let Some(project) = &resolution.project
        && let Some(marker) = project_marker(&project.root)
    {
        // As the marker was before the answer was looked for: an environment
        // that landed since has moved it, and direnv reloads at its next prompt.
        let before = resolution.env.as_ref().and_then(|e| e.marker_mtime);
        watched.push((Value::from(marker.as_os_str()), before));
    }
    if !watched.is_empty() {
        code.push_str(&watch_code(&watched));
    }
    let changes: Vec<_> = plan
        .changes
        .into_iter()
        .filter(|(name, _)| name != crate::state::VAR)
        .collect();
    code.push_str(&crate::shell::render_posix(&changes));
    let color = color_enabled();
    for message in &plan.messages {
        // direnv says what it loaded and unloads itself: dwell's routine lines
        // would repeat it.
        if matches!(message, Message::Unloaded(_)) {
            continue;
        }
        let ms = started.elapsed().as_millis() as u64;
        crate::term::say_rendered(&format!("{}\n", render(message, ms, color)));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(code.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Has direnv watch `paths`. direnv's own `watch_file` starts a `direnv watch`
/// process (about as long again as the rest of a cached answer), so the list is
/// extended here, in direnv's format (`DIRENV_WATCHES`: zlib-compressed JSON of
/// path, modification time and existence, URL-safe base64); a list that does not
/// decode (another direnv's format) falls back to `watch_file`.
fn watch_code(paths: &[(Value, Option<i64>)]) -> String {
    let extended = std::env::var("DIRENV_WATCHES")
        .ok()
        .and_then(|old| watches::extend(&old, paths));
    match extended {
        Some(list) => format!(
            "export DIRENV_WATCHES={}\n",
            quote_posix(&Value::from(list))
        ),
        None => {
            let mut code = String::from("watch_file");
            for (path, _) in paths {
                code.push(' ');
                code.push_str(&quote_posix(path));
            }
            code.push('\n');
            code
        }
    }
}

/// direnv's list of watched files.
mod watches {
    use crate::protocol::Value;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE as B64;
    use serde::{Deserialize, Serialize};
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;

    /// One watched file. direnv (Go) writes the names capitalized and reads them
    /// in any case; both spellings are read here.
    #[derive(Serialize, Deserialize)]
    struct FileTime {
        #[serde(rename = "Path", alias = "path")]
        path: String,
        #[serde(rename = "Modtime", alias = "modtime")]
        modtime: i64,
        #[serde(rename = "Exists", alias = "exists")]
        exists: bool,
    }

    fn decode(text: &str) -> Option<Vec<FileTime>> {
        let compressed = B64.decode(text.trim()).ok()?;
        let mut json = Vec::new();
        flate2::read::ZlibDecoder::new(&compressed[..])
            .take(16 << 20)
            .read_to_end(&mut json)
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    fn encode(list: &[FileTime]) -> Option<String> {
        let json = serde_json::to_vec(list).ok()?;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&json).ok()?;
        Some(B64.encode(z.finish().ok()?))
    }

    /// `old` with `paths` added (as `direnv watch` adds them, or with the
    /// modification time given), or None if `old` is not a list this dwell can
    /// read.
    pub fn extend(old: &str, paths: &[(Value, Option<i64>)]) -> Option<String> {
        let mut list = decode(old)?;
        for (path, given) in paths {
            let path = std::str::from_utf8(path.as_bytes()).ok()?.to_string();
            // As direnv stats: the later of the link's and its target's times.
            let link = std::fs::symlink_metadata(&path).ok();
            let target = std::fs::metadata(&path).ok();
            let modtime = given.or(link.iter().chain(&target).map(|m| m.mtime()).max());
            list.push(FileTime {
                modtime: modtime.unwrap_or(0),
                exists: link.is_some(),
                path,
            });
        }
        encode(&list)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_and_extends_direnvs_list() {
            // What direnv 2.32 wrote for a project with one `watch_file shell.nix`.
            let old = encode(&[FileTime {
                path: "/p/.envrc".into(),
                modtime: 1,
                exists: true,
            }])
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("shell.nix");
            std::fs::write(&file, "{}").unwrap();
            let gone = dir.path().join("gone.nix");
            let new = extend(
                &old,
                &[
                    (Value::from(file.as_os_str()), None),
                    (Value::from(gone.as_os_str()), None),
                    (Value::from(file.as_os_str()), Some(7)),
                ],
            )
            .unwrap();
            let list = decode(&new).unwrap();
            assert_eq!(list.len(), 4);
            assert_eq!(list[3].modtime, 7, "a time given is kept");
            assert_eq!(list[0].path, "/p/.envrc");
            assert!(list[1].exists && list[1].modtime > 0);
            assert!(!list[2].exists);
            assert!(extend("not base64 zlib", &[]).is_none());
        }
    }
}

/// The project's marker file in the runtime dir (made if missing), when the
/// runtime dir passes the ownership check.
fn project_marker(root: &std::path::Path) -> Option<std::path::PathBuf> {
    let paths = Paths::from_env().ok()?;
    crate::client::check_runtime(&paths).ok()?;
    let marker = paths.project_marker(root);
    crate::paths::private_dir(marker.parent()?).ok()?;
    if !marker.exists() {
        crate::paths::write_atomic(&marker, b"").ok()?;
    }
    Some(marker)
}

/// Whether the project at `root` has an `.envrc` that calls `dwell direnv`: then
/// direnv loads it, and dwell's own hook stays out of the way.
pub fn managed_by_direnv(root: &std::path::Path) -> bool {
    crate::safe_fs::read_project_text(&root.join(".envrc"))
        .ok()
        .flatten()
        .is_some_and(|text| {
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("dwell direnv"))
        })
}
