//! Writes a delivery's changes as Buildbot's `addChange` does: for each change its
//! sourcestamp (found or made), its parent (the newest change on the same branch, repository,
//! project and codebase), the `changes` row, its files and properties (`[value, "Change"]`),
//! and, when the dialect names a version control system, the author's user record and link.
//! All the changes of one delivery are written in one transaction, or none are.

use serde_json::json;

use super::change::Changes;
use crate::control::standalone::{now, py_json, sourcestamp_id, SourceStampKey};
use crate::db::Pool;

/// Writes the changes; their ids in order. `received` is the `when_timestamp` of a change
/// that has none.
pub async fn add_changes(
    pool: &Pool,
    changes: &Changes,
    received: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    // Other writers are waited out before anything is read, so concurrent deliveries (to this
    // server or another on the database) cannot both make the same sourcestamp or user.
    let mut tx = crate::db::begin_writing(pool, &["sourcestamps", "users", "users_info"]).await?;
    let t = now();
    let mut ids = Vec::with_capacity(changes.changes.len());
    for change in &changes.changes {
        let author = change.author.as_deref().unwrap_or("");
        let codebase = change.codebase.as_deref().unwrap_or("");
        let key = SourceStampKey {
            branch: change.branch.as_deref(),
            revision: change.revision.as_deref(),
            repository: &change.repository,
            project: &change.project,
            codebase,
        };
        let ssid = sourcestamp_id(&mut tx, &key, t).await?;
        let parent: Option<i64> = sqlx::query_scalar(
            "SELECT changeid FROM changes WHERE branch IS NOT DISTINCT FROM $1 AND repository = $2 AND project = $3 \
             AND codebase = $4 ORDER BY changeid DESC LIMIT 1",
        )
        .bind(&change.branch)
        .bind(&change.repository)
        .bind(&change.project)
        .bind(codebase)
        .fetch_optional(&mut *tx)
        .await?;
        let changeid: i64 = sqlx::query_scalar(
            "INSERT INTO changes (author, committer, comments, branch, revision, revlink, when_timestamp, \
             category, repository, codebase, project, sourcestampid, parent_changeids) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING changeid",
        )
        .bind(author)
        .bind(&change.committer)
        .bind(change.comments.as_deref().unwrap_or(""))
        .bind(&change.branch)
        .bind(&change.revision)
        .bind(&change.revlink)
        .bind(change.when_timestamp.unwrap_or(received))
        .bind(&change.category)
        .bind(&change.repository)
        .bind(codebase)
        .bind(&change.project)
        .bind(ssid)
        .bind(parent)
        .fetch_one(&mut *tx)
        .await?;
        for file in &change.files {
            sqlx::query("INSERT INTO change_files (changeid, filename) VALUES ($1, $2)")
                .bind(changeid)
                .bind(file)
                .execute(&mut *tx)
                .await?;
        }
        for (name, value) in &change.properties {
            sqlx::query(
                "INSERT INTO change_properties (changeid, property_name, property_value) VALUES ($1, $2, $3)",
            )
            .bind(changeid)
            .bind(name)
            .bind(py_json(&json!([value, "Change"])))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(src) = changes.src {
            let uid = user_id(&mut tx, author, src).await?;
            sqlx::query("INSERT INTO change_users (changeid, uid) VALUES ($1, $2)")
                .bind(changeid)
                .bind(uid)
                .execute(&mut *tx)
                .await?;
        }
        ids.push(changeid);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Buildbot's `findUserByAttr`: the user whose `src` attribute is the author, made (with the
/// author as identifier, numbered `_2`, `_3`... when taken) when there is none.
async fn user_id(
    tx: &mut crate::db::Transaction<'_>,
    author: &str,
    src: &str,
) -> Result<i64, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT uid FROM users_info WHERE attr_type = $1 AND attr_data = $2")
            .bind(src)
            .bind(author)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(uid) = found {
        return Ok(uid);
    }
    let mut identifier = author.to_owned();
    loop {
        let taken: Option<i64> = sqlx::query_scalar("SELECT uid FROM users WHERE identifier = $1")
            .bind(&identifier)
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_none() {
            break;
        }
        identifier = next_identifier(&identifier);
    }
    let uid: i64 = sqlx::query_scalar("INSERT INTO users (identifier) VALUES ($1) RETURNING uid")
        .bind(&identifier)
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO users_info (uid, attr_type, attr_data) VALUES ($1, $2, $3)")
        .bind(uid)
        .bind(src)
        .bind(author)
        .execute(&mut **tx)
        .await?;
    Ok(uid)
}

/// Buildbot's `incrementIdentifier`: `name` → `name_2`, `name_2` → `name_3`, kept to 256
/// characters.
fn next_identifier(identifier: &str) -> String {
    let (stem, number) = match identifier.rsplit_once('_') {
        Some((stem, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (stem, digits.parse::<u64>().unwrap_or(1))
        }
        _ => (identifier, 1),
    };
    let suffix = format!("_{}", number + 1);
    let keep: String = stem.chars().take(256 - suffix.len()).collect();
    keep + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::change::Change;

    fn change(revision: &str, branch: Option<&str>) -> Change {
        let mut properties = serde_json::Map::new();
        properties.insert("event".into(), json!("push"));
        Change {
            author: Some("Homer <homer@example.com>".into()),
            revision: Some(revision.into()),
            branch: branch.map(str::to_string),
            files: vec!["a.c".into(), "b.c".into()],
            properties,
            repository: "https://example.com/plant.git".into(),
            project: "plant".into(),
            ..Change::default()
        }
    }

    #[tokio::test]
    async fn rows_as_add_change_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_file(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        // Someone else already has the identifier the author would get.
        sqlx::query("INSERT INTO users (identifier) VALUES ('Homer <homer@example.com>')")
            .execute(&pool)
            .await
            .unwrap();
        let git = |changes| Changes {
            changes,
            src: Some("git"),
        };
        let first = add_changes(
            &pool,
            &git(vec![change("r1", Some("main")), change("r2", None)]),
            77,
        )
        .await
        .unwrap();
        let second = add_changes(&pool, &git(vec![change("r3", Some("main"))]), 78)
            .await
            .unwrap();
        assert_eq!((first.len(), second.len()), (2, 1));
        // Parents: the newest change of the same branch (null branch apart), else none.
        let parents: Vec<(i64, Option<i64>, i64, String, String)> = sqlx::query_as(
            "SELECT changeid, parent_changeids, when_timestamp, comments, codebase FROM changes ORDER BY changeid",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(parents[0].1, None);
        assert_eq!(parents[1].1, None);
        assert_eq!(parents[2].1, Some(first[0]));
        assert_eq!((parents[0].2, parents[2].2), (77, 78));
        assert_eq!((parents[0].3.as_str(), parents[0].4.as_str()), ("", ""));
        // One user for the author, under a numbered identifier; every change linked to it.
        let users: Vec<(i64, String)> =
            sqlx::query_as("SELECT uid, identifier FROM users ORDER BY uid")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].1, "Homer <homer@example.com>_2");
        let linked: i64 = sqlx::query_scalar("SELECT count(*) FROM change_users WHERE uid = $1")
            .bind(users[1].0)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(linked, 3);
        let info: (String, String) = sqlx::query_as("SELECT attr_type, attr_data FROM users_info")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(info, ("git".into(), "Homer <homer@example.com>".into()));
        // Properties as Buildbot stores them; files in order; sourcestamps per revision.
        let value: String =
            sqlx::query_scalar("SELECT property_value FROM change_properties LIMIT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(value, "[\"push\", \"Change\"]");
        let files: Vec<String> = sqlx::query_scalar(
            "SELECT filename FROM change_files WHERE changeid = $1 ORDER BY rowid",
        )
        .bind(first[0])
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(files, ["a.c", "b.c"]);
        let stamps: i64 = sqlx::query_scalar("SELECT count(DISTINCT sourcestampid) FROM changes")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stamps, 3);
        // The same revision again reuses its sourcestamp; base (no src) links no user.
        add_changes(
            &pool,
            &Changes {
                changes: vec![change("r1", Some("main"))],
                src: None,
            },
            79,
        )
        .await
        .unwrap();
        let stamps: i64 = sqlx::query_scalar("SELECT count(DISTINCT sourcestampid) FROM changes")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stamps, 3);
        let links: i64 = sqlx::query_scalar("SELECT count(*) FROM change_users")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(links, 3);
    }

    #[test]
    fn identifiers_count_up() {
        assert_eq!(next_identifier("homer"), "homer_2");
        assert_eq!(next_identifier("homer_2"), "homer_3");
        assert_eq!(next_identifier("a_b"), "a_b_2");
        assert_eq!(next_identifier(&"x".repeat(300)).len(), 256);
    }
}
