# NixOS module for dwell. With the flake: `imports = [ dwell.nixosModules.default ];`
# (programs.dwell.package then defaults to the flake's package). Imported by path,
# it defaults to `pkgs.dwell`, which the flake's overlay provides.
{ config, lib, pkgs, ... }:

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
in
{
  options.programs.dwell = import ./options.nix {
    inherit lib pkgs;
    hookOptions = {
      bash = "programs.bash.interactiveShellInit";
      zsh = "programs.zsh.interactiveShellInit; needs programs.zsh.enable";
      fish = "programs.fish.interactiveShellInit; needs programs.fish.enable";
      xonsh = "programs.xonsh.config; needs programs.xonsh.enable";
      nushell = "share/nushell/vendor/autoload/dwell.nu in environment.systemPackages, which Nushell loads on its own";
      elvish = "the module dwell in share/elvish/lib of environment.systemPackages; rc.elv needs `use dwell`";
    };
    settingsDescription = ''
      dwell's configuration for every user, written as TOML to
      /etc/xdg/dwell/config.toml (environment.etc."xdg/dwell/config.toml").
      dwell reads it under each user's own $XDG_CONFIG_HOME/dwell/config.toml: a key the
      user sets wins.
    '';
    daemonScope = "for every user";
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.systemPackages = [ cfg.package ];
    }

    (mkIf cfg.enableBashIntegration {
      programs.bash.interactiveShellInit = hooks.bash;
    })

    (mkIf cfg.enableZshIntegration {
      programs.zsh.interactiveShellInit = hooks.zsh;
    })

    (mkIf cfg.enableFishIntegration {
      programs.fish.interactiveShellInit = hooks.fish;
    })

    (mkIf cfg.enableXonshIntegration {
      programs.xonsh.config = hooks.xonsh;
    })

    # Nushell loads every file in $XDG_DATA_DIRS/nushell/vendor/autoload itself.
    (mkIf cfg.enableNushellIntegration {
      environment.systemPackages =
        [ (pkgs.writeTextDir "share/nushell/vendor/autoload/dwell.nu" hooks.nushellFile) ];
      environment.pathsToLink = [ "/share/nushell/vendor/autoload" ];
    })

    # elvish finds modules in $XDG_DATA_DIRS/elvish/lib; it has no directory of
    # startup files, so rc.elv says `use dwell`.
    (mkIf cfg.enableElvishIntegration {
      environment.systemPackages =
        [ (pkgs.writeTextDir "share/elvish/lib/dwell.elv" hooks.elvishModule) ];
      environment.pathsToLink = [ "/share/elvish/lib" ];
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
          ExecStart = "${cfg.package}/bin/dwell daemon";
          # SIGHUP: the daemon reads the user config again.
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          Restart = "on-failure";

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
      };
    })
  ]);
}
