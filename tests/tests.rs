//! Integration tests, built as one binary: real nix, real daemon, real shells.

#[macro_use]
mod util;

mod daemon;
mod flows;
mod fresh;
mod gc;
mod packaging;
mod quoting;
mod shells;
mod ship;
mod tracing;
mod venv;
