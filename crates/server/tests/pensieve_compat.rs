//! The Pensieve-compatible mode over real HTTP: the answers to Pensieve's client are the JSON
//! API's for the same history (every algorithm, a learned policy included), sessions are implied
//! and restarted by a reloaded page, the JSON API's limits hold, and the client's page, manifest
//! and segments come from one origin.

mod common;

use common::{fixture, plain_config, raw_request};
use neuralstream_server::{PensieveConfig, Running, ServerConfig};
use std::path::Path;
use std::time::Duration;

/// Every rule-based algorithm `serve` offers (the optimum needs the trace; a server has none).
const ALGORITHMS: &[&str] = &[
    "bb",
    "bba0",
    "rate",
    "festive",
    "bola",
    "bola-e",
    "dynamic",
    "fastmpc",
    "robustmpc",
    "robustmpc-pensieve",
    "robustmpc-pensieve-reset",
];

const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";

/// `config` with the Pensieve-compatible mode on (plain HTTP, port 0).
fn compat(mut config: ServerConfig, client_dir: Option<&Path>) -> ServerConfig {
    config.pensieve = Some(PensieveConfig {
        client_dir: client_dir.map(Path::to_path_buf),
    });
    config
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// One report as the reference client writes it (its field order, its extra fields).
struct Report {
    index: usize,
    level: usize,
    buffer_s: f64,
    total_rebuffer_ms: f64,
    start_ms: f64,
    finish_ms: f64,
    size_bytes: u64,
}

impl Report {
    fn pensieve_body(&self) -> String {
        format!(
            r#"{{"nextChunkSize":[2123065,1431809,957685,611087,398865,155580],"lastquality":{},"buffer":{},"bufferAdjusted":{},"bandwidthEst":28113.36,"lastRequest":{},"RebufferTime":{},"lastChunkFinishTime":{},"lastChunkStartTime":{},"lastChunkSize":{}}}"#,
            self.level,
            self.buffer_s,
            self.buffer_s - 4.55,
            self.index,
            self.total_rebuffer_ms,
            self.finish_ms,
            self.start_ms,
            self.size_bytes
        )
    }

    /// The same report in the project's schema.
    fn json_body(&self) -> String {
        format!(
            r#"{{"buffer_s": {}, "total_rebuffer_s": {}, "last_chunk": {{"index": {}, "level": {}, "size_bytes": {}, "request_start_ms": {}, "request_finish_ms": {}}}}}"#,
            self.buffer_s,
            self.total_rebuffer_ms / 1000.0,
            self.index,
            self.level,
            self.size_bytes,
            self.start_ms,
            self.finish_ms
        )
    }
}

/// A player walking a varying link: the report of chunk `index` fetched at `level`, after
/// `clock_ms`; returns the report and the clock after it.
fn walk(
    video: &neuralstream_core::Video,
    index: usize,
    level: usize,
    clock_ms: f64,
    buffer_s: &mut f64,
    rebuffer_ms: &mut f64,
) -> Report {
    let size_bytes = video.size_bytes(level, index);
    // 600 to 5400 kbit/s, changing every few chunks, so rules move up and down.
    let kbps = 600.0 + 1200.0 * ((index * 7 + 3) % 5) as f64;
    let download_ms = size_bytes as f64 * 8.0 / kbps;
    let stall_s = (download_ms / 1000.0 - *buffer_s).max(0.0);
    *rebuffer_ms += (stall_s * 1000.0).round();
    *buffer_s = (*buffer_s - download_ms / 1000.0).max(0.0) + 4.0;
    Report {
        index,
        level,
        buffer_s: (*buffer_s * 1e6).round() / 1e6,
        total_rebuffer_ms: *rebuffer_ms,
        start_ms: clock_ms,
        finish_ms: (clock_ms + download_ms).round(),
        size_bytes,
    }
}

async fn start(config: ServerConfig) -> (Running, String) {
    let running = neuralstream_server::start(config).await.unwrap();
    let base = running.base_url.clone();
    (running, base)
}

async fn post_pensieve(
    http: &reqwest::Client,
    base: &str,
    ua: &str,
    body: String,
) -> (u16, String) {
    let r = http
        .post(base)
        .header("User-Agent", ua)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Plays the video twice (the second time as a reloaded page) through `POST /` and, report for
/// report, through the JSON API on fresh session ids; every answer must agree.
async fn same_answers_as_the_json_api(algorithm: &str, learned: Option<&str>) {
    let fx = fixture();
    let name = learned.unwrap_or(algorithm);
    let (running, base) = start(compat(plain_config(&[&fx.media], &[name]), None)).await;
    let http = http();
    let video = &running.state.ctx.media.at(0).video;
    let chunks = video.num_chunks();
    let mut levels_seen = std::collections::BTreeSet::new();
    for play in 0..2 {
        let json_url = format!(
            "{base}{}",
            &neuralstream_protocol::decision_path(&format!("json-{play}"))[1..]
        );
        let (mut level, mut clock_ms) = (1, 1_796_604_954_000.0 + play as f64 * 1e6);
        let (mut buffer_s, mut rebuffer_ms) = (0.0, 0.0);
        for index in 0..chunks {
            let r = walk(
                video,
                index,
                level,
                clock_ms,
                &mut buffer_s,
                &mut rebuffer_ms,
            );
            clock_ms = r.finish_ms + 5.0;
            let (status, answer) = post_pensieve(&http, &base, CHROME_UA, r.pensieve_body()).await;
            assert_eq!(status, 200, "{name}, play {play}, chunk {index}: {answer}");
            let json = http
                .post(&json_url)
                .body(r.json_body())
                .send()
                .await
                .unwrap();
            assert_eq!(json.status().as_u16(), 200);
            let json: serde_json::Value = json.json().await.unwrap();
            if index + 1 == chunks {
                assert_eq!(answer, "REFRESH", "{name}: the last chunk's report");
                assert_eq!(json["chunk"], chunks);
            } else {
                assert_eq!(json["chunk"], index + 1);
                assert_eq!(
                    answer,
                    json["level"].to_string(),
                    "{name}, play {play}: the answers for chunk {} differ",
                    index + 1
                );
                level = answer.parse().unwrap();
                levels_seen.insert(level);
            }
        }
    }
    // One session per play: the reload started a new one, and REFRESH ended each.
    assert_eq!(running.state.sessions.created_total(), 4, "{name}");
    assert_eq!(
        running.state.sessions.active(),
        2,
        "{name}: the JSON sessions only"
    );
    println!("{name}: levels answered {levels_seen:?}");
    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_answers_the_pensieve_client_as_it_answers_the_json_api() {
    for algorithm in ALGORITHMS {
        same_answers_as_the_json_api(algorithm, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_policy_answers_the_pensieve_client_as_it_answers_the_json_api() {
    let dir = tempfile::tempdir().unwrap();
    let spec = neuralstream_policy::FeatureSpec::new(6);
    let actor =
        neuralstream_nn::Mlp::new(&[spec.len(), 16, 6], neuralstream_nn::Activation::Relu, 24);
    let path = dir.path().join("policy.safetensors");
    neuralstream_policy::LearnedAbr::new(actor, spec, neuralstream_policy::PolicyMeta::default())
        .save(&path)
        .unwrap();
    let learned = format!("learned:{}", path.display());
    same_answers_as_the_json_api("learned", Some(&learned)).await;
}

/// A report of chunk `index` in the reference client's words.
fn report(index: usize, level: usize) -> String {
    Report {
        index,
        level,
        buffer_s: 8.0,
        total_rebuffer_ms: 26.0,
        start_ms: 1000.0 * index as f64,
        finish_ms: 1000.0 * index as f64 + 300.0,
        size_bytes: 400_000,
    }
    .pensieve_body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_implied_per_browser_and_answers_are_plain_text_with_cors() {
    let fx = fixture();
    let (running, base) = start(compat(plain_config(&[&fx.media], &["bb"]), None)).await;
    let http = http();
    let r = http
        .post(&base)
        .header("User-Agent", CHROME_UA)
        .body(report(0, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let level = r.text().await.unwrap();
    assert!(level.parse::<usize>().is_ok_and(|l| l < 6), "{level}");
    // Another browser is another session: it cannot continue at chunk 1 without its chunk 0.
    let (status, body) = post_pensieve(&http, &base, "Firefox", report(1, 1)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("unknown session 'pensieve-"), "{body}");
    // So is the same browser on a page of another origin.
    let r = http
        .post(&base)
        .header("User-Agent", CHROME_UA)
        .header("Origin", "http://127.0.0.1:8333")
        .body(report(1, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The first browser continues; a report of chunk 0 again (a reload) starts afresh.
    let (status, _) = post_pensieve(&http, &base, CHROME_UA, report(1, 1)).await;
    assert_eq!(status, 200);
    assert_eq!(running.state.sessions.created_total(), 1);
    let (status, _) = post_pensieve(&http, &base, CHROME_UA, report(0, 1)).await;
    assert_eq!(status, 200);
    assert_eq!(running.state.sessions.created_total(), 2);
    assert_eq!(running.state.sessions.active(), 1);
    // A cross-origin page gets the reference server's `*`, refusals included.
    let r = http
        .post(&base)
        .header("Origin", "http://127.0.0.1:9999")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // The JSON API still answers beside it.
    let r = http
        .post(format!(
            "{base}{}",
            &neuralstream_protocol::decision_path("s")[1..]
        ))
        .body(r#"{"buffer_s": 0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without a client folder, GET / is the usual page; other methods are refused.
    let r = http.get(&base).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("NeuralStream server"));
    let r = http.put(&base).body("x").send().await.unwrap();
    assert_eq!(r.status(), 405);
    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_apis_limits_hold_for_the_pensieve_client() {
    let fx = fixture();
    let mut config = compat(plain_config(&[&fx.media], &["robustmpc"]), None);
    config.max_sessions = 1;
    config.body_limit_bytes = 2048;
    let (running, base) = start(config).await;
    let http = http();
    let refused = |status: u16, body: &str, wanted: u16, says: &str| {
        assert_eq!(status, wanted, "{body}");
        let e: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(e["error"].as_str().unwrap().contains(says), "{body}");
    };
    // Values the JSON API refuses, named in the client's own field names.
    let bad = report(0, 1).replace(r#""buffer":8"#, r#""buffer":-8"#);
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, bad).await;
    refused(s, &b, 400, "field `buffer`");
    let bad = report(0, 1).replace(r#""RebufferTime":26"#, r#""RebufferTime":1e300"#);
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, bad).await;
    refused(s, &b, 400, "field `RebufferTime`");
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, report(0, 6)).await;
    refused(s, &b, 422, "lastquality");
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, report(48, 1)).await;
    refused(s, &b, 422, "lastRequest");
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, "not json".into()).await;
    refused(s, &b, 400, "not a valid decision request");
    // Body limit: declared too large, and sent too large without a declared length.
    let big = format!("{}{}", report(0, 1), " ".repeat(4096));
    let (s, b) = post_pensieve(&http, &base, CHROME_UA, big.clone()).await;
    refused(s, &b, 413, "larger than 2048 bytes");
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let (s, answer) = raw_request(running.addr, chunked.as_bytes());
    assert_eq!(s, 413, "{answer}");
    // Session cap: a second browser is refused while the first holds the only place.
    let (s, _) = post_pensieve(&http, &base, CHROME_UA, report(0, 1)).await;
    assert_eq!(s, 200);
    let (s, b) = post_pensieve(&http, &base, "Firefox", report(0, 1)).await;
    refused(s, &b, 503, "--max-sessions");
    // Nothing refused above created a session.
    assert_eq!(running.state.sessions.created_total(), 1);
    running.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_page_manifest_and_segments_come_from_one_origin() {
    let fx = fixture();
    let client = fx.dir.path().join("client");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::write(client.join("myindex_RL.html"), "<title>RL</title>").unwrap();
    std::fs::write(client.join("dash.all.min.js"), "var dashjs;").unwrap();
    // The reference folder's own manifest names Pensieve's video: never served.
    std::fs::write(client.join("Manifest.mpd"), "PENSIEVE'S OWN").unwrap();
    let (running, base) = start(compat(plain_config(&[&fx.media], &["bb"]), Some(&client))).await;
    let http = http();
    let get = |path: &str| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap())
        }
    };
    for page in ["", "myindex_RL.html"] {
        let (s, body) = get(page).await;
        assert_eq!((s, &body[..]), (200, &b"<title>RL</title>"[..]), "/{page}");
    }
    assert_eq!(get("dash.all.min.js").await.1, &b"var dashjs;"[..]);
    let (s, mpd) = get("Manifest.mpd").await;
    assert_eq!(s, 200);
    assert_eq!(mpd, std::fs::read(fx.media.join("manifest.mpd")).unwrap());
    let (s, seg) = get("seg/0/chunk-00001.m4s").await;
    assert_eq!((s, seg.len()), (200, common::SEGMENT_BYTES));
    // Both roots stay closed: no way out, no symlink out, no 200 for what is in neither.
    assert_eq!(get("nothing.m4s").await.0, 404);
    assert_eq!(get("leak.m4s").await.0, 404);
    let (s, answer) = common::raw_get(running.addr, "/../secret.txt");
    assert_ne!(s, 200, "{answer}");
    assert!(!answer.contains("TOP-SECRET"));
    // Reports still go to POST /.
    let (s, _) = post_pensieve(&http, &base, CHROME_UA, report(0, 1)).await;
    assert_eq!(s, 200);
    running.shutdown(Duration::from_secs(2)).await;

    // A client folder that is not one, or a first video without a DASH manifest, stops the start.
    let e = neuralstream_server::build_state(&compat(
        plain_config(&[&fx.media], &["bb"]),
        Some(&fx.dir.path().join("missing")),
    ))
    .unwrap_err();
    assert!(e.to_string().starts_with("--pensieve-client "), "{e}");
    std::fs::remove_file(fx.media.join("manifest.mpd")).unwrap();
    let e = neuralstream_server::build_state(&compat(
        plain_config(&[&fx.media], &["bb"]),
        Some(&client),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("no DASH manifest"), "{e}");
}
