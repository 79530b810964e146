//! The cache: generations of a project's environment, each keyed by the content of
//! every file its evaluation read. A generation is valid while every input still has
//! the recorded content, checked cheaply by stat and re-hashed only when the stat
//! changed (or is too recent to be trusted, as git does).

//!
//! The rooms: [`inputs`] (what a file's recorded state is, and whether it still
//! holds: stat fast path, hashing, directory trees), [`generation`] (one saved
//! environment, its key and its validation), [`store`] (the `Cache` on disk and in
//! memory: lookup, save, trimming) and [`gc`] (GC roots, pruning, orphan roots).

mod gc;
mod generation;
mod inputs;
mod store;

pub use gc::remove_gc_root;
pub use generation::{Generation, Validity, generation_key, validate};
pub use inputs::{FileState, Input, inputs_unchanged, record_inputs, subdirs};
pub use store::{Cache, Lookup};

/// Bumped whenever the on-disk format or the meaning of a key changes.
pub const FORMAT: u32 = 3;
/// A GC root no generation names is removed by a prune once it is this old (a
/// younger one may belong to an evaluation still running).
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(300);

#[cfg(test)]
mod tests;
