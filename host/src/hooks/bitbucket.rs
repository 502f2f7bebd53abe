//! The `bitbucket` dialect: Bitbucket's old POST service (the JSON in a `payload` form field),
//! as Buildbot's `BitBucketHandler` reads it. It takes no options.

use serde_json::{Map, Value};

use super::change::{Change, Changes};
use super::error::HookError;
use super::forge::{self, Options};
use super::request::HookRequest;
use crate::config::ChangeHookDialect;

/// `bitbucket` (no options).
#[derive(Debug, Clone)]
pub struct Handler;

impl Handler {
    /// The handler; any option is refused (Buildbot documents none).
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        Options::check(dialect, &[])?;
        Ok(Handler)
    }

    /// The checks made before a delivery is forwarded to a linked master: none (the service
    /// signs nothing).
    pub fn verify(&self, _req: &HookRequest) -> Result<(), HookError> {
        Ok(())
    }

    /// The changes of a delivery: one per commit of the `payload` argument; `?project=` names
    /// their project, `X-Event-Key` their `event` property.
    pub async fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        let event = forge::header_text(req, "X-Event-Key")?.map_or(Value::Null, Value::from);
        let payload = req
            .arg("payload")
            .ok_or_else(|| HookError::internal("KeyError: b'payload'"))?;
        let payload = forge::loads(payload)?;
        let repo_url = format!(
            "{}{}",
            forge::py_str(forge::get(&payload, "canon_url")?),
            forge::py_str(forge::path(&payload, &["repository", "absolute_url"])?)
        );
        let project = req.arg("project").unwrap_or_default().to_string();
        let Value::Array(commits) = forge::get(&payload, "commits")? else {
            return Err(HookError::internal("TypeError: commits is not a list"));
        };
        let mut changes = Vec::new();
        for commit in commits {
            let Value::Array(files) = forge::get(commit, "files")? else {
                return Err(HookError::internal("TypeError: files is not a list"));
            };
            let files = files
                .iter()
                .map(|file| forge::required_text(forge::get(file, "file")?))
                .collect::<Result<_, _>>()?;
            let raw_node = forge::get(commit, "raw_node")?;
            changes.push(Change {
                author: forge::text(forge::get(commit, "raw_author")?)?,
                committer: None,
                files,
                comments: forge::text(forge::get(commit, "message")?)?,
                revision: forge::text(raw_node)?,
                when_timestamp: Some(forge::timestamp(forge::get(commit, "utctimestamp")?)?),
                branch: forge::text(forge::get(commit, "branch")?)?,
                category: None,
                revlink: Some(format!("{repo_url}commits/{}", forge::py_str(raw_node))),
                properties: Map::from_iter([("event".to_string(), event.clone())]),
                repository: repo_url.clone(),
                project: project.clone(),
                codebase: None,
            });
            // Buildbot logs each commit's short `node`, so a commit without one is a KeyError.
            forge::get(commit, "node")?;
        }
        Ok(Changes {
            changes,
            src: forge::scm_src(forge::path(&payload, &["repository", "scm"])?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::hooks::forge::recorded::dialect;

    /// A POST service delivery, in the format Buildbot reads.
    fn payload() -> Value {
        json!({
            "canon_url": "https://bitbucket.org",
            "user": "homer",
            "repository": {
                "absolute_url": "/simpsons/springfield/",
                "name": "Springfield",
                "owner": "simpsons",
                "slug": "springfield",
                "scm": "git",
                "website": ""
            },
            "commits": [
                {
                    "author": "homer",
                    "branch": "main",
                    "files": [{"file": "src/reactor.c", "type": "modified"}, {"file": "README", "type": "added"}],
                    "message": "Cool the reactor\n",
                    "node": "620ade18607a",
                    "parents": ["702c70160afc"],
                    "raw_author": "Homer Simpson <homer@example.com>",
                    "raw_node": "620ade18607ac42d872b568bb92acaa9a28620e9",
                    "revision": null,
                    "size": -1,
                    "timestamp": "2026-11-27 10:15:30",
                    "utctimestamp": "2026-11-27 09:15:30+00:00"
                },
                {
                    "author": "marge",
                    "branch": "docs",
                    "files": [],
                    "message": "Docs",
                    "node": "702c70160afc",
                    "parents": [],
                    "raw_author": "Marge Simpson <marge@example.com>",
                    "raw_node": "702c70160afc0000000000000000000000000000",
                    "utctimestamp": "2026-11-27T10:00:00Z"
                }
            ]
        })
    }

    fn delivery(uri: &str, event: Option<&str>, payload: &Value) -> HookRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        if let Some(event) = event {
            headers.insert("x-event-key", event.parse().unwrap());
        }
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        HookRequest::new(Method::POST, uri.into(), headers, Bytes::from(body), 0)
    }

    #[tokio::test]
    async fn one_change_per_commit() {
        let h = Handler::new(&dialect("bitbucket", json!({}), &[])).unwrap();
        let found = h
            .get_changes(&delivery(
                "/change_hook/bitbucket?project=plant",
                Some("repo:push"),
                &payload(),
            ))
            .await
            .unwrap();
        assert_eq!(found.src, Some("git"));
        assert_eq!(found.changes.len(), 2);
        let c = &found.changes[0];
        assert_eq!(
            *c,
            Change {
                author: Some("Homer Simpson <homer@example.com>".into()),
                committer: None,
                files: vec!["src/reactor.c".into(), "README".into()],
                comments: Some("Cool the reactor\n".into()),
                revision: Some("620ade18607ac42d872b568bb92acaa9a28620e9".into()),
                when_timestamp: Some(1_795_770_930),
                branch: Some("main".into()),
                category: None,
                revlink: Some(
                    "https://bitbucket.org/simpsons/springfield/commits/620ade18607ac42d872b568bb92acaa9a28620e9"
                        .into()
                ),
                properties: Map::from_iter([("event".into(), json!("repo:push"))]),
                repository: "https://bitbucket.org/simpsons/springfield/".into(),
                project: "plant".into(),
                codebase: None,
            }
        );
        assert_eq!(found.changes[1].when_timestamp, Some(1_795_773_600));
        assert_eq!(found.changes[1].branch.as_deref(), Some("docs"));
        // No project argument, no event header.
        let found = h
            .get_changes(&delivery("/change_hook/bitbucket", None, &payload()))
            .await
            .unwrap();
        assert_eq!(found.changes[0].project, "");
        assert_eq!(found.changes[0].properties["event"], Value::Null);
    }

    #[tokio::test]
    async fn refusals() {
        let h = Handler::new(&dialect("bitbucket", json!({}), &[])).unwrap();
        // No payload field: Python's KeyError.
        let req = HookRequest::new(
            Method::POST,
            "/change_hook/bitbucket".into(),
            HeaderMap::new(),
            Bytes::new(),
            0,
        );
        assert!(matches!(
            h.get_changes(&req).await,
            Err(HookError::Internal(_))
        ));
        // Bad JSON and bad times are ValueErrors; a missing field is not.
        let mut req = delivery("/change_hook/bitbucket", None, &payload());
        req.args = vec![("payload".into(), "{".into())];
        assert!(matches!(
            h.get_changes(&req).await,
            Err(HookError::BadRequest(_))
        ));
        let mut p = payload();
        p["commits"][0]["utctimestamp"] = json!("someday");
        assert_eq!(
            h.get_changes(&delivery("/change_hook/bitbucket", None, &p))
                .await,
            Err(HookError::bad("Unknown string format: someday"))
        );
        let mut p = payload();
        p["commits"][1].as_object_mut().unwrap().remove("node");
        assert!(matches!(
            h.get_changes(&delivery("/change_hook/bitbucket", None, &p))
                .await,
            Err(HookError::Internal(_))
        ));
    }

    #[test]
    fn takes_no_options() {
        let e = Handler::new(&dialect("bitbucket", json!({"codebase": "x"}), &[])).unwrap_err();
        assert!(
            e.contains("unknown option 'codebase'") && e.contains("none"),
            "{e}"
        );
    }
}
