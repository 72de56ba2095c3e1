//! `serve --egress-mbps` (issue 22): the egress allocator caps every session's level (and `fair`
//! sets floors), each decision carries its cap, floor and the reasons, `/metrics` reports Jain's fairness index; bad
//! settings are refused at start with the flag named.

mod common;

use common::{client, config, fixture};
use neuralstream_protocol::DecisionResponse;
use serde_json::{json, Value};

/// The report of chunk `i` at `level`, downloaded at 20 Mbit/s, with a 20 s buffer.
fn report(i: usize, level: usize) -> Value {
    let size_bytes = 500_000u64;
    let start_ms = 4000.0 * i as f64;
    json!({
        "buffer_s": 20.0,
        "rebuffer_s": 0.0,
        "last_chunk": {
            "index": i, "level": level, "size_bytes": size_bytes,
            "request_start_ms": start_ms,
            "request_finish_ms": start_ms + size_bytes as f64 * 8.0 / 20_000.0
        }
    })
}

/// Posts a decision request; checks it is answered with a cap the level keeps to. Returns the
/// decision, its cap and the cap's reason.
async fn capped_decision(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> (DecisionResponse, usize, String) {
    let r = http.post(url).json(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let d: DecisionResponse = r.json().await.unwrap();
    let cap = d.reasons.cap_level.expect("every decision carries its cap");
    assert!(d.level <= cap, "level {} above its cap {cap}", d.level);
    if let Some(floor) = d.reasons.floor_level {
        assert!(floor <= cap && d.level >= floor, "{d:?}");
        assert!(d.reasons.floor_reason.is_some() && d.reasons.floor_kbps.is_some());
    }
    let reason = d.reasons.cap_reason.clone().unwrap_or_default();
    (d, cap, reason)
}

/// The server's `/metrics` text.
async fn metrics(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_gets_a_cap_and_metrics_report_fairness() {
    let fx = fixture();
    let mut cfg = config(
        &[&fx.media],
        &fx.dir.path().join("state"),
        &["robustmpc", "bb"],
    );
    cfg.egress_mbps = Some(3.0);
    cfg.allocator = "maxmin".into();
    let running = neuralstream_server::start(cfg).await.unwrap();
    let http = client(&running);
    let base = running.base_url.clone();
    let sessions = 4;
    let mut last_level = vec![1usize; sessions];
    let mut capped = 0;
    for i in 0..6 {
        for (s, level) in last_level.iter_mut().enumerate() {
            let url = format!("{base}api/v1/sessions/egress-{s}/decision");
            let body = if i == 0 {
                json!({"buffer_s": 0, "algorithm": "robustmpc"})
            } else {
                report(i - 1, *level)
            };
            let (d, cap, reason) = capped_decision(&http, &url, &body).await;
            assert!(!reason.is_empty(), "{d:?}");
            // 3 Mbit/s x 1.2 headroom among 4 sessions: nobody may fetch the 4.3 Mbit/s top.
            assert!(d.reasons.cap_kbps.unwrap() < 4300.0, "{d:?}");
            if cap < 5 {
                capped += 1;
            }
            *level = d.level;
        }
    }
    assert!(capped > 0);
    let metrics = metrics(&http, &base).await;
    assert!(
        metrics.contains("neuralstream_egress_capacity_kbps 3000"),
        "{metrics}"
    );
    assert!(
        metrics.contains("neuralstream_egress_sessions{allocator=\"maxmin\"} 4"),
        "{metrics}"
    );
    let jain: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("neuralstream_fairness_jain_qoe "))
        .expect("the fairness index is reported")
        .parse()
        .unwrap();
    assert!((0.25..=1.0).contains(&jain), "{jain}");
    running.shutdown(std::time::Duration::from_secs(1)).await;
}

/// `--allocator fair`: the server applies its caps and floors (its link weights need a pacer per
/// connection, which the server does not have), every decision's reason carries the session's
/// weight, and the sessions behind get floors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fair_allocator_caps_and_reports_weights() {
    let fx = fixture();
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.egress_mbps = Some(3.0);
    cfg.allocator = "fair".into();
    let running = neuralstream_server::start(cfg).await.unwrap();
    let http = client(&running);
    let base = running.base_url.clone();
    for i in 0..4 {
        if i == 3 {
            // The sessions' QoE so far is known now; the next request reallocates.
            tokio::time::sleep(neuralstream_server::egress::REALLOC_EVERY).await;
        }
        for s in 0..3usize {
            let url = format!("{base}api/v1/sessions/fair-{s}/decision");
            let body = if i == 0 {
                json!({"buffer_s": 0, "algorithm": "bb"})
            } else {
                // Session 0 fetches the top level, the others the lowest: unequal QoE.
                report(i - 1, if s == 0 { 5 } else { 0 })
            };
            let (d, _, reason) = capped_decision(&http, &url, &body).await;
            assert!(reason.starts_with("fair share: weight "), "{reason}");
            // Allocated after their QoE is known, the sessions behind (at level 0, 20 s of
            // buffer, more than 1 Mbit/s each of the egress) get a floor of level 1; the one
            // ahead does not.
            if i == 3 {
                let want = (s > 0).then_some(1);
                assert_eq!(d.reasons.floor_level, want, "session {s}: {d:?}");
            }
            if let Some(r) = &d.reasons.floor_reason {
                assert!(r.starts_with("behind with room"), "{r}");
            }
        }
    }
    let metrics = metrics(&http, &base).await;
    assert!(
        metrics.contains("neuralstream_egress_sessions{allocator=\"fair\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("neuralstream_egress_floored_decisions_total "),
        "{metrics}"
    );
    running.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_egress_settings_are_refused_at_start() {
    let fx = fixture();
    for (mbps, allocator, needle) in [
        (0.0, "maxmin", "--egress-mbps"),
        (f64::NAN, "maxmin", "--egress-mbps"),
        (5.0, "fairest", "--allocator"),
    ] {
        let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
        cfg.egress_mbps = Some(mbps);
        cfg.allocator = allocator.into();
        let Err(e) = neuralstream_server::start(cfg).await else {
            panic!("--egress-mbps {mbps} --allocator {allocator} was accepted");
        };
        assert!(e.to_string().contains(needle), "{e}");
    }
}
