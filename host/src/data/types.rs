//! Buildbot's resource types: each type's fields and field types, in Buildbot's order.
//!
//! Field types are written in a compact notation: a base type (`integer`, `string`, `boolean`,
//! `identifier`, `datetime`, `jsonobject`, `binary`, `sourcedproperties`), `@name` for a nested
//! entity type, `list:<type>` for a list, and a trailing `?` for "or None". They drive query
//! validation (field names, filter value parsing) and `/api/v2/application.spec`.

use serde_json::{json, Value};

/// One resource type of the Data API.
#[derive(Debug)]
pub struct ResourceType {
    /// Singular name (`build`).
    pub name: &'static str,
    /// Plural name, the key of the response envelope (`builds`).
    pub plural: &'static str,
    /// Fields in Buildbot's declaration order, with their type notation.
    pub fields: &'static [(&'static str, &'static str)],
}

impl ResourceType {
    /// The type notation of a field, if the type has it.
    pub fn field(&self, name: &str) -> Option<&'static str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// Buildbot's `type_spec` object for this type.
    pub fn type_spec(&self) -> Value {
        if self.fields.is_empty() {
            return json!({ "name": self.name });
        }
        entity_spec(self.name, self.fields, false)
    }
}

/// How a filter value for a field is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Integers and datetimes (epoch seconds).
    Integer,
    /// Booleans, parsed like Buildbot's `string2boolean`.
    Boolean,
    /// Everything else is compared as text.
    Text,
}

/// The kind of values a field's filters take (for a list field: the kind of its items).
pub fn value_kind(notation: &str) -> ValueKind {
    let base = notation.trim_end_matches('?');
    let base = base
        .strip_prefix("list:")
        .unwrap_or(base)
        .trim_end_matches('?');
    match base {
        "integer" | "datetime" => ValueKind::Integer,
        "boolean" => ValueKind::Boolean,
        _ => ValueKind::Text,
    }
}

/// Whether a field holds a list.
pub fn is_list(notation: &str) -> bool {
    notation.starts_with("list:")
}

fn entity_spec(name: &str, fields: &[(&str, &str)], nullable: bool) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(field, notation)| {
            let (type_name, spec) = notation_spec(notation);
            json!({ "name": field, "type": type_name, "type_spec": spec })
        })
        .collect();
    let mut spec = json!({ "fields": fields, "type": name });
    if nullable {
        spec["can_be_null"] = Value::Bool(true);
    }
    spec
}

/// The `type` string and `type_spec` object of a field type notation.
fn notation_spec(notation: &str) -> (String, Value) {
    let (base, nullable) = match notation.strip_suffix('?') {
        Some(base) if !notation.starts_with("list:") => (base, true),
        _ => (notation, false),
    };
    if let Some(item) = base.strip_prefix("list:") {
        let (_, of) = notation_spec(item);
        return ("list".into(), json!({ "of": of, "type": "list" }));
    }
    let or_none = if nullable { " or None" } else { "" };
    if let Some(entity) = base.strip_prefix('@') {
        let fields = NESTED
            .iter()
            .find(|(n, _)| *n == entity)
            .map_or(&[][..], |(_, f)| *f);
        return (
            format!("{entity}{or_none}"),
            entity_spec(entity, fields, nullable),
        );
    }
    let mut spec = json!({ "name": base });
    if nullable {
        spec["can_be_null"] = Value::Bool(true);
    }
    (format!("{base}{or_none}"), spec)
}

macro_rules! resource_types {
    ($($ident:ident = $name:literal / $plural:literal [$($field:literal : $ty:literal),* $(,)?];)*) => {
        $(
            #[doc = concat!("The `", $name, "` resource type.")]
            pub static $ident: ResourceType =
                ResourceType { name: $name, plural: $plural, fields: &[$(($field, $ty)),*] };
        )*
    };
}

resource_types! {
    ROOTLINK = "rootlink" / "rootlinks" ["name": "string"];
    SPEC = "spec" / "specs" ["path": "string", "type": "string", "plural": "string", "type_spec": "jsonobject"];
    BRANCH = "branch" / "branches" ["branchid": "integer", "codebaseid": "integer", "name": "string",
        "commitid": "integer", "last_timestamp": "integer"];
    BUILDER = "builder" / "builders" ["builderid": "integer", "name": "string", "masterids": "list:integer",
        "description": "string?", "description_format": "string?", "description_html": "string?",
        "projectid": "integer?", "tags": "list:string"];
    FORCESCHEDULER = "forcescheduler" / "forceschedulers" ["name": "identifier", "button_name": "string",
        "label": "string", "builder_names": "list:identifier", "enabled": "boolean",
        "all_fields": "list:jsonobject"];
    BUILDREQUEST = "buildrequest" / "buildrequests" ["buildrequestid": "integer", "buildsetid": "integer",
        "builderid": "integer", "priority": "integer", "claimed": "boolean", "claimed_at": "datetime?",
        "claimed_by_masterid": "integer?", "complete": "boolean", "results": "integer?",
        "submitted_at": "datetime", "complete_at": "datetime?", "waited_for": "boolean",
        "properties": "sourcedproperties?"];
    BUILD = "build" / "builds" ["buildid": "integer", "number": "integer", "builderid": "integer",
        "buildrequestid": "integer", "workerid": "integer", "masterid": "integer", "started_at": "datetime",
        "complete": "boolean", "complete_at": "datetime?", "locks_duration_s": "integer",
        "results": "integer?", "state_string": "string", "properties": "sourcedproperties?"];
    CHANGE = "change" / "changes" ["changeid": "integer", "parent_changeids": "list:integer",
        "author": "string", "committer": "string", "files": "list:string", "comments": "string",
        "revision": "string?", "when_timestamp": "integer", "branch": "string?", "category": "string?",
        "revlink": "string?", "properties": "sourcedproperties", "repository": "string",
        "project": "string", "codebase": "string", "sourcestamp": "@sourcestamp"];
    BUILD_DATA = "build_data" / "build_data" ["buildid": "integer", "name": "string", "length": "integer",
        "value": "binary?", "source": "string"];
    SOURCEDPROPERTIES = "sourcedproperties" / "properties" [];
    STEP = "step" / "steps" ["stepid": "integer", "number": "integer", "name": "identifier",
        "buildid": "integer", "started_at": "datetime?", "locks_acquired_at": "datetime?",
        "complete": "boolean", "complete_at": "datetime?", "results": "integer?",
        "state_string": "string", "urls": "list:@Url", "hidden": "boolean"];
    LOG = "log" / "logs" ["logid": "integer", "name": "string", "slug": "identifier", "stepid": "integer",
        "complete": "boolean", "num_lines": "integer", "type": "identifier"];
    LOGCHUNK = "logchunk" / "logchunks" ["logid": "integer", "firstline": "integer", "content": "string"];
    MASTER = "master" / "masters" ["masterid": "integer", "name": "string", "active": "boolean",
        "last_active": "datetime"];
    TEST_RESULT_SET = "test_result_set" / "test_result_sets" ["test_result_setid": "integer",
        "builderid": "integer", "buildid": "integer", "stepid": "integer", "description": "string?",
        "category": "string", "value_unit": "string", "tests_passed": "integer?",
        "tests_failed": "integer?", "complete": "boolean"];
    WORKER = "worker" / "workers" ["workerid": "integer", "name": "string",
        "connected_to": "list:@master_id", "configured_on": "list:@master_builder",
        "workerinfo": "jsonobject", "paused": "boolean", "pause_reason": "string?", "graceful": "boolean"];
    PROPERTY = "_property" / "_properties" ["name": "string", "source": "string", "value": "jsonobject"];
    BUILDSET = "buildset" / "buildsets" ["bsid": "integer", "external_idstring": "string?",
        "reason": "string", "rebuilt_buildid": "integer?", "submitted_at": "integer",
        "complete": "boolean", "complete_at": "integer?", "results": "integer?",
        "sourcestamps": "list:@sourcestamp", "parent_buildid": "integer?",
        "parent_relationship": "string?"];
    SOURCESTAMP = "sourcestamp" / "sourcestamps" ["ssid": "integer", "revision": "string?",
        "branch": "string?", "repository": "string", "project": "string", "codebase": "string",
        "patch": "@patch?", "created_at": "datetime"];
    CHANGESOURCE = "changesource" / "changesources" ["changesourceid": "integer", "name": "string",
        "master": "@master?"];
    CODEBASE = "codebase" / "codebases" ["codebaseid": "integer", "projectid": "integer",
        "name": "identifier", "slug": "identifier"];
    COMMIT_GRAPH = "commit_graph" / "commit_graphs" ["common": "integer", "to1": "list:integer",
        "to2": "list:integer"];
    COMMIT = "commit" / "commits" ["commitid": "integer", "codebaseid": "integer", "author": "string",
        "committer": "string?", "comments": "string", "when_timestamp": "integer", "revision": "string",
        "parent_commitid": "integer?"];
    SCHEDULER = "scheduler" / "schedulers" ["schedulerid": "integer", "name": "string",
        "enabled": "boolean", "master": "@master?"];
    PROJECT = "project" / "projects" ["projectid": "integer", "name": "identifier", "slug": "identifier",
        "active": "boolean?", "description": "string?", "description_format": "string?",
        "description_html": "string?"];
    TEST_RESULT = "test_result" / "test_results" ["test_resultid": "integer", "builderid": "integer",
        "test_result_setid": "integer", "test_name": "string?", "test_code_path": "string?",
        "line": "integer?", "duration_ns": "integer?", "value": "string"];
}

/// Entity types that only appear nested inside others.
static NESTED: &[(&str, &[(&str, &str)])] = &[
    ("sourcestamp", SOURCESTAMP.fields),
    ("master", MASTER.fields),
    (
        "patch",
        &[
            ("patchid", "integer"),
            ("body", "binary"),
            ("level", "integer"),
            ("subdir", "string"),
            ("author", "string"),
            ("comment", "string"),
        ],
    ),
    ("Url", &[("name", "string"), ("url", "string")]),
    ("master_id", &[("masterid", "integer")]),
    (
        "master_builder",
        &[("masterid", "integer"), ("builderid", "integer")],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_specs_follow_buildbot_notation() {
        let spec = BUILDER.type_spec();
        assert_eq!(spec["type"], "builder");
        assert_eq!(
            spec["fields"][2],
            json!({"name": "masterids", "type": "list",
            "type_spec": {"of": {"name": "integer"}, "type": "list"}})
        );
        assert_eq!(
            spec["fields"][3],
            json!({"name": "description", "type": "string or None",
            "type_spec": {"can_be_null": true, "name": "string"}})
        );
        let cs = CHANGESOURCE.type_spec();
        assert_eq!(cs["fields"][2]["type"], "master or None");
        assert_eq!(cs["fields"][2]["type_spec"]["can_be_null"], true);
        assert_eq!(
            SOURCEDPROPERTIES.type_spec(),
            json!({"name": "sourcedproperties"})
        );
        assert_eq!(value_kind("list:integer"), ValueKind::Integer);
        assert_eq!(value_kind("datetime?"), ValueKind::Integer);
        assert_eq!(value_kind("boolean"), ValueKind::Boolean);
    }
}
