//! `[www] auth`, `authz` and `avatar_methods`: Buildbot's authentication, authorization and
//! avatar classes written as TOML tables whose `type` (or `matcher`) names the class.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::de::Deserializer;
use serde::Deserialize;

use super::bounded::Bounded;
use super::error::{Fail, KeyPath};
use super::secret::Secret;
use super::{check_http_url, ordered_map};

/// `[www.auth]`: how users log in. `type` names Buildbot's class.
#[derive(Debug, Clone, Deserialize)]
// A table tagged by its `type` key (the config reader's convention for an enum renamed to a
// lower-case key, see `config::de`).
#[serde(rename = "type", deny_unknown_fields)]
pub enum Auth {
    /// `type = "NoAuth"` (the default): nobody logs in; everyone is anonymous.
    NoAuth {},
    /// `type = "UserPasswordAuth"`: users and passwords listed in the config.
    UserPasswordAuth(UserPasswordAuth),
    /// `type = "HTPasswdAuth"`: users and passwords in an `.htpasswd` file.
    HTPasswdAuth(HtPasswdAuth),
    /// `type = "RemoteUserAuth"`: a reverse proxy authenticates and passes the user in a header.
    RemoteUserAuth(RemoteUserAuth),
    /// `type = "CustomAuth"`: an external command checks the credentials.
    CustomAuth(CustomAuth),
    /// `type = "GoogleAuth"`: Google single sign-on (OAuth2).
    GoogleAuth(GoogleAuth),
    /// `type = "GitHubAuth"`: GitHub single sign-on (OAuth2).
    GitHubAuth(GitHubAuth),
    /// `type = "GitLabAuth"`: GitLab single sign-on (OAuth2).
    GitLabAuth(GitLabAuth),
    /// `type = "BitbucketAuth"`: Bitbucket single sign-on (OAuth2).
    BitbucketAuth(BitbucketAuth),
}

impl Default for Auth {
    fn default() -> Self {
        Auth::NoAuth {}
    }
}

impl Auth {
    /// Buildbot's class name, as `/config` shows it in `auth.name`.
    pub fn name(&self) -> &'static str {
        match self {
            Auth::NoAuth {} => "NoAuth",
            Auth::UserPasswordAuth(_) => "UserPasswordAuth",
            Auth::HTPasswdAuth(_) => "HTPasswdAuth",
            Auth::RemoteUserAuth(_) => "RemoteUserAuth",
            Auth::CustomAuth(_) => "CustomAuth",
            Auth::GoogleAuth(_) => "GoogleAuth",
            Auth::GitHubAuth(_) => "GitHubAuth",
            Auth::GitLabAuth(_) => "GitLabAuth",
            Auth::BitbucketAuth(_) => "BitbucketAuth",
        }
    }

    /// The user info provider attached to this method, if any.
    pub fn user_info_provider(&self) -> Option<&UserInfoProvider> {
        match self {
            Auth::RemoteUserAuth(a) => a.user_info_provider.as_ref(),
            Auth::GoogleAuth(a) => a.user_info_provider.as_ref(),
            Auth::GitHubAuth(a) => a.user_info_provider.as_ref(),
            Auth::GitLabAuth(a) => a.user_info_provider.as_ref(),
            Auth::BitbucketAuth(a) => a.user_info_provider.as_ref(),
            _ => None,
        }
    }

    /// Checks the values, resolves paths against `base_dir` and reads the secrets.
    pub(crate) fn validate(&mut self, path: &KeyPath, base_dir: &Path) -> Result<(), Fail> {
        match self {
            Auth::NoAuth {} => Ok(()),
            Auth::UserPasswordAuth(a) => {
                for (user, password) in &mut a.users {
                    let at = path.key("users").key(user);
                    if user.is_empty() {
                        return Err(Fail::at_key(at, "a user name must not be empty"));
                    }
                    password.resolve(&at, base_dir)?;
                }
                Ok(())
            }
            Auth::HTPasswdAuth(a) => {
                let full = base_dir.join(&a.passwd_file);
                if !full.is_file() {
                    return Err(Fail::at(
                        path.key("passwdFile"),
                        format!("'{}' is not a readable file", a.passwd_file.display()),
                    ));
                }
                a.passwd_file = full;
                Ok(())
            }
            Auth::RemoteUserAuth(a) => {
                if a.header.trim().is_empty() {
                    return Err(Fail::at(path.key("header"), "must not be empty"));
                }
                a.header_regex.compile(&path.key("headerRegex"))?;
                if !a
                    .header_regex
                    .regex()
                    .capture_names()
                    .any(|n| n == Some("username"))
                {
                    return Err(Fail::at(
                        path.key("headerRegex"),
                        "the regular expression needs a group named 'username', as in (?P<username>...)",
                    ));
                }
                validate_provider(&mut a.user_info_provider, path, base_dir)
            }
            Auth::CustomAuth(a) => a.validate(path, base_dir),
            Auth::GoogleAuth(a) => {
                check_client(&a.client_id, &mut a.client_secret, path, base_dir)?;
                check_endpoints([&a.auth_uri, &a.token_uri, &a.resource_endpoint], path)?;
                validate_provider(&mut a.user_info_provider, path, base_dir)
            }
            Auth::GitHubAuth(a) => {
                check_client(&a.client_id, &mut a.client_secret, path, base_dir)?;
                check_endpoints([&a.auth_uri, &a.token_uri, &a.resource_endpoint], path)?;
                if let Some(url) = &a.server_url {
                    check_http_url(url).map_err(|m| Fail::at(path.key("serverURL"), m))?;
                }
                if a.api_version != 3 && a.api_version != 4 {
                    return Err(Fail::at(
                        path.key("apiVersion"),
                        format!("must be 3 (REST) or 4 (GraphQL), found {}", a.api_version),
                    ));
                }
                if a.get_teams_membership && a.api_version != 4 {
                    return Err(Fail::at(
                        path.key("getTeamsMembership"),
                        "team membership needs apiVersion = 4",
                    ));
                }
                validate_provider(&mut a.user_info_provider, path, base_dir)
            }
            Auth::GitLabAuth(a) => {
                check_http_url(&a.instance_uri)
                    .map_err(|m| Fail::at(path.key("instanceUri"), m))?;
                check_client(&a.client_id, &mut a.client_secret, path, base_dir)?;
                check_endpoints([&a.auth_uri, &a.token_uri, &a.resource_endpoint], path)?;
                validate_provider(&mut a.user_info_provider, path, base_dir)
            }
            Auth::BitbucketAuth(a) => {
                check_client(&a.client_id, &mut a.client_secret, path, base_dir)?;
                check_endpoints([&a.auth_uri, &a.token_uri, &a.resource_endpoint], path)?;
                validate_provider(&mut a.user_info_provider, path, base_dir)
            }
        }
    }
}

fn check_client(
    client_id: &str,
    client_secret: &mut Secret,
    path: &KeyPath,
    base_dir: &Path,
) -> Result<(), Fail> {
    if client_id.trim().is_empty() {
        return Err(Fail::at(path.key("clientId"), "must not be empty"));
    }
    client_secret.resolve(&path.key("clientSecret"), base_dir)
}

/// The OAuth2 endpoint overrides (`authUri`, `tokenUri`, `resourceEndpoint`, in that order)
/// must be http(s) URLs.
fn check_endpoints(endpoints: [&Option<String>; 3], path: &KeyPath) -> Result<(), Fail> {
    for (key, url) in ["authUri", "tokenUri", "resourceEndpoint"]
        .into_iter()
        .zip(endpoints)
    {
        if let Some(url) = url {
            check_http_url(url).map_err(|m| Fail::at(path.key(key), m))?;
        }
    }
    Ok(())
}

fn validate_provider(
    provider: &mut Option<UserInfoProvider>,
    path: &KeyPath,
    base_dir: &Path,
) -> Result<(), Fail> {
    match provider {
        Some(UserInfoProvider::LdapUserInfo(ldap)) => {
            ldap.validate(&path.key("userInfoProvider"), base_dir)
        }
        None => Ok(()),
    }
}

fn default_true() -> bool {
    true
}

/// `type = "UserPasswordAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPasswordAuth {
    /// `users`: a table of user name to password (each a secret), in file order.
    #[serde(deserialize_with = "ordered_map")]
    pub users: Vec<(String, Secret)>,
}

/// `type = "HTPasswdAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtPasswdAuth {
    /// `passwdFile`: the `.htpasswd` file, relative to the base directory (resolved at load).
    #[serde(rename = "passwdFile")]
    pub passwd_file: PathBuf,
}

/// `type = "RemoteUserAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteUserAuth {
    /// `header`: the request header holding the user (default `REMOTE_USER`).
    #[serde(default = "default_remote_user_header")]
    pub header: String,
    /// `headerRegex`: how to read the user from the header; needs a `username` group
    /// (default `(?P<username>[^ @]+)@(?P<realm>[^ @]+)`).
    #[serde(rename = "headerRegex", default = "default_header_regex")]
    pub header_regex: ConfigRegex,
    /// `userInfoProvider`: where to find the user's name, email and groups.
    #[serde(rename = "userInfoProvider", default)]
    pub user_info_provider: Option<UserInfoProvider>,
}

fn default_remote_user_header() -> String {
    "REMOTE_USER".to_owned()
}

fn default_header_regex() -> ConfigRegex {
    ConfigRegex::from_source(r"(?P<username>[^ @]+)@(?P<realm>[^ @]+)")
}

/// `type = "CustomAuth"`: exactly one of `plugin` (with its `options`) and `command` (with its
/// `deadline_ms`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomAuth {
    /// `plugin`: an authentication plugin (WIT world `auth-plugin`), found in the plugin
    /// folders as `<plugin>.wasm` and limited by `[www.plugin_limits.<plugin>]`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// `options`: the plugin's own config, the JSON object its `init` receives (`{}` when
    /// absent); secrets inside (`{ env = ... }`, `{ file = ... }`) are resolved at load.
    #[serde(default)]
    options: Option<serde_json::Map<String, serde_json::Value>>,
    /// `command`: the program and its arguments. It runs in the base directory, reads the user
    /// name and the password on two lines of its standard input, and accepts the login by
    /// exiting with status 0 (see docs/authentication.md).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// `deadline_ms`: how long the command may run before it is killed (default 10 000).
    #[serde(default)]
    deadline_ms: Option<Bounded<1, 600_000>>,
    /// The base directory, where the command runs (set at load).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The options' values may be secrets: only their names are shown.
impl std::fmt::Debug for CustomAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomAuth")
            .field("plugin", &self.plugin)
            .field(
                "options",
                &self.options.as_ref().map(|o| o.keys().collect::<Vec<_>>()),
            )
            .field("command", &self.command)
            .field("deadline_ms", &self.deadline_ms)
            .finish()
    }
}

impl CustomAuth {
    /// The plugin's name and options, when the plugin form is configured.
    pub fn plugin(&self) -> Option<(&str, serde_json::Value)> {
        let options = self.options.clone().unwrap_or_default();
        Some((self.plugin.as_deref()?, serde_json::Value::Object(options)))
    }

    /// How long the command may run.
    pub fn command_deadline(&self) -> Duration {
        self.deadline_ms
            .map_or(Duration::from_secs(10), Bounded::millis)
    }

    fn validate(&mut self, path: &KeyPath, base_dir: &Path) -> Result<(), Fail> {
        self.base_dir = base_dir.to_owned();
        match (&self.plugin, &self.command) {
            (Some(_), Some(_)) => {
                return Err(Fail::at(
                    path.key("command"),
                    "give either plugin or command, not both",
                ))
            }
            (None, None) => {
                return Err(Fail::at(
                    path.key("type"),
                    "CustomAuth needs plugin = \"<name>\" (an authentication plugin) or \
                     command = [\"program\", ...]",
                ))
            }
            (Some(name), None) => {
                if !super::is_plugin_name(name) {
                    return Err(Fail::at(
                        path.key("plugin"),
                        format!("'{name}' is not a plugin name (letters, digits and '_', not starting with a digit)"),
                    ));
                }
                if self.deadline_ms.is_some() {
                    return Err(Fail::at(
                        path.key("deadline_ms"),
                        format!("deadline_ms is the command's; a plugin's deadline is [www.plugin_limits.{name}] deadline_ms"),
                    ));
                }
                if let Some(options) = &mut self.options {
                    super::secret::resolve_within(options, &path.key("options"), base_dir)?;
                }
            }
            (None, Some(command)) => {
                if self.options.is_some() {
                    return Err(Fail::at(
                        path.key("options"),
                        "options are an authentication plugin's; a command takes arguments",
                    ));
                }
                match command.first() {
                    Some(program) if !program.trim().is_empty() => {}
                    _ => {
                        return Err(Fail::at(
                            path.key("command"),
                            "needs at least the program to run",
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

/// `type = "GoogleAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleAuth {
    /// `clientId`: the OAuth2 client id.
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `clientSecret`: the OAuth2 client secret.
    #[serde(rename = "clientSecret")]
    pub client_secret: Secret,
    /// `autologin`: go to the provider without showing the login button first.
    #[serde(default)]
    pub autologin: bool,
    /// `ssl_verify`: check the provider's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub ssl_verify: bool,
    /// `userInfoProvider`: where to find more about the user.
    #[serde(rename = "userInfoProvider", default)]
    pub user_info_provider: Option<UserInfoProvider>,
    /// `authUri`: the provider's authorization page (default: the provider's own).
    #[serde(rename = "authUri", default)]
    pub auth_uri: Option<String>,
    /// `tokenUri`: the provider's token endpoint (default: the provider's own).
    #[serde(rename = "tokenUri", default)]
    pub token_uri: Option<String>,
    /// `resourceEndpoint`: the base URL of the provider's user API (default: the provider's own).
    #[serde(rename = "resourceEndpoint", default)]
    pub resource_endpoint: Option<String>,
}

/// `type = "GitHubAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubAuth {
    /// `clientId`: the OAuth2 client id.
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `clientSecret`: the OAuth2 client secret.
    #[serde(rename = "clientSecret")]
    pub client_secret: Secret,
    /// `serverURL`: a GitHub Enterprise server (default github.com).
    #[serde(rename = "serverURL", default)]
    pub server_url: Option<String>,
    /// `apiVersion`: 3 (REST, default) or 4 (GraphQL).
    #[serde(rename = "apiVersion", default = "default_github_api")]
    pub api_version: u8,
    /// `getTeamsMembership`: add `org/team` groups (needs `apiVersion = 4`).
    #[serde(rename = "getTeamsMembership", default)]
    pub get_teams_membership: bool,
    /// `debug`: log the GraphQL queries and answers.
    #[serde(default)]
    pub debug: bool,
    /// `autologin`: go to the provider without showing the login button first.
    #[serde(default)]
    pub autologin: bool,
    /// `ssl_verify`: check the provider's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub ssl_verify: bool,
    /// `userInfoProvider`: where to find more about the user.
    #[serde(rename = "userInfoProvider", default)]
    pub user_info_provider: Option<UserInfoProvider>,
    /// `authUri`: the provider's authorization page (default: the provider's own).
    #[serde(rename = "authUri", default)]
    pub auth_uri: Option<String>,
    /// `tokenUri`: the provider's token endpoint (default: the provider's own).
    #[serde(rename = "tokenUri", default)]
    pub token_uri: Option<String>,
    /// `resourceEndpoint`: the base URL of the provider's user API (default: the provider's own).
    #[serde(rename = "resourceEndpoint", default)]
    pub resource_endpoint: Option<String>,
}

fn default_github_api() -> u8 {
    3
}

/// `type = "GitLabAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabAuth {
    /// `instanceUri`: the GitLab server, e.g. `https://gitlab.com`.
    #[serde(rename = "instanceUri")]
    pub instance_uri: String,
    /// `clientId`: the OAuth2 client id.
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `clientSecret`: the OAuth2 client secret.
    #[serde(rename = "clientSecret")]
    pub client_secret: Secret,
    /// `autologin`: go to the provider without showing the login button first.
    #[serde(default)]
    pub autologin: bool,
    /// `ssl_verify`: check the provider's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub ssl_verify: bool,
    /// `userInfoProvider`: where to find more about the user.
    #[serde(rename = "userInfoProvider", default)]
    pub user_info_provider: Option<UserInfoProvider>,
    /// `authUri`: the provider's authorization page (default: the provider's own).
    #[serde(rename = "authUri", default)]
    pub auth_uri: Option<String>,
    /// `tokenUri`: the provider's token endpoint (default: the provider's own).
    #[serde(rename = "tokenUri", default)]
    pub token_uri: Option<String>,
    /// `resourceEndpoint`: the base URL of the provider's user API (default: the provider's own).
    #[serde(rename = "resourceEndpoint", default)]
    pub resource_endpoint: Option<String>,
}

/// `type = "BitbucketAuth"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitbucketAuth {
    /// `clientId`: the OAuth2 client id.
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `clientSecret`: the OAuth2 client secret.
    #[serde(rename = "clientSecret")]
    pub client_secret: Secret,
    /// `autologin`: go to the provider without showing the login button first.
    #[serde(default)]
    pub autologin: bool,
    /// `ssl_verify`: check the provider's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub ssl_verify: bool,
    /// `userInfoProvider`: where to find more about the user.
    #[serde(rename = "userInfoProvider", default)]
    pub user_info_provider: Option<UserInfoProvider>,
    /// `authUri`: the provider's authorization page (default: the provider's own).
    #[serde(rename = "authUri", default)]
    pub auth_uri: Option<String>,
    /// `tokenUri`: the provider's token endpoint (default: the provider's own).
    #[serde(rename = "tokenUri", default)]
    pub token_uri: Option<String>,
    /// `resourceEndpoint`: the base URL of the provider's user API (default: the provider's own).
    #[serde(rename = "resourceEndpoint", default)]
    pub resource_endpoint: Option<String>,
}

/// `userInfoProvider`: where user details come from when the login method lacks them.
#[derive(Debug, Clone, Deserialize)]
// A table tagged by its `type` key (the config reader's convention for an enum renamed to a
// lower-case key, see `config::de`).
#[serde(rename = "type", deny_unknown_fields)]
pub enum UserInfoProvider {
    /// `type = "LdapUserInfo"`.
    LdapUserInfo(LdapUserInfo),
}

/// `type = "LdapUserInfo"`: user details (and avatars) from an LDAP directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapUserInfo {
    /// `uri`: the server, `ldap://host:port` or `ldaps://host:port`.
    pub uri: String,
    /// `bindUser`: the account used to search the directory.
    #[serde(rename = "bindUser")]
    pub bind_user: String,
    /// `bindPw`: the password of `bindUser`.
    #[serde(rename = "bindPw")]
    pub bind_pw: Secret,
    /// `accountBase`: the base DN of the accounts.
    #[serde(rename = "accountBase")]
    pub account_base: String,
    /// `accountPattern`: the account search filter; contains `%(username)s`.
    #[serde(rename = "accountPattern")]
    pub account_pattern: String,
    /// `accountFullName`: the attribute holding the full name.
    #[serde(rename = "accountFullName")]
    pub account_full_name: String,
    /// `accountEmail`: the attribute holding the email address.
    #[serde(rename = "accountEmail")]
    pub account_email: String,
    /// `groupBase`: the base DN of the groups (with `groupMemberPattern` and `groupName`).
    #[serde(rename = "groupBase", default)]
    pub group_base: Option<String>,
    /// `groupMemberPattern`: the group search filter; contains `%(dn)s`.
    #[serde(rename = "groupMemberPattern", default)]
    pub group_member_pattern: Option<String>,
    /// `groupName`: the attribute holding the group name.
    #[serde(rename = "groupName", default)]
    pub group_name: Option<String>,
    /// `avatarPattern`: the avatar search filter; contains `%(email)s`.
    #[serde(rename = "avatarPattern", default)]
    pub avatar_pattern: Option<String>,
    /// `avatarData`: the attribute holding the picture.
    #[serde(rename = "avatarData", default)]
    pub avatar_data: Option<String>,
    /// `accountExtraFields`: more attributes to read, for authorization rules.
    #[serde(rename = "accountExtraFields", default)]
    pub account_extra_fields: Vec<String>,
    /// `tls`: how the server's certificate is checked (Buildbot's `ldap3.Tls`); without it
    /// `ldaps://` checks against the system's roots.
    #[serde(default)]
    pub tls: Option<Box<LdapTls>>,
}

/// `tls` of `LdapUserInfo`: TLS settings for `ldaps://` or StartTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapTls {
    /// `ca_certs_file`: PEM certificates the server's certificate must chain to, instead of
    /// the system's roots (relative to the base directory; resolved at load).
    #[serde(default)]
    pub ca_certs_file: Option<PathBuf>,
    /// `validate`: check the server's certificate (default true; false only for a test
    /// directory with a throwaway certificate).
    #[serde(default = "default_true")]
    pub validate: bool,
    /// `start_tls`: on an `ldap://` URI, upgrade the connection with StartTLS before binding
    /// (default false, as Buildbot).
    #[serde(default)]
    pub start_tls: bool,
}

impl LdapUserInfo {
    fn validate(&mut self, path: &KeyPath, base_dir: &Path) -> Result<(), Fail> {
        let host = self
            .uri
            .split_once("://")
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("ldap") || scheme.eq_ignore_ascii_case("ldaps")
            })
            .map(|(_, rest)| rest);
        if host.is_none_or(|h| h.is_empty()) {
            return Err(Fail::at(
                path.key("uri"),
                format!(
                    "'{}' is not an LDAP URI (ldap://host:port or ldaps://host:port)",
                    self.uri
                ),
            ));
        }
        for (key, value) in [
            ("bindUser", &self.bind_user),
            ("accountBase", &self.account_base),
            ("accountFullName", &self.account_full_name),
            ("accountEmail", &self.account_email),
        ] {
            if value.trim().is_empty() {
                return Err(Fail::at(path.key(key), "must not be empty"));
            }
        }
        if !self.account_pattern.contains("%(username)s") {
            return Err(Fail::at(
                path.key("accountPattern"),
                "must contain %(username)s, where the user name goes",
            ));
        }
        let groups = [
            ("groupBase", &self.group_base),
            ("groupMemberPattern", &self.group_member_pattern),
            ("groupName", &self.group_name),
        ];
        let given: Vec<&str> = groups
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        if !given.is_empty() && given.len() < groups.len() {
            let missing: Vec<&str> = groups
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
            return Err(Fail::at(
                path.key(given[0]),
                format!(
                    "groupBase, groupMemberPattern and groupName go together; missing {}",
                    missing.join(" and ")
                ),
            ));
        }
        if let Some(pattern) = &self.group_member_pattern {
            if !pattern.contains("%(dn)s") {
                return Err(Fail::at(
                    path.key("groupMemberPattern"),
                    "must contain %(dn)s, where the user's DN goes",
                ));
            }
        }
        match (&self.avatar_pattern, &self.avatar_data) {
            (Some(pattern), Some(_)) => {
                if !pattern.contains("%(email)s") {
                    return Err(Fail::at(
                        path.key("avatarPattern"),
                        "must contain %(email)s, where the email address goes",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(Fail::at(
                    path.key("avatarPattern"),
                    "avatarPattern and avatarData go together; missing avatarData",
                ))
            }
            (None, Some(_)) => {
                return Err(Fail::at(
                    path.key("avatarData"),
                    "avatarPattern and avatarData go together; missing avatarPattern",
                ))
            }
            (None, None) => {}
        }
        if let Some(tls) = &mut self.tls {
            if tls.start_tls
                && self
                    .uri
                    .get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("ldaps:"))
            {
                return Err(Fail::at(
                    path.key("tls").key("start_tls"),
                    "start_tls is for ldap:// URIs; ldaps:// is TLS from the start",
                ));
            }
            if let Some(file) = &mut tls.ca_certs_file {
                let full = base_dir.join(&*file);
                if !full.is_file() {
                    return Err(Fail::at(
                        path.key("tls").key("ca_certs_file"),
                        format!("{} is not a readable file", full.display()),
                    ));
                }
                *file = full;
            }
        }
        self.bind_pw.resolve(&path.key("bindPw"), base_dir)
    }
}

/// A regular expression from the config: its text, compiled at load.
#[derive(Debug, Clone)]
pub struct ConfigRegex {
    source: String,
    compiled: OnceLock<regex::Regex>,
}

impl ConfigRegex {
    /// Compiles `source`; the error says why it is not a valid expression.
    pub fn new(source: &str) -> Result<Self, String> {
        let compiled = regex::Regex::new(source).map_err(|e| regex_error(&e))?;
        let cell = OnceLock::new();
        let _ = cell.set(compiled);
        Ok(ConfigRegex {
            source: source.to_owned(),
            compiled: cell,
        })
    }

    fn from_source(source: &str) -> Self {
        ConfigRegex {
            source: source.to_owned(),
            compiled: OnceLock::new(),
        }
    }

    fn compile(&mut self, path: &KeyPath) -> Result<(), Fail> {
        *self = ConfigRegex::new(&self.source).map_err(|m| Fail::at(path.clone(), m))?;
        Ok(())
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled expression (loaded configs have checked that it compiles).
    pub fn regex(&self) -> &regex::Regex {
        self.compiled.get_or_init(|| {
            regex::Regex::new(&self.source).unwrap_or_else(|_| regex::Regex::new("$^").unwrap())
        })
    }
}

fn regex_error(err: &regex::Error) -> String {
    let detail = err.to_string();
    let last = detail
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| detail.lines().last().unwrap_or_default().trim().to_owned());
    format!("invalid regular expression: {last}")
}

impl<'de> Deserialize<'de> for ConfigRegex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Ok(ConfigRegex::from_source(&source))
    }
}

/// `[www.authz]`: who may do what. Rules are tried in order (see Buildbot's `Authz`).
#[derive(Debug, Clone, Default)]
pub struct Authz {
    /// `allowRules`: endpoint matchers and the role each requires.
    pub allow_rules: Vec<AllowRule>,
    /// `roleMatchers`: how users get roles.
    pub role_matchers: Vec<RoleMatcher>,
    /// `stringsMatcher`: how `builder` and `branch` patterns match names.
    pub strings_matcher: StringsMatcher,
}

/// One of `allowRules`.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowRule {
    /// `matcher` and its filters.
    pub matcher: EndpointMatcher,
    /// `role`: the role a user needs when the matcher matches.
    pub role: String,
    /// `defaultDeny`: deny when the matcher matches and the user lacks the role (default
    /// true); when false, the next rules are tried.
    pub default_deny: bool,
}

/// `matcher`: which requests a rule is about (Buildbot's endpoint matcher classes).
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointMatcher {
    /// `AnyEndpointMatcher`: every request.
    AnyEndpoint,
    /// `AnyControlEndpointMatcher`: every control (non-GET) request.
    AnyControlEndpoint,
    /// `ForceBuildEndpointMatcher`: forcing builds, optionally only on `builder`.
    ForceBuild { builder: Option<String> },
    /// `StopBuildEndpointMatcher`: stopping builds or build requests, optionally on `builder`.
    StopBuild { builder: Option<String> },
    /// `RebuildBuildEndpointMatcher`: rebuilding, optionally on `builder`.
    RebuildBuild { builder: Option<String> },
    /// `EnableSchedulerEndpointMatcher`: enabling or disabling schedulers.
    EnableScheduler,
    /// `ViewBuildsEndpointMatcher`: declared but never matching, as in Buildbot.
    ViewBuilds {
        branch: Option<String>,
        project: Option<String>,
        builder: Option<String>,
    },
    /// `BranchEndpointMatcher`: declared but never matching, as in Buildbot.
    Branch { branch: String },
}

/// `stringsMatcher`: `"fnmatch"` (shell globs, default) or `"re"` (regular expressions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum StringsMatcher {
    /// `"fnmatch"`: `*`, `?` and `[...]` globs.
    #[default]
    #[serde(rename = "fnmatch")]
    Fnmatch,
    /// `"re"`: regular expressions, matched at the start of the name.
    #[serde(rename = "re")]
    Regex,
}

/// `roleMatchers`: how a user gets roles (Buildbot's role matcher classes).
#[derive(Debug, Clone, PartialEq, Deserialize)]
// A table tagged by its `type` key (the config reader's convention for an enum renamed to a
// lower-case key, see `config::de`).
#[serde(rename = "type", deny_unknown_fields)]
pub enum RoleMatcher {
    /// `type = "RolesFromGroups"`: each group starting with `groupPrefix` is a role (without
    /// the prefix).
    RolesFromGroups {
        /// `groupPrefix` (default empty).
        #[serde(rename = "groupPrefix", default)]
        group_prefix: String,
    },
    /// `type = "RolesFromEmails"`: `roles = { admins = ["homer@example.com"] }`.
    RolesFromEmails {
        /// `roles`: role name to email addresses.
        #[serde(deserialize_with = "ordered_map")]
        roles: Vec<(String, Vec<String>)>,
    },
    /// `type = "RolesFromDomain"`: `roles = { admins = ["example.com"] }`.
    RolesFromDomain {
        /// `roles`: role name to email domains.
        #[serde(deserialize_with = "ordered_map")]
        roles: Vec<(String, Vec<String>)>,
    },
    /// `type = "RolesFromOwner"`: the owner of a build gets `role`.
    RolesFromOwner {
        /// `role`.
        role: String,
    },
    /// `type = "RolesFromUsername"`: the listed users get the listed roles.
    RolesFromUsername {
        /// `roles`.
        roles: Vec<String>,
        /// `usernames`.
        usernames: Vec<String>,
    },
}

/// `allowRules` as written: the matcher tag plus its fields (variants are Buildbot's names).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Deserialize)]
// A table tagged by its `matcher` key (the config reader's convention for an enum renamed to a
// lower-case key, see `config::de`).
#[serde(rename = "matcher", deny_unknown_fields)]
enum RawRule {
    AnyEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
    },
    AnyControlEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
    },
    ForceBuildEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
        #[serde(default)]
        builder: Option<String>,
    },
    StopBuildEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
        #[serde(default)]
        builder: Option<String>,
    },
    RebuildBuildEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
        #[serde(default)]
        builder: Option<String>,
    },
    EnableSchedulerEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
    },
    ViewBuildsEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
        #[serde(default)]
        branch: Option<String>,
        #[serde(default)]
        project: Option<String>,
        #[serde(default)]
        builder: Option<String>,
    },
    BranchEndpointMatcher {
        role: String,
        #[serde(rename = "defaultDeny", default = "default_true")]
        default_deny: bool,
        branch: String,
    },
}

impl From<RawRule> for AllowRule {
    fn from(raw: RawRule) -> Self {
        use EndpointMatcher as M;
        let (matcher, role, default_deny) = match raw {
            RawRule::AnyEndpointMatcher { role, default_deny } => {
                (M::AnyEndpoint, role, default_deny)
            }
            RawRule::AnyControlEndpointMatcher { role, default_deny } => {
                (M::AnyControlEndpoint, role, default_deny)
            }
            RawRule::ForceBuildEndpointMatcher {
                role,
                default_deny,
                builder,
            } => (M::ForceBuild { builder }, role, default_deny),
            RawRule::StopBuildEndpointMatcher {
                role,
                default_deny,
                builder,
            } => (M::StopBuild { builder }, role, default_deny),
            RawRule::RebuildBuildEndpointMatcher {
                role,
                default_deny,
                builder,
            } => (M::RebuildBuild { builder }, role, default_deny),
            RawRule::EnableSchedulerEndpointMatcher { role, default_deny } => {
                (M::EnableScheduler, role, default_deny)
            }
            RawRule::ViewBuildsEndpointMatcher {
                role,
                default_deny,
                branch,
                project,
                builder,
            } => (
                M::ViewBuilds {
                    branch,
                    project,
                    builder,
                },
                role,
                default_deny,
            ),
            RawRule::BranchEndpointMatcher {
                role,
                default_deny,
                branch,
            } => (M::Branch { branch }, role, default_deny),
        };
        AllowRule {
            matcher,
            role,
            default_deny,
        }
    }
}

/// `[www.authz]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthz {
    #[serde(rename = "allowRules", default)]
    allow_rules: Vec<RawRule>,
    #[serde(rename = "roleMatchers", default)]
    role_matchers: Vec<RoleMatcher>,
    #[serde(rename = "stringsMatcher", default)]
    strings_matcher: StringsMatcher,
}

impl RawAuthz {
    pub(crate) fn validate(self, path: &KeyPath) -> Result<Authz, Fail> {
        let strings_matcher = self.strings_matcher;
        let mut allow_rules = Vec::with_capacity(self.allow_rules.len());
        for (i, raw) in self.allow_rules.into_iter().enumerate() {
            let at = path.key("allowRules").index(i);
            let rule = AllowRule::from(raw);
            if rule.role.trim().is_empty() {
                return Err(Fail::at(at.key("role"), "must not be empty"));
            }
            // The role is a pattern too: the user's roles are matched against it.
            check_pattern(&rule.role, strings_matcher).map_err(|m| Fail::at(at.key("role"), m))?;
            let patterns: Vec<(&str, &String)> = match &rule.matcher {
                EndpointMatcher::ForceBuild { builder }
                | EndpointMatcher::StopBuild { builder }
                | EndpointMatcher::RebuildBuild { builder } => {
                    builder.iter().map(|b| ("builder", b)).collect()
                }
                EndpointMatcher::ViewBuilds {
                    branch,
                    project,
                    builder,
                } => branch
                    .iter()
                    .map(|b| ("branch", b))
                    .chain(project.iter().map(|p| ("project", p)))
                    .chain(builder.iter().map(|b| ("builder", b)))
                    .collect(),
                EndpointMatcher::Branch { branch } => vec![("branch", branch)],
                _ => Vec::new(),
            };
            for (key, pattern) in patterns {
                check_pattern(pattern, strings_matcher).map_err(|m| Fail::at(at.key(key), m))?;
            }
            allow_rules.push(rule);
        }
        for (i, matcher) in self.role_matchers.iter().enumerate() {
            let at = path.key("roleMatchers").index(i);
            match matcher {
                RoleMatcher::RolesFromOwner { role } if role.trim().is_empty() => {
                    return Err(Fail::at(at.key("role"), "must not be empty"));
                }
                RoleMatcher::RolesFromUsername { roles, usernames } => {
                    if roles.is_empty() {
                        return Err(Fail::at(at.key("roles"), "needs at least one role"));
                    }
                    if usernames.is_empty() {
                        return Err(Fail::at(
                            at.key("usernames"),
                            "needs at least one user name",
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(Authz {
            allow_rules,
            role_matchers: self.role_matchers,
            strings_matcher,
        })
    }
}

fn check_pattern(pattern: &str, matcher: StringsMatcher) -> Result<(), String> {
    match matcher {
        StringsMatcher::Fnmatch => globset::Glob::new(pattern)
            .map(|_| ())
            .map_err(|e| format!("invalid pattern '{pattern}': {}", e.kind())),
        StringsMatcher::Regex => regex::Regex::new(pattern)
            .map(|_| ())
            .map_err(|e| regex_error(&e)),
    }
}

/// One of `avatar_methods`: where avatar pictures come from, tried in order.
#[derive(Debug, Clone, Deserialize)]
// A table tagged by its `type` key (the config reader's convention for an enum renamed to a
// lower-case key, see `config::de`).
#[serde(rename = "type", deny_unknown_fields)]
pub enum AvatarMethod {
    /// `type = "AvatarGravatar"`: gravatar.com pictures from the email address.
    AvatarGravatar {},
    /// `type = "AvatarGitHub"`: GitHub user pictures.
    AvatarGitHub(AvatarGitHub),
    /// `type = "LdapUserInfo"`: pictures stored in an LDAP directory.
    LdapUserInfo(LdapUserInfo),
}

/// `type = "AvatarGitHub"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarGitHub {
    /// `github_api_endpoint`: a GitHub Enterprise API (default `https://api.github.com`).
    #[serde(default)]
    pub github_api_endpoint: Option<String>,
    /// `token`: an API token, for higher rate limits.
    #[serde(default)]
    pub token: Option<Secret>,
    /// `client_id`: an OAuth client id, used with `client_secret` instead of `token`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `client_secret`: the OAuth client secret that goes with `client_id`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// `debug`: log every API request and answer.
    #[serde(default)]
    pub debug: bool,
    /// `verify`: check the API's TLS certificate (default true).
    #[serde(default = "default_true")]
    pub verify: bool,
}

impl AvatarMethod {
    /// The name `/config` shows for it.
    pub fn name(&self) -> &'static str {
        match self {
            AvatarMethod::AvatarGravatar {} => "gravatar",
            AvatarMethod::AvatarGitHub(_) => "github",
            AvatarMethod::LdapUserInfo(_) => "ldap",
        }
    }

    pub(crate) fn validate(&mut self, path: &KeyPath, base_dir: &Path) -> Result<(), Fail> {
        match self {
            AvatarMethod::AvatarGravatar {} => Ok(()),
            AvatarMethod::LdapUserInfo(ldap) => ldap.validate(path, base_dir),
            AvatarMethod::AvatarGitHub(gh) => {
                if let Some(url) = &gh.github_api_endpoint {
                    check_http_url(url)
                        .map_err(|m| Fail::at(path.key("github_api_endpoint"), m))?;
                }
                if gh.token.is_some() && gh.client_id.is_some() {
                    return Err(Fail::at(
                        path.key("client_id"),
                        "give either token or client_id and client_secret, not both",
                    ));
                }
                match (&gh.client_id, &gh.client_secret) {
                    (Some(_), None) => {
                        return Err(Fail::at(
                            path.key("client_id"),
                            "client_id needs client_secret",
                        ))
                    }
                    (None, Some(_)) => {
                        return Err(Fail::at(
                            path.key("client_secret"),
                            "client_secret needs client_id",
                        ))
                    }
                    _ => {}
                }
                if let Some(token) = &mut gh.token {
                    token.resolve(&path.key("token"), base_dir)?;
                }
                if let Some(secret) = &mut gh.client_secret {
                    secret.resolve(&path.key("client_secret"), base_dir)?;
                }
                Ok(())
            }
        }
    }
}
