//! Authentication plugins (Buildbot's `CustomAuth`): [`AuthPlugin`], registered with
//! [`register_auth_plugin!`](crate::register_auth_plugin), checks a user name and password and
//! tells what it knows of the user. The server enables one with
//! `[www.auth] type = "CustomAuth"`, `plugin = "<name>"`; its options are `[www.auth.options]`.
//!
//! The component contract is the world `auth-plugin` of `buildbot:www@0.2.0`; the records it
//! returns are the generated types, re-exported here with builder methods added.

use std::cell::RefCell;

use crate::Config;

/// The WIT record `auth-manifest`, built with [`AuthManifest::new`]:
pub use crate::guest::auth_wit::AuthManifest;

/// The WIT record `user-info`, built with [`UserInfo::new`]:
pub use crate::guest::auth_wit::UserInfo;

/// The WIT variant `auth-error`: why a login was not let in.
pub use crate::guest::auth_wit::AuthError;

impl AuthManifest {
    /// A manifest with a name (what operators enable it by: `plugin = "<name>"`, equal to the
    /// `.wasm` file's stem) and a version.
    ///
    /// ```
    /// use buildbot_plugin_sdk::auth::AuthManifest;
    ///
    /// let manifest = AuthManifest::new("corp_login", "1.0.0").description("Our users");
    /// assert_eq!(manifest.description, "Our users");
    /// ```
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> AuthManifest {
        AuthManifest {
            name: name.into(),
            version: version.into(),
            description: String::new(),
        }
    }

    /// The same manifest with a description.
    pub fn description(mut self, description: impl Into<String>) -> AuthManifest {
        self.description = description.into();
        self
    }
}

impl UserInfo {
    /// What is known of user `username`: the name alone. An empty name stands for the name the
    /// user logged in with. Without an e-mail address, the server uses the user name as
    /// Buildbot does.
    ///
    /// ```
    /// use buildbot_plugin_sdk::auth::UserInfo;
    ///
    /// let homer = UserInfo::new("homer")
    ///     .full_name("Homer Simpson")
    ///     .email("homer@example.com")
    ///     .group("power-plant");
    /// assert_eq!(homer.groups, ["power-plant"]);
    /// ```
    pub fn new(username: impl Into<String>) -> UserInfo {
        UserInfo {
            username: username.into(),
            full_name: None,
            email: None,
            groups: Vec::new(),
        }
    }

    /// The same with a full name.
    pub fn full_name(mut self, full_name: impl Into<String>) -> UserInfo {
        self.full_name = Some(full_name.into());
        self
    }

    /// The same with an e-mail address.
    pub fn email(mut self, email: impl Into<String>) -> UserInfo {
        self.email = Some(email.into());
        self
    }

    /// The same with one more group (authorization rules and role matchers see groups).
    pub fn group(mut self, group: impl Into<String>) -> UserInfo {
        self.groups.push(group.into());
        self
    }
}

impl AuthError {
    /// The backend cannot decide now; `reason` goes to the server's log (never to the client),
    /// and the login is answered 503.
    pub fn unavailable(reason: impl Into<String>) -> AuthError {
        AuthError::Unavailable(reason.into())
    }
}

/// An authentication plugin: who it is, how it is configured, and how it checks a login.
///
/// Implement it for one type and register that type with
/// [`register_auth_plugin!`](crate::register_auth_plugin). The server calls
/// [`manifest`](AuthPlugin::manifest) when it loads the plugin, [`init`](AuthPlugin::init)
/// once per instance with `[www.auth.options]`, and
/// [`check_credentials`](AuthPlugin::check_credentials) for each login.
///
/// ```
/// use buildbot_plugin_sdk::auth::{AuthError, AuthManifest, AuthPlugin, UserInfo};
/// use buildbot_plugin_sdk::{register_auth_plugin, Config};
///
/// struct Snow {
///     password: String,
/// }
///
/// impl AuthPlugin for Snow {
///     fn manifest() -> AuthManifest {
///         AuthManifest::new("snow", "1.0.0").description("Lets snow in")
///     }
///
///     fn init(config: Config) -> Result<Self, String> {
///         config.deny_unknown(&["password"])?;
///         Ok(Snow { password: config.string_or("password", "white")? })
///     }
///
///     fn check_credentials(&mut self, user: &str, password: &str) -> Result<UserInfo, AuthError> {
///         if user == "snow" && password == self.password {
///             Ok(UserInfo::new(user).full_name("Snow White"))
///         } else {
///             Err(AuthError::BadCredentials)
///         }
///     }
/// }
///
/// register_auth_plugin!(Snow);
/// # let mut snow = Snow::init(Config::empty("snow")).unwrap();
/// # assert!(snow.check_credentials("snow", "white").is_ok());
/// # assert_eq!(snow.check_credentials("snow", "black"), Err(AuthError::BadCredentials));
/// ```
///
/// An instance checks one login at a time (`&mut self`); the server may run several side by
/// side and drop any of them, so state kept in fields is a cache. A panic, a loop past the
/// deadline or memory past the cap fails that login with a 5xx naming the plugin, and the next
/// login gets a fresh instance. The plugin has no files, no network and no build data: it
/// decides from its options and what it is given.
pub trait AuthPlugin: Sized + 'static {
    /// Who the plugin is: its name (what operators enable it by), version and description.
    fn manifest() -> AuthManifest;

    /// Builds the plugin from `[www.auth.options]` (an empty table when absent). An error
    /// text stops the server's start-up (and `check-config`) with that message.
    fn init(config: Config) -> Result<Self, String>;

    /// Checks a login: what is known of the user when `username` may log in with
    /// `password`, [`AuthError::BadCredentials`] when not (unknown user and wrong password
    /// alike), [`AuthError::unavailable`] when it cannot tell now.
    fn check_credentials(&mut self, username: &str, password: &str) -> Result<UserInfo, AuthError>;

    /// What the plugin knows of a user who is already logged in; `None` (the default) when
    /// it does not know them. The server does not call it yet.
    fn user_info(&mut self, username: &str) -> Option<UserInfo> {
        let _ = username;
        None
    }
}

/// Registers the type that implements [`AuthPlugin`] as the authentication plugin of this
/// crate (the counterpart of [`register_plugin!`](crate::register_plugin) for UI plugins).
/// Write it once, at the top level of `lib.rs`; a crate is either a UI plugin or an
/// authentication plugin, so it registers one plugin with one of the two macros.
#[macro_export]
macro_rules! register_auth_plugin {
    ($plugin:ty $(,)?) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __buildbot_www_auth_plugin_v0_2_0() -> $crate::__private::AuthRegistration {
            $crate::__private::AuthRegistration::of::<$plugin>()
        }

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::AuthComponent;
            $crate::__export_auth_plugin_impl!(AuthComponent with_types_in $crate::__private::auth_bindings);
        };
    };
}

/// How to build the registered authentication plugin; returned by the function
/// `register_auth_plugin!` defines.
pub struct AuthRegistration {
    manifest: fn() -> AuthManifest,
    init: fn(Config) -> Result<Box<dyn Checker>, String>,
}

impl AuthRegistration {
    /// The registration of plugin type `P`.
    pub fn of<P: AuthPlugin>() -> AuthRegistration {
        AuthRegistration {
            manifest: P::manifest,
            init: |config| P::init(config).map(|plugin| Box::new(plugin) as Box<dyn Checker>),
        }
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> AuthManifest {
        (self.manifest)()
    }

    /// Parses the config text the server passes and builds the plugin, replacing an earlier
    /// instance.
    pub fn init(&self, config: &str) -> Result<(), String> {
        let name = self.manifest().name;
        let config = Config::from_json(&name, config)?;
        let plugin = (self.init)(config)?;
        INSTANCE.with(|instance| *instance.borrow_mut() = Some(plugin));
        Ok(())
    }
}

/// Checks a login with the plugin built by the last successful [`AuthRegistration::init`].
pub fn check_credentials(username: &str, password: &str) -> Result<UserInfo, AuthError> {
    INSTANCE.with(|instance| match instance.borrow_mut().as_mut() {
        Some(plugin) => plugin.check_credentials(username, password),
        None => Err(AuthError::unavailable(
            "plugin not initialised: init was not called or failed",
        )),
    })
}

/// What the plugin built by the last successful [`AuthRegistration::init`] knows of a user.
pub fn user_info(username: &str) -> Option<UserInfo> {
    INSTANCE.with(|instance| {
        instance
            .borrow_mut()
            .as_mut()
            .and_then(|plugin| plugin.user_info(username))
    })
}

/// The object-safe face of an [`AuthPlugin`].
trait Checker {
    fn check_credentials(&mut self, username: &str, password: &str) -> Result<UserInfo, AuthError>;
    fn user_info(&mut self, username: &str) -> Option<UserInfo>;
}

impl<P: AuthPlugin> Checker for P {
    fn check_credentials(&mut self, username: &str, password: &str) -> Result<UserInfo, AuthError> {
        AuthPlugin::check_credentials(self, username, password)
    }

    fn user_info(&mut self, username: &str) -> Option<UserInfo> {
        AuthPlugin::user_info(self, username)
    }
}

thread_local! {
    /// The plugin of this instance, once `init` succeeded (one thread per component instance).
    static INSTANCE: RefCell<Option<Box<dyn Checker>>> = const { RefCell::new(None) };
}

/// The auth-plugin world's exports, made in the plugin crate by `register_auth_plugin!`.
pub struct AuthComponent;

// The generated exports are `unsafe extern "C"` functions, and the registered plugin is found
// through an `extern "Rust"` declaration.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    use super::{AuthComponent, AuthManifest, AuthRegistration, UserInfo};
    use crate::guest::auth_bindings;
    use crate::guest::auth_wit::AuthError;

    mod registered {
        unsafe extern "Rust" {
            /// Defined by `register_auth_plugin!` in the plugin crate.
            fn __buildbot_www_auth_plugin_v0_2_0() -> super::AuthRegistration;
        }

        pub(super) fn registration() -> super::AuthRegistration {
            // SAFETY: `register_auth_plugin!` defines this symbol with exactly this
            // signature, and it has no preconditions.
            unsafe { __buildbot_www_auth_plugin_v0_2_0() }
        }
    }

    impl auth_bindings::Guest for AuthComponent {
        fn manifest() -> AuthManifest {
            registered::registration().manifest()
        }

        fn init(config: String) -> Result<(), String> {
            registered::registration().init(&config)
        }

        fn check_credentials(username: String, password: String) -> Result<UserInfo, AuthError> {
            super::check_credentials(&username, &password)
        }

        fn user_info(username: String) -> Option<UserInfo> {
            super::user_info(&username)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Gate {
        password: String,
    }

    impl AuthPlugin for Gate {
        fn manifest() -> AuthManifest {
            AuthManifest::new("gate", "0.0.1")
        }
        fn init(config: Config) -> Result<Self, String> {
            config.deny_unknown(&["password"])?;
            Ok(Gate {
                password: config.string_or("password", "open")?,
            })
        }
        fn check_credentials(&mut self, user: &str, password: &str) -> Result<UserInfo, AuthError> {
            match (user, password == self.password) {
                ("down", _) => Err(AuthError::unavailable("backend down")),
                (_, true) => Ok(UserInfo::new(user).group("in")),
                (_, false) => Err(AuthError::BadCredentials),
            }
        }
    }

    #[test]
    fn registration_builds_and_checks() {
        let registration = AuthRegistration::of::<Gate>();
        assert_eq!(registration.manifest().name, "gate");
        assert_eq!(
            registration.init(r#"{"pasword": "x"}"#).unwrap_err(),
            "gate: unknown option 'pasword' (expected one of: password)"
        );
        registration.init(r#"{"password": "sesame"}"#).unwrap();
        assert_eq!(
            check_credentials("ali", "sesame"),
            Ok(UserInfo::new("ali").group("in"))
        );
        assert_eq!(
            check_credentials("ali", "open"),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(
            check_credentials("down", "sesame"),
            Err(AuthError::Unavailable("backend down".into()))
        );
        // The default user_info knows nobody.
        assert_eq!(user_info("ali"), None);
    }
}
