//! Role matchers: the roles a user has (Buildbot's `RolesFromGroups`, `RolesFromEmails`,
//! `RolesFromDomain`, `RolesFromUsername`), and the owner's role (`RolesFromOwner`), which
//! depends on the build a request is about.

use std::collections::BTreeSet;

use crate::config::RoleMatcher;
use crate::identity::User;

/// The configured role matchers.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleMatchers {
    matchers: Vec<RoleMatcher>,
    /// `RolesFromOwner` roles, given only for a request about the user's own build.
    owner_roles: Vec<String>,
}

impl RoleMatchers {
    pub(crate) fn new(matchers: &[RoleMatcher]) -> Self {
        let owner_roles = matchers
            .iter()
            .filter_map(|m| match m {
                RoleMatcher::RolesFromOwner { role } => Some(role.clone()),
                _ => None,
            })
            .collect();
        RoleMatchers {
            matchers: matchers.to_vec(),
            owner_roles,
        }
    }

    /// Whether any `RolesFromOwner` is configured (only then is a build's owner looked up).
    pub(crate) fn has_owner_roles(&self) -> bool {
        !self.owner_roles.is_empty()
    }

    /// The roles `user` has whatever the request is about. Anonymous users have none.
    pub(crate) fn roles(&self, user: &User) -> BTreeSet<String> {
        let mut roles = BTreeSet::new();
        let User::Known {
            username,
            email,
            groups,
            ..
        } = user
        else {
            return roles;
        };
        for matcher in &self.matchers {
            match matcher {
                RoleMatcher::RolesFromGroups { group_prefix } => roles.extend(
                    groups
                        .iter()
                        .filter_map(|g| g.strip_prefix(group_prefix.as_str()))
                        .map(str::to_string),
                ),
                RoleMatcher::RolesFromEmails { roles: table } => {
                    if let Some(email) = email {
                        roles.extend(named_roles(table, |e| e == email));
                    }
                }
                RoleMatcher::RolesFromDomain { roles: table } => {
                    if let Some((_, domain)) = email.as_deref().and_then(|e| e.rsplit_once('@')) {
                        roles.extend(named_roles(table, |d| d == domain));
                    }
                }
                RoleMatcher::RolesFromUsername {
                    roles: granted,
                    usernames,
                } => {
                    if usernames.iter().any(|u| u == username) {
                        roles.extend(granted.iter().cloned());
                    }
                }
                RoleMatcher::RolesFromOwner { .. } => {}
            }
        }
        roles
    }

    /// The `RolesFromOwner` roles of `user` for a build owned by `owner` (the buildset's
    /// `owner` property): given when the user's email is exactly the owner, as in Buildbot.
    pub(crate) fn owner_roles(&self, user: &User, owner: &str) -> impl Iterator<Item = &String> {
        let owns = matches!(user, User::Known { email: Some(email), .. } if email == owner);
        self.owner_roles.iter().filter(move |_| owns)
    }
}

/// The roles of a `{role = [values]}` table whose values include one `matches` accepts.
fn named_roles<'a>(
    table: &'a [(String, Vec<String>)],
    matches: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = String> + 'a {
    table
        .iter()
        .filter(move |(_, values)| values.iter().any(|v| matches(v)))
        .map(|(role, _)| role.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: Option<&str>, groups: &[&str]) -> User {
        User::Known {
            username: name.into(),
            full_name: None,
            email: email.map(str::to_string),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            extra: Default::default(),
        }
    }

    fn table(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(r, v)| (r.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn each_matcher_gives_its_roles() {
        let matchers = RoleMatchers::new(&[
            RoleMatcher::RolesFromGroups {
                group_prefix: "bb-".into(),
            },
            RoleMatcher::RolesFromEmails {
                roles: table(&[("admins", &["homer@springfield.org"])]),
            },
            RoleMatcher::RolesFromDomain {
                roles: table(&[("staff", &["plant.org"]), ("town", &["springfield.org"])]),
            },
            RoleMatcher::RolesFromUsername {
                roles: vec!["users".into(), "testers".into()],
                usernames: vec!["bart".into()],
            },
            RoleMatcher::RolesFromOwner {
                role: "owner".into(),
            },
        ]);
        let homer = user(
            "homer",
            Some("homer@springfield.org"),
            &["bb-devs", "other", "bb-"],
        );
        let got: Vec<String> = matchers.roles(&homer).into_iter().collect();
        assert_eq!(got, ["", "admins", "devs", "town"]);
        let bart = user("bart", Some("bart@plant.org"), &[]);
        let got: Vec<String> = matchers.roles(&bart).into_iter().collect();
        assert_eq!(got, ["staff", "testers", "users"]);
        assert!(matchers.roles(&User::Anonymous).is_empty());
        // A user without an email gets no email or domain roles.
        assert!(matchers.roles(&user("lisa", None, &[])).is_empty());
        // The owner's role only for the owner's build, compared exactly.
        assert_eq!(
            matchers.owner_roles(&bart, "bart@plant.org").count(),
            1,
            "owner"
        );
        assert_eq!(matchers.owner_roles(&bart, "BART@plant.org").count(), 0);
        assert_eq!(matchers.owner_roles(&User::Anonymous, "").count(), 0);
        assert!(matchers.has_owner_roles());
    }
}
