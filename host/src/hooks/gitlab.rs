//! The `gitlab` dialect: GitLab's webhooks (push, tag push, merge request, note on a merge
//! request) as Buildbot's `GitLabHandler` reads them, `X-Gitlab-Token` checked against `secret`.

use serde_json::{Map, Value};

use super::change::{Change, Changes};
use super::error::HookError;
use super::forge::{self, Options};
use super::request::HookRequest;
use crate::config::{ChangeHookDialect, Secret};

/// `gitlab` with its options.
#[derive(Debug, Clone)]
pub struct Handler {
    /// `secret`: what `X-Gitlab-Token` must be (`None`: not checked).
    secret: Option<Secret>,
}

impl Handler {
    /// The handler for the dialect's options; an error names the bad option.
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        let options = Options::check(dialect, &["secret"])?;
        Ok(Handler {
            secret: options.secret("secret")?,
        })
    }

    /// The checks made before a delivery is forwarded to a linked master: the token.
    pub fn verify(&self, req: &HookRequest) -> Result<(), HookError> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let received = forge::header_text(req, "X-Gitlab-Token")?;
        match received {
            // Compared in constant time (`Secret::matches`).
            Some(token) if secret.matches(token.as_bytes()) => Ok(()),
            _ => Err(HookError::bad("Invalid secret")),
        }
    }

    /// The changes of a delivery. The Content-Type is not looked at; the event is the payload's
    /// `object_kind`, else the `X-Gitlab-Event` header.
    pub async fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        self.verify(req)?;
        // Buildbot's GitLab hook turns every error of this into a ValueError.
        let payload = std::str::from_utf8(&req.body)
            .map_err(|err| HookError::bad(super::pyjson::utf8_message(&req.body, &err)))
            .and_then(super::pyjson::loads_str)
            .map_err(|err| match err {
                HookError::BadRequest(m) | HookError::Internal(m) => {
                    HookError::bad(format!("Error loading JSON: {m}"))
                }
            })?;
        let header = forge::header_text(req, "X-Gitlab-Event")?.map(Value::from);
        let event = match forge::get_opt(&payload, "object_kind")? {
            Some(kind) => kind.clone(),
            None => header.unwrap_or(Value::Null),
        };
        let codebase = req.arg("codebase")?.map(str::to_string);
        let changes = match event.as_str() {
            Some(event @ ("push" | "tag_push" | "Push Hook")) => {
                forge::get(&payload, "user_name")?;
                let repository = forge::get(&payload, "repository")?;
                forge::get(repository, "name")?;
                let repo_url = forge::get(repository, "url")?;
                push(&payload, repo_url, event, codebase)?
            }
            Some(event @ "merge_request") => {
                let attrs = forge::get(&payload, "object_attributes")?;
                merge_request(attrs, event, codebase, MergeRequestFrom::Event)?
            }
            Some(event @ "note") => {
                let attrs = forge::get(&payload, "object_attributes")?;
                match forge::get_opt(&payload, "merge_request")? {
                    Some(mr) => merge_request(mr, event, codebase, MergeRequestFrom::Note(attrs))?,
                    None => {
                        tracing::info!(
                            "gitlab: a note (id {}) on no merge request, ignored",
                            forge::py_str(forge::get(attrs, "id")?)
                        );
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        Ok(Changes {
            changes,
            src: Some("git"),
        })
    }
}

/// A push or tag push: one change per distinct commit; none for a deleted ref or a ref that is
/// neither a branch nor a tag. The event names the category.
fn push(
    payload: &Value,
    repo_url: &Value,
    event: &str,
    codebase: Option<String>,
) -> Result<Vec<Change>, HookError> {
    let Value::String(refname) = forge::get(payload, "ref")? else {
        return Err(HookError::internal("TypeError: the ref is not a string"));
    };
    let project = forge::path(payload, &["repository", "name"])?;
    let Some((_, branch)) = forge::split_ref(refname) else {
        tracing::info!("gitlab: ignoring refname `{refname}': not a branch");
        return Ok(Vec::new());
    };
    if forge::get_opt(payload, "deleted")?.is_some_and(forge::truthy) {
        return Ok(Vec::new());
    }
    let Value::Array(commits) = forge::get(payload, "commits")? else {
        return Err(HookError::internal("TypeError: commits is not a list"));
    };
    let mut changes = Vec::new();
    for commit in commits {
        if !forge::get_opt(commit, "distinct")?.is_none_or(forge::truthy) {
            continue;
        }
        let files = forge::commit_files(commit)?;
        let when = forge::timestamp(forge::get(commit, "timestamp")?)?;
        let revision = forge::required_text(forge::get(commit, "id")?)?;
        changes.push(Change {
            author: Some(person(forge::get(commit, "author")?)?),
            committer: None,
            files,
            comments: forge::text(forge::get(commit, "message")?)?,
            revision: Some(revision),
            when_timestamp: Some(when),
            branch: Some(branch.to_string()),
            category: Some(event.to_string()),
            revlink: forge::text(forge::get(commit, "url")?)?,
            properties: Map::from_iter([("event".to_string(), Value::from(event))]),
            repository: forge::required_text(repo_url)?,
            project: forge::required_text(project)?,
            codebase: codebase.clone(),
        });
    }
    Ok(changes)
}

/// Where a merge request's fields come from.
enum MergeRequestFrom<'p> {
    /// A `merge_request` event: only a newly opened, reopened or updated-with-code one counts.
    Event,
    /// A `note` event on a merge request (its `object_attributes` carry the note).
    Note(&'p Value),
}

/// The change of a merge request (`mr`: its attributes), on its target branch.
fn merge_request(
    mr: &Value,
    event: &str,
    codebase: Option<String>,
    from: MergeRequestFrom,
) -> Result<Vec<Change>, HookError> {
    let commit = forge::get(mr, "last_commit")?;
    let when = forge::timestamp(forge::get(commit, "timestamp")?)?;
    let repo_url = forge::path(mr, &["target", "git_http_url"])?;
    let project = forge::path(mr, &["target", "name"])?;
    let iid = forge::py_str(forge::get(mr, "iid")?);
    let mut properties = Map::new();
    match from {
        MergeRequestFrom::Event => {
            let state = forge::get(mr, "state")?;
            if one_of(state, &["closed", "merged", "approved"])? {
                tracing::info!(
                    "gitlab: MR#{iid} ignored, its state is {}",
                    forge::py_str(state)
                );
                return Ok(Vec::new());
            }
            let action = forge::get(mr, "action")?;
            let wanted = one_of(action, &["open", "reopen"])?
                || (action == "update" && forge::get_opt(mr, "oldrev")?.is_some());
            if !wanted {
                tracing::info!("gitlab: MR#{iid} ignored, no code added");
                return Ok(Vec::new());
            }
        }
        MergeRequestFrom::Note(attrs) => {
            properties.insert("comments".into(), forge::get(attrs, "note")?.clone());
        }
    }
    let comments = format!(
        "MR#{iid}: {}\n\n{}",
        forge::py_str(forge::get(mr, "title")?),
        forge::py_str(forge::get(mr, "description")?)
    );
    let target_branch = forge::get(mr, "target_branch")?;
    for (name, keys) in [
        ("source_branch", &["source_branch"][..]),
        ("source_project_id", &["source_project_id"]),
        ("source_repository", &["source", "git_http_url"]),
        ("source_git_ssh_url", &["source", "git_ssh_url"]),
        ("target_branch", &["target_branch"]),
        ("target_project_id", &["target_project_id"]),
        ("target_repository", &["target", "git_http_url"]),
        ("target_git_ssh_url", &["target", "git_ssh_url"]),
    ] {
        properties.insert(name.into(), forge::path(mr, keys)?.clone());
    }
    properties.insert("event".into(), event.into());
    Ok(vec![Change {
        author: Some(person(forge::get(commit, "author")?)?),
        committer: None,
        files: Vec::new(),
        comments: Some(comments),
        revision: forge::text(forge::get(commit, "id")?)?,
        when_timestamp: Some(when),
        branch: forge::text(target_branch)?,
        category: Some(event.to_string()),
        revlink: forge::text(forge::get(mr, "url")?)?,
        properties,
        repository: forge::required_text(repo_url)?,
        project: forge::required_text(project)?,
        codebase,
    }])
}

/// `re.match('^(a|b)$', value)`: `$` also matches before a final newline; a value that is not
/// text is Python's `TypeError`.
fn one_of(value: &Value, words: &[&str]) -> Result<bool, HookError> {
    let Value::String(text) = value else {
        return Err(HookError::internal("TypeError: expected string"));
    };
    let text = text.strip_suffix('\n').unwrap_or(text);
    Ok(words.contains(&text))
}

/// `"<name> <email>"` of a commit's author.
fn person(who: &Value) -> Result<String, HookError> {
    Ok(format!(
        "{} <{}>",
        forge::py_str(forge::get(who, "name")?),
        forge::py_str(forge::get(who, "email")?)
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::hooks::forge::recorded::{answer, assert_stored, dialect, request, stored};

    fn handler() -> Handler {
        Handler::new(&dialect("gitlab", json!({}), &[("secret", "tok")])).unwrap()
    }

    async fn changes(h: &Handler, names: &[&str]) -> Vec<Change> {
        let mut all = Vec::new();
        for name in names {
            let found = h.get_changes(&request(name)).await.unwrap();
            assert_eq!(found.src, Some("git"), "{name}");
            all.extend(found.changes);
        }
        all
    }

    #[tokio::test]
    async fn recorded_changes() {
        let h = handler();
        for (requests, recorded) in [
            (&["gitlab-push-ok.http"][..], "gitlab-push-ok-changes.http"),
            (
                &[
                    "gitlab-push-nondistinct.http",
                    "gitlab-tag_push.http",
                    "gitlab-push-codebase-arg.http",
                ],
                "gitlab-nondistinct-tag-codebase-changes.http",
            ),
            (
                &[
                    "gitlab-merge_request-open.http",
                    "gitlab-merge_request-update-oldrev.http",
                    "gitlab-note-mr.http",
                ],
                "gitlab-mr-and-note-changes.http",
            ),
        ] {
            let ours = changes(&h, requests).await;
            let theirs = stored(recorded);
            assert_eq!(ours.len(), theirs.len(), "{recorded}");
            for (o, t) in ours.iter().zip(&theirs) {
                assert_stored(o, t);
            }
        }
        for none in [
            "gitlab-merge_request-merged.http",
            "gitlab-merge_request-update-no-oldrev.http",
            "gitlab-push-branch-deleted.http",
            "gitlab-pipeline.http",
            "gitlab-text-plain-content-type.http",
        ] {
            assert_eq!(answer(none).0, 200);
            assert!(changes(&h, &[none]).await.is_empty(), "{none}");
        }
    }

    #[tokio::test]
    async fn recorded_refusals() {
        let h = handler();
        for name in ["gitlab-wrong-token.http", "gitlab-no-token.http"] {
            let (code, reason) = answer(name);
            assert_eq!((code, reason.as_str()), (400, "Invalid secret"));
            assert_eq!(
                h.verify(&request(name)),
                Err(HookError::bad("Invalid secret"))
            );
            assert_eq!(
                h.get_changes(&request(name)).await,
                Err(HookError::bad("Invalid secret"))
            );
        }
        // The token comes first, before the body is read.
        let mut bad_json = request("gitlab-malformed-json.http");
        assert!(h.verify(&bad_json).is_ok());
        match h.get_changes(&bad_json).await {
            Err(HookError::BadRequest(m)) => assert!(m.starts_with("Error loading JSON: "), "{m}"),
            other => panic!("{other:?}"),
        }
        bad_json
            .headers
            .insert("x-gitlab-token", "tok2".parse().unwrap());
        assert_eq!(
            h.get_changes(&bad_json).await,
            Err(HookError::bad("Invalid secret"))
        );
        // Bytes that are not UTF-8 are a loading error too.
        let mut req = request("gitlab-push-ok.http");
        req.body = Bytes::from_static(b"{\"a\": \"\xff\"}");
        assert!(matches!(
            h.get_changes(&req).await,
            Err(HookError::BadRequest(m)) if m.starts_with("Error loading JSON: 'utf-8' codec")
        ));
    }

    fn delivery(payload: &Value, event: Option<&str>) -> HookRequest {
        let mut headers = HeaderMap::new();
        if let Some(event) = event {
            headers.insert("x-gitlab-event", event.parse().unwrap());
        }
        HookRequest::new(
            Method::POST,
            "/change_hook/gitlab".into(),
            headers,
            Bytes::from(payload.to_string()),
            0,
        )
    }

    #[tokio::test]
    async fn events_without_object_kind_and_no_secret() {
        let h = Handler::new(&dialect("gitlab", json!({}), &[])).unwrap();
        let mut push: Value = serde_json::from_slice(
            &std::fs::read(format!("{}payloads/gitlab-push.json", forge::recorded::DIR)).unwrap(),
        )
        .unwrap();
        push.as_object_mut().unwrap().remove("object_kind");
        // The header's name is then the event, and the category.
        let found = h
            .get_changes(&delivery(&push, Some("Push Hook")))
            .await
            .unwrap();
        assert_eq!(found.changes.len(), 2);
        assert_eq!(found.changes[0].category.as_deref(), Some("Push Hook"));
        assert_eq!(found.changes[0].properties["event"], json!("Push Hook"));
        assert!(h
            .get_changes(&delivery(&push, None))
            .await
            .unwrap()
            .changes
            .is_empty());
        // A note on no merge request.
        let note = json!({"object_kind": "note", "object_attributes": {"id": 1, "note": "hi"}});
        assert!(h
            .get_changes(&delivery(&note, None))
            .await
            .unwrap()
            .changes
            .is_empty());
        // A payload that is not a mapping, a missing field: 500s.
        for bad in [json!([1]), json!({"object_kind": "push"})] {
            assert!(matches!(
                h.get_changes(&delivery(&bad, None)).await,
                Err(HookError::Internal(_))
            ));
        }
        // A bad commit timestamp is dateutil's ValueError.
        push["commits"][0]["timestamp"] = json!("later");
        assert_eq!(
            h.get_changes(&delivery(&push, Some("Push Hook"))).await,
            Err(HookError::bad("Unknown string format: later"))
        );
    }

    #[test]
    fn options() {
        let e = Handler::new(&dialect("gitlab", json!({"codebase": "x"}), &[])).unwrap_err();
        assert!(
            e.contains("unknown option 'codebase'") && e.contains("secret"),
            "{e}"
        );
        let h = Handler::new(&dialect("gitlab", json!({}), &[("secret", "tok")])).unwrap();
        assert!(!format!("{h:?}").contains("tok\""));
        // An empty secret checks nothing, as in Buildbot.
        let h = Handler::new(&dialect("gitlab", json!({}), &[("secret", "")])).unwrap();
        assert!(h.verify(&request("gitlab-no-token.http")).is_ok());
    }
}
