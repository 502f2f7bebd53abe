//! Authorization: Buildbot's `Authz` enforced on every read and every control action. The allow
//! rules are tried in order; the first whose endpoint matcher matches decides: allowed when one
//! of the user's roles matches the rule's role, otherwise denied (`you need to have role 'R'`),
//! or, with `defaultDeny = false`, the next rule decides. A request no rule matches is allowed.
//!
//! Beyond Buildbot (docs/authorization.md): the same rules decide which live events a user
//! receives on `/ws` and `/sse`, what plugins and UI pages read for a user, and
//! `ViewBuildsEndpointMatcher` matches for real: a build, its steps, logs and requests (and,
//! with only a `builder` filter, the builder) are hidden from users without its role, and
//! collections leave them out.

mod roles;
mod subject;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::config::{self, EndpointMatcher, StringsMatcher};
use crate::data::endpoints::Kind;
use crate::data::DataApi;
use crate::events::Event;
use crate::identity::User;
use roles::RoleMatchers;
use subject::{Lookups, Scope, Subject};

/// What a request does with its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// A read (REST GET/HEAD, a plugin's or page's read, a live event).
    Get,
    /// A JSON-RPC control method (`force`, `stop`, `rebuild`, `cancel`, `pause`, ...).
    Control(&'a str),
}

/// A refusal: the role the deciding rule asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("you need to have role '{role}'")]
pub struct Denied {
    /// The deciding rule's `role`.
    pub role: String,
}

/// The configured rules, ready to decide.
#[derive(Debug, Default)]
pub struct Authz {
    rules: Vec<Rule>,
    roles: RoleMatchers,
    /// Whether a `ViewBuildsEndpointMatcher` is configured: only then are collections
    /// filtered item by item.
    views: bool,
    lookups: Lookups,
}

#[derive(Debug)]
struct Rule {
    matcher: Matcher,
    role: String,
    /// `role` as a pattern the user's roles are matched against (`None`: an invalid pattern,
    /// which no role matches).
    role_pattern: Option<Pattern>,
    default_deny: bool,
}

#[derive(Debug)]
enum Matcher {
    Any,
    AnyControl,
    ForceBuild(Option<Pattern>),
    StopBuild(Option<Pattern>),
    RebuildBuild(Option<Pattern>),
    EnableScheduler,
    ViewBuilds {
        branch: Option<Pattern>,
        project: Option<Pattern>,
        builder: Option<Pattern>,
    },
    /// `BranchEndpointMatcher`: declared by Buildbot and never matching.
    Never,
}

/// How a matcher matched: whether the request is about a build (whose owner may then give the
/// user the `RolesFromOwner` role).
enum Matched {
    Plain,
    Build,
}

/// A `builder`, `branch` or `project` pattern, or a rule's role, under `stringsMatcher`.
#[derive(Debug)]
enum Pattern {
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

#[derive(Debug, Default, Clone, Copy)]
struct Strings(StringsMatcher);

impl Strings {
    /// `None` only for a pattern the config check has already refused.
    fn compile(self, pattern: &str) -> Option<Pattern> {
        match self.0 {
            StringsMatcher::Fnmatch => globset::GlobBuilder::new(pattern)
                .backslash_escape(false)
                .build()
                .ok()
                .map(|g| Pattern::Glob(g.compile_matcher())),
            // Python's re.match: anchored at the start only.
            StringsMatcher::Regex => regex::Regex::new(&format!("^(?:{pattern})"))
                .ok()
                .map(Pattern::Regex),
        }
    }
}

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Glob(g) => g.is_match(value),
            Pattern::Regex(r) => r.is_match(value),
        }
    }
}

impl Authz {
    /// The rules of `[www.authz]`.
    pub fn new(config: &config::Authz) -> Self {
        let strings = Strings(config.strings_matcher);
        let pattern = |p: &Option<String>| p.as_deref().and_then(|p| strings.compile(p));
        let rules: Vec<Rule> = config
            .allow_rules
            .iter()
            .map(|rule| Rule {
                matcher: match &rule.matcher {
                    EndpointMatcher::AnyEndpoint => Matcher::Any,
                    EndpointMatcher::AnyControlEndpoint => Matcher::AnyControl,
                    EndpointMatcher::ForceBuild { builder } => {
                        Matcher::ForceBuild(pattern(builder))
                    }
                    EndpointMatcher::StopBuild { builder } => Matcher::StopBuild(pattern(builder)),
                    EndpointMatcher::RebuildBuild { builder } => {
                        Matcher::RebuildBuild(pattern(builder))
                    }
                    EndpointMatcher::EnableScheduler => Matcher::EnableScheduler,
                    EndpointMatcher::ViewBuilds {
                        branch,
                        project,
                        builder,
                    } => Matcher::ViewBuilds {
                        branch: pattern(branch),
                        project: pattern(project),
                        builder: pattern(builder),
                    },
                    EndpointMatcher::Branch { .. } => Matcher::Never,
                },
                role: rule.role.clone(),
                role_pattern: strings.compile(&rule.role),
                default_deny: rule.default_deny,
            })
            .collect();
        Authz {
            views: rules
                .iter()
                .any(|r| matches!(r.matcher, Matcher::ViewBuilds { .. })),
            rules,
            roles: RoleMatchers::new(&config.role_matchers),
            lookups: Lookups::default(),
        }
    }

    /// Whether any rule is configured (without rules everyone may read and do everything, so
    /// every user gets the same answers).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Whether `user` has `role` by the role matchers (`RolesFromOwner` aside: that role
    /// depends on the build a request is about).
    pub fn has_role(&self, user: &User, role: &str) -> bool {
        self.roles.roles(user).contains(role)
    }

    /// Whether collections of builders, builds, build requests and test result sets are
    /// filtered item by item (a `ViewBuildsEndpointMatcher` is configured).
    pub fn filters_items(&self) -> bool {
        self.views
    }

    /// Whether `user` may do `action` on `path` (below `/api/v2/`, without a leading slash).
    /// `options` are a control action's parameters.
    pub async fn check(
        &self,
        data: &DataApi,
        user: &User,
        path: &str,
        action: Action<'_>,
        options: &Map<String, Value>,
    ) -> Result<(), Denied> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let subject = Subject::new(data, &self.lookups, path, None, options);
        self.decide(user, &subject, action).await
    }

    /// Whether `user` may read `item`, an entity at `path` (a collection's item, an event's
    /// message), without reading it again.
    pub async fn check_item(
        &self,
        data: &DataApi,
        user: &User,
        path: &str,
        item: &Map<String, Value>,
    ) -> Result<(), Denied> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let none = Map::new();
        let subject = Subject::new(data, &self.lookups, path, Some(item), &none);
        self.decide(user, &subject, Action::Get).await
    }

    /// Whether `user` may receive a live event: the rules decide as for a read of the entity
    /// the event is about (`builds/7` for `builders/3/builds/2/update`).
    pub async fn may_receive(&self, data: &DataApi, user: &User, event: &Event) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        if let [builds, id, properties, _] = event.key.as_slice() {
            if builds == "builds" && properties == "properties" {
                // A build's properties: what reading them would need.
                return self
                    .check(
                        data,
                        user,
                        &format!("builds/{id}/properties"),
                        Action::Get,
                        &Map::new(),
                    )
                    .await
                    .is_ok();
            }
        }
        let Some(path) = event_entity(event) else {
            return self
                .check(data, user, &event.key.join("/"), Action::Get, &Map::new())
                .await
                .is_ok();
        };
        match &event.message {
            Value::Object(item) => self.check_item(data, user, &path, item).await.is_ok(),
            _ => self
                .check(data, user, &path, Action::Get, &Map::new())
                .await
                .is_ok(),
        }
    }

    async fn decide(
        &self,
        user: &User,
        subject: &Subject<'_>,
        action: Action<'_>,
    ) -> Result<(), Denied> {
        let mut roles: BTreeSet<String> = self.roles.roles(user);
        for rule in &self.rules {
            let Some(matched) = self.matches(&rule.matcher, subject, action).await else {
                continue;
            };
            if matches!(matched, Matched::Build) && self.roles.has_owner_roles() {
                if let Some(Scope::Build(Some(context))) = subject.scope().await {
                    if let Some(owner) = &context.owner {
                        roles.extend(self.roles.owner_roles(user, owner).cloned());
                    }
                }
            }
            let role_matches =
                |r: &String| rule.role_pattern.as_ref().is_some_and(|p| p.matches(r));
            if roles.iter().any(role_matches) {
                return Ok(());
            }
            if rule.default_deny {
                return Err(Denied {
                    role: rule.role.clone(),
                });
            }
        }
        Ok(())
    }

    async fn matches(
        &self,
        matcher: &Matcher,
        subject: &Subject<'_>,
        action: Action<'_>,
    ) -> Option<Matched> {
        // Resolved only for the matchers that look at the endpoint.
        let kind = || subject.kind();
        match (matcher, action) {
            (Matcher::Any, _) => Some(Matched::Plain),
            (Matcher::AnyControl, Action::Control(_)) => Some(Matched::Plain),
            (Matcher::StopBuild(builder), Action::Control("stop"))
                if matches!(kind(), Some(Kind::Build | Kind::BuildRequest)) =>
            {
                self.build_matches(subject, builder.as_ref()).await
            }
            (Matcher::RebuildBuild(builder), Action::Control("rebuild"))
                if kind() == Some(Kind::Build) =>
            {
                self.build_matches(subject, builder.as_ref()).await
            }
            (Matcher::ForceBuild(builder), Action::Control("force"))
                if kind() == Some(Kind::ForceScheduler) =>
            {
                let Some(builder) = builder else {
                    return Some(Matched::Plain);
                };
                // Builders this server cannot name (a scheduler only the linked master knows):
                // the rule matches, so that it refuses rather than lets through.
                let Some(names) = force_builder_names(subject).await else {
                    return Some(Matched::Plain);
                };
                names
                    .iter()
                    .any(|n| builder.matches(n))
                    .then_some(Matched::Plain)
            }
            (Matcher::EnableScheduler, Action::Control("enable"))
                if kind() == Some(Kind::Scheduler) =>
            {
                Some(Matched::Plain)
            }
            (
                Matcher::ViewBuilds {
                    branch,
                    project,
                    builder,
                },
                Action::Get,
            ) => {
                let any = |p: &Option<Pattern>, values: &[String]| {
                    p.as_ref()
                        .is_none_or(|p| values.iter().any(|v| p.matches(v)))
                };
                match subject.scope().await? {
                    Scope::Builder(name) => {
                        // A builder is hidden only by a rule about builders alone.
                        if branch.is_some() || project.is_some() {
                            return None;
                        }
                        let name = name.unwrap_or_default();
                        builder
                            .as_ref()
                            .is_none_or(|p| p.matches(&name))
                            .then_some(Matched::Plain)
                    }
                    Scope::Build(None) => None,
                    Scope::Build(Some(context)) => {
                        let name = context.builder.clone().unwrap_or_default();
                        (builder.as_ref().is_none_or(|p| p.matches(&name))
                            && any(branch, &context.branches)
                            && any(project, &context.projects))
                        .then_some(Matched::Build)
                    }
                }
            }
            _ => None,
        }
    }

    /// Stop and rebuild: Buildbot matches a missing build too when there is no `builder`
    /// filter (and the owner, unknown, then gives no role).
    async fn build_matches(
        &self,
        subject: &Subject<'_>,
        builder: Option<&Pattern>,
    ) -> Option<Matched> {
        let Some(builder) = builder else {
            return Some(Matched::Build);
        };
        match subject.scope().await? {
            Scope::Build(Some(context)) => context
                .builder
                .as_deref()
                .is_some_and(|n| builder.matches(n))
                .then_some(Matched::Build),
            _ => None,
        }
    }
}

/// The entity path an event is about: its key's last collection and id (`steps/12` for
/// `builds/7/steps/12/new`), the id taken from the message where the key has a number or a
/// slug instead (`builders/3/builds/2/…`, `steps/12/logs/stdio/…`).
fn event_entity(event: &Event) -> Option<String> {
    let key = &event.key;
    let n = key.len();
    if n < 3 {
        return None;
    }
    let collection = key[n - 3].as_str();
    let id_field = match collection {
        "builds" => "buildid",
        "steps" => "stepid",
        "logs" => "logid",
        "buildrequests" => "buildrequestid",
        "buildsets" => "bsid",
        "changes" => "changeid",
        "workers" => "workerid",
        "builders" => "builderid",
        "masters" => "masterid",
        "schedulers" => "schedulerid",
        _ => return None,
    };
    let id = match event.message.get(id_field).and_then(Value::as_i64) {
        Some(id) => id.to_string(),
        None => key[n - 2].clone(),
    };
    Some(format!("{collection}/{id}"))
}

/// The builders a force call would start, as Buildbot's `computeBuilderNames` sees them: the
/// `builderNames` parameter, or the builder `builderid` names, or all of the scheduler's. `None`
/// when they cannot be known here: a scheduler missing from this server's config (only the
/// linked master knows it) with no `builderNames`, or a `builderid` that names no builder.
async fn force_builder_names(subject: &Subject<'_>) -> Option<Vec<String>> {
    let name = subject.scheduler_name()?;
    let scheduler = subject
        .data()
        .forceschedulers()
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name));
    let all: Option<Vec<String>> = scheduler.map(|s| {
        s.get("builder_names")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    });
    let known = |n: &String| all.as_ref().is_none_or(|all| all.contains(n));
    if let Some(asked) = subject
        .options
        .get("builderNames")
        .and_then(Value::as_array)
    {
        let asked: Vec<String> = asked
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        return Some(asked.into_iter().filter(|n| known(n)).collect());
    }
    if let Some(id) = subject.options.get("builderid") {
        let id = crate::control::force::builder_id(id)?;
        let name = subject.builder_name(id).await?;
        return Some(if known(&name) { vec![name] } else { Vec::new() });
    }
    all
}
