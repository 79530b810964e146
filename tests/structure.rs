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

/// A source file of unit tests: `tests.rs`, or a file under a `tests/` folder.
fn is_test(rel: &str) -> bool {
    rel.ends_with("tests.rs") || rel.contains("/tests/")
}

#[test]
fn the_modules_import_each_other_in_no_circle() {
    // Module to the modules it names (a folder counts as one module; tests
    // left out).
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in sources(&src) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        if is_test(&rel) {
            continue;
        }
        let module = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let code = shipped_code(&file);
        for (i, _) in code.match_indices("crate::") {
            let named: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if named != module && !named.is_empty() {
                graph.entry(module.clone()).or_default().insert(named);
            }
        }
    }
    assert!(graph.len() > 20, "the scan found the modules");
    // A depth-first walk: a module met again on the current path closes a circle.
    fn walk(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        module: &str,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if !done.insert(module.to_string()) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = walk(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = Default::default();
    for module in graph.keys() {
        if let Some(circle) = walk(&graph, module, &mut Vec::new(), &mut done) {
            panic!("modules that import each other: {}", circle.join(" -> "));
        }
    }
}

/// The source of `file` before its `#[cfg(test)]` module (tests may print).
/// The library's modules are private to the crate but for what the binary
/// needs; the tests reach the rest through the few names lib.rs re-exports. So
/// rustc's dead-code lint sees every function nothing calls.
#[test]
fn the_library_shows_only_what_the_binary_and_tests_use() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let public: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .collect();
    assert_eq!(public, ["cli;", "cmd;", "term;"]);
}

/// Rooms a newcomer can read: no file in src/ over 400 lines, no function over
/// 90 (a handful sit between 80 and 90; the rest are shorter).
#[test]
fn files_and_functions_stay_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for file in sources(&src) {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > 400 {
            long.push(format!("{rel}: {} lines", lines.len()));
        }
        for (i, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            let indent = &line[..line.len() - code.len()];
            let code = code
                .strip_prefix("pub(crate) ")
                .or_else(|| code.strip_prefix("pub(super) "))
                .or_else(|| code.strip_prefix("pub "))
                .unwrap_or(code);
            if !code.starts_with("fn ") || line.trim_end().ends_with(';') {
                continue;
            }
            // The function ends at the first `}` at its own indentation.
            let end = lines[i..]
                .iter()
                .position(|l| *l == format!("{indent}}}"))
                .unwrap_or(0);
            if end + 1 > 90 {
                let name = code[3..].split(['(', '<']).next().unwrap_or("");
                long.push(format!("{rel}: fn {name} is {} lines", end + 1));
            }
        }
    }
    assert!(long.is_empty(), "split these: {long:#?}");
}

fn shipped_code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    match ["#[cfg(test)]", "#[cfg(all(test"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
    {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[test]
fn only_the_printer_prints() {
    // term.rs escapes what it prints; hook.rs writes shell code for `eval`.
    let allowed = ["term.rs", "cmd/hook.rs"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut printing = Vec::new();
    let files = sources(&src);
    assert!(files.len() > 40, "the scan found the sources");
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        if allowed.contains(&rel.as_str()) {
            continue;
        }
        let code = shipped_code(&file);
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            let calls = ["println!", "eprintln!", "print!", "eprint!", "dbg!"];
            let prints = calls.iter().any(|mac| {
                line.match_indices(mac).any(|(at, _)| {
                    let before = line[..at].chars().next_back();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            });
            if prints {
                printing.push(format!("{rel}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        printing.is_empty(),
        "print through crate::term (say!, show!), which escapes what projects control:\n{}",
        printing.join("\n")
    );
}

#[test]
fn project_files_are_read_only_through_the_bounded_reader() {
    // Where a plain read is allowed, and why: each names only files dwell wrote
    // itself in its private directories, or the system's own.
    let allowed = [
        (
            "safe_fs.rs",
            "the bounded, non-blocking, regular-files-only reader",
        ),
        ("cache/generation.rs", "dwell's own cache entries"),
        ("cache/store.rs", "dwell's own cache entries"),
        ("cache/gc.rs", "dwell's own GC root records"),
        (
            "eval/capture.rs",
            "the capture shell's dumps, in dwell's temp directory",
        ),
        ("eval/tools.rs", "dwell's own cached `nix --version`"),
        ("cmd/doctor.rs", "the system's own files"),
        ("cmd/stop.rs", "/proc"),
    ];
    // (Files opened to write or lock, with OpenOptions, read nothing.)
    let reads = ["fs::read(", "fs::read_to_string(", "File::open("];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in sources(&src) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        if allowed.iter().any(|(f, _)| *f == rel) || is_test(&rel) {
            continue;
        }
        for (n, line) in shipped_code(&file).lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && reads.iter().any(|r| code.contains(r)) {
                found.push(format!("{rel}:{}: {code}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "read what a project or another user controls through crate::safe_fs (read_regular, open_regular):\n{}",
        found.join("\n")
    );
}

/// Each function in a test file: its name and its body (up to the next one).
fn functions(text: &str) -> Vec<(String, String)> {
    let starts: Vec<usize> = text.match_indices("\nfn ").map(|(i, _)| i + 1).collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &at)| {
            let end = starts.get(k + 1).copied().unwrap_or(text.len());
            let body = &text[at..end];
            let name: String = body[3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (name, body.to_string())
        })
        .collect()
}

#[test]
fn tests_that_reach_a_tool_through_the_stand_in_nixpkgs_ask_for_it() {
    // The stand-in's uv and poetry run the machine's: a test that puts them in
    // a shell must check for them, so plain `cargo test` skips it where they
    // are missing (and fails it under CI), never fails on "no uv here".
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut unchecked = Vec::new();
    let mut seen = 0;
    for file in sources(&dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let fns = functions(&text);
        // What a function reaches: its body and those of the same file's
        // functions it calls, a few levels down.
        let reaches = |body: &str, needle: &str| {
            let mut bodies = vec![body.to_string()];
            for _ in 0..3 {
                let called: Vec<String> = fns
                    .iter()
                    .filter(|(name, _)| bodies.iter().any(|b| b.contains(&format!("{name}("))))
                    .map(|(_, b)| b.clone())
                    .collect();
                bodies.extend(called);
            }
            bodies.iter().any(|b| b.contains(needle))
        };
        for (name, body) in &fns {
            let is_test = text
                .find(&format!("fn {name}("))
                .is_some_and(|at| text[..at].trim_end().ends_with("#[test]"));
            if !is_test {
                continue;
            }
            for tool in ["uv", "poetry"] {
                // The tool in a shell.nix it writes, or named to a helper that
                // writes one (`shell_nix(&["uv"], …)`).
                let named = body.contains(&format!("[\"{tool}\"]"))
                    || body.contains(&format!("&[\"{tool}\""));
                if named || reaches(body, &format!("pkgs.{tool}")) {
                    seen += 1;
                    let asks = body.contains(&format!("\"{tool}\""))
                        && (body.contains("need!(") || body.contains("require("));
                    if !asks {
                        unchecked.push(format!("{}: {name} ({tool})", file.display()));
                    }
                }
            }
        }
    }
    assert!(seen >= 5, "the scan found the lock tests ({seen})");
    assert!(
        unchecked.is_empty(),
        "tests that run a stand-in tool without need!/require:\n{}",
        unchecked.join("\n")
    );
}
