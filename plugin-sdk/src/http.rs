//! The request a plugin handles, the user who made it, and the response it answers.

use serde::Serialize;

/// The WIT record `user` of `buildbot:www@0.2.0`, with the SDK's methods:
pub use crate::guest::wit::User;

/// A user with every field empty (and `anonymous` false), what `..User::default()` fills in;
/// [`User::anonymous`] and [`User::named`] are the usual starting points.
impl Default for User {
    fn default() -> User {
        User {
            anonymous: false,
            username: String::new(),
            full_name: None,
            email: None,
            groups: Vec::new(),
            roles: Vec::new(),
        }
    }
}

impl User {
    /// Nobody logged in.
    pub fn anonymous() -> User {
        User {
            anonymous: true,
            ..User::default()
        }
    }

    /// A logged-in user with a login name and nothing else.
    pub fn named(username: impl Into<String>) -> User {
        User {
            anonymous: false,
            username: username.into(),
            ..User::default()
        }
    }

    /// The login name, `None` when anonymous.
    pub fn name(&self) -> Option<&str> {
        (!self.anonymous).then_some(self.username.as_str())
    }

    /// What to show: the full name, else the login name, else `anonymous`.
    ///
    /// ```
    /// # use buildbot_plugin_sdk::User;
    /// assert_eq!(User::anonymous().display_name(), "anonymous");
    /// assert_eq!(User::named("bob").display_name(), "bob");
    /// ```
    pub fn display_name(&self) -> &str {
        if self.anonymous {
            return "anonymous";
        }
        match self.full_name.as_deref() {
            Some(full) if !full.is_empty() => full,
            _ if self.username.is_empty() => "anonymous",
            _ => &self.username,
        }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// A request for a path below the plugin's mount point `/plugins/<name>/`.
///
/// ```
/// use buildbot_plugin_sdk::Request;
///
/// let request = Request::get("/builds")
///     .with_query("builder=linux%20build&limit=5&tag=a&tag=b")
///     .with_header("Accept", "text/html");
/// assert_eq!(request.query_param("builder").as_deref(), Some("linux build"));
/// assert_eq!(request.query_param_as::<u32>("limit"), Some(5));
/// assert_eq!(request.query_params_named("tag"), ["a", "b"]);
/// assert_eq!(request.header("accept"), Some("text/html"));
/// ```
///
/// The SDK's own type rather than the WIT record `request`: its headers are `(name, value)`
/// pairs, which plugins build and match on, where the record has a list of `header` records;
/// the component glue converts the headers once per request and moves every other field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ...
    pub method: String,
    /// The path below the mount, percent-decoded, always starting with `/` (`/` for the mount).
    pub path: String,
    /// The raw query string without the `?`, empty when there is none.
    pub query: String,
    /// Header names and values; names are lower case.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
    /// Who made the request.
    pub user: User,
    /// The relative URL of the server's root as seen from this request's page (e.g. `../../`);
    /// build links on it so they keep working behind a reverse proxy.
    pub root: String,
}

impl Request {
    /// A request with `method` for `path` by an anonymous user (for tests).
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            user: User::anonymous(),
            root: "../../".into(),
        }
    }

    /// A `GET` request for `path` by an anonymous user (for tests).
    pub fn get(path: impl Into<String>) -> Request {
        Request::new("GET", path)
    }

    /// The same request with this raw query string.
    pub fn with_query(mut self, query: impl Into<String>) -> Request {
        self.query = query.into();
        self
    }

    /// The same request with one more header (the name is stored lower case).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The same request made by `user`.
    pub fn with_user(mut self, user: User) -> Request {
        self.user = user;
        self
    }

    /// The same request with this body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All query parameters in order, percent-decoded (`+` is a space).
    pub fn query_params(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_query(&self.query)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Every value of query parameter `name` (for `?tag=a&tag=b`).
    pub fn query_params_named(&self, name: &str) -> Vec<String> {
        parse_query(&self.query)
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect()
    }

    /// The first value of query parameter `name` parsed as `T`; `None` when it is absent or
    /// does not parse.
    pub fn query_param_as<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.query_param(name)?.parse().ok()
    }

    /// The user who made the request.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The body as text, if it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON.
    pub fn body_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// What a plugin answers: status, headers and body.
///
/// ```
/// use buildbot_plugin_sdk::Response;
///
/// let page = Response::html("<p>hi</p>").with_header("Cache-Control", "no-cache");
/// assert_eq!(page.status, 200);
/// assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
///
/// let moved = Response::redirect("../builders");
/// assert_eq!((moved.status, moved.header("location")), (302, Some("../builders")));
/// assert_eq!(Response::not_found().status, 404);
/// ```
///
/// The SDK's own type rather than the WIT record `response`, for the same reason as
/// [`Request`]: headers as `(name, value)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// 200 with `body` and the given content type.
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(200)
            .with_header("content-type", content_type)
            .with_body(body)
    }

    /// 200 `text/html; charset=utf-8`. Escape what you interpolate with
    /// [`escape_html`](crate::escape_html).
    pub fn html(body: impl Into<String>) -> Response {
        Response::bytes("text/html; charset=utf-8", body.into())
    }

    /// 200 `image/svg+xml`.
    pub fn svg(body: impl Into<String>) -> Response {
        Response::bytes("image/svg+xml", body.into())
    }

    /// 200 `image/png`.
    pub fn png(body: impl Into<Vec<u8>>) -> Response {
        Response::bytes("image/png", body)
    }

    /// 200 `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<String>) -> Response {
        Response::bytes("text/plain; charset=utf-8", body.into())
    }

    /// 200 `application/json` with `value` serialized; 500 with the error text if it cannot be.
    ///
    /// ```
    /// # use buildbot_plugin_sdk::{Response, serde_json::json};
    /// let response = Response::json(&json!({"names": ["a", "b"]}));
    /// assert_eq!(response.body_text(), Some(r#"{"names":["a","b"]}"#));
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes("application/json", body),
            Err(e) => Response::error(500, format!("cannot serialize the response: {e}")),
        }
    }

    /// 302 to `location`. Relative locations are resolved against the request's URL; build
    /// them from [`Request::root`] to leave the plugin.
    pub fn redirect(location: impl Into<String>) -> Response {
        Response::new(302).with_header("location", location)
    }

    /// 404 with a short text body.
    pub fn not_found() -> Response {
        Response::error(404, "not found")
    }

    /// `status` with `message` as a plain-text body.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response::text(message).with_status(status)
    }

    /// The same response with another status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// The same response with header `name` set to `value`, replacing headers of that name
    /// (case-insensitive); see [`Response::add_header`] to repeat a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The same response with one more header `name`, keeping existing ones (`set-cookie`).
    pub fn add_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The same response with another body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as text, if it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

/// A failed data read answers with its status and message.
impl From<crate::DataError> for Response {
    fn from(error: crate::DataError) -> Response {
        Response::error(error.code, error.message)
    }
}

/// Splits a query string into decoded name/value pairs (`application/x-www-form-urlencoded`:
/// `+` is a space, malformed escapes stay as they are, invalid UTF-8 becomes U+FFFD); a
/// parameter without `=` has an empty value.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The value of the first header named `name` (case-insensitive).
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        let request = Request::get("/").with_query("a=1&b=x+y%20z&c&=e&a=2&d=%zz%4&u=%C3%A9&&");
        assert_eq!(
            request.query_params(),
            [
                ("a", "1"),
                ("b", "x y z"),
                ("c", ""),
                ("", "e"),
                ("a", "2"),
                ("d", "%zz%4"),
                ("u", "é")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(request.query_param("a").as_deref(), Some("1"));
        assert_eq!(request.query_params_named("a"), ["1", "2"]);
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(request.query_param_as::<u8>("b"), None);
        let odd = Request::get("/").with_query("x=%41%&y=%ff");
        assert_eq!(odd.query_param("x").as_deref(), Some("A%"));
        assert_eq!(odd.query_param("y").as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn headers_are_case_insensitive() {
        let request = Request::get("/").with_header("X-Thing", "1");
        assert_eq!(request.header("x-thing"), Some("1"));
        assert_eq!(request.header("X-THING"), Some("1"));
        let response = Response::text("t")
            .with_header("Content-Type", "text/csv")
            .add_header("Set-Cookie", "a=1")
            .add_header("set-cookie", "b=2");
        assert_eq!(response.header("CONTENT-TYPE"), Some("text/csv"));
        assert_eq!(
            response
                .headers
                .iter()
                .filter(|(n, _)| n == "set-cookie")
                .count(),
            2
        );
    }

    #[test]
    fn response_helpers() {
        let r = Response::png(vec![1, 2]);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some("image/png"))
        );
        let r = Response::svg("<svg/>");
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        let r = Response::from(crate::DataError::new(404, "no such builder"));
        assert_eq!((r.status, r.body_text()), (404, Some("no such builder")));
        let r = Response::new(204);
        assert!(r.body.is_empty() && r.headers.is_empty());
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1], 2);
        assert_eq!(Response::json(&map).status, 500, "non-string keys");
    }

    #[test]
    fn user_names() {
        let mut user = User::named("bob");
        assert_eq!(user.name(), Some("bob"));
        user.full_name = Some("Bob B".into());
        user.groups = vec!["admins".into()];
        assert_eq!(user.display_name(), "Bob B");
        assert!(user.in_group("admins") && !user.in_group("x"));
        assert_eq!(User::anonymous().name(), None);
    }
}
