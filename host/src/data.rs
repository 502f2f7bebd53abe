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

use serde_json::{Map, Value};

pub use error::ApiError;
pub use query::{query_args, query_args_at_most, Paging, ResultSpec};

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

/// Read access to Buildbot's data, shared by the REST API and the plugin runtime.
#[derive(Debug, Clone)]
pub struct DataApi {
    pool: Pool,
    forceschedulers: std::sync::Arc<Vec<Value>>,
    paging: Paging,
}

impl DataApi {
    /// A Data API over a database, with the config's force schedulers and list limits.
    pub fn new(pool: Pool, forceschedulers: Vec<Value>, paging: Paging) -> Self {
        DataApi {
            pool,
            forceschedulers: std::sync::Arc::new(forceschedulers),
            paging,
        }
    }

    /// The database pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Reads `path` (below `/api/v2/`, without leading slash) with query arguments in request
    /// order, as `user`. Every read passes here, so authorization rules attach here.
    pub async fn get(
        &self,
        user: &User,
        path: &str,
        args: &[(String, String)],
    ) -> Result<Answer, ApiError> {
        let Some((endpoint, path_args)) = endpoints::resolve(path) else {
            return Err(ApiError::invalid_path(path));
        };
        self.authorize_read(user, endpoint)?;
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

    /// Authorization hook: every read is checked here. With no auth configured (`NoAuth`),
    /// everything is readable; authorization rules (a later issue) plug in here.
    fn authorize_read(
        &self,
        _user: &User,
        _endpoint: &endpoints::Endpoint,
    ) -> Result<(), ApiError> {
        Ok(())
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
