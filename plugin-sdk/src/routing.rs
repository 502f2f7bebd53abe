//! Answers that fail ([`Error`], what `?` turns a [`DataError`](crate::DataError) into) and
//! routing by method and path ([`Routes`], [`Params`]).

use std::fmt;
use std::str::FromStr;

use crate::{Request, Response};

/// Why a request could not be answered normally; [`Plugin::handle`](crate::Plugin::handle)
/// returns it and the SDK turns it into an answer with its status and message as text.
///
/// `?` converts a [`DataError`](crate::DataError) (its status: 400 for a bad query, 404, 429 ...;
/// the message names the argument at fault when the server does).
///
/// ```
/// use buildbot_plugin_sdk::{DataError, Error, Response};
///
/// let error = DataError::new(400, "cannot order on un-selected fields").with_argument("order");
/// let answer = Response::from(Error::from(error));
/// assert_eq!(answer.status, 400);
/// assert_eq!(
///     answer.body_text(),
///     Some("data api error 400: cannot order on un-selected fields (argument 'order')")
/// );
/// assert_eq!(Response::from(Error::not_found("no such builder")).status, 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The HTTP status of the answer.
    pub status: u16,
    /// The text of the answer.
    pub message: String,
}

impl Error {
    /// An error answered with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed (a bad query parameter).
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(400, message)
    }

    /// 404: nothing here.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(404, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::DataError> for Error {
    fn from(error: crate::DataError) -> Error {
        Error::new(error.code, error.to_string())
    }
}

impl From<Error> for Response {
    fn from(error: Error) -> Response {
        Response::error(error.status, error.message)
    }
}

/// What a route's handler gets besides the request: the values of the pattern's `{name}`
/// segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: Vec<(&'static str, String)>,
}

impl Params {
    /// The text of segment `{name}`, if the pattern has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Segment `{name}` parsed, or a 404 naming it: a path that does not parse leads nowhere.
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        let text = self.get(name).unwrap_or_default();
        text.parse()
            .map_err(|_| Error::not_found(format!("not a valid {name}: {text:?}")))
    }
}

/// A route's handler: a method of the plugin, or any function of this shape.
pub type Handler<P> = fn(&mut P, &Request, &Params) -> Result<Response, Error>;

/// Requests dispatched to handlers by method and path.
///
/// A pattern is a path below the plugin's mount: literal segments and `{name}` segments that
/// take one segment's text (read it with [`Params::get`] or [`Params::parse`]). Routes are
/// tried in the order they were added. A path no route matches is answered 404; a path that
/// matches only with other methods, 405 with an `Allow` header. [`get`](Routes::get) routes
/// answer `HEAD` too.
///
/// ```
/// use buildbot_plugin_sdk::prelude::*;
///
/// struct Counter {
///     hits: u64,
/// }
///
/// impl Counter {
///     fn index(&mut self, _: &Request, _: &Params) -> Result<Response, Error> {
///         self.hits += 1;
///         Ok(Response::text(format!("hit {}", self.hits)))
///     }
///
///     fn builder(&mut self, _: &Request, params: &Params) -> Result<Response, Error> {
///         let id: u32 = params.parse("id")?;
///         Ok(Response::text(format!("builder {id}")))
///     }
/// }
///
/// let routes = Routes::new()
///     .get("/", Counter::index)
///     .get("/builders/{id}", Counter::builder);
/// let mut counter = Counter { hits: 0 };
/// let answer = |counter: &mut Counter, request| {
///     routes.dispatch(counter, &request).unwrap_or_else(Response::from)
/// };
/// assert_eq!(answer(&mut counter, Request::get("/")).body_text(), Some("hit 1"));
/// assert_eq!(answer(&mut counter, Request::get("/builders/7")).body_text(), Some("builder 7"));
/// assert_eq!(answer(&mut counter, Request::get("/builders/x")).status, 404);
/// assert_eq!(answer(&mut counter, Request::get("/nope")).status, 404);
/// let post = answer(&mut counter, Request::new("POST", "/"));
/// assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD")));
/// ```
pub struct Routes<P> {
    routes: Vec<Route<P>>,
}

struct Route<P> {
    method: &'static str,
    segments: Vec<&'static str>,
    handler: Handler<P>,
}

impl<P> fmt::Debug for Routes<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.routes
                    .iter()
                    .map(|r| format!("{} /{}", r.method, r.segments.join("/"))),
            )
            .finish()
    }
}

impl<P> Default for Routes<P> {
    fn default() -> Self {
        Routes { routes: Vec::new() }
    }
}

impl<P> Routes<P> {
    /// No routes: every request is answered 404.
    pub fn new() -> Routes<P> {
        Routes::default()
    }

    /// `GET` (and `HEAD`) requests for `pattern` go to `handler`.
    pub fn get(self, pattern: &'static str, handler: Handler<P>) -> Routes<P> {
        self.route("GET", pattern, handler)
    }

    /// `POST` requests for `pattern` go to `handler`.
    pub fn post(self, pattern: &'static str, handler: Handler<P>) -> Routes<P> {
        self.route("POST", pattern, handler)
    }

    /// Requests with `method` (upper case, e.g. `PUT`) for `pattern` go to `handler`.
    pub fn route(
        mut self,
        method: &'static str,
        pattern: &'static str,
        handler: Handler<P>,
    ) -> Routes<P> {
        self.routes.push(Route {
            method,
            segments: segments(pattern).collect(),
            handler,
        });
        self
    }

    /// Calls the handler of the first route matching the request's method and path.
    pub fn dispatch(&self, plugin: &mut P, request: &Request) -> Result<Response, Error> {
        let mut allowed: Vec<&str> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.matches(&request.path) else {
                continue;
            };
            let method = request.method.as_str();
            if method == route.method || (method == "HEAD" && route.method == "GET") {
                return (route.handler)(plugin, request, &params);
            }
            allowed.push(route.method);
            if route.method == "GET" {
                allowed.push("HEAD");
            }
        }
        if allowed.is_empty() {
            return Err(Error::not_found("not found"));
        }
        allowed.dedup();
        Ok(Response::error(405, "method not allowed").with_header("allow", allowed.join(", ")))
    }
}

impl<P> Route<P> {
    /// The pattern's parameters when `path` matches it.
    fn matches(&self, path: &str) -> Option<Params> {
        let mut params = Params::default();
        let mut parts = segments(path);
        for segment in &self.segments {
            let part = parts.next()?;
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => params.values.push((name, part.to_owned())),
                None if *segment == part => {}
                None => return None,
            }
        }
        parts.next().is_none().then_some(params)
    }
}

/// The non-empty segments of a path (`/a/b/` is `a`, `b`; `/` is none).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}
