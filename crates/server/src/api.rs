//! The API handlers: decisions, video and algorithm lists, OpenAPI, health and metrics. Every
//! refusal is an [`HttpError`], answered as a JSON `ApiError`, with a message that says what to change.

use crate::metrics::SessionGauges;
pub use crate::response::json_response;
use crate::response::HttpError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, PathRejection};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use neuralstream_protocol::{validate_session_id, DecisionRequest};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The OpenAPI 3 document served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Most bytes of a request body read and thrown away before a refusal that did not need it
/// (a bad session id, a declared size over the limit), so an HTTP/2 client that is still
/// uploading gets the status instead of a reset stream.
pub const DRAIN_LIMIT_BYTES: u64 = 1 << 20;

/// Longest time spent draining such a body.
pub const DRAIN_TIME: Duration = Duration::from_secs(1);

/// A JSON [`ApiError`](neuralstream_protocol::ApiError) answer (what [`HttpError`] answers).
pub fn error_response(status: StatusCode, message: &str) -> Response {
    HttpError::new(status, message).into_response()
}

/// `POST /api/v1/sessions/{id}/decision`.
///
/// The body's arrival is timed apart from the decision (`decision_body_read_seconds`), so a slow
/// upload never shows as a slow decision (`decision_duration_seconds`).
pub async fn decision(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, HttpError> {
    let id = match session_id(path) {
        Ok(id) => id,
        Err(e) => return Err(drained(req.into_body(), e).await),
    };
    let bytes = decision_body(&state, req).await?;
    let started = Instant::now();
    let answer = decide(&state, &id, &bytes);
    state.metrics.record_decision(started.elapsed());
    answer
}

/// A decision request's body, within the body limit (a declared size over it is refused before
/// reading, after draining a small body) and the body-read timeout; the read is timed as
/// `decision_body_read_seconds`. Shared by the JSON API and the Pensieve-compatible mode.
pub(crate) async fn decision_body(state: &AppState, req: Request) -> Result<Bytes, HttpError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = state.body_limit_bytes;
    if declared.is_some_and(|n| n > limit as u64) {
        let refusal = HttpError::body_too_large(limit);
        if declared.is_some_and(|n| n > DRAIN_LIMIT_BYTES) {
            return Err(refusal);
        }
        return Err(drained(req.into_body(), refusal).await);
    }
    let read_started = Instant::now();
    let bytes = read_body(state, req).await;
    state.metrics.record_body_read(read_started.elapsed());
    bytes
}

/// The session id of the path, checked.
fn session_id(path: Result<Path<String>, PathRejection>) -> Result<String, HttpError> {
    let Ok(Path(id)) = path else {
        return Err(HttpError::bad_request(
            "session id in the path is not valid UTF-8; use [A-Za-z0-9_.-]",
        ));
    };
    validate_session_id(&id)?;
    Ok(id)
}

/// Reads and discards up to [`DRAIN_LIMIT_BYTES`] of `body` for at most [`DRAIN_TIME`], then
/// gives `refusal` back: a client whose whole body arrives sees a finished request and the
/// status; a longer or slower one gets the status, then the stream is reset.
async fn drained(body: Body, refusal: HttpError) -> HttpError {
    use axum::body::HttpBody as _;
    let drain = async {
        let mut body = body;
        let mut read = 0u64;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
                if read > DRAIN_LIMIT_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    refusal
}

/// The request body, within the route's body limit (axum's `DefaultBodyLimit`) and the body-read
/// timeout.
async fn read_body(state: &AppState, req: Request) -> Result<Bytes, HttpError> {
    match tokio::time::timeout(state.body_read_timeout, Bytes::from_request(req, &())).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)))) => {
            Err(HttpError::body_too_large(state.body_limit_bytes))
        }
        Ok(Err(e)) => Err(HttpError::bad_request(format!(
            "could not read the request body: {}",
            e.body_text()
        ))),
        Err(_) => Err(HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {:.1} s; send the whole JSON body at once",
                state.body_read_timeout.as_secs_f64()
            ),
        )),
    }
}

/// Parses the request, decides, serialises the answer.
fn decide(state: &AppState, id: &str, body: &[u8]) -> Result<Response, HttpError> {
    let request = DecisionRequest::from_json(body)?;
    let (answer, completed_now) = state
        .sessions
        .decide_tracked(&state.ctx, id, &request)
        .inspect_err(|e| {
            tracing::debug!(session = %id, status = e.status(), error = %e, "decision refused");
        })?;
    if let Some(sink) = &state.telemetry {
        crate::telemetry::emit_decision(sink, state, &request, &answer, completed_now);
    }
    let body = serde_json::to_vec(&answer)
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /api/v1/videos`.
pub async fn videos(State(state): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, state.videos_json.clone())
}

/// `GET /api/v1/algorithms`.
pub async fn algorithms(State(state): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, state.algorithms_json.clone())
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    json_response(StatusCode::OK, OPENAPI_JSON)
}

/// `GET /healthz`.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "sessions": state.sessions.active(),
        "videos": state.ctx.media.iter().count(),
    });
    json_response(StatusCode::OK, body.to_string())
}

/// `GET /metrics` (Prometheus text format).
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let gauges = SessionGauges {
        active: state.sessions.active(),
        created_total: state.sessions.created_total(),
        evicted_total: state.sessions.evicted_total(),
        qoe: state.sessions.qoe_values(),
        reserved_bytes: state.sessions.reserved_bytes(),
        budget_bytes: state.sessions.budget_bytes(),
        live: state.sessions.live_sessions(),
    };
    let mut text = state.metrics.render(&gauges);
    if let Some(rt) = &state.rt {
        rt.render(&mut text);
    }
    crate::telemetry::render_metrics(state.telemetry.as_ref(), &mut text);
    if let Some(egress) = &state.ctx.egress {
        text.push_str(&egress.render_metrics());
    }
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Any unknown path under `/api/`.
pub async fn api_not_found() -> HttpError {
    HttpError::not_found("unknown API path; the API is described at /api/v1/openapi.json")
}
