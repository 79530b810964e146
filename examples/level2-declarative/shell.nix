# Level 2, declarative: the Python packages come from Nix too.
{ pkgs ? import <nixpkgs> { } }:
let
  python = pkgs.python3.withPackages (ps: [ ps.requests ps.pytest ]);
in
pkgs.mkShell {
  packages = [ python ];
  PROJECT_LEVEL = "2";
  shellHook = ''
    export PROJECT_GREETING="python.withPackages is on PATH"
  '';
}
