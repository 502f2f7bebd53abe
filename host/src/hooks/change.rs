//! What a dialect makes of a delivery: Buildbot's change dictionaries, before the database
//! fills in its defaults (an author of `None` is stored as `""`, a missing `when_timestamp`
//! becomes the time the delivery arrived).

use serde_json::{Map, Value};

/// One change, with the fields `addChange` takes. `None` is Python's `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// `author` (`None` is stored as `""`).
    pub author: Option<String>,
    /// `committer` (nullable in the database).
    pub committer: Option<String>,
    /// `files`, in the order given.
    pub files: Vec<String>,
    /// `comments` (`None` is stored as `""`).
    pub comments: Option<String>,
    /// `revision`.
    pub revision: Option<String>,
    /// `when_timestamp`, seconds since the epoch (`None`: the delivery's arrival time).
    pub when_timestamp: Option<i64>,
    /// `branch`.
    pub branch: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// `revlink`.
    pub revlink: Option<String>,
    /// `properties`: name to value; the store adds the source `"Change"` to each.
    pub properties: Map<String, Value>,
    /// `repository` (`""` when the payload has none).
    pub repository: String,
    /// `project` (`""` when the payload has none).
    pub project: String,
    /// `codebase` (`None` is stored as `""`).
    pub codebase: Option<String>,
}

/// What a dialect returns for an accepted delivery: its changes (maybe none) and the version
/// control system they come from (`git`, ...), which Buildbot uses to link each author to a
/// user record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// The changes, in the order they are written.
    pub changes: Vec<Change>,
    /// `src`: `Some("git")` for the forge dialects, `None` for `base`.
    pub src: Option<&'static str>,
}
