//! Environment values as raw bytes, serialized as a JSON string when they are UTF-8
//! and as `{"base64": "…"}` when they are not, so that no byte is ever lost.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// One environment variable's value: any bytes except NUL.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Value(pub Vec<u8>);

impl Value {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(&self.0)
    }

    /// The value as text for messages; invalid UTF-8 is replaced.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// A short, stable fingerprint of the value (used to recognise "still what dwell set").
    pub fn fingerprint(&self) -> String {
        blake3::hash(&self.0).to_hex()[..32].to_string()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value(s.into_bytes())
    }
}

impl From<&OsStr> for Value {
    fn from(s: &OsStr) -> Self {
        Value(s.as_bytes().to_vec())
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.lossy())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("base64", &B64.encode(&self.0))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Binary { base64: String },
        }
        match Repr::deserialize(d)? {
            Repr::Text(text) => Ok(Value(text.into_bytes())),
            Repr::Binary { base64 } => B64
                .decode(base64.as_bytes())
                .map(Value)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text_and_binary() {
        for bytes in [b"plain".to_vec(), vec![0xff, b'a', 0x80], Vec::new()] {
            let json = serde_json::to_string(&Value(bytes.clone())).unwrap();
            let back: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, bytes);
        }
        assert_eq!(serde_json::to_string(&Value::from("x")).unwrap(), "\"x\"");
        assert!(
            serde_json::to_string(&Value(vec![0xff]))
                .unwrap()
                .contains("base64")
        );
    }
}
