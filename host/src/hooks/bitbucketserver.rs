//! The `bitbucketserver` dialect: Bitbucket Server's webhooks (`X-Event-Key` `repo:refs_changed`,
//! `repo:push` and `pullrequest:*`) as Buildbot's `BitbucketServerEventHandler` reads them; the
//! reading is `bitbucketcloud`'s with Server's field names and messages.

use super::bitbucketcloud::{Bitbucket, Flavour};
use super::change::Changes;
use super::error::HookError;
use super::request::HookRequest;
use crate::config::ChangeHookDialect;

/// `bitbucketserver` with its options (`codebase`, `bitbucket_property_whitelist`).
#[derive(Debug, Clone)]
pub struct Handler(Bitbucket);

impl Handler {
    /// The handler for the dialect's options; an error names the bad option.
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        Bitbucket::new(dialect, Flavour::Server).map(Handler)
    }

    /// The checks made before a delivery is forwarded to a linked master: none (Buildbot checks
    /// no signature of Bitbucket Server's).
    pub fn verify(&self, _req: &HookRequest) -> Result<(), HookError> {
        Ok(())
    }

    /// The changes of a delivery.
    pub async fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        self.0.get_changes(req)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;
    use serde_json::{json, Value};

    use super::*;
    use crate::hooks::forge::recorded::dialect;

    const REPO: &str = "https://bitbucket.example.com/projects/PLANT/repos/springfield/";

    /// A Bitbucket Server delivery's common part (the fields Buildbot reads).
    fn base() -> Value {
        json!({
            "actor": {"username": "homer", "displayName": "Homer Simpson", "emailAddress": "homer@example.com"},
            "repository": {
                "slug": "springfield",
                "scmId": "git",
                "project": {"key": "PLANT", "name": "Power Plant"},
                "links": {"self": [{"href": format!("{REPO}browse")}]}
            }
        })
    }

    fn refs_changed() -> Value {
        let mut payload = base();
        let head = |kind: &str, name: &str, hash: &str| json!({"type": kind, "name": name, "target": {"type": "commit", "hash": hash}});
        payload["push"] = json!({"changes": [
            {"new": head("branch", "main", "aaaa"), "old": head("branch", "main", "0000")},
            {"new": head("tag", "v4.0", "bbbb"), "old": null},
            {"new": null, "old": head("branch", "donut", "cccc")},
            {"new": head("note", "x", "dddd"), "old": null}
        ]});
        payload
    }

    fn pull_request() -> Value {
        let mut payload = base();
        payload["pullrequest"] = json!({
            "id": 42,
            "title": "Donut dispenser",
            "link": "https://bitbucket.example.com/projects/PLANT/repos/springfield/pull-requests/42",
            "fromRef": {"branch": {"name": "donut"}, "commit": {"hash": "eeee"}},
            "toRef": {"branch": {"name": "main"}, "commit": {"hash": "aaaa"}}
        });
        payload
    }

    fn delivery(event: Option<&str>, content_type: Option<&str>, payload: &Value) -> HookRequest {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert("content-type", ct.parse().unwrap());
        }
        if let Some(event) = event {
            headers.insert("x-event-key", event.parse().unwrap());
        }
        HookRequest::new(
            Method::POST,
            "/change_hook/bitbucketserver".into(),
            headers,
            Bytes::from(payload.to_string()),
            0,
        )
    }

    fn handler(options: Value) -> Handler {
        Handler::new(&dialect("bitbucketserver", options, &[])).unwrap()
    }

    #[tokio::test]
    async fn pushes() {
        let h = handler(json!({"codebase": "plant"}));
        for event in ["repo:refs_changed", "repo:push"] {
            let found = h
                .get_changes(&delivery(
                    Some(event),
                    Some("application/json"),
                    &refs_changed(),
                ))
                .await
                .unwrap();
            assert_eq!(found.src, Some("git"));
            let summary: Vec<_> = found
                .changes
                .iter()
                .map(|c| {
                    (
                        c.revision.as_deref().unwrap(),
                        c.branch.as_deref(),
                        c.category.as_deref().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                summary,
                [
                    ("aaaa", Some("refs/heads/main"), "push"),
                    ("bbbb", Some("refs/tags/v4.0"), "push"),
                    ("cccc", Some("refs/heads/donut"), "ref-deleted"),
                    ("dddd", None, "push"),
                ]
            );
            let c = &found.changes[0];
            assert_eq!(c.revlink.as_deref(), Some(&*format!("{REPO}commits/aaaa")));
            assert_eq!(c.repository, REPO);
            assert_eq!(c.author.as_deref(), Some("Homer Simpson <homer>"));
            assert_eq!(c.comments.as_deref(), Some("Bitbucket Server commit aaaa"));
            assert_eq!(c.project, "Power Plant");
            assert_eq!(c.codebase.as_deref(), Some("plant"));
            assert_eq!((c.committer.as_ref(), c.when_timestamp), (None, None));
            assert!(c.files.is_empty() && c.properties.is_empty());
        }
    }

    #[tokio::test]
    async fn pull_requests() {
        let h = handler(json!({"bitbucket_property_whitelist": ["bitbucket.title"]}));
        for (event, branch, category, revision) in [
            (
                "pullrequest:created",
                "refs/pull-requests/42/merge",
                "pull-created",
                "eeee",
            ),
            (
                "pullrequest:updated",
                "refs/pull-requests/42/merge",
                "pull-updated",
                "eeee",
            ),
            (
                "pullrequest:fulfilled",
                "refs/heads/main",
                "pull-fulfilled",
                "eeee",
            ),
            (
                "pullrequest:rejected",
                "refs/heads/donut",
                "pull-rejected",
                "eeee",
            ),
        ] {
            let found = h
                .get_changes(&delivery(
                    Some(event),
                    Some("application/json"),
                    &pull_request(),
                ))
                .await
                .unwrap();
            assert_eq!(found.changes.len(), 1);
            let c = &found.changes[0];
            assert_eq!(c.branch.as_deref(), Some(branch), "{event}");
            assert_eq!(c.category.as_deref(), Some(category));
            assert_eq!(c.revision.as_deref(), Some(revision));
            assert_eq!(
                c.comments.as_deref(),
                Some("Bitbucket Server Pull Request #42")
            );
            assert_eq!(
                c.revlink.as_deref(),
                pull_request()["pullrequest"]["link"].as_str()
            );
            assert_eq!(
                Value::Object(c.properties.clone()),
                json!({"pullrequesturl": pull_request()["pullrequest"]["link"], "bitbucket.title": "Donut dispenser"})
            );
            assert_eq!(c.project, "Power Plant");
            assert_eq!(c.repository, REPO);
        }
    }

    #[tokio::test]
    async fn refusals() {
        let h = handler(json!({}));
        let push = refs_changed();
        let refused = |event: Option<&'static str>, ct: Option<&'static str>, payload: Value| {
            let req = delivery(event, ct, &payload);
            let h = h.clone();
            async move { h.get_changes(&req).await.unwrap_err() }
        };
        assert_eq!(
            refused(None, Some("application/json"), push.clone()).await,
            HookError::bad("Header X-Event-Key is not present")
        );
        assert_eq!(
            refused(Some("repo:forked"), Some("application/json"), push.clone()).await,
            HookError::bad("Unknown event: repo_forked")
        );
        assert_eq!(
            refused(Some("repo:push"), Some("text/plain"), push.clone()).await,
            HookError::bad("Unknown content type: 'text/plain'")
        );
        assert!(matches!(
            refused(Some("repo:push"), None, push.clone()).await,
            HookError::Internal(_)
        ));
        // A repository without a project, or without self links: KeyErrors.
        let mut bad = push.clone();
        bad["repository"].as_object_mut().unwrap().remove("project");
        assert!(matches!(
            refused(Some("repo:push"), Some("application/json"), bad).await,
            HookError::Internal(_)
        ));
        let mut bad = push;
        bad["repository"]["links"]["self"] = json!([]);
        assert!(matches!(
            refused(Some("repo:push"), Some("application/json"), bad).await,
            HookError::Internal(_)
        ));
    }

    #[tokio::test]
    async fn browse_is_stripped_as_python_strips_it() {
        // rstrip('browse') takes any of those letters off the end, not the word.
        let h = handler(json!({}));
        let mut payload = refs_changed();
        payload["repository"]["links"]["self"][0]["href"] =
            json!("https://bb.example.com/repos/bower");
        let found = h
            .get_changes(&delivery(
                Some("repo:push"),
                Some("application/json"),
                &payload,
            ))
            .await
            .unwrap();
        assert_eq!(found.changes[0].repository, "https://bb.example.com/repos/");
    }

    #[test]
    fn options() {
        let e = Handler::new(&dialect("bitbucketserver", json!({"skips": []}), &[])).unwrap_err();
        assert!(e.contains("bitbucketserver: unknown option 'skips'"), "{e}");
        assert!(Handler::new(&dialect(
            "bitbucketserver",
            json!({"codebase": "c", "bitbucket_property_whitelist": []}),
            &[]
        ))
        .is_ok());
    }
}
