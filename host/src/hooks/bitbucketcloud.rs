//! The `bitbucketcloud` dialect: Bitbucket Cloud's webhooks (`X-Event-Key` `repo:push` and
//! `pullrequest:*`) as Buildbot's `BitbucketCloudEventHandler` reads them. Its reading is also
//! the `bitbucketserver` dialect's, which differs in a few field names and messages
//! ([`Flavour`]).

use serde_json::{Map, Value};

use super::change::{Change, Changes};
use super::error::HookError;
use super::forge::{self, Options, Whitelist};
use super::request::HookRequest;
use crate::config::ChangeHookDialect;
use crate::data::query::py_str as py_str_repr;

/// The options Buildbot documents for `bitbucketcloud` and `bitbucketserver`.
const OPTIONS: &[&str] = &["codebase", "bitbucket_property_whitelist"];

/// `bitbucketcloud` with its options.
#[derive(Debug, Clone)]
pub struct Handler(Bitbucket);

impl Handler {
    /// The handler for the dialect's options; an error names the bad option.
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        Bitbucket::new(dialect, Flavour::Cloud).map(Handler)
    }

    /// The checks made before a delivery is forwarded to a linked master: none (Bitbucket
    /// Cloud's deliveries carry no signature Buildbot checks).
    pub fn verify(&self, _req: &HookRequest) -> Result<(), HookError> {
        Ok(())
    }

    /// The changes of a delivery.
    pub async fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        self.0.get_changes(req)
    }
}

/// Which Bitbucket: Cloud (`bitbucketcloud`) or Server (`bitbucketserver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// Bitbucket Cloud.
    Cloud,
    /// Bitbucket Server (Data Center).
    Server,
}

impl Flavour {
    /// Its name in change comments.
    fn name(self) -> &'static str {
        match self {
            Flavour::Cloud => "Cloud",
            Flavour::Server => "Server",
        }
    }
}

/// A Bitbucket dialect with its options.
#[derive(Debug, Clone)]
pub(crate) struct Bitbucket {
    flavour: Flavour,
    /// `codebase` of every change.
    codebase: Option<String>,
    /// `bitbucket_property_whitelist`.
    whitelist: Whitelist,
}

impl Bitbucket {
    /// The dialect of `flavour` with its options.
    pub(crate) fn new(dialect: &ChangeHookDialect, flavour: Flavour) -> Result<Self, String> {
        let options = Options::check(dialect, OPTIONS)?;
        Ok(Bitbucket {
            flavour,
            codebase: options.codebase()?,
            whitelist: options.whitelist("bitbucket_property_whitelist")?,
        })
    }

    /// The changes of a delivery: the JSON body (Content-Type `application/json...`), then the
    /// event from `X-Event-Key`.
    pub(crate) fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        let content = forge::body_text(req)?;
        let Some(content_type) = forge::header_text(req, "Content-Type")? else {
            return Err(HookError::internal(
                "AttributeError: 'NoneType' object has no attribute 'startswith'",
            ));
        };
        if !content_type.starts_with("application/json") {
            let shown = match self.flavour {
                Flavour::Cloud => content_type,
                Flavour::Server => py_str_repr(&content_type),
            };
            return Err(HookError::bad(format!("Unknown content type: {shown}")));
        }
        let payload = forge::loads(content)?;
        let Some(event) = forge::header_text(req, "X-Event-Key")? else {
            return Err(HookError::bad(match self.flavour {
                Flavour::Cloud => "Header X-Event-Key was not present",
                Flavour::Server => "Header X-Event-Key is not present",
            }));
        };
        let event = event.replace(':', "_");
        let pr = || forge::get(&payload, "pullrequest");
        let branch_of = |side: &str| -> Result<String, HookError> {
            let name = forge::path(pr()?, &[side, "branch", "name"])?;
            Ok(format!("refs/heads/{}", forge::py_str(name)))
        };
        let merge_ref = || -> Result<String, HookError> {
            let number = forge::py_int(forge::get(pr()?, "id")?)?;
            Ok(format!("refs/pull-requests/{number}/merge"))
        };
        let changes = match event.as_str() {
            "repo_push" => self.push(&payload)?,
            "repo_refs_changed" if self.flavour == Flavour::Server => self.push(&payload)?,
            "pullrequest_created" => self.pull_request(&payload, merge_ref()?, "pull-created")?,
            "pullrequest_updated" => self.pull_request(&payload, merge_ref()?, "pull-updated")?,
            "pullrequest_fulfilled" => {
                self.pull_request(&payload, branch_of("toRef")?, "pull-fulfilled")?
            }
            "pullrequest_rejected" => {
                self.pull_request(&payload, branch_of("fromRef")?, "pull-rejected")?
            }
            // Buildbot finds its own helper under this name, and calls it without its
            // arguments: a TypeError.
            "pullrequest" => {
                return Err(HookError::internal(
                    "TypeError: handle_pullrequest() missing 2 required positional arguments",
                ))
            }
            _ => return Err(HookError::bad(format!("Unknown event: {event}"))),
        };
        let scm = match self.flavour {
            Flavour::Cloud => "scm",
            Flavour::Server => "scmId",
        };
        Ok(Changes {
            changes,
            src: forge::scm_src(forge::path(&payload, &["repository", scm])?)?,
        })
    }

    /// The repository's project name (Cloud: `none` when the repository has no project).
    fn project(&self, payload: &Value) -> Result<String, HookError> {
        let repository = forge::get(payload, "repository")?;
        let project = match self.flavour {
            Flavour::Cloud => match forge::get_opt(repository, "project")? {
                Some(project) => forge::get(project, "name")?,
                None => return Ok("none".into()),
            },
            Flavour::Server => forge::path(repository, &["project", "name"])?,
        };
        forge::required_text(project)
    }

    /// The repository's URL: Cloud's API link, or Server's first `self` link without the
    /// trailing `browse` (Python's `rstrip('browse')`, which strips any of those letters).
    fn repo_url(&self, payload: &Value) -> Result<String, HookError> {
        let links = forge::path(payload, &["repository", "links", "self"])?;
        match self.flavour {
            Flavour::Cloud => forge::required_text(forge::get(links, "href")?),
            Flavour::Server => {
                let Some(first) = links.as_array().and_then(|l| l.first()) else {
                    return Err(HookError::internal("IndexError: the self links"));
                };
                let href = forge::required_text(forge::get(first, "href")?)?;
                Ok(href.trim_end_matches(|c| "browse".contains(c)).to_string())
            }
        }
    }

    /// `"<display name> <user name>"` of the payload's actor.
    fn author(&self, payload: &Value) -> Result<String, HookError> {
        let (name, nick) = match self.flavour {
            Flavour::Cloud => ("display_name", "nickname"),
            Flavour::Server => ("displayName", "username"),
        };
        let actor = forge::get(payload, "actor")?;
        Ok(format!(
            "{} <{}>",
            forge::py_str(forge::get(actor, name)?),
            forge::py_str(forge::get(actor, nick)?)
        ))
    }

    /// `repo:push` (Server: also `repo:refs_changed`): one change per changed ref, category
    /// `push`, or `ref-deleted` when the ref is gone. The changes have no time: the delivery's.
    fn push(&self, payload: &Value) -> Result<Vec<Change>, HookError> {
        let project = self.project(payload)?;
        let repo_url = self.repo_url(payload)?;
        let commits_url = match self.flavour {
            Flavour::Cloud => format!(
                "{}/commits/",
                forge::py_str(forge::path(
                    payload,
                    &["repository", "links", "html", "href"]
                )?)
            ),
            Flavour::Server => format!("{repo_url}commits/"),
        };
        let Value::Array(ref_changes) = forge::path(payload, &["push", "changes"])? else {
            return Err(HookError::internal("TypeError: push.changes is not a list"));
        };
        let mut changes = Vec::new();
        for ref_change in ref_changes {
            let (age, category) = match forge::truthy(forge::get(ref_change, "new")?) {
                true => ("new", "push"),
                false => ("old", "ref-deleted"),
            };
            let target = forge::get(ref_change, age)?;
            let hash = forge::path(target, &["target", "hash"])?;
            let branch = match forge::get(target, "type")?.as_str() {
                Some("branch") => Some(format!("refs/heads/{}", name_of(target)?)),
                Some("tag") => Some(format!("refs/tags/{}", name_of(target)?)),
                _ => None,
            };
            let hash_text = forge::py_str(hash);
            changes.push(Change {
                revision: forge::text(hash)?,
                revlink: Some(format!("{commits_url}{hash_text}")),
                repository: repo_url.clone(),
                author: Some(self.author(payload)?),
                comments: Some(format!(
                    "Bitbucket {} commit {hash_text}",
                    self.flavour.name()
                )),
                branch,
                project: project.clone(),
                category: Some(category.into()),
                codebase: self.codebase.clone(),
                ..Change::default()
            });
        }
        Ok(changes)
    }

    /// A pull request event: one change on `refname`, at the source's head commit.
    fn pull_request(
        &self,
        payload: &Value,
        refname: String,
        category: &str,
    ) -> Result<Vec<Change>, HookError> {
        let pr = forge::get(payload, "pullrequest")?;
        let number = forge::py_int(forge::get(pr, "id")?)?;
        let repo_url = self.repo_url(payload)?;
        let project = self.project(payload)?;
        let revlink = forge::get(pr, "link")?;
        let mut properties = Map::new();
        properties.insert("pullrequesturl".into(), revlink.clone());
        properties.extend(self.whitelist.extract("bitbucket", pr)?);
        Ok(vec![Change {
            revision: forge::text(forge::path(pr, &["fromRef", "commit", "hash"])?)?,
            revlink: forge::text(revlink)?,
            repository: repo_url,
            author: Some(self.author(payload)?),
            comments: Some(format!(
                "Bitbucket {} Pull Request #{number}",
                self.flavour.name()
            )),
            branch: Some(refname),
            project,
            category: Some(category.into()),
            properties,
            codebase: self.codebase.clone(),
            ..Change::default()
        }])
    }
}

/// A ref's `name`, as text.
fn name_of(target: &Value) -> Result<String, HookError> {
    Ok(forge::py_str(forge::get(target, "name")?))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::hooks::forge::recorded::{answer, assert_stored, dialect, request, stored, DIR};

    fn handler(options: Value) -> Handler {
        Handler::new(&dialect("bitbucketcloud", options, &[])).unwrap()
    }

    #[tokio::test]
    async fn recorded_changes() {
        let h = handler(json!({}));
        for (name, recorded) in [
            (
                "bitbucketcloud-repo-push.http",
                "bitbucketcloud-repo-push-changes.http",
            ),
            (
                "bitbucketcloud-pullrequest-created-with-fromRef-link.http",
                "bitbucketcloud-pullrequest-created-with-fromRef-link-changes.http",
            ),
        ] {
            let found = h.get_changes(&request(name)).await.unwrap();
            assert_eq!(found.src, Some("git"));
            let theirs = stored(recorded);
            assert_eq!(found.changes.len(), theirs.len(), "{name}");
            for (o, t) in found.changes.iter().zip(&theirs) {
                assert_stored(o, t);
                // The time of a Bitbucket change is the delivery's.
                assert_eq!(o.when_timestamp, None);
            }
        }
    }

    #[tokio::test]
    async fn recorded_refusals() {
        let h = handler(json!({}));
        for name in [
            "bitbucketcloud-unknown-event.http",
            "bitbucketcloud-no-event-header.http",
            "bitbucketcloud-text-plain.http",
        ] {
            let (code, reason) = answer(name);
            assert_eq!(code, 400);
            assert_eq!(
                h.get_changes(&request(name)).await,
                Err(HookError::bad(reason)),
                "{name}"
            );
        }
        for name in [
            "bitbucketcloud-no-content-type.http",
            "bitbucketcloud-pullrequest-created.http",
        ] {
            assert_eq!(answer(name).0, 500);
            let err = h.get_changes(&request(name)).await;
            assert!(
                matches!(err, Err(HookError::Internal(_))),
                "{name}: {err:?}"
            );
        }
        let err = h
            .get_changes(&request("bitbucketcloud-malformed-json.http"))
            .await;
        assert!(matches!(err, Err(HookError::BadRequest(_))), "{err:?}");
    }

    fn delivery(event: &str, payload: &Value) -> HookRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/json; charset=utf-8".parse().unwrap(),
        );
        headers.insert("x-event-key", event.parse().unwrap());
        HookRequest::new(
            Method::POST,
            "/change_hook/bitbucketcloud".into(),
            headers,
            Bytes::from(payload.to_string()),
            0,
        )
    }

    #[tokio::test]
    async fn pull_request_events_and_options() {
        let payload: Value = serde_json::from_slice(
            &std::fs::read(format!(
                "{DIR}payloads/bitbucketcloud-pullrequest-created-with-fromRef-link.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let h = handler(
            json!({"codebase": "plant", "bitbucket_property_whitelist": ["bitbucket.id", "bitbucket.fromRef.*.name"]}),
        );
        for (event, branch, category) in [
            (
                "pullrequest:updated",
                "refs/pull-requests/12/merge",
                "pull-updated",
            ),
            ("pullrequest:fulfilled", "refs/heads/main", "pull-fulfilled"),
            ("pullrequest:rejected", "refs/heads/donut", "pull-rejected"),
        ] {
            let found = h
                .get_changes(&delivery(event, &payload))
                .await
                .unwrap()
                .changes;
            assert_eq!(found.len(), 1);
            let c = &found[0];
            assert_eq!(
                (c.branch.as_deref(), c.category.as_deref()),
                (Some(branch), Some(category)),
                "{event}"
            );
            assert_eq!(c.codebase.as_deref(), Some("plant"));
            assert_eq!(c.properties["bitbucket.id"], payload["pullrequest"]["id"]);
            assert!(
                c.properties.contains_key("bitbucket.fromRef.branch.name"),
                "{:?}",
                c.properties
            );
            assert!(c.properties.contains_key("pullrequesturl"));
        }
        // Python's int() of the id, and Buildbot's own helper called as a handler.
        let mut bad = payload.clone();
        bad["pullrequest"]["id"] = json!("twelve");
        assert_eq!(
            h.get_changes(&delivery("pullrequest:created", &bad)).await,
            Err(HookError::bad(
                "invalid literal for int() with base 10: 'twelve'"
            ))
        );
        assert!(matches!(
            h.get_changes(&delivery("pullrequest", &payload)).await,
            Err(HookError::Internal(_))
        ));
        // repo:refs_changed is Server's only.
        assert_eq!(
            h.get_changes(&delivery("repo:refs_changed", &payload))
                .await,
            Err(HookError::bad("Unknown event: repo_refs_changed"))
        );
        // A repository of no project: "none"; an scm Buildbot does not know: no source.
        let mut push: Value = serde_json::from_slice(
            &std::fs::read(format!("{DIR}payloads/bitbucketcloud-repo-push.json")).unwrap(),
        )
        .unwrap();
        push["repository"]
            .as_object_mut()
            .unwrap()
            .remove("project");
        push["repository"]["scm"] = json!("fossil");
        let found = h.get_changes(&delivery("repo:push", &push)).await.unwrap();
        assert_eq!(found.src, None);
        assert!(found.changes.iter().all(|c| c.project == "none"));
    }

    #[test]
    fn options() {
        let e = Handler::new(&dialect("bitbucketcloud", json!({"secret": 1}), &[])).unwrap_err();
        assert!(
            e.contains("unknown option 'secret'") && e.contains("bitbucket_property_whitelist"),
            "{e}"
        );
        let e =
            Handler::new(&dialect("bitbucketcloud", json!({"codebase": ["a"]}), &[])).unwrap_err();
        assert!(e.contains("option 'codebase'"), "{e}");
        let e = Handler::new(&dialect(
            "bitbucketcloud",
            json!({"bitbucket_property_whitelist": "x"}),
            &[],
        ))
        .unwrap_err();
        assert!(e.contains("option 'bitbucket_property_whitelist'"), "{e}");
    }
}
