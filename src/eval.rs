//! Evaluation with the real `nix`: `nix print-dev-env` for the project, its script
//! run in a clean `bash --noprofile --norc` to capture the environment, and the
//! files the evaluation read, taken from Nix's `-vv` log.

use crate::process::{RunError, Watch, run};
use crate::project::{Project, Source};
use crate::protocol::Value;
use crate::protocol::{EvalEnv, Kind};
use crate::recipe::{Env, Recipe, diff};
use crate::safe_fs::{MAX_LOCK_FILE, read_regular, read_tail};
use crate::trace::{self, Read, Reads};
use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether a variable changes evaluation, and so travels with each request.
pub fn affects_evaluation(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "NIX_PATH",
        "NIX_CONFIG",
        "NIX_STORE_DIR",
        "NIX_STATE_DIR",
        "NIX_LOG_DIR",
        "NIX_CONF_DIR",
        "NIX_USER_CONF_FILES",
        "NIX_REMOTE",
        "NIXPKGS_CONFIG",
    ];
    EXACT.contains(&name) || name.starts_with("NIXPKGS_ALLOW_")
}

/// The evaluation-relevant part of the current process environment.
pub fn eval_env_from_process() -> EvalEnv {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            affects_evaluation(&k).then(|| (k, Value::from(v.as_os_str())))
        })
        .collect()
}

/// PATH of the capture shell: the system's standard dirs, so that a shellHook finds
/// ordinary tools. The recipe prepends the project's entries to it, and the client
/// prepends the same entries to the user's own PATH.
pub const BASE_PATH: &str =
    "/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/bin:/usr/bin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "nix was not found on PATH; install Nix (Debian: apt-get install nix-bin) and start a new shell"
    )]
    NixMissing,
    #[error("could not run {0}: {1}")]
    Spawn(String, std::io::Error),
    /// Nix failed; `inputs` are the files it had read by then, so an unchanged
    /// broken project is not evaluated again at every prompt.
    #[error("{message}")]
    Nix { message: String, inputs: Reads },
    #[error("evaluation timed out after {} s (eval_timeout in the user config)", .0.as_secs())]
    TimedOut(Duration),
    #[error("the devShell's script failed in the capture shell: {message}")]
    Capture { message: String, inputs: Reads },
    #[error("evaluation was cancelled")]
    Cancelled,
    #[error("the project has no Nix file to evaluate")]
    NothingToEvaluate,
    /// The evaluation succeeded but its result could not be saved.
    #[error("{}", storage_message(.dir, .source))]
    Storage {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What to tell the user when the cache cannot be written: a full disk says so,
/// with what to do.
fn storage_message(dir: &Path, e: &std::io::Error) -> String {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    match e.raw_os_error() {
        Some(ENOSPC) | Some(EDQUOT) => format!(
            "no space left on {}; free space or run `dwell prune` (the last good environment is kept)",
            dir.display()
        ),
        _ => format!("could not save the environment in {}: {e}", dir.display()),
    }
}

impl EvalError {
    fn capture(message: String) -> EvalError {
        EvalError::Capture {
            message,
            inputs: Reads::new(),
        }
    }
}

/// The tools an evaluation uses, found once.
#[derive(Clone, Debug)]
pub struct Tools {
    pub nix: PathBuf,
    pub nix_version: String,
    pub system: String,
    pub bash: PathBuf,
    pub env: PathBuf,
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.is_file() && std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
        })
}

use std::os::unix::fs::PermissionsExt;

impl Tools {
    /// Finds nix, bash and env on PATH and learns nix's version. The version is
    /// remembered in `cache_dir`, keyed by the nix binary's identity, so that a
    /// fresh daemon answers its first request without starting nix.
    pub fn find(cache_dir: Option<&Path>) -> Result<Tools, EvalError> {
        let nix = which("nix").ok_or(EvalError::NixMissing)?;
        let nix_version = nix_version(&nix, cache_dir)?;
        let bash = which("bash").unwrap_or_else(|| "/bin/bash".into());
        let env = ["/usr/bin/env", "/bin/env"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| which("env"))
            .unwrap_or_else(|| "env".into());
        Ok(Tools {
            nix,
            nix_version,
            system: current_system(),
            bash,
            env,
        })
    }
}

/// `nix --version`, from the cache when the binary is the one it was asked of.
fn nix_version(nix: &Path, cache_dir: Option<&Path>) -> Result<String, EvalError> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(nix).unwrap_or_else(|_| nix.to_path_buf());
    let identity = std::fs::metadata(&real).ok().map(|m| {
        format!(
            "{}\0{}\0{}\0{}\0{}",
            real.display(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino()
        )
    });
    let file = cache_dir.map(|d| d.join("nix-version"));
    if let (Some(file), Some(identity)) = (&file, &identity)
        && let Ok(text) = std::fs::read_to_string(file)
        && let Some((key, version)) = text.split_once('\n')
        && key == blake3::hash(identity.as_bytes()).to_hex().as_str()
        && !version.trim().is_empty()
    {
        return Ok(version.trim().to_string());
    }
    let mut cmd = Command::new(nix);
    cmd.arg("--version");
    let out = run(cmd, "nix", &Watch::default())?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if let (Some(file), Some(identity)) = (&file, &identity)
        && out.status.success()
        && file
            .parent()
            .is_some_and(|dir| crate::paths::private_dir(dir).is_ok())
    {
        let key = blake3::hash(identity.as_bytes()).to_hex();
        let _ = crate::paths::write_atomic(file, format!("{key}\n{version}\n").as_bytes());
    }
    Ok(version)
}

/// Nix's name for this platform (what `builtins.currentSystem` says by default).
pub fn current_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{}-{}", std::env::consts::ARCH, os)
}

/// What one evaluation produced.
#[derive(Debug)]
pub struct Evaluation {
    pub recipe: Recipe,
    /// Files the evaluation read, absolute, outside the Nix store, and how.
    pub inputs: Reads,
    /// How the shellHook ran.
    pub hook: HookRun,
    pub duration: Duration,
}

impl From<RunError> for EvalError {
    fn from(e: RunError) -> EvalError {
        match e {
            RunError::Spawn(what, io)
                if what == "nix" && io.kind() == std::io::ErrorKind::NotFound =>
            {
                EvalError::NixMissing
            }
            RunError::Spawn(what, io) => EvalError::Spawn(what, io),
            RunError::TimedOut { limit, .. } => EvalError::TimedOut(limit),
            RunError::Killed(_) => EvalError::Cancelled,
            RunError::Io(io) => EvalError::Io(io),
        }
    }
}

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

/// The names of the derivations an environment was built from: the inputs of the
/// devShell's `-env` derivation, found from the environment's store path.
pub fn packages(tools: &Tools, env_path: &Path, eval_env: &EvalEnv) -> Vec<String> {
    let nix_store = tools.nix.with_file_name("nix-store");
    let mut query = Command::new(&nix_store);
    query
        .env_clear()
        .envs(child_env(eval_env))
        .args(["--query", "--deriver"])
        .arg(env_path);
    let Ok(deriver) = run(query, "nix-store", &Watch::default()) else {
        return Vec::new();
    };
    let drv = String::from_utf8_lossy(&deriver.stdout).trim().to_string();
    if !deriver.status.success() || !drv.ends_with(".drv") {
        return Vec::new();
    }
    let mut show = Command::new(&tools.nix);
    show.env_clear()
        .envs(child_env(eval_env))
        .args([
            "--extra-experimental-features",
            "nix-command",
            "show-derivation",
        ])
        .arg(&drv);
    let Ok(shown) = run(show, "nix", &Watch::default()) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&shown.stdout) else {
        return Vec::new();
    };
    let mut names: Vec<String> = json
        .as_object()
        .into_iter()
        .flat_map(|drvs| drvs.values())
        .filter_map(|d| d["inputDrvs"].as_object())
        .flat_map(|inputs| inputs.keys())
        .filter_map(|path| {
            let base = Path::new(path).file_name()?.to_str()?;
            let name = crate::store_path::name_of(base)?.strip_suffix(".drv")?;
            Some(name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// The files an evaluation read, from its log.
fn log_inputs(log: &str, project: &Project, eval_env: &EvalEnv) -> Reads {
    let flake_root = project
        .flake_lock()
        .and_then(|lock| lock.parent().map(Path::to_path_buf));
    let flake_root = flake_root.as_deref();
    trace::inputs_from_log_for(log, &store_dir(eval_env), flake_root)
}

/// The store directory Nix uses under `eval_env`.
pub fn store_dir(eval_env: &EvalEnv) -> PathBuf {
    eval_env
        .get("NIX_STORE_DIR")
        .map(|v| PathBuf::from(v.as_os_str()))
        .unwrap_or_else(|| "/nix/store".into())
}

/// Environment for child processes: ours without the evaluation variables, plus the
/// request's.
fn child_env(eval_env: &EvalEnv) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !k.to_str().is_some_and(affects_evaluation))
        .collect();
    env.extend(
        eval_env
            .iter()
            .map(|(k, v)| (OsString::from(k), v.as_os_str().to_owned())),
    );
    env
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
    let mut cmd = Command::new(&tools.nix);
    cmd.env_clear()
        .envs(child_env(eval_env))
        .current_dir(&project.root)
        .args([
            "-vv",
            "--extra-experimental-features",
            "nix-command flakes",
            "print-dev-env",
        ])
        // The profile is the GC root that keeps this environment in the store.
        .arg("--profile")
        .arg(profile);
    let mut source = None;
    match kind {
        Kind::Flake => {
            let dir = entry.parent().unwrap_or(&project.root);
            // Nix reads `#` and `?` in a flake reference as the start of an
            // attribute or a query: such a directory would name another flake
            // than the one allowed.
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
                    inputs: trace::contents([entry.clone()]),
                });
            }
            source = flake_source(tools, eval_env, dir, watch);
            let mut flake_ref = dir.as_os_str().to_owned();
            if let Some(attr) = &project.config.attr {
                flake_ref.push("#");
                flake_ref.push(attr);
            }
            // Nix's own evaluation cache would answer without reading anything:
            // dwell caches, and must see every read.
            cmd.arg("--no-eval-cache").arg(flake_ref);
        }
        _ => {
            // Through the tracing wrapper, so that readFile/readDir are seen.
            cmd.args(["--impure", "--expr", trace::WRAPPER, "--argstr", "root"])
                .arg(&project.root)
                .args(["--argstr", "entry"])
                .arg(entry)
                .args(["--argstr", "attr"])
                .arg(project.config.attr.as_deref().unwrap_or(""));
        }
    }
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
        let uses_whole_source = out.status.success()
            && source
                .as_ref()
                .is_some_and(|s| closure_has(tools, eval_env, profile, &s.store));
        // A trace of another copy than the one evaluated (a file changed between
        // `nix flake metadata` and the evaluation) saw nothing of it: no trace.
        let opened = opened.filter(|opened| {
            let evaluated = |s: &FlakeSource| {
                let rel = entry.parent().and_then(|d| d.strip_prefix(&s.origin).ok());
                rel.map(|rel| rel.join("flake.nix"))
            };
            match (opened, source.as_ref().and_then(evaluated)) {
                (Some(opened), Some(flake)) => opened.files.contains_key(&flake),
                _ => true,
            }
        });
        let traced = source.as_ref().zip(opened).map(|(source, opened)| {
            // Lost events, or a devShell built from the source itself: it
            // depends on every file of the copy.
            let opened = match opened {
                Some(opened) if !uses_whole_source => {
                    if trace::source_read_before_evaluation(&log, &source.store) {
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
        // traced, those that are not directories (a `pathExists` opens
        // nothing); else all of them (conservative: more, never fewer).
        let named = trace::path_literal_inputs(&inputs, &project.root);
        let named = named
            .into_iter()
            .filter(|p| traced.is_none() || !p.is_dir());
        for path in named {
            trace::add(&mut inputs, path, Read::Content);
        }
        if let (Some(traced), Some(source)) = (traced, &source) {
            // Within the source, the opens say what was read: the log's "copied
            // source" of a directory there (`src = ./.`) is the copy of what git
            // tracks, which the opens list file by file.
            inputs.retain(|p, _| !(p.starts_with(&source.origin) && p.is_dir()));
            for (path, read) in traced {
                trace::add(&mut inputs, path, read);
            }
        }
    }
    inputs.retain(|p, _| !p.as_os_str().is_empty());
    if !out.status.success() {
        return Err(EvalError::Nix {
            message: error_tail(&log),
            inputs,
        });
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

/// A flake's source as Nix copied it to the store, and where it was copied from.
#[derive(Debug)]
struct FlakeSource {
    store: PathBuf,
    origin: PathBuf,
    /// A git work tree: the copy holds the files git tracks.
    git: bool,
}

/// Asks Nix where the flake in `dir` is copied to (`nix flake metadata`, which
/// also writes a missing flake.lock first, as the evaluation would), so that the
/// evaluation's reads there can be traced. None when Nix cannot say.
fn flake_source(
    tools: &Tools,
    eval_env: &EvalEnv,
    dir: &Path,
    watch: &Watch,
) -> Option<FlakeSource> {
    let metadata = || -> Option<serde_json::Value> {
        let mut cmd = Command::new(&tools.nix);
        cmd.env_clear()
            .envs(child_env(eval_env))
            .current_dir(dir)
            .args([
                "--extra-experimental-features",
                "nix-command flakes",
                "flake",
                "metadata",
                "--json",
            ])
            .arg(dir);
        let out = run(cmd, "nix", watch).ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    };
    // A lock written now changes a git flake's source (Nix 2.26 names the copy
    // from before the write): asked again, Nix names the one it will evaluate.
    let lock = dir.join("flake.lock");
    let read_lock = || read_regular(&lock, MAX_LOCK_FILE).ok().flatten();
    let before = read_lock();
    let mut json = metadata()?;
    if read_lock() != before {
        json = metadata()?;
    }
    let store = PathBuf::from(json["path"].as_str()?);
    let (origin, git) = match json["locked"]["type"].as_str()? {
        // The copy is of the whole work tree; the flake may be in a subdirectory.
        "git" => (
            dir.ancestors()
                .find(|d| d.join(".git").exists())?
                .to_path_buf(),
            true,
        ),
        "path" => (dir.to_path_buf(), false),
        _ => return None,
    };
    let rel = dir.strip_prefix(&origin).ok()?;
    let copied = store.join(rel).join("flake.nix");
    (store.starts_with(store_dir(eval_env)) && copied.is_file()).then_some(FlakeSource {
        store,
        origin,
        git,
    })
}

/// Whether the environment in `profile` was built from `source` itself (`src =
/// self`, `"${self}"`): then it changes with any file of it, read or not.
fn closure_has(tools: &Tools, eval_env: &EvalEnv, profile: &Path, source: &Path) -> bool {
    let nix_store = tools.nix.with_file_name("nix-store");
    let query = |args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(&nix_store);
        cmd.env_clear().envs(child_env(eval_env)).args(args);
        run(cmd, "nix-store", &Watch::default())
            .ok()
            .filter(|out| out.status.success())
            .map(|out| out.stdout)
    };
    let Some(deriver) = query(&[
        "--query".as_ref(),
        "--deriver".as_ref(),
        profile.as_os_str(),
    ]) else {
        // Unknown: assume it was (more inputs, never fewer).
        return true;
    };
    let drv = String::from_utf8_lossy(&deriver).trim().to_string();
    let Some(closure) = query(&["--query".as_ref(), "--requisites".as_ref(), drv.as_ref()]) else {
        return true;
    };
    closure
        .split(|&b| b == b'\n')
        .any(|line| line == source.as_os_str().as_bytes())
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

/// The last line of `nix print-dev-env`'s script runs the shellHook (`eval
/// "$shellHook"` in Nix 2.8, `eval "${shellHook:-}"` in 2.26): the script
/// without it, if it is there, so the capture can run the hook on its own.
fn without_hook_line(script: &[u8]) -> Option<&[u8]> {
    let text = script.trim_ascii_end();
    let start = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last = &text[start..];
    let runs_hook = last == b"eval \"$shellHook\"" || last == b"eval \"${shellHook:-}\"";
    runs_hook.then(|| &script[..start])
}

/// Runs the devShell script in a clean bash and returns its difference from the
/// base, with how its shellHook ran. The environment is dumped once before the
/// shellHook and once after, so a hook that never returns (`jupyter lab`) is
/// stopped after `hook_limit` and the devShell is served without it.
fn capture(
    tools: &Tools,
    project: &Project,
    eval_env: &EvalEnv,
    script: &[u8],
    hook_limit: Duration,
) -> Result<(Recipe, HookRun), EvalError> {
    let tmp = std::env::temp_dir().join(format!(
        "dwell-capture-{}-{}",
        std::process::id(),
        crate::paths::unique()
    ));
    // Made here, new (never an existing directory), so that removing it after
    // removes only what dwell made.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
    }
    let result = (|| {
        let script_path = tmp.join("dev-env.sh");
        let before_path = tmp.join("before-hook.dump");
        let done_path = tmp.join("before-hook.done");
        let after_path = tmp.join("env.dump");
        let hook_path = tmp.join("hook.out");
        let separate = without_hook_line(script);
        std::fs::write(&script_path, separate.unwrap_or(script))?;
        let base = base_env(eval_env, &tmp);
        // $1 script, $2 dump before the hook, $3 its completion mark, $4 the dump
        // after, $5 the hook's output, $6 env.
        let body = if separate.is_some() {
            r#". "$1" 1>&2; "$6" -0 >"$2" && : >"$3"; { eval "${shellHook:-}"; } >"$5" 2>&1 </dev/null; exec "$6" -0 >"$4""#
        } else {
            r#". "$1" >"$5" 2>&1; exec "$6" -0 >"$4""#
        };
        let mut cmd = Command::new(&tools.bash);
        cmd.env_clear()
            .envs(base.iter().map(|(k, v)| (k, v.as_os_str())))
            .current_dir(&project.root)
            .args(["--noprofile", "--norc", "-c", body, "dwell-capture"])
            .args([
                &script_path,
                &before_path,
                &done_path,
                &after_path,
                &hook_path,
                &tools.env,
            ]);
        let watch = Watch {
            timeout: Some(hook_limit),
            ..Watch::default()
        };
        // What a shellHook printed, its last 64 KiB at most (it travels with
        // every answer for the project).
        let hook_output = || {
            let tail = read_tail(&hook_path, 64 << 10).ok().flatten();
            String::from_utf8_lossy(&tail.unwrap_or_default()).into_owned()
        };
        let out = match run(cmd, "bash", &watch) {
            Ok(out) => out,
            // The hook did not return: the environment from before it.
            Err(RunError::TimedOut { limit, .. }) if done_path.exists() => {
                let dump = std::fs::read(&before_path)?;
                let hook = HookRun {
                    output: String::new(),
                    stopped_after_s: Some(limit.as_secs()),
                };
                return Ok((diff(&base, &parse_env_dump(&dump)), hook));
            }
            Err(e) => return Err(e.into()),
        };
        if !out.status.success() {
            let log = String::from_utf8_lossy(&out.stderr).into_owned() + &hook_output();
            let tail: Vec<&str> = log.lines().rev().take(6).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(EvalError::capture(format!(
                "exit status {}{}{}",
                out.status.code().unwrap_or(-1),
                if tail.is_empty() { "" } else { ": " },
                tail.join("\n")
            )));
        }
        let dump = std::fs::read(&after_path)?;
        let hook = HookRun {
            output: hook_output(),
            stopped_after_s: None,
        };
        Ok((diff(&base, &parse_env_dump(&dump)), hook))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The environment the capture shell starts from.
fn base_env(eval_env: &EvalEnv, tmp: &Path) -> Env {
    let mut env = Env::new();
    for name in ["HOME", "USER", "LOGNAME", "LANG", "LC_ALL"] {
        if let Some(v) = std::env::var_os(name) {
            env.insert(name.into(), Value::from(v.as_os_str()));
        }
    }
    env.insert("PATH".into(), BASE_PATH.into());
    env.insert("TERM".into(), "dumb".into());
    env.insert("TMPDIR".into(), Value(tmp.as_os_str().as_bytes().to_vec()));
    env.extend(eval_env.clone());
    env
}

/// Parses `env -0` output.
pub fn parse_env_dump(dump: &[u8]) -> Env {
    let mut env = Env::new();
    let mut seen = HashSet::new();
    for entry in dump.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let Ok(name) = String::from_utf8(entry[..eq].to_vec()) else {
            continue;
        };
        if seen.insert(name.clone()) {
            env.insert(name, Value(entry[eq + 1..].to_vec()));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_tail_starts_at_error() {
        let log = "evaluating file '/x'\nerror: syntax error, unexpected '}'\n\n       at /p/shell.nix:3:1:\n(use '--show-trace' to show detailed location information)\n";
        assert_eq!(
            error_tail(log),
            "error: syntax error, unexpected '}'\n\n       at /p/shell.nix:3:1:"
        );
    }

    #[test]
    fn the_hook_line_is_found_in_both_nix_versions() {
        assert_eq!(
            without_hook_line(b"export A=1\neval \"$shellHook\"\n\n"),
            Some(&b"export A=1\n"[..])
        );
        assert_eq!(
            without_hook_line(b"export A=1\neval \"${shellHook:-}\"\n"),
            Some(&b"export A=1\n"[..])
        );
        assert_eq!(without_hook_line(b"export A=1\n"), None);
    }

    #[test]
    fn env_dump_keeps_any_bytes() {
        let env = parse_env_dump(b"A=1\0B=x=y\nz\0\xff=skip\0C=\xfe\0");
        assert_eq!(env["A"], Value::from("1"));
        assert_eq!(env["B"], Value::from("x=y\nz"));
        assert_eq!(env["C"], Value(vec![0xfe]));
        assert_eq!(env.len(), 3);
    }
}
