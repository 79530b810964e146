//! The layering ARCHITECTURE.md describes, checked on the source: imports run one
//! way, so the wire format, the CLI definitions and the libraries can each be read
//! (and changed) without the layers above them.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// Every `crate::…` module a source file names, as `(file, module)`.
fn crate_imports() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut imports = Vec::new();
    for file in sources(&src) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let module: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            imports.push((rel.clone(), module));
        }
    }
    assert!(imports.len() > 100, "the scan found the sources");
    imports
}

#[test]
fn imports_run_one_way() {
    let imports = crate_imports();
    let broken: Vec<String> = imports
        .iter()
        .filter(|(file, module)| {
            let in_dir = |d: &str| file.starts_with(&format!("{d}/"));
            // protocol and cli depend on nothing else in the crate.
            let bottom = (in_dir("protocol") || file == "cli.rs") && module != "protocol";
            // Libraries know nothing of the commands or the daemon.
            let library = !in_dir("cmd") && !in_dir("daemon") && file != "main.rs";
            let upward = library && (module == "cmd" || module == "daemon");
            // Only the commands and the daemon talk to sockets.
            let socket = library && file != "client.rs" && module == "client";
            bottom || upward || socket
        })
        .map(|(file, module)| format!("{file} imports crate::{module}"))
        .collect();
    assert!(
        broken.is_empty(),
        "imports that run upward:\n{}",
        broken.join("\n")
    );
}
