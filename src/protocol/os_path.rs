//! Paths on the wire and on disk, encoded as [`Value`]s are: a JSON string when
//! the path is UTF-8 (so every file written before reads the same), and
//! `{"base64": "…"}` when it is not. serde's own encoding of a `PathBuf` fails on
//! a name that is not UTF-8, and a directory may be named anything.
//!
//! Use with `#[serde(with = "os_path")]`, or the `option` and `seq` modules.

use super::Value;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    Value::from(path.as_os_str()).serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Value::deserialize(d).map(path_of)
}

fn path_of(value: Value) -> PathBuf {
    PathBuf::from(OsString::from_vec(value.0))
}

/// For `Option<PathBuf>`.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        path.as_deref()
            .map(|p| Value::from(p.as_os_str()))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.map(path_of))
    }
}

/// For any collection of paths written as a list (`Vec`, `BTreeSet`); read back
/// as a `Vec`.
pub mod seq {
    use super::*;

    pub fn serialize<'a, S, C>(paths: &'a C, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        &'a C: IntoIterator<Item = &'a PathBuf>,
    {
        s.collect_seq(paths.into_iter().map(|p| Value::from(p.as_os_str())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Ok(Vec::<Value>::deserialize(d)?
            .into_iter()
            .map(path_of)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Paths {
        #[serde(with = "super")]
        one: PathBuf,
        #[serde(with = "super::option")]
        maybe: Option<PathBuf>,
        #[serde(with = "super::seq")]
        many: Vec<PathBuf>,
    }

    #[test]
    fn any_path_round_trips_and_utf8_is_a_plain_string() {
        let odd = PathBuf::from(OsString::from_vec(b"/tmp/caf\xe9".to_vec()));
        let paths = Paths {
            one: odd.clone(),
            maybe: Some(odd.clone()),
            many: vec![odd, PathBuf::from("/plain")],
        };
        let json = serde_json::to_string(&paths).unwrap();
        assert!(json.contains("\"/plain\""), "{json}");
        assert!(json.contains("base64"), "{json}");
        assert_eq!(serde_json::from_str::<Paths>(&json).unwrap(), paths);
        // What earlier versions wrote (plain strings) still reads.
        let old = r#"{"one":"/a","maybe":null,"many":["/b"]}"#;
        let read: Paths = serde_json::from_str(old).unwrap();
        assert_eq!(read.one, PathBuf::from("/a"));
        assert_eq!(read.maybe, None);
    }
}
