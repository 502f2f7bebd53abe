//! Typed items of Buildbot 4.3's Data API resources, as `/api/v2` answers them.
//!
//! Field names and types follow Buildbot's resource types. Every field has a default, so items
//! read with a `field=` selection (only some keys present) still deserialize; fields that
//! Buildbot sends as `null` are `Option`s (for lists and strings a `null` becomes empty).
//! Unknown keys are ignored. Times are seconds since the Unix epoch.
//!
//! ```
//! use buildbot_plugin_sdk::models::Build;
//! use buildbot_plugin_sdk::BuildResult;
//!
//! let build: Build = buildbot_plugin_sdk::serde_json::from_str(
//!     r#"{"buildid": 7, "number": 3, "results": 2, "complete": true,
//!         "properties": {"owner": ["alice", "Force Build Form"]}}"#,
//! ).unwrap();
//! assert_eq!(build.result(), Some(BuildResult::Failure));
//! assert_eq!(build.properties.get_str("owner"), Some("alice"));
//! assert_eq!(build.state_string, "");
//! ```

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::BuildResult;

/// Deserializes `null` as the type's default.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A builder (`builders`, `builders/<id or name>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Builder {
    /// Database id.
    pub builderid: i64,
    /// Name, unique.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Description in `description_format` (plain text when that is `None`).
    pub description: Option<String>,
    /// Format of the description (`markdown`), if any.
    pub description_format: Option<String>,
    /// The description rendered as HTML, when it has a format.
    pub description_html: Option<String>,
    /// Masters the builder is configured on.
    #[serde(deserialize_with = "null_default")]
    pub masterids: Vec<i64>,
    /// Project, if any.
    pub projectid: Option<i64>,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

/// A build (`builds`, `builders/<b>/builds/<number>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Build {
    /// Database id.
    pub buildid: i64,
    /// Number within its builder.
    pub number: i64,
    /// The builder.
    pub builderid: i64,
    /// The build request it fulfils.
    pub buildrequestid: i64,
    /// The worker it runs on.
    pub workerid: i64,
    /// The master that runs it.
    pub masterid: i64,
    /// Start time.
    pub started_at: i64,
    /// Whether it has finished.
    pub complete: bool,
    /// End time, once complete.
    pub complete_at: Option<i64>,
    /// Seconds spent waiting for locks.
    pub locks_duration_s: i64,
    /// Result code, `None` while running; see [`Build::result`].
    pub results: Option<i64>,
    /// Short status text (`build successful`, `failed test`).
    #[serde(deserialize_with = "null_default")]
    pub state_string: String,
    /// Properties requested with `property=` (empty otherwise).
    #[serde(deserialize_with = "null_default")]
    pub properties: Properties,
}

impl Build {
    /// The result, `None` while running or for an unknown code.
    pub fn result(&self) -> Option<BuildResult> {
        self.results.and_then(BuildResult::from_code)
    }
}

/// A step of a build (`builds/<id>/steps`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    /// Database id.
    pub stepid: i64,
    /// Position within the build, from 0.
    pub number: i64,
    /// Name, unique within the build.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The build.
    pub buildid: i64,
    /// Start time, once started.
    pub started_at: Option<i64>,
    /// When its locks were acquired.
    pub locks_acquired_at: Option<i64>,
    /// Whether it has finished.
    pub complete: bool,
    /// End time, once complete.
    pub complete_at: Option<i64>,
    /// Result code, `None` while running.
    pub results: Option<i64>,
    /// Short status text.
    #[serde(deserialize_with = "null_default")]
    pub state_string: String,
    /// Links the step published.
    #[serde(deserialize_with = "null_default")]
    pub urls: Vec<StepUrl>,
    /// Whether the UI hides it.
    pub hidden: bool,
}

impl Step {
    /// The result, `None` while running or for an unknown code.
    pub fn result(&self) -> Option<BuildResult> {
        self.results.and_then(BuildResult::from_code)
    }
}

/// A link published by a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepUrl {
    /// Link text.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Target.
    #[serde(deserialize_with = "null_default")]
    pub url: String,
}

/// A log of a step (`steps/<id>/logs`, `logs/<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Log {
    /// Database id.
    pub logid: i64,
    /// Name (`stdio`).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Name usable in paths.
    #[serde(deserialize_with = "null_default")]
    pub slug: String,
    /// The step.
    pub stepid: i64,
    /// Whether it is finished.
    pub complete: bool,
    /// Number of lines.
    pub num_lines: i64,
    /// `s` (stdio: each line starts with a stream letter `o`, `e` or `h`), `t` (text) or `h`
    /// (HTML).
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub log_type: String,
}

/// A run of lines of a log (`logs/<id>/contents`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogChunk {
    /// The log.
    pub logid: i64,
    /// Number of the first line, from 0.
    pub firstline: i64,
    /// The lines, each ending with `\n`.
    #[serde(deserialize_with = "null_default")]
    pub content: String,
}

/// A change (`changes`, `changes/<id>`, `builds/<id>/changes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Change {
    /// Database id.
    pub changeid: i64,
    /// Parent changes.
    #[serde(deserialize_with = "null_default")]
    pub parent_changeids: Vec<i64>,
    /// Author (`Name <email>`).
    #[serde(deserialize_with = "null_default")]
    pub author: String,
    /// Committer, if known.
    pub committer: Option<String>,
    /// Changed files.
    #[serde(deserialize_with = "null_default")]
    pub files: Vec<String>,
    /// Commit message.
    #[serde(deserialize_with = "null_default")]
    pub comments: String,
    /// Revision, if known.
    pub revision: Option<String>,
    /// When the change was made.
    pub when_timestamp: i64,
    /// Branch, if any.
    pub branch: Option<String>,
    /// Category, if any.
    pub category: Option<String>,
    /// Link to the revision, if any.
    pub revlink: Option<String>,
    /// Properties.
    #[serde(deserialize_with = "null_default")]
    pub properties: Properties,
    /// Repository.
    #[serde(deserialize_with = "null_default")]
    pub repository: String,
    /// Project.
    #[serde(deserialize_with = "null_default")]
    pub project: String,
    /// Codebase.
    #[serde(deserialize_with = "null_default")]
    pub codebase: String,
    /// The source stamp of the change.
    #[serde(deserialize_with = "null_default")]
    pub sourcestamp: SourceStamp,
}

/// A source stamp: what source a build used (`sourcestamps`, inside changes and buildsets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceStamp {
    /// Database id.
    pub ssid: i64,
    /// Revision, `None` for "latest".
    pub revision: Option<String>,
    /// Branch, if any.
    pub branch: Option<String>,
    /// Repository.
    #[serde(deserialize_with = "null_default")]
    pub repository: String,
    /// Project.
    #[serde(deserialize_with = "null_default")]
    pub project: String,
    /// Codebase.
    #[serde(deserialize_with = "null_default")]
    pub codebase: String,
    /// A patch applied on top, if any.
    pub patch: Option<Patch>,
    /// Creation time.
    pub created_at: i64,
}

/// A patch of a source stamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Patch {
    /// Database id.
    pub patchid: i64,
    /// The patch itself, as the API encodes binary data.
    pub body: Value,
    /// Strip level (`patch -p<level>`).
    pub level: i64,
    /// Directory it applies in.
    #[serde(deserialize_with = "null_default")]
    pub subdir: String,
    /// Author.
    #[serde(deserialize_with = "null_default")]
    pub author: String,
    /// Comment.
    #[serde(deserialize_with = "null_default")]
    pub comment: String,
}

/// A build request: a buildset's request for a build on one builder (`buildrequests`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildRequest {
    /// Database id.
    pub buildrequestid: i64,
    /// The buildset.
    pub buildsetid: i64,
    /// The builder.
    pub builderid: i64,
    /// Priority; higher goes first.
    pub priority: i64,
    /// Whether a master claimed it.
    pub claimed: bool,
    /// When it was claimed.
    pub claimed_at: Option<i64>,
    /// The master that claimed it.
    pub claimed_by_masterid: Option<i64>,
    /// Whether it is finished.
    pub complete: bool,
    /// Result code (`-1` or `None` while incomplete).
    pub results: Option<i64>,
    /// Submission time.
    pub submitted_at: i64,
    /// Completion time.
    pub complete_at: Option<i64>,
    /// Whether something waits for it.
    pub waited_for: bool,
    /// Properties, when requested.
    #[serde(deserialize_with = "null_default")]
    pub properties: Properties,
}

/// A buildset: a set of build requests submitted together (`buildsets`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildSet {
    /// Database id.
    pub bsid: i64,
    /// External id, if any.
    pub external_idstring: Option<String>,
    /// Why it was submitted.
    #[serde(deserialize_with = "null_default")]
    pub reason: String,
    /// The build this rebuilds, if any.
    pub rebuilt_buildid: Option<i64>,
    /// Submission time.
    pub submitted_at: i64,
    /// Whether every request finished.
    pub complete: bool,
    /// Completion time.
    pub complete_at: Option<i64>,
    /// Result code, once complete.
    pub results: Option<i64>,
    /// The source stamps.
    #[serde(deserialize_with = "null_default")]
    pub sourcestamps: Vec<SourceStamp>,
    /// The build that triggered it, if any.
    pub parent_buildid: Option<i64>,
    /// How it relates to its parent build.
    pub parent_relationship: Option<String>,
}

/// A worker (`workers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Worker {
    /// Database id.
    pub workerid: i64,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Masters it is connected to (empty when offline).
    #[serde(deserialize_with = "null_default")]
    pub connected_to: Vec<ConnectedTo>,
    /// Builders it is configured for, per master.
    #[serde(deserialize_with = "null_default")]
    pub configured_on: Vec<ConfiguredOn>,
    /// What the worker reported about itself (`host`, `admin`, `version`, ...).
    #[serde(deserialize_with = "null_default")]
    pub workerinfo: Map<String, Value>,
    /// Whether it is paused.
    pub paused: bool,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// Whether it is shutting down gracefully.
    pub graceful: bool,
}

impl Worker {
    /// Whether the worker is connected to some master.
    pub fn is_connected(&self) -> bool {
        !self.connected_to.is_empty()
    }
}

/// A master a worker is connected to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectedTo {
    /// The master.
    pub masterid: i64,
}

/// A builder a worker is configured for on a master.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfiguredOn {
    /// The master.
    pub masterid: i64,
    /// The builder.
    pub builderid: i64,
}

/// A master (`masters`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Master {
    /// Database id.
    pub masterid: i64,
    /// Name (`host:basedir`).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Whether it is running.
    pub active: bool,
    /// Last time it checked in.
    pub last_active: i64,
}

/// A project grouping builders (`projects`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// Database id.
    pub projectid: i64,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Name usable in URLs.
    #[serde(deserialize_with = "null_default")]
    pub slug: String,
    /// Whether it is active (Buildbot 4.3 sends `null`).
    pub active: Option<bool>,
    /// Description in `description_format`.
    pub description: Option<String>,
    /// Format of the description (`markdown`), if any.
    pub description_format: Option<String>,
    /// The description rendered as HTML.
    pub description_html: Option<String>,
}

/// Properties with their sources: `{"name": [value, "source"], ...}`.
///
/// ```
/// # use buildbot_plugin_sdk::{models::Properties, serde_json::{self, json}};
/// let properties: Properties = serde_json::from_value(json!({
///     "owners": [["alice"], "Build"], "buildnumber": [12, "Build"]
/// })).unwrap();
/// assert_eq!(properties.get("owners"), Some(&json!(["alice"])));
/// assert_eq!(properties.get("buildnumber").and_then(|v| v.as_i64()), Some(12));
/// assert_eq!(properties.source("buildnumber"), Some("Build"));
/// assert_eq!(properties.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Properties(pub Map<String, Value>);

impl Properties {
    /// The value of property `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.0.get(name)? {
            Value::Array(pair) => pair.first(),
            _ => None,
        }
    }

    /// The value of property `name` if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    /// Where property `name` came from (`Build`, `Force Build Form`, a scheduler, ...).
    pub fn source(&self, name: &str) -> Option<&str> {
        match self.0.get(name)? {
            Value::Array(pair) => pair.get(1)?.as_str(),
            _ => None,
        }
    }

    /// Names, values and sources.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&Value>, Option<&str>)> + '_ {
        self.0
            .keys()
            .map(|name| (name.as_str(), self.get(name), self.source(name)))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_null_items_deserialize() {
        let build: Build = serde_json::from_str(r#"{"buildid": 3}"#).unwrap();
        assert_eq!(build.buildid, 3);
        assert!(build.properties.is_empty());
        let build: Build =
            serde_json::from_str(r#"{"properties": null, "state_string": null, "x": 1}"#).unwrap();
        assert_eq!(build.state_string, "");
        let step: Step = serde_json::from_str(r#"{"urls": null, "name": "compile"}"#).unwrap();
        assert!(step.urls.is_empty());
        let change: Change = serde_json::from_str(r#"{"sourcestamp": null, "files": []}"#).unwrap();
        assert_eq!(change.sourcestamp.ssid, 0);
        let log: Log = serde_json::from_str(r#"{"type": "s"}"#).unwrap();
        assert_eq!(log.log_type, "s");
        assert_eq!(
            serde_json::to_value(&log).unwrap()["type"],
            Value::from("s")
        );
        assert!(serde_json::from_str::<Build>(r#"{"buildid": "x"}"#).is_err());
    }
}
