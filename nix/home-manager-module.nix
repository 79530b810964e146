# home-manager module for dwell. With the flake:
# `imports = [ dwell.homeManagerModules.default ];` (programs.dwell.package then
# defaults to the flake's package). Imported by path, it defaults to `pkgs.dwell`,
# which the flake's overlay provides.
{ config, lib, pkgs, options, ... }:

let
  cfg = config.programs.dwell;
  hooks = import ./hooks.nix { package = cfg.package; inherit pkgs; };
  inherit (lib) mkIf mkMerge;

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
in
{
  options.programs.dwell = import ./options.nix {
    inherit lib pkgs;
    hookOptions = {
      bash = "programs.bash.initExtra; needs programs.bash.enable";
      zsh = "programs.zsh.initContent, or initExtra before home-manager 25.05; needs programs.zsh.enable";
      fish = "programs.fish.interactiveShellInit; needs programs.fish.enable";
      nushell = "programs.nushell.extraConfig; needs programs.nushell.enable";
      xonsh = "xdg.configFile.\"xonsh/rc.d/dwell.xsh\", which xonsh runs on its own";
      elvish = "xdg.configFile.\"elvish/lib/dwell.elv\", the module dwell; rc.elv needs `use dwell`";
    };
    settingsDescription = ''
      dwell's user configuration, written as TOML to
      $XDG_CONFIG_HOME/dwell/config.toml (xdg.configFile."dwell/config.toml"),
      the file dwell reads. Nothing is written while every setting is left at its
      default. The daemon reads the file again on SIGHUP (systemctl --user reload
      dwell); the unit's X-Reload-Triggers ask home-manager's sd-switch to do
      that when the file changes.
    '';
    daemonScope = "(Linux only)";
  };

  config = mkIf cfg.enable (mkMerge [
    {
      home.packages = [ cfg.package ];
    }

    (mkIf cfg.enableBashIntegration {
      programs.bash.initExtra = hooks.bash;
    })

    (mkIf cfg.enableZshIntegration {
      programs.zsh.${zshInitOption} = hooks.zsh;
    })

    (mkIf cfg.enableFishIntegration {
      programs.fish.interactiveShellInit = hooks.fish;
    })

    (mkIf cfg.enableNushellIntegration {
      programs.nushell.extraConfig = hooks.nushell;
    })

    # xonsh runs every file in ~/.config/xonsh/rc.d itself.
    (mkIf cfg.enableXonshIntegration {
      xdg.configFile."xonsh/rc.d/dwell.xsh".text = hooks.xonsh;
    })

    # elvish has no directory of startup files: the hook is the module `dwell`
    # (~/.config/elvish/lib/dwell.elv), which rc.elv loads with `use dwell`.
    (mkIf cfg.enableElvishIntegration {
      xdg.configFile."elvish/lib/dwell.elv".text = hooks.elvishModule;
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
          ExecStart = "${cfg.package}/bin/dwell daemon";
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";
          # The daemon runs nix and captures environments in bash.
          Environment = [
            "PATH=${lib.makeBinPath [ nixPackage pkgs.bash pkgs.coreutils pkgs.gitMinimal ]}"
          ];

          # Hardening, in the spirit of lorri's unit. "full", not "strict": the
          # daemon writes where the user does, which "strict" (everything
          # read-only but ReadWritePaths) would forbid. It creates Python venvs
          # inside project directories (`[venv] create = true`), Nix writes a
          # missing flake.lock into the project, and on a single-user Nix install
          # the daemon's nix writes /nix/store itself. "full" keeps /usr, /boot,
          # /efi and /etc read-only and leaves home (and /nix) writable.
          NoNewPrivileges = true;
          ProtectSystem = "full";
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
