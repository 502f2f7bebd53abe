//! Buildbot's REST query language: `field`, `order`, `limit`, `offset`, `property` and
//! `<field>[__<op>]=<value>` filters, parsed into a `ResultSpec` and applied to JSON items.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::error::ApiError;
use super::types::{is_list, value_kind, ResourceType, ValueKind};

/// A filter operator: the SDK's list, so that every operator a plugin's `Query` writes is one
/// this parser reads, and the other way round.
pub use buildbot_plugin_sdk::data::Op;

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
    /// `limit` (negative = as many as [`Paging::max_limit`] allows).
    pub limit: Option<i64>,
    /// `offset`.
    pub offset: Option<i64>,
}

const RESERVED: &[&str] = &["field", "order", "limit", "offset", "property"];

/// How many items one read returns: `[www] rest_default_limit` when the request gives no
/// `limit`, never more than `[www] rest_max_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Without `limit`.
    pub default_limit: u64,
    /// The ceiling, also what `limit=-1` asks for.
    pub max_limit: u64,
}

/// Query arguments grouped by name, in the order each name first appears; built in one pass.
struct Grouped<'a> {
    groups: Vec<(&'a str, Vec<&'a str>)>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Grouped<'a> {
    fn new(args: &'a [(String, String)]) -> Self {
        let mut grouped = Grouped {
            groups: Vec::new(),
            index: HashMap::new(),
        };
        for (name, value) in args {
            match grouped.index.get(name.as_str()) {
                Some(&i) => grouped.groups[i].1.push(value),
                None => {
                    grouped.index.insert(name, grouped.groups.len());
                    grouped.groups.push((name, vec![value]));
                }
            }
        }
        grouped
    }

    fn values(&self, name: &str) -> &[&'a str] {
        self.index
            .get(name)
            .map_or(&[], |&i| self.groups[i].1.as_slice())
    }
}

/// The values in order without repeats; `same` says which two are the same.
fn distinct<'a>(values: &[&'a str], same: impl Fn(&'a str) -> &'a str) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .iter()
        .filter(|v| seen.insert(same(v)))
        .map(|v| (*v).to_owned())
        .collect()
}

impl ResultSpec {
    /// Parses query arguments (in request order) against a resource type, in time linear in
    /// their number: repeated `field`, `order` and `property` values count once.
    pub fn parse(args: &[(String, String)], rtype: &ResourceType) -> Result<ResultSpec, ApiError> {
        let args = Grouped::new(args);
        let check_field = |name: &str| -> Result<(), ApiError> {
            if rtype.field(name).is_none() {
                return Err(ApiError::bad_argument(
                    name,
                    format!("no such field '{name}'"),
                ));
            }
            Ok(())
        };
        let mut spec = ResultSpec::default();
        let fields = args.values("field");
        if !fields.is_empty() {
            for field in fields {
                check_field(field)?;
            }
            spec.fields = Some(distinct(fields, |f| f));
        }
        let order = args.values("order");
        if !order.is_empty() {
            for key in order {
                check_field(key.strip_prefix('-').unwrap_or(key))?;
            }
            // A key repeated after the first (in either direction) never breaks a tie.
            spec.order = Some(distinct(order, |k| k.trim_start_matches('-')));
        }
        if let Some(limit) = args.values("limit").first() {
            spec.limit = Some(
                parse_int(limit).ok_or_else(|| ApiError::bad_argument("limit", "invalid limit"))?,
            );
        }
        if let Some(offset) = args.values("offset").first() {
            spec.offset = Some(
                parse_int(offset)
                    .ok_or_else(|| ApiError::bad_argument("offset", "invalid offset"))?,
            );
        }
        spec.properties = distinct(args.values("property"), |p| p);

        for (arg, raw) in &args.groups {
            let arg = *arg;
            if RESERVED.contains(&arg) {
                continue;
            }
            let (field, op) = if rtype.field(arg).is_some() {
                (arg, Op::Eq)
            } else if let Some((field, op)) = arg.rsplit_once("__") {
                match (rtype.field(field), Op::parse(op)) {
                    (Some(_), Some(op)) => (field, op),
                    // Buildbot silently ignores an unknown operator or field with `__`.
                    _ => continue,
                }
            } else {
                return Err(ApiError::bad_argument(
                    arg,
                    format!("unrecognized query parameter '{arg}'"),
                ));
            };
            let notation = rtype.field(field).unwrap_or("string");
            let mut values = Vec::with_capacity(raw.len());
            for text in raw {
                values.push(parse_value(text, value_kind(notation)).ok_or_else(|| {
                    ApiError::bad_argument(arg, format!("invalid filter value for {arg}"))
                })?);
            }
            let op = match (op, values.len()) {
                (Op::Eq, n) if n > 1 => Op::In,
                (Op::Ne, n) if n > 1 => Op::NotIn,
                (Op::Lt | Op::Le | Op::Gt | Op::Ge, n) if n > 1 => {
                    return Err(ApiError::bad_argument(
                        arg,
                        format!("invalid filter value for {arg}"),
                    ));
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
            let selected: HashSet<&str> = fields.iter().map(String::as_str).collect();
            if let Some(order) = &spec.order {
                if order
                    .iter()
                    .any(|k| !selected.contains(k.trim_start_matches('-')))
                {
                    return Err(ApiError::bad_argument(
                        "order",
                        "cannot order on un-selected fields",
                    ));
                }
            }
            if spec
                .filters
                .iter()
                .any(|f| !selected.contains(f.field.as_str()))
            {
                return Err(ApiError::bad_argument(
                    "field",
                    "cannot filter on un-selected fields",
                ));
            }
        }
        Ok(spec)
    }

    /// Takes out a boolean filter that an endpoint answers itself, as Buildbot's
    /// `popBooleanFilter` does: `field=v` (or `field__eq=v`) gives `v`, `field__ne=v` gives
    /// `!v`; a filter on `field` with several values is taken out too and gives nothing, so
    /// that it no longer filters (Buildbot's answer to `active=1&active=0`).
    pub fn pop_boolean_filter(&mut self, field: &str) -> Option<bool> {
        let mut take = |ops: [Op; 2]| {
            let i = self.filters.iter().position(|f| {
                f.field == field && (f.op == ops[0] || (f.op == ops[1] && f.values.len() > 1))
            })?;
            let values = self.filters.remove(i).values;
            match values.as_slice() {
                [Value::Bool(b)] => Some(Some(*b)),
                _ => Some(None),
            }
        };
        if let Some(Some(b)) = take([Op::Eq, Op::In]) {
            return Some(b);
        }
        take([Op::Ne, Op::NotIn]).flatten().map(|b| !b)
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

    /// The effective limit: the requested one, else the default, never above the ceiling; a
    /// negative `limit` (Buildbot's "no limit", `-1`) asks for the ceiling.
    pub fn effective_limit(&self, paging: Paging) -> usize {
        let limit = match self.limit {
            None => paging.default_limit,
            Some(n) => u64::try_from(n).map_or(paging.max_limit, |n| n.min(paging.max_limit)),
        };
        usize::try_from(limit).unwrap_or(usize::MAX)
    }

    /// The effective offset (a negative one is 0, as SQL takes it).
    pub fn effective_offset(&self) -> usize {
        usize::try_from(self.offset.unwrap_or(0)).unwrap_or(0)
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
                    py_str(f.op.as_str()),
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
        ValueKind::Boolean => string2boolean(text).map(Value::Bool),
        ValueKind::Text => Some(Value::String(text.to_string())),
    }
}

/// Buildbot's `string2boolean`: `on`, `true`, `yes`, `1` and `off`, `false`, `no`, `0`, in any
/// case and nothing else (no spaces): Buildbot's lookup fails on any other text, which makes a
/// filter value invalid.
pub fn string2boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
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

/// Python's `str()` of a decoded JSON value (a string as it is, anything else its repr).
pub fn py_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_value(other),
    }
}

/// Python's repr of a JSON scalar or container.
pub fn py_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => crate::jsonfmt::python_float_repr(f),
            _ => n.to_string(),
        },
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

/// A paging argument (spaces around allowed): `None` when it is not an integer that fits in
/// 64 bits.
fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// [`query_args`] of a client's query string, refused (Buildbot's 400 error) with more than
/// `max` arguments before any is decoded.
pub fn query_args_at_most(query: &str, max: usize) -> Result<Vec<(String, String)>, ApiError> {
    let count = query.split('&').filter(|s| !s.is_empty()).count();
    if count > max {
        return Err(ApiError::bad_request(format!(
            "too many query arguments: {count}, at most {max}"
        )));
    }
    Ok(query_args(query))
}

/// Query arguments in request order, percent-decoded (`+` is a space; bytes that are not
/// UTF-8 become U+FFFD), as `application/x-www-form-urlencoded` reads them.
pub fn query_args(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
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
    fn a_bad_argument_is_named_apart_from_the_message() {
        let argument = |q: &str| ResultSpec::parse(&args(q), &BUILD).unwrap_err().argument;
        assert_eq!(argument("limit=abc").as_deref(), Some("limit"));
        assert_eq!(argument("offset=x").as_deref(), Some("offset"));
        assert_eq!(argument("field=nmae").as_deref(), Some("nmae"));
        assert_eq!(
            argument("builderid__gt=x").as_deref(),
            Some("builderid__gt")
        );
        assert_eq!(argument("x=1").as_deref(), Some("x"));
        assert_eq!(
            argument("field=number&order=-buildid").as_deref(),
            Some("order")
        );
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
    fn parsing_is_linear_in_the_number_of_arguments() {
        // 100 000 distinct names and 100 000 repeats of a few: a quadratic parser compares
        // billions of strings here (minutes), a linear one hashes 200 000 (milliseconds).
        let mut args: Vec<(String, String)> = (0..100_000)
            .map(|i| (format!("x{i}__eq"), "1".to_owned()))
            .collect();
        for _ in 0..50_000 {
            args.push(("field".into(), "buildid".into()));
            args.push(("order".into(), "-buildid".into()));
        }
        let start = std::time::Instant::now();
        let spec = ResultSpec::parse(&args, &BUILD).unwrap();
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(spec.fields, Some(vec!["buildid".to_owned()]));
        assert_eq!(spec.order, Some(vec!["-buildid".to_owned()]));
        assert!(spec.filters.is_empty());
    }

    #[test]
    fn limit_is_bounded_and_negative_asks_for_the_ceiling() {
        let paging = Paging {
            default_limit: 5,
            max_limit: 10,
        };
        let limit = |q: &str| {
            ResultSpec::parse(&args(q), &BUILD)
                .unwrap()
                .effective_limit(paging)
        };
        assert_eq!(limit(""), 5);
        assert_eq!(limit("limit=7"), 7);
        assert_eq!(limit("limit=11"), 10);
        assert_eq!(limit("limit=-1"), 10);
        assert_eq!(limit("limit=-9223372036854775808"), 10);
        assert_eq!(limit("limit=0"), 0);
        assert_eq!(err("limit=9223372036854775808"), "invalid limit");
        assert_eq!(err("offset=9223372036854775808"), "invalid offset");
        let offset = |q: &str| {
            ResultSpec::parse(&args(q), &BUILD)
                .unwrap()
                .effective_offset()
        };
        assert_eq!(offset("offset=-4"), 0);
        assert_eq!(offset("offset=9223372036854775807"), i64::MAX as usize);
        assert_eq!(query_args_at_most("a=1&&b=2&", 2).map(|a| a.len()), Ok(2));
        assert_eq!(
            query_args_at_most("a=1&b=2&c", 2).unwrap_err().message,
            "too many query arguments: 3, at most 2"
        );
    }

    #[test]
    fn boolean_filters_pop_like_buildbot() {
        use crate::data::types::PROJECT;
        let pop = |q: &str| {
            let mut spec = ResultSpec::parse(&args(q), &PROJECT).unwrap();
            let value = spec.pop_boolean_filter("active");
            (value, spec.filters.len())
        };
        assert_eq!(pop("active=true"), (Some(true), 0));
        assert_eq!(pop("active__eq=no"), (Some(false), 0));
        assert_eq!(pop("active__ne=true"), (Some(false), 0));
        assert_eq!(pop("active=1&active=0"), (None, 0));
        assert_eq!(pop("active=1&active=0&active__ne=1"), (Some(false), 0));
        assert_eq!(pop("active__in=true"), (None, 1));
        assert_eq!(pop("name=x"), (None, 1));
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
