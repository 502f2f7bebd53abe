//! Control actions: Buildbot's JSON-RPC 2.0 on `POST /api/v2/<path>` (docs/control.md). A call
//! is checked in Buildbot's order (content type, envelope, authorization, path, method) and
//! answered with Buildbot's bodies and codes; then done by the backend: forwarded to the
//! linked Buildbot master, or, without one, written to the database for the demo runner
//! (`standalone`), or refused with an error that says which link to configure.
//!
//! Cross-site requests cannot act: the body must be `application/json` (a form cannot send
//! it), a browser's `Origin` must be an allowed one (`allowed_origins`, by default
//! `buildbotURL`'s; checked for every `/api` request by `http::cors` before this module), and
//! the session cookie is `SameSite=Lax`.

pub(crate) mod force;
pub mod link;
mod schedulers;
pub mod standalone;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::authz::Action;
use crate::config::Config;
use crate::data::endpoints::{self, Kind};
use crate::data::{Answer, DataApi};
use crate::identity::User;
use crate::jsonfmt::{self, Layout};
use standalone::{NewBuildset, Refusal, Standalone};

/// The largest JSON-RPC body read: room for a force form's file fields (10 MiB by default).
pub const MAX_CALL_BYTES: usize = 12 << 20;

/// Who carries out the actions.
#[derive(Debug, Clone, Default)]
pub enum Control {
    /// No master and no runner: every action is refused with a clear error.
    #[default]
    Unavailable,
    /// The demo runner plays the master (`serve --demo-activity`).
    Standalone(Standalone),
    /// `[www.master]`: accepted calls are forwarded to the Buildbot master, as the caller.
    Linked(Arc<link::MasterLink>),
}

/// What a call is answered with.
enum Reply {
    /// `{"id": .., "jsonrpc": "2.0", "result": ..}`.
    Result(Value, Value),
    /// The linked master's own answer, passed on as it is.
    Forwarded(link::Forwarded),
}

/// A JSON-RPC error, as Buildbot sends it.
#[derive(Debug)]
struct RpcError {
    status: StatusCode,
    code: i64,
    message: Box<Value>,
    /// `None` when the call failed before its id was read.
    id: Option<Box<Value>>,
}

impl RpcError {
    fn new(status: StatusCode, code: i64, message: impl Into<Value>, id: Option<&Value>) -> Self {
        RpcError {
            status,
            code,
            message: Box::new(message.into()),
            id: id.cloned().map(Box::new),
        }
    }

    fn invalid(message: impl Into<Value>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, -32600, message, None)
    }

    fn response(self) -> Response<Body> {
        let mut body = Map::new();
        body.insert("jsonrpc".into(), json!("2.0"));
        if let Some(id) = self.id {
            body.insert("id".into(), *id);
        }
        body.insert(
            "error".into(),
            json!({"code": self.code, "message": self.message}),
        );
        json_response(
            self.status,
            jsonfmt::to_string(&Value::Object(body), Layout::Spaced, false),
        )
    }
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// A parsed call.
struct Call {
    id: Value,
    method: String,
    params: Map<String, Value>,
}

/// What a control action needs of the server.
pub(crate) struct Context<'a> {
    pub config: &'a Config,
    pub data: &'a DataApi,
    pub control: &'a Control,
    pub user: &'a User,
}

/// `POST /api/v2/<path>`: one JSON-RPC call.
pub(crate) async fn handle(
    ctx: Context<'_>,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Body> {
    match call(&ctx, path, headers, body).await {
        Ok(Reply::Result(id, result)) => json_response(
            StatusCode::OK,
            jsonfmt::to_string(
                &json!({"id": id, "jsonrpc": "2.0", "result": result}),
                Layout::Compact,
                true,
            ),
        ),
        Ok(Reply::Forwarded(answer)) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
            if let Some(content_type) = answer.content_type {
                response = response.header(header::CONTENT_TYPE, content_type);
            }
            response.body(Body::from(answer.body)).unwrap_or_default()
        }
        Err(err) => err.response(),
    }
}

async fn call(
    ctx: &Context<'_>,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Reply, RpcError> {
    if !is_json(headers) {
        return Err(RpcError::invalid(
            "Invalid content-type (use application/json)",
        ));
    }
    let call = parse(&body)?;
    let id = Some(&call.id);
    ctx.data
        .authz()
        .check(
            ctx.data,
            ctx.user,
            path,
            Action::Control(&call.method),
            &call.params,
        )
        .await
        .map_err(|denied| RpcError::new(StatusCode::FORBIDDEN, -32600, denied.to_string(), id))?;
    let Some((endpoint, args)) = endpoints::resolve(path) else {
        return Err(RpcError::new(
            StatusCode::NOT_FOUND,
            -32600,
            format!("Invalid path: {path}"),
            id,
        ));
    };
    let supported = matches!(
        (endpoint.kind, call.method.as_str()),
        (Kind::ForceScheduler, "force")
            | (Kind::Build, "stop" | "rebuild")
            | (Kind::BuildRequest, "cancel" | "set_priority")
            | (Kind::Worker, "stop" | "kill" | "pause" | "unpause")
            | (Kind::Scheduler, "enable")
    );
    if !supported {
        return Err(RpcError::new(
            StatusCode::NOT_IMPLEMENTED,
            -32601,
            format!("action: {} is not supported", call.method),
            id,
        ));
    }
    let backend = match ctx.control {
        Control::Standalone(backend) => backend,
        Control::Linked(link) => {
            return match link.forward(ctx.user, path, body).await {
                Ok(answer) => Ok(Reply::Forwarded(answer)),
                Err(err) => Err(link_failure(&err, id)),
            }
        }
        Control::Unavailable => {
            return Err(RpcError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                -32000,
                format!(
                    "'{}' needs a Buildbot master, and this server is linked to none: set \
                     [www.master] url to the master's web endpoint (docs/control.md)",
                    call.method
                ),
                id,
            ))
        }
    };
    let int_arg = |name: &str| args.int(name);
    let reason = call
        .params
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("no reason")
        .to_string();
    let done = match (endpoint.kind, call.method.as_str()) {
        (Kind::ForceScheduler, _) => {
            let name = args.str("schedulername").unwrap_or_default();
            return force(ctx, backend, name, &call)
                .await
                .map(|result| Reply::Result(call.id.clone(), result));
        }
        (Kind::Build, method) => {
            let Some(build) = read_one(ctx.data, path).await else {
                // Buildbot answers `null` to a stop of a build that does not exist.
                if method == "stop" {
                    return Ok(Reply::Result(call.id.clone(), Value::Null));
                }
                return Err(not_found(format!("no build at {path}"), id));
            };
            let buildid = build.get("buildid").and_then(Value::as_i64).unwrap_or(0);
            if method == "stop" {
                backend
                    .stop_build(buildid, &reason)
                    .await
                    .map(|()| Value::Null)
            } else {
                return rebuild(ctx, backend, &build)
                    .await
                    .map(|result| Reply::Result(call.id.clone(), result))
                    .map_err(|refusal| refused(refusal, id));
            }
        }
        (Kind::BuildRequest, "cancel") => {
            let brid = int_arg("buildrequestid").unwrap_or(0);
            backend
                .cancel_request(brid, &reason)
                .await
                .map(|()| Value::Null)
        }
        (Kind::BuildRequest, _) => {
            let brid = int_arg("buildrequestid").unwrap_or(0);
            let Some(priority) = call.params.get("priority").and_then(Value::as_i64) else {
                return Err(bad_params("priority", "expected an integer", id));
            };
            backend
                .set_priority(brid, priority)
                .await
                .map(|()| Value::Null)
        }
        (Kind::Worker, method) => {
            let workerid = match (int_arg("workerid"), args.str("name")) {
                (Some(id), _) => Some(id),
                (None, Some(_)) => read_one(ctx.data, path)
                    .await
                    .and_then(|w| w.get("workerid").and_then(Value::as_i64)),
                _ => None,
            };
            let Some(workerid) = workerid else {
                return Err(not_found(format!("no worker at {path}"), id));
            };
            match method {
                "pause" => backend.pause_worker(workerid, true, Some(&reason)).await,
                "unpause" => backend.pause_worker(workerid, false, None).await,
                _ => backend.disconnect_worker(workerid).await,
            }
            .map(|()| Value::Null)
        }
        (Kind::Scheduler, _) => {
            let Some(enabled) = call.params.get("enabled").and_then(Value::as_bool) else {
                return Err(bad_params("enabled", "expected true or false", id));
            };
            let schedulerid = int_arg("schedulerid").unwrap_or(0);
            backend
                .enable_scheduler(schedulerid, enabled)
                .await
                .map(|()| Value::Null)
        }
        _ => unreachable!("checked by `supported` above"),
    };
    done.map(|result| Reply::Result(call.id.clone(), result))
        .map_err(|refusal| refused(refusal, id))
}

/// The link could not carry the call: 504 for a master too slow, 502 for one that cannot be
/// reached or answers garbage, 500 for a failure here; the message says which, never the token.
fn link_failure(err: &link::LinkError, id: Option<&Value>) -> RpcError {
    use link::LinkError as E;
    let status = match err {
        E::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        E::Unreachable { .. } | E::BadAnswer { .. } => StatusCode::BAD_GATEWAY,
        E::BadPath(_) => StatusCode::NOT_FOUND,
        E::Session(_) | E::Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!("control action not forwarded: {err}");
    RpcError::new(status, -32000, err.to_string(), id)
}

fn not_found(message: String, id: Option<&Value>) -> RpcError {
    RpcError::new(StatusCode::NOT_FOUND, -32602, message, id)
}

fn bad_params(field: &str, message: &str, id: Option<&Value>) -> RpcError {
    let mut map = Map::new();
    map.insert(field.into(), json!(message));
    RpcError::new(StatusCode::BAD_REQUEST, -32602, Value::Object(map), id)
}

fn refused(refusal: Refusal, id: Option<&Value>) -> RpcError {
    match refusal {
        Refusal::NotFound(message) => not_found(message, id),
        Refusal::NeedsMaster(message) => {
            RpcError::new(StatusCode::SERVICE_UNAVAILABLE, -32000, message, id)
        }
        Refusal::Database(err) => {
            tracing::error!("control action failed: database error: {err}");
            RpcError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                -32603,
                "internal error (database)",
                id,
            )
        }
    }
}

async fn read_one(data: &DataApi, path: &str) -> Option<Map<String, Value>> {
    match data.read(path, &[]).await {
        Ok(Answer::Items { mut items, .. }) if !items.is_empty() => Some(items.swap_remove(0)),
        _ => None,
    }
}

/// The owner a new buildset records: the logged-in user's email (else name), never a name the
/// caller chose; `anonymous` without a login.
pub(crate) fn owner_of(user: &User) -> String {
    match user {
        User::Known {
            email: Some(email), ..
        } => email.clone(),
        User::Known { username, .. } => username.clone(),
        User::Anonymous => "anonymous".into(),
    }
}

async fn force(
    ctx: &Context<'_>,
    backend: &Standalone,
    name: &str,
    call: &Call,
) -> Result<Value, RpcError> {
    let id = Some(&call.id);
    let scheduler = ctx
        .config
        .forceschedulers
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name));
    let spec = ctx
        .config
        .forcescheduler_specs
        .iter()
        .find(|s| s.name == name);
    let (Some(scheduler), Some(spec)) = (scheduler, spec) else {
        return Err(not_found(format!("no force scheduler named '{name}'"), id));
    };
    if scheduler.get("enabled") == Some(&Value::Bool(false)) {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            -32602,
            format!("force scheduler '{name}' is disabled"),
            id,
        ));
    }
    // The builder a `builderid` names, read before the (synchronous) form check.
    let mut named = None;
    if let Some(builderid) = call.params.get("builderid").and_then(force::builder_id) {
        if let Some(b) = read_one(ctx.data, &format!("builders/{builderid}")).await {
            let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
            named = Some((builderid, name.to_string()));
        }
    }
    let request = force::check(scheduler, spec, &call.params, |bid| {
        named
            .as_ref()
            .filter(|(i, _)| *i == bid)
            .map(|(_, n)| n.clone())
    })
    .map_err(|force::ForceError::Fields(map)| {
        RpcError::new(StatusCode::BAD_REQUEST, -32602, Value::Object(map), id)
    })?;
    let builders = backend
        .builder_ids(&request.builder_names)
        .await
        .map_err(|r| refused(r, id))?;
    let owner = owner_of(ctx.user);
    let reason = spec
        .reason_string
        .replace("%(owner)s", &owner)
        .replace("%(reason)s", &request.reason);
    let source = "Force Build Form".to_string();
    let mut properties: Vec<(String, Value, String)> = request
        .properties
        .into_iter()
        .map(|(k, v)| (k, v, source.clone()))
        .collect();
    properties.push(("owner".into(), json!(owner), source.clone()));
    properties.push(("reason".into(), json!(request.reason), source));
    properties.push(("scheduler".into(), json!(name), "Scheduler".into()));
    backend
        .add_buildset(NewBuildset {
            reason,
            properties,
            sourcestamps: request.sourcestamps,
            builderids: builders.into_iter().map(|(_, id)| id).collect(),
            priority: request.priority,
            ..NewBuildset::default()
        })
        .await
        .map_err(|r| refused(r, id))
}

/// `rebuild`: a new buildset with the build's sourcestamps and its buildset's properties,
/// reason `rebuild`, `rebuilt_buildid` set, on the build's builder.
async fn rebuild(
    ctx: &Context<'_>,
    backend: &Standalone,
    build: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let int = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0);
    let buildid = int(build, "buildid");
    let request = read_one(
        ctx.data,
        &format!("buildrequests/{}", int(build, "buildrequestid")),
    )
    .await
    .unwrap_or_default();
    let bsid = int(&request, "buildsetid");
    let buildset = read_one(ctx.data, &format!("buildsets/{bsid}"))
        .await
        .unwrap_or_default();
    let ssids: Vec<i64> = buildset
        .get("sourcestamps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ss| ss.get("ssid").and_then(Value::as_i64))
        .collect();
    let props = read_one(ctx.data, &format!("buildsets/{bsid}/properties"))
        .await
        .unwrap_or_default();
    let properties = props
        .into_iter()
        .filter_map(|(name, pair)| {
            let value = pair.get(0)?.clone();
            let source = pair.get(1)?.as_str()?.to_string();
            Some((name, value, source))
        })
        .collect();
    backend
        .add_buildset(NewBuildset {
            reason: "rebuild".into(),
            properties,
            sourcestamp_ids: ssids,
            builderids: vec![int(build, "builderid")],
            priority: int(&request, "priority"),
            rebuilt_buildid: Some(buildid),
            ..NewBuildset::default()
        })
        .await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The JSON-RPC envelope, checked as Buildbot checks it.
fn parse(body: &[u8]) -> Result<Call, RpcError> {
    let root: Value = serde_json::from_slice(body).map_err(|err| {
        RpcError::new(
            StatusCode::BAD_REQUEST,
            -32700,
            format!("JSON parse error: {err}"),
            None,
        )
    })?;
    let object = match root {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(RpcError::invalid(
                "JSONRPC batch requests are not supported",
            ))
        }
        _ => return Err(RpcError::invalid("JSONRPC root object must be an object")),
    };
    for key in ["jsonrpc", "method", "params", "id"] {
        if !object.contains_key(key) {
            return Err(RpcError::invalid(format!("missing key '{key}'")));
        }
    }
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(RpcError::invalid("only JSONRPC 2.0 is supported"));
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        return Err(RpcError::invalid("'method' must be a string"));
    };
    let Some(params) = object.get("params").and_then(Value::as_object) else {
        return Err(RpcError::invalid("'params' must be an object"));
    };
    Ok(Call {
        id: object.get("id").cloned().unwrap_or(Value::Null),
        method: method.to_string(),
        params: params.clone(),
    })
}
