//! The API handlers: decisions, video and algorithm lists, OpenAPI, health and metrics. Every
//! refusal is a JSON [`ApiError`] with a message that says what to change.

use crate::app::AppState;
use crate::metrics::SessionGauges;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use neuralstream_protocol::{validate_session_id, ApiError, DecisionRequest};
use std::sync::Arc;
use std::time::Instant;

/// The OpenAPI 3 document served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// A JSON answer with `Cache-Control: no-store`.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut r = (status, body.into()).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A JSON [`ApiError`] answer.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::to_vec(&ApiError {
        error: message.to_string(),
    })
    .unwrap_or_else(|_| br#"{"error":"error"}"#.to_vec());
    json_response(status, body)
}

/// `POST /api/v1/sessions/{id}/decision`.
pub async fn decision(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let response = decide(&state, path, &headers, body).await;
    state.metrics.record_decision(start.elapsed());
    response
}

async fn decide(
    state: &AppState,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Ok(Path(id)) = path else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "session id in the path is not valid UTF-8; use [A-Za-z0-9_.-]",
        );
    };
    if let Err(e) = validate_session_id(&id) {
        return error_response(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let limit = state.body_limit_bytes;
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {limit} bytes; a decision request is a small JSON object"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let bytes = match tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(e)) if is_length_limit(&e) => return too_large(),
        Ok(Err(e)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {e}"),
            )
        }
        Err(_) => {
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                "the request body did not arrive within {:.1} s; send the whole JSON body at once",
                state.body_read_timeout.as_secs_f64()
            ),
            )
        }
    };
    let request = match DecisionRequest::from_json(&bytes) {
        Ok(r) => r,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match state.sessions.decide(&state.ctx, &id, &request) {
        Ok(answer) => match serde_json::to_vec(&answer) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::debug!(session = %id, status = status.as_u16(), error = %e, "decision refused");
            error_response(status, &e.to_string())
        }
    }
}

/// True when a body read failed because the body exceeded its length limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        source = err.source();
    }
    false
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
    };
    let mut r = (StatusCode::OK, state.metrics.render(&gauges)).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Any unknown path under `/api/`.
pub async fn api_not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "unknown API path; the API is described at /api/v1/openapi.json",
    )
}
