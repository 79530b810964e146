//! `requires-python`, checked against the Nix environment's python before a
//! venv is built: a project that needs 3.12 says so at once, instead of after
//! seconds of building a venv its installer then refuses.

/// The `requires-python` of a project: `[project] requires-python` in
/// `pyproject.toml`, else the top-level one of `uv.lock`, from their bytes
/// as read for the sync, with the file it came from.
pub fn requires_python(files: &[(String, Vec<u8>)]) -> Option<(String, String)> {
    let find = |name: &str, path: &[&str]| -> Option<(String, String)> {
        let (_, bytes) = files.iter().find(|(n, _)| n == name)?;
        let table: toml::Table = std::str::from_utf8(bytes).ok()?.parse().ok()?;
        let mut value = table.get(path[0])?;
        for key in &path[1..] {
            value = value.get(key)?;
        }
        Some((name.to_string(), value.as_str()?.to_string()))
    };
    find("pyproject.toml", &["project", "requires-python"])
        .or_else(|| find("uv.lock", &["requires-python"]))
}

/// Whether `version` (`3.11.2`) meets `specifier` (`>=3.9,<4`). A specifier
/// this cannot read is met: the installer is the judge of what it reads.
pub fn meets(version: &str, specifier: &str) -> bool {
    let Some(have) = release(version) else {
        return true;
    };
    specifier.split(',').all(|clause| {
        let clause = clause.trim();
        let ops = ["~=", "==", "!=", ">=", "<=", ">", "<"];
        let Some(op) = ops.iter().find(|op| clause.starts_with(**op)) else {
            return true;
        };
        let wanted = clause[op.len()..].trim();
        if let Some(prefix) = wanted.strip_suffix(".*") {
            let Some(prefix) = release(prefix) else {
                return true;
            };
            let same = have.len() >= prefix.len() && have[..prefix.len()] == prefix[..];
            return if *op == "!=" { !same } else { same };
        }
        let Some(want) = release(wanted) else {
            return true;
        };
        let order = compare(&have, &want);
        match *op {
            "==" => order.is_eq(),
            "!=" => order.is_ne(),
            ">=" => order.is_ge(),
            "<=" => order.is_le(),
            ">" => order.is_gt(),
            "<" => order.is_lt(),
            // `~=3.10` means >=3.10 and ==3.*; `~=3.10.2` means >=3.10.2, ==3.10.*.
            _ => {
                let keep = want.len().saturating_sub(1).max(1);
                order.is_ge() && have.len() >= keep && have[..keep] == want[..keep]
            }
        }
    })
}

/// The release numbers of a version (`3.11.2rc1` → [3, 11, 2]).
fn release(version: &str) -> Option<Vec<u64>> {
    let numbers: Vec<u64> = version
        .trim()
        .split('.')
        .map_while(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    (!numbers.is_empty()).then_some(numbers)
}

/// Release numbers compared with missing parts as zeros (3.11 == 3.11.0).
fn compare(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..len)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}
