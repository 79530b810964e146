//! `dwell allow [--file FILE]` / `dwell deny`: records the user's trust decision
//! for a project; with `--file`, first makes FILE the project's entry.

use super::{dir_or_cwd, notify_daemon};
use crate::paths::{Paths, tildify};
use crate::project::discover;
use crate::trust::TrustStore;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What the user decided about a project.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `other_owner`: files of another user are accepted too (`--other-owner`).
    Allow {
        other_owner: bool,
    },
    Deny,
}

pub fn run(
    dir: Option<PathBuf>,
    file: Option<PathBuf>,
    decision: Decision,
) -> anyhow::Result<ExitCode> {
    let dir = dir_or_cwd(dir)?;
    if let Some(file) = &file {
        use_file(&dir, file)?;
    }
    let trust = TrustStore::new(&Paths::from_env()?.data);
    let Some(project) = discover(&dir)? else {
        bail!(
            "no project at {}: no flake.nix, shell.nix, default.nix, .dwell.toml or .venv here or above{}",
            dir.display(),
            nix_files_hint(&dir)
        );
    };
    let verb = match decision {
        Decision::Allow { .. } => "allowed",
        Decision::Deny => "denied",
    };
    if decision == (Decision::Allow { other_owner: false })
        && let Some((file, owner)) = crate::trust::other_owner(&project)
    {
        bail!(
            "{}: {file} belongs to {owner}, not to you; whoever owns a project's files decides what runs in your shell, so dwell does not allow it (`dwell allow --other-owner` if you mean to)",
            tildify(&project.root)
        );
    }
    match decision {
        Decision::Allow { other_owner } => trust.allow(&project, other_owner),
        Decision::Deny => trust.deny(&project),
    }
    .with_context(|| {
        format!(
            "could not record the decision for {}",
            project.root.display()
        )
    })?;
    notify_daemon();
    crate::say!("dwell: {verb} {}", what_was_decided(&project));
    Ok(ExitCode::SUCCESS)
}

/// `~/p (shell.nix, .dwell.toml)`: the root and the files the decision covers
/// that exist, each once; the kind first when no file names it (`flake: …`).
fn what_was_decided(project: &crate::project::Project) -> String {
    let files: Vec<String> = project
        .trusted_files()
        .into_iter()
        .filter(|name| std::fs::symlink_metadata(project.root.join(name)).is_ok())
        .collect();
    let kind = project.kind().label();
    let mut list = match files.iter().any(|f| f == kind) {
        true => files.join(", "),
        false if files.is_empty() => kind.to_string(),
        false => format!("{kind}: {}", files.join(", ")),
    };
    // What a venv sync may install from is allowed with the project.
    if let Ok(inputs) = crate::venv::Inputs::of(&project.root, &project.config)
        && !inputs.files.is_empty()
    {
        list.push_str(&format!("; venv from {}", inputs.names()));
    }
    format!("{} ({list})", tildify(&project.root))
}

/// Writes `file = "FILE"` into `dir`'s `.dwell.toml`, keeping every other line
/// (comments included): a top-level `file =` line is replaced, else the line is
/// put first, where top-level keys belong.
fn use_file(dir: &Path, file: &Path) -> anyhow::Result<()> {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    if !dir.join(relative).is_file() {
        bail!("{} has no file {}", dir.display(), relative.display());
    }
    let name = relative
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", relative.display()))?;
    let line = format!("file = {}", toml::Value::String(name.to_string()));
    let config = dir.join(".dwell.toml");
    let old = crate::safe_fs::read_project_text(&config)?.unwrap_or_default();
    let mut lines: Vec<String> = old.lines().map(String::from).collect();
    let top_level = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let existing = lines[..top_level].iter().position(|l| {
        l.trim_start()
            .strip_prefix("file")
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match existing {
        Some(i) => lines[i] = line,
        None => lines.insert(0, line),
    }
    let mut text = lines.join("\n");
    text.push('\n');
    // The result must still be a valid .dwell.toml before it replaces the old one.
    toml::from_str::<crate::config::ProjectConfig>(&text)
        .map_err(|e| anyhow::anyhow!("{} would not be valid: {}", config.display(), e.message()))?;
    // Replaced, never written through: a `.dwell.toml` that is a link stays
    // pointing where it did, and dwell writes only the project's own file.
    crate::paths::write_atomic(&config, text.as_bytes())
        .with_context(|| format!("could not write {}", config.display()))
}

/// ` (found python-env.nix: run `dwell allow --file python-env.nix`)` when `dir`
/// has Nix files that are not a project's usual entry.
pub fn nix_files_hint(dir: &Path) -> String {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".nix"))
        .collect();
    found.sort();
    match found.first() {
        Some(first) => format!(
            "; it has {}: `dwell allow --file {first}` uses {}",
            found.join(", "),
            if found.len() > 1 { "the first" } else { "it" }
        ),
        None => String::new(),
    }
}
