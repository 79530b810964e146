# The options programs.dwell.* that the NixOS module (nixos-module.nix) and the
# home-manager module (home-manager-module.nix) share. Each module calls this with
# what its own wiring differs in: where the hooks go, which file `settings` is
# written to, and for whom the daemon's unit runs.
#
#   hookOptions: per shell (bash, zsh, fish; and xonsh or nushell where the
#     module system has an option for them), the option the hook is added to, as
#     shown in the description of enable<Shell>Integration.
#   settingsDescription: the description of `settings` (the file it writes).
#   daemonScope: how the daemon's systemd user service runs, ending the sentence
#     of daemon.enable's description (e.g. "for every user").
{ lib, pkgs, hookOptions, settingsDescription, daemonScope }:

let
  inherit (lib) mkOption types;

  hookOption = shell: mkOption {
    type = types.bool;
    default = true;
    description = "Whether to add dwell's hook to interactive ${shell} shells (${hookOptions.${shell}}).";
  };

  # A key dwell's config may have, unset (null, and then not written) by default.
  optionalSetting = type: attrs: mkOption ({
    type = types.nullOr type;
    default = null;
  } // attrs);
in
{
  enable = lib.mkEnableOption "dwell, which activates a project's Nix and Python environment when you cd into it";

  package = mkOption {
    type = types.package;
    default = pkgs.dwell;
    defaultText = lib.literalExpression "pkgs.dwell";
    description = "The dwell package.";
  };

  enableBashIntegration = hookOption "bash";
  enableZshIntegration = hookOption "zsh";
  enableFishIntegration = hookOption "fish";
} // lib.optionalAttrs (hookOptions ? xonsh) {
  enableXonshIntegration = hookOption "xonsh";
} // lib.optionalAttrs (hookOptions ? nushell) {
  enableNushellIntegration = hookOption "nushell";
} // lib.optionalAttrs (hookOptions ? elvish) {
  enableElvishIntegration = hookOption "elvish";
} // {

  # dwell rejects unknown keys, so these are exactly the keys of its user config
  # (src/config.rs, UserConfig), under their TOML names.
  settings = mkOption {
    type = types.submodule {
      options = {
        trusted = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "~/src/mine" ];
          description = "Projects under these directories are trusted without `dwell allow`.";
        };
        status_line = optionalSetting types.bool {
          description = "Whether dwell prints its status line on entering a project (dwell's default: true).";
        };
        generations = optionalSetting types.ints.unsigned {
          description = "Generations kept per project (dwell's default: 8).";
        };
        prune_after = optionalSetting types.str {
          example = "90d";
          description = "The daemon drops generations not used for this long (dwell's default: \"30d\"; \"off\" never).";
        };
        async = optionalSetting types.bool {
          description = ''
            Whether to serve the last good environment at once and re-evaluate in
            the background, so that no prompt waits for an evaluation (dwell's
            default: false).
          '';
        };
        wait = optionalSetting types.str {
          example = "forever";
          description = "How long a shell's prompt waits for an evaluation before it comes back without it; the environment arrives at a later prompt (\"0s\": never wait, \"forever\": to the end; dwell's default: 2s).";
        };
        eval_timeout = optionalSetting types.str {
          example = "10m";
          description = "Stop evaluations that run longer than this (dwell's default: no limit).";
        };
        shellhook_timeout = optionalSetting types.str {
          example = "2m";
          description = "Stop a shellHook that runs longer, serving the devShell without it (dwell's default: 30s).";
        };
        shellhook_output = optionalSetting types.str {
          example = "first";
          description = "When to show what a shellHook printed: \"always\" (every entry), \"first\" (when it has just run) or \"never\" (dwell's default: always).";
        };
        install_timeout = optionalSetting types.str {
          example = "30m";
          description = "Stop a venv install (pip, uv, Poetry) that runs longer; the venv before it stays (dwell's default: 15m).";
        };
        venv_generations = optionalSetting types.ints.unsigned {
          example = 2;
          description = "Venv versions kept per project, the one in use included; a lock switched back to one of them is served at once (dwell's default: 4).";
        };
        watch_projects = optionalSetting types.ints.unsigned {
          example = 32;
          description = "Projects whose files the daemon watches at most, the least recently used dropped first (dwell's default: 64).";
        };
      };
    };
    default = { };
    example = { trusted = [ "~/src/mine" ]; status_line = false; };
    description = settingsDescription;
  };

  daemon.enable = mkOption {
    type = types.bool;
    default = true;
    description = ''
      Whether to run `dwell daemon` as a systemd user service ${daemonScope}.
      Without it, the first shell that needs the daemon starts one.
    '';
  };
}
