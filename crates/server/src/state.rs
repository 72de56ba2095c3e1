//! [`AppState`]: everything the handlers share. Its own module, so handlers (`api`, `web`) and
//! the router (`app`) depend on it without depending on each other.

use crate::logging::WarnLimiter;
use crate::metrics::Metrics;
use crate::sessions::{DecisionContext, SessionStore};
use axum::body::Bytes;
use axum::http::HeaderValue;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Media, algorithms, start-up level.
    pub ctx: DecisionContext,
    /// Live decision sessions.
    pub sessions: SessionStore,
    /// Counters.
    pub metrics: Metrics,
    /// Canonical web root, if any.
    pub web_root: Option<PathBuf>,
    /// Largest decision body, bytes.
    pub body_limit_bytes: usize,
    /// Longest handler time.
    pub request_timeout: Duration,
    /// Longest time a client may take to send a decision request's body (answered with 408).
    pub body_read_timeout: Duration,
    /// Pre-serialised `/api/v1/videos`.
    pub videos_json: Bytes,
    /// Pre-serialised `/api/v1/algorithms`.
    pub algorithms_json: Bytes,
    /// Origins other than the page's own that browsers may call the server from (CORS);
    /// `*` allows any.
    pub cors_origins: Vec<HeaderValue>,
    /// Rate limit of the "server error answered" warnings (a flood of 503s logs a summary).
    pub server_error_warnings: WarnLimiter,
    /// Telemetry sink (`--telemetry`), if on.
    pub telemetry: Option<neuralstream_telemetry::TelemetryHandle>,
    /// Real-time sessions (`/api/v1/rt/metrics`); `None` when no `--rt-controllers` are enabled.
    pub rt: Option<std::sync::Arc<crate::rt_ws::RtState>>,
    /// The Pensieve-compatible mode, when on.
    pub pensieve: Option<PensieveMode>,
}

/// The Pensieve-compatible mode as resolved at start (see [`crate::pensieve_compat`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PensieveMode {
    /// Canonical folder of Pensieve's client page, served at `/`, if asked for.
    pub client_root: Option<PathBuf>,
}
