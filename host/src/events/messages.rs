//! What an event carries: the entity read through the Data API (so it has exactly the REST
//! API's fields and values), its fields put in the order Buildbot's messages use, and the keys
//! Buildbot publishes it under.

use serde_json::{Map, Value};

use super::Event;
use crate::data::{Answer, DataApi};

/// The kinds of entity the watcher publishes events for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// `builds/N`
    Build,
    /// `steps/N`
    Step,
    /// `logs/N`
    Log,
    /// `buildrequests/N`
    BuildRequest,
    /// `buildsets/N`
    Buildset,
    /// `changes/N`
    Change,
    /// `workers/N`
    Worker,
}

/// Field order of Buildbot's messages (recorded in `ws/capture-many.jsonl`), which differs from
/// both the database's and the REST API's (sorted) order.
const BUILD: &[&str] = &[
    "buildid",
    "number",
    "builderid",
    "buildrequestid",
    "workerid",
    "masterid",
    "started_at",
    "complete_at",
    "locks_duration_s",
    "complete",
    "state_string",
    "results",
    "properties",
];
const STEP: &[&str] = &[
    "stepid",
    "number",
    "name",
    "buildid",
    "started_at",
    "locks_acquired_at",
    "complete",
    "complete_at",
    "state_string",
    "results",
    "urls",
    "hidden",
];
const LOG: &[&str] = &[
    "logid",
    "name",
    "slug",
    "stepid",
    "complete",
    "num_lines",
    "type",
];
const BUILDREQUEST: &[&str] = &[
    "buildrequestid",
    "buildsetid",
    "builderid",
    "priority",
    "claimed",
    "claimed_at",
    "claimed_by_masterid",
    "complete",
    "results",
    "submitted_at",
    "complete_at",
    "waited_for",
    "properties",
];
const BUILDSET_NEW: &[&str] = &[
    "bsid",
    "external_idstring",
    "reason",
    "parent_buildid",
    "rebuilt_buildid",
    "submitted_at",
    "complete",
    "complete_at",
    "results",
    "scheduler",
    "sourcestamps",
];
const BUILDSET_COMPLETE: &[&str] = &[
    "bsid",
    "external_idstring",
    "reason",
    "rebuilt_buildid",
    "sourcestamps",
    "submitted_at",
    "complete",
    "complete_at",
    "results",
    "parent_buildid",
    "parent_relationship",
];
const CHANGE: &[&str] = &[
    "changeid",
    "author",
    "committer",
    "comments",
    "branch",
    "revision",
    "revlink",
    "when_timestamp",
    "category",
    "parent_changeids",
    "repository",
    "codebase",
    "project",
    "files",
    "sourcestamp",
    "properties",
];
const SOURCESTAMP: &[&str] = &[
    "ssid",
    "branch",
    "revision",
    "project",
    "repository",
    "codebase",
    "created_at",
    "patch",
];
const WORKER: &[&str] = &[
    "workerid",
    "name",
    "workerinfo",
    "paused",
    "pause_reason",
    "graceful",
    "connected_to",
    "configured_on",
];

impl Entity {
    fn path(self, id: i64) -> String {
        let collection = match self {
            Entity::Build => "builds",
            Entity::Step => "steps",
            Entity::Log => "logs",
            Entity::BuildRequest => "buildrequests",
            Entity::Buildset => "buildsets",
            Entity::Change => "changes",
            Entity::Worker => "workers",
        };
        format!("{collection}/{id}")
    }

    fn order(self, event: &str) -> &'static [&'static str] {
        match self {
            Entity::Build => BUILD,
            Entity::Step => STEP,
            Entity::Log => LOG,
            Entity::BuildRequest => BUILDREQUEST,
            Entity::Buildset if event == "new" => BUILDSET_NEW,
            Entity::Buildset => BUILDSET_COMPLETE,
            Entity::Change => CHANGE,
            Entity::Worker => WORKER,
        }
    }
}

/// Reads entity `id` through the Data API as the server itself (each subscriber's rules are
/// applied when the event is delivered, `authz::Authz::check_item`) and orders its fields for
/// `event`.
/// `None` if it does not exist (any more).
pub async fn message(data: &DataApi, entity: Entity, id: i64, event: &str) -> Option<Value> {
    let answer = data.read(&entity.path(id), &[]).await;
    let item = match answer {
        Ok(Answer::Items { mut items, .. }) if !items.is_empty() => items.swap_remove(0),
        Ok(_) => return None,
        Err(err) => {
            tracing::debug!("live updates: cannot read {}: {err:?}", entity.path(id));
            return None;
        }
    };
    let mut item = reorder(item, entity.order(event));
    for nested in ["sourcestamp", "sourcestamps"] {
        match item.get_mut(nested) {
            Some(Value::Object(ss)) => *ss = reorder(std::mem::take(ss), SOURCESTAMP),
            Some(Value::Array(list)) => {
                for ss in list {
                    if let Value::Object(ss) = ss {
                        *ss = reorder(std::mem::take(ss), SOURCESTAMP);
                    }
                }
            }
            _ => {}
        }
    }
    Some(Value::Object(item))
}

/// Puts the fields named in `order` first, in that order; any others follow as they were.
fn reorder(mut item: Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut out = Map::with_capacity(item.len());
    for field in order {
        if let Some(v) = item.shift_remove(*field) {
            out.insert((*field).to_owned(), v);
        }
    }
    out.extend(item);
    out
}

fn field(message: &Value, name: &str) -> String {
    match message.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// The events Buildbot publishes for `event` on an entity, under each of its keys:
/// builds under `builds/N/…` and `builders/B/builds/NUMBER/…`, steps under
/// `builds/B/steps/S/…`, logs under `logs/L/…` and `steps/S/logs/SLUG/…`.
pub fn events(entity: Entity, id: i64, event: &str, message: Value) -> Vec<Event> {
    let id = id.to_string();
    let keys: Vec<Vec<String>> = match entity {
        Entity::Build => vec![
            vec!["builds".into(), id, event.into()],
            vec![
                "builders".into(),
                field(&message, "builderid"),
                "builds".into(),
                field(&message, "number"),
                event.into(),
            ],
        ],
        Entity::Step => vec![vec![
            "builds".into(),
            field(&message, "buildid"),
            "steps".into(),
            id,
            event.into(),
        ]],
        Entity::Log => vec![
            vec!["logs".into(), id, event.into()],
            vec![
                "steps".into(),
                field(&message, "stepid"),
                "logs".into(),
                field(&message, "slug"),
                event.into(),
            ],
        ],
        Entity::BuildRequest => vec![vec!["buildrequests".into(), id, event.into()]],
        Entity::Buildset => vec![vec!["buildsets".into(), id, event.into()]],
        Entity::Change => vec![vec!["changes".into(), id, event.into()]],
        Entity::Worker => vec![vec!["workers".into(), id, event.into()]],
    };
    keys.into_iter()
        .map(|key| Event {
            key,
            message: message.clone(),
        })
        .collect()
}

/// Buildbot's event for a build's new or changed properties, under `builds/N/properties/update`
/// alone: the properties (name to `[value, source]`), which a client merges into what it has.
pub fn properties_update(buildid: i64, properties: Map<String, Value>) -> Event {
    Event {
        key: vec![
            "builds".into(),
            buildid.to_string(),
            "properties".into(),
            "update".into(),
        ],
        message: Value::Object(properties),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_follow_buildbot_message_order_and_keys_name_every_path() {
        let Value::Object(rest) = json!({"builderid": 4, "buildid": 2, "number": 1, "zzz": 0})
        else {
            unreachable!()
        };
        let ordered = reorder(rest, BUILD);
        assert_eq!(
            ordered.keys().collect::<Vec<_>>(),
            ["buildid", "number", "builderid", "zzz"]
        );
        let keys: Vec<String> = events(Entity::Build, 2, "new", Value::Object(ordered))
            .iter()
            .map(Event::path)
            .collect();
        assert_eq!(keys, ["builds/2/new", "builders/4/builds/1/new"]);
        let log = json!({"logid": 1, "slug": "stdio", "stepid": 3});
        let keys: Vec<String> = events(Entity::Log, 1, "append", log)
            .iter()
            .map(Event::path)
            .collect();
        assert_eq!(keys, ["logs/1/append", "steps/3/logs/stdio/append"]);
    }
}
