//! The Data API: Buildbot's resources read from its database, addressed by REST paths and
//! queried with Buildbot's query language. The HTTP layer and plugins both go through `DataApi`.

pub mod budget;
pub mod endpoints;
pub mod error;
pub mod query;
mod resources;
pub mod spec;
pub mod sql;
pub mod types;
mod visibility;

use serde_json::{Map, Value};

pub use error::ApiError;
pub use query::{query_args, query_args_at_most, Paging, ResultSpec};

use std::sync::Arc;

use crate::authz::{Action, Authz};
use crate::db::Pool;
use crate::identity::User;

/// What a Data API read returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Items under the type's plural name; `total` (collections only) becomes `meta.total`.
    Items {
        /// The envelope key (`builds`).
        plural: &'static str,
        /// The items.
        items: Vec<Map<String, Value>>,
        /// `meta.total`, for collections.
        total: Option<usize>,
    },
    /// A log's text (`raw`, `raw_inline`) or a build data value.
    Raw {
        /// The body.
        body: Vec<u8>,
        /// `text/plain`, `text/html` or `application/octet-stream`.
        content_type: &'static str,
        /// For `raw`: the download file name.
        filename: Option<String>,
    },
}

/// `{"<plural>": [...], "meta": {"total": N}}`: the REST envelope of a list of items.
pub fn envelope(plural: &str, items: Vec<Map<String, Value>>, total: Option<usize>) -> Value {
    let mut meta = Map::new();
    if let Some(total) = total {
        meta.insert("total".into(), Value::from(total));
    }
    let mut envelope = Map::new();
    envelope.insert(
        plural.into(),
        Value::Array(items.into_iter().map(Value::Object).collect()),
    );
    envelope.insert("meta".into(), Value::Object(meta));
    Value::Object(envelope)
}

/// How many [`DataApi::scan_log`] reads run at once.
const MAX_LOG_SCANS: usize = 4;
static LOG_SCANS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_LOG_SCANS);

/// Read access to Buildbot's data, shared by the REST API and the plugin runtime.
#[derive(Debug, Clone)]
pub struct DataApi {
    pool: Pool,
    forceschedulers: Arc<Vec<Value>>,
    paging: Paging,
    authz: Arc<Authz>,
}

impl DataApi {
    /// A Data API over a database, with the config's force schedulers and list limits, open
    /// to everyone (no authorization rules).
    pub fn new(pool: Pool, forceschedulers: Vec<Value>, paging: Paging) -> Self {
        DataApi {
            pool,
            forceschedulers: Arc::new(forceschedulers),
            paging,
            authz: Arc::new(Authz::default()),
        }
    }

    /// The same Data API with authorization rules (`[www.authz]`) checked on every read.
    pub fn with_authz(mut self, authz: Authz) -> Self {
        self.authz = Arc::new(authz);
        self
    }

    /// The authorization rules.
    pub fn authz(&self) -> &Authz {
        &self.authz
    }

    /// How many items a read returns.
    pub(crate) fn paging(&self) -> Paging {
        self.paging
    }

    /// The force schedulers, as `/api/v2/forceschedulers` lists them.
    pub fn forceschedulers(&self) -> &[Value] {
        &self.forceschedulers
    }

    /// The database pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Reads `path` (below `/api/v2/`, without leading slash) with query arguments in request
    /// order, as `user`: every read a user makes (REST, UI pages, plugins) passes here, and the
    /// authorization rules are checked first, before the path is even resolved (as Buildbot
    /// does). With a `ViewBuildsEndpointMatcher`, collections leave out what `user` may not see.
    pub async fn get(
        &self,
        user: &User,
        path: &str,
        args: &[(String, String)],
    ) -> Result<Answer, ApiError> {
        self.authz
            .check(self, user, path, Action::Get, &Map::new())
            .await
            .map_err(|denied| ApiError::forbidden(denied.to_string()))?;
        if self.authz.filters_items() {
            if let Some((endpoint, _)) = endpoints::resolve(path) {
                if endpoint.collection && visibility::filtered(endpoint.rtype.plural) {
                    return visibility::read_visible(self, user, endpoint, path, args).await;
                }
            }
        }
        self.read(path, args).await
    }

    /// Reads a log's lines in order, as `user` (the checks of a read of `logs/<id>/contents`),
    /// one stored chunk at a time: never the whole log in memory. `scan` gets each line as
    /// stored (a stdio line keeps its channel letter) with its number from 0 and `found`, what
    /// it gathers, on a blocking thread while the next chunk is read; `Break` stops the read.
    /// Returns `found`.
    pub(crate) async fn scan_log<S, F>(
        &self,
        user: &User,
        logid: i64,
        mut found: S,
        mut scan: F,
    ) -> Result<S, ApiError>
    where
        S: Send + 'static,
        F: FnMut(&mut S, i64, &str) -> std::ops::ControlFlow<()> + Send + 'static,
    {
        let path = format!("logs/{logid}/contents");
        self.authz
            .check(self, user, &path, Action::Get, &Map::new())
            .await
            .map_err(|denied| ApiError::forbidden(denied.to_string()))?;
        // A few scans at once, server-wide (others wait their turn): each holds a thread and
        // decompressor state, so memory stays bounded however many searches arrive together.
        let _turn = LOG_SCANS.acquire().await.map_err(ApiError::internal)?;
        // Two chunks in flight at most: one being decoded, one read ahead.
        let (to, mut from) = tokio::sync::mpsc::channel::<resources::StoredChunk>(2);
        let worker = tokio::task::spawn_blocking(move || -> Result<S, ApiError> {
            while let Some(chunk) = from.blocking_recv() {
                let text = crate::db::logchunks::decode(chunk.compressed, &chunk.content)?;
                let count = usize::try_from(chunk.last_line - chunk.first_line + 1).unwrap_or(0);
                for (number, line) in (chunk.first_line..).zip(text.split('\n').take(count)) {
                    if scan(&mut found, number, line).is_break() {
                        return Ok(found);
                    }
                }
            }
            Ok(found)
        });
        let read = resources::send_chunks(&self.pool, logid, to).await;
        let found = worker.await.map_err(ApiError::internal)??;
        read?;
        Ok(found)
    }

    /// Reads `path` as the server itself, without authorization: for the server's own uses
    /// (live event messages, the rules' own lookups), never on a user's behalf.
    pub(crate) async fn read(
        &self,
        path: &str,
        args: &[(String, String)],
    ) -> Result<Answer, ApiError> {
        let Some((endpoint, path_args)) = endpoints::resolve(path) else {
            return Err(ApiError::invalid_path(path));
        };
        let spec = match endpoint.kind {
            // contents takes its own offset/limit (line numbers), like Buildbot.
            endpoints::Kind::LogContents => {
                let (lines, rest): (Vec<_>, Vec<_>) = args
                    .iter()
                    .cloned()
                    .partition(|(k, _)| k == "offset" || k == "limit");
                let spec = ResultSpec::parse(&rest, endpoint.rtype)?;
                let lines = ResultSpec::parse(&lines, endpoint.rtype)?;
                return resources::log_contents(
                    &self.ctx(endpoint, &path_args, &spec),
                    lines.offset,
                    lines.limit,
                )
                .await;
            }
            _ => ResultSpec::parse(args, endpoint.rtype)?,
        };
        if !endpoint.collection && spec.has_collection_args() {
            return Err(ApiError::bad_request("this is not a collection"));
        }
        resources::get(&self.ctx(endpoint, &path_args, &spec)).await
    }

    fn ctx<'a>(
        &'a self,
        endpoint: &'static endpoints::Endpoint,
        args: &'a endpoints::PathArgs,
        spec: &'a ResultSpec,
    ) -> resources::Ctx<'a> {
        resources::Ctx {
            pool: &self.pool,
            endpoint,
            args,
            spec,
            paging: self.paging,
            forceschedulers: &self.forceschedulers,
        }
    }
}
