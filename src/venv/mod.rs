//! The Python `.venv` of a project: the layer applied on top of the Nix environment
//! (its `bin` first on PATH, Nix's Python paths kept out), its creation and sync
//! with the project's requirements using the Nix environment's python, and the
//! checks that find a venv broken by a garbage-collected or upgraded python.
//!
//! A venv cannot be moved (its scripts name their interpreter by absolute path), so
//! dwell builds each venv in place under `<venv>.d/<n>` and makes `<venv>` a
//! symlink to it, swapped atomically once the install succeeded: a failed install
//! leaves the previous venv untouched.
//!
//! The rooms: [`layer`] (the layer on top, the Nix python, health checks),
//! [`wanted`] (what a project asks to install, and whether a venv has it),
//! [`installed`] (what a venv holds, read from its `*.dist-info`), [`git`]
//! (keeping the venvs out of `git status`), [`requires`] (`requires-python`
//! against the Nix python),
//! [`tools`] (running pip, uv and Poetry from the Nix environment) and [`build`]
//! (building a version and swapping it in, replacing only what dwell made).

mod build;
mod git;
mod installed;
mod layer;
mod requires;
#[cfg(test)]
mod tests;
mod tools;
mod wanted;

pub use build::*;
use git::hide_from_git;
pub use installed::*;
pub use layer::*;
pub use requires::*;
pub use tools::*;
pub use wanted::*;

use crate::safe_fs::ReadError;

impl VenvError {
    /// The error with everything the tool said, for `dwell status` and the log.
    pub fn detail(&self) -> String {
        match self {
            VenvError::Install { output, .. } if !output.is_empty() => {
                format!("{self}\n{output}")
            }
            _ => self.to_string(),
        }
    }
}
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("no python3 in the project's Nix environment; add python3 to it, or pass --python")]
    NoPython,
    #[error(
        "{file} needs Python {needs}, and the project's Nix environment has {has}: give shell.nix or flake.nix a python that fits, or change requires-python; nothing was built"
    )]
    NeedsPython {
        file: String,
        needs: String,
        has: String,
    },
    #[error("could not create the venv with {0}: {1}")]
    Create(PathBuf, String),
    /// An installer failed: `files` (what it installed from), its `tool`, the
    /// first line of its output that says why, whether a venv was there before
    /// (it stays), and its whole `output` (for `dwell status` and the log).
    #[error("{files}: {tool} failed: {why}; {}", if *.kept { "the current venv stays as it was" } else { "no venv was made" })]
    Install {
        files: String,
        tool: String,
        why: String,
        kept: bool,
        output: String,
    },
    #[error(
        "{file} needs {tool}, which the project's Nix environment does not have: add pkgs.{tool} to its packages (shell.nix or flake.nix)"
    )]
    ToolMissing {
        file: &'static str,
        tool: &'static str,
    },
    #[error("{} is {what}; dwell leaves it alone (move it, or set [venv] path in .dwell.toml)", .path.display())]
    NotOurs { path: PathBuf, what: &'static str },
    #[error("{0}")]
    Unreadable(#[from] ReadError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
