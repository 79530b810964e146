# The line each shell's startup file needs, shared by the NixOS and home-manager
# modules (the README's hook table says the same), and the hooks that are files
# (Nushell's, sourced when its config is parsed; elvish's, a module `use`d from
# rc.elv), each the repository's own with the package's dwell named in it.
{ package, pkgs }:
let
  nuHook = builtins.replaceStrings
    [ "  exe: 'dwell'" ]
    [ "  exe: '${package}/bin/dwell'" ]
    (builtins.readFile ../shell-hooks/dwell.nu);
in
{
  bash = ''
    eval "$(${package}/bin/dwell hook bash)"
  '';
  zsh = ''
    eval "$(${package}/bin/dwell hook zsh)"
  '';
  fish = ''
    ${package}/bin/dwell hook fish | source
  '';
  xonsh = ''
    execx($(${package}/bin/dwell hook xonsh))
  '';
  # Nushell sources files when it parses its config: a line naming the hook's file.
  nushell = ''
    source ${pkgs.writeText "dwell-hook.nu" nuHook}
  '';
  # The hook itself, for a directory Nushell loads on its own (vendor autoload).
  nushellFile = nuHook;
  # elvish has no directory of startup files: the hook is the module `dwell`,
  # which rc.elv loads with `use dwell`.
  elvishModule = builtins.replaceStrings
    [ "var __dwell_exe = 'dwell'" ]
    [ "var __dwell_exe = '${package}/bin/dwell'" ]
    (builtins.readFile ../shell-hooks/dwell.elv);
}
