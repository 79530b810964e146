//! Turning the daemon's answer into changes to one shell's environment: undo the
//! project being left (three-way), apply the new one, and say what happened — the
//! client half of a request, with no I/O of its own.

use crate::paths::tildify;
use crate::protocol::Op;
use crate::protocol::Trust;
use crate::protocol::Value;
use crate::protocol::{Freshness, ProjectInfo, Resolution, Served};
use crate::recipe::{Env, is_valid_name};
use crate::state::{self, Loaded, State, Told, undo};
use std::collections::BTreeSet;

mod message;
pub use message::Message;

/// What the shell must do.
#[derive(Debug, Default)]
pub struct Plan {
    /// The environment the shell should end up with.
    pub env: Env,
    /// Variables to set (Some) or unset (None), `DWELL_STATE` included.
    pub changes: Vec<(String, Option<Value>)>,
    /// Lines for stderr, without the `dwell: ` prefix.
    pub messages: Vec<Message>,
}

/// Reads the current process environment (names that are not UTF-8 are skipped:
/// dwell never touches them).
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, Value::from(v.as_os_str()))))
        .collect()
}

/// The state recorded in `env`, if any; a corrupt one is reported and dropped.
pub fn read_state(env: &Env, messages: &mut Vec<Message>) -> State {
    match env.get(state::VAR) {
        None => State::default(),
        Some(text) => match State::decode(&text.lossy()) {
            Ok(s) => s,
            Err(e) => {
                messages.push(Message::Warning(e.to_string()));
                State::default()
            }
        },
    }
}

/// `env` with the loaded project (if any) undone: the shell as it was before dwell.
pub fn without_project(env: &Env) -> Env {
    let mut messages = Vec::new();
    let mut env = env.clone();
    if let Some(loaded) = read_state(&env, &mut messages).loaded {
        undo(&mut env, &loaded);
    }
    env.remove(state::VAR);
    env
}

fn tell_once(state: &mut State, root: &std::path::Path, what: Told) -> bool {
    let told = Some((root.to_path_buf(), what));
    if state.told == told {
        return false;
    }
    state.told = told;
    true
}

/// The notes served with the loaded environment, each a warning, said once per
/// text: a held or failed venv sync reaches a shell sitting in the project at
/// its next prompt, and not again at the prompts after.
fn tell_notes(state: &mut State, notes: &[String], messages: &mut Vec<Message>) {
    let noted = (!notes.is_empty()).then(|| Value::from(notes.join("\n").as_str()).fingerprint());
    if noted.is_some() && noted != state.noted {
        messages.extend(notes.iter().map(|n| Message::Warning(n.clone())));
    }
    state.noted = noted;
}

/// Plans the move of a shell with environment `current` to `resolution`.
/// `reserved` names variables the target shell manages itself: they are skipped.
pub fn plan(current: &Env, resolution: &Resolution, reserved: &dyn Fn(&str) -> bool) -> Plan {
    let mut messages = Vec::new();
    let state = read_state(current, &mut messages);
    let mut env = current.clone();
    env.remove(state::VAR);
    let mut planning = Planning {
        env,
        state,
        messages,
    };
    match &resolution.project {
        None if resolution.error.is_some() => planning.unreadable(resolution),
        None => {
            planning.leave();
            planning.state.told = None;
        }
        Some(project) if !project.trust.permits() => planning.not_permitted(project),
        Some(project) => planning.permitted(project, resolution, reserved),
    }
    let Planning {
        mut env,
        state,
        messages,
    } = planning;
    if !state.is_empty() {
        env.insert(state::VAR.into(), Value::from(state.encode()));
    }
    let changes = changes(current, &env);
    Plan {
        env,
        changes,
        messages,
    }
}

/// A plan being made: the shell's environment as it will be, dwell's state in
/// it, and what to tell the user.
struct Planning {
    env: Env,
    state: State,
    messages: Vec<Message>,
}

impl Planning {
    /// Unloads what is loaded (leaving a project always does).
    fn leave(&mut self) {
        self.state.noted = None;
        if let Some(loaded) = self.state.loaded.take() {
            undo(&mut self.env, &loaded);
            self.messages.push(Message::Unloaded(tildify(&loaded.root)));
        }
    }

    /// The directory could not be read, or a project's .dwell.toml is broken.
    /// Another project than the loaded one: leaving always unloads. The loaded
    /// one's own file, or nothing known: what is loaded stays.
    fn unreadable(&mut self, resolution: &Resolution) {
        let elsewhere = match (&self.state.loaded, &resolution.error_root) {
            (Some(loaded), Some(root)) => loaded.root != *root,
            _ => false,
        };
        if elsewhere {
            self.leave();
            self.state.told = None;
        }
        self.messages
            .push(Message::Error(resolution.error.clone().unwrap_or_default()));
    }

    /// A project not allowed (yet, or since an edit), denied, or another user's.
    fn not_permitted(&mut self, project: &ProjectInfo) {
        // An edit to an allowed project keeps what this shell loaded from the
        // allowed bytes (the new ones are not run) until `dwell allow` or a `cd`
        // out: a typo and its fix cost one allow, not three.
        let keep = matches!(project.trust, Trust::Changed { .. }) && self.is_loaded(project);
        if !keep {
            self.leave();
        }
        let root = tildify(&project.root);
        let kind = project.kind.label();
        let text = match &project.trust {
            Trust::Denied => None,
            Trust::Changed { files } if keep => Some(format!(
                "{root} ({kind}): {} changed since you allowed it; keeping the environment you allowed until you review (`dwell status`) and run `dwell allow`",
                files.join(", ")
            )),
            Trust::Changed { files } => Some(format!(
                "{root} ({kind}): {} changed since you allowed it; review with `dwell status`, then run `dwell allow`",
                files.join(", ")
            )),
            Trust::OtherOwner { file, owner } => Some(format!(
                "{root} ({kind}) is ignored: {file} belongs to {owner}, not to you, and whoever owns a project's files decides what runs in your shell"
            )),
            Trust::Unreadable { file, reason } => Some(format!(
                "{root} ({kind}) is not activated: {file} cannot be read as a regular file ({reason}); fix or remove it"
            )),
            _ => Some(format!(
                "{root} ({kind}) is not allowed yet; run `dwell allow` to activate it (for your own trees, `trusted = [\"~/src\"]` in dwell's config.toml)"
            )),
        };
        if tell_once(
            &mut self.state,
            &project.root,
            Told::Trust(project.trust.label().into()),
        ) && let Some(text) = text
        {
            self.messages.push(Message::Info(text));
        }
    }

    fn is_loaded(&self, project: &ProjectInfo) -> bool {
        self.state
            .loaded
            .as_ref()
            .is_some_and(|l| l.root == project.root)
    }

    /// A project dwell may activate: its environment (loaded already, new, or
    /// none yet), whether one is on its way, and its evaluation's error.
    fn permitted(
        &mut self,
        project: &ProjectInfo,
        resolution: &Resolution,
        reserved: &dyn Fn(&str) -> bool,
    ) {
        let same_root = self.is_loaded(project);
        match &resolution.env {
            // Loaded already: only what the notes say now is news, once.
            Some(served)
                if same_root
                    && self
                        .state
                        .loaded
                        .as_ref()
                        .is_some_and(|l| l.key == served.key) =>
            {
                tell_notes(&mut self.state, &served.notes, &mut self.messages);
            }
            Some(served) => {
                if !same_root {
                    self.leave();
                } else if let Some(loaded) = self.state.loaded.take() {
                    undo(&mut self.env, &loaded);
                }
                self.load(project, served, resolution.pending, reserved);
            }
            None if same_root => {}
            None => self.leave(),
        }
        if resolution.pending {
            let what = if resolution.env.is_some() {
                "the last good environment until then"
            } else {
                "the shell goes on without it, and it arrives at a later prompt"
            };
            self.messages.push(Message::Info(format!(
                "{} ({}): evaluating in the background; {what}",
                tildify(&project.root),
                project.kind.label()
            )));
        }
        match &resolution.error {
            Some(error) => {
                let what = Told::Error(Value::from(error.as_str()).fingerprint());
                if tell_once(&mut self.state, &project.root, what) {
                    let kept = if resolution.env.is_some() || same_root {
                        "; keeping the last good environment"
                    } else {
                        ""
                    };
                    self.messages.push(Message::Error(format!(
                        "{} ({}): evaluation failed{kept}:\n{error}",
                        tildify(&project.root),
                        project.kind.label()
                    )));
                }
            }
            None => {
                if self
                    .state
                    .told
                    .as_ref()
                    .is_some_and(|(r, _)| *r == project.root)
                {
                    self.state.told = None;
                }
            }
        }
    }

    /// Applies `served` (nothing of the project is loaded now), keeping the
    /// shell's prompt and skipping what no shell may be handed.
    fn load(
        &mut self,
        project: &ProjectInfo,
        served: &Served,
        pending: bool,
        reserved: &dyn Fn(&str) -> bool,
    ) {
        let before = self.env.clone();
        let mut prompts = BTreeSet::new();
        let ops: Vec<Op> = served
            .ops
            .iter()
            .filter(|op| {
                if crate::shell::is_prompt(op.name()) {
                    prompts.insert(op.name().to_string());
                    return false;
                }
                let why = if !is_valid_name(op.name()) {
                    "not a valid shell variable name"
                } else if crate::shell::is_dwell_own(op.name()) {
                    "dwell uses it itself"
                } else if reserved(op.name()) {
                    "this shell or dwell's hook manages it itself"
                } else {
                    return true;
                };
                self.messages.push(Message::Warning(format!(
                    "skipped variable {:?}: {why}",
                    op.name()
                )));
                false
            })
            .cloned()
            .collect();
        let loaded: Loaded = state::apply(
            &mut self.env,
            project.root.clone(),
            served.key.clone(),
            &ops,
        );
        self.state.loaded = Some(loaded);
        self.messages.push(Message::Loaded {
            root: tildify(&project.root),
            kind: project.kind.label().to_string(),
            freshness: served.freshness,
            eval_ms: served.eval_ms,
            summary: summary(&before, &self.env),
            venv: served.venv.clone(),
            venv_synced: served.venv_synced,
            from_lock: served.from_lock,
            pending,
        });
        if !served.hook_output.trim().is_empty() {
            self.messages.push(Message::HookOutput {
                text: served.hook_output.trim_end().to_string(),
                just_ran: served.freshness == Freshness::Evaluated,
            });
        }
        if !prompts.is_empty() {
            let names: Vec<&str> = prompts.iter().map(String::as_str).collect();
            self.messages.push(Message::Info(format!(
                "kept your prompt: the project's environment sets {}, and a prompt stays the shell's own",
                names.join(", ")
            )));
        }
        self.state.told = None;
        tell_notes(&mut self.state, &served.notes, &mut self.messages);
    }
}

/// The variables whose values differ between `from` and `to`.
pub fn changes(from: &Env, to: &Env) -> Vec<(String, Option<Value>)> {
    let names: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    names
        .into_iter()
        .filter(|n| from.get(*n) != to.get(*n))
        .map(|n| (n.clone(), to.get(n).cloned()))
        .collect()
}

/// `+3 -1 ~PATH`: variables added, removed, and the names of those modified.
fn summary(before: &Env, after: &Env) -> String {
    let mut added = 0;
    let mut removed = 0;
    let mut modified = Vec::new();
    for (name, value) in changes(before, after) {
        match (before.contains_key(&name), value.is_some()) {
            (false, true) => added += 1,
            (true, false) => removed += 1,
            _ => modified.push(name),
        }
    }
    let mut parts = Vec::new();
    if added > 0 {
        parts.push(format!("+{added}"));
    }
    if removed > 0 {
        parts.push(format!("-{removed}"));
    }
    let shown = modified.len().min(3);
    for name in &modified[..shown] {
        parts.push(format!("~{name}"));
    }
    if modified.len() > shown {
        parts.push(format!("~{} more", modified.len() - shown));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests;
