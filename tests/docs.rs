//! The examples people copy run when pasted: the guide's `.dwell.toml` and user
//! config, every key line of `dwell.toml(5)`, and the README's install steps after
//! `cargo install` (completions, man pages found by `man` with no MANPATH). The
//! README stays a front door, and every link of it and of docs/ leads somewhere.

use crate::util::*;
use std::path::{Path, PathBuf};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The user guide, where the README's examples of the config files live.
fn guide() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md")).unwrap()
}

/// A heading's anchor as GitHub makes it: lower case, spaces to hyphens, other
/// punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file's headings (outside fenced blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn the_readme_is_a_front_door_and_every_link_leads_somewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = readme();
    assert!(
        readme.lines().count() <= 250,
        "the README is {} lines: move the detail to docs/",
        readme.lines().count()
    );
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    files.extend(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.starts_with("http") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let dest = match path {
                "" => file.clone(),
                _ => file.parent().unwrap().join(path),
            };
            assert!(dest.exists(), "{}: {target} leads nowhere", file.display());
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&dest).unwrap();
                assert!(
                    anchors(&text).iter().any(|a| a == fragment),
                    "{}: no heading for #{fragment} in {}",
                    file.display(),
                    dest.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

/// The first fenced block of language `lang` after the line `heading`.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &text[start..];
    let open = format!("```{lang}\n");
    let from = rest.find(&open).expect("a fenced block") + open.len();
    let len = rest[from..].find("```").expect("a closed block");
    rest[from..from + len].to_string()
}

#[test]
fn the_readme_dwell_toml_example_is_valid_as_pasted() {
    let w = World::new();
    let example = block_after(&guide(), "## `.dwell.toml`", "toml");
    let p = w.project(
        "pasted",
        &[
            (".dwell.toml", &example),
            (
                "nix/dev.nix",
                "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {}\n",
            ),
            ("requirements.txt", "\n"),
        ],
    );
    if let Err(e) = dwell::ProjectConfig::load(&p) {
        panic!("the README's .dwell.toml example is refused: {e}\n{example}");
    }
    // And as dwell itself reads it: no configuration error in `dwell status`.
    let status = w.ok(&p, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains(".dwell.toml:"), "{text}");
}

#[test]
fn the_readme_user_config_example_is_valid_as_pasted() {
    let w = World::new();
    let example = block_after(&guide(), "## User config", "toml");
    let file = w.dir.join("config.toml");
    std::fs::write(&file, &example).unwrap();
    if let Err(e) = dwell::Settings::load_layers(&[], &file) {
        panic!("the README's user config example is refused: {e}\n{example}");
    }
}

/// Each `.TP` key line of `dwell.toml(5)`, as the TOML it shows, with the
/// section it belongs to (the project file's or the user file's).
fn man_examples() -> Vec<(bool, String)> {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/dwell.toml.5"))
            .unwrap();
    let mut project = true;
    let mut out = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if line.starts_with(".SH USER FILE") {
            project = false;
        }
        if line.starts_with(".SH FILES") {
            break;
        }
        if line != ".TP" {
            continue;
        }
        let key = lines.next().unwrap_or_default();
        let plain = key
            .replace("\\fB", "")
            .replace("\\fI", "")
            .replace("\\fR", "")
            .replace("\\-", "-");
        // `[venv] path = ".venv"`: a key of a table.
        let toml = match plain.strip_prefix('[') {
            Some(rest) => {
                let (table, key) = rest.split_once("] ").expect("a table and a key");
                format!("[{table}]\n{key}\n")
            }
            None => format!("{plain}\n"),
        };
        out.push((project, toml));
    }
    out
}

#[test]
fn every_key_line_of_the_dwell_toml_man_page_is_valid() {
    let examples = man_examples();
    assert!(examples.len() >= 20, "{examples:?}");
    let w = World::new();
    for (i, (project, toml)) in examples.iter().enumerate() {
        let dir = w.dir.join(format!("man-{i}"));
        std::fs::create_dir_all(dir.join("nix")).unwrap();
        std::fs::write(dir.join("nix/dev.nix"), "{}\n").unwrap();
        let result = if *project {
            std::fs::write(dir.join(".dwell.toml"), toml).unwrap();
            dwell::ProjectConfig::load(&dir).map(|_| ())
        } else {
            std::fs::write(dir.join("config.toml"), toml).unwrap();
            dwell::Settings::load_layers(&[], &dir.join("config.toml")).map(|_| ())
        };
        if let Err(e) = result {
            panic!("dwell.toml(5) shows {toml:?}, which is refused: {e}");
        }
    }
}

/// The README's steps after `cargo install`, run as written in a fresh HOME with
/// dwell in `~/.cargo/bin`: completions land where bash-completion looks, and
/// `man` finds every page without a MANPATH.
#[test]
fn the_readme_install_steps_run_and_man_finds_the_pages() {
    if require("man").is_none() {
        return;
    }
    let w = World::new();
    let steps = block_after(&readme(), "With cargo", "sh");
    let home = w.dir.join("fresh-home");
    let bin = home.join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(DWELL, bin.join("dwell")).unwrap();
    let script: String = steps
        .lines()
        .filter(|l| !l.starts_with("cargo install"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(script.contains("completions"), "{steps}");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = run_ok(
        std::process::Command::new("bash")
            .args(["-euc", &script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env("HOME", &home)
            .env("PATH", &path),
    );
    assert!(out.status.success());
    let completion = home.join(".local/share/bash-completion/completions/dwell");
    assert!(
        std::fs::read_to_string(&completion)
            .unwrap()
            .contains("dwell"),
        "no completion at {}",
        completion.display()
    );
    for page in ["dwell", "dwell-allow", "dwell.toml"] {
        let out = std::process::Command::new("man")
            .args(["-w", page])
            .env_clear()
            .env("HOME", &home)
            .env("PATH", &path)
            .output()
            .unwrap();
        let found = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            out.status.success() && found.starts_with(&home),
            "man -w {page}: {} {}",
            found.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
