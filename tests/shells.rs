//! The hooks in real interactive bash, zsh and fish on a pseudo-terminal: one set of
//! scenarios, run against each shell, asserting on the environment the shell ends
//! up with (dumped with `env -0`), not on screen text.

use crate::util::*;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sh {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Xonsh,
    Nu,
}

pub const ALL: [Sh; 5] = [Sh::Bash, Sh::Zsh, Sh::Fish, Sh::Elvish, Sh::Xonsh];

impl Sh {
    pub fn name(self) -> &'static str {
        match self {
            Sh::Bash => "bash",
            Sh::Zsh => "zsh",
            Sh::Fish => "fish",
            Sh::Elvish => "elvish",
            Sh::Xonsh => "xonsh",
            Sh::Nu => "nu",
        }
    }

    /// `dwell hook SHELL`, calling `exe` instead of the dwell binary.
    fn hook(self, exe: &Path) -> String {
        // The real binary's hook when it calls itself; with another executable (a
        // counting wrapper), the same rendering from the library, which quotes the
        // path as the shell needs (a textual replace would miss fish's escapes).
        if exe == Path::new(DWELL) {
            let out = Command::new(DWELL)
                .args(["hook", self.name()])
                .output()
                .unwrap();
            assert!(out.status.success());
            return String::from_utf8(out.stdout).unwrap();
        }
        let shell = match self {
            Sh::Bash => dwell::cli::HookShell::Bash,
            Sh::Zsh => dwell::cli::HookShell::Zsh,
            Sh::Fish => dwell::cli::HookShell::Fish,
            Sh::Elvish => dwell::cli::HookShell::Elvish,
            Sh::Xonsh => dwell::cli::HookShell::Xonsh,
            Sh::Nu => dwell::cli::HookShell::Nu,
        };
        dwell::hook(shell, exe)
    }

    /// The startup file: a plain prompt, `pre`, the hook, `post`.
    fn rc(self, pre: &str, hook: &str, post: &str) -> String {
        match self {
            Sh::Bash => format!("PS1='$ '\n{pre}\n{hook}\n{post}\n"),
            Sh::Zsh => {
                format!("PS1='$ '\nunsetopt PROMPT_SP\nPROMPT_EOL_MARK=''\n{pre}\n{hook}\n{post}\n")
            }
            Sh::Fish => format!(
                "set -g fish_greeting\nfunction fish_prompt; printf '$ '; end\n{pre}\n{hook}\n{post}\n"
            ),
            Sh::Elvish => format!(
                "set edit:prompt = {{ put '$ ' }}\nset edit:rprompt = {{ put '' }}\n{pre}\n{hook}\n{post}\n"
            ),
            Sh::Xonsh => format!(
                "$PROMPT = '$ '\n$RIGHT_PROMPT = ''\n$XONSH_HISTORY_BACKEND = 'dummy'\n$XONSH_SHOW_TRACEBACK = True\n{pre}\n{hook}\n{post}\n"
            ),
            // `hook` and `post` name files to source (see Term::start).
            Sh::Nu => format!(
                "$env.config.show_banner = false\n$env.config.use_ansi_coloring = false\n$env.PROMPT_COMMAND = {{|| '$ ' }}\n$env.PROMPT_COMMAND_RIGHT = {{|| '' }}\n$env.PROMPT_INDICATOR = {{|| '' }}\n{pre}\n{hook}\n{post}\n"
            ),
        }
    }

    /// The command that starts this shell interactively with startup file `rc`.
    fn command(self, world: &World, rc: &Path) -> Command {
        let mut cmd = Command::new(self.name());
        cmd.env_clear().envs(&world.env);
        match self {
            Sh::Bash => {
                cmd.args(["--noprofile", "--noediting", "--rcfile"])
                    .arg(rc)
                    .arg("-i");
            }
            Sh::Zsh => {
                let zdot = rc.with_extension("zdotdir");
                std::fs::create_dir_all(&zdot).unwrap();
                std::fs::copy(rc, zdot.join(".zshrc")).unwrap();
                cmd.args(["+Z", "-i"]).env("ZDOTDIR", zdot);
            }
            Sh::Fish => {
                cmd.args(["--no-config", "-i", "-C"])
                    .arg(format!("source '{}'", rc.display()));
            }
            Sh::Elvish => {
                cmd.arg("-rc").arg(rc);
            }
            Sh::Nu => {
                cmd.arg("--config")
                    .arg(rc)
                    .args(["--env-config", "/dev/null", "-i"]);
            }
            Sh::Xonsh => {
                cmd.arg("--rc")
                    .arg(rc)
                    .args(["-i", "--shell-type", "readline"])
                    // Before each prompt xonsh asks the terminal where the cursor
                    // is and reads the answer from stdin, eating lines typed
                    // ahead; it does not ask over SSH (and a pty answers nothing).
                    .env("SSH_CONNECTION", "dwell-test 0 dwell-test 0");
            }
        }
        cmd
    }

    /// A line that prints a marker the shell computes (so the echo of the typed
    /// line never matches it).
    fn marker(self, n: u32) -> (String, String) {
        let line = match self {
            Sh::Bash | Sh::Zsh => format!("echo \"@@$(( {n} * 1000 + 7 ))@@\""),
            Sh::Fish => format!("echo @@(math '{n} * 1000 + 7')@@"),
            Sh::Elvish => format!("echo '@@'(+ (* {n} 1000) 7)'@@'"),
            Sh::Xonsh => format!("echo @(f'@@{{{n} * 1000 + 7}}@@')"),
            Sh::Nu => format!("print $\"@@({n} * 1000 + 7)@@\""),
        };
        (line, format!("@@{}@@", n * 1000 + 7))
    }

    fn prepend_path(self, dir: &str) -> String {
        match self {
            Sh::Bash | Sh::Zsh => format!("PATH={dir}:$PATH"),
            Sh::Fish => format!("set -gx PATH {dir} $PATH"),
            Sh::Elvish => format!("set paths = [{dir} $@paths]"),
            Sh::Xonsh => format!("$PATH.insert(0, '{dir}')"),
            Sh::Nu => format!("$env.PATH = ($env.PATH | prepend '{dir}')"),
        }
    }

    fn set(self, name: &str, value: &str) -> String {
        match self {
            Sh::Bash | Sh::Zsh => format!("{name}={value}"),
            Sh::Fish => format!("set -gx {name} {value}"),
            Sh::Elvish => format!("set-env {name} {value}"),
            Sh::Xonsh => format!("${name} = '{value}'"),
            Sh::Nu => format!("$env.{name} = '{value}'"),
        }
    }

    /// A line that runs the program at `exe` with `args`.
    fn call(self, exe: &str, args: &str) -> String {
        match self {
            // A quoted word is a Python string in xonsh, not a command.
            Sh::Xonsh => format!("@('{exe}') {args}"),
            Sh::Nu => format!("^'{exe}' {args}"),
            _ => format!("'{exe}' {args}"),
        }
    }

    /// A line that prints where `command` is found on PATH.
    fn which(self, command: &str) -> String {
        match self {
            Sh::Elvish => format!("search-external {command}"),
            Sh::Xonsh => format!("which {command}"),
            Sh::Nu => format!("print (which {command} | get 0.path)"),
            _ => format!("command -v {command}"),
        }
    }
}

/// An interactive shell with the dwell hook, driven through a pty.
pub struct Term<'w> {
    world: &'w World,
    pub sh: Sh,
    session: rexpect::session::PtySession,
    n: u32,
}

const TIMEOUT_MS: u64 = 60_000;
/// How xonsh's readline prompt (`$ `) reaches the terminal.
const XONSH_PROMPT: &str = "\r$ ";

impl<'w> Term<'w> {
    fn start(world: &'w World, sh: Sh, exe: &Path, pre: &str, post: &str, cwd: &Path) -> Term<'w> {
        let rc = world.dir.join(format!("rc-{}-{}", sh.name(), unique()));
        // Nushell sources files (at parse time), as its users do the hook.
        let sourced = |code: &str| {
            let file = world.dir.join(format!("hook-{}.nu", unique()));
            std::fs::write(&file, code).unwrap();
            format!("source '{}'", file.display())
        };
        let (hook, post) = match sh {
            Sh::Nu if post.is_empty() => (sourced(&sh.hook(exe)), String::new()),
            Sh::Nu => (sourced(&sh.hook(exe)), sourced(post)),
            _ => (sh.hook(exe), post.to_string()),
        };
        std::fs::write(&rc, sh.rc(pre, &hook, &post)).unwrap();
        let mut cmd = sh.command(world, &rc);
        cmd.current_dir(cwd);
        let mut session = rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
        if sh == Sh::Xonsh {
            session.exp_string(XONSH_PROMPT).unwrap();
        }
        let mut term = Term {
            world,
            sh,
            session,
            n: 0,
        };
        term.answer_cursor_query();
        term.sync();
        term
    }

    fn new(world: &'w World, sh: Sh) -> Term<'w> {
        Term::start(world, sh, Path::new(DWELL), "", "", &world.dir)
    }

    /// Waits until every line sent so far has run; returns what was printed.
    fn sync(&mut self) -> String {
        self.n += 1;
        let (line, expect) = self.sh.marker(self.n);
        self.session.send_line(&line).unwrap();
        let mut screen = self.session.exp_string(&expect).unwrap();
        if self.sh == Sh::Xonsh {
            screen += &self.session.exp_string(XONSH_PROMPT).unwrap();
        }
        screen += &self.answer_cursor_query();
        screen
    }

    /// Runs `line` (the hook runs at the prompt after it) and returns its output.
    fn run(&mut self, line: &str) -> String {
        self.session.send_line(line).unwrap();
        // xonsh runs lines typed ahead without a prompt, so without its
        // pre-prompt hook: the next line goes only once the prompt is back.
        let before = match self.sh {
            Sh::Xonsh => self.session.exp_string(XONSH_PROMPT).unwrap(),
            // What the line printed comes before the next prompt's query.
            Sh::Nu => self.answer_cursor_query(),
            _ => String::new(),
        };
        before + &self.sync()
    }

    fn env(&mut self) -> BTreeMap<String, OsString> {
        let file = self.world.dir.join(format!("dump-{}", unique()));
        let line = match self.sh {
            Sh::Nu => format!("^/usr/bin/env -0 | save -f '{}'", file.display()),
            _ => format!("/usr/bin/env -0 > '{}'", file.display()),
        };
        self.run(&line);
        read_dump(&file)
    }

    /// Nushell's line editor asks the terminal where the cursor is before each
    /// prompt (ESC [ 6 n) and waits for the answer: the test's terminal answers.
    /// Returns what was printed before the question.
    fn answer_cursor_query(&mut self) -> String {
        if self.sh != Sh::Nu {
            return String::new();
        }
        let screen = self.session.exp_string("\x1b[6n").unwrap();
        self.session.send("\x1b[1;1R").unwrap();
        self.session.flush().unwrap();
        screen
    }
}

impl Drop for Term<'_> {
    fn drop(&mut self) {
        let _ = self.session.send_line("exit");
    }
}

pub fn read_dump(file: &Path) -> BTreeMap<String, OsString> {
    let bytes = std::fs::read(file).unwrap();
    bytes
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let eq = e.iter().position(|&b| b == b'=')?;
            Some((
                String::from_utf8(e[..eq].to_vec()).ok()?,
                OsString::from_vec(e[eq + 1..].to_vec()),
            ))
        })
        .collect()
}

pub fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn s(v: Option<&OsString>) -> Option<String> {
    v.map(|v| v.to_string_lossy().into_owned())
}

/// Variables that differ, ignoring what the shells themselves maintain.
fn differences(a: &BTreeMap<String, OsString>, b: &BTreeMap<String, OsString>) -> Vec<String> {
    // zsh exports LOGNAME itself when it is unset; fish resets USER to the real user;
    // each hook exports DWELL_SHELL with its own shell's name.
    let ignore = [
        "DWELL_SHELL",
        "_",
        "OLDPWD",
        "PWD",
        "SHLVL",
        "DWELL_STATE",
        "ZDOTDIR",
        "LOGNAME",
        "USER",
        // xonsh sets it itself (dwell never does: XONSH_* are xonsh's own).
        "XONSH_APPEND_NEWLINE",
        // Nushell's time of the last command: it differs between any two dumps.
        "CMD_DURATION_MS",
    ];
    a.keys()
        .chain(b.keys())
        .filter(|k| !ignore.contains(&k.as_str()))
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn need_shell(sh: Sh) -> bool {
    require(sh.name()).is_some()
}

/// A wrapper around dwell that logs each call, to count the hook's forks.
pub fn counting_wrapper(w: &World) -> (PathBuf, PathBuf) {
    let log = w.dir.join(format!("calls-{}.log", unique()));
    let wrapper = w.dir.join(format!("dwell-wrapper-{}", unique()));
    logging_wrapper(&wrapper, Path::new(DWELL), &log);
    (wrapper, log)
}

fn calls(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|s| s.lines().filter(|l| l.starts_with("export")).count())
        .unwrap_or(0)
}

// ---- the scenarios, each run against every shell ----

fn allow_enter_leave(sh: Sh) {
    let w = World::new();
    let p = w.shell_nix("api");
    let venv = w.venv(&p);
    let mut t = Term::new(&w, sh);
    let outside = t.env();

    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("is not allowed yet"), "{sh:?}: {screen}");
    assert_eq!(s(t.env().get("FOO")), None);

    // The prompt right after `dwell allow` loads the environment.
    let screen = t.run(&sh.call(DWELL, "allow"));
    assert!(
        screen.contains("evaluated") && screen.contains(" nix "),
        "{sh:?}: {screen}"
    );
    let inside = t.env();
    assert_eq!(s(inside.get("FOO")).as_deref(), Some("bar"), "{sh:?}");
    assert_eq!(s(inside.get("HOOKED")).as_deref(), Some("yes"));
    assert_eq!(
        s(inside.get("VIRTUAL_ENV")),
        Some(venv.display().to_string())
    );
    assert_eq!(s(inside.get("PYTHONPATH")), None);
    let which = t.run(&sh.which("python"));
    assert!(
        which.contains(&venv.join("bin/python").display().to_string()),
        "{sh:?}: {which}"
    );
    let hello = t.run("hello");
    assert!(
        hello.contains("hello from the stand-in nixpkgs"),
        "{sh:?}: {hello}"
    );

    // The user adds a PATH entry and sets a variable dwell set; then leaves.
    t.run(&sh.prepend_path("/my/bin"));
    t.run(&sh.set("FOO", "mine"));
    let screen = t.run("cd ..");
    assert!(screen.contains("unloaded"), "{sh:?}: {screen}");
    let after = t.env();
    assert_eq!(s(after.get("FOO")).as_deref(), Some("mine"), "{sh:?}");
    let path = s(after.get("PATH")).unwrap();
    assert_eq!(
        path,
        format!("/my/bin:{}", s(outside.get("PATH")).unwrap()),
        "{sh:?}"
    );
    let mut expected = outside.clone();
    expected.insert("PATH".into(), path.into());
    expected.insert("FOO".into(), "mine".into());
    assert_eq!(
        differences(&expected, &after),
        Vec::<String>::new(),
        "{sh:?}"
    );
}

fn idle_prompts_do_not_fork(sh: Sh) {
    let w = World::new();
    let p = w.allowed_shell_nix("idle");
    let (wrapper, log) = counting_wrapper(&w);
    let mut t = Term::start(&w, sh, &wrapper, "", "", &w.dir);
    t.run(&format!("cd '{}'", p.display()));
    t.run("true");
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"), "{sh:?}");
    let settled = calls(&log);
    for _ in 0..10 {
        t.run("true");
    }
    assert_eq!(
        calls(&log),
        settled,
        "{sh:?}: idle prompts must not call dwell"
    );
    t.run("cd nix");
    assert_eq!(
        calls(&log),
        settled + 1,
        "{sh:?}: a cd calls it exactly once"
    );
    t.run("true");
    assert_eq!(calls(&log), settled + 1, "{sh:?}");
}

fn installed_twice_runs_once(sh: Sh) {
    let w = World::new();
    let p = w.allowed_shell_nix("twice");
    let (wrapper, log) = counting_wrapper(&w);
    let again = sh.hook(&wrapper);
    let mut t = Term::start(&w, sh, &wrapper, "", &again, &w.dir);
    t.run("true");
    let before = calls(&log);
    t.run(&format!("cd '{}'", p.display()));
    assert_eq!(
        calls(&log),
        before + 1,
        "{sh:?}: the hook is installed once"
    );
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"));
}

fn edit_refreshes_at_next_prompt(sh: Sh) {
    let w = World::new();
    let p = w.allowed_shell_nix("refresh");
    let mut t = Term::new(&w, sh);
    t.run(&format!("cd '{}'", p.display()));
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"), "{sh:?}");
    let before = w.generation();
    std::fs::write(p.join("nix/foo.nix"), "\"edited\"\n").unwrap();
    // The daemon's watcher bumps the counter; the prompt after that sees it.
    assert!(wait_for(10, || w.generation() != before), "no counter bump");
    t.run("true");
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("edited"), "{sh:?}");
}

fn starts_inside_a_project(sh: Sh) {
    let w = World::new();
    let p = w.allowed_shell_nix("inside");
    let sub = p.join("nix");
    let mut t = Term::start(&w, sh, Path::new(DWELL), "", "", &sub);
    assert_eq!(
        s(t.env().get("FOO")).as_deref(),
        Some("bar"),
        "{sh:?}: first prompt activates"
    );
}

fn a_project_in_a_directory_whose_name_is_not_utf8(sh: Sh) {
    if sh == Sh::Nu {
        // Nushell keeps paths as UTF-8 strings: it cannot start or `cd` there.
        return;
    }
    if sh == Sh::Xonsh {
        // xonsh 0.25 itself cannot start or `cd` there: its OSC 7 title code
        // raises UnicodeEncodeError on the name (a bug of xonsh's, not dwell's).
        // `dwell export xonsh` in such a directory is in faults.rs.
        return;
    }
    let w = World::new();
    let p = w.dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    w.allowed_foo_shell_at(&p);
    // Below it, a directory that is no project: a prompt there is silent.
    let plain = w.dir.join(std::ffi::OsStr::from_bytes(b"plain-\xff"));
    std::fs::create_dir_all(&plain).unwrap();
    let mut t = Term::start(&w, sh, Path::new(DWELL), "", "", &plain);
    let screen = t.run("echo still-here");
    assert!(!screen.contains("panicked"), "{sh:?}: {screen}");
    drop(t);
    let mut t = Term::start(&w, sh, Path::new(DWELL), "", "", &p);
    let env = t.env();
    assert_eq!(s(env.get("FOO")).as_deref(), Some("bar"), "{sh:?}");
    assert_eq!(
        env.get("DWELL_STATE").map(|v| v.is_empty()),
        Some(false),
        "{sh:?}: the state names the root"
    );
}

fn hostile_values(sh: Sh) {
    let w = World::new();
    let p = hostile_project(&w);
    let mut t = Term::new(&w, sh);
    t.run(&format!("cd '{}'", p.display()));
    let env = t.env();
    let tmp = w.dir.display().to_string();
    assert_eq!(
        s(env.get("Q")),
        Some(format!(
            "a'b\"c $(touch {tmp}/pwned1) `touch {tmp}/pwned2` \\ end; %s {{x}} * (touch pwned3)"
        )),
        "{sh:?}"
    );
    assert_eq!(s(env.get("NL")).as_deref(), Some("one\ntwo\r\n"), "{sh:?}");
    match sh {
        // A Nushell string cannot hold bytes that are not UTF-8: skipped.
        Sh::Nu => assert_eq!(env.get("BIN"), None),
        _ => assert_eq!(
            env["BIN"].as_bytes(),
            b"\x01\x7f\xff\xc3\xa9 %s %n -x",
            "{sh:?}"
        ),
    }
    assert_eq!(s(env.get("DASH")).as_deref(), Some("-e"), "{sh:?}");
    assert!(!w.dir.join("pwned1").exists() && !w.dir.join("pwned2").exists());
}

/// Ctrl-C while the prompt waits for an evaluation: the last good environment at
/// once, the new one at a later prompt (the evaluation went on in the daemon).
fn ctrl_c_gives_the_last_good_environment(sh: Sh) {
    let w = World::new();
    let count = w.count_file("slow");
    let p = w.project(
        "slow",
        &[
            (
                "shell.nix",
                &format!(
                    "{{ pkgs ? import <nixpkgs> {{}} }}:\nlet tag = import ./nix/tag.nix; in\npkgs.mkShell {{\n  packages = [ (pkgs.slow 4 tag) ];\n  TAG = tag;\n  shellHook = \"echo x >> {}\";\n}}\n",
                    count.display()
                ),
            ),
            ("nix/tag.nix", "\"first\"\n"),
        ],
    );
    w.allow(&p);
    let mut t = Term::new(&w, sh);
    t.run(&format!("cd '{}'", p.display()));
    assert_eq!(s(t.env().get("TAG")).as_deref(), Some("first"), "{sh:?}");

    let before = w.generation();
    std::fs::write(p.join("nix/tag.nix"), "\"second\"\n").unwrap();
    assert!(
        wait_for(10, || w.generation() != before),
        "no refresh started"
    );
    t.session.send_line("true").unwrap();
    // The prompt waits, and says so, before it is interrupted.
    t.session
        .exp_string("evaluating")
        .unwrap_or_else(|e| panic!("{sh:?}: the prompt was not waiting: {e}"));
    let interrupted = std::time::Instant::now();
    t.session.send_control('c').unwrap();
    t.answer_cursor_query();
    t.sync();
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(3),
        "{sh:?}: Ctrl-C did not return at once"
    );
    assert_eq!(
        s(t.env().get("TAG")).as_deref(),
        Some("first"),
        "{sh:?}: last good"
    );
    // The evaluation went on; a later prompt has its result.
    assert!(
        wait_for(20, || w.evaluations("slow") == 2),
        "{sh:?}: evaluation stopped"
    );
    assert!(
        wait_for(20, || {
            let out = w.ok(&p, &["status", "--json"]).stdout;
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()["cache"] == "fresh"
        }),
        "{sh:?}: the result was not cached"
    );
    t.run("true");
    assert_eq!(s(t.env().get("TAG")).as_deref(), Some("second"), "{sh:?}");
}

/// `wait`: entering a project whose evaluation is slow gives the prompt back
/// after `wait`, says so, and the environment arrives at a later prompt without
/// leaving; a shell that left before it landed gets nothing of it.
fn a_cold_evaluation_never_holds_the_prompt(sh: Sh) {
    let w = World::new();
    w.set_user_config("wait = \"1s\"\n");
    let slow = |name: &str| {
        let p = w.project(
            name,
            &[(
                "shell.nix",
                &format!(
                    "{{ pkgs ? import <nixpkgs> {{}} }}:\npkgs.mkShell {{\n  packages = [ (pkgs.slow 5 \"{name}\") ];\n  TAG = \"{name}\";\n}}\n"
                ),
            )],
        );
        w.allow(&p);
        p
    };
    let fresh = |p: &Path| {
        wait_for(40, || {
            let out = w.ok(p, &["status", "--json"]).stdout;
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()["cache"] == "fresh"
        })
    };
    let p = slow("arrives");
    let mut t = Term::new(&w, sh);
    let started = std::time::Instant::now();
    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{sh:?}: the prompt waited {:?}",
        started.elapsed()
    );
    assert!(
        screen.contains("evaluating in the background"),
        "{sh:?}: {screen}"
    );
    assert_eq!(t.env().get("TAG"), None, "{sh:?}");
    assert!(fresh(&p), "{sh:?}: the evaluation did not land");
    t.run("true");
    assert_eq!(s(t.env().get("TAG")).as_deref(), Some("arrives"), "{sh:?}");

    let q = slow("left-behind");
    t.run(&format!("cd '{}'", q.display()));
    t.run("cd /");
    assert!(fresh(&q), "{sh:?}: the evaluation did not land");
    t.run("true");
    assert_eq!(
        t.env().get("TAG"),
        None,
        "{sh:?}: nothing of a project left"
    );
}

fn shellhook_greeting_on_entry(sh: Sh) {
    let w = World::new();
    let p = w.project("greet", &[("shell.nix", crate::seed::LEVEL1_SHELL_NIX)]);
    w.allow(&p);
    let mut t = Term::new(&w, sh);
    // (rexpect reads the terminal byte by byte: the emoji is not matched.)
    let greeting = "Python development environment ready!";
    let out = t.run(&format!("cd '{}'", p.display()));
    assert!(out.contains(greeting), "{sh:?}: {out}");
    let out = t.run("true");
    assert!(
        !out.contains(greeting),
        "{sh:?}: not on an idle prompt: {out}"
    );
    t.run("cd /");
    let out = t.run(&format!("cd '{}'", p.display()));
    assert!(
        out.contains(greeting),
        "{sh:?}: again on the next entry: {out}"
    );
}

/// A shellHook that sources a venv's `activate` sets the prompt; the shell's own
/// prompt stays, and a variable the shell had unexported (bash's HISTFILE, a
/// fish `set -g`) is the user's again after leaving, never unset.
fn the_prompt_and_the_shells_own_variables_stay(sh: Sh) {
    let w = World::new();
    let p = w.project(
        "prompt",
        &[(
            "shell.nix",
            "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell {\n  shellHook = ''\n    export PS1='(.venv) ' PROMPT='(.venv) ' MYLOCAL=project\n  '';\n}\n",
        )],
    );
    w.allow(&p);
    let local = match sh {
        Sh::Bash | Sh::Zsh => "MYLOCAL=mine",
        Sh::Fish => "set -g MYLOCAL mine",
        // elvish's, xonsh's and Nushell's variables are not the environment's.
        Sh::Elvish | Sh::Xonsh | Sh::Nu => "",
    };
    let mut t = Term::start(&w, sh, Path::new(DWELL), local, "", &w.dir);
    let outside = t.env();
    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("kept your prompt"), "{sh:?}: {screen}");
    let inside = t.env();
    assert_eq!(
        s(inside.get("MYLOCAL")).as_deref(),
        Some("project"),
        "{sh:?}"
    );
    assert_eq!(inside.get("PS1"), outside.get("PS1"), "{sh:?}");
    assert_eq!(inside.get("PROMPT"), outside.get("PROMPT"), "{sh:?}");
    t.run("cd ..");
    let after = t.env();
    assert_eq!(after.get("MYLOCAL"), None, "{sh:?}: unexported again");
    assert_eq!(
        differences(&outside, &after),
        Vec::<String>::new(),
        "{sh:?}"
    );
    if matches!(sh, Sh::Bash | Sh::Zsh | Sh::Fish) {
        let line = match sh {
            Sh::Fish => {
                "printf '<%s:%s>\\n' MYLOCAL (set -q MYLOCAL; and echo $MYLOCAL; or echo unset)"
            }
            _ => "printf '<%s:%s:%s>\\n' MYLOCAL \"${MYLOCAL-unset}\" \"${PS1-unset}\"",
        };
        let screen = t.run(line);
        let want = match sh {
            Sh::Fish => "<MYLOCAL:mine>",
            _ => "<MYLOCAL:mine:$ >",
        };
        assert!(screen.contains(want), "{sh:?}: {screen}");
    }
}

/// `python -m venv .venv` in a project the shell sits in reaches the next
/// prompt, and so does `rm -rf .venv`, as a lock change does: the counter.
fn a_venv_made_or_removed_inside_reaches_the_next_prompt(sh: Sh) {
    let w = World::new();
    let p = w.allowed_shell_nix("late-venv");
    let mut t = Term::new(&w, sh);
    t.run(&format!("cd '{}'", p.display()));
    assert_eq!(s(t.env().get("FOO")).as_deref(), Some("bar"), "{sh:?}");
    assert_eq!(t.env().get("VIRTUAL_ENV"), None);

    let before = w.generation();
    let venv = w.venv(&p);
    assert!(wait_for(10, || w.generation() != before), "no counter bump");
    t.run("true");
    let env = t.env();
    assert_eq!(
        s(env.get("VIRTUAL_ENV")),
        Some(venv.display().to_string()),
        "{sh:?}"
    );
    assert_eq!(s(env.get("FOO")).as_deref(), Some("bar"), "{sh:?}");

    let before = w.generation();
    std::fs::remove_dir_all(&venv).unwrap();
    assert!(wait_for(10, || w.generation() != before), "no counter bump");
    t.run("true");
    let env = t.env();
    assert_eq!(env.get("VIRTUAL_ENV"), None, "{sh:?}");
    assert!(
        !s(env.get("PATH")).unwrap().contains(".venv"),
        "{sh:?}: the venv's bin left PATH"
    );
    assert_eq!(s(env.get("FOO")).as_deref(), Some("bar"), "{sh:?}");
}

macro_rules! for_each_shell {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                use super::*;
                #[test]
                fn bash() {
                    need!("nix");
                    if need_shell(Sh::Bash) { super::$scenario(Sh::Bash) }
                }
                #[test]
                fn zsh() {
                    need!("nix");
                    if need_shell(Sh::Zsh) { super::$scenario(Sh::Zsh) }
                }
                #[test]
                fn fish() {
                    need!("nix");
                    if need_shell(Sh::Fish) { super::$scenario(Sh::Fish) }
                }
                #[test]
                fn elvish() {
                    need!("nix");
                    if need_shell(Sh::Elvish) { super::$scenario(Sh::Elvish) }
                }
                #[test]
                fn xonsh() {
                    need!("nix");
                    if need_shell(Sh::Xonsh) { super::$scenario(Sh::Xonsh) }
                }
                #[test]
                fn nu() {
                    need!("nix");
                    if need_shell(Sh::Nu) { super::$scenario(Sh::Nu) }
                }
            }
        )+
    };
}

for_each_shell!(
    allow_enter_leave,
    idle_prompts_do_not_fork,
    installed_twice_runs_once,
    edit_refreshes_at_next_prompt,
    starts_inside_a_project,
    a_project_in_a_directory_whose_name_is_not_utf8,
    hostile_values,
    ctrl_c_gives_the_last_good_environment,
    shellhook_greeting_on_entry,
    the_prompt_and_the_shells_own_variables_stay,
    a_venv_made_or_removed_inside_reaches_the_next_prompt,
    a_cold_evaluation_never_holds_the_prompt,
);

// ---- what only some shells do ----

/// A venv sync that fails while a shell sits in the project: one line at its
/// next prompt — the file, the tool's first reason, that the current venv
/// stays — and only once, in bash, zsh and fish. The venv keeps serving.
#[test]
fn a_failed_venv_sync_is_said_once_where_the_user_is() {
    need!("nix");
    for sh in [Sh::Bash, Sh::Zsh, Sh::Fish] {
        if !need_shell(sh) {
            continue;
        }
        let mut w = World::new();
        // pip offline: nothing can be found but what the test names.
        w.env.insert("PIP_NO_INDEX".into(), "1".into());
        w.env
            .insert("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into());
        let p = w.project(
            "failing-sync",
            &[
                (
                    "shell.nix",
                    "{ pkgs ? import <nixpkgs> {} }: pkgs.mkShell { packages = [ pkgs.python3 ]; }\n",
                ),
                ("requirements.txt", "# nothing yet\n"),
                (".dwell.toml", "[venv]\ncreate = true\n"),
            ],
        );
        w.allow(&p);
        let mut t = Term::new(&w, sh);
        t.run(&format!("cd '{}'", p.display()));
        let venv = s(t.env().get("VIRTUAL_ENV"));
        assert!(venv.is_some(), "{sh:?}: the venv was made");
        let before = w.generation();
        w.write(&p, &[("requirements.txt", "no-such-package==9\n")]);
        w.allow(&p);
        assert!(
            wait_for(10, || w.generation() != before),
            "{sh:?}: no counter bump"
        );
        // The next prompt starts the sync, and does not wait for it.
        let screen = t.run("true");
        assert!(
            screen.contains("updating the venv for requirements.txt in the background"),
            "{sh:?}: {screen}"
        );
        assert!(
            wait_for(60, || !w.status_json(&p)["venv_problem"].is_null()),
            "{sh:?}: the sync did not fail"
        );
        let screen = t.run("true");
        let said = "requirements.txt: pip failed: Could not find a version that satisfies the requirement no-such-package==9";
        assert!(screen.contains(said), "{sh:?}: {screen}");
        assert!(
            screen.contains("the current venv stays as it was"),
            "{sh:?}: {screen}"
        );
        let again = t.run("true") + &t.run("true");
        assert!(!again.contains("pip failed"), "{sh:?}: said once: {again}");
        assert_eq!(s(t.env().get("VIRTUAL_ENV")), venv, "{sh:?}: still served");
    }
}

/// zsh: an environment whose evaluation outlasted `wait` arrives while the
/// prompt sits idle, without a keypress (the line editor watches a waiter with
/// `zle -F`); and a shell that left meanwhile gets nothing of it.
#[test]
fn zsh_applies_an_arriving_environment_without_a_keypress() {
    need!("nix");
    if !need_shell(Sh::Zsh) {
        return;
    }
    let w = World::new();
    w.set_user_config("wait = \"1s\"\n");
    let slow = |name: &str| {
        let p = w.project(
            name,
            &[(
                "shell.nix",
                &format!(
                    "{{ pkgs ? import <nixpkgs> {{}} }}:\npkgs.mkShell {{\n  packages = [ (pkgs.slow 4 \"{name}\") ];\n  TAG = \"{name}\";\n}}\n"
                ),
            )],
        );
        w.allow(&p);
        p
    };
    let p = slow("idle");
    // The scenario suite runs zsh without its line editor (`+Z`); a user's zsh
    // has it.
    let mut t = Term::start(&w, Sh::Zsh, Path::new(DWELL), "setopt zle", "", &w.dir);
    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("evaluating in the background"), "{screen}");
    // Nothing typed: the status line of the arriving environment is drawn
    // (`+N ~PATH`, after the project and `cached`).
    t.session
        .exp_string("~PATH")
        .unwrap_or_else(|e| panic!("it did not arrive while idle: {e}"));
    // The command typed now runs in it (no prompt ran since).
    assert_eq!(s(t.env().get("TAG")).as_deref(), Some("idle"));

    let q = slow("gone");
    let screen = t.run(&format!("cd '{}'", q.display()));
    assert!(screen.contains("evaluating in the background"), "{screen}");
    t.run("cd /");
    let fresh = || {
        let out = w.ok(&q, &["status", "--json"]).stdout;
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()["cache"] == "fresh"
    };
    assert!(wait_for(40, fresh), "the evaluation did not land");
    // Once the waiter has ended (its handler clears it), what it applied is
    // for `/`: nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut ended = false;
    while !ended && std::time::Instant::now() < deadline {
        ended = t.run("echo \"w=[${__dwell_waiter}]\"").contains("w=[]");
    }
    assert!(ended, "the waiter never ended");
    assert_eq!(t.env().get("TAG"), None, "nothing of a project left");
}

#[test]
fn zsh_and_fish_activate_on_a_cd_without_a_prompt() {
    need!("nix");
    for sh in [Sh::Zsh, Sh::Fish] {
        if !need_shell(sh) {
            continue;
        }
        let w = World::new();
        let p = w.allowed_shell_nix("nopmt");
        let mut t = Term::new(&w, sh);
        // One command line: the dump runs before any new prompt (as a key binding
        // that cds would).
        let file = w.dir.join("dump-nopmt");
        t.run(&format!(
            "cd '{}'; /usr/bin/env -0 > '{}'",
            p.display(),
            file.display()
        ));
        assert_eq!(
            s(read_dump(&file).get("FOO")).as_deref(),
            Some("bar"),
            "{sh:?}"
        );
    }
}

/// `exec zsh` from an activated bash, and every other pair: the new shell inherits
/// DWELL_STATE, keeps the environment as it is, and leaving restores the original.
#[test]
fn exec_into_another_shell_keeps_a_correct_environment() {
    need!("nix");
    let w = World::new();
    let p = w.allowed_shell_nix("exec");
    for from in ALL {
        for to in ALL {
            if from == to || !need_shell(from) || !need_shell(to) {
                continue;
            }
            let mut t = Term::new(&w, from);
            let outside = t.env();
            t.run(&format!("cd '{}'", p.display()));
            let inside = t.env();
            // Replace the shell by the other one, with its own hook.
            let rc = w.dir.join(format!("rc-exec-{}", unique()));
            let loaded = "echo '@@rc-loaded@@'";
            std::fs::write(&rc, to.rc("", &to.hook(Path::new(DWELL)), loaded)).unwrap();
            let cmd = to.command(&w, &rc);
            // The variables the new shell's command sets (ZDOTDIR for zsh,
            // SSH_CONNECTION for xonsh), through env: every shell can exec it.
            let mut line = String::from("exec env");
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v.filter(|_| k == "ZDOTDIR" || k == "SSH_CONNECTION") {
                    // Quoted whole: xonsh keeps quotes inside a word.
                    line.push_str(&format!(
                        " '{}={}'",
                        k.to_string_lossy(),
                        v.to_string_lossy()
                    ));
                }
            }
            line.push(' ');
            line.push_str(to.name());
            for arg in cmd.get_args() {
                let arg = arg.to_string_lossy();
                // (fish's `-C "source '<rc>'"`: every shell reads it alike.)
                let q = if arg.contains('\'') { '"' } else { '\'' };
                line.push_str(&format!(" {q}{arg}{q}"));
            }
            t.session.send_line(&line).unwrap();
            t.sh = to;
            // xonsh takes lines typed ahead into its own queue (lost when it
            // execs), and eats them while it asks the terminal for the cursor:
            // the next line goes once the new shell prompts.
            if from == Sh::Xonsh
                && let Err(e) = t.session.exp_string("@@rc-loaded@@")
            {
                panic!("{from:?} -> {to:?}: {line}: {e}");
            }
            if to == Sh::Xonsh {
                t.session.exp_string(XONSH_PROMPT).unwrap();
            }
            t.sync();
            let there = t.env();
            let pair = format!("{from:?} -> {to:?}");
            assert_eq!(s(there.get("FOO")).as_deref(), Some("bar"), "{pair}");
            assert_eq!(
                s(there.get("PATH")),
                s(inside.get("PATH")),
                "{pair}: PATH not doubled"
            );
            t.run("cd ..");
            let back = t.env();
            let mut left = differences(&outside, &back);
            // xonsh passes its own settings (XONSH_*, PROMPT, …) to every child,
            // some of them per command: what was there before and what the
            // project set count.
            if to == Sh::Xonsh {
                left.retain(|k| outside.contains_key(k) || inside.contains_key(k));
            }
            if Sh::Xonsh == from || Sh::Xonsh == to {
                left.retain(|k| !k.starts_with("XONSH_"));
            }
            assert_eq!(left, Vec::<String>::new(), "{pair}");
        }
    }
}

#[test]
fn fish_gets_path_as_a_list() {
    need!("nix", "fish");
    let w = World::new();
    let p = w.allowed_shell_nix("fishpath");
    let mut t = Term::new(&w, Sh::Fish);
    t.run(&format!("cd '{}'", p.display()));
    let out = t.run("echo entries=(count $PATH); contains -- /usr/bin $PATH; and echo has-usr-bin");
    assert!(out.contains("has-usr-bin"), "{out}");
    let count: usize = out
        .rsplit("entries=")
        .next()
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 4, "PATH is a list in fish: {out}");
}

#[test]
fn bash_coexists_with_prompt_command_and_keeps_exit_status() {
    need!("nix", "bash");
    let w = World::new();
    let log = w.dir.join("pc.log");
    for (form, pre) in [
        (
            "string",
            format!("PROMPT_COMMAND='echo ran >> {}'", log.display()),
        ),
        (
            "array",
            format!("PROMPT_COMMAND=('echo ran >> {}')", log.display()),
        ),
    ] {
        let _ = std::fs::remove_file(&log);
        // Installing twice (a re-sourced ~/.bashrc) must not stack the hook.
        let hook = Sh::Bash.hook(Path::new(DWELL));
        let mut t = Term::start(&w, Sh::Bash, Path::new(DWELL), &pre, &hook, &w.dir);
        let pc = t.run("declare -p PROMPT_COMMAND");
        assert_eq!(pc.matches("__dwell_hook").count(), 1, "{form}: {pc}");
        t.run("PS1='[st=$?] '");
        t.session.send_line("false").unwrap();
        t.session.exp_string("[st=1]").unwrap();
        t.session.send_line("true").unwrap();
        t.session.exp_string("[st=0]").unwrap();
        t.sync();
        let ran = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            ran.lines().count() >= 2,
            "{form}: the user's PROMPT_COMMAND runs"
        );
    }
}

#[test]
fn status_line_is_colored_on_a_terminal_unless_no_color() {
    need!("nix", "bash");
    let mut w = World::new();
    let p = w.allowed_shell_nix("color");
    {
        let mut t = Term::new(&w, Sh::Bash);
        let screen = t.run(&format!("cd '{}'", p.display()));
        assert!(
            screen.contains("\u{1b}["),
            "colored on a terminal: {screen:?}"
        );
    }
    w.env.insert("NO_COLOR".into(), "1".into());
    let mut t = Term::new(&w, Sh::Bash);
    let screen = t.run(&format!("cd '{}'", p.display()));
    assert!(screen.contains("cached"), "{screen:?}");
    assert!(!screen.contains('\u{1b}'), "NO_COLOR: {screen:?}");
}

/// Each hook, loaded under the shell's strict settings, prints nothing and fails
/// nothing (as zoxide tests its init scripts).
#[test]
fn hooks_are_clean_under_strict_modes() {
    need!("nix");
    let w = World::new();
    for sh in ALL {
        if !need_shell(sh) {
            continue;
        }
        let script = match sh {
            // rc.elv is read only by an interactive elvish, whose line editor the
            // hook needs, and the xonsh hook installs itself only in an
            // interactive xonsh: the scenarios load them there.
            Sh::Elvish | Sh::Xonsh | Sh::Nu => continue,
            Sh::Bash => {
                format!("eval \"$('{DWELL}' hook bash)\"; __dwell_hook; __dwell_hook; echo done")
            }
            Sh::Zsh => {
                format!("eval \"$('{DWELL}' hook zsh)\"; __dwell_hook; __dwell_hook; echo done")
            }
            Sh::Fish => format!("'{DWELL}' hook fish | source; and echo done"),
        };
        let mut cmd = Command::new(sh.name());
        match sh {
            Sh::Bash => cmd.args(["--noprofile", "--norc", "-e", "-u", "-o", "pipefail", "-c"]),
            Sh::Zsh => cmd.args(["--no-rcs", "-e", "-u", "-o", "pipefail", "-c"]),
            Sh::Fish => cmd.args(["--no-config", "-c"]),
            Sh::Elvish | Sh::Xonsh | Sh::Nu => unreachable!(),
        };
        let out = cmd
            .arg(script)
            .current_dir(&w.dir)
            .env_clear()
            .envs(&w.env)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{sh:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n", "{sh:?}");
    }
}

/// A Ctrl-C that lands while bash or zsh applies an answer does not leave half
/// of it applied (direnv's guard), and the user's own INT trap is kept. The
/// answer here interrupts itself half-way.
#[test]
fn a_ctrl_c_while_applying_leaves_no_half_environment() {
    need!("bash", "zsh");
    let w = World::new();
    let fake = w.dir.join("fake-dwell");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'export DWELL_A=1; kill -INT $$; export DWELL_B=2'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for shell in ["bash", "zsh"] {
        let hook =
            String::from_utf8(run_ok(&mut w.dwell(&w.dir, &["hook", shell])).stdout).unwrap();
        // Without a trap of the user's, an INT would end the shell; with one, it
        // would run the user's trap in the middle of the answer.
        for user_trap in ["", "trap 'echo TRAPPED' INT"] {
            let script = format!(
                "{hook}\n__dwell_exe={fake}\n{user_trap}\n__dwell_hook\n\
                 echo \"A=$DWELL_A B=$DWELL_B\"\n{list}\n",
                fake = fake.display(),
                // What INT does now (zsh's `trap` lists every trap).
                list = if shell == "bash" {
                    "trap -p INT"
                } else {
                    "trap"
                },
            );
            let mut cmd = Command::new(shell);
            match shell {
                "bash" => cmd.args(["--noprofile", "--norc", "-c", &script]),
                _ => cmd.args(["-f", "-c", &script]),
            };
            let out = cmd
                .current_dir(&w.dir)
                .env_clear()
                .envs(&w.env)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(said.contains("A=1 B=2"), "{shell}: applied whole: {said}");
            assert!(!said.lines().any(|l| l == "TRAPPED"), "{shell}: {said}");
            assert_eq!(
                said.contains("echo TRAPPED"),
                !user_trap.is_empty(),
                "{shell}: the user's trap is kept as it was: {said}"
            );
        }
    }
}

/// What `dwell hook SHELL` prints (the exe line names this build), in a file.
fn rendered_hook(w: &World, shell: &str, ext: &str) -> PathBuf {
    let out = run_ok(&mut w.dwell(&w.dir, &["hook", shell])).stdout;
    let file = w.dir.join(format!("hook.{ext}"));
    std::fs::write(&file, out).unwrap();
    file
}

/// Each hook as users load it, the output of `dwell hook SHELL`, passes its
/// shell's own linter or parser (as zoxide tests its rendered init scripts):
/// shellcheck and shfmt for bash, zsh's and fish's parsers and fish_indent, an
/// elvish compile, xonsh's parser and Nushell's `nu-check`.
#[test]
fn the_rendered_hooks_pass_each_shells_linter() {
    let w = World::new();
    // Each linter says on stdout what it would change; run_ok shows it.
    if let Some(shellcheck) = require("shellcheck") {
        run_ok(
            Command::new(shellcheck)
                .args(["--shell=bash", "--enable=all", "--exclude=SC2154"])
                .arg(rendered_hook(&w, "bash", "bash")),
        );
    }
    if let Some(shfmt) = require("shfmt") {
        run_ok(
            Command::new(shfmt)
                .args(["-ln", "bash", "-i", "2", "-d"])
                .arg(rendered_hook(&w, "bash", "bash")),
        );
    }
    if let Some(zsh) = require("zsh") {
        run_ok(
            Command::new(zsh)
                .arg("-n")
                .arg(rendered_hook(&w, "zsh", "zsh")),
        );
    }
    if let Some(fish) = require("fish") {
        let hook = rendered_hook(&w, "fish", "fish");
        run_ok(Command::new(fish).arg("-n").arg(&hook));
        run_ok(Command::new("fish_indent").arg("--check").arg(&hook));
    }
    if let Some(elvish) = require("elvish") {
        let hook = std::fs::read_to_string(rendered_hook(&w, "elvish", "elv")).unwrap();
        assert_elvish_compiles(&elvish, &hook, &w.dir);
    }
    if let Some(xonsh) = require("xonsh") {
        run_ok(
            Command::new(xonsh)
                .args(["--no-rc", "-n"])
                .arg(rendered_hook(&w, "xonsh", "xsh")),
        );
    }
    if let Some(nu) = require("nu") {
        assert_nu_parses(&nu, &rendered_hook(&w, "nu", "nu"));
    }
}
