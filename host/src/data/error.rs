//! The one error type of the Data API; the HTTP layer renders it as Buildbot's `{"error": ...}`.

/// A Data API failure: an HTTP status and Buildbot's message for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The message Buildbot would put in `{"error": ...}`.
    pub message: String,
    /// Whether the message describes an internal failure (hidden unless `debug` is on).
    pub internal: bool,
    /// The query argument at fault (`limit`, a field name, ...), for callers that report it
    /// apart from the message (plugins' data reads); `/api/v2` shows only the message.
    pub argument: Option<String>,
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            message: message.into(),
            internal: false,
            argument: None,
        }
    }

    /// 400 with a message, naming the query argument at fault.
    pub fn bad_argument(argument: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            argument: Some(argument.into()),
            ..Self::bad_request(message)
        }
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: 404,
            message: message.into(),
            internal: false,
            argument: None,
        }
    }

    /// 403: refused by the authorization rules (`you need to have role 'admins'`).
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: 403,
            message: message.into(),
            internal: false,
            argument: None,
        }
    }

    /// 404 `Invalid path: <path>`.
    pub fn invalid_path(path: &str) -> Self {
        Self::not_found(format!("Invalid path: {path}"))
    }

    /// 500 for a failure inside the server (database errors, corrupt data).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError {
            status: 500,
            message: detail.to_string(),
            internal: true,
            argument: None,
        }
    }
}

/// What a request that needs the database is answered (503) while it is out of reach.
pub const UNAVAILABLE: &str = "the database is unavailable; try again later";

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            // The database cannot be reached (down, restarting, out of connections): a 503
            // that says so, and the pool reconnects by itself when it is back.
            return ApiError {
                status: 503,
                message: UNAVAILABLE.to_owned(),
                internal: false,
                argument: None,
            };
        }
        ApiError::internal(format!("database error: {err}"))
    }
}

/// Whether `err` says the database is out of reach rather than that the query failed: no
/// connection, or PostgreSQL's "connection exception" (08) and "operator intervention" (57,
/// e.g. a server shutting down) classes.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    }
}

impl From<crate::db::logchunks::ChunkError> for ApiError {
    fn from(err: crate::db::logchunks::ChunkError) -> Self {
        ApiError::internal(err)
    }
}
