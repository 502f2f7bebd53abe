//! The `gitorious` dialect: Gitorious's web hook (the JSON in a `payload` form field), as
//! Buildbot's `GitoriousHandler` reads it: one change per commit, no files (Gitorious sends
//! none), nothing for a deleted branch. It takes no options and signs nothing.

use serde_json::Value;

use super::change::{Change, Changes};
use super::error::HookError;
use super::forge::{self, Options};
use super::request::HookRequest;
use crate::config::ChangeHookDialect;

/// `gitorious` (no options).
#[derive(Debug, Clone)]
pub struct Handler;

impl Handler {
    /// The handler; any option is refused (Buildbot documents none).
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        Options::check(dialect, &[])?;
        Ok(Handler)
    }

    /// The changes of the `payload` argument (`{}` when absent, which is a `KeyError`: 500).
    pub fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        let payload = forge::loads(req.arg("payload").unwrap_or("{}"))?;
        let repository = forge::get(&payload, "repository")?;
        // Buildbot reads these before anything else, so their absence is its KeyError.
        forge::path(repository, &["owner", "name"])?;
        forge::get(repository, "name")?;
        let repo_url = forge::required_text(forge::get(repository, "url")?)?;
        let project = forge::required_text(forge::path(&payload, &["project", "name"])?)?;
        let after = forge::py_str(forge::get(&payload, "after")?);
        let branch = forge::text(forge::get(&payload, "ref")?)?;
        if after.bytes().all(|b| b == b'0') {
            return Ok(Changes {
                changes: Vec::new(),
                src: Some("git"),
            });
        }
        let Value::Array(commits) = forge::get(&payload, "commits")? else {
            return Err(HookError::internal("TypeError: commits is not a list"));
        };
        let mut changes = Vec::with_capacity(commits.len());
        for commit in commits {
            let author = forge::get(commit, "author")?;
            changes.push(Change {
                author: Some(format!(
                    "{} <{}>",
                    forge::py_str(forge::get(author, "name")?),
                    forge::py_str(forge::get(author, "email")?)
                )),
                comments: forge::text(forge::get(commit, "message")?)?,
                revision: forge::text(forge::get(commit, "id")?)?,
                when_timestamp: Some(forge::timestamp(forge::get(commit, "timestamp")?)?),
                branch: branch.clone(),
                revlink: forge::text(forge::get(commit, "url")?)?,
                repository: repo_url.clone(),
                project: project.clone(),
                ..Change::default()
            });
        }
        Ok(Changes {
            changes,
            src: Some("git"),
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn deliver(payload: &Value) -> Result<Changes, HookError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let req = HookRequest::new(
            Method::POST,
            "/change_hook/gitorious".into(),
            headers,
            Bytes::from(body),
            9,
        );
        Handler.get_changes(&req)
    }

    fn payload(after: &str) -> Value {
        json!({
            "after": after,
            "ref": "main",
            "project": {"name": "springfield"},
            "repository": {"name": "plant", "url": "https://gitorious.example/springfield/plant", "owner": {"name": "burns"}},
            "commits": [{
                "id": "e3ab6ca9bd9a4a6e2c0b32b6a7e1e1c2d3f4a5b6",
                "author": {"name": "Homer Simpson", "email": "homer@example.com"},
                "message": "Cool the core",
                "timestamp": "2026-11-27T10:15:30+01:00",
                "url": "https://gitorious.example/springfield/plant/commit/e3ab6ca9"
            }]
        })
    }

    #[test]
    fn one_change_per_commit_none_for_a_deleted_branch() {
        let got = deliver(&payload("e3ab6ca9bd9a4a6e2c0b32b6a7e1e1c2d3f4a5b6")).unwrap();
        assert_eq!(got.src, Some("git"));
        let c = &got.changes[0];
        assert_eq!(
            c.author.as_deref(),
            Some("Homer Simpson <homer@example.com>")
        );
        assert_eq!(c.when_timestamp, Some(1_795_770_930));
        assert_eq!(
            (c.branch.as_deref(), c.project.as_str()),
            (Some("main"), "springfield")
        );
        assert_eq!(c.repository, "https://gitorious.example/springfield/plant");
        assert!(c.files.is_empty() && c.category.is_none());
        assert!(deliver(&payload(&"0".repeat(40)))
            .unwrap()
            .changes
            .is_empty());
    }

    #[test]
    fn bad_payloads_are_refused() {
        let mut bad = payload("abc");
        bad["repository"].as_object_mut().unwrap().remove("owner");
        assert!(matches!(deliver(&bad), Err(HookError::Internal(_))));
        bad = payload("abc");
        bad["commits"][0]["timestamp"] = json!("yesterday");
        assert_eq!(
            deliver(&bad).unwrap_err(),
            HookError::bad("Unknown string format: yesterday")
        );
    }
}
