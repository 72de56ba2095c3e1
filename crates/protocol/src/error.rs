//! [`ProtocolError`]: why a request was refused before it reached an algorithm.

use crate::routes::MAX_SESSION_ID_LEN;

/// Why a request was refused; the message names the field and says what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// The body is not JSON of either accepted shape.
    #[error("request body is not a valid decision request: {0}. Expected {{\"buffer_s\": 12.0, \"last_chunk\": {{\"index\": 3, \"level\": 2, \"size_bytes\": 812345, \"request_start_ms\": 1000, \"request_finish_ms\": 1800}}}} or a Pensieve-style body with lastquality, buffer, RebufferTime, lastRequest, lastChunkStartTime, lastChunkFinishTime, lastChunkSize")]
    Malformed(String),
    /// A field has an impossible value.
    #[error("field `{field}`: {problem}")]
    Invalid {
        /// The offending field, as the client spelled it (the project's or Pensieve's name).
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// The session id in the path is unusable.
    #[error("session id must be 1 to {MAX_SESSION_ID_LEN} characters of [A-Za-z0-9_.-], not only dots, got {0:?}")]
    BadSessionId(String),
}
