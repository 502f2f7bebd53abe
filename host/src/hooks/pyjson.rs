//! JSON read as Python's `json.loads` reads it, with its error messages
//! (`Expecting value: line 2 column 1 (char 40)`), which Buildbot's change hooks send back.

use serde_json::Value;

/// `json.loads(text)`: the value, or Python's message.
pub fn loads_str(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `json.loads(bytes)`: the encoding detected as Python does, then [`loads_str`].
pub fn loads_bytes(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}
