//! `DWELL_STATE`: what the loaded project changed in this shell, so that leaving it
//! can be undone three-way (a variable is restored only if it still holds what dwell
//! set; of a list, only dwell's entries are removed).

use crate::protocol::Op;
use crate::protocol::Value;
use crate::recipe::{Env, apply_op, join_list, split_list};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The name of the exported variable that carries the state.
pub const VAR: &str = "DWELL_STATE";
const FORMAT: u32 = 1;

/// How one variable was changed by the loaded project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Change {
    /// Replaced or removed: the previous value (None: was unset) and a fingerprint
    /// of what dwell left there (None: dwell unset it).
    Scalar {
        n: String,
        prev: Option<Value>,
        set: Option<String>,
    },
    /// Entries added to a list, at the front and at the back.
    List {
        n: String,
        front: Vec<Value>,
        back: Vec<Value>,
        was_unset: bool,
    },
}

/// A project loaded in this shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    #[serde(with = "crate::protocol::os_path")]
    pub root: PathBuf,
    /// Identifies the environment that was applied (generation and layers).
    pub key: String,
    pub changes: Vec<Change>,
}

/// Everything dwell remembers in the shell between two prompts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub v: u32,
    pub loaded: Option<Loaded>,
    /// The project root whose "not allowed" or error line was already shown, with
    /// what was shown, so it is shown once per entry.
    #[serde(default)]
    #[serde(with = "told_at")]
    pub told: Option<(PathBuf, Told)>,
    /// The fingerprint of the notes last shown with the loaded environment (a
    /// venv sync held or failed), so a shell sitting in the project hears a new
    /// one once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noted: Option<String>,
}

/// `told` with its path encoded as any other (`os_path`).
mod told_at {
    use super::Told;
    use crate::protocol::Value;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

    pub fn serialize<S: Serializer>(
        told: &Option<(PathBuf, Told)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        told.as_ref()
            .map(|(root, what)| (Value::from(root.as_os_str()), what.clone()))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<(PathBuf, Told)>, D::Error> {
        let told = Option::<(Value, Told)>::deserialize(d)?;
        Ok(told.map(|(root, what)| (PathBuf::from(OsString::from_vec(root.0)), what)))
    }
}

/// A line already shown for a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Told {
    /// Why it may not be activated (the trust state's label).
    Trust(String),
    /// An evaluation error, by the fingerprint of its message.
    Error(String),
}

impl From<Told> for String {
    fn from(told: Told) -> String {
        match told {
            Told::Trust(label) => label,
            Told::Error(fingerprint) => format!("error:{fingerprint}"),
        }
    }
}

impl From<String> for Told {
    fn from(text: String) -> Told {
        match text.strip_prefix("error:") {
            Some(fingerprint) => Told::Error(fingerprint.to_string()),
            None => Told::Trust(text),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("DWELL_STATE is not a state this dwell wrote; ignoring it")]
pub struct CorruptState;

impl State {
    pub fn decode(text: &str) -> Result<State, CorruptState> {
        let bytes = B64.decode(text.trim()).map_err(|_| CorruptState)?;
        let state: State = serde_json::from_slice(&bytes).map_err(|_| CorruptState)?;
        if state.v != FORMAT {
            return Err(CorruptState);
        }
        // The names end up in shell code: only identifiers dwell itself would set.
        let names_ok = state
            .loaded
            .iter()
            .flat_map(|l| &l.changes)
            .all(|c| match c {
                Change::Scalar { n, .. } | Change::List { n, .. } => {
                    crate::recipe::is_valid_name(n)
                }
            });
        if !names_ok {
            return Err(CorruptState);
        }
        Ok(state)
    }

    pub fn encode(&self) -> String {
        let mut copy = self.clone();
        copy.v = FORMAT;
        B64.encode(crate::protocol::to_json(&copy))
    }

    pub fn is_empty(&self) -> bool {
        self.loaded.is_none() && self.told.is_none()
    }
}

/// Reverts the loaded project's changes in `env`, keeping what the user changed since.
pub fn undo(env: &mut Env, loaded: &Loaded) {
    for change in loaded.changes.iter().rev() {
        match change {
            Change::Scalar { n, prev, set } => {
                let now = env.get(n).map(Value::fingerprint);
                if now == *set {
                    match prev {
                        Some(value) => env.insert(n.clone(), value.clone()),
                        None => env.remove(n),
                    };
                }
            }
            Change::List {
                n,
                front,
                back,
                was_unset,
            } => {
                let Some(current) = env.get(n) else { continue };
                let mut entries = split_list(&current.0);
                for entry in front {
                    if let Some(i) = entries.iter().position(|e| e == entry) {
                        entries.remove(i);
                    }
                }
                for entry in back {
                    if let Some(i) = entries.iter().rposition(|e| e == entry) {
                        entries.remove(i);
                    }
                }
                if entries.is_empty() && *was_unset {
                    env.remove(n);
                } else {
                    env.insert(n.clone(), join_list(&entries));
                }
            }
        }
    }
}

/// Applies `ops` to `env` and records how to undo them.
pub fn apply(env: &mut Env, root: PathBuf, key: String, ops: &[Op]) -> Loaded {
    let original = env.clone();
    let mut scalar: BTreeSet<&str> = BTreeSet::new();
    let mut touched: Vec<&str> = Vec::new();
    for op in ops {
        let name = op.name();
        if !touched.contains(&name) {
            touched.push(name);
        }
        if matches!(op, Op::Set { .. } | Op::Unset { .. }) {
            scalar.insert(name);
        }
        apply_op(env, op);
    }
    let mut changes = Vec::new();
    for name in touched {
        let before = original.get(name);
        let after = env.get(name);
        if scalar.contains(name) {
            if before != after {
                changes.push(Change::Scalar {
                    n: name.to_string(),
                    prev: before.cloned(),
                    set: after.map(Value::fingerprint),
                });
            }
            continue;
        }
        let mut front = Vec::new();
        let mut back = Vec::new();
        for op in ops.iter().filter(|op| op.name() == name) {
            match op {
                // Later prepends land in front of earlier ones.
                Op::Prepend { entries, .. } => {
                    front.splice(0..0, entries.iter().cloned());
                }
                Op::Append { entries, .. } => back.extend(entries.iter().cloned()),
                _ => unreachable!("scalar ops are handled above"),
            }
        }
        changes.push(Change::List {
            n: name.to_string(),
            front,
            back,
            was_unset: before.is_none(),
        });
    }
    Loaded { root, key, changes }
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

    fn ops() -> Vec<Op> {
        vec![
            Op::Set {
                name: "FOO".into(),
                value: "nix".into(),
            },
            Op::Unset {
                name: "PYTHONPATH".into(),
            },
            Op::Prepend {
                name: "PATH".into(),
                entries: vec!["/nix/bin".into()],
            },
            Op::Prepend {
                name: "PATH".into(),
                entries: vec!["/venv/bin".into()],
            },
            Op::Set {
                name: "NEW".into(),
                value: "1".into(),
            },
        ]
    }

    #[test]
    fn undo_restores_exactly() {
        let before = env(&[("FOO", "mine"), ("PYTHONPATH", "/p"), ("PATH", "/usr/bin")]);
        let mut e = before.clone();
        let loaded = apply(&mut e, "/r".into(), "k".into(), &ops());
        assert_eq!(e["PATH"], Value::from("/venv/bin:/nix/bin:/usr/bin"));
        assert!(!e.contains_key("PYTHONPATH"));
        undo(&mut e, &loaded);
        assert_eq!(e, before);
    }

    #[test]
    fn undo_keeps_user_changes() {
        let mut e = env(&[("PATH", "/usr/bin")]);
        let loaded = apply(&mut e, "/r".into(), "k".into(), &ops());
        // The user adds a PATH entry and changes FOO while inside.
        e.insert("PATH".into(), "/mine:/venv/bin:/nix/bin:/usr/bin".into());
        e.insert("FOO".into(), "user".into());
        undo(&mut e, &loaded);
        assert_eq!(e["PATH"], Value::from("/mine:/usr/bin"));
        assert_eq!(e["FOO"], Value::from("user"));
        assert!(!e.contains_key("NEW"));
    }

    #[test]
    fn list_added_to_unset_var_is_removed_on_leave() {
        let mut e = Env::new();
        let loaded = apply(
            &mut e,
            "/r".into(),
            "k".into(),
            &[Op::Prepend {
                name: "XDG_DATA_DIRS".into(),
                entries: vec!["/a".into()],
            }],
        );
        undo(&mut e, &loaded);
        assert!(e.is_empty());
    }

    #[test]
    fn encode_decode() {
        let mut e = env(&[("PATH", "/usr/bin")]);
        let state = State {
            v: 0,
            loaded: Some(apply(&mut e, "/r".into(), "k".into(), &ops())),
            told: None,
            noted: None,
        };
        let back = State::decode(&state.encode()).unwrap();
        assert_eq!(back.loaded, state.loaded);
        assert!(State::decode("garbage!").is_err());
        // A state that would smuggle shell code in as a variable name.
        let mut hostile = state.clone();
        if let Some(Change::Scalar { n, .. }) = hostile.loaded.as_mut().unwrap().changes.first_mut()
        {
            *n = "a;echo INJECTED;b".into();
        }
        assert!(State::decode(&hostile.encode()).is_err());
        assert!(State::decode("").is_err());
    }
}
