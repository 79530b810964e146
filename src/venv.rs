//! The Python `.venv` layer: applied on top of the Nix environment so that the
//! venv's `bin` comes first on PATH and Nix's Python paths do not leak into it.

use crate::recipe::Op;
use crate::value::Value;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The prompt name from `pyvenv.cfg` (`prompt = …`), else the venv dir's name.
pub fn prompt(venv: &Path) -> String {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap_or_default();
    cfg.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == "prompt")
        .map(|(_, v)| v.trim().trim_matches(['\'', '"']).to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            venv.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "venv".into())
        })
}

/// The operations that activate `venv`, as its own `bin/activate` would.
pub fn layer(venv: &Path) -> Vec<Op> {
    let bytes = |p: &Path| Value(p.as_os_str().as_bytes().to_vec());
    vec![
        Op::Set {
            name: "VIRTUAL_ENV".into(),
            value: bytes(venv),
        },
        Op::Set {
            name: "VIRTUAL_ENV_PROMPT".into(),
            value: prompt(venv).into(),
        },
        Op::Prepend {
            name: "PATH".into(),
            entries: vec![bytes(&venv.join("bin"))],
        },
        Op::Unset {
            name: "PYTHONHOME".into(),
        },
        Op::Unset {
            name: "PYTHONPATH".into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_from_cfg_or_dir_name() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        std::fs::create_dir(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert_eq!(prompt(&venv), ".venv");
        std::fs::write(venv.join("pyvenv.cfg"), "home = /x\nprompt = 'api'\n").unwrap();
        assert_eq!(prompt(&venv), "api");
    }
}
