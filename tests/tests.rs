//! Integration tests, built as one binary: real nix, real daemon, real shells.

#[macro_use]
mod util;

mod daemon;
mod direnv;
mod faults;
mod flows;
mod fresh;
mod gc;
mod locks;
mod packaging;
mod quoting;
mod security;
mod seed;
mod shells;
mod ship;
mod structure;
mod tracing;
mod venv;
