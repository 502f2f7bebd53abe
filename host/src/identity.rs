//! Who is making a request: every request and every data read carries a `User`.
//!
//! Authentication (`crate::auth`) fills this in from the session cookie; without one a request
//! is anonymous, as with Buildbot's `NoAuth`.

use serde_json::{json, Map, Value};

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
        /// Further `user_info` keys, in order: RemoteUserAuth's other regex groups, LDAP's
        /// `accountExtraFields`, what a provider adds.
        extra: Map<String, Value>,
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
                extra,
            } => {
                // Only what is known, in Buildbot's order: a password login is
                // `{"username": u, "email": u}`.
                let mut info = Map::new();
                info.insert("username".into(), json!(username));
                if let Some(full_name) = full_name {
                    info.insert("full_name".into(), json!(full_name));
                }
                if let Some(email) = email {
                    info.insert("email".into(), json!(email));
                }
                if !groups.is_empty() {
                    info.insert("groups".into(), json!(groups));
                }
                for (key, value) in extra {
                    info.entry(key.clone()).or_insert_with(|| value.clone());
                }
                Value::Object(info)
            }
        }
    }
}
