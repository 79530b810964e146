//! The command line, defined once: it feeds `--help`, the man pages and the
//! completions. Depends on nothing else in the crate.

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "dwell",
    version,
    about = "Your project's Nix and Python environment, there when you cd in",
    long_about = "dwell activates a project's Nix environment (flake devShell, shell.nix or \
                  default.nix) and its Python .venv when you cd into it, and restores your \
                  shell when you leave. A resident daemon evaluates each project once and \
                  answers from a cache keyed by the content of every file the evaluation read.\n\n\
                  Each load prints one status line, for example `~/src/api  shell.nix · \
                  evaluated · nix 2.1 s · total 2.2 s  +14 ~PATH + .venv`: the project and its \
                  kind; `cached`, `evaluated` (with the time Nix took), `from dwell.lock` \
                  (the team's locked environment, taken instead of evaluating), `stale` (the last \
                  good environment, after a failure) or `last good · evaluating` (while a \
                  newer one evaluates), and `venv synced` when the venv was \
                  brought up to date; the request's total time; then `+N` variables added, \
                  `-N` removed, `~NAME` modified (three named at most), and `+ .venv` when a \
                  venv is layered on top."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `--no-daemon`, on the commands that ask for an environment.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Local {
    /// Do not use the daemon: evaluate in this process (same on-disk cache).
    #[arg(long)]
    pub no_daemon: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Xonsh,
    /// Nushell (`nushell` works too).
    #[value(alias = "nushell")]
    Nu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Xonsh,
    /// Nushell's hook reads this: the changes as JSON data.
    Nu,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the shell hook to put in your shell's startup file.
    Hook {
        #[arg(value_enum)]
        shell: HookShell,
    },
    /// Print what an `.envrc` evaluates to get this directory's environment from
    /// dwell: `eval "$(dwell direnv)"`. direnv applies and unloads it.
    Direnv {
        #[command(flatten)]
        local: Local,
    },
    /// Print the code that brings this shell to the current directory's environment.
    Export {
        #[arg(value_enum)]
        format: ExportFormat,
        /// With json: wait for an evaluation only as long as the `wait` setting
        /// allows, as the shell hooks do (for a hook of your own). Without it,
        /// json waits for the final environment, as editors need.
        #[arg(long)]
        prompt: bool,
        #[command(flatten)]
        local: Local,
    },
    /// Trust the project of DIR (default: the current directory), so dwell may evaluate it
    /// and install its venv from the lock or requirements it has now.
    Allow {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        /// Use this Nix file of DIR (`python-env.nix`): written to DIR's
        /// `.dwell.toml` as `file = "FILE"` (other keys kept), then allowed.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Allow a project whose directory or entry files belong to another user
        /// (not root): their owner can change them, and the code runs as you.
        #[arg(long)]
        other_owner: bool,
    },
    /// Never activate the project of DIR.
    Deny {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
    },
    /// Show the project of DIR: kind, trust, cache state, inputs, daemon.
    Status {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        #[command(flatten)]
        local: Local,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the project of DIR again, even if its cache is valid.
    Reload {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        #[command(flatten)]
        local: Local,
    },
    /// Run a command in the environment of the current directory's project
    /// (`dwell exec pytest -x`), or of DIR's (`dwell exec ~/src/api -- pytest -x`).
    Exec {
        /// `CMD [ARGS...]`, or `DIR -- CMD [ARGS...]` (DIR: the project directory,
        /// default the current directory).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "[DIR --] CMD"
        )]
        command: Vec<OsString>,
        #[command(flatten)]
        local: Local,
    },
    /// Create the project's Python venv with the Nix environment's python and
    /// install what the project locks or requires.
    ///
    /// What is installed, the first found: `[venv] requirements` of .dwell.toml;
    /// uv.lock (`uv sync --frozen`, with pyproject.toml); poetry.lock (`poetry
    /// sync`); pylock.toml (`uv pip install -r`); every requirements*.txt of the
    /// project root (pip, with --require-hashes when they carry hashes);
    /// pyproject.toml alone (`pip install -e .`, with uv when the environment has
    /// it). uv and Poetry come from the Nix environment: add pkgs.uv or
    /// pkgs.poetry to it. requires-python is checked first. The new venv is built
    /// beside the current one (in .venv.d/, hidden from git) and swapped in only
    /// once the install succeeded. Only lock and requirements contents you
    /// allowed are installed (`dwell allow`). With `create = true` under [venv]
    /// in .dwell.toml, dwell does this itself when they change.
    Venv {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        #[command(flatten)]
        local: Local,
        /// Build a new venv even if the current one is up to date.
        #[arg(long)]
        recreate: bool,
        /// The python to create it with (default: the Nix environment's python3).
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
    },
    /// Write dwell.lock for the project of DIR: the store path of the environment
    /// Nix built for it and the content of every project file the evaluation
    /// read. Commit it; with `dwell push`, a teammate's clone or a CI runner
    /// whose files match takes that environment from the team's binary cache
    /// instead of evaluating. Refused, naming the file, when the evaluation read
    /// something outside the project and the Nix store (a `<nixpkgs>` from
    /// NIX_PATH): another machine would not evaluate the same.
    Lock {
        /// The project directory (default: the current directory).
        dir: Option<PathBuf>,
        #[command(flatten)]
        local: Local,
    },
    /// Copy the environment dwell.lock names, with its closure, to a Nix binary
    /// cache (`nix copy --to CACHE`). Signing is Nix's: its `secret-key-files`
    /// setting signs what the machine builds.
    Push {
        /// The binary cache, as Nix names stores (`file:///srv/cache`,
        /// `s3://bucket`, `ssh://host`); default: `cache` in .dwell.toml.
        cache: Option<String>,
        /// The project directory (default: the current directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Drop cached generations not used recently, with their GC roots.
    Prune {
        /// Drop generations not used for this long (s, m, h, d, w).
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        older_than: String,
        /// Only say what would be dropped.
        #[arg(long)]
        dry_run: bool,
    },
    /// Wait until the environment of the current directory is ready, then exit.
    /// The zsh hook runs it in the background when a prompt came back before an
    /// evaluation ended, so the environment arrives while the prompt sits idle.
    Await,
    /// Run the daemon in the foreground (clients start it on their own).
    Daemon,
    /// Stop the running daemon.
    Stop,
    /// Check the installation: nix, the hook, a login shell finding dwell (editors take
    /// PATH from it), the daemon, permissions, inotify limits.
    Doctor,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages into DIR (for packagers; the repository keeps them in man/).
    #[command(hide = true)]
    GenerateMan { dir: PathBuf },
}
