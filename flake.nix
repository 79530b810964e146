{
  description = "dwell: your project's Nix and Python environment, there when you cd in";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      # builtins only, so the shape of the outputs can be checked without nixpkgs
      # (tests/packaging.rs does).
      forAllSystems = f:
        builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # The package, as a callPackage-style function: used by `packages` (with this
      # flake's nixpkgs) and by the overlay (with the user's).
      dwell =
        { lib
        , stdenv
        , rustPlatform
        , installShellFiles
        , nix
        , bash
        , python3
        }:
        rustPlatform.buildRustPackage {
          pname = "dwell";
          version = (lib.importTOML ./Cargo.toml).package.version;

          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./Cargo.toml
              ./Cargo.lock
              ./src
              ./shell-hooks # embedded with include_str!
              ./tests # Cargo.toml names tests/tests.rs as a test target
              (lib.fileset.maybeMissing ./man)
            ];
          };

          cargoLock.lockFile = ./Cargo.lock;

          nativeBuildInputs = [ installShellFiles ];

          # What the test suite runs: real nix, real bash, python3 for the venv tests.
          nativeCheckInputs = [ nix bash python3 ];
          # The integration tests need a writable Nix store (they build derivations
          # with nix), which the build sandbox lacks.
          doCheck = false;

          postInstall =
            lib.optionalString (builtins.pathExists ./man) ''
              installManPage man/*.[1-9]
            ''
            # The completions come from running the binary just built, which a cross
            # build cannot do.
            + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
              installShellCompletion --cmd dwell \
                --bash <($out/bin/dwell completions bash) \
                --zsh <($out/bin/dwell completions zsh) \
                --fish <($out/bin/dwell completions fish)
            '';

          meta = {
            description = "Activates a project's Nix devShell or shell.nix and Python .venv when you cd into it";
            license = with lib.licenses; [ mit asl20 ];
            mainProgram = "dwell";
            platforms = lib.platforms.unix;
          };
        };
    in
    {
      packages = forAllSystems (system: {
        default = nixpkgs.legacyPackages.${system}.callPackage dwell { };
      });

      devShells = forAllSystems (system:
        let pkgs = nixpkgs.legacyPackages.${system};
        in {
          default = pkgs.mkShell {
            packages = with pkgs; [
              cargo
              rustc
              clippy
              rustfmt
              rust-analyzer
              nix
              shellcheck
              zsh
              fish
              python3
            ];
            RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
          };
        });

      overlays.default = final: prev: {
        dwell = final.callPackage dwell { };
      };

      # The modules default `programs.dwell.package` to this flake's package; used
      # without the flake (imported by path), they default to `pkgs.dwell` (the overlay).
      nixosModules.default = { lib, pkgs, ... }: {
        imports = [ ./nix/nixos-module.nix ];
        programs.dwell.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };

      homeManagerModules.default = { lib, pkgs, ... }: {
        imports = [ ./nix/home-manager-module.nix ];
        programs.dwell.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };
    };
}
