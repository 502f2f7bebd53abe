//! `[[forceschedulers]]`: Buildbot's ForceSchedulers described in the config, normalized to the
//! JSON objects `/api/v2/forceschedulers` returns (Buildbot's parameter defaults filled in).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{Fail, KeyPath};

/// `[[forceschedulers]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForceScheduler {
    name: String,
    #[serde(default)]
    button_name: Option<String>,
    #[serde(default)]
    label: Option<String>,
    builder_names: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    all_fields: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    codebases: Option<Vec<String>>,
    #[serde(default)]
    properties: Option<Vec<Map<String, Value>>>,
    #[serde(rename = "reasonString", default)]
    reason_string: Option<String>,
}

fn yes() -> bool {
    true
}

/// What the force action needs beyond the JSON the UI sees.
#[derive(Debug, Clone, PartialEq)]
pub struct ForceSchedulerSpec {
    /// `name`.
    pub name: String,
    /// `builder_names`: the builders it may start.
    pub builder_names: Vec<String>,
    /// `reasonString`: the build reason, with `%(owner)s` and `%(reason)s` placeholders
    /// (default `A build was forced by '%(owner)s': %(reason)s`).
    pub reason_string: String,
    /// The `all_fields` entries that are codebase groups (a nested field with a `codebase`
    /// key, or the default group when `all_fields` is not given).
    pub codebases: Vec<ForceCodebase>,
}

/// A codebase group of a force scheduler's form.
#[derive(Debug, Clone, PartialEq)]
pub struct ForceCodebase {
    /// The codebase name (`""` for the default codebase).
    pub codebase: String,
    /// Its index in `all_fields`.
    pub field: usize,
}

/// The default `reasonString`.
pub const DEFAULT_REASON_STRING: &str = "A build was forced by '%(owner)s': %(reason)s";

/// Parameter types the UI knows how to show.
const FIELD_TYPES: &[&str] = &[
    "fixed", "text", "textarea", "int", "bool", "username", "list", "nested", "file",
];

/// Names Buildbot reserves for the force action itself.
const RESERVED_NAMES: &[&str] = &["owner", "builderNames", "builderid"];

/// Normalizes every scheduler: the JSON objects, in file order, and their specs.
pub(crate) fn normalize_all(
    raw: Vec<RawForceScheduler>,
) -> Result<(Vec<Value>, Vec<ForceSchedulerSpec>), Fail> {
    let mut objects = Vec::with_capacity(raw.len());
    let mut specs: Vec<ForceSchedulerSpec> = Vec::with_capacity(raw.len());
    for (i, sched) in raw.into_iter().enumerate() {
        let path = KeyPath::of(&["forceschedulers"]).index(i);
        if specs.iter().any(|s| s.name == sched.name) {
            return Err(Fail::at(
                path.key("name"),
                format!(
                    "a force scheduler named '{}' is already defined",
                    sched.name
                ),
            ));
        }
        let (object, spec) = normalize(sched, &path)?;
        objects.push(object);
        specs.push(spec);
    }
    Ok((objects, specs))
}

/// Buildbot's identifier rule for scheduler names: letters, digits, `_` and `-` (and any
/// non-ASCII character), not starting with a digit.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-' || !c.is_ascii() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || !c.is_ascii())
}

fn normalize(
    sched: RawForceScheduler,
    path: &KeyPath,
) -> Result<(Value, ForceSchedulerSpec), Fail> {
    if !is_identifier(&sched.name) {
        return Err(Fail::at(
            path.key("name"),
            format!(
                "'{}' is not an identifier (letters, digits, '_' and '-', not starting with a digit)",
                sched.name
            ),
        ));
    }
    for (j, builder) in sched.builder_names.iter().enumerate() {
        if builder.trim().is_empty() {
            return Err(Fail::at(
                path.key("builder_names").index(j),
                "a builder name must not be empty",
            ));
        }
    }
    let reason_string = sched
        .reason_string
        .unwrap_or_else(|| DEFAULT_REASON_STRING.to_owned());
    let mut raw_fields: Vec<(KeyPath, Map<String, Value>)> = Vec::new();
    match sched.all_fields {
        Some(fields) => {
            for key in ["codebases", "properties"] {
                let given = match key {
                    "codebases" => sched.codebases.is_some(),
                    _ => sched.properties.is_some(),
                };
                if given {
                    return Err(Fail::at(
                        path.key(key),
                        "codebases and properties only apply when all_fields is not given",
                    ));
                }
            }
            for (j, field) in fields.into_iter().enumerate() {
                raw_fields.push((path.key("all_fields").index(j), field));
            }
        }
        None => {
            let defaults = path.key("all_fields");
            raw_fields.push((defaults.clone(), default_main_group()));
            let codebases = sched.codebases.unwrap_or_else(|| vec![String::new()]);
            if codebases.is_empty() {
                return Err(Fail::at(
                    path.key("codebases"),
                    "needs at least one codebase (\"\" is the default one)",
                ));
            }
            for codebase in codebases {
                raw_fields.push((defaults.clone(), default_codebase_group(&codebase)));
            }
            for (j, field) in sched.properties.unwrap_or_default().into_iter().enumerate() {
                raw_fields.push((path.key("properties").index(j), field));
            }
        }
    }
    let mut all_fields = Vec::with_capacity(raw_fields.len());
    let mut codebases = Vec::new();
    for (index, (field_path, field)) in raw_fields.into_iter().enumerate() {
        let mut field = field;
        if let Some(codebase) = field.remove("codebase") {
            let Value::String(codebase) = codebase else {
                return Err(Fail::at(field_path.key("codebase"), "expected a string"));
            };
            if field.get("type").and_then(Value::as_str) != Some("nested") {
                return Err(Fail::at(
                    field_path.key("codebase"),
                    "only a field of type \"nested\" can be a codebase group",
                ));
            }
            if codebases
                .iter()
                .any(|c: &ForceCodebase| c.codebase == codebase)
            {
                return Err(Fail::at(
                    field_path.key("codebase"),
                    format!("codebase '{codebase}' has two groups"),
                ));
            }
            codebases.push(ForceCodebase {
                codebase,
                field: index,
            });
        }
        all_fields.push(normalize_field(field, None, &field_path)?);
    }
    let label = sched.label.unwrap_or_else(|| sched.name.clone());
    let button_name = sched.button_name.unwrap_or_else(|| sched.name.clone());
    let object = sorted(json!({
        "all_fields": all_fields,
        "builder_names": sched.builder_names,
        "button_name": button_name,
        "enabled": sched.enabled,
        "label": label,
        "name": sched.name,
    }));
    let spec = ForceSchedulerSpec {
        name: sched.name,
        builder_names: sched.builder_names,
        reason_string,
        codebases,
    };
    Ok((object, spec))
}

/// The username, reason and priority group that Buildbot puts first.
fn default_main_group() -> Map<String, Value> {
    object(json!({
        "type": "nested",
        "name": "",
        "fields": [
            {"type": "username"},
            {"type": "text", "name": "reason", "default": "force build", "size": 20},
            {"type": "int", "name": "priority"},
        ],
    }))
}

/// Buildbot's default group for a codebase: branch, project, repository and revision fields.
fn default_codebase_group(codebase: &str) -> Map<String, Value> {
    let fields: Vec<Value> = ["branch", "project", "repository", "revision"]
        .iter()
        .map(|name| {
            let mut label = name[..1].to_uppercase();
            label.push_str(&name[1..]);
            label.push(':');
            json!({"type": "text", "name": name, "label": label})
        })
        .collect();
    let mut group = object(json!({
        "type": "nested",
        "name": codebase,
        "codebase": codebase,
        "fields": fields,
    }));
    if !codebase.is_empty() {
        group.insert("label".into(), Value::from(format!("Codebase: {codebase}")));
    }
    group
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The object with its keys in sorted order (as Buildbot's JSON is).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => other,
    }
}

fn expect_kind(
    field: &Map<String, Value>,
    path: &KeyPath,
    key: &str,
    ok: fn(&Value) -> bool,
    what: &str,
) -> Result<(), Fail> {
    match field.get(key) {
        Some(v) if !ok(v) => Err(Fail::at(path.key(key), format!("expected {what}"))),
        _ => Ok(()),
    }
}

fn is_count(v: &Value) -> bool {
    v.as_u64().is_some()
}

/// Fills in Buildbot's defaults for one parameter (and its children, for nested groups).
fn normalize_field(
    mut field: Map<String, Value>,
    parent_full_name: Option<&str>,
    path: &KeyPath,
) -> Result<Value, Fail> {
    let kind = match field.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(Fail::at(path.key("type"), "expected a string")),
        None => return Err(Fail::missing_key(path.clone(), "type")),
    };
    if !FIELD_TYPES.contains(&kind.as_str()) {
        return Err(Fail::unknown_name(
            path.key("type"),
            "field type",
            &kind,
            FIELD_TYPES,
        ));
    }
    if field.contains_key("value") {
        return Err(Fail::at_key(
            path.key("value"),
            "use 'default' to give a field its initial value",
        ));
    }
    for key in ["name", "label", "tablabel", "tooltip", "layout"] {
        expect_kind(&field, path, key, Value::is_string, "a string")?;
    }
    for key in ["hide", "required", "multiple", "strict", "need_email"] {
        expect_kind(&field, path, key, Value::is_boolean, "true or false")?;
    }
    for key in ["size", "cols", "rows", "columns"] {
        expect_kind(&field, path, key, is_count, "a non-negative integer")?;
    }
    expect_kind(
        &field,
        path,
        "maxsize",
        |v| v.is_null() || is_count(v),
        "a non-negative integer",
    )?;
    expect_kind(&field, path, "choices", Value::is_array, "an array")?;
    expect_kind(
        &field,
        path,
        "fields",
        Value::is_array,
        "an array of tables",
    )?;
    let name = match field.get("name").and_then(Value::as_str) {
        Some(name) => name.to_owned(),
        None => match kind.as_str() {
            "username" => "username".to_owned(),
            "nested" => String::new(),
            _ => return Err(Fail::missing_key(path.clone(), "name")),
        },
    };
    if name.is_empty() && kind != "nested" {
        return Err(Fail::at(path.key("name"), "must not be empty"));
    }
    if RESERVED_NAMES.contains(&name.as_str()) {
        return Err(Fail::at(
            path.key("name"),
            format!("'{name}' is reserved by the force action; choose another name"),
        ));
    }
    if let Some(Value::String(re)) = field.get("regex") {
        if let Err(err) = regex::Regex::new(re) {
            let detail = err.to_string();
            let reason = detail.lines().last().unwrap_or_default().trim();
            return Err(Fail::at(
                path.key("regex"),
                format!(
                    "invalid regular expression: {}",
                    reason.trim_start_matches("error: ")
                ),
            ));
        }
    }
    // fullName: the parent's full name and the name joined with '_', or whichever is set.
    let full_name = match (parent_full_name.filter(|p| !p.is_empty()), name.as_str()) {
        (Some(parent), "") => Some(parent.to_owned()),
        (Some(parent), name) => Some(format!("{parent}_{name}")),
        (None, "") => None,
        (None, name) => Some(name.to_owned()),
    };
    let computed = full_name.clone().map_or(Value::Null, Value::from);
    if let Some(given) = field.get("fullName") {
        if *given != computed {
            return Err(Fail::at(
                path.key("fullName"),
                format!("fullName is computed from the names (here {computed}); remove it"),
            ));
        }
    }
    let default_label = if kind == "username" {
        "Your name:".to_owned()
    } else {
        name.clone()
    };
    let label = field
        .get("label")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or(default_label);

    let mut defaults: Vec<(&str, Value)> = vec![
        ("autopopulate", Value::Null),
        ("default", Value::from("")),
        ("fullName", computed),
        ("hide", Value::from(false)),
        ("label", Value::from(label.clone())),
        ("maxsize", Value::Null),
        ("multiple", Value::from(false)),
        ("name", Value::from(name.clone())),
        ("regex", Value::Null),
        ("required", Value::from(false)),
        ("tablabel", Value::from(label)),
        ("tooltip", Value::from("")),
    ];
    let mut set = |key: &'static str, value: Value| {
        if let Some(slot) = defaults.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            defaults.push((key, value));
        }
    };
    match kind.as_str() {
        "fixed" => set("hide", Value::from(true)),
        "text" => set("size", json!(10)),
        "textarea" => {
            set("size", json!(10));
            set("cols", json!(80));
            set("rows", json!(20));
        }
        "int" => {
            set("size", json!(10));
            set("default", json!(0));
        }
        "username" => {
            set("size", json!(30));
            set("need_email", Value::from(true));
        }
        "list" => {
            set("choices", json!([]));
            set("strict", Value::from(true));
        }
        "file" => set("maxsize", json!(10 * 1024 * 1024)),
        "nested" => {
            set("layout", Value::from("vertical"));
        }
        _ => {}
    }
    for (key, value) in defaults {
        field.entry(key).or_insert(value);
    }

    if kind == "nested" {
        let children = match field.remove("fields") {
            Some(Value::Array(children)) => children,
            _ => Vec::new(),
        };
        let mut normalized = Vec::with_capacity(children.len());
        for (k, child) in children.into_iter().enumerate() {
            let child_path = path.key("fields").index(k);
            let Value::Object(child) = child else {
                return Err(Fail::at(child_path, "expected a table"));
            };
            if child.contains_key("codebase") {
                return Err(Fail::at(
                    child_path.key("codebase"),
                    "codebase groups belong at the top level of all_fields",
                ));
            }
            normalized.push(normalize_field(child, full_name.as_deref(), &child_path)?);
        }
        if !field.contains_key("columns") {
            let visible = normalized
                .iter()
                .filter(|f| f.get("hide") != Some(&Value::Bool(true)))
                .count();
            field.insert("columns".into(), json!(if visible >= 4 { 2 } else { 1 }));
        }
        match field.get("columns").and_then(Value::as_u64) {
            Some(1..=4) => {}
            _ => {
                return Err(Fail::at(
                    path.key("columns"),
                    "the UI shows 1 to 4 columns in a nested group",
                ))
            }
        }
        field.insert("fields".into(), Value::Array(normalized));
    } else if field.contains_key("fields") {
        return Err(Fail::at_key(
            path.key("fields"),
            "only fields of type \"nested\" have fields",
        ));
    }
    Ok(sorted(Value::Object(field)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> RawForceScheduler {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_match_buildbot() {
        let (objects, specs) =
            normalize_all(vec![raw("name = \"f\"\nbuilder_names = [\"b\"]\n")]).unwrap();
        let o = &objects[0];
        assert_eq!(o["button_name"], "f");
        assert_eq!(o["label"], "f");
        assert_eq!(o["enabled"], true);
        let main = &o["all_fields"][0];
        assert_eq!(main["fullName"], Value::Null);
        assert_eq!(main["columns"], 1);
        assert_eq!(main["fields"][0]["name"], "username");
        assert_eq!(main["fields"][0]["label"], "Your name:");
        assert_eq!(main["fields"][0]["need_email"], true);
        assert_eq!(main["fields"][2]["default"], 0);
        let codebase = &o["all_fields"][1];
        assert_eq!(codebase["columns"], 2);
        assert_eq!(codebase["fields"][3]["label"], "Revision:");
        assert!(codebase.get("codebase").is_none());
        assert_eq!(
            specs[0].codebases,
            vec![ForceCodebase {
                codebase: String::new(),
                field: 1
            }]
        );
        assert_eq!(specs[0].reason_string, DEFAULT_REASON_STRING);
    }

    #[test]
    fn nested_names_curry() {
        let (objects, _) = normalize_all(vec![raw(
            "name = \"f\"\nbuilder_names = []\ncodebases = [\"lib\"]\n",
        )])
        .unwrap();
        let group = &objects[0]["all_fields"][1];
        assert_eq!(group["label"], "Codebase: lib");
        assert_eq!(group["fullName"], "lib");
        assert_eq!(group["fields"][0]["fullName"], "lib_branch");
    }

    #[test]
    fn rejects_bad_fields() {
        let err = normalize_all(vec![raw(
            "name = \"f\"\nbuilder_names = []\nall_fields = [{ type = \"txt\", name = \"x\" }]\n",
        )])
        .unwrap_err();
        assert_eq!(
            err.message,
            "unknown field type 'txt'; did you mean 'text'?"
        );
        let err = normalize_all(vec![raw("name = \"1f\"\nbuilder_names = []\n")]).unwrap_err();
        assert!(err.message.contains("not an identifier"));
        let err = normalize_all(vec![raw(
            "name = \"f\"\nbuilder_names = []\nproperties = [{ type = \"text\", name = \"owner\" }]\n",
        )])
        .unwrap_err();
        assert!(err.message.contains("reserved"));
    }
}
