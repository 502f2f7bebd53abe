//! Test results, codebases, branches and commits: tables Buildbot 4 added, rarely filled.

use serde_json::Value;

use super::{text, Ctx};
use crate::data::endpoints::Kind;
use crate::data::error::ApiError;
use crate::data::sql::{Bind, Col, Column, Sql, Table};
use crate::data::Answer;

static TEST_RESULT_SETS: Table = Table {
    from: "test_result_sets",
    columns: &[
        Column {
            field: "test_result_setid",
            expr: "test_result_sets.id",
            col: Col::Int,
        },
        Column {
            field: "builderid",
            expr: "test_result_sets.builderid",
            col: Col::Int,
        },
        Column {
            field: "buildid",
            expr: "test_result_sets.buildid",
            col: Col::Int,
        },
        Column {
            field: "stepid",
            expr: "test_result_sets.stepid",
            col: Col::Int,
        },
        Column {
            field: "description",
            expr: "test_result_sets.description",
            col: Col::Text,
        },
        Column {
            field: "category",
            expr: "test_result_sets.category",
            col: Col::Text,
        },
        Column {
            field: "value_unit",
            expr: "test_result_sets.value_unit",
            col: Col::Text,
        },
        Column {
            field: "tests_passed",
            expr: "test_result_sets.tests_passed",
            col: Col::Int,
        },
        Column {
            field: "tests_failed",
            expr: "test_result_sets.tests_failed",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "test_result_sets.complete",
            col: Col::Bool,
        },
    ],
    key: "test_result_sets.id",
    default_order: &["test_result_setid"],
    split_fields: &[],
};

static TEST_RESULTS: Table = Table {
    from: "test_results LEFT JOIN test_names tn ON tn.id = test_results.test_nameid \
           LEFT JOIN test_code_paths tcp ON tcp.id = test_results.test_code_pathid",
    columns: &[
        Column {
            field: "test_resultid",
            expr: "test_results.id",
            col: Col::Int,
        },
        Column {
            field: "builderid",
            expr: "test_results.builderid",
            col: Col::Int,
        },
        Column {
            field: "test_result_setid",
            expr: "test_results.test_result_setid",
            col: Col::Int,
        },
        Column {
            field: "test_name",
            expr: "tn.name",
            col: Col::Text,
        },
        Column {
            field: "test_code_path",
            expr: "tcp.path",
            col: Col::Text,
        },
        Column {
            field: "line",
            expr: "test_results.line",
            col: Col::Int,
        },
        Column {
            field: "duration_ns",
            expr: "test_results.duration_ns",
            col: Col::Int,
        },
        Column {
            field: "value",
            expr: "test_results.value",
            col: Col::Text,
        },
    ],
    key: "test_results.id",
    default_order: &["test_resultid"],
    split_fields: &[],
};

async fn keep(
    rows: Vec<serde_json::Map<String, Value>>,
) -> Result<Vec<serde_json::Map<String, Value>>, ApiError> {
    Ok(rows)
}

pub(super) async fn test_results(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    match ctx.endpoint.kind {
        Kind::TestResults => {
            let id = ctx.args.int("test_result_setid").unwrap_or(-1);
            let cond = Sql::cond("test_results.test_result_setid = ?", Bind::Int(id));
            ctx.collection(&TEST_RESULTS, &[cond], true, keep).await
        }
        Kind::TestResultSet => {
            let id = ctx.args.int("test_result_setid").unwrap_or(-1);
            ctx.entity(
                &TEST_RESULT_SETS,
                &[Sql::cond("test_result_sets.id = ?", Bind::Int(id))],
                keep,
            )
            .await
        }
        _ => {
            let mut conds = Vec::new();
            if ctx.args.has("commitid1") {
                // Commit ranges need the commit graph, which Buildbot fills only for some
                // change sources; an empty answer is what a database without it gives.
                return Ok(ctx.empty());
            }
            if ctx.args.has("builderid") || ctx.args.has("buildername") {
                let Some(id) = ctx.builder_id().await? else {
                    return Ok(ctx.empty());
                };
                conds.push(Sql::cond("test_result_sets.builderid = ?", Bind::Int(id)));
            }
            if let Some(id) = ctx.args.int("buildid") {
                conds.push(Sql::cond("test_result_sets.buildid = ?", Bind::Int(id)));
            }
            if let Some(id) = ctx.args.int("stepid") {
                conds.push(Sql::cond("test_result_sets.stepid = ?", Bind::Int(id)));
            }
            ctx.collection(&TEST_RESULT_SETS, &conds, false, keep).await
        }
    }
}

static CODEBASES: Table = Table {
    from: "codebases",
    columns: &[
        Column {
            field: "codebaseid",
            expr: "codebases.id",
            col: Col::Int,
        },
        Column {
            field: "projectid",
            expr: "codebases.projectid",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "codebases.name",
            col: Col::Text,
        },
        Column {
            field: "slug",
            expr: "codebases.slug",
            col: Col::Text,
        },
    ],
    key: "codebases.id",
    default_order: &["codebaseid"],
    split_fields: &[],
};

static BRANCHES: Table = Table {
    from: "codebase_branches",
    columns: &[
        Column {
            field: "branchid",
            expr: "codebase_branches.id",
            col: Col::Int,
        },
        Column {
            field: "codebaseid",
            expr: "codebase_branches.codebaseid",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "codebase_branches.name",
            col: Col::Text,
        },
        Column {
            field: "commitid",
            expr: "codebase_branches.commitid",
            col: Col::Int,
        },
        Column {
            field: "last_timestamp",
            expr: "codebase_branches.last_timestamp",
            col: Col::Int,
        },
    ],
    key: "codebase_branches.id",
    default_order: &["branchid"],
    split_fields: &[],
};

static COMMITS: Table = Table {
    from: "codebase_commits",
    columns: &[
        Column {
            field: "commitid",
            expr: "codebase_commits.id",
            col: Col::Int,
        },
        Column {
            field: "codebaseid",
            expr: "codebase_commits.codebaseid",
            col: Col::Int,
        },
        Column {
            field: "author",
            expr: "codebase_commits.author",
            col: Col::Text,
        },
        Column {
            field: "committer",
            expr: "codebase_commits.committer",
            col: Col::Text,
        },
        Column {
            field: "comments",
            expr: "codebase_commits.comments",
            col: Col::Text,
        },
        Column {
            field: "when_timestamp",
            expr: "codebase_commits.when_timestamp",
            col: Col::Int,
        },
        Column {
            field: "revision",
            expr: "codebase_commits.revision",
            col: Col::Text,
        },
        Column {
            field: "parent_commitid",
            expr: "codebase_commits.parent_commitid",
            col: Col::Int,
        },
    ],
    key: "codebase_commits.id",
    default_order: &["commitid"],
    split_fields: &[],
};

pub(super) async fn codebases(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let codebase = ctx.args.int("codebaseid").unwrap_or(-1);
    match ctx.endpoint.kind {
        Kind::Codebases => ctx.collection(&CODEBASES, &[], false, keep).await,
        Kind::Codebase => {
            let mut conds = Vec::new();
            if let Some(name) = ctx.args.str("codebasename") {
                conds.push(Sql::cond("codebases.name = ?", text(name)));
                conds.push(Sql::cond(
                    "codebases.projectid = ?",
                    Bind::Int(ctx.args.int("projectid").unwrap_or(-1)),
                ));
            } else {
                conds.push(Sql::cond("codebases.id = ?", Bind::Int(codebase)));
            }
            ctx.entity(&CODEBASES, &conds, keep).await
        }
        Kind::Branches => {
            let cond = Sql::cond("codebase_branches.codebaseid = ?", Bind::Int(codebase));
            ctx.collection(&BRANCHES, &[cond], false, keep).await
        }
        Kind::Branch => {
            let id = ctx.args.int("branchid").unwrap_or(-1);
            ctx.entity(
                &BRANCHES,
                &[Sql::cond("codebase_branches.id = ?", Bind::Int(id))],
                keep,
            )
            .await
        }
        Kind::Commits => {
            let cond = Sql::cond("codebase_commits.codebaseid = ?", Bind::Int(codebase));
            ctx.collection(&COMMITS, &[cond], false, keep).await
        }
        _ => {
            let mut conds = Vec::new();
            if let Some(revision) = ctx.args.str("revision") {
                conds.push(Sql::cond(
                    "codebase_commits.codebaseid = ?",
                    Bind::Int(codebase),
                ));
                conds.push(Sql::cond("codebase_commits.revision = ?", text(revision)));
            } else {
                conds.push(Sql::cond(
                    "codebase_commits.id = ?",
                    Bind::Int(ctx.args.int("commitid").unwrap_or(-1)),
                ));
            }
            ctx.entity(&COMMITS, &conds, keep).await
        }
    }
}

/// The common parent of two commits and the paths to each, walking `parent_commitid` links.
pub(super) async fn commit_graph(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let (Some(c1), Some(c2)) = (ctx.args.int("commitid1"), ctx.args.int("commitid2")) else {
        return Err(ctx.not_found());
    };
    let codebase = ctx.args.int("codebaseid").unwrap_or(-1);
    let ancestors = |start: i64| async move {
        let mut chain = vec![start];
        let mut current = start;
        // Bounded walk: a cycle in corrupt data cannot loop forever.
        for _ in 0..10_000 {
            let mut sql = Sql::cond(
                "SELECT parent_commitid FROM codebase_commits WHERE id = ?",
                Bind::Int(current),
            );
            sql.push(" AND codebaseid = ")
                .push_bind(Bind::Int(codebase));
            match super::scalar(ctx.pool, sql).await? {
                Some(parent) => {
                    chain.push(parent);
                    current = parent;
                }
                None => break,
            }
        }
        Ok::<_, ApiError>(chain)
    };
    let a = ancestors(c1).await?;
    let b = ancestors(c2).await?;
    let Some((i, common)) = a.iter().enumerate().find(|(_, c)| b.contains(c)) else {
        return Err(ctx.not_found());
    };
    let j = b.iter().position(|c| c == common).unwrap_or(0);
    let item = serde_json::json!({
        "common": common,
        "to1": a[..i].iter().rev().collect::<Vec<_>>(),
        "to2": b[..j].iter().rev().collect::<Vec<_>>(),
    });
    ctx.single(vec![item.as_object().cloned().unwrap_or_default()])
}
