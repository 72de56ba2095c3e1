//! The router: routes, shared state, and the layers every request goes through (CORS, metrics,
//! request timeout, `nosniff`).

use crate::api;
use crate::metrics::{Metrics, Route};
use crate::sessions::{DecisionContext, SessionStore};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{
    HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

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
}

/// `GET /media/<name>/<path>`: the media's folder, path-checked.
async fn media(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/media/").unwrap_or("");
    let (name, file) = rest.split_once('/').unwrap_or((rest, ""));
    match state.ctx.media.get(name) {
        Some(m) if file.is_empty() => api::error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "/media/{name}/ is a folder, not a file; players start from {}",
                [m.info.mpd.as_deref(), m.info.hls.as_deref()]
                    .into_iter()
                    .flatten()
                    .chain(std::iter::once(m.info.descriptor.as_str()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ),
        Some(m) => crate::files::serve(&m.root, file, req).await,
        None => api::error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "no media named '{}'; this server serves: {} (see /api/v1/videos)",
                name.chars().take(100).collect::<String>(),
                state.ctx.media.names()
            ),
        ),
    }
}

/// Counts every request by route and status, enforces the handler timeout, adds `nosniff`.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = Route::of(req.uri().path());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let uri_path = req.uri().path().to_string();
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| uri_path.clone());
    let mut response = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => api::error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server took too long to answer; retry",
        ),
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && axum::body::HttpBody::size_hint(response.body()).exact() == Some(0)
    {
        // The router's bare 405: give it the JSON body every other refusal has (the router adds
        // the `Allow` header on the way out). Only the decision route takes POST.
        let allowed = if route == Route::Decision {
            "POST"
        } else {
            "GET or HEAD"
        };
        response = api::error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!(
                "{method} is not allowed on {}; use {allowed} (see /api/v1/openapi.json)",
                path_for_errors(&uri_path)
            ),
        );
    }
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let bytes = if method == Method::HEAD {
        0
    } else {
        response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| axum::body::HttpBody::size_hint(response.body()).exact())
            .unwrap_or(0)
    };
    state
        .metrics
        .record_request(route, response.status().as_u16(), bytes);
    if response.status().is_server_error() {
        tracing::warn!(%method, route = route.label(), status = response.status().as_u16(), "server error answered");
    }
    if let Some(path) = path {
        tracing::debug!(
            %method,
            path = %path.chars().take(200).collect::<String>(),
            status = response.status().as_u16(),
            bytes,
            elapsed_us = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    response
}

/// A request path cut short for an error message.
fn path_for_errors(path: &str) -> String {
    path.chars().take(200).collect()
}

/// Builds the router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, RANGE])
        .expose_headers([
            CONTENT_LENGTH,
            CONTENT_RANGE,
            ACCEPT_RANGES,
            HeaderName::from_static("etag"),
        ])
        .max_age(Duration::from_secs(86_400));
    Router::new()
        .route("/api/v1/sessions/{id}/decision", post(api::decision))
        .route("/api/v1/videos", get(api::videos))
        .route("/api/v1/algorithms", get(api::algorithms))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/{*rest}", axum::routing::any(api::api_not_found))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/media/{*rest}", get(media))
        .fallback(crate::web::web)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors)
        .with_state(state)
}
