# NixOS module for dwell. With the flake: `imports = [ dwell.nixosModules.default ];`
# (programs.dwell.package then defaults to the flake's package). Imported by path,
# it defaults to `pkgs.dwell`, which the flake's overlay provides.
{ config, lib, pkgs, ... }:

let
  cfg = config.programs.dwell;
  inherit (lib) mkIf mkMerge mkOption types;

  tomlFormat = pkgs.formats.toml { };

  # dwell rejects unknown keys, so only the keys it knows are options; a key left
  # unset (null) or empty is not written, and with nothing to write there is no file.
  settings = lib.filterAttrs
    (name: value: name != "_module" && value != null && value != [ ])
    cfg.settings;
  configFile = tomlFormat.generate "dwell-config.toml" settings;

  # The directories the daemon writes (dwell's XDG defaults, and Nix's own cache);
  # created before the start, since under ProtectSystem=strict the daemon could not.
  writablePaths = [
    "%h/.cache/dwell"
    "%h/.local/state/dwell"
    "%h/.local/share/dwell"
    "%t/dwell"
    "%h/.cache/nix" # Nix's fetcher and evaluation caches (flakes)
  ];
in
{
  options.programs.dwell = {
    enable = lib.mkEnableOption "dwell, which activates a project's Nix and Python environment when you cd into it";

    package = mkOption {
      type = types.package;
      default = pkgs.dwell;
      defaultText = lib.literalExpression "pkgs.dwell";
      description = "The dwell package.";
    };

    enableBashIntegration = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to add dwell's hook to interactive bash shells (programs.bash.interactiveShellInit).";
    };

    enableZshIntegration = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to add dwell's hook to interactive zsh shells (programs.zsh.interactiveShellInit; needs programs.zsh.enable).";
    };

    enableFishIntegration = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to add dwell's hook to interactive fish shells (programs.fish.interactiveShellInit; needs programs.fish.enable).";
    };

    settings = mkOption {
      type = types.submodule {
        options = {
          trusted = mkOption {
            type = types.listOf types.str;
            default = [ ];
            example = [ "~/src/mine" ];
            description = "Projects under these directories are trusted without `dwell allow`.";
          };
          status_line = mkOption {
            type = types.nullOr types.bool;
            default = null;
            description = "Whether dwell prints its status line on entering a project (dwell's default: true).";
          };
          generations = mkOption {
            type = types.nullOr types.int;
            default = null;
            description = "Generations kept per project (dwell's default: 8).";
          };
          prune_after = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "90d";
            description = "The daemon drops generations not used for this long (dwell's default: \"30d\"; \"off\" never).";
          };
        };
      };
      default = { };
      example = { trusted = [ "~/src/mine" ]; status_line = false; };
      description = ''
        dwell's user configuration, written as TOML to /etc/xdg/dwell/config.toml
        (environment.etc."xdg/dwell/config.toml").

        Note that dwell itself reads only $XDG_CONFIG_HOME/dwell/config.toml
        (~/.config/dwell/config.toml by default) and does not look in
        XDG_CONFIG_DIRS, so this system-wide file takes effect only where a user
        links or copies it there. For a per-user file, use the home-manager module,
        which writes ~/.config/dwell/config.toml.
      '';
    };

    daemon.enable = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to run `dwell daemon` as a systemd user service for every user.
        Without it, the first shell that needs the daemon starts one.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.systemPackages = [ cfg.package ];
    }

    (mkIf cfg.enableBashIntegration {
      programs.bash.interactiveShellInit = ''
        eval "$(${cfg.package}/bin/dwell hook bash)"
      '';
    })

    (mkIf cfg.enableZshIntegration {
      programs.zsh.interactiveShellInit = ''
        eval "$(${cfg.package}/bin/dwell hook zsh)"
      '';
    })

    (mkIf cfg.enableFishIntegration {
      programs.fish.interactiveShellInit = ''
        ${cfg.package}/bin/dwell hook fish | source
      '';
    })

    (mkIf (settings != { }) {
      environment.etc."xdg/dwell/config.toml".source = configFile;
    })

    # Not socket-activated: `dwell daemon` binds its own socket
    # ($XDG_RUNTIME_DIR/dwell/daemon.sock) and holds a lock, and a client that finds
    # no daemon starts one itself; this unit only starts it at login, sandboxed.
    (mkIf cfg.daemon.enable {
      systemd.user.services.dwell = {
        description = "dwell daemon: per-project Nix and Python environments";
        wantedBy = [ "default.target" ];
        # NixOS renders `path` as Environment=PATH=…/bin:…/sbin. The daemon runs nix
        # (the system's, matching nix-daemon) and captures environments in bash.
        path = [ config.nix.package pkgs.bash pkgs.coreutils pkgs.gitMinimal ];
        serviceConfig = {
          # "+": runs outside the sandbox below, so it may create the directories
          # that ProtectSystem=strict would otherwise leave unwritable.
          ExecStartPre = "+${pkgs.coreutils}/bin/mkdir -p -m 0700 ${lib.concatStringsSep " " writablePaths}";
          ExecStart = "${cfg.package}/bin/dwell daemon";
          # SIGHUP: the daemon reads the user config again.
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";

          # Hardening, in the spirit of lorri's unit. The whole file system is
          # read-only except what the daemon writes; project directories included,
          # so Nix cannot write a missing flake.lock from this daemon (run
          # `nix flake lock` in the project once).
          NoNewPrivileges = true;
          ProtectSystem = "strict";
          ReadWritePaths = writablePaths ++ [ "/tmp" ];
          # The daemon's evaluations need the user's /tmp for nix, so no private one.
          PrivateTmp = false;
          RestrictSUIDSGID = true;
          LockPersonality = true;
        };
      };
    })
  ]);
}
