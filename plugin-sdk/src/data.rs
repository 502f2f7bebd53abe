//! Reads of Buildbot's Data API, with the rights of the user whose request is being handled.
//!
//! Paths are those of `/api/v2/` without that prefix (`builders`, `builders/3/builds`,
//! `builds/12/steps`); queries use Buildbot's query language, built with [`Query`]. Every
//! answer is `{"<collection>": [...], "meta": {...}}`, as REST answers it.
//!
//! ```no_run
//! use buildbot_plugin_sdk::data::{self, Query};
//! use buildbot_plugin_sdk::models::Build;
//!
//! // the last five failed builds of builder 3
//! let builds: Vec<Build> = data::list(
//!     "builders/3/builds",
//!     &Query::new().eq("results", 2).order("-number").limit(5),
//! )?;
//! # Ok::<(), buildbot_plugin_sdk::DataError>(())
//! ```
//!
//! Outside a server (native `cargo test`), reads go to [`crate::testing`].

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A failed Data API read: the HTTP status `/api/v2` would answer, its message, and the query
/// argument at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// HTTP status (404 for an unknown path, 400 for a bad query, 403 when not allowed, 429
    /// when the call's data budget is spent, 503 when the server has no database, ...).
    pub code: u16,
    /// Buildbot's message.
    pub message: String,
    /// The query argument or field at fault (`limit`, `builderid__gt`, a misspelt field name),
    /// when the server can name it.
    pub argument: Option<String>,
}

impl DataError {
    /// An error with a status and a message.
    pub fn new(code: u16, message: impl Into<String>) -> DataError {
        DataError {
            code,
            message: message.into(),
            argument: None,
        }
    }

    /// The same error naming the argument at fault.
    pub fn with_argument(mut self, argument: impl Into<String>) -> DataError {
        self.argument = Some(argument.into());
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "data api error {}: {}", self.code, self.message)?;
        if let Some(argument) = &self.argument {
            // Unless the message already ends with it or quotes it.
            let named = self.message.ends_with(&format!(" {argument}"))
                || self.message.contains(&format!("'{argument}'"));
            if !named {
                write!(f, " (argument '{argument}')")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}

/// A filter operator of Buildbot's query language (`<field>__<op>=<value>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `eq`: equal (several values: any of them).
    Eq,
    /// `ne`: not equal (several values: none of them).
    Ne,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `contains`: substring of a string field, or item of a list field.
    Contains,
    /// `in`: one of the values (repeat the parameter).
    In,
    /// `notin`: none of the values.
    NotIn,
}

impl Op {
    /// Every operator of the query language: the list the server's query parser reads too.
    pub const ALL: [Op; 9] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::Contains,
        Op::In,
        Op::NotIn,
    ];

    /// The operator with this name in the query language (`gt`, `notin`), if there is one.
    ///
    /// ```
    /// use buildbot_plugin_sdk::data::Op;
    ///
    /// assert_eq!(Op::parse("notin"), Some(Op::NotIn));
    /// assert_eq!(Op::parse("like"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The operator's name in the query language.
    pub fn as_str(self) -> &'static str {
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

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Query`] leaves unescaped in names and values: RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query parameter's name or value as [`Query`] writes it: everything but
/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`), as UTF-8.
///
/// ```
/// use buildbot_plugin_sdk::data::encode_query_value;
///
/// assert_eq!(encode_query_value("a b&c=d/é~-._+"), "a%20b%26c%3Dd%2F%C3%A9~-._%2B");
/// ```
pub fn encode_query_value(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// A query in Buildbot's query language: filters, `order`, `limit`, `offset`, `field` and
/// `property`, in the order they were added. [`Display`](fmt::Display) renders it as a
/// percent-encoded query string (without `?`).
///
/// Values are rendered with `Display`; booleans become `true`/`false`, which Buildbot accepts.
/// The server refuses a filter or an order on a field a `field` selection leaves out: select
/// every field the query filters or orders on, as here.
///
/// ```
/// use buildbot_plugin_sdk::data::{Op, Query};
///
/// let query = Query::new()
///     .eq("complete", true)
///     .filter("number", Op::Gt, 10)
///     .any_of("results", [2, 4])
///     .contains("state_string", "a b&c")
///     .fields(["buildid", "complete", "number", "results", "state_string"])
///     .order("-number")
///     .limit(20)
///     .offset(40);
/// assert_eq!(
///     query.to_string(),
///     "complete=true&number__gt=10&results__in=2&results__in=4&state_string__contains=a%20b%26c\
///      &field=buildid&field=complete&field=number&field=results&field=state_string&order=-number\
///      &limit=20&offset=40"
/// );
/// assert_eq!(Query::new().to_string(), "");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    /// An empty query: the whole collection, in the server's default order and limit.
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds a raw parameter `name=value` (encoded when rendered).
    pub fn param(mut self, name: impl Into<String>, value: impl fmt::Display) -> Query {
        self.params.push((name.into(), value.to_string()));
        self
    }

    /// Adds the filter `<field>__<op>=<value>`.
    pub fn filter(self, field: &str, op: Op, value: impl fmt::Display) -> Query {
        self.param(format!("{field}__{op}"), value)
    }

    /// Adds the plain equality filter `<field>=<value>` (repeated, it means "any of").
    pub fn eq(self, field: &str, value: impl fmt::Display) -> Query {
        self.param(field, value)
    }

    /// Adds `<field>__ne=<value>`.
    pub fn ne(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Ne, value)
    }

    /// Adds `<field>__lt=<value>`.
    pub fn lt(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Lt, value)
    }

    /// Adds `<field>__le=<value>`.
    pub fn le(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Le, value)
    }

    /// Adds `<field>__gt=<value>`.
    pub fn gt(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Gt, value)
    }

    /// Adds `<field>__ge=<value>`.
    pub fn ge(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Ge, value)
    }

    /// Adds `<field>__contains=<value>`: substring of a string field, item of a list field.
    pub fn contains(self, field: &str, value: impl fmt::Display) -> Query {
        self.filter(field, Op::Contains, value)
    }

    /// Adds `<field>__in=<v>` for every value: the field equals one of them.
    pub fn any_of<V: fmt::Display>(
        mut self,
        field: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Query {
        for value in values {
            self = self.filter(field, Op::In, value);
        }
        self
    }

    /// Adds `<field>__notin=<v>` for every value: the field equals none of them.
    pub fn none_of<V: fmt::Display>(
        mut self,
        field: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Query {
        for value in values {
            self = self.filter(field, Op::NotIn, value);
        }
        self
    }

    /// Adds a sort key: `order=number`, or `order=-number` for descending; call again for
    /// further keys.
    pub fn order(self, key: &str) -> Query {
        self.param("order", key)
    }

    /// At most `limit` items (`-1`: no limit; without it the server's default limit applies).
    pub fn limit(self, limit: i64) -> Query {
        self.param("limit", limit)
    }

    /// Skips the first `offset` items.
    pub fn offset(self, offset: u64) -> Query {
        self.param("offset", offset)
    }

    /// Returns only this field (call again or use [`Query::fields`] for more). Models
    /// deserialize from partial items: missing fields get their defaults.
    pub fn field(self, name: &str) -> Query {
        self.param("field", name)
    }

    /// Returns only these fields.
    pub fn fields<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Query {
        for name in names {
            self = self.field(name);
        }
        self
    }

    /// Includes build property `name` in `properties` (`*` for all of them).
    pub fn property(self, name: &str) -> Query {
        self.param("property", name)
    }

    /// The parameters, unencoded, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// Whether no parameter was added.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, (name, value)) in self.params.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode_query_value(name));
            out.push('=');
            out.push_str(&encode_query_value(value));
        }
        f.write_str(&out)
    }
}

/// Reads `path` with `query` and returns the JSON answer as it is:
/// `{"<collection>": [...], "meta": {...}}`.
///
/// A leading `/` and an `api/v2/` prefix on `path` are ignored.
pub fn get(path: &str, query: &Query) -> Result<Value, DataError> {
    let path = normalize(path);
    let text = get_text(path, query)?;
    serde_json::from_str(&text)
        .map_err(|e| DataError::new(500, format!("the answer for {path} is not valid JSON: {e}")))
}

/// Reads `path` with `query` and returns the answer's text unparsed: the JSON text, or the log
/// text for `logs/<id>/raw` and `logs/<id>/raw_inline`.
pub fn get_text(path: &str, query: &Query) -> Result<String, DataError> {
    crate::guest::data_get(normalize(path), &query.to_string())
}

/// Reads a collection at `path` and deserializes its items as `T`.
///
/// ```
/// # use buildbot_plugin_sdk::{data::{self, Query}, models::Builder, testing};
/// testing::set_data(|path, query| {
///     assert_eq!((path, query), ("builders", "field=name"));
///     Ok(r#"{"builders": [{"name": "docs"}], "meta": {"total": 1}}"#.into())
/// });
/// let builders: Vec<Builder> = data::list("builders", &Query::new().field("name"))?;
/// assert_eq!(builders[0].name, "docs");
/// # Ok::<(), data::DataError>(())
/// ```
pub fn list<T: DeserializeOwned>(path: &str, query: &Query) -> Result<Vec<T>, DataError> {
    let path = normalize(path);
    let answer = get(path, query)?;
    let items = collection(path, answer)?;
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item)
                .map_err(|e| DataError::new(500, format!("cannot decode an item of {path}: {e}")))
        })
        .collect()
}

/// Reads one resource (e.g. `builds/12`, `builders/3`); an empty answer is a 404 error.
pub fn one<T: DeserializeOwned>(path: &str, query: &Query) -> Result<T, DataError> {
    first(path, query)?
        .ok_or_else(|| DataError::new(404, format!("nothing at {}", normalize(path))))
}

/// The first item of a collection, `None` when it is empty; e.g. the last build of a builder
/// with `Query::new().order("-number").limit(1)`.
pub fn first<T: DeserializeOwned>(path: &str, query: &Query) -> Result<Option<T>, DataError> {
    Ok(list(path, query)?.into_iter().next())
}

/// The items of an answer: the array under its first key that is not `meta`.
fn collection(path: &str, answer: Value) -> Result<Vec<Value>, DataError> {
    let Value::Object(map) = answer else {
        return Err(DataError::new(
            500,
            format!("the answer for {path} is not a JSON object"),
        ));
    };
    match map.into_iter().find(|(key, _)| key != "meta") {
        Some((_, Value::Array(items))) => Ok(items),
        Some((key, _)) => Err(DataError::new(
            500,
            format!("'{key}' in the answer for {path} is not a list"),
        )),
        None => Err(DataError::new(
            500,
            format!("the answer for {path} has no collection"),
        )),
    }
}

fn normalize(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    path.strip_prefix("api/v2/").unwrap_or(path)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::models::{Build, Builder};
    use crate::testing;

    #[test]
    fn renders_every_operator() {
        let query = Op::ALL
            .iter()
            .fold(Query::new(), |q, &op| q.filter("f", op, 1));
        for op in Op::ALL {
            assert_eq!(Op::parse(op.as_str()), Some(op));
        }
        assert_eq!(Op::parse("Eq"), None);
        assert_eq!(
            query.to_string(),
            "f__eq=1&f__ne=1&f__lt=1&f__le=1&f__gt=1&f__ge=1&f__contains=1&f__in=1&f__notin=1"
        );
        let query = Query::new()
            .ne("a", 1)
            .lt("b", 2)
            .le("c", 3)
            .gt("d", 4)
            .ge("e", 5)
            .none_of("results", [0, 2])
            .property("*")
            .limit(-1)
            .param("weird key", "100%");
        assert_eq!(
            query.to_string(),
            "a__ne=1&b__lt=2&c__le=3&d__gt=4&e__ge=5&results__notin=0&results__notin=2\
             &property=%2A&limit=-1&weird%20key=100%25"
        );
        assert_eq!(query.params()[0], ("a__ne".to_string(), "1".to_string()));
        assert!(Query::new().is_empty());
    }

    #[test]
    fn encoded_values_round_trip_through_request_parsing() {
        let query = Query::new().eq("branch", "feature/ü & co=1+2").to_string();
        let request = crate::Request::get("/").with_query(query);
        assert_eq!(
            request.query_param("branch").as_deref(),
            Some("feature/ü & co=1+2")
        );
    }

    #[test]
    fn list_one_first_and_errors() {
        testing::set_data(|path, query| match (path, query) {
            ("builders", "") => Ok(r#"{"meta": {"total": 2}, "builders": [
                {"builderid": 1, "name": "a", "description": null, "tags": ["x"]},
                {"builderid": 2, "name": "b", "masterids": [1]}]}"#
                .into()),
            ("builds/5", "") => Ok(
                r#"{"builds": [{"buildid": 5, "number": 1, "results": null}], "meta": {}}"#.into(),
            ),
            ("builds/6", "") => Ok(r#"{"builds": [], "meta": {}}"#.into()),
            ("bad", _) => Ok("{".into()),
            ("notalist", _) => Ok(r#"{"meta": {}, "x": 1}"#.into()),
            ("wrongtype", _) => Ok(r#"{"builds": [{"buildid": "five"}]}"#.into()),
            _ => Err(DataError::new(404, format!("no such path {path}"))),
        });
        let builders: Vec<Builder> = list("/api/v2/builders", &Query::new()).unwrap();
        assert_eq!(builders.len(), 2);
        assert_eq!(builders[0].tags, ["x"]);
        assert_eq!(builders[1].masterids, [1]);
        let build: Build = one("builds/5", &Query::new()).unwrap();
        assert_eq!((build.buildid, build.results), (5, None));
        assert_eq!(first::<Build>("builds/6", &Query::new()).unwrap(), None);
        assert_eq!(get_text("/bad", &Query::new()).unwrap(), "{");
        assert_eq!(
            one::<Build>("builds/6", &Query::new()).unwrap_err().code,
            404
        );
        let error = get("no/such/path", &Query::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "data api error 404: no such path no/such/path"
        );
        assert!(get("bad", &Query::new())
            .unwrap_err()
            .message
            .contains("not valid JSON"));
        assert!(list::<Build>("notalist", &Query::new())
            .unwrap_err()
            .message
            .contains("'x' in the answer for notalist is not a list"));
        assert!(list::<Build>("wrongtype", &Query::new())
            .unwrap_err()
            .message
            .starts_with("cannot decode an item of wrongtype"));
        testing::clear_data();
        assert_eq!(get("builders", &Query::new()).unwrap_err().code, 503);
    }
}
