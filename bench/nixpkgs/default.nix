# The benchmark's nixpkgs: the stand-in under tests/fixtures/nixpkgs, plus the two
# things `nix-shell` (and so direnv's stock `use nix`) needs from a real nixpkgs:
#
#   - `bashInteractive`, the shell nix-shell runs;
#   - a `stdenv` whose `setup` defines `runHook` (nix-shell runs the shellHook with
#     `runHook shellHook`) and puts the packages on PATH and exports it, as nixpkgs'
#     does (nix-shell hands bash no PATH of its own), instead of a `PATH` attribute
#     (nix-shell would replace the user's PATH with it).
#
# `nix print-dev-env` (dwell, direnv's `use flake`) sources the same setup, so every
# tool sees the same environment from the same derivation.
{ system ? builtins.currentSystem, ... }@args:
let
  base = import ../../tests/fixtures/nixpkgs args;

  stdenv = derivation {
    name = "bench-stdenv";
    inherit system;
    builder = "/bin/bash";
    setup = ''
      runHook() { local __hook=$1; eval "''${!__hook-}"; }
      if [ -n "''${benchBinPath-}" ]; then PATH=$benchBinPath''${PATH:+:$PATH}; fi
      export PATH
    '';
    args = [ "-c" ''
      PATH=/usr/bin:/bin
      mkdir -p "$out"
      printf '%s' "$setup" > "$out/setup"
      :
    '' ];
    outputs = [ "out" ];
  };

  mkShell = { name ? "nix-shell", packages ? [ ], buildInputs ? [ ], nativeBuildInputs ? [ ], shellHook ? "", ... }@attrs:
    derivation ((builtins.removeAttrs attrs [ "packages" "buildInputs" "nativeBuildInputs" ]) // {
      inherit name system shellHook stdenv;
      benchBinPath = base.lib.makeBinPath (packages ++ buildInputs ++ nativeBuildInputs);
      builder = "/bin/bash";
      args = [ "-c" "echo ready > $out" ];
      outputs = [ "out" ];
    });

  bashInteractive = base.writeShellScriptBin "bash" ''exec /bin/bash "$@"'';
in
base // { inherit mkShell bashInteractive stdenv; }
