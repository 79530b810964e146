# The line each shell's startup file needs, shared by the NixOS and home-manager
# modules (the README's hook table says the same).
{ package, pkgs }:
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
  # Nushell sources files when it parses its config: the hook is a file, the
  # repository's own with the package's dwell named in it.
  nushell =
    let
      hook = builtins.replaceStrings
        [ "  exe: 'dwell'" ]
        [ "  exe: '${package}/bin/dwell'" ]
        (builtins.readFile ../shell-hooks/dwell.nu);
    in
    ''
      source ${pkgs.writeText "dwell-hook.nu" hook}
    '';
}
