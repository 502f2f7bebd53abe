//! `[[schedulers]]`: the change-driven schedulers (Buildbot's `SingleBranchScheduler` and
//! `AnyBranchScheduler`, with a `ChangeFilter`) that the standalone runner plays when changes
//! arrive through the change hooks. A linked master runs its own schedulers; these are only
//! read without one.

use regex::Regex;
use serde::Deserialize;

use super::error::{Fail, KeyPath};

/// `[[schedulers]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScheduler {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    builder_names: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    change_filter: Option<RawChangeFilter>,
}

/// `change_filter` as written: each field a value or a list of values, or a `*_re` pattern.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChangeFilter {
    #[serde(default)]
    branch: Option<OneOrMany>,
    #[serde(default)]
    branch_re: Option<String>,
    #[serde(default)]
    project: Option<OneOrMany>,
    #[serde(default)]
    project_re: Option<String>,
    #[serde(default)]
    repository: Option<OneOrMany>,
    #[serde(default)]
    repository_re: Option<String>,
    #[serde(default)]
    category: Option<OneOrMany>,
    #[serde(default)]
    category_re: Option<String>,
    #[serde(default)]
    codebase: Option<OneOrMany>,
    #[serde(default)]
    codebase_re: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A scheduler the standalone runner plays.
#[derive(Debug, Clone)]
pub struct SchedulerSpec {
    /// `name`.
    pub name: String,
    /// `type`: `SingleBranchScheduler` or `AnyBranchScheduler`.
    pub kind: &'static str,
    /// `builder_names`: the builders each buildset asks for.
    pub builder_names: Vec<String>,
    /// The buildset reason (`reason`, with `%(name)s` and `%(classname)s` filled in; Buildbot's
    /// default `The <type> scheduler named '<name>' triggered this build`).
    pub reason: String,
    /// `change_filter`: which changes start builds (all, when empty).
    pub filter: ChangeFilter,
}

/// Buildbot's `ChangeFilter`: every field given must match.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    checks: Vec<(ChangeField, FieldMatch)>,
}

/// A change field a filter can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeField {
    /// `branch`.
    Branch,
    /// `project`.
    Project,
    /// `repository`.
    Repository,
    /// `category`.
    Category,
    /// `codebase`.
    Codebase,
}

#[derive(Debug, Clone)]
enum FieldMatch {
    Values(Vec<String>),
    Pattern(Regex),
}

impl ChangeFilter {
    /// Whether a change passes: `field` gives the change's value of each field (`None` is
    /// Python's `None`, which no value or pattern matches).
    pub fn matches(&self, field: impl Fn(ChangeField) -> Option<String>) -> bool {
        self.checks.iter().all(|(name, check)| match field(*name) {
            None => false,
            Some(value) => match check {
                FieldMatch::Values(values) => values.contains(&value),
                FieldMatch::Pattern(re) => re.is_match(&value),
            },
        })
    }
}

const TYPES: &[&str] = &["SingleBranchScheduler", "AnyBranchScheduler"];

/// Checks `[[schedulers]]`.
pub(crate) fn normalize_all(raw: Vec<RawScheduler>) -> Result<Vec<SchedulerSpec>, Fail> {
    let mut out: Vec<SchedulerSpec> = Vec::new();
    for (i, raw) in raw.into_iter().enumerate() {
        let at = KeyPath::of(&["schedulers"]).index(i);
        let Some(kind) = TYPES.iter().copied().find(|t| *t == raw.kind) else {
            return Err(Fail::at(
                at.key("type"),
                format!("'{}' is not one of {}", raw.kind, TYPES.join(", ")),
            ));
        };
        if raw.name.is_empty() || out.iter().any(|s| s.name == raw.name) {
            return Err(Fail::at(
                at.key("name"),
                format!("scheduler name '{}' is empty or used twice", raw.name),
            ));
        }
        if raw.builder_names.is_empty() {
            return Err(Fail::at(
                at.key("builder_names"),
                "name at least one builder",
            ));
        }
        if kind == "SingleBranchScheduler" && raw.change_filter.is_none() {
            return Err(Fail::at(
                at,
                "a SingleBranchScheduler needs a change_filter (Buildbot refuses one without)",
            ));
        }
        let filter = filter(
            raw.change_filter.unwrap_or_default(),
            &at.key("change_filter"),
        )?;
        let reason = raw
            .reason
            .unwrap_or_else(|| {
                "The %(classname)s scheduler named '%(name)s' triggered this build".into()
            })
            .replace("%(name)s", &raw.name)
            .replace("%(classname)s", kind);
        out.push(SchedulerSpec {
            name: raw.name,
            kind,
            builder_names: raw.builder_names,
            reason,
            filter,
        });
    }
    Ok(out)
}

fn filter(raw: RawChangeFilter, at: &KeyPath) -> Result<ChangeFilter, Fail> {
    let fields = [
        (ChangeField::Branch, "branch", raw.branch, raw.branch_re),
        (ChangeField::Project, "project", raw.project, raw.project_re),
        (
            ChangeField::Repository,
            "repository",
            raw.repository,
            raw.repository_re,
        ),
        (
            ChangeField::Category,
            "category",
            raw.category,
            raw.category_re,
        ),
        (
            ChangeField::Codebase,
            "codebase",
            raw.codebase,
            raw.codebase_re,
        ),
    ];
    let mut checks = Vec::new();
    for (field, name, values, pattern) in fields {
        if let Some(values) = values {
            let values = match values {
                OneOrMany::One(v) => vec![v],
                OneOrMany::Many(v) => v,
            };
            checks.push((field, FieldMatch::Values(values)));
        }
        if let Some(pattern) = pattern {
            // Python's re.match: anchored at the start only.
            let re = Regex::new(&format!("^(?:{pattern})")).map_err(|err| {
                Fail::at(
                    at.key(&format!("{name}_re")),
                    format!("not a regular expression: {err}"),
                )
            })?;
            checks.push((field, FieldMatch::Pattern(re)));
        }
    }
    Ok(ChangeFilter { checks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Vec<SchedulerSpec>, String> {
        #[derive(Deserialize)]
        struct Top {
            schedulers: Vec<RawScheduler>,
        }
        let top: Top = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        normalize_all(top.schedulers).map_err(|f| f.message)
    }

    #[test]
    fn filters_match_as_buildbot_s() {
        let s = parse(
            "[[schedulers]]\nname = \"main\"\ntype = \"SingleBranchScheduler\"\nbuilder_names = [\"b\"]\n\
             change_filter = { branch = \"main\", project_re = \"spring\" }\n",
        )
        .unwrap();
        assert_eq!(
            s[0].reason,
            "The SingleBranchScheduler scheduler named 'main' triggered this build"
        );
        let change = |branch: Option<&str>, project: &str| {
            let (branch, project) = (branch.map(str::to_string), project.to_string());
            move |f: ChangeField| match f {
                ChangeField::Branch => branch.clone(),
                ChangeField::Project => Some(project.clone()),
                _ => Some(String::new()),
            }
        };
        assert!(s[0].filter.matches(change(Some("main"), "springfield")));
        assert!(!s[0].filter.matches(change(Some("dev"), "springfield")));
        assert!(!s[0].filter.matches(change(None, "springfield")));
        assert!(!s[0].filter.matches(change(Some("main"), "shelbyville")));
    }

    #[test]
    fn bad_schedulers_are_refused() {
        let err =
            parse("[[schedulers]]\nname = \"x\"\ntype = \"Nightly\"\nbuilder_names = [\"b\"]\n")
                .unwrap_err();
        assert!(
            err.contains("SingleBranchScheduler, AnyBranchScheduler"),
            "{err}"
        );
        let err = parse("[[schedulers]]\nname = \"x\"\ntype = \"SingleBranchScheduler\"\nbuilder_names = [\"b\"]\n").unwrap_err();
        assert!(err.contains("change_filter"), "{err}");
        let err = parse("[[schedulers]]\nname = \"x\"\ntype = \"AnyBranchScheduler\"\nbuilder_names = [\"b\"]\nchange_filter = { branch_re = \"(\" }\n").unwrap_err();
        assert!(err.contains("regular expression"), "{err}");
    }
}
