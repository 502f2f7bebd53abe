//! Buildbot's REST query language: `field`, `order`, `limit`, `offset`, `property` and
//! `<field>[__<op>]=<value>` filters, parsed into a `ResultSpec` and applied to JSON items.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::error::ApiError;
use super::types::{is_list, value_kind, ResourceType, ValueKind};

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq` (also a plain `field=value`).
    Eq,
    /// `ne`.
    Ne,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `contains`: substring of a string, or member of a list.
    Contains,
    /// `in`.
    In,
    /// `notin`.
    NotIn,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "contains" => Op::Contains,
            "in" => Op::In,
            "notin" => Op::NotIn,
            _ => return None,
        })
    }

    /// Buildbot's name of the operator.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Contains => "contains",
            Op::In => "in",
            Op::NotIn => "notin",
        }
    }
}

/// One filter on a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field name.
    pub field: String,
    /// The operator, normalised: several values with `eq` become `in`, with `ne` become `notin`.
    pub op: Op,
    /// Parsed values (integers, booleans or strings as the field's type says).
    pub values: Vec<Value>,
}

/// A parsed query: what to return and how, like Buildbot's `ResultSpec`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSpec {
    /// Filters, all of which must match.
    pub filters: Vec<Filter>,
    /// Fields to keep (`field=`), or all.
    pub fields: Option<Vec<String>>,
    /// Build properties to include (`property=`, `*` for all).
    pub properties: Vec<String>,
    /// Sort keys, `-` prefixed for descending.
    pub order: Option<Vec<String>>,
    /// `limit` (negative = none).
    pub limit: Option<i64>,
    /// `offset`.
    pub offset: Option<i64>,
}

const RESERVED: &[&str] = &["field", "order", "limit", "offset", "property"];

impl ResultSpec {
    /// Parses query arguments (in request order) against a resource type.
    pub fn parse(args: &[(String, String)], rtype: &ResourceType) -> Result<ResultSpec, ApiError> {
        let values_of = |name: &str| -> Vec<&str> {
            args.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let check_field = |name: &str| -> Result<(), ApiError> {
            if rtype.field(name).is_none() {
                return Err(ApiError::bad_request(format!("no such field '{name}'")));
            }
            Ok(())
        };
        let mut spec = ResultSpec::default();
        let fields = values_of("field");
        if !fields.is_empty() {
            for field in &fields {
                check_field(field)?;
            }
            spec.fields = Some(fields.iter().map(|s| s.to_string()).collect());
        }
        let order = values_of("order");
        if !order.is_empty() {
            for key in &order {
                check_field(key.strip_prefix('-').unwrap_or(key))?;
            }
            spec.order = Some(order.iter().map(|s| s.to_string()).collect());
        }
        if let Some(limit) = values_of("limit").first() {
            spec.limit = Some(
                limit
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("invalid limit"))?,
            );
        }
        if let Some(offset) = values_of("offset").first() {
            spec.offset = Some(
                offset
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("invalid offset"))?,
            );
        }
        spec.properties = values_of("property")
            .iter()
            .map(|s| s.to_string())
            .collect();

        let mut seen: Vec<&str> = Vec::new();
        for (arg, _) in args {
            if RESERVED.contains(&arg.as_str()) || seen.contains(&arg.as_str()) {
                continue;
            }
            seen.push(arg);
            let (field, op) = if rtype.field(arg).is_some() {
                (arg.as_str(), Op::Eq)
            } else if let Some((field, op)) = arg.rsplit_once("__") {
                match (rtype.field(field), Op::parse(op)) {
                    (Some(_), Some(op)) => (field, op),
                    // Buildbot silently ignores an unknown operator or field with `__`.
                    _ => continue,
                }
            } else {
                return Err(ApiError::bad_request(format!(
                    "unrecognized query parameter '{arg}'"
                )));
            };
            let notation = rtype.field(field).unwrap_or("string");
            let raw = values_of(arg);
            let mut values = Vec::with_capacity(raw.len());
            for text in raw {
                values.push(parse_value(text, value_kind(notation)).ok_or_else(|| {
                    ApiError::bad_request(format!("invalid filter value for {arg}"))
                })?);
            }
            let op = match (op, values.len()) {
                (Op::Eq, n) if n > 1 => Op::In,
                (Op::Ne, n) if n > 1 => Op::NotIn,
                (Op::Lt | Op::Le | Op::Gt | Op::Ge, n) if n > 1 => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter value for {arg}"
                    )));
                }
                (op, _) => op,
            };
            spec.filters.push(Filter {
                field: field.to_string(),
                op,
                values,
            });
        }

        if let Some(fields) = &spec.fields {
            if let Some(order) = &spec.order {
                if order
                    .iter()
                    .any(|k| !fields.iter().any(|f| f == k.trim_start_matches('-')))
                {
                    return Err(ApiError::bad_request("cannot order on un-selected fields"));
                }
            }
            if spec.filters.iter().any(|f| !fields.contains(&f.field)) {
                return Err(ApiError::bad_request("cannot filter on un-selected fields"));
            }
        }
        Ok(spec)
    }

    /// Whether any filter, order or paging was asked for (not allowed on single entities).
    pub fn has_collection_args(&self) -> bool {
        !self.filters.is_empty()
    }

    /// Keeps the items that match every filter.
    pub fn filter_items(&self, items: &mut Vec<Map<String, Value>>, rtype: &ResourceType) {
        if self.filters.is_empty() {
            return;
        }
        items.retain(|item| {
            self.filters
                .iter()
                .all(|f| f.matches(item.get(&f.field), rtype))
        });
    }

    /// Sorts items by the requested order (or `default` when none was requested).
    pub fn sort_items(&self, items: &mut [Map<String, Value>], default: &[&str]) {
        let keys: Vec<(&str, bool)> = match &self.order {
            Some(order) => order.iter().map(|k| sort_key(k)).collect(),
            None => default.iter().map(|k| sort_key(k)).collect(),
        };
        if keys.is_empty() {
            return;
        }
        items.sort_by(|a, b| {
            for (field, descending) in &keys {
                let ord = compare(a.get(*field), b.get(*field));
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }

    /// The effective limit: the requested one, else `default_limit`; `None` = unlimited.
    pub fn effective_limit(&self, default_limit: u64) -> Option<usize> {
        match self.limit {
            Some(n) if n < 0 => None,
            Some(n) => Some(n as usize),
            None => Some(default_limit as usize),
        }
    }

    /// The effective offset.
    pub fn effective_offset(&self) -> usize {
        self.offset.unwrap_or(0).max(0) as usize
    }

    /// Keeps only the selected fields of an item.
    pub fn select_fields(&self, item: &mut Map<String, Value>) {
        if let Some(fields) = &self.fields {
            item.retain(|k, _| fields.iter().any(|f| f == k));
        }
    }

    /// Python's repr of this spec, as Buildbot prints it in "not found" errors.
    pub fn python_repr(&self) -> String {
        let list = |items: &[String]| -> String {
            let inner: Vec<String> = items.iter().map(|s| py_str(s)).collect();
            format!("[{}]", inner.join(", "))
        };
        let filters: Vec<String> = self
            .filters
            .iter()
            .map(|f| {
                let values: Vec<String> = f.values.iter().map(py_value).collect();
                format!(
                    "Filter({}, {}, [{}])",
                    py_str(&f.field),
                    py_str(f.op.name()),
                    values.join(", ")
                )
            })
            .collect();
        let fields = self.fields.as_deref().map_or("None".to_string(), list);
        let order = match &self.order {
            None => "None".to_string(),
            Some(o) if o.len() == 1 => format!("({},)", py_str(&o[0])),
            Some(o) => format!(
                "({})",
                o.iter().map(|s| py_str(s)).collect::<Vec<_>>().join(", ")
            ),
        };
        let num = |n: Option<i64>| n.map_or("None".to_string(), |n| n.to_string());
        format!(
            "ResultSpec(**{{'filters': [{}], 'fields': {}, 'properties': {}, 'order': {}, 'limit': {}, 'offset': {}}})",
            filters.join(", "),
            fields,
            list(&self.properties),
            order,
            num(self.limit),
            num(self.offset)
        )
    }
}

fn sort_key(key: &str) -> (&str, bool) {
    match key.strip_prefix('-') {
        Some(field) => (field, true),
        None => (key, false),
    }
}

impl Filter {
    /// Whether a field value passes this filter (Python comparison semantics).
    pub fn matches(&self, value: Option<&Value>, rtype: &ResourceType) -> bool {
        let value = value.unwrap_or(&Value::Null);
        let list_field = rtype.field(&self.field).is_some_and(is_list);
        match self.op {
            Op::Eq => self.values.iter().any(|v| value == v),
            Op::Ne | Op::NotIn => self.values.iter().all(|v| value != v),
            Op::In => self.values.iter().any(|v| value == v),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let Some(v) = self.values.first() else {
                    return false;
                };
                if value.is_null() || v.is_null() {
                    return false;
                }
                let ord = compare(Some(value), Some(v));
                match self.op {
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }
            }
            Op::Contains => match value {
                Value::Array(items) if list_field => self.values.iter().any(|v| items.contains(v)),
                Value::String(s) => self
                    .values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|v| s.contains(v))),
                _ => false,
            },
        }
    }
}

/// Parses one filter value: `None` when it does not parse as the field's type.
pub fn parse_value(text: &str, kind: ValueKind) -> Option<Value> {
    match kind {
        ValueKind::Integer => text.trim().parse::<i64>().ok().map(Value::from),
        ValueKind::Boolean => Some(Value::Bool(string2boolean(text))),
        ValueKind::Text => Some(Value::String(text.to_string())),
    }
}

/// Buildbot's `string2boolean`: true for "true", "yes", "1" and "on" (any case).
pub fn string2boolean(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on" | "y" | "t"
    )
}

/// A total order over JSON values: null < booleans < numbers < strings < lists < objects.
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    let a = a.unwrap_or(&Value::Null);
    let b = b.unwrap_or(&Value::Null);
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = compare(Some(p), Some(q));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Python's repr of a string.
pub fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's repr of a JSON scalar or container.
pub fn py_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Query arguments in request order, percent-decoded (`+` is a space).
pub fn query_args(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_in_order() {
        assert_eq!(
            query_args("a=1&b=x%20y&a=2&c&d=%zz+"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "2".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz ".into())
            ]
        );
    }
    use crate::data::types::{BUILD, BUILDER};
    use serde_json::json;

    fn args(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn err(q: &str) -> String {
        ResultSpec::parse(&args(q), &BUILD).unwrap_err().message
    }

    #[test]
    fn recorded_errors() {
        assert_eq!(err("results=abc"), "invalid filter value for results");
        assert_eq!(
            err("results__lt=abc"),
            "invalid filter value for results__lt"
        );
        assert_eq!(
            err("results__eq=null"),
            "invalid filter value for results__eq"
        );
        assert_eq!(err("field=nosuch"), "no such field 'nosuch'");
        assert_eq!(err("order=-nosuch"), "no such field 'nosuch'");
        assert_eq!(
            err("field=buildid&order=-number"),
            "cannot order on un-selected fields"
        );
        assert_eq!(
            err("field=buildid&results=2"),
            "cannot filter on un-selected fields"
        );
        assert_eq!(err("foo=bar"), "unrecognized query parameter 'foo'");
        assert_eq!(err("limit=abc"), "invalid limit");
        assert_eq!(err("offset=abc"), "invalid offset");
    }

    #[test]
    fn operators_normalise_and_match_like_buildbot() {
        let spec = ResultSpec::parse(
            &args("results=2&results=4&results__ne=0&results__ne=2&nosuch__eq=1&results__foo=1"),
            &BUILD,
        )
        .unwrap();
        assert_eq!(spec.filters.len(), 2);
        assert_eq!(spec.filters[0].op, Op::In);
        assert_eq!(spec.filters[1].op, Op::NotIn);
        let spec = ResultSpec::parse(&args("complete=yes"), &BUILD).unwrap();
        assert_eq!(spec.filters[0].values, vec![json!(true)]);

        let tags = ResultSpec::parse(
            &args("tags__contains=docs&tags__contains=windows"),
            &BUILDER,
        )
        .unwrap();
        let builder = |t: Value| json!({"tags": t}).as_object().unwrap().clone();
        let mut items = vec![
            builder(json!(["docs", "linux"])),
            builder(json!(["linux"])),
            builder(json!(["windows"])),
        ];
        tags.filter_items(&mut items, &BUILDER);
        assert_eq!(items.len(), 2);
        let eq = ResultSpec::parse(&args("tags=linux"), &BUILDER).unwrap();
        let mut items = vec![builder(json!(["linux"]))];
        eq.filter_items(&mut items, &BUILDER);
        assert!(items.is_empty());
    }

    #[test]
    fn repr_matches_buildbot() {
        assert_eq!(
            ResultSpec::default().python_repr(),
            "ResultSpec(**{'filters': [], 'fields': None, 'properties': [], 'order': None, 'limit': None, 'offset': None})"
        );
        assert_eq!(py_str("it's"), "\"it's\"");
    }
}
