//! The top bar's account area: the logged-in user (avatar, name, a logout link) or the login
//! control that fits `[www.auth]` (a password form, a provider's button, or nothing behind a
//! remote-user proxy).

use serde::Serialize;

use crate::config::{Auth, Config};
use crate::identity::User;

/// What `base.html` shows in the account area. Links are relative to the page's root.
#[derive(Debug, Serialize)]
pub struct Account {
    /// The name shown for a logged-in user (full name, else user name); none when anonymous.
    pub name: Option<String>,
    /// The login name, shown as the name's tooltip.
    pub username: Option<String>,
    /// `avatar?…` for the logged-in user.
    pub avatar: Option<String>,
    /// `auth/logout?redirect=…`, for users who logged in here (not behind a proxy).
    pub logout: Option<String>,
    /// How an anonymous user logs in: `form` (user name and password) or `oauth2` (a provider
    /// button); none when nobody logs in here.
    pub login: Option<&'static str>,
    /// `auth/login?redirect=…`: the form's action, or the provider button's link.
    pub login_href: String,
    /// The provider's name on the button (`GitHub`, ...).
    pub provider: Option<&'static str>,
    /// Whether an anonymous visitor goes to the provider at once (`autologin`).
    pub autologin: bool,
}

/// `path?query` with `name=value` pairs appended, values encoded.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    format!("{path}?{}", query.finish())
}

impl Account {
    /// The account area for `user` on the page at `path` (below the server's root, with its
    /// query), where logging in or out comes back to.
    pub fn new(config: &Config, user: &User, path: &str) -> Account {
        let auth = &config.www.auth;
        let here = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let provider = crate::auth::oauth2::button(auth);
        let login = match auth {
            Auth::NoAuth {} | Auth::RemoteUserAuth(_) => None,
            _ if provider.is_some() => Some("oauth2"),
            _ => Some("form"),
        };
        let mut account = Account {
            name: None,
            username: None,
            avatar: None,
            logout: None,
            login,
            login_href: with_query("auth/login", &[("redirect", &here)]),
            provider: provider.map(|(name, _)| name),
            autologin: provider.is_some_and(|(_, autologin)| autologin),
        };
        if let User::Known {
            username,
            full_name,
            email,
            ..
        } = user
        {
            account.name = Some(full_name.clone().unwrap_or_else(|| username.clone()));
            account.username = Some(username.clone());
            // With `avatar_methods = []` this is Buildbot's placeholder picture.
            let email = email.as_deref().unwrap_or_default();
            account.avatar = Some(with_query(
                "avatar",
                &[("username", username), ("email", email), ("size", "48")],
            ));
            if login.is_some() {
                account.logout = Some(with_query("auth/logout", &[("redirect", &here)]));
            }
        }
        account
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: &str) -> Config {
        let text = format!("buildbotURL = \"http://ci.example.org/\"\n[db]\ndb_url = \"sqlite:///state.sqlite\"\n{auth}");
        crate::config::parse(&text, std::path::Path::new("master.toml")).unwrap()
    }

    fn homer() -> User {
        User::Known {
            username: "homer".into(),
            full_name: Some("Homer <Simpson>".into()),
            email: Some("homer@example.org".into()),
            groups: Vec::new(),
            extra: Default::default(),
        }
    }

    #[test]
    fn each_method_gets_its_control() {
        let none = Account::new(&config(""), &User::Anonymous, "/builders");
        assert_eq!((none.login, none.name), (None, None));
        let password =
            config("[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"x\" }\n");
        let form = Account::new(&password, &User::Anonymous, "/builders/1?tab=a&b");
        assert_eq!(form.login, Some("form"));
        assert_eq!(
            form.login_href,
            "auth/login?redirect=%2Fbuilders%2F1%3Ftab%3Da%26b"
        );
        let logged_in = Account::new(&password, &homer(), "/");
        assert_eq!(logged_in.name.as_deref(), Some("Homer <Simpson>"));
        assert_eq!(
            logged_in.logout.as_deref(),
            Some("auth/logout?redirect=%2F")
        );
        assert_eq!(
            logged_in.avatar.as_deref(),
            Some("avatar?username=homer&email=homer%40example.org&size=48")
        );
        let github = config(
            "[www.auth]\ntype = \"GitHubAuth\"\nclientId = \"id\"\nclientSecret = \"s\"\nautologin = true\n",
        );
        let button = Account::new(&github, &User::Anonymous, "/");
        assert_eq!(
            (button.login, button.provider, button.autologin),
            (Some("oauth2"), Some("GitHub"), true)
        );
        let proxy = config("[www.auth]\ntype = \"RemoteUserAuth\"\n");
        let behind = Account::new(&proxy, &homer(), "/");
        assert_eq!(
            (behind.login, behind.logout, behind.name.is_some()),
            (None, None, true)
        );
    }
}
