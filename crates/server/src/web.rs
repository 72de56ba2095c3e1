//! The web player at `/`: files from `--web-root` (with `index.html` for folder paths), or a
//! built-in page saying how to build the player when there is none.

use crate::response::HttpError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The page served at `/` when no web root exists.
pub const BUILTIN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NeuralStream server</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 2em auto">
<h1>NeuralStream server</h1>
<p>The web player is not built. Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>
and restart <code>neuralstream serve</code> from the repository root (or pass <code>--web-root DIR</code>).</p>
<p>API: <a href="/api/v1/videos">/api/v1/videos</a>, <a href="/api/v1/algorithms">/api/v1/algorithms</a>,
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>, <a href="/metrics">/metrics</a>,
<a href="/healthz">/healthz</a>.</p>
</body></html>
"#;

/// Fallback handler: the web root (GET/HEAD only).
pub async fn web(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served here",
        )
        .into_response();
    }
    let path = req.uri().path().to_string();
    let mut raw = path.trim_start_matches('/').to_string();
    if raw.is_empty() || raw.ends_with('/') {
        raw.push_str("index.html");
    }
    match &state.web_root {
        Some(root) => crate::files::serve(root, &raw, req).await,
        None if raw == "index.html" => {
            let mut r = (StatusCode::OK, BUILTIN_PAGE).into_response();
            let h = r.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => HttpError::not_found(
            "no such page (the web player is not built: cd web && npm ci && npm run build)",
        )
        .into_response(),
    }
}
