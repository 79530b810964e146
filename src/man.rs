//! Man pages: `dwell.1` and one page per subcommand, rendered from the clap
//! definitions, plus `dwell.toml.5` for the configuration files. `man/` in the
//! repository holds their output (`dwell generate-man man`); a test keeps it in sync.

use clap::CommandFactory;

/// Every page as (file name, roff text).
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    let mut pages = Vec::new();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    pages.push(("dwell.1".to_string(), top));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("dwell-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    pages.push(("dwell.toml.5".to_string(), CONFIG_PAGE.as_bytes().to_vec()));
    Ok(pages)
}

const CONFIG_PAGE: &str = r#".TH dwell.toml 5 "" "dwell" "File Formats"
.SH NAME
dwell.toml \- project and user configuration for dwell
.SH SYNOPSIS
\fI<project>/.dwell.toml\fR
.br
\fI$XDG_CONFIG_HOME/dwell/config.toml\fR
.SH DESCRIPTION
Both files are TOML. Both are optional. Unknown keys are an error, reported in one
line by the next prompt in the project (or by \fBdwell status\fR).
.SH PROJECT FILE (.dwell.toml)
A \fB.dwell.toml\fR marks its directory as a project root, like \fBflake.nix\fR or
\fBshell.nix\fR do. It is one of the files \fBdwell allow\fR records: changing it asks
for a new allow.
.TP
\fBfile\fR = "nix/dev.nix"
The Nix file to evaluate, relative to the root, instead of the discovered
\fBflake.nix\fR, \fBshell.nix\fR or \fBdefault.nix\fR.
.TP
\fBattr\fR = "devShells.x86_64-linux.api"
The attribute to evaluate: a flake output, or a dotted attribute path into the value
of a Nix file.
.TP
\fBwatch\fR = ["requirements.txt"]
More files whose change refreshes the environment, relative to the root.
.TP
\fB[venv]\fR \fBpath\fR = ".venv"
The Python virtual environment layered on top of the Nix environment; relative to the
root, and may lie outside it ("../shared-venv").
.TP
\fB[venv]\fR \fBenable\fR = false
Turns the venv layer off.
.TP
\fB[venv]\fR \fBcreate\fR = true
Create the venv with the Nix environment's python on first entry, and keep it in
sync with the project's lock or requirements: a change installs into a new venv,
swapped in when it is ready; a failure keeps the previous venv. Without it,
\fBdwell venv\fR does the same once.
.TP
\fB[venv]\fR \fBrequirements\fR = ["requirements.txt"]
What the venv is made from, relative to the root: requirement files go to pip, a
\fBpyproject.toml\fR alone is installed as the project (\fBpip install -e .\fR). The
default is the project's lock, the first of \fBuv.lock\fR (\fBuv sync \-\-frozen\fR),
\fBpoetry.lock\fR (\fBpoetry sync\fR) and \fBpylock.toml\fR (\fBuv pip install\fR);
else every \fBrequirements*.txt\fR in the root; else \fBpyproject.toml\fR.
.TP
\fB[venv]\fR \fBlibraries\fR = true
Put the library directories of the Nix environment's packages on
\fBLD_LIBRARY_PATH\fR, so that manylinux wheels load; or a list of package names
(["zlib", "gcc-lib"]) to put only theirs.
.TP
\fBshellhook_timeout\fR = "2m"
How long this project's shellHook may run (default: the user file's, else 30s).
A shellHook still running then is stopped with its whole process group and the
devShell's environment is served without it, with a note saying so.
.TP
\fBwait\fR = "forever"
How long a shell's prompt waits for this project's evaluation (default: the user
file's \fBwait\fR).
.TP
\fBcache\fR = "s3://team-nix-cache"
The team's Nix binary cache: where \fBdwell push\fR copies the environment
\fBdwell.lock\fR names, when no cache is given. Any store URL Nix takes.
Fetching from it needs nothing here: Nix's own \fBsubstituters\fR and
\fBtrusted-public-keys\fR decide.
.TP
\fB[env]\fR \fINAME\fR = "value"
Extra variables, set on top of everything else.
.SH USER FILE (config.toml)
.TP
\fBtrusted\fR = ["~/src/mine"]
Projects under these directories are activated without \fBdwell allow\fR.
.TP
\fBgenerations\fR = 8
Generations kept per project; switching back to a kept one needs no evaluation.
.TP
\fBprune_after\fR = "30d"
The daemon drops generations not used for this long (units s, m, h, d, w), with their
GC roots; "off" never prunes.
.TP
\fBwait\fR = "2s"
How long a shell's prompt waits for an evaluation (units ms, s, m). Past it the
prompt comes back with one line saying what is being evaluated; the shell goes
on without it (or with the last good environment), and the environment arrives
at a later prompt: the daemon moves the counter the hooks read when it lands.
\fB0\fR never waits; \fB"forever"\fR waits to the end. Editors (\fBdwell direnv\fR,
\fBdwell export json\fR) always wait for the final environment.
.TP
\fBasync\fR = false
When true, a prompt never waits for an evaluation (as \fBwait\fR = 0).
.TP
\fBeval_timeout\fR = "10m"
Stop an evaluation that runs longer (default: no limit). Nothing is cached from it.
.TP
\fBwatch_projects\fR = 64
Projects whose files the daemon watches at most, least recently used dropped first;
the others are checked by stat when a shell asks.
.TP
\fBshellhook_timeout\fR = "30s"
How long a shellHook may run before it is stopped (a project may say otherwise).
.TP
\fBinstall_timeout\fR = "15m"
How long one program of a venv install (pip, uv, Poetry) may run before it is
stopped with its process group; the previous venv stays, and the note says so.
.TP
\fBvenv_generations\fR = 4
Venv versions kept per project under \fI.venv.d/\fR, the one in use included: a
lock switched back to one of them (a branch checked out again) is served at once,
with no install.
.TP
\fBshellhook_output\fR = "always"
When what a shellHook printed is shown: "always" (on every entry), "first" (only when
it has just run) or "never".
.TP
\fBstatus_line\fR = true
Whether the one-line status is printed on entering and leaving a project. Warnings and
errors are always printed.
.SH FILES
.TP
\fI$XDG_CACHE_HOME/dwell/\fR
The cached generations.
.TP
\fI$XDG_STATE_HOME/dwell/gcroots/\fR
The Nix profiles that keep cached environments from being garbage-collected.
.TP
\fI$XDG_STATE_HOME/dwell/daemon.log\fR
The daemon's log.
.TP
\fI$XDG_DATA_HOME/dwell/trust/\fR
The allow and deny decisions, with copies of the files allowed.
.SH SEE ALSO
\fBdwell\fR(1), \fBdwell-allow\fR(1), \fBdwell-prune\fR(1)
"#;
