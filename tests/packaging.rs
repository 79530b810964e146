//! Packaging: flake.nix and the NixOS and home-manager modules under nix/, checked
//! offline with nix-instantiate. There is no nixpkgs here, so the modules are
//! evaluated with the small stand-in lib of tests/fixtures/module-lib.nix (see its
//! header for what it does not model), and the flake's outputs with stub packages.
//!
//! Not checked here, for want of nixpkgs and home-manager: that the package builds
//! (buildRustPackage, the vendored Cargo.lock, installManPage,
//! installShellCompletion), that the options type-check and merge under the real
//! module system, and that the rendered systemd units and TOML are what NixOS and
//! home-manager write. `nix flake check` on a machine with nixpkgs covers those.

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NIX_CONFIG: &str = "substituters =\nbuild-users-group =\nsandbox = false\nexperimental-features = nix-command flakes";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// nix-instantiate with a store of its own (so tests run in parallel) and no
/// NIX_PATH (so nothing can reach for a nixpkgs).
struct Nix {
    tmp: tempfile::TempDir,
}

impl Nix {
    fn new() -> Option<Nix> {
        crate::util::require("nix-instantiate")?;
        let tmp = tempfile::Builder::new()
            .prefix("dwell-packaging")
            .tempdir()
            .unwrap();
        Some(Nix { tmp })
    }

    fn command(&self) -> Command {
        let dir = self.tmp.path();
        let mut cmd = Command::new("nix-instantiate");
        cmd.env("NIX_CONFIG", NIX_CONFIG)
            .env("NIX_STORE_DIR", dir.join("store"))
            .env("NIX_STATE_DIR", dir.join("state"))
            .env("NIX_LOG_DIR", dir.join("log"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("NIX_PATH", "")
            .current_dir(root());
        cmd
    }

    /// Evaluates `body` strictly to JSON. In `body`, `root` is the repository (a
    /// string) and `m` is tests/fixtures/module-lib.nix.
    fn eval_result(&self, body: &str) -> Output {
        let expr = format!(
            "{{ root }}:\nlet m = import (root + \"/tests/fixtures/module-lib.nix\");\nin\n{body}"
        );
        self.command()
            .args([
                "--eval", "--strict", "--json", "-E", &expr, "--argstr", "root",
            ])
            .arg(root())
            .output()
            .unwrap()
    }

    fn eval(&self, body: &str) -> Json {
        let out = self.eval_result(body);
        assert!(
            out.status.success(),
            "nix-instantiate --eval failed:\n{}\nexpression:\n{body}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The error of an evaluation that must fail.
    fn eval_error(&self, body: &str) -> String {
        let out = self.eval_result(body);
        assert!(
            !out.status.success(),
            "expected an evaluation error, got {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The .nix files under `dir`, recursively (symlinks such as `result` and a
/// `.venv` are not followed).
fn nix_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() && entry.file_name() != ".venv" {
            nix_files(&path, found);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "nix") {
            found.push(path);
        }
    }
}

fn str_at<'a>(json: &'a Json, pointer: &str) -> &'a str {
    json.pointer(pointer)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {json:#}"))
}

fn strings_at(json: &Json, pointer: &str) -> Vec<String> {
    json.pointer(pointer)
        .and_then(Json::as_array)
        .unwrap_or_else(|| panic!("no list at {pointer} in {json:#}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{v} is not a string"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_nix_file_parses() {
    let Some(nix) = Nix::new() else { return };
    let mut files = vec![root().join("flake.nix")];
    for dir in ["nix", "examples", "tests/fixtures"] {
        nix_files(&root().join(dir), &mut files);
    }
    for expected in [
        "nix/nixos-module.nix",
        "nix/home-manager-module.nix",
        "nix/options.nix",
        "nix/hooks.nix",
        "tests/fixtures/module-lib.nix",
    ] {
        assert!(
            files.contains(&root().join(expected)),
            "{expected} was not found among {files:?}"
        );
    }
    for file in &files {
        let out = nix.command().arg("--parse").arg(file).output().unwrap();
        assert!(
            out.status.success(),
            "{} does not parse:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The flake's outputs with a stub nixpkgs: `callPackage` calls the function with
/// stand-in arguments, buildRustPackage and mkShell return their arguments.
const FLAKE: &str = r#"
let
  flake = import (root + "/flake.nix");
  systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  stubs = names: builtins.listToAttrs (map (name: { inherit name; value = m.stubPackage name; }) names);
  pkgsFor = canExecute: let pkgs = m.pkgs // stubs [
      "installShellFiles" "nix" "bash" "python3" "cargo" "rustc" "clippy" "rustfmt"
      "rust-analyzer" "shellcheck" "zsh" "fish"
    ] // {
      inherit (m) lib;
      stdenv = m.pkgs.stdenv // { buildPlatform.canExecute = _: canExecute; };
      rustPlatform = { buildRustPackage = attrs: attrs; rustLibSrc = "/stub/rust-lib-src"; };
      mkShell = attrs: attrs;
      callPackage = f: overrides: f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
    }; in pkgs;
  nixpkgs.legacyPackages = builtins.listToAttrs (map (name: { inherit name; value = pkgsFor true; }) systems);
  outputs = flake.outputs { self = outputs; inherit nixpkgs; };
  describe = pkg: {
    inherit (pkg) pname version doCheck postInstall;
    lockFile = baseNameOf pkg.cargoLock.lockFile;
    lockFileExists = builtins.pathExists pkg.cargoLock.lockFile;
    srcRoot = toString pkg.src.root == toString (root + "/.") || toString pkg.src.root == root;
    src = map baseNameOf pkg.src.fileset;
    nativeCheckInputs = map (p: p.name) pkg.nativeCheckInputs;
    nativeBuildInputs = map (p: p.name) pkg.nativeBuildInputs;
    mainProgram = pkg.meta.mainProgram;
  };
  wrapper = module: let w = module { inherit (m) lib; inherit (m) pkgs; }; in {
    imports = map baseNameOf w.imports;
    importsExist = builtins.all builtins.pathExists w.imports;
    packageDefault = w.programs.dwell.package._type;
    packageDefaultPname = w.programs.dwell.package.content.pname;
  };
in
"#;

#[test]
fn flake_outputs_have_the_expected_shape() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&format!(
        r#"{FLAKE}{{
  nixpkgsUrl = flake.inputs.nixpkgs.url;
  outputs = builtins.attrNames outputs;
  packageSystems = builtins.attrNames outputs.packages;
  devShellSystems = builtins.attrNames outputs.devShells;
  devShellPackages = map (p: p.name) outputs.devShells.x86_64-linux.default.packages;
  overlay = builtins.attrNames (outputs.overlays.default (pkgsFor true) {{ }});
  overlayPname = (outputs.overlays.default (pkgsFor true) {{ }}).dwell.pname;
  nixos = wrapper outputs.nixosModules.default;
  homeManager = wrapper outputs.homeManagerModules.default;
}}"#
    ));
    assert_eq!(
        str_at(&json, "/nixpkgsUrl"),
        "github:NixOS/nixpkgs/nixos-unstable"
    );
    assert_eq!(
        strings_at(&json, "/outputs"),
        [
            "devShells",
            "homeManagerModules",
            "nixosModules",
            "overlays",
            "packages"
        ]
    );
    let systems = [
        "aarch64-darwin",
        "aarch64-linux",
        "x86_64-darwin",
        "x86_64-linux",
    ];
    assert_eq!(strings_at(&json, "/packageSystems"), systems);
    assert_eq!(strings_at(&json, "/devShellSystems"), systems);
    assert_eq!(
        strings_at(&json, "/devShellPackages"),
        [
            "cargo",
            "rustc",
            "clippy",
            "rustfmt",
            "rust-analyzer",
            "nix",
            "shellcheck",
            "zsh",
            "fish",
            "python3"
        ]
    );
    assert_eq!(strings_at(&json, "/overlay"), ["dwell"]);
    assert_eq!(str_at(&json, "/overlayPname"), "dwell");
    for (module, file) in [
        ("nixos", "nixos-module.nix"),
        ("homeManager", "home-manager-module.nix"),
    ] {
        assert_eq!(strings_at(&json, &format!("/{module}/imports")), [file]);
        assert_eq!(json[module]["importsExist"], true, "{module}");
        // programs.dwell.package = lib.mkDefault self.packages.<system>.default
        assert_eq!(
            str_at(&json, &format!("/{module}/packageDefault")),
            "override"
        );
        assert_eq!(
            str_at(&json, &format!("/{module}/packageDefaultPname")),
            "dwell"
        );
    }
}

#[test]
fn flake_package_recipe() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&format!(
        r#"{FLAKE}{{
  native = describe outputs.packages.x86_64-linux.default;
  cross = describe (outputs.overlays.default (pkgsFor false) {{ }}).dwell;
  hasMan = builtins.pathExists (root + "/man");
}}"#
    ));
    let native = &json["native"];
    assert_eq!(str_at(native, "/pname"), "dwell");
    assert_eq!(str_at(native, "/version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(native["doCheck"], false);
    assert_eq!(str_at(native, "/lockFile"), "Cargo.lock");
    assert_eq!(native["lockFileExists"], true);
    assert_eq!(
        native["srcRoot"], true,
        "src is filtered from the repository root"
    );
    let has_man = json["hasMan"] == true;
    let mut src = vec!["Cargo.toml", "Cargo.lock", "src", "shell-hooks", "tests"];
    if has_man {
        src.push("man");
    }
    assert_eq!(strings_at(native, "/src"), src);
    assert_eq!(
        strings_at(native, "/nativeCheckInputs"),
        ["nix", "bash", "python3"]
    );
    assert_eq!(
        strings_at(native, "/nativeBuildInputs"),
        ["installShellFiles"]
    );
    assert_eq!(str_at(native, "/mainProgram"), "dwell");

    let post = str_at(native, "/postInstall");
    assert_eq!(post.contains("installManPage man/"), has_man, "{post}");
    assert!(
        post.contains("installShellCompletion --cmd dwell"),
        "{post}"
    );
    for shell in ["bash", "zsh", "fish"] {
        assert!(
            post.contains(&format!("--{shell} <($out/bin/dwell completions {shell})")),
            "{post}"
        );
    }
    // A build whose output cannot run on the build machine generates no completions.
    let cross = str_at(&json, "/cross/postInstall");
    assert!(!cross.contains("completions"), "{cross}");
}

/// Evaluates a module with the stand-in: `defs` are its options' definitions,
/// `extra` more evalModule arguments.
fn module_eval(file: &str, defs: &str, extra: &str, select: &str) -> String {
    format!(
        r#"let e = m.evalModule {{
  module = import (root + "/nix/{file}");
  defs = {defs};
  {extra}
}}; in {select}"#
    )
}

const HOOK_BASH: &str = "eval \"$(/stub/dwell/bin/dwell hook bash)\"\n";
const HOOK_ZSH: &str = "eval \"$(/stub/dwell/bin/dwell hook zsh)\"\n";
const HOOK_FISH: &str = "/stub/dwell/bin/dwell hook fish | source\n";

/// The keys of `settings` (nix/options.nix, shared by both modules), each with a
/// value in TOML, and the type of its option.
const SETTINGS: [(&str, &str, &str); 12] = [
    ("async", "true", "nullOr bool"),
    ("eval_timeout", "\"10m\"", "nullOr str"),
    ("generations", "4", "nullOr unsigned integer"),
    ("install_timeout", "\"30m\"", "nullOr str"),
    ("prune_after", "\"90d\"", "nullOr str"),
    ("shellhook_output", "\"first\"", "nullOr str"),
    ("shellhook_timeout", "\"2m\"", "nullOr str"),
    ("status_line", "false", "nullOr bool"),
    ("trusted", "[\"~/src\"]", "listOf str"),
    ("venv_generations", "2", "nullOr unsigned integer"),
    ("wait", "\"forever\"", "nullOr str"),
    ("watch_projects", "32", "nullOr unsigned integer"),
];

/// Whether dwell's own config loader accepts `toml` (it rejects unknown keys).
fn dwell_accepts(toml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, toml).unwrap();
    dwell::Settings::load_layers(&[], &file)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The daemon's unit is hardened with ProtectSystem=full, not strict: it must be
/// able to write project directories (venvs, flake.lock) and, on a single-user
/// install, /nix/store; so there are no ReadWritePaths to keep up to date.
fn assert_service_hardening(service: &Json) {
    assert_eq!(str_at(service, "/ProtectSystem"), "full", "{service:#}");
    for (key, value) in [
        ("NoNewPrivileges", true),
        ("PrivateTmp", false),
        ("RestrictSUIDSGID", true),
        ("LockPersonality", true),
    ] {
        assert_eq!(service[key], value, "{key}: {service:#}");
    }
    for key in ["ReadWritePaths", "ExecStartPre"] {
        assert!(service.get(key).is_none(), "{key}: {service:#}");
    }
}

#[test]
fn nixos_module_declares_its_options() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&module_eval(
        "nixos-module.nix",
        "{ }",
        "",
        r#"{
  options = builtins.attrNames e.options.programs.dwell;
  daemon = builtins.attrNames e.options.programs.dwell.daemon;
  enableType = e.options.programs.dwell.enable.type.name;
  enableDefault = e.options.programs.dwell.enable.default;
  settings = builtins.mapAttrs (_: o: o.type.name) e.options.programs.dwell.settings.type.options;
  settingsDescription = e.options.programs.dwell.settings.description;
  # the values the module sees, defaults filled in
  defaults = e.config.programs.dwell;
  # disabled: the module defines nothing
  result = e.result;
}"#,
    ));
    assert_eq!(
        strings_at(&json, "/options"),
        [
            "daemon",
            "enable",
            "enableBashIntegration",
            "enableElvishIntegration",
            "enableFishIntegration",
            "enableNushellIntegration",
            "enableXonshIntegration",
            "enableZshIntegration",
            "package",
            "settings"
        ]
    );
    assert_eq!(strings_at(&json, "/daemon"), ["enable"]);
    assert_eq!(str_at(&json, "/enableType"), "bool");
    assert_eq!(json["enableDefault"], false);
    let settings: Vec<(&str, &str)> = json["settings"]
        .as_object()
        .unwrap_or_else(|| panic!("no settings in {json:#}"))
        .iter()
        .map(|(key, ty)| (key.as_str(), ty.as_str().unwrap()))
        .collect();
    assert_eq!(
        settings,
        SETTINGS.map(|(key, _, ty)| (key, ty)),
        "the settings and their types"
    );
    // Every setting the module offers is one dwell's own config accepts.
    let toml: String = SETTINGS
        .iter()
        .map(|(key, value, _)| format!("{key} = {value}\n"))
        .collect();
    dwell_accepts(&toml).expect("dwell reads every module setting");
    // ... and dwell's loader is strict enough for that to mean something.
    assert!(dwell_accepts("no_such_key = true\n").is_err());
    let description = str_at(&json, "/settingsDescription");
    assert!(
        description.contains("/etc/xdg/dwell/config.toml"),
        "{description}"
    );
    assert!(
        description.contains("$XDG_CONFIG_HOME/dwell/config.toml"),
        "{description}"
    );
    let defaults = &json["defaults"];
    for switch in [
        "enableBashIntegration",
        "enableZshIntegration",
        "enableFishIntegration",
        "enableXonshIntegration",
        "enableNushellIntegration",
        "enableElvishIntegration",
    ] {
        assert_eq!(defaults[switch], true, "{switch}");
    }
    assert_eq!(defaults["daemon"]["enable"], true);
    // Unset settings are null (and so not written); trusted is empty.
    for (key, _, _) in SETTINGS {
        let expected = if key == "trusted" {
            serde_json::json!([])
        } else {
            Json::Null
        };
        assert_eq!(defaults["settings"][key], expected, "settings.{key}");
    }
    assert_eq!(str_at(defaults, "/package"), "/stub/dwell");
    assert_eq!(json["result"], serde_json::json!({}));
}

#[test]
fn nixos_module_enabled_adds_hooks_package_and_user_service() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&module_eval(
        "nixos-module.nix",
        "{ programs.dwell.enable = true; }",
        r#"world.nix.package = m.stubPackage "system-nix";"#,
        "e.result",
    ));
    assert_eq!(
        str_at(&json, "/programs/bash/interactiveShellInit"),
        HOOK_BASH
    );
    assert_eq!(
        str_at(&json, "/programs/zsh/interactiveShellInit"),
        HOOK_ZSH
    );
    assert_eq!(
        str_at(&json, "/programs/fish/interactiveShellInit"),
        HOOK_FISH
    );
    assert_eq!(
        str_at(&json, "/programs/xonsh/config"),
        "execx($(/stub/dwell/bin/dwell hook xonsh))\n"
    );
    assert_eq!(
        strings_at(&json, "/environment/systemPackages"),
        ["/stub/dwell", "/stub/dwell.nu", "/stub/dwell.elv"]
    );
    assert_eq!(
        strings_at(&json, "/environment/pathsToLink"),
        ["/share/nushell/vendor/autoload", "/share/elvish/lib"]
    );
    // Every setting at its default: no config file.
    assert!(json.pointer("/environment/etc").is_none(), "{json:#}");

    let unit = &json["systemd"]["user"]["services"]["dwell"];
    assert_eq!(strings_at(unit, "/wantedBy"), ["default.target"]);
    assert!(
        strings_at(unit, "/path").contains(&"/stub/system-nix".to_string()),
        "the service's PATH has config.nix.package: {unit:#}"
    );
    let service = &unit["serviceConfig"];
    assert_eq!(
        str_at(service, "/ExecStart"),
        "/stub/dwell/bin/dwell daemon"
    );
    assert!(str_at(service, "/ExecReload").ends_with("/bin/kill -HUP $MAINPID"));
    assert_eq!(str_at(service, "/Restart"), "on-failure");
    assert_service_hardening(service);
}

#[test]
fn nixos_module_switches_and_settings() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&module_eval(
        "nixos-module.nix",
        r#"{ programs.dwell = {
    enable = true;
    enableBashIntegration = false;
    enableFishIntegration = false;
    daemon.enable = false;
    settings = {
      trusted = [ "~/src/mine" "/srv/work" ];
      status_line = false;
      async = true;
      eval_timeout = "10m";
      watch_projects = 32;
    };
  }; }"#,
        "",
        r#"{
  result = e.result;
  toml = e.result.environment.etc."xdg/dwell/config.toml".source.text;
}"#,
    ));
    let result = &json["result"];
    assert!(result.pointer("/programs/bash").is_none(), "{result:#}");
    assert!(result.pointer("/programs/fish").is_none(), "{result:#}");
    assert_eq!(
        str_at(result, "/programs/zsh/interactiveShellInit"),
        HOOK_ZSH
    );
    assert!(result.pointer("/systemd").is_none(), "{result:#}");
    // The settings left unset (generations, prune_after) are not written.
    let toml = str_at(&json, "/toml");
    assert_eq!(
        toml,
        "async = true\neval_timeout = \"10m\"\nstatus_line = false\n\
         trusted = [\"~/src/mine\", \"/srv/work\"]\nwatch_projects = 32\n"
    );
    dwell_accepts(toml).expect("dwell reads the file the module writes");
}

#[test]
fn the_modules_nushell_hook_is_the_repositorys_naming_the_package() {
    let Some(nix) = Nix::new() else { return };
    need!("nu");
    // writeText handing back the text itself: the line sources the hook's text.
    let json = nix.eval(
        r#"(import (root + "/nix/hooks.nix") {
  package = m.stubPackage "dwell";
  pkgs = m.pkgs // { writeText = name: text: text; };
}).nushell"#,
    );
    let line = json.as_str().unwrap();
    let hook = line
        .strip_prefix("source ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(hook.contains("  exe: '/stub/dwell/bin/dwell'\n"), "{hook}");
    // And real Nushell takes it.
    let file = std::env::temp_dir().join(format!("dwell-module-hook-{}.nu", std::process::id()));
    std::fs::write(&file, hook).unwrap();
    let out = std::process::Command::new("nu")
        .args(["--no-config-file", "-c"])
        .arg(format!(
            "source '{}'\nprint $env.__dwell.exe",
            file.display()
        ))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/stub/dwell/bin/dwell",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hook files the NixOS module installs (Nushell's vendor autoload file,
/// elvish's module) are the repository's hooks naming the package's dwell, in
/// the directories each shell loads them from, and each shell takes them.
#[test]
fn the_nixos_modules_hook_files_are_the_repositorys_and_each_shell_takes_them() {
    let Some(nix) = Nix::new() else { return };
    need!("nu", "elvish");
    let json = nix.eval(&module_eval(
        "nixos-module.nix",
        "{ programs.dwell.enable = true; }",
        "",
        "map (p: { path = p.path or \"\"; text = p.text or \"\"; }) e.result.environment.systemPackages",
    ));
    let files: Vec<(&str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] != "")
        .map(|f| (f["path"].as_str().unwrap(), f["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files.iter().map(|(path, _)| *path).collect::<Vec<_>>(),
        [
            "share/nushell/vendor/autoload/dwell.nu",
            "share/elvish/lib/dwell.elv"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let (nu_hook, elvish_hook) = (files[0].1, files[1].1);
    assert!(
        nu_hook.contains("  exe: '/stub/dwell/bin/dwell'\n"),
        "{nu_hook}"
    );
    assert!(
        elvish_hook.contains("var __dwell_exe = '/stub/dwell/bin/dwell'\n"),
        "{elvish_hook}"
    );
    let nu_file = dir.path().join("dwell.nu");
    std::fs::write(&nu_file, nu_hook).unwrap();
    crate::util::assert_nu_parses(Path::new("nu"), &nu_file);
    crate::util::assert_elvish_compiles(Path::new("elvish"), elvish_hook, dir.path());
}

#[test]
fn home_manager_module_enabled() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&module_eval(
        "home-manager-module.nix",
        r#"{ programs.dwell = { enable = true; settings.trusted = [ "~/src/mine" ]; }; }"#,
        "",
        r#"{
  options = builtins.attrNames e.options.programs.dwell;
  settings = builtins.attrNames e.options.programs.dwell.settings.type.options;
  settingsDescription = e.options.programs.dwell.settings.description;
  result = e.result;
  toml = e.result.xdg.configFile."dwell/config.toml".source.text;
}"#,
    ));
    assert_eq!(
        strings_at(&json, "/options"),
        [
            "daemon",
            "enable",
            "enableBashIntegration",
            "enableElvishIntegration",
            "enableFishIntegration",
            "enableNushellIntegration",
            "enableXonshIntegration",
            "enableZshIntegration",
            "package",
            "settings"
        ]
    );
    // The same settings as the NixOS module (nix/options.nix), described as the
    // file this module writes.
    assert_eq!(
        strings_at(&json, "/settings"),
        SETTINGS.map(|(key, _, _)| key)
    );
    let description = str_at(&json, "/settingsDescription");
    assert!(
        description.contains("xdg.configFile.\"dwell/config.toml\""),
        "{description}"
    );
    assert!(!description.contains("/etc/xdg"), "{description}");
    let result = &json["result"];
    assert_eq!(str_at(result, "/programs/bash/initExtra"), HOOK_BASH);
    // A home-manager without programs.zsh.initContent (before 25.05).
    assert_eq!(str_at(result, "/programs/zsh/initExtra"), HOOK_ZSH);
    assert_eq!(
        str_at(result, "/programs/fish/interactiveShellInit"),
        HOOK_FISH
    );
    // Nushell sources a file: the repository's hook, naming the package's dwell.
    assert_eq!(
        str_at(result, "/programs/nushell/extraConfig"),
        "source /stub/dwell-hook.nu\n"
    );
    // xonsh runs its rc.d on its own; elvish `use`s the module.
    assert_eq!(
        str_at(result, "/xdg/configFile/xonsh~1rc.d~1dwell.xsh/text"),
        "execx($(/stub/dwell/bin/dwell hook xonsh))\n"
    );
    let elvish = str_at(result, "/xdg/configFile/elvish~1lib~1dwell.elv/text");
    assert!(
        elvish.contains("var __dwell_exe = '/stub/dwell/bin/dwell'\n"),
        "{elvish}"
    );
    assert_eq!(strings_at(result, "/home/packages"), ["/stub/dwell"]);
    assert_eq!(str_at(&json, "/toml"), "trusted = [\"~/src/mine\"]\n");

    let unit = &result["systemd"]["user"]["services"]["dwell"];
    assert_eq!(
        str_at(unit, "/Service/ExecStart"),
        "/stub/dwell/bin/dwell daemon"
    );
    assert!(str_at(unit, "/Service/ExecReload").ends_with("/bin/kill -HUP $MAINPID"));
    assert_eq!(strings_at(unit, "/Install/WantedBy"), ["default.target"]);
    assert!(unit.pointer("/Unit/Description").is_some());
    // The config file's change reloads the daemon (SIGHUP) through sd-switch.
    assert_eq!(
        strings_at(unit, "/Unit/X-Reload-Triggers"),
        [str_at(result, "/xdg/configFile/dwell~1config.toml/source")]
    );
    let env = strings_at(unit, "/Service/Environment");
    assert!(
        env.iter()
            .any(|e| e.starts_with("PATH=") && e.contains("/stub/nix/bin")),
        "nix on the service's PATH: {env:?}"
    );
    assert_service_hardening(&unit["Service"]);
}

#[test]
fn home_manager_module_uses_zsh_init_content_and_skips_the_service_off_linux() {
    let Some(nix) = Nix::new() else { return };
    let json = nix.eval(&module_eval(
        "home-manager-module.nix",
        "{ programs.dwell.enable = true; }",
        r#"options.programs.zsh.initContent = m.lib.mkOption { type = m.lib.types.str; };
  pkgs = m.pkgs // { stdenv.hostPlatform = { system = "aarch64-darwin"; isLinux = false; }; };"#,
        "e.result",
    ));
    assert_eq!(str_at(&json, "/programs/zsh/initContent"), HOOK_ZSH);
    assert!(
        json.pointer("/programs/zsh/initExtra").is_none(),
        "{json:#}"
    );
    assert!(json.pointer("/systemd").is_none(), "{json:#}");
    assert!(
        json.pointer("/xdg/configFile/dwell~1config.toml").is_none(),
        "no settings, no file: {json:#}"
    );
}

/// The stand-in is only worth something if it catches mistakes.
#[test]
fn module_stand_in_rejects_what_the_module_system_rejects() {
    let Some(nix) = Nix::new() else { return };
    for (defs, error) in [
        (
            "{ programs.dwell = { enable = true; enableBash = false; }; }",
            "programs.dwell.enableBash does not exist",
        ),
        (
            r#"{ programs.dwell = { enable = true; settings.trusted = "~/src"; }; }"#,
            "settings.trusted",
        ),
        // dwell rejects unknown keys in its config, so the module does too.
        (
            r#"{ programs.dwell = { enable = true; settings.log = "debug"; }; }"#,
            "settings.log does not exist",
        ),
        (
            r#"{ programs.dwell = { enable = true; settings.watch_projects = "32"; }; }"#,
            "settings.watch_projects",
        ),
        (
            "{ programs.dwell.enable = \"yes\"; }",
            "programs.dwell.enable",
        ),
    ] {
        for file in ["nixos-module.nix", "home-manager-module.nix"] {
            let stderr = nix.eval_error(&module_eval(file, defs, "", "e.result"));
            assert!(stderr.contains(error), "{file} {defs}: {stderr}");
        }
    }
}
