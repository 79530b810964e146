//! What changed in a project's trusted files (and venv inputs) since the last
//! allow, as a small line diff against the copies kept then.

use super::{TrustStore, copy_name, read_trusted};
use crate::project::Project;
use crate::safe_fs::{MAX_LOCK_FILE, read_regular};
use crate::venv::Inputs;

impl TrustStore {
    /// What changed in each entry file since the last allow: a line diff against
    /// the copy kept then (`+` added, `-` removed, a few lines of context).
    /// The venv's inputs (lock, requirements) count with them.
    pub fn diff(&self, project: &Project) -> Vec<(String, String)> {
        let copies = self.copies_dir(&project.root);
        let mut now: Vec<(String, Option<Vec<u8>>)> = project
            .trusted_files()
            .into_iter()
            .map(|name| {
                let bytes = read_trusted(project, &name).ok().flatten();
                (name, bytes)
            })
            .collect();
        if let Ok(inputs) = Inputs::of(&project.root, &project.config) {
            now.extend(inputs.files.into_iter().map(|(n, b)| (n, Some(b))));
        }
        let text = |bytes: Option<Vec<u8>>| bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut out = Vec::new();
        for (name, bytes) in now {
            let copy = read_regular(&copies.join(copy_name(&name)), MAX_LOCK_FILE);
            let old = text(copy.ok().flatten());
            let new = text(bytes);
            if old == new {
                continue;
            }
            let text = match (&old, &new) {
                (None, Some(_)) => "(new file)".to_string(),
                (Some(_), None) => "(removed)".to_string(),
                (Some(old), Some(new)) => line_diff(old, new),
                (None, None) => continue,
            };
            out.push((name, text));
        }
        out
    }
}

/// A small line diff (longest common subsequence), with two lines of context.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Entry files are small; a quadratic table is fine, but stay bounded.
    if a.len() * b.len() > 4_000_000 {
        return format!("({} lines before, {} now)", a.len(), b.len());
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as diff prints them.
            lines.push(('-', a[i]));
            i += 1;
        } else {
            lines.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 2).min(lines.len() - 1);
        lines[lo..=hi].iter().any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (c, line)) in lines.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("  …\n");
                skipped = false;
            }
            out.push(*c);
            out.push(' ');
            out.push_str(line);
            out.push('\n');
        } else {
            skipped = true;
        }
    }
    out
}
