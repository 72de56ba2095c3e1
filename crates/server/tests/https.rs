//! The real server on 127.0.0.1:0 over HTTPS (self-signed, trusted by the client) and HTTP/2:
//! static files, ranges, MIME, CORS, and whole decision sessions checked against the simulator.

mod common;

use common::*;
use neuralstream_core::ChunkRecord;
use neuralstream_protocol::{ApiError, DecisionResponse, VideoInfo};
use neuralstream_server::{Running, ServerConfig};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CACHE_CONTROL, CONTENT_RANGE,
    CONTENT_TYPE, ORIGIN, RANGE,
};
use reqwest::{Client, Response, StatusCode, Version};
use serde_json::{json, Value};
use std::time::Duration;

/// Starts the server with `cfg`; returns it, its base URL (ending in `/`) and a client that
/// trusts its certificate.
async fn serve(cfg: ServerConfig) -> (Running, String, Client) {
    let running = neuralstream_server::start(cfg).await.unwrap();
    let base = running.base_url.clone();
    let http = client(&running);
    (running, base, http)
}

/// The decision endpoint of session `id` under `base`.
fn decision_url(base: &str, id: &str) -> String {
    format!("{base}api/v1/sessions/{id}/decision")
}

/// `GET url`, whatever the status.
async fn get(http: &Client, url: &str) -> Response {
    http.get(url).send().await.unwrap()
}

/// `GET url`, its body parsed as JSON.
async fn get_json<T: serde::de::DeserializeOwned>(http: &Client, url: &str) -> T {
    get(http, url).await.json().await.unwrap()
}

/// `POST url` with the JSON `body`, whatever the status.
async fn post_json(http: &Client, url: &str, body: &Value) -> Response {
    http.post(url).json(body).send().await.unwrap()
}

/// `POST url` with the JSON `body`; asserts the answer is `status` and returns it.
async fn post_expecting(http: &Client, url: &str, body: &Value, status: StatusCode) -> Response {
    let r = post_json(http, url, body).await;
    assert_eq!(r.status(), status, "POST {url} {body}");
    r
}

/// `POST url` with the decision request `body`; asserts 200 and returns the decision.
async fn decide(http: &Client, url: &str, body: &Value) -> DecisionResponse {
    post_expecting(http, url, body, StatusCode::OK)
        .await
        .json()
        .await
        .unwrap()
}

/// Asserts `r` is a `status` answer whose `ApiError` message contains every one of `needles`.
async fn assert_api_error(r: Response, status: StatusCode, needles: &[&str]) {
    assert_eq!(r.status(), status);
    let e = r.json::<ApiError>().await.unwrap().error;
    for needle in needles {
        assert!(e.contains(needle), "error lacks {needle:?}: {e}");
    }
}

/// `POST url` with the JSON `body`; asserts a `status` answer whose `ApiError` message contains
/// every one of `needles`.
async fn post_expecting_error(
    http: &Client,
    url: &str,
    body: &Value,
    status: StatusCode,
    needles: &[&str],
) {
    assert_api_error(post_json(http, url, body).await, status, needles).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_over_https_and_http2() {
    let fx = fixture();
    let state = fx.dir.path().join("state");
    let mut cfg = config(&[&fx.media], &state, &["robustmpc", "bb"]);
    cfg.cors_origins = vec!["http://player.example".into()];
    let (running, base, http) = serve(cfg).await;
    assert!(running.base_url.starts_with("https://127.0.0.1:"));
    assert!(running.certificate_line().unwrap().contains("sha256"));

    let r = get(&http, &format!("{base}healthz")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.version(), Version::HTTP_2, "ALPN should pick h2");

    let r = http
        .get(format!("{base}media/clip/manifest.mpd"))
        .header(ORIGIN, "http://player.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/dash+xml");
    assert_eq!(r.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(
        r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://player.example"
    );
    let exposed = r.headers()[ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("content-length") && exposed.contains("content-range"));
    assert!(r.text().await.unwrap().contains("<MPD"));

    for (file, mime) in [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("video.json", "application/json"),
        ("seg/0/init.mp4", "video/mp4"),
        ("seg/0/chunk-00001.m4s", "video/iso.segment"),
    ] {
        let r = get(&http, &format!("{base}media/clip/{file}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers()[CONTENT_TYPE], mime, "{file}");
    }

    let r = http
        .get(format!("{base}media/clip/seg/0/chunk-00001.m4s"))
        .header(RANGE, "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()[CONTENT_RANGE],
        format!("bytes 100-199/{SEGMENT_BYTES}")
    );
    assert!(r.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 100);
    assert!(body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == segment_byte(100 + i)));

    // CORS preflight for the decision API from another origin.
    let r = http
        .request(reqwest::Method::OPTIONS, decision_url(&base, "s1"))
        .header(ORIGIN, "http://player.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://player.example"
    );

    // HTTP/1.1 works too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(&running.tls.as_ref().unwrap().cert_path).unwrap();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http1_only()
        .build()
        .unwrap();
    let r = get(&h1, &format!("{base}media/clip/video.json")).await;
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(r.status(), StatusCode::OK);

    let videos: Vec<VideoInfo> = get_json(&http, &format!("{base}api/v1/videos")).await;
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].name, "clip");
    assert_eq!(videos[0].mpd.as_deref(), Some("/media/clip/manifest.mpd"));
    assert_eq!(videos[0].hls.as_deref(), Some("/media/clip/master.m3u8"));
    assert_eq!(videos[0].levels.len(), 6);

    let r = get(&http, &format!("{base}media/nope/x.m4s")).await;
    assert_api_error(r, StatusCode::NOT_FOUND, &["clip"]).await;

    let page = get(&http, &base).await.text().await.unwrap();
    assert!(page.contains("npm run build"));

    running.shutdown(Duration::from_secs(2)).await;
}

/// Plays the built-in video through the simulator with `abr`, on a synthetic trace.
fn simulate(abr: &str) -> SessionLog {
    simulate_with(neuralstream_abr::create(abr).unwrap())
}

/// Plays the built-in video through the simulator with `algo`, on a synthetic trace.
fn simulate_with(mut algo: Box<dyn neuralstream_core::Abr>) -> SessionLog {
    let video = neuralstream_data::synthetic::builtin_video();
    let trace = neuralstream_data::synthetic::TraceGenerator::default().trace(7, 3);
    let mut log = SessionLog::default();
    run_session(
        &SimConfig::pensieve(),
        &trace,
        &video,
        algo.as_mut(),
        StartPosition::Beginning,
        None,
        &mut log,
    )
    .unwrap();
    log
}

/// The decision request reporting chunk `i` of a simulated session (`r`), requested at `i` s.
fn report(r: &ChunkRecord, i: usize) -> Value {
    let start_ms = 1000.0 * i as f64;
    json!({
        "buffer_s": r.buffer_s,
        "rebuffer_s": r.rebuffer_s,
        "last_chunk": {
            "index": r.index, "level": r.level, "size_bytes": r.size_bytes,
            "request_start_ms": start_ms, "request_finish_ms": start_ms + r.delay_ms
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_sessions_decide_like_the_simulator() {
    let fx = fixture();
    let state = fx.dir.path().join("state");
    let (running, base, http) = serve(config(&[&fx.media], &state, &["robustmpc", "bb"])).await;
    for abr in ["robustmpc", "bb"] {
        let log = simulate(abr);
        let n = log.records.len();
        let url = decision_url(&base, &format!("{abr}-1"));
        let first = decide(
            &http,
            &url,
            &json!({"buffer_s": 0, "algorithm": abr, "video": "clip"}),
        )
        .await;
        assert_eq!((first.chunk, first.level), (0, log.records[0].level));
        assert_eq!(first.algorithm, abr);
        for i in 0..n {
            let d = decide(&http, &url, &report(&log.records[i], i)).await;
            assert_eq!(d.chunk, i + 1);
            assert_eq!(d.algorithm, abr, "session reuse keeps the algorithm");
            assert!(d.level < 6);
            assert!(d.qoe_so_far.is_finite());
            if i + 1 < n {
                assert_eq!(
                    d.level,
                    log.records[i + 1].level,
                    "{abr}: chunk {} differs from the simulator",
                    i + 1
                );
            }
        }
        let qoe = neuralstream_core::QoeModel::lin()
            .compile(&neuralstream_data::synthetic::builtin_video())
            .unwrap()
            .score(&log.records, 1)
            .qoe;
        let last = decide(&http, &url, &report(&log.records[n - 1], n - 1)).await;
        assert_eq!(last.chunk, n, "after the last chunk the video is finished");
        assert!(
            (last.qoe_so_far - qoe).abs() < 1e-9,
            "server QoE {} vs simulator {qoe}",
            last.qoe_so_far
        );
        if abr == "robustmpc" {
            assert!(last.decision_us >= 0.0);
        }
    }

    // The default algorithm is the first enabled one; the choice sticks to the session.
    let url = decision_url(&base, "default-1");
    let d = decide(&http, &url, &json!({"buffer_s": 0})).await;
    assert_eq!(d.algorithm, "robustmpc");
    let switch = json!({"buffer_s": 0, "algorithm": "bb"});
    post_expecting(&http, &url, &switch, StatusCode::CONFLICT).await;

    // An algorithm the server does not enable is refused, naming the enabled ones.
    post_expecting_error(
        &http,
        &decision_url(&base, "x-1"),
        &json!({"buffer_s": 0, "algorithm": "bola"}),
        StatusCode::BAD_REQUEST,
        &["robustmpc", "bb"],
    )
    .await;

    // Unknown video: 404 with the list.
    post_expecting_error(
        &http,
        &decision_url(&base, "x-2"),
        &json!({"buffer_s": 0, "video": "other"}),
        StatusCode::NOT_FOUND,
        &["clip"],
    )
    .await;

    // Out-of-range level and index: 422 naming the field.
    for (chunk, field) in [
        (
            json!({"index": 0, "level": 6, "size_bytes": 10, "request_start_ms": 0, "request_finish_ms": 5}),
            "level",
        ),
        (
            json!({"index": 999, "level": 0, "size_bytes": 10, "request_start_ms": 0, "request_finish_ms": 5}),
            "index",
        ),
        (
            json!({"index": 0, "level": 0, "size_bytes": 0, "request_start_ms": 0, "request_finish_ms": 5}),
            "size_bytes",
        ),
    ] {
        post_expecting_error(
            &http,
            &decision_url(&base, "x-3"),
            &json!({"buffer_s": 1, "last_chunk": chunk}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &[field],
        )
        .await;
    }

    // Pensieve-style dash.js bodies: the session starts with the report of chunk 0.
    for (chunk, start_ms) in [(0, 0), (1, 1000)] {
        let d = decide(
            &http,
            &decision_url(&base, "pensieve-1"),
            &json!({"lastquality": 1, "buffer": 4.2, "RebufferTime": 1500,
            "lastRequest": chunk, "lastChunkStartTime": start_ms,
            "lastChunkFinishTime": start_ms + 900, "lastChunkSize": 512340,
            "bufferAdjusted": 4.0}),
        )
        .await;
        assert_eq!(d.chunk, chunk + 1);
        assert!(d.qoe_so_far.is_finite());
    }

    // Continuing a session the server does not know (never started, or evicted) is refused.
    post_expecting_error(
        &http,
        &decision_url(&base, "never-started"),
        &json!({"lastquality": 1, "buffer": 4.2, "RebufferTime": 0, "lastRequest": 5,
        "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 512340}),
        StatusCode::NOT_FOUND,
        &["unknown session 'never-started'", "last_chunk"],
    )
    .await;

    // Metrics reflect all of this.
    let text = get(&http, &format!("{base}metrics"))
        .await
        .text()
        .await
        .unwrap();
    for needle in [
        "neuralstream_http_requests_total{route=\"decision\",status=\"200\"}",
        "neuralstream_http_requests_total{route=\"decision\",status=\"422\"} 3",
        "neuralstream_decision_duration_seconds_bucket{le=\"+Inf\"}",
        "neuralstream_decision_duration_seconds_count",
        "neuralstream_sessions_active 4",
        "neuralstream_session_qoe{quantile=\"0.5\"}",
        "neuralstream_http_response_bytes_total",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    let served: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("neuralstream_http_response_bytes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(served > 1000, "bytes served {served}");

    // The OpenAPI document parses and documents every request field of both schemas.
    let doc: Value = get_json(&http, &format!("{base}api/v1/openapi.json")).await;
    assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    let props = &doc["components"]["schemas"]["DecisionRequest"]["properties"];
    let full = neuralstream_protocol::DecisionRequest {
        video: Some("v".into()),
        algorithm: Some("a".into()),
        last_chunk: Some(neuralstream_protocol::ChunkReport {
            index: 0,
            level: 0,
            size_bytes: 1,
            request_start_ms: 0.0,
            request_finish_ms: 1.0,
            rtt_ms: Some(1.0),
        }),
        buffer_s: 0.0,
        rebuffer_s: 0.0,
        total_rebuffer_s: Some(0.0),
        next_chunk: Some(1),
    };
    let full = serde_json::to_value(&full).unwrap();
    for key in full.as_object().unwrap().keys() {
        assert!(
            props.get(key).is_some(),
            "openapi lacks DecisionRequest.{key}"
        );
    }
    let chunk_props = &doc["components"]["schemas"]["ChunkReport"]["properties"];
    for key in full["last_chunk"].as_object().unwrap().keys() {
        assert!(
            chunk_props.get(key).is_some(),
            "openapi lacks ChunkReport.{key}"
        );
    }
    let pensieve = &doc["components"]["schemas"]["PensieveRequest"]["properties"];
    for key in [
        "lastquality",
        "buffer",
        "RebufferTime",
        "lastRequest",
        "lastChunkStartTime",
        "lastChunkFinishTime",
        "lastChunkSize",
    ] {
        assert!(pensieve.get(key).is_some(), "openapi lacks {key}");
    }

    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_evicted() {
    let fx = fixture();
    let state = fx.dir.path().join("state");
    let mut cfg = config(&[&fx.media], &state, &["bb"]);
    cfg.session_idle = Duration::from_millis(150);
    let (running, base, http) = serve(cfg).await;
    for i in 0..3 {
        let url = decision_url(&base, &format!("e{i}"));
        post_expecting(&http, &url, &json!({"buffer_s": 0}), StatusCode::OK).await;
    }
    assert_eq!(running.state.sessions.active(), 3);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running.state.sessions.active() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running.state.sessions.active(), 0);
    assert_eq!(running.state.sessions.evicted_total(), 3);
    // An evicted session cannot be continued: the client is told to start a new one.
    post_expecting_error(
        &http,
        &decision_url(&base, "e0"),
        &json!({"buffer_s": 4, "last_chunk": {"index": 3, "level": 0, "size_bytes": 1000,
        "request_start_ms": 0, "request_finish_ms": 100}}),
        StatusCode::NOT_FOUND,
        &["dropped after 0.15 s idle"],
    )
    .await;
    running.shutdown(Duration::from_secs(2)).await;
}

/// An untrained (random-weight) policy for `levels` levels, saved as a checkpoint.
fn random_policy(levels: usize, seed: u64) -> neuralstream_policy::LearnedAbr {
    let spec = neuralstream_policy::FeatureSpec::new(levels);
    let actor = neuralstream_nn::Mlp::new(
        &[spec.len(), 16, levels],
        neuralstream_nn::Activation::Relu,
        seed,
    );
    neuralstream_policy::LearnedAbr::new(actor, spec, neuralstream_policy::PolicyMeta::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_policies_serve_the_decisions_they_make_locally() {
    let fx = fixture();
    let policy = random_policy(6, 11);
    let ckpt = fx.dir.path().join("policy.safetensors");
    policy.save(&ckpt).unwrap();
    let four = fx.dir.path().join("four.safetensors");
    random_policy(4, 3).save(&four).unwrap();
    let learned = format!("learned:{}", ckpt.display());
    let learned4 = format!("learned:{}", four.display());
    let (running, base, http) = serve(config(
        &[&fx.media],
        &fx.dir.path().join("state"),
        &["robustmpc", &learned, &learned4],
    ))
    .await;

    let list: neuralstream_protocol::AlgorithmList =
        get_json(&http, &format!("{base}api/v1/algorithms")).await;
    assert_eq!(list.default, "robustmpc");
    assert!(
        list.algorithms.iter().any(|a| a.name == learned),
        "{list:?}"
    );

    let log = simulate_with(Box::new(policy.clone()));
    let url = decision_url(&base, "learned-1");
    let first = decide(&http, &url, &json!({"buffer_s": 0, "algorithm": learned})).await;
    assert_eq!(first.algorithm, learned);
    let n = log.records.len();
    for i in 0..n - 1 {
        let d = decide(&http, &url, &report(&log.records[i], i)).await;
        assert_eq!(d.level, log.records[i + 1].level, "chunk {}", i + 1);
    }

    // A policy trained for 4 levels cannot drive a 6-level video: refused at session start.
    post_expecting_error(
        &http,
        &decision_url(&base, "learned-4"),
        &json!({"buffer_s": 0, "algorithm": learned4}),
        StatusCode::UNPROCESSABLE_ENTITY,
        &["4 levels"],
    )
    .await;
    // With two learned policies, the shorthand `learned` is ambiguous and refused.
    post_expecting(
        &http,
        &decision_url(&base, "learned-x"),
        &json!({"buffer_s": 0, "algorithm": "learned"}),
        StatusCode::BAD_REQUEST,
    )
    .await;
    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_videos_at_once() {
    let a = fixture_named("alpha");
    let b = fixture_named("beta");
    let (running, base, http) = serve(config(
        &[&a.media, &b.media],
        &a.dir.path().join("state"),
        &["bb"],
    ))
    .await;
    let videos: Vec<VideoInfo> = get_json(&http, &format!("{base}api/v1/videos")).await;
    let names: Vec<_> = videos.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    for name in names {
        let r = get(&http, &format!("{base}media/{name}/seg/0/chunk-00001.m4s")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let url = decision_url(&base, &format!("{name}-1"));
        let d = decide(&http, &url, &json!({"buffer_s": 0, "video": name})).await;
        assert_eq!(d.chunk, 0);
    }
    // A session is bound to its video.
    post_expecting(
        &http,
        &decision_url(&base, "alpha-1"),
        &json!({"buffer_s": 0, "video": "beta"}),
        StatusCode::CONFLICT,
    )
    .await;
    // Two folders with the same name are refused at start.
    let dup = fixture_named("alpha");
    let e = neuralstream_server::start(config(
        &[&a.media, &dup.media],
        &a.dir.path().join("state2"),
        &["bb"],
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("alpha"), "{e}");
    running.shutdown(Duration::from_secs(2)).await;
}
