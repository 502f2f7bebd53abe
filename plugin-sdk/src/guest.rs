//! The glue between the component contract (wit-bindgen bindings) and [`Plugin`].
//!
//! The WIT records a plugin builds or reads as they are (the user, the manifest and its menu
//! entries, the log level) are the generated types themselves, re-exported by the SDK with its
//! methods added (as Zed's extension API does): one definition, no copying field by field.
//!
//! The component's exports are generated here, in the SDK, for the private type `Component`;
//! they find the plugin through the function [`register_plugin!`](crate::register_plugin)
//! defines in the plugin crate. On native targets nothing is exported and the imports are
//! replaced by [`crate::testing`], so plugin code and the SDK itself can be tested with
//! `cargo test`.

use std::cell::RefCell;

use crate::{Config, Manifest, Plugin, Request, Response};

#[allow(
    unsafe_code,
    missing_docs,
    dead_code,
    unused_imports,
    clippy::all,
    clippy::pedantic
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "ui-plugin",
        // What the SDK's own types offered before they became these: comparing, hashing and
        // ordering (wit-bindgen derives `Clone` and writes `Debug` itself).
        additional_derives: [PartialEq, Eq, Hash, PartialOrd, Ord],
        // The exports are made in the plugin crate, by `register_plugin!`, so that a crate
        // exports only the world it registers a plugin of (the two worlds both export
        // `manifest` and `init`).
        pub_export_macro: true,
    });
}

/// The `auth-plugin` world of the same package: its imports are the ui-plugin world's
/// interfaces, so the SDK's `log`, `now_ms` and `font` serve both kinds of plugins.
#[allow(
    unsafe_code,
    missing_docs,
    dead_code,
    unused_imports,
    clippy::all,
    clippy::pedantic
)]
pub mod auth_bindings {
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "auth-plugin",
        with: {
            "buildbot:www/types@0.2.0": crate::guest::bindings::buildbot::www::types,
            "buildbot:www/log@0.2.0": crate::guest::bindings::buildbot::www::log,
            "buildbot:www/host@0.2.0": crate::guest::bindings::buildbot::www::host,
        },
        additional_derives: [PartialEq, Eq, Hash, PartialOrd, Ord],
        pub_export_macro: true,
    });
}

/// The contract's shared types, which the SDK re-exports.
pub(crate) use bindings::buildbot::www::types as wit;

/// The authentication world's types, which the SDK re-exports.
pub(crate) use auth_bindings::buildbot::www::auth_types as auth_wit;

/// How to build the registered plugin; returned by the function `register_plugin!` defines.
pub struct Registration {
    manifest: fn() -> Manifest,
    init: fn(Config) -> Result<Box<dyn Handler>, String>,
}

impl Registration {
    /// The registration of plugin type `P`.
    pub fn of<P: Plugin>() -> Registration {
        Registration {
            manifest: P::manifest,
            init: |config| P::init(config).map(|plugin| Box::new(plugin) as Box<dyn Handler>),
        }
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> Manifest {
        (self.manifest)()
    }

    /// Parses the config text the server passes and builds the plugin; it then handles requests
    /// given to [`handle`]. An earlier instance is replaced.
    pub fn init(&self, config: &str) -> Result<(), String> {
        let name = self.manifest().name;
        let config = Config::from_json(&name, config)?;
        let plugin = (self.init)(config)?;
        INSTANCE.with(|instance| *instance.borrow_mut() = Some(plugin));
        Ok(())
    }
}

/// Answers a request with the plugin built by the last successful [`Registration::init`].
pub fn handle(request: &Request) -> Response {
    INSTANCE.with(|instance| match instance.borrow_mut().as_mut() {
        Some(plugin) => plugin.respond(request),
        None => {
            Response::text("plugin not initialised: init was not called or failed").with_status(500)
        }
    })
}

/// The object-safe face of a [`Plugin`].
trait Handler {
    fn respond(&mut self, request: &Request) -> Response;
}

impl<P: Plugin> Handler for P {
    fn respond(&mut self, request: &Request) -> Response {
        Plugin::respond(self, request)
    }
}

thread_local! {
    /// The plugin of this instance, once `init` succeeded. A component instance has one
    /// thread, so this is the instance's one plugin, and it need not be `Send` or `Sync`.
    static INSTANCE: RefCell<Option<Box<dyn Handler>>> = const { RefCell::new(None) };
}

// The generated exports are `unsafe extern "C"` functions, and the registered plugin is found
// through an `extern "Rust"` declaration.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    use super::bindings::{self, buildbot::www::types as wit};
    use super::Registration;
    use crate::{Manifest, Request, Response};

    mod registered {
        unsafe extern "Rust" {
            /// Defined by `register_plugin!` in the plugin crate.
            fn __buildbot_www_plugin_v0_2_0() -> super::Registration;
        }

        pub(super) fn registration() -> super::Registration {
            // SAFETY: `register_plugin!` defines this symbol with exactly this signature, and
            // it has no preconditions.
            unsafe { __buildbot_www_plugin_v0_2_0() }
        }
    }

    fn registration() -> Registration {
        registered::registration()
    }

    /// The ui-plugin world's exports, made in the plugin crate by `register_plugin!`.
    pub struct UiComponent;

    impl bindings::Guest for UiComponent {
        fn manifest() -> Manifest {
            registration().manifest()
        }

        fn init(config: String) -> Result<(), String> {
            registration().init(&config)
        }

        fn handle(request: wit::Request) -> wit::Response {
            let wit::Request {
                method,
                path,
                query,
                headers,
                body,
                user,
                root,
            } = request;
            let request = Request {
                method,
                path,
                query,
                headers: headers.into_iter().map(|h| (h.name, h.value)).collect(),
                body,
                user,
                root,
            };
            let Response {
                status,
                headers,
                body,
            } = super::handle(&request);
            wit::Response {
                status,
                headers: headers
                    .into_iter()
                    .map(|(name, value)| wit::Header { name, value })
                    .collect(),
                body,
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use component::UiComponent;

/// Reads the Data API: the host's `data.get`.
pub(crate) fn data_get(path: &str, query: &str) -> Result<String, crate::DataError> {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::buildbot::www::data::get(path, query).map_err(|e| crate::DataError {
            code: e.code,
            message: e.message,
            argument: e.argument,
        })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::data_get(path, query)
    }
}

/// Writes a line to the server's log.
pub(crate) fn log_write(level: crate::log::Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::buildbot::www::log::write(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::log_write(level, message);
    }
}

/// The host's clock.
pub(crate) fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::buildbot::www::host::now_ms()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The host's fonts.
pub(crate) fn font(family: &str) -> Option<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::buildbot::www::host::font(family)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::font(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Manifest, Plugin};

    struct Counter {
        start: i64,
    }

    impl Plugin for Counter {
        fn manifest() -> Manifest {
            Manifest::new("counter", "0.0.1")
        }
        fn init(config: Config) -> Result<Self, String> {
            config.deny_unknown(&["start"])?;
            Ok(Counter {
                start: config.integer("start")?.unwrap_or(0),
            })
        }
        fn handle(&mut self, request: &Request) -> Result<Response, crate::Error> {
            self.start += 1;
            Ok(Response::text(format!("{} {}", self.start, request.path)))
        }
    }

    #[test]
    fn registration_builds_and_dispatches() {
        let registration = Registration::of::<Counter>();
        assert_eq!(registration.manifest().name, "counter");
        assert_eq!(
            registration.init(r#"{"x": 1}"#).unwrap_err(),
            "counter: unknown option 'x' (expected one of: start)"
        );
        assert_eq!(
            registration.init("[]").unwrap_err(),
            "counter: the config must be a JSON object, not []"
        );
        registration.init(r#"{"start": 7}"#).unwrap();
        let response = handle(&Request::get("/a"));
        assert_eq!(response.body_text(), Some("8 /a"));
        // The same instance, mutable between requests.
        assert_eq!(handle(&Request::get("/b")).body_text(), Some("9 /b"));
    }
}
