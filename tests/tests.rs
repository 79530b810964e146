//! Integration tests, built as one binary: real nix, real daemon, real shells.

// expect_used is for shipped code: a test may state what it expects this way.
#![allow(clippy::expect_used)]

#[macro_use]
mod util;

mod daemon;
mod direnv;
mod docs;
mod faults;
mod flows;
mod fresh;
mod gc;
mod locks;
mod nushell;
mod packaging;
mod quoting;
mod security;
mod seed;
mod shells;
mod ship;
mod structure;
mod team;
mod tracing;
mod venv;
