//! The models read every item of every recorded answer of the real Buildbot 4.3
//! (`fixtures/reference/buildbot-4.3`) and write it back unchanged.

use std::path::{Path, PathBuf};

use buildbot_plugin_sdk::models::{
    Build, BuildRequest, BuildSet, Builder, Change, Log, LogChunk, Master, Project, SourceStamp,
    Step, Worker,
};
use buildbot_plugin_sdk::serde::{de::DeserializeOwned, Serialize};
use buildbot_plugin_sdk::serde_json::{self, Value};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/buildbot-4.3")
}

/// The JSON body of a recorded 200 response, if it is one.
fn recorded_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    let (_, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))?;
    serde_json::from_str(body).ok()
}

/// Reads `item` as `T` and checks that writing it back gives the same value for every key the
/// item has (a `null` may come back as an empty list, string or object).
fn round_trip<T: DeserializeOwned + Serialize>(file: &str, item: &Value) {
    let model: T =
        serde_json::from_value(item.clone()).unwrap_or_else(|e| panic!("{file}: {e} in {item}"));
    let back = serde_json::to_value(&model).unwrap();
    let original = item.as_object().unwrap();
    for (key, value) in original {
        let written = &back[key.as_str()];
        let empty = |v: &Value| match v {
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        let same = written == value || (value.is_null() && empty(written));
        assert!(
            same,
            "{file}: field {key}: recorded {value}, the model wrote {written}"
        );
    }
}

#[test]
fn models_read_every_recorded_item() {
    let dir = reference_dir();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for folder in ["rest", "query"] {
        let entries = std::fs::read_dir(dir.join(folder)).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the recordings live in fixtures/reference/buildbot-4.3)",
                dir.display()
            )
        });
        for entry in entries {
            let path = entry.unwrap().path();
            let Some(Value::Object(answer)) = recorded_json(&path) else {
                continue;
            };
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some((key, Value::Array(items))) = answer.iter().find(|(k, _)| *k != "meta") else {
                continue;
            };
            let check: fn(&str, &Value) = match key.as_str() {
                "builders" => round_trip::<Builder>,
                "builds" => round_trip::<Build>,
                "steps" => round_trip::<Step>,
                "logs" => round_trip::<Log>,
                "logchunks" => round_trip::<LogChunk>,
                "changes" => round_trip::<Change>,
                "sourcestamps" => round_trip::<SourceStamp>,
                "buildrequests" => round_trip::<BuildRequest>,
                "buildsets" => round_trip::<BuildSet>,
                "workers" => round_trip::<Worker>,
                "masters" => round_trip::<Master>,
                "projects" => round_trip::<Project>,
                _ => continue,
            };
            for item in items {
                check(&file, item);
            }
            *counts.entry(key.clone()).or_default() += items.len();
        }
    }
    // every modelled resource was seen in the recordings
    assert_eq!(counts.len(), 12, "{counts:?}");
}
