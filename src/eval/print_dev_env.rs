//! One evaluation: `nix print-dev-env` for the project, with what it read traced,
//! and its failure said in its last lines.

use super::*;
use crate::process::{Watch, run};
use crate::project::{Project, Source};
use crate::protocol::{EvalEnv, Kind};
use crate::trace::{self, Read, Reads};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The part of Nix's log worth showing: from the first `error:` line on.
pub fn error_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error:"))
        .unwrap_or(lines.len().saturating_sub(8));
    let tail: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with("(use '--show-trace'"))
        .collect();
    let text = tail.join("\n").trim().to_string();
    if text.is_empty() {
        "nix failed without a message".into()
    } else {
        text
    }
}

/// The files an evaluation read, from its log.
pub(super) fn log_inputs(log: &str, project: &Project, eval_env: &EvalEnv) -> Reads {
    let flake_root = project
        .flake_lock()
        .and_then(|lock| lock.parent().map(Path::to_path_buf));
    let flake_root = flake_root.as_deref();
    trace::inputs_from_log(log, &store_dir(eval_env), flake_root)
}

/// Evaluates `project` (which must be a Nix project) and captures its environment.
/// `profile` becomes a Nix profile (an indirect GC root) of the environment.
pub fn evaluate(
    tools: &Tools,
    project: &Project,
    eval_env: &EvalEnv,
    profile: &Path,
    watch: &Watch,
    hook_limit: Duration,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let Source::Nix { kind, entry } = &project.source else {
        return Err(EvalError::NothingToEvaluate);
    };
    let mut cmd = tools.nix_command(eval_env, Some(&project.root));
    cmd.arg("-vv")
        // The profile is the GC root that keeps this environment in the store.
        .args(["print-dev-env", "--profile"])
        .arg(profile);
    let source = match kind {
        Kind::Flake => flake_target(&mut cmd, tools, project, eval_env, entry, watch)?,
        _ => {
            // Through the tracing wrapper, so that readFile/readDir are seen.
            cmd.args(["--impure", "--expr", trace::WRAPPER, "--argstr", "root"])
                .arg(&project.root)
                .args(["--argstr", "entry"])
                .arg(entry)
                .args(["--argstr", "attr"])
                .arg(project.config.attr.as_deref().unwrap_or(""));
            None
        }
    };
    let tracer = source
        .as_ref()
        .and_then(|s| trace::opens::Trace::start(&s.store));
    let out = run(cmd, "nix", watch);
    let opened = tracer.map(trace::opens::Trace::finish);
    let out = out?;
    let log = String::from_utf8_lossy(&out.stderr);
    let mut inputs = log_inputs(&log, project, eval_env);
    trace::add(&mut inputs, entry.clone(), Read::Content);
    if *kind == Kind::Flake {
        let whole = out.status.success()
            && source
                .as_ref()
                .is_some_and(|s| closure_has(tools, eval_env, profile, &s.store));
        let run = FlakeRun {
            source: source.as_ref(),
            opened,
            uses_whole_source: whole,
            log: &log,
        };
        add_flake_reads(&mut inputs, run, project, entry);
    }
    inputs.retain(|p, _| !p.as_os_str().is_empty());
    if !out.status.success() {
        let message = project_paths(error_tail(&log), source.as_ref());
        return Err(EvalError::Nix { message, inputs });
    }
    // A failing shellHook is a property of the files read, like a Nix error.
    if let Some(on_line) = &watch.on_line {
        on_line("running the shellHook");
    }
    let (recipe, hook) =
        capture(tools, project, eval_env, &out.stdout, hook_limit).map_err(|e| match e {
            EvalError::Capture { message, .. } => EvalError::Capture {
                message,
                inputs: inputs.clone(),
            },
            other => other,
        })?;
    Ok(Evaluation {
        recipe,
        inputs,
        hook,
        duration: started.elapsed(),
    })
}

/// The environment `env` (a `…-env` store path from a `dwell.lock`), without
/// evaluating: `nix build` substitutes it through the user's own substituters
/// and trusted keys when the store lacks it, `print-dev-env` reads it back (Nix
/// takes a store path ending in `-env` as the built environment, as `nix
/// develop` does a profile), and the script is captured here.
pub fn take_built(
    tools: &Tools,
    project: &Project,
    eval_env: &EvalEnv,
    env: &Path,
    profile: &Path,
    watch: &Watch,
    hook_limit: Duration,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let nix = |args: &[&str]| {
        let mut cmd = tools.nix_command(eval_env, Some(&project.root));
        cmd.args(args);
        cmd
    };
    let mut build = nix(&["build", "--no-link"]);
    build.arg(env);
    let out = run(build, "nix", watch)?;
    if !out.status.success() {
        let message = substitution_failure(&String::from_utf8_lossy(&out.stderr));
        return Err(EvalError::Nix {
            message,
            inputs: Reads::new(),
        });
    }
    let mut print = nix(&["print-dev-env", "--profile"]);
    print.arg(profile).arg(env);
    let out = run(print, "nix", watch)?;
    if !out.status.success() {
        return Err(EvalError::Nix {
            message: error_tail(&String::from_utf8_lossy(&out.stderr)),
            inputs: Reads::new(),
        });
    }
    if let Some(on_line) = &watch.on_line {
        on_line("running the shellHook");
    }
    let (recipe, hook) = capture(tools, project, eval_env, &out.stdout, hook_limit)?;
    Ok(Evaluation {
        recipe,
        inputs: Reads::new(),
        hook,
        duration: started.elapsed(),
    })
}

/// Why Nix could not substitute a path, in one line: an untrusted signature is
/// said as such (Nix warns of it, then says only that nothing could build it;
/// 2.8 words it "is not signed by any of the keys", 2.26 "as it's not signed …").
pub fn substitution_failure(log: &str) -> String {
    if log.contains("not signed by any of the keys") {
        return "the binary cache's signature is not among the trusted-public-keys".into();
    }
    let tail = error_tail(log);
    let first = tail.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// Nix's error, naming the project's own files where it named the flake's store
/// copy of them: the user edits the project's file.
fn project_paths(message: String, source: Option<&FlakeSource>) -> String {
    match source.map(|s| (s.store.to_str(), s.origin.to_str())) {
        Some((Some(copy), Some(origin))) => {
            message.replace(&format!("{copy}/"), &format!("{origin}/"))
        }
        _ => message,
    }
}

/// Points `cmd` at the flake whose `flake.nix` is `entry`, and finds the copy of
/// its source Nix evaluates (None: it cannot be traced).
fn flake_target(
    cmd: &mut Command,
    tools: &Tools,
    project: &Project,
    eval_env: &EvalEnv,
    entry: &Path,
    watch: &Watch,
) -> Result<Option<FlakeSource>, EvalError> {
    let dir = entry.parent().unwrap_or(&project.root);
    // Nix reads `#` and `?` in a flake reference as the start of an attribute
    // or a query: such a directory would name another flake than the one
    // allowed.
    if dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(|b| b"#?".contains(b))
    {
        return Err(EvalError::Nix {
            message: format!(
                "{} has `#` or `?` in its path, which Nix reads as part of a flake reference; rename the directory",
                dir.display()
            ),
            inputs: trace::contents([entry.to_path_buf()]),
        });
    }
    let source = flake_source(tools, eval_env, dir, watch);
    let mut flake_ref = dir.as_os_str().to_owned();
    if let Some(attr) = &project.config.attr {
        flake_ref.push("#");
        flake_ref.push(attr);
    }
    // Nix's own evaluation cache would answer without reading anything: dwell
    // caches, and must see every read.
    cmd.arg("--no-eval-cache").arg(flake_ref);
    Ok(source)
}

/// What one evaluation of a flake left to trace it by.
struct FlakeRun<'a> {
    /// The store copy of the source Nix evaluated, when it was found.
    source: Option<&'a FlakeSource>,
    /// The opens inside that copy (the outer None: not traced; the inner: events
    /// were lost).
    opened: Option<Option<trace::opens::Opened>>,
    /// The devShell was built from the source itself (`src = self`).
    uses_whole_source: bool,
    log: &'a str,
}

/// Adds to `inputs` what a flake's evaluation read of the project: the opens in
/// its store copy, mapped back, and the paths its `.nix` files name.
fn add_flake_reads(inputs: &mut trace::Reads, run: FlakeRun, project: &Project, entry: &Path) {
    let FlakeRun {
        source,
        opened,
        uses_whole_source,
        log,
    } = run;
    // A trace of another copy than the one evaluated (a file changed between
    // `nix flake metadata` and the evaluation) saw nothing of it: no trace.
    let opened = opened.filter(|opened| {
        let evaluated = |s: &FlakeSource| {
            let rel = entry.parent().and_then(|d| d.strip_prefix(&s.origin).ok());
            rel.map(|rel| rel.join("flake.nix"))
        };
        match (opened, source.and_then(evaluated)) {
            (Some(opened), Some(flake)) => opened.files.contains_key(&flake),
            _ => true,
        }
    });
    let traced = source.zip(opened).map(|(source, opened)| {
        // Lost events, or a devShell built from the source itself: it depends
        // on every file of the copy.
        let opened = match opened {
            Some(opened) if !uses_whole_source => {
                if trace::source_read_before_evaluation(log, &source.store) {
                    opened.without_one_dump(&source.store)
                } else {
                    opened
                }
            }
            _ => trace::opens::Opened::everything(&source.store).unwrap_or_default(),
        };
        trace::flake_reads(&opened, &source.origin, source.git)
    });
    // The relative paths the flake's .nix files name: where the opens were
    // traced, those that are not directories (a `pathExists` opens nothing);
    // else all of them (conservative: more, never fewer).
    let named = trace::path_literal_inputs(inputs, &project.root);
    let named = named
        .into_iter()
        .filter(|p| traced.is_none() || !p.is_dir());
    for path in named {
        trace::add(inputs, path, Read::Content);
    }
    if let (Some(traced), Some(source)) = (traced, source) {
        // Within the source, the opens say what was read: the log's "copied
        // source" of a directory there (`src = ./.`) is the copy of what git
        // tracks, which the opens list file by file.
        inputs.retain(|p, _| !(p.starts_with(&source.origin) && p.is_dir()));
        for (path, read) in traced {
            trace::add(inputs, path, read);
        }
    }
}
