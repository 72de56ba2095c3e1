//! The real server on 127.0.0.1:0 over HTTPS (self-signed, trusted by the client) and HTTP/2:
//! static files, ranges, MIME, CORS, and whole decision sessions checked against the simulator.

mod common;

use common::*;
use neuralstream_core::ChunkRecord;
use neuralstream_protocol::{ApiError, DecisionResponse, VideoInfo};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CACHE_CONTROL, CONTENT_RANGE,
    CONTENT_TYPE, ORIGIN, RANGE,
};
use reqwest::{StatusCode, Version};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_over_https_and_http2() {
    let fx = fixture();
    let state = fx.dir.path().join("state");
    let running = neuralstream_server::start(config(&[&fx.media], &state, &["robustmpc", "bb"]))
        .await
        .unwrap();
    assert!(running.base_url.starts_with("https://127.0.0.1:"));
    assert!(running.certificate_line().unwrap().contains("sha256"));
    let base = running.base_url.clone();
    let http = client(&running);

    let r = http.get(format!("{base}healthz")).send().await.unwrap();
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
    assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
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
        let r = http
            .get(format!("{base}media/clip/{file}"))
            .send()
            .await
            .unwrap();
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
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}api/v1/sessions/s1/decision"),
        )
        .header(ORIGIN, "http://player.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    // HTTP/1.1 works too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(&running.tls.as_ref().unwrap().cert_path).unwrap();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .get(format!("{base}media/clip/video.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(r.status(), StatusCode::OK);

    let videos: Vec<VideoInfo> = http
        .get(format!("{base}api/v1/videos"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].name, "clip");
    assert_eq!(videos[0].mpd.as_deref(), Some("/media/clip/manifest.mpd"));
    assert_eq!(videos[0].hls.as_deref(), Some("/media/clip/master.m3u8"));
    assert_eq!(videos[0].levels.len(), 6);

    let r = http
        .get(format!("{base}media/nope/x.m4s"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let e: ApiError = r.json().await.unwrap();
    assert!(e.error.contains("clip"), "{}", e.error);

    let page = http.get(&base).send().await.unwrap().text().await.unwrap();
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

fn report(r: &ChunkRecord, i: usize) -> serde_json::Value {
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
    let running = neuralstream_server::start(config(&[&fx.media], &state, &["robustmpc", "bb"]))
        .await
        .unwrap();
    let base = running.base_url.clone();
    let http = client(&running);
    for abr in ["robustmpc", "bb"] {
        let log = simulate(abr);
        let n = log.records.len();
        let url = format!("{base}api/v1/sessions/{abr}-1/decision");
        let first: DecisionResponse = http
            .post(&url)
            .json(&json!({"buffer_s": 0, "algorithm": abr, "video": "clip"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((first.chunk, first.level), (0, log.records[0].level));
        assert_eq!(first.algorithm, abr);
        for i in 0..n {
            let r = http
                .post(&url)
                .json(&report(&log.records[i], i))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let d: DecisionResponse = r.json().await.unwrap();
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
        let last: DecisionResponse = http
            .post(&url)
            .json(&report(&log.records[n - 1], n - 1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    let url = format!("{base}api/v1/sessions/default-1/decision");
    let d: DecisionResponse = http
        .post(&url)
        .json(&json!({"buffer_s": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d.algorithm, "robustmpc");
    let r = http
        .post(&url)
        .json(&json!({"buffer_s": 0, "algorithm": "bb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // An algorithm the server does not enable is refused, naming the enabled ones.
    let r = http
        .post(format!("{base}api/v1/sessions/x-1/decision"))
        .json(&json!({"buffer_s": 0, "algorithm": "bola"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: ApiError = r.json().await.unwrap();
    assert!(
        e.error.contains("robustmpc") && e.error.contains("bb"),
        "{}",
        e.error
    );

    // Unknown video: 404 with the list.
    let r = http
        .post(format!("{base}api/v1/sessions/x-2/decision"))
        .json(&json!({"buffer_s": 0, "video": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.json::<ApiError>().await.unwrap().error.contains("clip"));

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
        let r = http
            .post(format!("{base}api/v1/sessions/x-3/decision"))
            .json(&json!({"buffer_s": 1, "last_chunk": chunk}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e = r.json::<ApiError>().await.unwrap().error;
        assert!(e.contains(field), "{e}");
    }

    // Pensieve-style dash.js bodies: the session starts with the report of chunk 0.
    for (chunk, start_ms) in [(0, 0), (1, 1000)] {
        let r = http
            .post(format!("{base}api/v1/sessions/pensieve-1/decision"))
            .json(
                &json!({"lastquality": 1, "buffer": 4.2, "RebufferTime": 1500,
                "lastRequest": chunk, "lastChunkStartTime": start_ms,
                "lastChunkFinishTime": start_ms + 900, "lastChunkSize": 512340,
                "bufferAdjusted": 4.0}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let d: DecisionResponse = r.json().await.unwrap();
        assert_eq!(d.chunk, chunk + 1);
        assert!(d.qoe_so_far.is_finite());
    }

    // Continuing a session the server does not know (never started, or evicted) is refused.
    let r = http
        .post(format!("{base}api/v1/sessions/never-started/decision"))
        .json(
            &json!({"lastquality": 1, "buffer": 4.2, "RebufferTime": 0, "lastRequest": 5,
            "lastChunkStartTime": 1000, "lastChunkFinishTime": 1900, "lastChunkSize": 512340}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let e = r.json::<ApiError>().await.unwrap().error;
    assert!(
        e.contains("unknown session 'never-started'") && e.contains("last_chunk"),
        "{e}"
    );

    // Metrics reflect all of this.
    let text = http
        .get(format!("{base}metrics"))
        .send()
        .await
        .unwrap()
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
    let doc: serde_json::Value = http
        .get(format!("{base}api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let running = neuralstream_server::start(cfg).await.unwrap();
    let http = client(&running);
    for i in 0..3 {
        let r = http
            .post(format!("{}api/v1/sessions/e{i}/decision", running.base_url))
            .json(&json!({"buffer_s": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(running.state.sessions.active(), 3);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running.state.sessions.active() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(running.state.sessions.active(), 0);
    assert_eq!(running.state.sessions.evicted_total(), 3);
    // An evicted session cannot be continued: the client is told to start a new one.
    let r = http
        .post(format!("{}api/v1/sessions/e0/decision", running.base_url))
        .json(
            &json!({"buffer_s": 4, "last_chunk": {"index": 3, "level": 0, "size_bytes": 1000,
            "request_start_ms": 0, "request_finish_ms": 100}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let e = r.json::<ApiError>().await.unwrap().error;
    assert!(e.contains("dropped after 0.15 s idle"), "{e}");
    running.shutdown(Duration::from_secs(2)).await;
}

/// An untrained (random-weight) policy for `levels` levels, saved as a checkpoint.
fn random_policy(levels: usize, seed: u64) -> neuralstream_learn::LearnedAbr {
    let spec = neuralstream_learn::FeatureSpec::new(levels);
    let actor = neuralstream_nn::Mlp::new(
        &[spec.len(), 16, levels],
        neuralstream_nn::Activation::Relu,
        seed,
    );
    neuralstream_learn::LearnedAbr::new(actor, spec, neuralstream_learn::PolicyMeta::default())
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
    let running = neuralstream_server::start(config(
        &[&fx.media],
        &fx.dir.path().join("state"),
        &["robustmpc", &learned, &learned4],
    ))
    .await
    .unwrap();
    let base = running.base_url.clone();
    let http = client(&running);

    let list: neuralstream_protocol::AlgorithmList = http
        .get(format!("{base}api/v1/algorithms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.default, "robustmpc");
    assert!(
        list.algorithms.iter().any(|a| a.name == learned),
        "{list:?}"
    );

    let log = simulate_with(Box::new(policy.clone()));
    let url = format!("{base}api/v1/sessions/learned-1/decision");
    let first: DecisionResponse = http
        .post(&url)
        .json(&json!({"buffer_s": 0, "algorithm": learned}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first.algorithm, learned);
    let n = log.records.len();
    for i in 0..n - 1 {
        let d: DecisionResponse = http
            .post(&url)
            .json(&report(&log.records[i], i))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d.level, log.records[i + 1].level, "chunk {}", i + 1);
    }

    // A policy trained for 4 levels cannot drive a 6-level video: refused at session start.
    let r = http
        .post(format!("{base}api/v1/sessions/learned-4/decision"))
        .json(&json!({"buffer_s": 0, "algorithm": learned4}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.json::<ApiError>().await.unwrap().error;
    assert!(e.contains("4 levels"), "{e}");
    // With two learned policies, the shorthand `learned` is ambiguous and refused.
    let r = http
        .post(format!("{base}api/v1/sessions/learned-x/decision"))
        .json(&json!({"buffer_s": 0, "algorithm": "learned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_videos_at_once() {
    let a = fixture_named("alpha");
    let b = fixture_named("beta");
    let running = neuralstream_server::start(config(
        &[&a.media, &b.media],
        &a.dir.path().join("state"),
        &["bb"],
    ))
    .await
    .unwrap();
    let base = running.base_url.clone();
    let http = client(&running);
    let videos: Vec<VideoInfo> = http
        .get(format!("{base}api/v1/videos"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<_> = videos.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    for name in names {
        let r = http
            .get(format!("{base}media/{name}/seg/0/chunk-00001.m4s"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let d: DecisionResponse = http
            .post(format!("{base}api/v1/sessions/{name}-1/decision"))
            .json(&json!({"buffer_s": 0, "video": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d.chunk, 0);
    }
    // A session is bound to its video.
    let r = http
        .post(format!("{base}api/v1/sessions/alpha-1/decision"))
        .json(&json!({"buffer_s": 0, "video": "beta"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
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
