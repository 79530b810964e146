//! The environment recipe: what a project changes in a shell, as operations
//! (`Set`, `Unset`, `Prepend`, `Append`), computed as the difference between the
//! capture shell's base environment and the environment after the devShell ran.

use crate::protocol::{Op, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An environment: variable name to value. Names are always valid UTF-8 here;
/// variables with other names are dropped where environments are read.
pub type Env = BTreeMap<String, Value>;

/// Variables that hold colon-separated lists, where a project adds entries to the
/// shell's own value instead of replacing it.
pub const LIST_VARS: &[&str] = &[
    "PATH",
    "XDG_DATA_DIRS",
    "XDG_CONFIG_DIRS",
    "MANPATH",
    "INFOPATH",
];

/// The placeholder Nix writes into PATH when a derivation sets none.
const PATH_NOT_SET: &[u8] = b"/path-not-set";

/// A list of operations, applied in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    pub ops: Vec<Op>,
}

/// Whether a variable never crosses from the capture shell into the user's shell:
/// the capture's temporary dirs (deleted after it), bash internals, and the
/// variables that describe the user's own session.
pub fn is_stripped(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "TMP",
        "TMPDIR",
        "TEMP",
        "TEMPDIR",
        "NIX_BUILD_TOP",
        "SHLVL",
        "PWD",
        "OLDPWD",
        "_",
        "SHELLOPTS",
        "BASHOPTS",
        "HOME",
        "TERM",
        "USER",
        "LOGNAME",
        "SHELL",
        "HOSTNAME",
        "DWELL_STATE",
        "IN_NIX_SHELL_PID",
    ];
    EXACT.contains(&name) || name.starts_with("BASH") || name.starts_with("__dwell")
}

/// Whether `name` can be assigned in every shell dwell emits code for.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

pub fn split_list(value: &[u8]) -> Vec<Value> {
    if value.is_empty() {
        return Vec::new();
    }
    value
        .split(|&b| b == b':')
        .map(|e| Value(e.to_vec()))
        .collect()
}

pub fn join_list(entries: &[Value]) -> Value {
    Value(
        entries
            .iter()
            .map(|e| e.0.clone())
            .collect::<Vec<_>>()
            .join(&b':'),
    )
}

/// The recipe that turns `base` into `result`, leaving out stripped variables.
pub fn diff(base: &Env, result: &Env) -> Recipe {
    let mut ops = Vec::new();
    for (name, value) in result {
        if is_stripped(name) {
            continue;
        }
        let value = if name == "PATH" {
            strip_path_placeholder(value)
        } else {
            value.clone()
        };
        match base.get(name) {
            Some(old) if *old == value => {}
            Some(old) if LIST_VARS.contains(&name.as_str()) => {
                ops.extend(list_ops(name, old, &value));
            }
            // A list the capture shell did not have (XDG_DATA_DIRS, MANPATH, …):
            // the project's entries go in front of the user's own.
            None if LIST_VARS.contains(&name.as_str()) && !value.0.is_empty() => {
                ops.push(Op::Prepend {
                    name: name.clone(),
                    entries: split_list(&value.0),
                });
            }
            _ => ops.push(Op::Set {
                name: name.clone(),
                value,
            }),
        }
    }
    for name in base.keys() {
        if !result.contains_key(name) && !is_stripped(name) {
            ops.push(Op::Unset { name: name.clone() });
        }
    }
    Recipe { ops }
}

fn strip_path_placeholder(value: &Value) -> Value {
    let entries: Vec<Value> = split_list(&value.0)
        .into_iter()
        // An empty entry would put the current directory on PATH.
        .filter(|e| e.0 != PATH_NOT_SET && !e.0.is_empty())
        .collect();
    join_list(&entries)
}

/// Prepend/Append when the base list survives as a contiguous run inside the result,
/// otherwise a plain Set.
fn list_ops(name: &str, old: &Value, new: &Value) -> Vec<Op> {
    let old = split_list(&old.0);
    let new_entries = split_list(&new.0);
    if !old.is_empty() && old.len() <= new_entries.len() {
        for start in (0..=new_entries.len() - old.len()).rev() {
            if new_entries[start..start + old.len()] == old[..] {
                let mut ops = Vec::new();
                if start > 0 {
                    ops.push(Op::Prepend {
                        name: name.to_string(),
                        entries: new_entries[..start].to_vec(),
                    });
                }
                if start + old.len() < new_entries.len() {
                    ops.push(Op::Append {
                        name: name.to_string(),
                        entries: new_entries[start + old.len()..].to_vec(),
                    });
                }
                return ops;
            }
        }
    }
    vec![Op::Set {
        name: name.to_string(),
        value: new.clone(),
    }]
}

/// Applies one operation to an environment.
pub fn apply_op(env: &mut Env, op: &Op) {
    match op {
        Op::Set { name, value } => {
            env.insert(name.clone(), value.clone());
        }
        Op::Unset { name } => {
            env.remove(name);
        }
        Op::Prepend { name, entries } => {
            let mut list = entries.clone();
            list.extend(env.get(name).map(|v| split_list(&v.0)).unwrap_or_default());
            env.insert(name.clone(), join_list(&list));
        }
        Op::Append { name, entries } => {
            let mut list = env.get(name).map(|v| split_list(&v.0)).unwrap_or_default();
            list.extend(entries.iter().cloned());
            env.insert(name.clone(), join_list(&list));
        }
    }
}

/// How the devShell's shellHook ran in the capture shell.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HookRun {
    /// What it printed (stdout and stderr), replayed when a shell enters.
    #[serde(default)]
    pub output: String,
    /// It did not finish within this many seconds and was stopped with its
    /// whole process group: the environment is the devShell's without it.
    #[serde(default)]
    pub stopped_after_s: Option<u64>,
}

/// Where a generation's Nix environment came from: evaluated, or taken from the
/// project's `dwell.lock` (the environment a teammate's evaluation made,
/// substituted from a binary cache).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Origin {
    /// Nix evaluated the project, which has no `dwell.lock`.
    #[default]
    Evaluated,
    /// The environment `dwell.lock` names: nothing was evaluated.
    Lock,
    /// Nix evaluated the project although it has a `dwell.lock`, for this reason.
    LockNotUsed { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect()
    }

    #[test]
    fn path_keeps_base_and_drops_placeholder() {
        let base = env(&[("PATH", "/usr/bin:/bin"), ("GONE", "x"), ("HOME", "/h")]);
        let result = env(&[
            ("PATH", "/path-not-set:/nix/a/bin:/usr/bin:/bin:/late"),
            ("FOO", "bar"),
            ("TMPDIR", "/tmp/nix-shell.1"),
            ("HOME", "/h"),
        ]);
        let ops = diff(&base, &result).ops;
        assert_eq!(
            ops,
            vec![
                Op::Set {
                    name: "FOO".into(),
                    value: "bar".into()
                },
                Op::Prepend {
                    name: "PATH".into(),
                    entries: vec!["/nix/a/bin".into()]
                },
                Op::Append {
                    name: "PATH".into(),
                    entries: vec!["/late".into()]
                },
                Op::Unset {
                    name: "GONE".into()
                },
            ]
        );
    }

    #[test]
    fn placeholder_only_path_changes_nothing() {
        let base = env(&[("PATH", "/usr/bin")]);
        let result = env(&[("PATH", "/path-not-set:/usr/bin")]);
        assert!(diff(&base, &result).ops.is_empty());
    }

    #[test]
    fn replaced_list_is_a_set() {
        let base = env(&[("PATH", "/usr/bin")]);
        let result = env(&[("PATH", "/only")]);
        assert_eq!(
            diff(&base, &result).ops,
            vec![Op::Set {
                name: "PATH".into(),
                value: "/only".into()
            }]
        );
    }

    #[test]
    fn a_list_new_to_the_base_extends_the_users() {
        let base = env(&[("PATH", "/usr/bin")]);
        let result = env(&[("PATH", "/usr/bin"), ("XDG_DATA_DIRS", "/nix/a/share")]);
        assert_eq!(
            diff(&base, &result).ops,
            vec![Op::Prepend {
                name: "XDG_DATA_DIRS".into(),
                entries: vec!["/nix/a/share".into()]
            }]
        );
    }

    #[test]
    fn names() {
        assert!(is_valid_name("_a1"));
        assert!(!is_valid_name("1a"));
        assert!(!is_valid_name("a-b"));
        assert!(!is_valid_name(""));
    }

    #[test]
    fn apply_prepend_to_unset_and_set() {
        let mut e = Env::new();
        apply_op(
            &mut e,
            &Op::Prepend {
                name: "P".into(),
                entries: vec!["/a".into()],
            },
        );
        assert_eq!(e["P"], Value::from("/a"));
        apply_op(
            &mut e,
            &Op::Append {
                name: "P".into(),
                entries: vec!["/z".into()],
            },
        );
        assert_eq!(e["P"], Value::from("/a:/z"));
    }
}
