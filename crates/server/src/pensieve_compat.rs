//! The Pensieve-compatible mode (`serve --pensieve-compat`): a drop-in replacement for the Python
//! `rl_server` of Pensieve (Mao et al., SIGCOMM 2017, `hongzimao/pensieve`, `rl_server/`) behind
//! its modified dash.js client, running any NeuralStream algorithm.
//!
//! The client (see [`neuralstream_protocol::pensieve`] for its body, field by field) posts a flat
//! JSON report to `http://localhost:8333/` after every chunk and reads a plain-text answer: the
//! next chunk's quality index, or `REFRESH`. This module answers that route:
//!
//! - **Same decisions as the JSON API.** The body is translated once by the protocol crate into the
//!   project's [`DecisionRequest`] and handed to the same [`SessionStore::decide`](crate::sessions::SessionStore::decide) the JSON API
//!   uses, so a report sequence gets exactly the levels the same reports would get through
//!   `POST /api/v1/sessions/{id}/decision` on a fresh session id (tested over every algorithm).
//! - **An implied session per client.** The client sends no id; the session is keyed by a hash of
//!   its `User-Agent` and `Origin` headers (`pensieve-` and 16 hex digits), so different browsers
//!   get different sessions and, as with the reference server (one session per process), two tabs
//!   of one browser share one. A report of chunk 0 (`lastRequest` 0: a page that loaded, or
//!   reloaded, and fetched its first chunk) ends whatever session the key held and starts a fresh
//!   one; the report of the video's last chunk is recorded, answered `REFRESH` (the client then
//!   reloads the page) and ends the session, as the reference server resets its state there.
//! - **The same limits.** The body goes through the JSON API's body limit and read timeout; the
//!   session cap, the memory budget, idle eviction and the rate-limited warnings are the store's and
//!   the router's. Refusals are the JSON API's ([`HttpError`], JSON `{"error": ...}`) with its
//!   statuses; the client ignores any non-200 answer and keeps its default level (2).
//! - **CORS as the reference server sends it:** `Access-Control-Allow-Origin: *` on every answer of
//!   `POST /` (the client's request is a CORS "simple request", so there is no preflight).
//! - **Same origin for the page.** With a client folder (`--pensieve-client`), `GET /` serves that
//!   folder (`/` is `myindex_RL.html`), `/Manifest.mpd` is the first `--media` folder's DASH
//!   manifest (not the reference folder's own `Manifest.mpd`, whose 275 MB of segments are not
//!   shipped), and any other path missing from the client folder is looked up in that media folder,
//!   where the manifest's relative segment URLs point.
//!
//! Decisions are logged at `info` (`pensieve decision`: session, reported chunk and level, the
//! next chunk and the answer), so a run's log pairs each answer with the segment requests of the
//! access log (`NEURALSTREAM_LOG=neuralstream_server=debug`).

use crate::files::PathRefusal;
use crate::response::HttpError;
use crate::state::{AppState, PensieveMode};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ORIGIN,
    USER_AGENT,
};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use neuralstream_protocol::pensieve::{self as client, parse_client_body};
use neuralstream_protocol::DecisionRequest;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

/// Page served at `/` from the client folder: the page of the server-driven rule (`abr_id` 4).
pub const CLIENT_PAGE: &str = "myindex_RL.html";

/// What the mode answers a report with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The next chunk's level, answered as its decimal index.
    Level(usize),
    /// The video is over: the client reloads the page.
    Refresh,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Level(level) => write!(f, "{level}"),
            Answer::Refresh => f.write_str(client::REFRESH),
        }
    }
}

/// Checks the mode's settings at start: the client folder must be a folder, and the first media
/// folder must have a DASH manifest for `/Manifest.mpd`.
pub fn resolve(
    config: &crate::PensieveConfig,
    media: &crate::media::MediaLibrary,
) -> Result<PensieveMode, crate::ServerError> {
    let Some(dir) = &config.client_dir else {
        return Ok(PensieveMode { client_root: None });
    };
    let refuse = |reason: String| crate::ServerError::PensieveClient {
        path: dir.clone(),
        reason,
    };
    let canonical = std::fs::canonicalize(dir).map_err(|e| {
        refuse(format!(
            "{e}; give the folder holding Pensieve's {CLIENT_PAGE} and dash.all.min.js"
        ))
    })?;
    if !canonical.is_dir() {
        return Err(refuse("is not a folder".into()));
    }
    if let Some(m) = media.iter().next().filter(|m| m.info.mpd.is_none()) {
        return Err(refuse(format!(
            "the client loads {} but the first --media folder ({}) has no DASH manifest; package it with `neuralstream package`",
            client::MANIFEST_PATH,
            m.root.display()
        )));
    }
    if !canonical.join(CLIENT_PAGE).is_file() {
        tracing::warn!(folder = %canonical.display(), "the Pensieve client folder has no {CLIENT_PAGE}");
    }
    Ok(PensieveMode {
        client_root: Some(canonical),
    })
}

/// Adds the mode's routes to `router`: `POST /` (within `body_limit_bytes`), and the client's page,
/// manifest and segments as the fallback.
pub fn routes(router: Router<Arc<AppState>>, body_limit_bytes: usize) -> Router<Arc<AppState>> {
    router
        .route(
            client::CLIENT_PATH,
            post(decision)
                .layer(DefaultBodyLimit::max(body_limit_bytes))
                .fallback(page),
        )
        .fallback(page)
}

/// The implied session of a client: `pensieve-` and a hash of its `User-Agent` and `Origin`
/// (SipHash with fixed keys, so the id is the same across restarts and in every log).
pub fn session_id(headers: &HeaderMap) -> String {
    #[allow(deprecated)] // SipHasher: the fixed-key hash std offers; not for untrusted hash maps.
    let mut h = std::hash::SipHasher::new();
    for name in [USER_AGENT, ORIGIN] {
        headers.get(name).map(|v| v.as_bytes()).hash(&mut h);
    }
    format!("pensieve-{:016x}", h.finish())
}

/// `POST /`: one report of the client, answered in plain text.
pub async fn decision(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let id = session_id(req.headers());
    let answer = match crate::api::decision_body(&state, req).await {
        Ok(body) => {
            let started = Instant::now();
            let answer = answer(&state, &id, &body);
            state.metrics.record_decision(started.elapsed());
            answer
        }
        Err(e) => Err(e),
    };
    let mut response = match answer {
        Ok(answer) => {
            let mut r = (StatusCode::OK, answer.to_string()).into_response();
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// Records one report `body` of the client in session `id` and answers it (see the module doc
/// for how sessions start and end).
pub fn answer(state: &AppState, id: &str, body: &[u8]) -> Result<Answer, HttpError> {
    let request = parse_client_body(body)?;
    let Some(report) = request.last_chunk.as_ref() else {
        return Err(HttpError::bad_request("the report names no chunk"));
    };
    if report.index == 0 && state.sessions.end(id) {
        tracing::info!(session = %id, "pensieve client reported chunk 0 again (a reloaded page): new session");
    }
    let (decision, completed_now) = state
        .sessions
        .decide_tracked(&state.ctx, id, &request)
        .inspect_err(|e| {
            tracing::debug!(session = %id, status = e.status(), error = %e, "pensieve decision refused");
        })?;
    if let Some(sink) = &state.telemetry {
        // The same events as the JSON API's (the client's first report is of chunk 0, so no
        // `session_start`); an unfinished session's `session_end` comes from the store.
        crate::telemetry::emit_decision(sink, state, &request, &decision, completed_now);
    }
    let answer = if decision.chunk >= chunks_of(state, &request) {
        state.sessions.end(id);
        Answer::Refresh
    } else {
        Answer::Level(decision.level)
    };
    tracing::info!(
        session = %id,
        algorithm = %decision.algorithm,
        chunk = report.index,
        level = report.level,
        next_chunk = decision.chunk,
        answer = %answer,
        qoe_so_far = decision.qoe_so_far,
        "pensieve decision"
    );
    Ok(answer)
}

/// Chunks of the video the request is about (the reference client never names one: the first).
fn chunks_of(state: &AppState, request: &DecisionRequest) -> usize {
    let media = request
        .video
        .as_deref()
        .and_then(|name| state.ctx.media.index_of(name))
        .unwrap_or(0);
    state.ctx.media.at(media).video.num_chunks()
}

/// The fallback in this mode: the client folder, `/Manifest.mpd` and the first media folder (see
/// the module doc); the usual page at `/` when no client folder was given.
pub async fn page(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let Some(root) = state.pensieve.as_ref().and_then(|p| p.client_root.clone()) else {
        return crate::web::web(State(state), req).await;
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let allowed = if req.uri().path() == client::CLIENT_PATH {
            "POST (reports), GET or HEAD"
        } else {
            "GET or HEAD"
        };
        return HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed here; use {allowed}", req.method()),
        )
        .into_response();
    }
    let media = state.ctx.media.at(0);
    let path = req.uri().path().to_string();
    if path == client::MANIFEST_PATH {
        let manifest = media.info.mpd.as_deref().and_then(|u| u.rsplit('/').next());
        return match manifest {
            Some(name) => crate::files::serve(&media.root, name, req).await,
            None => HttpError::not_found("the served video has no DASH manifest").into_response(),
        };
    }
    let raw = match path.trim_start_matches('/') {
        "" => CLIENT_PAGE,
        raw => raw,
    };
    match crate::files::resolve(&root, raw).await {
        Ok(file) => crate::files::serve_file(&file, req).await,
        Err(PathRefusal::NotFound) => crate::files::serve(&media.root, raw, req).await,
        Err(PathRefusal::Bad(why)) => {
            HttpError::bad_request(format!("refused path: {why}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of chunk 0 in the reference client's words.
    const FIRST: &str = r#"{"nextChunkSize":[2123065,1431809,957685,611087,398865,155580],"lastquality":1,"buffer":3.999999,"bufferAdjusted":-0.550001,"bandwidthEst":28113.36,"lastRequest":0,"RebufferTime":26,"lastChunkFinishTime":1796604954508,"lastChunkStartTime":1796604954505,"lastChunkSize":351417}"#;

    #[test]
    fn a_flood_of_pensieve_clients_at_the_session_cap_logs_a_burst_and_a_summary() {
        crate::app::tests::assert_a_flood_of_503s_logs_a_burst_and_a_summary(
            300,
            |config| config.pensieve = Some(crate::PensieveConfig::default()),
            |i| {
                Request::post(client::CLIENT_PATH)
                    .header(USER_AGENT, format!("browser {i}"))
                    .body(Body::from(FIRST))
                    .unwrap()
            },
            |r| assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*"),
        );
    }

    #[test]
    fn the_implied_session_depends_on_user_agent_and_origin_only() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            h
        };
        let a = session_id(&headers(&[
            ("user-agent", "A"),
            ("origin", "http://localhost:8333"),
        ]));
        assert!(a.starts_with("pensieve-") && a.len() == 25, "{a}");
        assert!(neuralstream_protocol::validate_session_id(&a).is_ok());
        let same = headers(&[
            ("user-agent", "A"),
            ("origin", "http://localhost:8333"),
            ("content-type", "text/plain;charset=UTF-8"),
        ]);
        assert_eq!(session_id(&same), a);
        assert_ne!(
            session_id(&headers(&[
                ("user-agent", "B"),
                ("origin", "http://localhost:8333")
            ])),
            a
        );
        assert_ne!(session_id(&headers(&[("user-agent", "A")])), a);
        // No header mixes into another: "A" + no origin differs from no agent + "A".
        assert_ne!(
            session_id(&headers(&[("user-agent", "A")])),
            session_id(&headers(&[("origin", "A")]))
        );
    }
}
