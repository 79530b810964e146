//! `dwell prune [--older-than DUR] [--dry-run]`: drops generations not used since
//! then, with their GC roots, and says what it freed.

use crate::cache::{Cache, ORPHAN_AGE};
use crate::config::{Settings, parse_duration};
use crate::paths::Paths;
use anyhow::Context;
use std::process::ExitCode;

pub fn run(older_than: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let age = parse_duration(older_than)
        .map_err(anyhow::Error::msg)
        .context("could not read --older-than")?;
    let paths = Paths::from_env()?;
    let settings = Settings::load(&paths.user_config()).unwrap_or_default();
    let cache = Cache::new(&paths.cache, settings.generations);
    let pruned = cache.prune(age, dry_run);
    let orphans = cache.prune_orphan_roots(&paths.gcroots(), ORPHAN_AGE, dry_run);
    if !dry_run {
        super::notify_daemon();
    }
    let verb = if dry_run { "would drop" } else { "dropped" };
    crate::say!(
        "dwell: {verb} {} generations of {} projects not used for {older_than} ({} GC roots, {} KiB of cache)",
        pruned.generations,
        pruned.projects.len(),
        pruned.gc_roots,
        pruned.bytes.div_ceil(1024)
    );
    if orphans > 0 {
        let verb = if dry_run { "would remove" } else { "removed" };
        crate::say!("dwell: {verb} {orphans} GC roots that no generation uses");
    }
    for project in &pruned.projects {
        crate::say!("  {}", crate::paths::tildify(project));
    }
    if !dry_run && pruned.gc_roots + orphans > 0 {
        crate::say!("dwell: run nix-collect-garbage to free the store paths they held");
    }
    Ok(ExitCode::SUCCESS)
}
