//! The one-line messages dwell prints on stderr, colored only when stderr is a
//! terminal and `NO_COLOR` is unset.

use crate::activate::Message;
use crate::protocol::Freshness;
use crate::safe_fs::printable;
use nu_ansi_term::{Color, Style};
use std::io::IsTerminal;

pub fn color_enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        style.paint(text).to_string()
    } else {
        text.to_string()
    }
}

fn duration(ms: u64) -> String {
    if ms >= 1000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

/// Renders `message`; `elapsed_ms` is how long this request took. Control
/// characters in the message (a hostile directory name, Nix's output) are made
/// visible, never sent to the terminal raw.
pub fn render(message: &Message, elapsed_ms: u64, color: bool) -> String {
    let prefix = paint(color, Style::new().bold(), "dwell:");
    let safe = |text: &str| printable(text, false);
    match message {
        Message::Loaded {
            root,
            kind,
            freshness,
            eval_ms,
            summary,
            venv,
            venv_synced,
            from_lock,
            pending,
        } => {
            let mut state = match freshness {
                // The last good one, served while its successor evaluates.
                Freshness::Stale if *pending => {
                    paint(color, Color::Yellow.normal(), "last good · evaluating")
                }
                Freshness::Cached => paint(color, Color::Green.normal(), "cached"),
                Freshness::Evaluated if *from_lock => format!(
                    "{} · {}",
                    paint(color, Color::Cyan.normal(), "from dwell.lock"),
                    duration(*eval_ms)
                ),
                Freshness::Evaluated => format!(
                    "{} · nix {}",
                    paint(color, Color::Cyan.normal(), "evaluated"),
                    duration(*eval_ms)
                ),
                Freshness::Stale => paint(color, Color::Yellow.bold(), "stale"),
            };
            if *venv_synced {
                state.push_str(" · venv synced");
            }
            let venv = venv
                .as_ref()
                .map(|name| format!(" + {}", safe(name)))
                .unwrap_or_default();
            format!(
                "{prefix} {}  {kind} · {state} · total {}  {summary}{venv}",
                paint(color, Style::new().bold(), &safe(root)),
                duration(elapsed_ms),
                kind = safe(kind),
                summary = safe(summary),
            )
            .trim_end()
            .to_string()
        }
        Message::Unloaded(root) => format!("{prefix} unloaded {}", safe(root)),
        Message::Info(text) => format!("{prefix} {}", safe(text)),
        Message::Warning(text) => {
            format!(
                "{prefix} {} {}",
                paint(color, Color::Yellow.bold(), "warning:"),
                safe(text)
            )
        }
        // The project's own output, as nix-shell shows it: no prefix, colors kept.
        Message::HookOutput { text, .. } => crate::safe_fs::printable_with_colors(text),
        Message::Error(text) => {
            let text = printable(text, true);
            format!("{prefix} {}", paint(color, Color::Red.normal(), &text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(freshness: Freshness, venv: Option<&str>, venv_synced: bool) -> Message {
        Message::Loaded {
            root: "~/src/api".into(),
            kind: "shell.nix".into(),
            freshness,
            eval_ms: 2100,
            summary: "+14 ~PATH".into(),
            venv: venv.map(String::from),
            venv_synced,
            from_lock: false,
            pending: false,
        }
    }

    #[test]
    fn the_status_line_labels_its_times_and_names_the_venv() {
        assert_eq!(
            render(
                &loaded(Freshness::Evaluated, Some(".venv"), false),
                2200,
                false
            ),
            "dwell: ~/src/api  shell.nix · evaluated · nix 2.1 s · total 2.2 s  +14 ~PATH + .venv"
        );
        assert_eq!(
            render(&loaded(Freshness::Cached, None, false), 4, false),
            "dwell: ~/src/api  shell.nix · cached · total 4 ms  +14 ~PATH"
        );
        let mut locked = loaded(Freshness::Evaluated, None, false);
        if let Message::Loaded { from_lock, .. } = &mut locked {
            *from_lock = true;
        }
        assert_eq!(
            render(&locked, 2200, false),
            "dwell: ~/src/api  shell.nix · from dwell.lock · 2.1 s · total 2.2 s  +14 ~PATH"
        );
    }

    #[test]
    fn the_last_good_environment_served_while_evaluating_says_so() {
        let mut message = loaded(Freshness::Stale, None, false);
        assert_eq!(
            render(&message, 4, false),
            "dwell: ~/src/api  shell.nix · stale · total 4 ms  +14 ~PATH"
        );
        if let Message::Loaded { pending, .. } = &mut message {
            *pending = true;
        }
        assert_eq!(
            render(&message, 4, false),
            "dwell: ~/src/api  shell.nix · last good · evaluating · total 4 ms  +14 ~PATH"
        );
    }

    #[test]
    fn venv_work_is_not_called_an_evaluation() {
        let line = render(&loaded(Freshness::Cached, Some(".venv"), true), 4600, false);
        assert_eq!(
            line,
            "dwell: ~/src/api  shell.nix · cached · venv synced · total 4.6 s  +14 ~PATH + .venv"
        );
    }
}
