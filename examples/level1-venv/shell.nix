# Level 1, the pragmatic bridge: Nix provides python and system libraries; the
# Python packages live in a pip .venv inside the project. dwell layers the .venv on
# top of the Nix environment (its bin first on PATH).
{ pkgs ? import <nixpkgs> { } }:
pkgs.mkShell {
  packages = [ pkgs.python3 pkgs.hello ];
  PROJECT_LEVEL = "1";
}
