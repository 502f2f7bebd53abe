//! Serving a router on a listener, holding against hostile clients: one task per connection
//! (HTTP/1.1, with upgrades for `/ws`), at most `max_connections` of them, request headers and
//! bodies that must arrive in time, and graceful shutdown.
//!
//! HTTP/1.1 only, as Buildbot (Twisted) serves: cleartext HTTP/2 is not offered, since no
//! browser speaks it and its streams would escape the header timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::config::Limits;

/// How long shutdown waits for requests in progress (a live-update stream never ends).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a connection beyond `max_connections` gets before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nRetry-After: 1\r\n\
Connection: close\r\n\r\ntoo many connections";

/// Serves `router` on `listener` until `shutdown` resolves, within `limits` (its timeouts and
/// connection cap); then lets requests in progress finish, for a few seconds at most.
/// Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin.
                    tracing::warn!("cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(&stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Counted {
            stream,
            _permit: permit,
        };
        tokio::spawn(connection(
            io,
            peer,
            router.clone(),
            limits,
            stopping.clone(),
        ));
    }
    drop(stopping);
    let _ = stop.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, stop.closed())
        .await
        .is_err()
    {
        tracing::info!("shutting down with requests still in progress");
    }
}

/// Answers 503 to a connection over the cap, without waiting: the answer fits the socket's
/// fresh send buffer, and the accept loop must never block on a client.
fn refuse(stream: &TcpStream) {
    tracing::warn!("connection refused: max_connections reached");
    let _ = stream.try_write(BUSY);
}

/// Put on every request by [`serve`]: turns true when the server stops, so that the
/// long-lived answers (`/ws`, `/sse`) end cleanly instead of being cut when the grace ends.
/// Holding it also keeps the shutdown waiting (up to its grace) for its holder to finish.
#[derive(Debug, Clone)]
pub(crate) struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Resolves when the server stops (never, for a request not served by [`serve`]).
    pub(crate) async fn wait(stopping: Option<&mut Stopping>) {
        match stopping {
            Some(Stopping(receiver)) => {
                let _ = receiver.wait_for(|stop| *stop).await;
            }
            None => std::future::pending().await,
        }
    }
}

/// One client connection until it closes (or, upgraded to a websocket, until hyper hands it
/// over); graceful shutdown when `stopping` turns true.
async fn connection(
    io: Counted,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let body_timeout = limits.body_timeout;
    let stopping_requests = stopping.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request =
            request.map(|body| axum::body::Body::new(Deadline::new(body, body_timeout)));
        request.extensions_mut().insert(ConnectInfo(peer));
        request
            .extensions_mut()
            .insert(Stopping(stopping_requests.clone()));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!("connection from {peer} ended: {err}");
    }
}

/// A client's socket holding its place under `max_connections`: the permit goes back when the
/// socket is dropped, which for a websocket is when the websocket ends.
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body that must arrive whole before a deadline set when its headers were read:
/// past it, reading fails, the handler answers an error and hyper closes the connection (the
/// body was not read to its end).
struct Deadline {
    body: Incoming,
    at: tokio::time::Instant,
    /// Set once the body is read and not ready (most requests never read a body).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(body: Incoming, timeout: Duration) -> Self {
        Deadline {
            body,
            at: tokio::time::Instant::now() + timeout,
            timer: None,
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let at = this.at;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err("the request body took too long to arrive".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
