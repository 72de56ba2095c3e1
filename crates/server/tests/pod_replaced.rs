//! What a client sees when the pod holding its session goes away (docs/deploy.md, "Sessions and
//! affinity"): sessions live in one server's memory, so a replacement server answers the next chunk
//! report with 404 naming the cure, and the client's next request, without a `last_chunk`, starts a
//! fresh session there at the chunk it is about to fetch, under the same id.

mod common;

use common::*;
use neuralstream_protocol::{ApiError, DecisionResponse};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn post(http: &Client, base: &str, id: &str, body: &Value) -> (StatusCode, String) {
    let r = http
        .post(format!("{base}api/v1/sessions/{id}/decision"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

fn report(index: usize, level: usize, buffer_s: f64) -> Value {
    json!({
        "last_chunk": {
            "index": index, "level": level, "size_bytes": 500_000,
            "request_start_ms": 1000.0 * index as f64, "request_finish_ms": 1000.0 * index as f64 + 400.0
        },
        "buffer_s": buffer_s
    })
}

fn decision(status: StatusCode, body: &str) -> DecisionResponse {
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_server_went_away_restarts_on_the_next_request() {
    let fx = fixture();
    let state_a = fx.dir.path().join("state-a");
    let state_b = fx.dir.path().join("state-b");

    // Pod A: the session streams chunks 0 and 1.
    let a = neuralstream_server::start(config(&[&fx.media], &state_a, &["robustmpc"]))
        .await
        .unwrap();
    let (base_a, http_a) = (a.base_url.clone(), client(&a));
    let (s, b) = post(&http_a, &base_a, "viewer-1", &json!({"buffer_s": 0.0})).await;
    let first = decision(s, &b);
    assert_eq!(first.chunk, 0);
    let (s, b) = post(&http_a, &base_a, "viewer-1", &report(0, first.level, 4.0)).await;
    assert_eq!(decision(s, &b).chunk, 1);
    // The pod goes away (rolling update, node drain, scale-down): its sessions with it.
    a.shutdown(Duration::from_secs(1)).await;

    // Pod B, a fresh server behind the same address: it never saw viewer-1.
    let b_srv = neuralstream_server::start(config(&[&fx.media], &state_b, &["robustmpc"]))
        .await
        .unwrap();
    let (base_b, http_b) = (b_srv.base_url.clone(), client(&b_srv));
    let (status, body) = post(&http_b, &base_b, "viewer-1", &report(1, 1, 7.5)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let err: ApiError = serde_json::from_str(&body).unwrap();
    assert!(
        err.error.contains("unknown session 'viewer-1'"),
        "{}",
        err.error
    );
    assert!(
        err.error.contains("no `last_chunk`"),
        "the 404 must say how to recover: {}",
        err.error
    );

    // The client's next request carries no chunk report and says which chunk comes next: a fresh
    // session starts there, at chunk 2 with the buffer the player has, not back at chunk 0.
    let (s, b) = post(
        &http_b,
        &base_b,
        "viewer-1",
        &json!({"buffer_s": 7.5, "next_chunk": 2}),
    )
    .await;
    let restarted = decision(s, &b);
    assert_eq!(restarted.session, "viewer-1");
    assert_eq!(restarted.chunk, 2);
    assert_eq!(restarted.algorithm, "robustmpc");
    assert_eq!(restarted.qoe_so_far, 0.0, "a fresh session has no history");

    // ... and it goes on normally from there.
    let (s, b) = post(
        &http_b,
        &base_b,
        "viewer-1",
        &report(2, restarted.level, 9.0),
    )
    .await;
    assert_eq!(decision(s, &b).chunk, 3);
    assert_eq!(
        b_srv.state.sessions.created_total(),
        1,
        "the replacement server started one session, the restarted one"
    );
    b_srv.shutdown(Duration::from_secs(1)).await;
}
