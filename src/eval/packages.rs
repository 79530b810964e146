//! The derivations a devShell is built from, for `dwell status`.

use super::*;
use crate::process::{Watch, run};
use crate::protocol::EvalEnv;
use std::path::Path;
use std::process::Command;

/// The names of the derivations an environment was built from: the inputs of the
/// devShell's `-env` derivation, found from the environment's store path.
pub fn packages(tools: &Tools, env_path: &Path, eval_env: &EvalEnv) -> Vec<String> {
    let nix_store = tools.nix.with_file_name("nix-store");
    let mut query = Command::new(&nix_store);
    query
        .env_clear()
        .envs(child_env(eval_env))
        .args(["--query", "--deriver"])
        .arg(env_path);
    let Ok(deriver) = run(query, "nix-store", &Watch::default()) else {
        return Vec::new();
    };
    let drv = String::from_utf8_lossy(&deriver.stdout).trim().to_string();
    if !deriver.status.success() || !drv.ends_with(".drv") {
        return Vec::new();
    }
    let mut show = tools.nix_command(eval_env, None);
    show.arg("show-derivation").arg(&drv);
    let Ok(shown) = run(show, "nix", &Watch::default()) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&shown.stdout) else {
        return Vec::new();
    };
    let mut names: Vec<String> = json
        .as_object()
        .into_iter()
        .flat_map(|drvs| drvs.values())
        .filter_map(|d| d["inputDrvs"].as_object())
        .flat_map(|inputs| inputs.keys())
        .filter_map(|path| {
            let base = Path::new(path).file_name()?.to_str()?;
            let name = crate::store_path::name_of(base)?.strip_suffix(".drv")?;
            Some(name.to_string())
        })
        .collect();
    names.sort();
    names
}
