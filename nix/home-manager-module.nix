# home-manager module for dwell. With the flake:
# `imports = [ dwell.homeManagerModules.default ];` (programs.dwell.package then
# defaults to the flake's package). Imported by path, it defaults to `pkgs.dwell`,
# which the flake's overlay provides.
{ config, lib, pkgs, options, ... }:

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

  # home-manager 25.05 renamed programs.zsh.initExtra to initContent (the old name
  # still works, with a warning); use whichever this home-manager has.
  zshInitOption =
    if lib.hasAttrByPath [ "programs" "zsh" "initContent" ] options then "initContent" else "initExtra";

  # The nix the daemon runs: home-manager's nix.package when set, else nixpkgs' nix.
  nixPackage =
    if (config.nix.package or null) != null then config.nix.package else pkgs.nix;

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
      description = "Whether to add dwell's hook to bash (programs.bash.initExtra; needs programs.bash.enable).";
    };

    enableZshIntegration = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to add dwell's hook to zsh (programs.zsh.initContent, or initExtra before home-manager 25.05; needs programs.zsh.enable).";
    };

    enableFishIntegration = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to add dwell's hook to fish (programs.fish.interactiveShellInit; needs programs.fish.enable).";
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
        dwell's user configuration, written as TOML to
        $XDG_CONFIG_HOME/dwell/config.toml (xdg.configFile."dwell/config.toml"),
        the file dwell reads. Nothing is written while every setting is left at its
        default. The daemon reads the file again on SIGHUP (systemctl --user reload
        dwell); the unit's X-Reload-Triggers ask home-manager's sd-switch to do
        that when the file changes.
      '';
    };

    daemon.enable = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether to run `dwell daemon` as a systemd user service (Linux only).
        Without it, the first shell that needs the daemon starts one.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      home.packages = [ cfg.package ];
    }

    (mkIf cfg.enableBashIntegration {
      programs.bash.initExtra = ''
        eval "$(${cfg.package}/bin/dwell hook bash)"
      '';
    })

    (mkIf cfg.enableZshIntegration {
      programs.zsh.${zshInitOption} = ''
        eval "$(${cfg.package}/bin/dwell hook zsh)"
      '';
    })

    (mkIf cfg.enableFishIntegration {
      programs.fish.interactiveShellInit = ''
        ${cfg.package}/bin/dwell hook fish | source
      '';
    })

    (mkIf (settings != { }) {
      xdg.configFile."dwell/config.toml".source = configFile;
    })

    # Not socket-activated: `dwell daemon` binds its own socket
    # ($XDG_RUNTIME_DIR/dwell/daemon.sock) and holds a lock, and a client that finds
    # no daemon starts one itself; this unit only starts it at login, sandboxed.
    (mkIf (cfg.daemon.enable && pkgs.stdenv.hostPlatform.isLinux) {
      systemd.user.services.dwell = {
        Unit = {
          Description = "dwell daemon: per-project Nix and Python environments";
        } // lib.optionalAttrs (settings != { }) {
          # When only this changes, home-manager's sd-switch reloads the unit
          # (SIGHUP: the daemon reads the config again) instead of restarting it.
          X-Reload-Triggers = [ "${configFile}" ];
        };

        Service = {
          # "+": runs outside the sandbox below, so it may create the directories
          # that ProtectSystem=strict would otherwise leave unwritable.
          ExecStartPre = "+${pkgs.coreutils}/bin/mkdir -p -m 0700 ${lib.concatStringsSep " " writablePaths}";
          ExecStart = "${cfg.package}/bin/dwell daemon";
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";
          # The daemon runs nix and captures environments in bash.
          Environment = [
            "PATH=${lib.makeBinPath [ nixPackage pkgs.bash pkgs.coreutils pkgs.gitMinimal ]}"
          ];

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

        Install.WantedBy = [ "default.target" ];
      };
    })
  ]);
}
