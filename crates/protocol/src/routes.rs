//! The API's paths (routes named once, for the server's router and the players' URLs) and the
//! client-chosen session id that appears in them.

use crate::ProtocolError;

/// Path of the decision endpoint, with `{id}` the client-chosen session id.
pub const DECISION_PATH: &str = "/api/v1/sessions/{id}/decision";

/// Longest session id accepted (characters).
pub const MAX_SESSION_ID_LEN: usize = 128;

/// Path of the list of videos (`GET`, answers `Vec<VideoInfo>`).
pub const VIDEOS_PATH: &str = "/api/v1/videos";

/// Path of the list of enabled algorithms (`GET`, answers [`AlgorithmList`](crate::AlgorithmList)).
pub const ALGORITHMS_PATH: &str = "/api/v1/algorithms";

/// Path of the real-time WebSocket (`GET` with an upgrade; one report in and one decision out
/// per interval; `docs/rt_dataset.md`).
pub const RT_METRICS_PATH: &str = "/api/v1/rt/metrics";

// ---- live dashboard (docs/rt_dashboard.md) ----
/// Path of the live real-time sessions (`GET`, a JSON snapshot of the list).
pub const RT_SESSIONS_PATH: &str = "/api/v1/rt/sessions";

/// Path of one live real-time session's series (`GET`, `{id}` the client's session id).
pub const RT_SESSION_PATH: &str = "/api/v1/rt/sessions/{id}";

/// Path of the live dashboard's read-only WebSocket feed (`GET` with an upgrade,
/// `?watch=ID` optional).
pub const RT_LIVE_PATH: &str = "/api/v1/rt/live";

/// Path of the live dashboard page.
pub const RT_PAGE_PATH: &str = "/rt";
// ---- end live dashboard ----

/// Path of the OpenAPI 3 document of the API.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The decision path for session `id` (the id is not escaped; check it with [`validate_session_id`]).
pub fn decision_path(id: &str) -> String {
    DECISION_PATH.replace("{id}", id)
}

/// Prefix of every API path (`/api/...`); an unknown path under it is answered with a JSON 404.
pub const API_PREFIX: &str = "/api/";

/// Prefix of the per-session decision paths (`/api/v1/sessions/{id}/...`).
pub const SESSIONS_PREFIX: &str = "/api/v1/sessions/";

/// Prefix of the served media (`/media/<video name>/<file>`).
pub const MEDIA_PREFIX: &str = "/media/";

/// Path of the health check (`GET`, answers `{"status": "ok", ...}`).
pub const HEALTHZ_PATH: &str = "/healthz";

/// Path of the Prometheus metrics (`GET`, text format 0.0.4).
pub const METRICS_PATH: &str = "/metrics";

/// Checks a client-chosen session id: 1 to [`MAX_SESSION_ID_LEN`] characters of
/// `[A-Za-z0-9_.-]`, not made of dots only (so it never reads like a path segment).
pub fn validate_session_id(id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !id.bytes().all(|b| b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadSessionId(id.chars().take(160).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_path_fills_the_id() {
        assert_eq!(decision_path("s1"), "/api/v1/sessions/s1/decision");
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(validate_session_id("abc-1_2.x").is_ok());
        assert!(validate_session_id("").is_err());
        assert!(validate_session_id("../etc").is_err());
        assert!(validate_session_id("..").is_err());
        assert!(validate_session_id(".").is_err());
        assert!(validate_session_id(&"a".repeat(MAX_SESSION_ID_LEN + 1)).is_err());
    }
}
