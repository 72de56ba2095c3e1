//! What every handler answers with: [`json_response`] for a JSON body and [`HttpError`], a refused
//! request that converts into the API's JSON [`ApiError`] answer (`IntoResponse`), so handlers
//! return `Result<Response, HttpError>` and refuse with `?`.
//!
//! This module depends on nothing else in the crate, so handlers, static files and the router
//! all use it without importing each other.

use axum::body::Bytes;
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use neuralstream_protocol::{ApiError, ProtocolError};

/// A JSON answer with `Cache-Control: no-store`.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut r = (status, body.into()).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A refused request: the status and a message that says what to change. Answered as a JSON
/// [`ApiError`] (`{"error": "..."}`) with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// HTTP status of the answer (4xx or 5xx).
    pub status: StatusCode,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl HttpError {
    /// A refusal with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 413: a decision body over `limit_bytes`.
    pub fn body_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit_bytes} bytes; a decision request is a small JSON object"),
        )
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for HttpError {}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ApiError {
            error: self.message,
        })
        .unwrap_or_else(|_| br#"{"error":"error"}"#.to_vec());
        json_response(self.status, body)
    }
}

/// A request the protocol refuses (bad JSON, a field out of range, a bad session id) is a 400.
impl From<ProtocolError> for HttpError {
    fn from(e: ProtocolError) -> Self {
        Self::bad_request(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refusals_answer_as_json_api_errors() {
        let r = HttpError::body_too_large(4096).into_response();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let e: ApiError = serde_json::from_slice(&bytes).unwrap();
        assert!(e.error.contains("4096"), "{}", e.error);
        let bad = neuralstream_protocol::validate_session_id("..").unwrap_err();
        assert_eq!(HttpError::from(bad).status, StatusCode::BAD_REQUEST);
    }
}
