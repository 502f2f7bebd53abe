//! The data of one instance's store (`State`): its sandbox, its limits and the call it serves,
//! and the host's side of the imports every WIT version offers (data reads, log, clock,
//! fonts), written once here. The version modules only convert their types to and from these.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::fonts::Fonts;
use super::logging::{Level, LogGate};
use super::memory::Limiter;
use crate::config::PluginLimits;
use crate::data::budget::Budget;
use crate::data::DataApi;
use crate::http::answer_cache::{AnswerCache, Read, Reads};
use crate::identity::User;

/// What the current call may still do, reset before each call.
pub(super) struct CallState {
    /// Who is asking; data reads are made with this user's rights.
    pub(super) user: User,
    /// When the call must have ended.
    pub(super) deadline: Instant,
    /// Data reads left.
    pub(super) reads_left: usize,
    /// Bytes the data reads may still return.
    pub(super) data: Budget,
}

impl CallState {
    /// Between calls: nobody asking, nothing allowed.
    pub(super) fn idle() -> CallState {
        CallState {
            user: User::Anonymous,
            deadline: Instant::now(),
            reads_left: 0,
            data: Budget::new(0),
        }
    }
}

/// The data of one instance's store: its sandbox, its limits, and the call it serves.
pub(super) struct State {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) plugin: Arc<str>,
    pub(super) limits: PluginLimits,
    pub(super) call: CallState,
    /// Data reads: through the server's answer cache once the server has shared it.
    pub(super) reads: SharedReads,
    pub(super) fonts: Arc<Fonts>,
    pub(super) log: Arc<LogGate>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// How the plugins' data reads reach the Data API, shared by every store: uncached at first,
/// then through the server's [`Reads`] once the server has been put together
/// (`Registry::read_through`). Without a server (benchmarks of the runtime alone) reads stay
/// uncached; without a database (`None`) they fail with 503.
#[derive(Debug, Clone)]
pub(super) struct SharedReads(Arc<std::sync::RwLock<Option<Reads>>>);

impl SharedReads {
    /// Uncached reads of `data`, if there is a database.
    pub(super) fn new(data: Option<DataApi>) -> SharedReads {
        let uncached = data.map(|data| Reads {
            cache: Arc::new(AnswerCache::new(0)),
            events: crate::events::Events::new(),
            data,
        });
        SharedReads(Arc::new(std::sync::RwLock::new(uncached)))
    }

    /// Reads through `reads` from now on.
    pub(super) fn set(&self, reads: Reads) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(reads);
    }

    fn get(&self) -> Option<Reads> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A failed data read as the host states it; each WIT version shows as much of it as its
/// `data-error` can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReadError {
    /// The HTTP status `/api/v2` would answer.
    pub(super) code: u16,
    /// Its message (`internal error` for failures inside the server).
    pub(super) message: String,
    /// The query argument at fault, when the Data API names one.
    pub(super) argument: Option<String>,
}

impl ReadError {
    fn new(code: u16, message: String) -> ReadError {
        ReadError {
            code,
            message,
            argument: None,
        }
    }
}

impl State {
    /// The host's `data.get`: one read of the Data API with the calling user's rights,
    /// counted against the call's `max_data_reads` and `data_mib`.
    pub(super) async fn read_data(
        &mut self,
        path: String,
        query: String,
    ) -> Result<String, ReadError> {
        let Some(reads) = self.reads.get() else {
            return Err(ReadError::new(503, "no database is open".into()));
        };
        if self.call.reads_left == 0 {
            return Err(ReadError::new(
                429,
                format!(
                    "this call made its {} data reads (max_data_reads)",
                    self.limits.max_data_reads
                ),
            ));
        }
        self.call.reads_left -= 1;
        let path = path.trim_matches('/').to_owned();
        let user = self.call.user.clone();
        let budget = self.call.data.clone();
        let answer = budget
            .within(async move {
                let args = || Ok(crate::data::query_args(&query));
                reads.read(&user, &path, &query, true, args).await
            })
            .await;
        match answer {
            // The compact JSON `/api/v2` answers (`Accept: application/json`).
            Ok(Read::Items(answer)) => Ok(String::from_utf8_lossy(&answer.body).into_owned()),
            Ok(Read::Raw { body, .. }) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(err) if err.internal => {
                tracing::error!(plugin = %self.plugin, "data read failed: {}", err.message);
                Err(ReadError::new(err.status, "internal error".into()))
            }
            Err(err) => Err(ReadError {
                code: err.status,
                message: err.message,
                argument: err.argument,
            }),
        }
    }

    /// The host's `log.write`: through the plugin's rate-limited gate.
    pub(super) fn write_log(&self, level: Level, message: &str) {
        self.log.write(level, message);
    }

    /// The host's `host.now-ms`.
    pub(super) fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// The host's `host.font`. The first look-up reads the system's fonts: on a blocking
    /// thread, abandoned (not waited for) when the call's deadline passes first.
    pub(super) async fn font(&mut self, family: String) -> Option<Vec<u8>> {
        let fonts = self.fonts.clone();
        let left = self.call.deadline.saturating_duration_since(Instant::now());
        let lookup = tokio::task::spawn_blocking(move || fonts.resolve(&family));
        match tokio::time::timeout(left, lookup).await {
            Ok(Ok(bytes)) => bytes.map(|bytes| bytes.to_vec()),
            _ => None,
        }
    }
}

/// What is written the same way in every version module, for its own bindgen types (`wit`
/// for the `types` interface, `buildbot::www::{log, host}` for the imports): the manifest and
/// response conversions and the `log` and `host` imports, which hand over to `State`. A
/// version whose types differ here writes its own instead of invoking this.
macro_rules! same_in_every_version {
    () => {
        impl From<wit::Manifest> for HostManifest {
            fn from(m: wit::Manifest) -> Self {
                HostManifest {
                    name: m.name,
                    version: m.version,
                    description: m.description,
                    menu: m
                        .menu
                        .into_iter()
                        .map(|e| MenuEntry {
                            label: e.label,
                            path: e.path,
                            order: e.order,
                            icon: e.icon,
                        })
                        .collect(),
                    events: m.events,
                }
            }
        }

        /// The response in the host's shape (checked by the caller).
        pub(super) fn response(response: wit::Response) -> HostResponse {
            HostResponse {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|h| (h.name, h.value))
                    .collect(),
                body: response.body,
            }
        }

        /// The headers in this version's shape.
        fn headers(headers: Vec<(String, String)>) -> Vec<wit::Header> {
            headers
                .into_iter()
                .map(|(name, value)| wit::Header { name, value })
                .collect()
        }

        impl wit::Host for State {}

        impl buildbot::www::log::Host for State {
            async fn write(&mut self, level: wit::Level, message: String) {
                let level = match level {
                    wit::Level::Trace => Level::Trace,
                    wit::Level::Debug => Level::Debug,
                    wit::Level::Info => Level::Info,
                    wit::Level::Warn => Level::Warn,
                    wit::Level::Error => Level::Error,
                };
                self.write_log(level, &message);
            }
        }

        impl buildbot::www::host::Host for State {
            async fn now_ms(&mut self) -> u64 {
                State::now_ms()
            }

            async fn font(&mut self, family: String) -> Option<Vec<u8>> {
                State::font(self, family).await
            }
        }
    };
}
