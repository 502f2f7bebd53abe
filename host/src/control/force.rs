//! The `force` action's parameters checked as Buildbot's ForceScheduler checks them: each
//! field of the scheduler's form read from the call's parameters by its `fullName`, parsed by
//! its type (`text`, `textarea`, `int`, `bool`, `list`, `username`, `fixed`, `file`, `nested`
//! groups and codebase groups), with `required`, `regex`, `maxsize` and strict `choices`; the
//! errors of every field gathered into one `{fullName: message}` object (JSON-RPC -32602).

use serde_json::{Map, Value};

use crate::config::ForceSchedulerSpec;

/// What a valid force call asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ForceRequest {
    /// The builders to start, by name.
    pub builder_names: Vec<String>,
    /// Buildset properties from the form (source `Force Build Form`), in form order.
    pub properties: Vec<(String, Value)>,
    /// One sourcestamp per codebase group.
    pub sourcestamps: Vec<SourceStamp>,
    /// The `reason` field.
    pub reason: String,
    /// The `priority` field.
    pub priority: i64,
}

/// A sourcestamp a force call describes.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SourceStamp {
    pub codebase: String,
    pub branch: String,
    pub revision: String,
    pub repository: String,
    pub project: String,
}

/// Why a force call is refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ForceError {
    /// Field errors: `{fullName: message}` (Buildbot's -32602).
    Fields(Map<String, Value>),
}

impl ForceError {
    fn one(field: &str, message: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert(field.into(), Value::from(message.into()));
        ForceError::Fields(map)
    }
}

/// The top-level fields Buildbot's force action reads itself rather than as properties.
const OWN_FIELDS: &[&str] = &["username", "reason", "priority"];

/// Checks the parameters of a force call against the scheduler's form (`scheduler` is the
/// object `/api/v2/forceschedulers/NAME` shows) and resolves the builders, as
/// `ForceScheduler.force` does: `builderNames`, or `builderid` (a number or its text), or
/// every builder of the scheduler; `builder_name` names a builder id.
pub(crate) fn check(
    scheduler: &Value,
    spec: &ForceSchedulerSpec,
    params: &Map<String, Value>,
    builder_name: impl Fn(i64) -> Option<String>,
) -> Result<ForceRequest, ForceError> {
    let builder_names = builders(spec, params, builder_name)?;
    let mut form = Form {
        params,
        errors: Map::new(),
        properties: Vec::new(),
        reason: String::new(),
        priority: 0,
    };
    let fields = scheduler
        .get("all_fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut sourcestamps = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        match spec.codebases.iter().find(|c| c.field == index) {
            Some(codebase) => {
                let mut values = Map::new();
                form.group(field, &mut values);
                let text = |k: &str| {
                    values
                        .get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .unwrap_or_default()
                };
                sourcestamps.push(SourceStamp {
                    codebase: codebase.codebase.clone(),
                    branch: text("branch"),
                    revision: text("revision"),
                    repository: text("repository"),
                    project: text("project"),
                });
            }
            None => {
                let mut values = Map::new();
                form.group_or_field(field, &mut values, true);
                form.properties.extend(values);
            }
        }
    }
    if !form.errors.is_empty() {
        return Err(ForceError::Fields(form.errors));
    }
    Ok(ForceRequest {
        builder_names,
        properties: form.properties,
        sourcestamps,
        reason: form.reason,
        priority: form.priority,
    })
}

fn builders(
    spec: &ForceSchedulerSpec,
    params: &Map<String, Value>,
    builder_name: impl Fn(i64) -> Option<String>,
) -> Result<Vec<String>, ForceError> {
    let names: Vec<String> = match (params.get("builderNames"), params.get("builderid")) {
        (Some(Value::Array(names)), _) => {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                match name.as_str() {
                    Some(n) => out.push(n.to_string()),
                    None => {
                        return Err(ForceError::one(
                            "builderNames",
                            "expected a list of builder names",
                        ))
                    }
                }
            }
            out
        }
        (Some(Value::Null) | None, Some(id)) if !id.is_null() => {
            let Some(id) = builder_id(id) else {
                return Err(ForceError::one("builderid", "expected a builder id"));
            };
            match builder_name(id) {
                Some(name) => vec![name],
                None => {
                    return Err(ForceError::one(
                        "builderid",
                        format!("no builder has id {id}"),
                    ))
                }
            }
        }
        (Some(Value::Null) | None, _) => spec.builder_names.clone(),
        (Some(_), _) => {
            return Err(ForceError::one(
                "builderNames",
                "expected a list of builder names",
            ))
        }
    };
    if names.is_empty() {
        return Err(ForceError::one(
            "builderNames",
            "this scheduler has no builders to start",
        ));
    }
    if let Some(bad) = names.iter().find(|n| !spec.builder_names.contains(n)) {
        return Err(ForceError::one(
            "builderNames",
            format!(
                "'{bad}' is not a builder of force scheduler '{}' ({})",
                spec.name,
                spec.builder_names.join(", ")
            ),
        ));
    }
    Ok(names)
}

/// A `builderid` parameter: a number, or its text (Buildbot's UI sends `"3"`).
pub(crate) fn builder_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The form being read: errors and what the fields gave.
struct Form<'a> {
    params: &'a Map<String, Value>,
    errors: Map<String, Value>,
    properties: Vec<(String, Value)>,
    reason: String,
    priority: i64,
}

fn text_of<'v>(field: &'v Value, key: &str) -> &'v str {
    field.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn flag(field: &Value, key: &str) -> bool {
    field.get(key).and_then(Value::as_bool).unwrap_or(false)
}

impl Form<'_> {
    /// A nested group's children, their values put into `out` by name.
    fn group(&mut self, group: &Value, out: &mut Map<String, Value>) {
        let children = group
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for child in &children {
            self.group_or_field(child, out, false);
        }
    }

    /// A field (or a nested group) at the top of the form (`top`) or inside a group.
    fn group_or_field(&mut self, field: &Value, out: &mut Map<String, Value>, top: bool) {
        let name = text_of(field, "name").to_string();
        if text_of(field, "type") == "nested" {
            let mut inner = Map::new();
            self.group(field, &mut inner);
            if name.is_empty() {
                // An unnamed group's fields are the form's own: username, reason and
                // priority are the action's; the others are properties.
                for (k, v) in inner {
                    if top && OWN_FIELDS.contains(&k.as_str()) {
                        self.own_field(&k, v);
                    } else {
                        out.insert(k, v);
                    }
                }
            } else {
                out.insert(name, Value::Object(inner));
            }
            return;
        }
        if let Some(value) = self.value(field) {
            out.insert(name, value);
        }
    }

    fn own_field(&mut self, name: &str, value: Value) {
        match name {
            "reason" => {
                self.reason = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string)
            }
            "priority" => self.priority = value.as_i64().unwrap_or(0),
            // The owner is the logged-in user, never the form's name (docs/control.md).
            _ => {}
        }
    }

    /// One field's value, parsed by its type; `None` after recording an error.
    fn value(&mut self, field: &Value) -> Option<Value> {
        let kind = text_of(field, "type");
        let full_name = text_of(field, "fullName").to_string();
        let label = match text_of(field, "label") {
            "" => full_name.clone(),
            l => l.to_string(),
        };
        let default = field.get("default").cloned().unwrap_or(Value::Null);
        if kind == "fixed" {
            return Some(default);
        }
        let given = self.params.get(&full_name).filter(|v| !v.is_null());
        let empty = match given {
            None => true,
            Some(Value::String(s)) => s.is_empty() && kind != "bool",
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if empty {
            if flag(field, "required") {
                self.fail(&full_name, format!("'{label}' needs to be specified"));
                return None;
            }
            return Some(match given {
                // An empty text stays empty (Buildbot keeps what the form sent).
                Some(Value::String(s)) if kind != "int" && kind != "list" => Value::from(s.clone()),
                _ => default,
            });
        }
        let given = given.cloned().unwrap_or(Value::Null);
        let parsed = match kind {
            "int" => parse_int(&given),
            "bool" => parse_bool(&given),
            "list" => self.parse_choices(field, given),
            "username" => parse_username(field, &given),
            _ => parse_text(field, &given),
        };
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.fail(&full_name, message);
                None
            }
        }
    }

    fn fail(&mut self, full_name: &str, message: String) {
        self.errors
            .insert(full_name.to_string(), Value::from(message));
    }

    fn parse_choices(&self, field: &Value, given: Value) -> Result<Value, String> {
        let choices: Vec<String> = field
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
            .collect();
        let values: Vec<Value> = match given {
            Value::Array(list) if flag(field, "multiple") => list,
            Value::Array(_) => return Err("expected one choice, not a list".into()),
            one => vec![one],
        };
        let mut out = Vec::with_capacity(values.len());
        for value in values {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            if flag(field, "strict") && !choices.contains(&text) {
                let listed: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
                return Err(format!(
                    "'{text}' does not belong to list of available choices '[{}]'",
                    listed.join(", ")
                ));
            }
            out.push(Value::from(text));
        }
        Ok(if flag(field, "multiple") {
            Value::Array(out)
        } else {
            out.pop().unwrap_or(Value::Null)
        })
    }
}

fn parse_int(given: &Value) -> Result<Value, String> {
    let text = match given {
        Value::Number(n) if n.is_i64() => return Ok(given.clone()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.trim()
        .parse::<i64>()
        .map(Value::from)
        .map_err(|_| format!("invalid literal for int() with base 10: '{text}'"))
}

fn parse_bool(given: &Value) -> Result<Value, String> {
    match given {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "on" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "off" | "0" | "no" | "" => Ok(Value::Bool(false)),
            _ => Err(format!("'{s}' is not true or false")),
        },
        Value::Number(n) => Ok(Value::Bool(n.as_i64() != Some(0))),
        other => Err(format!("{other} is not true or false")),
    }
}

fn parse_text(field: &Value, given: &Value) -> Result<Value, String> {
    let text = match given {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => given.to_string(),
        _ => return Err("expected text".into()),
    };
    if let Some(pattern) = field.get("regex").and_then(Value::as_str) {
        let anchored = format!("^(?:{pattern})");
        let ok = regex::Regex::new(&anchored).is_ok_and(|re| re.is_match(&text));
        if !ok {
            return Err(format!("'{text}' does not match pattern '{pattern}'"));
        }
    }
    if let Some(max) = field.get("maxsize").and_then(Value::as_u64) {
        if text.len() as u64 > max {
            return Err(format!(
                "value is {} bytes long, more than the allowed {max}",
                text.len()
            ));
        }
    }
    Ok(Value::from(text))
}

fn parse_username(field: &Value, given: &Value) -> Result<Value, String> {
    let text = parse_text(field, given)?;
    let name = text.as_str().unwrap_or_default();
    if flag(field, "need_email") && !looks_like_email(name) {
        return Err(format!(
            "'{name}' is not an email address ('name@example.com' or 'Full Name <name@example.com>')"
        ));
    }
    Ok(text)
}

/// `user@host` or `Name <user@host>`, as Buildbot's username field wants it.
fn looks_like_email(text: &str) -> bool {
    let address = match text.split_once('<') {
        Some((_, rest)) => match rest.strip_suffix('>') {
            Some(address) => address,
            None => return false,
        },
        None => text,
    };
    matches!(address.split_once('@'),
        Some((user, host)) if !user.is_empty() && !host.is_empty()
            && !user.contains(char::is_whitespace) && !host.contains(['@', '>', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ForceCodebase;
    use serde_json::json;

    fn scheduler() -> (Value, ForceSchedulerSpec) {
        let fields = json!([
            {"type": "nested", "name": "", "fullName": null, "fields": [
                {"type": "username", "name": "username", "fullName": "username", "default": "", "need_email": true, "label": "Your name:"},
                {"type": "text", "name": "reason", "fullName": "reason", "default": "force build"},
                {"type": "int", "name": "priority", "fullName": "priority", "default": 0},
            ]},
            {"type": "nested", "name": "", "fullName": null, "fields": [
                {"type": "text", "name": "branch", "fullName": "branch", "default": "main"},
                {"type": "text", "name": "revision", "fullName": "revision", "default": "", "regex": "[0-9a-f]+$"},
                {"type": "text", "name": "repository", "fullName": "repository", "default": ""},
                {"type": "text", "name": "project", "fullName": "project", "default": ""},
            ]},
            {"type": "list", "name": "outcome", "fullName": "outcome", "label": "Outcome", "choices": ["success", "failure"], "strict": true, "default": "success"},
            {"type": "list", "name": "tags", "fullName": "tags", "choices": ["a", "b"], "strict": true, "multiple": true, "default": []},
            {"type": "int", "name": "sleep", "fullName": "sleep", "default": 5},
            {"type": "bool", "name": "clean", "fullName": "clean", "default": false},
            {"type": "text", "name": "ticket", "fullName": "ticket", "label": "Ticket", "required": true, "default": "", "maxsize": 8},
            {"type": "fixed", "name": "pinned", "fullName": "pinned", "default": "yes"},
            {"type": "nested", "name": "opts", "fullName": "opts", "fields": [
                {"type": "textarea", "name": "notes", "fullName": "opts_notes", "default": "n"},
            ]},
        ]);
        let object =
            json!({"name": "force", "builder_names": ["linux", "docs"], "all_fields": fields});
        let spec = ForceSchedulerSpec {
            name: "force".into(),
            builder_names: vec!["linux".into(), "docs".into()],
            reason_string: crate::config::DEFAULT_REASON_STRING.into(),
            codebases: vec![ForceCodebase {
                codebase: String::new(),
                field: 1,
            }],
        };
        (object, spec)
    }

    fn call(params: Value) -> Result<ForceRequest, ForceError> {
        let (object, spec) = scheduler();
        let Value::Object(params) = params else {
            panic!()
        };
        check(&object, &spec, &params, |id| {
            (id == 3).then(|| "docs".into())
        })
    }

    fn errors(params: Value) -> Value {
        match call(params) {
            Err(ForceError::Fields(map)) => Value::Object(map),
            Ok(ok) => panic!("accepted: {ok:?}"),
        }
    }

    #[test]
    fn a_valid_call_gives_properties_sourcestamp_reason_and_priority() {
        let got = call(json!({
            "builderid": "3", "reason": "ui", "priority": "2", "branch": "dev",
            "revision": "abc123", "outcome": "failure", "tags": ["a", "b"], "sleep": "7",
            "clean": true, "ticket": "T-1", "pinned": "overridden", "opts_notes": "hello",
            "username": "Mallory <m@evil.example>",
        }))
        .unwrap();
        assert_eq!(got.builder_names, ["docs"]);
        assert_eq!(got.reason, "ui");
        assert_eq!(got.priority, 2);
        assert_eq!(got.sourcestamps[0].branch, "dev");
        assert_eq!(got.sourcestamps[0].revision, "abc123");
        let props: Map<String, Value> = got.properties.into_iter().collect();
        assert_eq!(
            Value::Object(props),
            json!({"outcome": "failure", "tags": ["a", "b"], "sleep": 7, "clean": true,
                   "ticket": "T-1", "pinned": "yes", "opts": {"notes": "hello"}})
        );
    }

    #[test]
    fn defaults_fill_what_is_not_given_and_all_builders_are_forced() {
        let got = call(json!({"ticket": "x"})).unwrap();
        assert_eq!(got.builder_names, ["linux", "docs"]);
        assert_eq!(got.reason, "force build");
        assert_eq!(got.sourcestamps[0].branch, "main");
        let props: Map<String, Value> = got.properties.into_iter().collect();
        assert_eq!(props["sleep"], json!(5));
        assert_eq!(props["clean"], json!(false));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let got = errors(json!({
            "builderNames": ["docs"], "outcome": "nonsense", "sleep": "abc", "tags": ["c"],
            "revision": "xyz!", "clean": "maybe", "username": "just a name",
        }));
        assert_eq!(
            got,
            json!({
                "username": "'just a name' is not an email address ('name@example.com' or 'Full Name <name@example.com>')",
                "revision": "'xyz!' does not match pattern '[0-9a-f]+$'",
                "outcome": "'nonsense' does not belong to list of available choices '['success', 'failure']'",
                "tags": "'c' does not belong to list of available choices '['a', 'b']'",
                "sleep": "invalid literal for int() with base 10: 'abc'",
                "clean": "'maybe' is not true or false",
                "ticket": "'Ticket' needs to be specified",
            })
        );
        let got = errors(json!({"ticket": "123456789"}));
        assert_eq!(
            got,
            json!({"ticket": "value is 9 bytes long, more than the allowed 8"})
        );
    }

    #[test]
    fn builders_must_be_the_schedulers() {
        assert_eq!(
            errors(json!({"builderNames": ["nosuch"], "ticket": "x"})),
            json!({"builderNames": "'nosuch' is not a builder of force scheduler 'force' (linux, docs)"})
        );
        assert_eq!(
            errors(json!({"builderid": 9, "ticket": "x"})),
            json!({"builderid": "no builder has id 9"})
        );
        assert_eq!(
            errors(json!({"builderNames": "docs", "ticket": "x"})),
            json!({"builderNames": "expected a list of builder names"})
        );
    }
}
