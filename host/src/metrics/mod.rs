//! The server's metrics, as `/metrics` serves them (Prometheus text or OpenMetrics): requests by
//! route, plugin calls, live-update clients and the event watcher, logins, the database pool.
//! See docs/deployment.md, "Metrics".
//!
//! A leaf module: the modules that own something measured hold its meters (`meters.rs`:
//! plugins, events, logins; cheap handles over shared atomics, made before this registry) and
//! record into them; [`Metrics::new`] registers them with the HTTP meters of its own and the
//! values read at scrape time (`scrape.rs`: the pool, the process, the watcher's last poll).
//! Recording never allocates once a label set has been seen, and every label takes its values
//! from a small fixed set (routes are axum's route templates, never raw paths).

mod meters;
mod scrape;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use meters::{
    EventMeters, LoginFailure, LoginMeters, PluginMeters, PluginMetrics, QueueLength,
};

/// Upper bounds (seconds) of the duration histograms' buckets: from half a millisecond (a REST
/// read from the cache) to ten seconds (past every default deadline).
const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram with [`SECONDS_BUCKETS`].
fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS_BUCKETS)
}

/// The prefix of this server's metric names.
const PREFIX: &str = "buildbot_www";

/// Everything `/metrics` shows, and the HTTP side's meters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabel, Histogram, fn() -> Histogram>,
    ws_clients: Gauge,
    sse_clients: Gauge,
}

/// What [`Metrics::new`] registers besides its own meters: the meters other modules own.
pub struct Sources<'a> {
    /// The database pool, read at scrape time.
    pub pool: crate::db::Pool,
    /// The plugin registry's meters.
    pub plugins: &'a PluginMetrics,
    /// The event bus's meters.
    pub events: &'a EventMeters,
    /// Authentication's meters.
    pub logins: &'a LoginMeters,
    /// The REST answer cache, read at scrape time.
    pub answers: Arc<crate::http::answer_cache::AnswerCache>,
}

/// The text format of a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text (what Prometheus asks for first).
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (what any other client gets).
    Prometheus,
}

impl Format {
    /// The format a client asks for with its `Accept` header: OpenMetrics when it names it,
    /// the Prometheus text format otherwise.
    pub fn accepted(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

impl Metrics {
    /// The registry of every metric: the HTTP meters made here and `sources`.
    pub fn new(sources: Sources<'_>) -> Metrics {
        let mut root = Registry::default();
        scrape::register_process(&mut root);
        let registry = root.sub_registry_with_prefix(PREFIX);
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status (counted when the \
             response head is ready: a websocket or event stream once, when it opens)",
            requests.clone(),
        );
        let durations = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response head, by route template",
            Unit::Seconds,
            durations.clone(),
        );
        let ws_clients = Gauge::default();
        registry.register(
            "ws_clients",
            "Websocket clients connected to /ws",
            ws_clients.clone(),
        );
        let sse_clients = Gauge::default();
        registry.register(
            "sse_clients",
            "Event-stream clients connected to /sse",
            sse_clients.clone(),
        );
        sources.plugins.register(registry);
        sources.events.register(registry);
        sources.logins.register(registry);
        scrape::register_pool(registry, sources.pool);
        scrape::register_answer_cache(registry, sources.answers);
        Metrics {
            inner: Arc::new(Inner {
                registry: root,
                requests,
                durations,
                ws_clients,
                sse_clients,
            }),
        }
    }

    /// Counts one request whose response head was ready after `elapsed`.
    fn http_request(
        &self,
        route: Route,
        method: &'static str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let route = RouteLabel { route };
        self.inner
            .durations
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        let labels = RequestLabels {
            route: route.route,
            method,
            status: status.as_u16(),
        };
        self.inner.requests.get_or_create(&labels).inc();
    }

    /// A websocket client, counted while the returned guard lives.
    pub fn ws_client(&self) -> Connected {
        Connected::new(&self.inner.ws_clients)
    }

    /// An event-stream client, counted while the returned guard lives.
    pub fn sse_client(&self) -> Connected {
        Connected::new(&self.inner.sse_clients)
    }

    /// Every metric as text in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut text = String::with_capacity(16 << 10);
        let written = match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            }
            Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(
                &mut text,
                &self.inner.registry,
            ),
        };
        // Writing to a String cannot fail, and no encoder of ours reports an error.
        if let Err(err) = written {
            tracing::error!("metrics: encoding failed: {err}");
        }
        text
    }
}

/// Axum middleware counting every request and its time to the response head, by the route
/// template it matched: `axum::middleware::from_fn_with_state(metrics, metrics::record)`, with
/// `Router::layer` (only then is the matched route known). A streamed answer (`/sse`, a
/// websocket's 101) is counted when its head is ready, not when it ends.
pub async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = Route(request.extensions().get::<MatchedPath>().cloned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    metrics.http_request(route, method, response.status(), started.elapsed());
    response
}

/// A connected client counted in a gauge until dropped.
#[derive(Debug)]
pub struct Connected(Gauge);

impl Connected {
    fn new(gauge: &Gauge) -> Connected {
        gauge.inc();
        Connected(gauge.clone())
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The standard methods by name, any other as `other` (a client may send any token).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A route template (`/api/{version}/{*path}`), or `other` for a request no route matched.
/// Holds axum's shared string: making a label copies no text.
#[derive(Debug, Clone)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("other", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: Route,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: Route,
    method: &'static str,
    status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_accept_header() {
        assert_eq!(Format::accepted(None), Format::Prometheus);
        assert_eq!(Format::accepted(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            Format::accepted(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
