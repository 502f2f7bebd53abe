//! Who is making a request: every request and every data read carries a `User`.
//!
//! Authentication (a later issue) fills this in from the session cookie, `REMOTE_USER` or an
//! OAuth2 login; until then every request is anonymous, as with Buildbot's `NoAuth`.

use serde_json::{json, Value};

/// The identity a request is made with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum User {
    /// Nobody logged in (Buildbot's `{"anonymous": true}`).
    #[default]
    Anonymous,
    /// A logged-in user.
    Known {
        /// Login name.
        username: String,
        /// Full name, if the auth plugin knows it.
        full_name: Option<String>,
        /// E-mail address, if the auth plugin knows it.
        email: Option<String>,
        /// Groups, used by authorization rules.
        groups: Vec<String>,
    },
}

impl User {
    /// Buildbot's `user_info` object as the UI receives it in `/config`.
    pub fn user_info(&self) -> Value {
        match self {
            User::Anonymous => json!({ "anonymous": true }),
            User::Known {
                username,
                full_name,
                email,
                groups,
            } => json!({
                "username": username,
                "full_name": full_name,
                "email": email,
                "groups": groups,
            }),
        }
    }
}
