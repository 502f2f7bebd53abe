//! buildbot-plugin-sdk: what a buildbot-www plugin author depends on.
//!
//! A plugin is a Rust `cdylib` crate built for `wasm32-wasip2`. It implements [`Plugin`] for one
//! type and registers that type with [`register_plugin!`]; the SDK takes care of the WebAssembly
//! component contract (`wit/since_v0.2.0`, package `buildbot:www@0.2.0`, world `ui-plugin`).
//!
//! ```
//! use buildbot_plugin_sdk::prelude::*;
//!
//! struct Hello {
//!     greeting: String,
//!     visits: u64,
//! }
//!
//! impl Plugin for Hello {
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", "1.0.0")
//!             .description("Greets whoever is looking")
//!             .menu(MenuEntry::new("Hello", "/").order(100))
//!     }
//!
//!     fn init(config: Config) -> Result<Self, String> {
//!         config.deny_unknown(&["greeting"])?;
//!         let greeting = config.string_or("greeting", "Hello")?;
//!         Ok(Hello { greeting, visits: 0 })
//!     }
//!
//!     fn routes() -> Routes<Self> {
//!         Routes::new().get("/", Hello::index)
//!     }
//! }
//!
//! impl Hello {
//!     fn index(&mut self, request: &Request, _: &Params) -> Result<Response, Error> {
//!         self.visits += 1;
//!         Ok(Response::html(format!(
//!             "<p>{}, {}! ({} visits to this instance)</p>",
//!             escape_html(&self.greeting),
//!             escape_html(request.user.display_name()),
//!             self.visits,
//!         )))
//!     }
//! }
//!
//! register_plugin!(Hello);
//! # let mut hello = Hello::init(Config::empty("hello")).unwrap();
//! # assert_eq!(
//! #     hello.respond(&Request::get("/")).body_text(),
//! #     Some("<p>Hello, anonymous! (1 visits to this instance)</p>")
//! # );
//! # assert_eq!(hello.respond(&Request::get("/nope")).status, 404);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`, copy
//! `target/wasm32-wasip2/release/<crate>.wasm` into the server's plugins folder and enable it in
//! the config (`[www.plugins] hello = true`, or a table with its options).
//!
//! What the SDK offers besides the trait:
//! - [`Routes`]: dispatch by method and path (`/builders/{id}`), with [`Params`]; [`Error`],
//!   which `?` makes of a failed data read and the SDK answers with its status;
//! - [`Templates`]: HTML from minijinja templates that escape every value they insert, the
//!   default way to write a page;
//! - [`Request`] and [`Response`] with helpers for query parameters, headers, HTML, SVG, PNG,
//!   JSON, text and redirects;
//! - [`data`]: typed reads of Buildbot's Data API ([`data::list`], [`data::one`]) with a
//!   [`Query`] builder for its query language, and [`models`] of Buildbot 4.3's resources;
//! - [`changes`]: changes newest first with all their builds, and changes made up from
//!   `got_revision` for builds without one, a page at a time (the data of console and grid
//!   views);
//! - [`escape_html`], [`results`] (names and Buildbot's colours), [`time`] (UTC dates),
//!   [`log`], [`now_ms`], [`font`];
//! - on native targets only, [`testing`]: a stand-in for the Data API so plugin code can be unit
//!   tested with plain `cargo test`;
//! - [`auth`]: authentication plugins (Buildbot's `CustomAuth`), an [`auth::AuthPlugin`]
//!   registered with [`register_auth_plugin!`] instead of a [`Plugin`].
//!
//! The SDK re-exports [`serde`] and [`serde_json`]; derive with
//! `#[serde(crate = "buildbot_plugin_sdk::serde")]` when the plugin does not depend on `serde`
//! itself.

#![deny(missing_docs)]

pub mod auth;
pub mod changes;
mod config;
pub mod data;
mod guest;
mod html;
mod http;
pub mod log;
mod manifest;
pub mod models;
pub mod results;
mod routing;
mod templates;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;

pub use config::Config;
pub use data::{DataError, Query};
pub use html::escape_html;
pub use http::{Request, Response, User};
pub use manifest::{Manifest, MenuEntry};
pub use results::BuildResult;
pub use routing::{Error, Handler, Params, Routes};
pub use serde;
pub use serde_json;
pub use templates::Templates;

/// A UI plugin: who it is, how it is configured, and how it answers requests.
///
/// Implement it for one type and register that type with [`register_plugin!`]. The server calls
/// [`manifest`](Plugin::manifest) when it loads the plugin, [`init`](Plugin::init) once per
/// instance with the plugin's config, and [`handle`](Plugin::handle) for every request below
/// `/plugins/<name>/`.
///
/// An instance handles one request at a time, so `handle` takes `&mut self`: keep caches in
/// plain fields, no `Mutex` needed. The server may run several instances of a plugin side by
/// side and drop any of them between requests, so such state is a cache, never the truth. A
/// panic fails the request with a 5xx naming the plugin and the next request gets a fresh
/// instance (and a fresh `init`).
pub trait Plugin: Sized + 'static {
    /// Who the plugin is: its name (what operators enable it by), version, sidebar entries and
    /// the event paths that should refresh its views.
    fn manifest() -> Manifest;

    /// Builds the plugin from its config (`[www.plugins.<name>]`, an empty table when enabled
    /// with `true`). An error text stops the server's start-up with that message; say which
    /// option is wrong, e.g. with [`Config::deny_unknown`].
    fn init(config: Config) -> Result<Self, String>;

    /// The plugin's routes, which the default [`handle`](Plugin::handle) dispatches to.
    /// The default has none (every request is answered 404).
    fn routes() -> Routes<Self> {
        Routes::new()
    }

    /// Answers one request; `request.path` is below the plugin's mount and starts with `/`.
    /// An [`Error`] (what `?` makes of a failed data read) is answered with its status and
    /// message.
    ///
    /// The default dispatches through [`routes`](Plugin::routes).
    fn handle(&mut self, request: &Request) -> Result<Response, Error> {
        Self::routes().dispatch(self, request)
    }

    /// [`handle`](Plugin::handle) with an error turned into its answer: what the server
    /// receives, and what a unit test usually wants to look at.
    fn respond(&mut self, request: &Request) -> Response {
        self.handle(request).unwrap_or_else(Response::from)
    }
}

/// Registers the type that implements [`Plugin`] as the plugin of this crate.
///
/// Write it once, at the top level of the plugin's `lib.rs`:
///
/// ```
/// # use buildbot_plugin_sdk::prelude::*;
/// struct Noop;
///
/// impl Plugin for Noop {
///     fn manifest() -> Manifest {
///         Manifest::new("noop", "0.1.0")
///     }
///     fn init(config: Config) -> Result<Self, String> {
///         config.deny_unknown(&[])?;
///         Ok(Noop)
///     }
/// }
///
/// register_plugin!(Noop);
/// ```
///
/// It records how to build the plugin and makes the component's exports (`manifest`, `init`,
/// `handle`, world `ui-plugin`) in the plugin crate; their code lives in the SDK and calls the
/// registered type through it. A crate has exactly one plugin; registering two is a
/// duplicate-symbol link error. An authentication plugin registers with
/// [`register_auth_plugin!`] instead.
#[macro_export]
macro_rules! register_plugin {
    ($plugin:ty $(,)?) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __buildbot_www_plugin_v0_2_0() -> $crate::__private::Registration {
            $crate::__private::Registration::of::<$plugin>()
        }

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::UiComponent;
            $crate::__export_ui_plugin_impl!(UiComponent with_types_in $crate::__private::ui_bindings);
        };
    };
}

/// Everything a plugin usually needs, for `use buildbot_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{AuthError, AuthManifest, AuthPlugin, UserInfo};
    pub use crate::data::{self, DataError, Op, Query};
    pub use crate::models::{
        Build, BuildRequest, BuildSet, Builder, Change, Log, LogChunk, Master, Project, Properties,
        SourceStamp, Step, Worker,
    };
    pub use crate::results::BuildResult;
    pub use crate::{
        escape_html, font, log, now_ms, register_auth_plugin, register_plugin, Config, Error,
        Manifest, MenuEntry, Params, Plugin, Request, Response, Routes, Templates, User,
    };
}

/// Milliseconds since the Unix epoch, from the server's clock.
///
/// ```
/// let now = buildbot_plugin_sdk::now_ms();
/// assert!(now > 1_600_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    guest::now_ms()
}

/// The bytes of a font file the server resolves by family name (e.g. `"DejaVu Sans"`), if it has
/// one. Outside a server (native tests) there are none unless [`testing`] provides them.
///
/// Every call copies the whole file into the plugin; keep the bytes (in a `OnceLock`) rather
/// than asking again for each request.
///
/// ```
/// # #[cfg(not(target_arch = "wasm32"))]
/// assert!(buildbot_plugin_sdk::font("No Such Family").is_none());
/// ```
pub fn font(family: &str) -> Option<Vec<u8>> {
    guest::font(family)
}

/// The Rust examples of `docs/plugins.md`, compiled as doc tests (`cargo test --doc`) when the
/// SDK is tested inside the buildbot-www repository; outside it (a packaged SDK) this is not
/// compiled at all.
#[cfg(doctest)]
#[doc = include_str!("../../docs/plugins.md")]
pub struct PluginsGuide;

/// Implementation details used by [`register_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::auth::{AuthComponent, AuthRegistration};
    pub use crate::guest::auth_bindings;
    pub use crate::guest::bindings as ui_bindings;
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::UiComponent;
    pub use crate::guest::{handle, Registration};
}
