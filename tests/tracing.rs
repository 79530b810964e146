//! Input tracing, proved case by case: for each way an evaluation can read a file,
//! for shell.nix and for flake projects, changing that file refreshes the
//! environment, and changing a file that was not read does not.

use crate::util::*;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    ShellNix,
    Flake,
}

/// One row of the coverage table.
struct Row {
    name: &'static str,
    /// Attribute bindings of the devShell; `V` is the variable checked.
    attrs: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// The change: write `content` to `file`.
    edit: (&'static str, &'static str),
    before: &'static str,
    after: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        name: "import of another .nix file",
        attrs: "V = import ./nix/python.nix;",
        files: &[("nix/python.nix", "\"3.11\"\n")],
        edit: ("nix/python.nix", "\"3.12\"\n"),
        before: "3.11",
        after: "3.12",
    },
    Row {
        name: "builtins.readFile",
        attrs: "V = builtins.readFile ./.python-version;",
        files: &[(".python-version", "3.11")],
        edit: (".python-version", "3.12"),
        before: "3.11",
        after: "3.12",
    },
    Row {
        name: "builtins.readDir (the listing)",
        attrs: "V = builtins.concatStringsSep \",\" (builtins.attrNames (builtins.readDir ./overlays));",
        files: &[("overlays/a.nix", "{}\n")],
        edit: ("overlays/b.nix", "{}\n"),
        before: "a.nix",
        after: "a.nix,b.nix",
    },
    Row {
        name: "a path copied to the store",
        attrs: "V = builtins.readFile \"${./config.toml}\";",
        files: &[("config.toml", "one")],
        edit: ("config.toml", "two"),
        before: "one",
        after: "two",
    },
    Row {
        name: "builtins.fromJSON (readFile …)",
        attrs: "V = (builtins.fromJSON (builtins.readFile ./poetry.json)).version;",
        files: &[("poetry.json", "{\"version\": \"1.0\"}")],
        edit: ("poetry.json", "{\"version\": \"2.0\"}"),
        before: "1.0",
        after: "2.0",
    },
    Row {
        name: "builtins.fromTOML (readFile …)",
        attrs: "V = (builtins.fromTOML (builtins.readFile ./pyproject.toml)).project.version;",
        files: &[("pyproject.toml", "[project]\nversion = \"0.1\"\n")],
        edit: ("pyproject.toml", "[project]\nversion = \"0.2\"\n"),
        before: "0.1",
        after: "0.2",
    },
    Row {
        name: "builtins.path { path = ./src; filter }",
        attrs: "V = builtins.readFile \"${builtins.path { path = ./src; name = \"src\"; filter = p: t: baseNameOf p != \"skipped.txt\"; }}/v.txt\";",
        files: &[("src/v.txt", "one"), ("src/skipped.txt", "one")],
        edit: ("src/v.txt", "two"),
        before: "one",
        after: "two",
    },
    Row {
        name: "builtins.pathExists (a file that appears)",
        attrs: "V = if builtins.pathExists ./marker then \"yes\" else \"no\";",
        files: &[],
        edit: ("marker", ""),
        before: "no",
        after: "yes",
    },
    Row {
        name: "a file named in .dwell.toml watch",
        attrs: "V = \"constant\";",
        files: &[
            (".dwell.toml", "watch = [\"data/schema.sql\"]\n"),
            ("data/schema.sql", "a"),
        ],
        edit: ("data/schema.sql", "b"),
        before: "constant",
        after: "constant",
    },
];

/// Reads through `self` and computed paths: flake-only rows (shell.nix has no
/// `self`; its computed paths are the wrapper's, proved by the rows above).
const SELF_ROWS: &[Row] = &[
    Row {
        name: "readFile (self + \"/x\")",
        attrs: "V = builtins.readFile (self + \"/data/v.txt\");",
        files: &[("data/v.txt", "one")],
        edit: ("data/v.txt", "two"),
        before: "one",
        after: "two",
    },
    Row {
        name: "readFile (./. + \"/x\")",
        attrs: "V = let name = \"v.txt\"; in builtins.readFile (./. + \"/${name}\");",
        files: &[("v.txt", "one")],
        edit: ("v.txt", "two"),
        before: "one",
        after: "two",
    },
    Row {
        name: "readFile \"${self.outPath}/x\"",
        attrs: "V = builtins.readFile \"${self.outPath}/v.txt\";",
        files: &[("v.txt", "one")],
        edit: ("v.txt", "two"),
        before: "one",
        after: "two",
    },
    Row {
        name: "readDir (self + \"/dir\")",
        attrs: "V = builtins.concatStringsSep \",\" (builtins.attrNames (builtins.readDir (self + \"/overlays\")));",
        files: &[("overlays/a.nix", "{}\n")],
        edit: ("overlays/b.nix", "{}\n"),
        before: "a.nix",
        after: "a.nix,b.nix",
    },
];

fn world_trusting_everything() -> World {
    let w = World::new();
    // Trusted by prefix: the rows edit entry files, which would otherwise ask for
    // a new `dwell allow` each time.
    w.write(
        &w.home.join(".config/dwell"),
        &[(
            "config.toml",
            &format!("trusted = [\"{}\"]\n", w.dir.display()),
        )],
    );
    w
}

fn project(
    w: &World,
    kind: Kind,
    name: &str,
    attrs: &str,
    files: &[(&str, &str)],
) -> std::path::PathBuf {
    let count = w.count_file(name);
    let hook = format!("shellHook = \"echo x >> {}\";", count.display());
    let p = match kind {
        Kind::ShellNix => w.project(
            name,
            &[(
                "shell.nix",
                &format!("{{ pkgs ? import <nixpkgs> {{}} }}:\npkgs.mkShell {{\n  {attrs}\n  {hook}\n}}\n"),
            )],
        ),
        Kind::Flake => w.project(
            name,
            &[(
                "flake.nix",
                &format!(
                    "{{\n  inputs.nixpkgs.url = \"path:{}\";\n  outputs = {{ self, nixpkgs }}: {{\n    devShells.{sys}.default = nixpkgs.legacyPackages.{sys}.mkShell {{\n      {attrs}\n      {hook}\n    }};\n  }};\n}}\n",
                    fixture_nixpkgs().display(),
                    sys = system()
                ),
            )],
        ),
    };
    w.write(&p, files);
    p
}

fn row(kind: Kind, row: &Row) {
    let w = world_trusting_everything();
    let name = "row";
    let p = project(&w, kind, name, row.attrs, row.files);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        sh.get("V").as_deref(),
        Some(row.before),
        "{kind:?} {}: {}",
        row.name,
        sh.last_stderr
    );
    assert_eq!(w.evaluations(name), 1);

    // A file the evaluation did not read changes nothing.
    w.write(&p, &[("README.md", "docs")]);
    sh.prompt(&p);
    assert_eq!(
        w.evaluations(name),
        1,
        "{kind:?} {}: README.md is not an input",
        row.name
    );

    w.write(&p, &[row.edit]);
    let out = sh.prompt(&p).clone();
    assert_eq!(
        out["freshness"], "evaluated",
        "{kind:?} {}: the change was missed",
        row.name
    );
    assert_eq!(
        sh.get("V").as_deref(),
        Some(row.after),
        "{kind:?} {}",
        row.name
    );
    assert_eq!(w.evaluations(name), 2);
}

macro_rules! rows {
    ($($test:ident: $index:expr),+ $(,)?) => {
        $(
            mod $test {
                use super::*;
                #[test]
                fn shell_nix() {
                    need!("nix");
                    row(Kind::ShellNix, &ROWS[$index]);
                }
                #[test]
                fn flake() {
                    need!("nix");
                    row(Kind::Flake, &ROWS[$index]);
                }
            }
        )+
    };
}

macro_rules! self_rows {
    ($($test:ident: $index:expr),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                need!("nix");
                row(Kind::Flake, &SELF_ROWS[$index]);
            }
        )+
    };
}

self_rows!(
    self_plus_path: 0,
    dot_plus_computed_name: 1,
    self_out_path: 2,
    read_dir_through_self: 3,
);

rows!(
    import: 0,
    read_file: 1,
    read_dir: 2,
    copied_to_store: 3,
    from_json: 4,
    from_toml: 5,
    watch: 8,
    builtins_path_filter: 6,
    path_exists: 7,
);

#[test]
fn the_entry_file_itself() {
    need!("nix");
    for kind in [Kind::ShellNix, Kind::Flake] {
        let w = world_trusting_everything();
        let p = project(&w, kind, "entry", "V = \"one\";", &[]);
        let entry = p.join(if kind == Kind::Flake {
            "flake.nix"
        } else {
            "shell.nix"
        });
        let mut sh = SimShell::new(&w);
        sh.prompt(&p);
        assert_eq!(sh.get("V").as_deref(), Some("one"));
        let text = std::fs::read_to_string(&entry).unwrap();
        std::fs::write(&entry, text.replace("\"one\"", "\"two\"")).unwrap();
        sh.prompt(&p);
        assert_eq!(sh.get("V").as_deref(), Some("two"), "{kind:?}");
        assert_eq!(w.evaluations("entry"), 2);
    }
}

#[test]
fn the_flake_lock_and_a_path_input() {
    need!("nix");
    let w = world_trusting_everything();
    let p = w.project(
        "locked",
        &[
            (
                "sub/flake.nix",
                "{ outputs = { self }: { value = import ./value.nix; }; }\n",
            ),
            ("sub/value.nix", "\"one\"\n"),
        ],
    );
    let count = w.count_file("locked");
    w.write(
        &p,
        &[(
            "flake.nix",
            &format!(
                "{{\n  inputs.nixpkgs.url = \"path:{}\";\n  inputs.local.url = \"path:{}/sub\";\n  outputs = {{ self, nixpkgs, local }}: {{\n    devShells.{sys}.default = nixpkgs.legacyPackages.{sys}.mkShell {{\n      V = local.value;\n      shellHook = \"echo x >> {}\";\n    }};\n  }};\n}}\n",
                fixture_nixpkgs().display(),
                p.display(),
                count.display(),
                sys = system()
            ),
        )],
    );
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("one"), "{}", sh.last_stderr);
    assert!(p.join("flake.lock").exists());
    // Nix keeps using the locked copy of the input until the lock is updated...
    w.write(&p, &[("sub/value.nix", "\"two\"\n")]);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("one"));
    let before = w.evaluations("locked");
    let lock = std::process::Command::new("nix")
        .args(["flake", "lock", "--update-input", "local"])
        .current_dir(&p)
        .env_clear()
        .envs(&w.env)
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    // ...and the updated flake.lock is an input: the next prompt re-evaluates.
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("two"));
    assert_eq!(w.evaluations("locked"), before + 1);
}

/// `dwell status` says what may have escaped the trace only when the project's
/// own files do such a thing: a flake's `pathExists`, a shell.nix naming a path
/// outside the project.
#[test]
fn status_names_what_may_not_be_traced_only_when_it_happens() {
    need!("nix");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "exists",
        "V = if builtins.pathExists ./maybe.txt then \"y\" else \"n\";",
        &[],
    );
    let q = project(
        &w,
        Kind::ShellNix,
        "outside",
        "V = builtins.readFile ../outside.txt;",
        &[],
    );
    std::fs::write(q.parent().unwrap().join("outside.txt"), "o").unwrap();
    for (dir, says) in [
        (&p, "flake.nix uses pathExists"),
        (&q, "shell.nix names a path outside the project"),
    ] {
        SimShell::new(&w).prompt(dir);
        let status: serde_json::Value =
            serde_json::from_slice(&w.ok(dir, &["status", "--json"]).stdout).unwrap();
        let line = status["not_traced"].as_str().unwrap_or_default();
        assert!(line.contains(says) && line.contains("watch"), "{status}");
    }
}

#[test]
fn status_lists_inputs_packages_gc_root_and_what_is_not_traced() {
    need!("nix");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "st",
        "packages = [ nixpkgs.legacyPackages.x86_64-linux.hello ]; V = builtins.readFile ./v.txt;",
        &[("v.txt", "x")],
    );
    if system() != "x86_64-linux" {
        return;
    }
    SimShell::new(&w).prompt(&p);
    let status: serde_json::Value =
        serde_json::from_slice(&w.ok(&p, &["status", "--json"]).stdout).unwrap();
    let g = &status["generation"];
    let inputs: Vec<&str> = g["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        inputs.contains(&p.join("v.txt").to_str().unwrap()),
        "{inputs:?}"
    );
    assert!(inputs.contains(&p.join("flake.lock").to_str().unwrap()));
    assert!(
        g["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "hello"),
        "{g}"
    );
    assert!(Path::new(g["gc_root"].as_str().unwrap()).exists());
    // Nothing this flake does escapes the trace: no line about it.
    assert!(status["not_traced"].is_null(), "{status}");
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    assert!(!text.contains("not traced"), "{text}");
    for needle in ["generation", "packages", "hello", "gc root", "v.txt"] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

/// Regression: in a flake that is a git repository, Nix 2.8 copies the source
/// without a `copying` line (and again after writing the lock); files imported
/// from imported files were then not inputs, and an edit was served stale.
#[test]
fn a_git_flake_tracks_files_imported_indirectly() {
    need!("nix", "git");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "gitflake",
        "V = import ./nix/a.nix;",
        &[
            ("nix/a.nix", "import ./b.nix\n"),
            ("nix/b.nix", "\"one\"\n"),
        ],
    );
    let git = |args: &[&str]| {
        run_ok(
            w.command("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&p),
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "one"]);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("one"), "{}", sh.last_stderr);
    std::fs::write(p.join("nix/b.nix"), "\"two\"\n").unwrap();
    git(&["commit", "-qam", "two"]);
    let out = sh.prompt(&p).clone();
    assert_eq!(out["freshness"], "evaluated");
    assert_eq!(sh.get("V").as_deref(), Some("two"));
}

/// Regression: Nix writes flake.lock before a failing first evaluation; that lock
/// was then "changed since allowed" and asked for a new `dwell allow`.
#[test]
fn a_lock_written_by_a_failed_first_evaluation_stays_trusted() {
    need!("nix");
    let w = World::new();
    let p = project(
        &w,
        Kind::Flake,
        "lockfail",
        "V = import ./nix/v.nix;",
        &[("nix/v.nix", "\"unterminated\n")],
    );
    w.allow(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    sh.said("evaluation failed");
    assert!(p.join("flake.lock").exists());
    std::fs::write(p.join("nix/v.nix"), "\"fixed\"\n").unwrap();
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("fixed"), "{}", sh.last_stderr);
}

/// Regression: a directory copied to the store (`"${./data}"`, `src = ./.`) was
/// tracked by its listing only, so editing a file inside it was missed.
#[test]
fn editing_a_file_inside_a_copied_directory_refreshes() {
    need!("nix");
    for kind in [Kind::ShellNix, Kind::Flake] {
        let w = world_trusting_everything();
        let p = project(
            &w,
            kind,
            "tree",
            "V = builtins.readFile \"${./data}/deep/x.txt\";",
            &[("data/deep/x.txt", "one")],
        );
        let mut sh = SimShell::new(&w);
        sh.prompt(&p);
        assert_eq!(
            sh.get("V").as_deref(),
            Some("one"),
            "{kind:?}: {}",
            sh.last_stderr
        );
        std::fs::write(p.join("data/deep/x.txt"), "two").unwrap();
        sh.prompt(&p);
        assert_eq!(sh.get("V").as_deref(), Some("two"), "{kind:?}");
    }
}

/// The seed's Level 3: a poetry2nix flake in git, `projectDir = self`; poetry2nix
/// reads pyproject.toml and poetry.lock through `projectDir + "/…"`.
#[test]
fn the_seeds_poetry2nix_flake_sees_its_lock_and_nothing_else() {
    need!("nix", "git");
    let w = world_trusting_everything();
    let count = w.count_file("poetry");
    let flake = format!(
        r#"{{
  inputs.nixpkgs.url = "path:{nixpkgs}";
  inputs.poetry2nix.url = "path:{poetry2nix}";
  outputs = {{ self, nixpkgs, poetry2nix }}:
    let
      pkgs = nixpkgs.legacyPackages.{sys};
      poetry2nixLib = poetry2nix.lib.mkPoetry2Nix {{ inherit pkgs; }};
      myApp = poetry2nixLib.mkPoetryApplication {{ projectDir = self; }};
    in {{
      devShells.{sys}.default = pkgs.mkShell {{
        buildInputs = with pkgs; [ poetry black mypy ruff ];
        APP_VERSION = myApp.version;
        LOCKED = builtins.concatStringsSep "," myApp.dependencies;
        shellHook = "echo x >> {count}";
      }};
    }};
}}
"#,
        nixpkgs = fixture_nixpkgs().display(),
        poetry2nix = fixture_nixpkgs().with_file_name("poetry2nix").display(),
        sys = system(),
        count = count.display(),
    );
    let lock =
        |version: &str| format!("[[package]]\nname = \"requests\"\nversion = \"{version}\"\n");
    let pyproject =
        |version: &str| format!("[tool.poetry]\nname = \"my-app\"\nversion = \"{version}\"\n");
    let p = w.project(
        "poetry",
        &[
            ("flake.nix", &flake),
            ("pyproject.toml", &pyproject("0.1.0")),
            ("poetry.lock", &lock("2.31.0")),
            ("my_app/__init__.py", "print('hello')\n"),
        ],
    );
    let git = w.git_repo(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        sh.get("LOCKED").as_deref(),
        Some("requests==2.31.0"),
        "{}",
        sh.last_stderr
    );
    assert_eq!(sh.get("APP_VERSION").as_deref(), Some("0.1.0"));
    let evaluations = w.evaluations("poetry");

    w.write(&p, &[("poetry.lock", &lock("2.32.3"))]);
    sh.prompt(&p);
    assert_eq!(sh.get("LOCKED").as_deref(), Some("requests==2.32.3"));
    assert_eq!(w.evaluations("poetry"), evaluations + 1);

    w.write(&p, &[("pyproject.toml", &pyproject("0.2.0"))]);
    sh.prompt(&p);
    assert_eq!(sh.get("APP_VERSION").as_deref(), Some("0.2.0"));
    assert_eq!(w.evaluations("poetry"), evaluations + 2);

    // A tracked file the devShell does not read: no evaluation.
    w.write(&p, &[("my_app/__init__.py", "print('changed')\n")]);
    git(&["commit", "-qam", "two"]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("poetry"), evaluations + 2);

    // dwell status lists what it tracks, the root as ./ and no empty line.
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    assert!(text.contains("poetry.lock"), "{text}");
    assert!(!text.contains("__init__.py"), "{text}");
    assert!(!text.lines().any(|l| l.trim().is_empty()), "{text}");
}

/// A git flake with `src = ./.`: Nix copies the files git tracks, so files git
/// does not track are not inputs, and `git add` makes one.
#[test]
fn a_git_flake_with_src_dot_follows_what_git_tracks() {
    need!("nix", "git");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "srcdot",
        "src = ./.;",
        &[
            ("app.py", "print(1)\n"),
            (".gitignore", "__pycache__/\n.venv/\n"),
        ],
    );
    let git = w.git_repo(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    let src = sh.get("src").expect("src is set");
    assert!(src.contains("-source"), "{src}: {}", sh.last_stderr);
    let evaluations = w.evaluations("srcdot");

    // Ignored and untracked files: Nix does not copy them.
    w.write(
        &p,
        &[
            ("__pycache__/app.cpython-311.pyc", "bytecode"),
            (".venv/lib/python3.11/site-packages/x.py", "x"),
            ("notes.txt", "untracked"),
        ],
    );
    sh.prompt(&p);
    assert_eq!(w.evaluations("srcdot"), evaluations);

    // git add: Nix now copies it.
    git(&["add", "notes.txt"]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("srcdot"), evaluations + 1);
    assert_ne!(sh.get("src").unwrap(), src, "a new copy of the source");

    // An edit of a tracked file.
    w.write(&p, &[("app.py", "print(2)\n")]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("srcdot"), evaluations + 2);

    // dwell status lists the inputs: the root's listing as ./, no empty line.
    let text = String::from_utf8(w.ok(&p, &["status"]).stdout).unwrap();
    assert!(text.lines().any(|l| l.trim() == "./"), "{text}");
    assert!(!text.lines().any(|l| l.trim().is_empty()), "{text}");
}

/// `src = self` uses the whole source without reading it: every tracked file is
/// an input, an untracked one is not.
#[test]
fn a_git_flake_using_self_whole_depends_on_every_tracked_file() {
    need!("nix", "git");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "selfwhole",
        "src = self;",
        &[("app.py", "print(1)\n")],
    );
    let _git = w.git_repo(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    let src = sh.get("src").expect("src is set");
    let evaluations = w.evaluations("selfwhole");
    w.write(&p, &[("untracked.txt", "x")]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("selfwhole"), evaluations);
    w.write(&p, &[("app.py", "print(2)\n")]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("selfwhole"), evaluations + 1);
    assert_ne!(sh.get("src").unwrap(), src, "the source's new store path");
}

/// A uv2nix-shaped flake: `workspaceRoot = ./.`, uv.lock and pyproject.toml
/// read through computed paths.
#[test]
fn a_uv2nix_shaped_flake_sees_uv_lock_and_pyproject() {
    need!("nix", "git");
    let w = world_trusting_everything();
    let p = project(
        &w,
        Kind::Flake,
        "uv2nix",
        "V = let workspaceRoot = ./.; \
             lock = builtins.fromTOML (builtins.readFile (workspaceRoot + \"/uv.lock\")); \
             project = builtins.fromTOML (builtins.readFile (workspaceRoot + \"/pyproject.toml\")); \
           in \"${project.project.name}:${(builtins.head lock.package).version}\";",
        &[
            (
                "uv.lock",
                "version = 1\n[[package]]\nname = \"httpx\"\nversion = \"0.27.0\"\n",
            ),
            ("pyproject.toml", "[project]\nname = \"svc\"\n"),
            ("src/svc/main.py", "print(1)\n"),
        ],
    );
    let _git = w.git_repo(&p);
    let mut sh = SimShell::new(&w);
    sh.prompt(&p);
    assert_eq!(
        sh.get("V").as_deref(),
        Some("svc:0.27.0"),
        "{}",
        sh.last_stderr
    );
    let evaluations = w.evaluations("uv2nix");
    w.write(&p, &[("src/svc/main.py", "print(2)\n")]);
    sh.prompt(&p);
    assert_eq!(w.evaluations("uv2nix"), evaluations);
    w.write(
        &p,
        &[(
            "uv.lock",
            "version = 1\n[[package]]\nname = \"httpx\"\nversion = \"0.28.1\"\n",
        )],
    );
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("svc:0.28.1"));
    w.write(&p, &[("pyproject.toml", "[project]\nname = \"service\"\n")]);
    sh.prompt(&p);
    assert_eq!(sh.get("V").as_deref(), Some("service:0.28.1"));
    assert_eq!(w.evaluations("uv2nix"), evaluations + 2);
}
