//! The two listings about the API itself: the root links and `application.spec`.

use serde_json::{json, Map, Value};

use super::endpoints::ENDPOINTS;
use super::Answer;

/// The collections `/api/v2` links to, in Buildbot's order.
const ROOT_LINKS: &[&str] = &[
    "builders",
    "builds",
    "buildrequests",
    "codebases",
    "workers",
    "logchunks",
    "buildsets",
    "changes",
    "changesources",
    "masters",
    "sourcestamps",
    "schedulers",
    "forceschedulers",
    "projects",
];

/// `/api/v2`: `{"rootlinks": [{"name": ...}], "meta": {"total": 14}}`.
pub fn root_links() -> Answer {
    let items: Vec<Map<String, Value>> = ROOT_LINKS
        .iter()
        .map(|n| {
            json!({ "name": n })
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let total = Some(items.len());
    Answer::Items {
        plural: "rootlinks",
        items,
        total,
    }
}

/// `/api/v2/application.spec`: every path pattern with its resource type, sorted by path.
pub fn application_spec() -> Answer {
    let mut items: Vec<Map<String, Value>> = ENDPOINTS
        .iter()
        .flat_map(|e| {
            e.patterns.iter().map(move |path| {
                json!({
                    "path": path,
                    "plural": e.rtype.plural,
                    "type": e.rtype.name,
                    "type_spec": e.rtype.type_spec(),
                })
                .as_object()
                .cloned()
                .unwrap_or_default()
            })
        })
        .collect();
    items.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let total = Some(items.len());
    Answer::Items {
        plural: "specs",
        items,
        total,
    }
}
