//! The router: routes (named by `neuralstream-protocol`), and the layers every request goes
//! through: CORS, metrics and `nosniff` (`observe`), the handler timeout (tower's
//! `TimeoutLayer`, answered as a JSON 503), and axum's `DefaultBodyLimit` on the decision route
//! (and on `POST /` in the Pensieve-compatible mode, whose routes `pensieve_compat` adds).

use crate::api;
use crate::metrics::Route;
use crate::response::HttpError;
use crate::state::AppState;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HOST,
    RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use neuralstream_protocol as protocol;
use std::sync::Arc;
use std::time::Duration;
use tower::timeout::TimeoutLayer;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `GET /media/<name>/<path>`: the media's folder, path-checked.
async fn media(State(state): State<Arc<AppState>>, req: Request) -> Result<Response, HttpError> {
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix(protocol::MEDIA_PREFIX).unwrap_or("");
    let (name, file) = rest.split_once('/').unwrap_or((rest, ""));
    match state.ctx.media.get(name) {
        Some(m) if file.is_empty() => Err(HttpError::not_found(format!(
            "/media/{name}/ is a folder, not a file; players start from {}",
            [m.info.mpd.as_deref(), m.info.hls.as_deref()]
                .into_iter()
                .flatten()
                .chain(std::iter::once(m.info.descriptor.as_str()))
                .collect::<Vec<_>>()
                .join(" or ")
        ))),
        Some(m) => Ok(crate::files::serve(&m.root, file, req).await),
        None => Err(HttpError::not_found(format!(
            "no media named '{}'; this server serves: {} (see {})",
            name.chars().take(100).collect::<String>(),
            state.ctx.media.names(),
            protocol::VIDEOS_PATH
        ))),
    }
}

/// Counts every request by route and status, gives the router's bare 405 a JSON body, adds
/// `nosniff`, and warns (rate-limited) about 5xx answers.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = Route::of(req.uri().path());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let uri_path = req.uri().path().to_string();
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| uri_path.clone());
    let mut response = next.run(req).await;
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
        response = HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{method} is not allowed on {}; use {allowed} (see {})",
                path_for_errors(&uri_path),
                protocol::OPENAPI_PATH
            ),
        )
        .into_response();
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
    if response.status().is_server_error() && state.server_error_warnings.admit() {
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

/// True when `origin` is the origin the request was sent to (the page's own, as a browser sends
/// it on a same-origin POST): its host and port are the request's `Host` (HTTP/1.1) or
/// authority (HTTP/2).
fn same_origin(origin: &HeaderValue, parts: &Parts) -> bool {
    let Some(host) = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
    else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("");
    ["https://", "http://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host))
}

/// CORS: the page's own origin and the `origins` listed (`--cors`); `*` allows any.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let listed = origins.to_vec();
        AllowOrigin::predicate(move |origin, parts| {
            listed.contains(origin) || same_origin(origin, parts)
        })
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, RANGE])
        .expose_headers([
            CONTENT_LENGTH,
            CONTENT_RANGE,
            ACCEPT_RANGES,
            HeaderName::from_static("etag"),
        ])
        .max_age(Duration::from_secs(86_400))
}

/// Builds the router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server took too long to answer; retry",
            )
        }))
        .layer(TimeoutLayer::new(state.request_timeout));
    let decision = post(api::decision).layer(DefaultBodyLimit::max(state.body_limit_bytes));
    let router = Router::new()
        .route(protocol::DECISION_PATH, decision)
        .route(protocol::VIDEOS_PATH, get(api::videos))
        .route(protocol::ALGORITHMS_PATH, get(api::algorithms))
        .route(protocol::OPENAPI_PATH, get(api::openapi))
        .route(protocol::RT_METRICS_PATH, get(crate::rt_ws::upgrade))
        // ---- live dashboard (rt_feed) ----
        .route(protocol::RT_SESSIONS_PATH, get(crate::rt_feed::sessions))
        .route(protocol::RT_SESSION_PATH, get(crate::rt_feed::session))
        .route(protocol::RT_LIVE_PATH, get(crate::rt_feed::live))
        .route(protocol::RT_PAGE_PATH, get(crate::rt_feed::page))
        // ---- end live dashboard ----
        .route(
            &format!("{}{{*rest}}", protocol::API_PREFIX),
            axum::routing::any(api::api_not_found),
        )
        .route(protocol::HEALTHZ_PATH, get(api::healthz))
        .route(protocol::METRICS_PATH, get(api::metrics))
        .route(&format!("{}{{*rest}}", protocol::MEDIA_PREFIX), get(media));
    let router = match &state.pensieve {
        // `POST /` and the client's page (`serve --pensieve-compat`).
        Some(_) => crate::pensieve_compat::routes(router, state.body_limit_bytes),
        None => router.fallback(crate::web::web),
    };
    router
        .layer(timeout)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors(&state.cors_origins))
        .with_state(state)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::logging::tests::{capture, Lines};
    use tower::ServiceExt as _;

    /// Sends `requests` requests made by `request(i)` to a router over the built-in video with
    /// `max_sessions` 0 (and `configure`'s changes); each must be a 503 that passes `check`, and
    /// the warnings must be a burst and one summary line.
    pub(crate) fn assert_a_flood_of_503s_logs_a_burst_and_a_summary(
        requests: usize,
        configure: impl FnOnce(&mut crate::ServerConfig),
        request: impl Fn(usize) -> Request,
        check: impl Fn(&Response),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("clip");
        std::fs::create_dir_all(&media).unwrap();
        let video = neuralstream_data::synthetic::builtin_video();
        neuralstream_data::descriptor::write_descriptor(&media.join("video.json"), &video).unwrap();
        let mut config = crate::ServerConfig::new(vec![media], vec!["bb".into()]);
        config.max_sessions = 0;
        configure(&mut config);
        let state = Arc::new(crate::build_state(&config).unwrap());
        let app = router(state.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let lines = Lines::default();
        tracing::subscriber::with_default(capture(&lines), || {
            rt.block_on(async {
                for i in 0..requests {
                    let r = app.clone().oneshot(request(i)).await.unwrap();
                    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
                    check(&r);
                }
            });
            state.server_error_warnings.flush(true);
        });
        let burst = crate::logging::WARN_BURST as usize;
        assert_eq!(
            lines.count("server error answered"),
            burst + 1,
            "a burst and one summary line"
        );
        assert_eq!(
            lines.count(&format!("{} more like it", requests - burst)),
            1
        );
    }

    #[test]
    fn a_flood_of_503s_at_the_session_cap_logs_a_burst_and_a_summary() {
        assert_a_flood_of_503s_logs_a_burst_and_a_summary(
            500,
            |_| {},
            |i| {
                Request::post(protocol::decision_path(&format!("s{i}")))
                    .body(axum::body::Body::from(r#"{"buffer_s": 0}"#))
                    .unwrap()
            },
            |_| {},
        );
    }
}
