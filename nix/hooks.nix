# The line each shell's startup file needs, shared by the NixOS and home-manager
# modules (the README's hook table says the same).
package: {
  bash = ''
    eval "$(${package}/bin/dwell hook bash)"
  '';
  zsh = ''
    eval "$(${package}/bin/dwell hook zsh)"
  '';
  fish = ''
    ${package}/bin/dwell hook fish | source
  '';
}
