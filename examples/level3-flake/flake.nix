# Level 3, professional: a flake with a devShell, pinned by flake.lock.
{
  description = "A level-3 Python project";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      devShells = forAll (system:
        let pkgs = nixpkgs.legacyPackages.${system};
        in {
          default = pkgs.mkShell {
            packages = [ (pkgs.python3.withPackages (ps: [ ps.requests ])) pkgs.hello ];
            PROJECT_LEVEL = "3";
          };
        });
    };
}
