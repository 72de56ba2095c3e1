//! Bounds on connections: a cap on open connections with a clear refusal, an idle timeout that
//! closes HTTP/1.1 and HTTP/2 connections with no request in flight, and the soft open-file limit
//! raised at start so the cap, not the kernel, is what refuses clients.
//!
//! **Key design decision:** both bounds live in one per-connection service ([`ConnService`]) that
//! an axum-server acceptor ([`LimitAcceptor`]) makes for every accepted TCP connection, before
//! TLS. The connection's slot is owned by an `Arc` shared by that service's clones and by the
//! response bodies in flight, so it is released exactly when hyper drops the connection (closed,
//! reset, failed handshake, timed out). A connection over the cap still gets its TLS handshake and
//! one `503` JSON answer naming the limit and the flag, then is closed; beyond
//! [`refusal_slots`] such connections at once, further ones are dropped unanswered so refusing
//! stays bounded too. The idle timer counts requests and response bodies, not bytes: the HTTP/2
//! pings hyper sends to detect dead peers do not keep a connection open (hyper has no HTTP/2 idle
//! timeout of its own).

use axum::body::Body;
use axum::http::header::{HeaderValue, CONNECTION, RETRY_AFTER};
use axum::http::{Request, Response, StatusCode, Version};
use axum::Router;
use axum_server::accept::Accept;
use axum_server::ConnectionShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::Service;

/// Default of `--max-connections`: open connections served at once. It needs about 8,500 open
/// files, within the usual hard limits (systemd's 524,288; 20,000 here), so a default start
/// raises its soft limit and serves it without a warning.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default of `--idle-timeout-s`: a connection with no request in flight for this long is closed.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
/// Open files a connection may need: its socket and the media file it is sending.
const FILES_PER_CONNECTION: u64 = 2;
/// Open files kept for everything else (listener, runtime, logs, policy files, refusals).
const FILES_RESERVED: u64 = 256;

/// Connections over the cap answered with a `503` at once (`max / 8`, 16 to 1024); more are
/// dropped without an answer.
pub fn refusal_slots(max_connections: usize) -> usize {
    (max_connections / 8).clamp(16, 1024)
}

/// The cap actually usable under an open-file limit of `soft_limit` files, and a warning with the
/// fix when it is below `max_connections`.
pub fn fit_cap(max_connections: usize, soft_limit: Option<u64>) -> (usize, Option<String>) {
    let Some(soft) = soft_limit else {
        return (max_connections, None);
    };
    let needed = (max_connections as u64)
        .saturating_mul(FILES_PER_CONNECTION)
        .saturating_add(FILES_RESERVED);
    if soft >= needed {
        return (max_connections, None);
    }
    let fits = (soft.saturating_sub(FILES_RESERVED) / FILES_PER_CONNECTION).max(1) as usize;
    let warning = format!(
        "--max-connections {max_connections} needs about {needed} open files but this process may \
         open {soft} (ulimit -n); serving at most {fits} connections at once; raise the limit \
         (ulimit -n {needed}, or LimitNOFILE={needed} under systemd) or lower --max-connections"
    );
    (fits, Some(warning))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit where allowed; returns the soft limit in
/// force afterwards (`None` when unlimited or unknown).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let soft = limit.current?;
        match limit.maximum {
            Some(hard) if hard > soft => {
                let raised = Rlimit {
                    current: Some(hard),
                    maximum: Some(hard),
                };
                match setrlimit(Resource::Nofile, raised) {
                    Ok(()) => Some(hard),
                    Err(e) => {
                        tracing::debug!(error = %e, soft, hard, "cannot raise the open-file limit");
                        Some(soft)
                    }
                }
            }
            _ => Some(soft),
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    max: usize,
    refusal_slots: usize,
    idle: Duration,
    open: AtomicUsize,
    refusing: AtomicUsize,
    /// Set while refusing, so one warning is logged per episode at the cap, not one per client.
    at_cap: AtomicBool,
    refused_total: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Takes a slot below the cap, or a refusal slot, or nothing.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let below_cap = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if below_cap {
            self.at_cap.store(false, Ordering::Relaxed);
            return Some(Slot {
                shared: self.clone(),
                refused: false,
            });
        }
        self.refused_total.fetch_add(1, Ordering::Relaxed);
        if !self.at_cap.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max_connections = self.max,
                "connection limit reached: new connections get 503 until some close (--max-connections)"
            );
        }
        self.refusing
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.refusal_slots).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot {
                shared: self.clone(),
                refused: true,
            })
    }
}

/// One connection's place under the cap (or among the refusals); given back on drop.
#[derive(Debug)]
struct Slot {
    shared: Arc<Shared>,
    refused: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let counter = if self.refused {
            &self.shared.refusing
        } else {
            &self.shared.open
        };
        counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One connection: its slot, requests in flight, and when the last one finished.
#[derive(Debug)]
struct Conn {
    slot: Slot,
    in_flight: AtomicUsize,
    last_done_ms: AtomicU64,
    watched: AtomicBool,
}

impl Conn {
    /// How long until the connection has been idle for `idle`; `None` once it has.
    fn idle_left(&self, idle: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Some(idle);
        }
        let since = Duration::from_millis(
            self.slot
                .shared
                .now_ms()
                .saturating_sub(self.last_done_ms.load(Ordering::Acquire)),
        );
        idle.checked_sub(since).filter(|left| !left.is_zero())
    }
}

/// Closes the connection (gracefully: HTTP/2 GOAWAY, HTTP/1.1 close) once no request has been in
/// flight for `idle`. Holds the connection weakly, so it never keeps one open.
async fn close_when_idle(conn: Weak<Conn>, shutdown: ConnectionShutdown, idle: Duration) {
    loop {
        let left = match conn.upgrade() {
            Some(c) => c.idle_left(idle),
            None => return,
        };
        match left {
            Some(wait) => tokio::time::sleep(wait).await,
            None => {
                tracing::debug!("closing an idle connection");
                shutdown.graceful_shutdown();
                return;
            }
        }
    }
}

/// Marks a request in flight until dropped (with the response body it travels in).
#[derive(Debug)]
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.0.slot.shared.now_ms();
        self.0.last_done_ms.store(now, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct TrackedBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The service of one connection: the app with idle tracking, or the refusal.
#[derive(Clone)]
pub struct ConnService {
    app: Router,
    conn: Arc<Conn>,
}

/// The `503` a connection over the cap gets.
fn refusal(max: usize, version: Version) -> Response<Body> {
    let mut response = crate::api::error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "the server is at its limit of {max} open connections (--max-connections); \
             retry in a moment"
        ),
    );
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    if version <= Version::HTTP_11 {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

impl<B> Service<Request<B>> for ConnService
where
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shutdown = req.extensions().get::<ConnectionShutdown>().cloned();
        let shared = &self.conn.slot.shared;
        if self.conn.slot.refused {
            if let Some(s) = shutdown {
                s.graceful_shutdown();
            }
            let response = refusal(shared.max, req.version());
            return Box::pin(std::future::ready(Ok(response)));
        }
        if let Some(s) = shutdown {
            if !self.conn.watched.swap(true, Ordering::AcqRel) {
                let conn = Arc::downgrade(&self.conn);
                tokio::spawn(close_when_idle(conn, s, shared.idle));
            }
        }
        let busy = Busy::new(self.conn.clone());
        let answer = self.app.call(req);
        Box::pin(async move {
            let response = match answer.await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            Ok(response.map(|inner| Body::new(TrackedBody { inner, _busy: busy })))
        })
    }
}

/// The acceptor that counts connections, refuses beyond the cap and arms the idle timeout. Runs
/// before TLS (`RustlsAcceptor::acceptor`), so handshakes in progress count too.
#[derive(Clone, Debug)]
pub struct LimitAcceptor {
    shared: Arc<Shared>,
}

impl LimitAcceptor {
    /// An acceptor for at most `max_connections` open connections (at least 1), closing those
    /// idle for `idle`.
    pub fn new(max_connections: usize, idle: Duration) -> Self {
        let max = max_connections.max(1);
        LimitAcceptor {
            shared: Arc::new(Shared {
                max,
                refusal_slots: refusal_slots(max),
                idle,
                open: AtomicUsize::new(0),
                refusing: AtomicUsize::new(0),
                at_cap: AtomicBool::new(false),
                refused_total: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        }
    }

    /// The cap in force.
    pub fn max_connections(&self) -> usize {
        self.shared.max
    }

    /// Connections open now (TLS handshakes in progress included, refusals not).
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::Acquire)
    }

    /// Connections refused since start.
    pub fn refused_total(&self) -> u64 {
        self.shared.refused_total.load(Ordering::Relaxed)
    }
}

impl<I> Accept<I, Router> for LimitAcceptor {
    type Stream = I;
    type Service = ConnService;
    type Future = std::future::Ready<std::io::Result<(I, ConnService)>>;

    fn accept(&self, stream: I, app: Router) -> Self::Future {
        let result = match self.shared.admit() {
            Some(slot) => Ok((
                stream,
                ConnService {
                    app,
                    conn: Arc::new(Conn {
                        last_done_ms: AtomicU64::new(self.shared.now_ms()),
                        slot,
                        in_flight: AtomicUsize::new(0),
                        watched: AtomicBool::new(false),
                    }),
                },
            )),
            None => Err(std::io::Error::other(
                "connection limit reached and too many refusals in progress; dropped",
            )),
        };
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(fit_cap(10_000, None), (10_000, None));
        assert_eq!(fit_cap(10_000, Some(1 << 20)), (10_000, None));
        let (cap, warning) = fit_cap(10_000, Some(1024));
        assert_eq!(cap, (1024 - 256) / 2);
        let warning = warning.unwrap();
        assert!(
            warning.contains("ulimit -n 20256") && warning.contains("--max-connections"),
            "{warning}"
        );
        assert_eq!(fit_cap(10, Some(10)).0, 1);
    }

    #[test]
    fn refusal_slots_are_bounded() {
        assert_eq!(refusal_slots(1), 16);
        assert_eq!(refusal_slots(800), 100);
        assert_eq!(refusal_slots(10_000), 1024);
        assert_eq!(refusal_slots(1_000_000), 1024);
    }

    #[test]
    fn slots_are_given_back_and_refusals_are_bounded() {
        let acceptor = LimitAcceptor::new(2, DEFAULT_IDLE);
        let a = acceptor.shared.admit().unwrap();
        let b = acceptor.shared.admit().unwrap();
        assert!(!a.refused && !b.refused);
        assert_eq!(acceptor.open(), 2);
        let refused: Vec<Slot> = (0..16).map(|_| acceptor.shared.admit().unwrap()).collect();
        assert!(refused.iter().all(|s| s.refused));
        assert!(
            acceptor.shared.admit().is_none(),
            "refusals beyond the slots"
        );
        assert_eq!(acceptor.refused_total(), 17);
        drop(a);
        assert_eq!(acceptor.open(), 1);
        assert!(!acceptor.shared.admit().unwrap().refused);
        drop(refused);
        assert_eq!(acceptor.shared.refusing.load(Ordering::Acquire), 0);
    }

    #[test]
    fn idleness_counts_requests_in_flight() {
        let acceptor = LimitAcceptor::new(4, Duration::from_millis(50));
        let conn = Arc::new(Conn {
            last_done_ms: AtomicU64::new(acceptor.shared.now_ms()),
            slot: acceptor.shared.admit().unwrap(),
            in_flight: AtomicUsize::new(0),
            watched: AtomicBool::new(false),
        });
        let idle = Duration::from_millis(50);
        assert!(conn.idle_left(idle).is_some());
        let busy = Busy::new(conn.clone());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(
            conn.idle_left(idle),
            Some(idle),
            "busy for longer than idle"
        );
        drop(busy);
        assert!(conn.idle_left(idle).is_some(), "just finished");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(conn.idle_left(idle), None);
    }
}
