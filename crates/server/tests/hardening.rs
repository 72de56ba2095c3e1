//! Issue 16's server findings, each reproduced through a running server: refusals that keep their
//! status over HTTP/2, the decision-time metric without the upload, CORS limited to the page's own
//! origin and `--cors`, and a default learned policy that fits no served video.

mod common;

use common::{config, fixture, plain_config};
use neuralstream_server::{Running, ServerConfig};
use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

/// Starts `cfg` on its own runtime (kept alive by the caller).
fn start(cfg: ServerConfig) -> (tokio::runtime::Runtime, Running) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    (rt, running)
}

fn http2_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[test]
fn refusals_before_the_body_reach_http2_clients_with_their_status() {
    let fx = fixture();
    let mut cfg = plain_config(&[&fx.media], &["bb"]);
    cfg.body_limit_bytes = 4096;
    let (rt, running) = start(cfg);
    let base = running.base_url.clone();
    let http = http2_client();
    rt.block_on(async {
        // A body far over the limit (and over the initial HTTP/2 window), declared up front.
        let big = vec![b' '; 200_000];
        let r = http
            .post(format!("{base}api/v1/sessions/h2-1/decision"))
            .body(big.clone())
            .send()
            .await
            .expect("the 413 must arrive as a status, not a reset stream");
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        assert_eq!(r.status(), 413);
        let e: neuralstream_protocol::ApiError = r.json().await.unwrap();
        assert!(e.error.contains("4096"), "{}", e.error);
        // A bad session id, refused before the body is read.
        let r = http
            .post(format!("{base}api/v1/sessions/bad%20id/decision"))
            .body(big)
            .send()
            .await
            .expect("the 400 must arrive as a status, not a reset stream");
        assert_eq!(r.status(), 400);
        // The connection is still good for a decision.
        let r = http
            .post(format!("{base}api/v1/sessions/h2-2/decision"))
            .body(r#"{"buffer_s": 0}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

/// Posts `body_file` with curl over HTTP/2 (prior knowledge); returns curl's exit status and the
/// HTTP status it saw (0 when none), or `None` when curl is not installed.
fn curl_h2_post(url: &str, body_file: &std::path::Path) -> Option<(i32, u16)> {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", body_file.display()))
        .arg(url)
        .output()
        .ok()?;
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Some((out.status.code().unwrap_or(-1), status))
}

/// curl (nghttp2) reported these refusals as "Stream error in the HTTP/2 framing layer" with no
/// status before the body was drained; hyper's client tolerated them, so curl is the witness.
#[test]
fn refusals_before_the_body_reach_curl_over_http2_with_their_status() {
    let fx = fixture();
    let mut cfg = plain_config(&[&fx.media], &["bb"]);
    cfg.body_limit_bytes = 4096;
    let (_rt, running) = start(cfg);
    let body = fx.dir.path().join("big.json");
    std::fs::write(&body, vec![b' '; 200_000]).unwrap();
    let base = &running.base_url;
    for (path, want) in [
        ("api/v1/sessions/bad%20id/decision", 400),
        ("api/v1/sessions/h2-big/decision", 413),
    ] {
        let Some((code, status)) = curl_h2_post(&format!("{base}{path}"), &body) else {
            eprintln!("skipped: curl is not installed");
            return;
        };
        assert_eq!(
            (code, status),
            (0, want),
            "{path}: curl exit {code}, status {status}"
        );
    }
}

/// The value of the metric line starting with `name ` in a Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn the_decision_time_does_not_count_a_slow_upload() {
    let fx = fixture();
    let (_rt, running) = start(plain_config(&[&fx.media], &["bb"]));
    let body = br#"{"buffer_s": 0}"#;
    let mut s = TcpStream::connect(running.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /api/v1/sessions/slow-up/decision HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..5]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    s.write_all(&body[5..]).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, text) = common::raw_get(running.addr, "/metrics");
    let decision_s = metric(&text, "neuralstream_decision_duration_seconds_sum");
    let upload_s = metric(&text, "neuralstream_decision_body_read_seconds_sum");
    assert!(
        decision_s < 0.1,
        "decision time {decision_s} s counts the upload"
    );
    assert!(
        upload_s >= 0.5,
        "body read time {upload_s} s misses the upload"
    );
    assert_eq!(
        metric(&text, "neuralstream_decision_body_read_seconds_count"),
        1.0
    );
}

/// The `access-control-allow-origin` answered to a GET from `origin`.
fn allowed_origin(running: &Running, origin: &str, host: &str) -> Option<String> {
    let (_, text) = common::raw_request(
        running.addr,
        format!(
            "GET /api/v1/videos HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("access-control-allow-origin")
            .then(|| value.trim().to_string())
    })
}

#[test]
fn cors_allows_the_page_s_own_origin_and_the_listed_ones_only() {
    let fx = fixture();
    let mut cfg = plain_config(&[&fx.media], &["bb"]);
    cfg.cors_origins = vec!["https://player.example:8080".into()];
    let (_rt, running) = start(cfg);
    let host = format!("127.0.0.1:{}", running.addr.port());
    assert_eq!(
        allowed_origin(&running, "https://player.example:8080", &host).as_deref(),
        Some("https://player.example:8080")
    );
    assert_eq!(
        allowed_origin(&running, "https://evil.example", &host),
        None
    );
    let own = format!("http://{host}");
    assert_eq!(allowed_origin(&running, &own, &host), Some(own.clone()));
    // By default only the page's own origin.
    let (_rt2, plain) = start(plain_config(&[&fx.media], &["bb"]));
    let host = format!("127.0.0.1:{}", plain.addr.port());
    assert_eq!(
        allowed_origin(&plain, "https://player.example:8080", &host),
        None
    );
    let own = format!("http://{host}");
    assert_eq!(allowed_origin(&plain, &own, &host), Some(own.clone()));
    // `*` allows any; a malformed origin is refused at start with a hint.
    let mut any = plain_config(&[&fx.media], &["bb"]);
    any.cors_origins = vec!["*".into()];
    let (_rt3, any) = start(any);
    assert_eq!(
        allowed_origin(&any, "https://evil.example", "x").as_deref(),
        Some("*")
    );
    let mut bad = plain_config(&[&fx.media], &["bb"]);
    bad.cors_origins = vec!["player.example/path".into()];
    let e = neuralstream_server::build_state(&bad).unwrap_err();
    assert!(e.to_string().contains("scheme://host"), "{e}");
}

/// An untrained policy for `levels` levels, saved under `dir`; returns its `learned:` name.
fn saved_policy(dir: &std::path::Path, levels: usize) -> String {
    let spec = neuralstream_policy::FeatureSpec::new(levels);
    let actor = neuralstream_nn::Mlp::new(
        &[spec.len(), 8, levels],
        neuralstream_nn::Activation::Relu,
        5,
    );
    let path = dir.join(format!("p{levels}.safetensors"));
    neuralstream_policy::LearnedAbr::new(actor, spec, neuralstream_policy::PolicyMeta::default())
        .save(&path)
        .unwrap();
    format!("learned:{}", path.display())
}

#[test]
fn a_default_policy_that_fits_no_served_video_is_refused_at_start() {
    let fx = fixture();
    let levels = neuralstream_data::synthetic::builtin_video().num_levels();
    let misfit = saved_policy(fx.dir.path(), levels - 2);
    let state = fx.dir.path().join("state");
    let e = neuralstream_server::build_state(&config(&[&fx.media], &state, &[&misfit]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fits no served video"), "{e}");
    assert!(
        e.contains(&format!("clip ({levels} levels)"))
            && e.contains(&format!("({} levels)", levels - 2)),
        "{e}"
    );
    // Beside a default that fits, the same policy is only a warning, and listed as a misfit.
    let ok =
        neuralstream_server::build_state(&config(&[&fx.media], &state, &["bb", &misfit])).unwrap();
    let pairs = ok.ctx.algorithms.misfits(&ok.ctx.media);
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0].video, "clip");
    // A policy that fits is no misfit.
    let fits = saved_policy(fx.dir.path(), levels);
    let ok = neuralstream_server::build_state(&config(&[&fx.media], &state, &[&fits])).unwrap();
    assert!(ok.ctx.algorithms.misfits(&ok.ctx.media).is_empty());
}
