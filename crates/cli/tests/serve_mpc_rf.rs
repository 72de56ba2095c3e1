//! `serve --abr mpc-rf:MODEL` (issue 19): the forest is read once at start and decides for every
//! session of the decision API; a missing or malformed model stops `serve` at start with a message
//! naming the flag and the file.

mod support;

use neuralstream_abr::predictor::{ForestModel, Horizon, Node, Tree};
use std::path::Path;
use std::process::{Command, Stdio};
use support::serve::{bin, Http, Proc};

/// A tiny forest on the public model API: per horizon, two one-leaf trees and one split on the
/// last throughput (feature 0: ln kbit/s of the newest download).
fn write_model(path: &Path) {
    let leaf = |kbps: f64| Node {
        f: 0,
        t: 0.0,
        l: None,
        r: None,
        v: f64::ln(kbps),
    };
    let split = Tree {
        nodes: vec![
            Node {
                f: 0,
                t: f64::ln(2000.0),
                l: Some(1),
                r: Some(2),
                v: 0.0,
            },
            leaf(800.0),
            leaf(4000.0),
        ],
    };
    let horizons = (1..=5)
        .map(|h| Horizon {
            horizon_chunks: h,
            trees: vec![
                Tree {
                    nodes: vec![leaf(1500.0)],
                },
                Tree {
                    nodes: vec![leaf(2500.0)],
                },
                split.clone(),
            ],
            residual_ln: vec![],
        })
        .collect();
    let model = ForestModel::new(
        horizons,
        serde_json::json!({"made_by": "serve_mpc_rf test"}),
    );
    std::fs::write(path, model.to_json()).unwrap();
}

fn write_media(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let video = neuralstream_data::synthetic::builtin_video();
    neuralstream_data::descriptor::write_descriptor(&dir.join("video.json"), &video).unwrap();
    video.num_chunks()
}

fn serve(dir: &Path, abr: &str) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--http", "--port", "0", "--abr", abr])
        .arg("--media")
        .arg(dir.join("clip"))
        .arg("--state-dir")
        .arg(dir.join("state"));
    cmd
}

#[test]
fn serve_decides_with_an_mpc_rf_model_for_every_session() {
    let tmp = tempfile::tempdir().unwrap();
    let chunks = write_media(&tmp.path().join("clip"));
    let model = tmp.path().join("rf.json");
    write_model(&model);
    let name = format!("mpc-rf:{}", model.display());
    let mut child = serve(tmp.path(), &format!("robustmpc,{name}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = support::serve::http_address(&mut child);
    let _server = Proc(child);
    let mut http = Http::connect(&addr);
    let (status, list) = http.request("GET", "/api/v1/algorithms", "");
    assert_eq!(status, 200);
    assert!(
        list.contains(&name) && list.contains("random forest"),
        "{list}"
    );

    // Two sessions at once on the same model, one on a fast link and one on a slow one: each
    // keeps its own history (the fast one ends on a higher level).
    let mut last_level = [0u64; 2];
    for (s, kbps) in [(0usize, 6000.0), (1, 600.0)] {
        let path = format!("/api/v1/sessions/rf-{s}/decision");
        let body = format!(r#"{{"buffer_s": 0, "algorithm": "{name}"}}"#);
        let (status, answer) = http.request("POST", &path, &body);
        assert_eq!(status, 200, "{answer}");
        let mut level = json(&answer)["level"].as_u64().unwrap();
        for k in 0..chunks.min(12) {
            let size = 100_000 + 20_000 * level;
            let start = k as f64 * 4000.0;
            let req = format!(
                r#"{{"buffer_s": 8.0, "last_chunk": {{"index": {k}, "level": {level}, "size_bytes": {size}, "request_start_ms": {start}, "request_finish_ms": {}}}}}"#,
                start + size as f64 * 8.0 / kbps
            );
            let (status, answer) = http.request("POST", &path, &req);
            assert_eq!(status, 200, "{answer}");
            let a = json(&answer);
            assert_eq!(a["algorithm"], name.as_str());
            assert_eq!(a["chunk"].as_u64(), Some(k as u64 + 1));
            if k >= 1 {
                // The forest's prediction is the decision's reason.
                assert!(
                    a["reasons"]["predicted_throughput_kbps"].as_f64().unwrap() > 0.0,
                    "{a}"
                );
            }
            level = a["level"].as_u64().unwrap();
        }
        last_level[s] = level;
    }
    assert!(last_level[0] > last_level[1], "{last_level:?}");
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_missing_or_malformed_mpc_rf_model_stops_serve_naming_the_flag_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    write_media(&tmp.path().join("clip"));
    let missing = tmp.path().join("no-such-rf.json");
    let malformed = tmp.path().join("bad-rf.json");
    std::fs::write(
        &malformed,
        r#"{"format": "neuralstream-rf", "version": 99}"#,
    )
    .unwrap();
    for (model, why) in [
        (&missing, "cannot read the model file"),
        (&malformed, "not a usable throughput model"),
    ] {
        let abr = format!("mpc-rf:{}", model.display());
        let o = serve(tmp.path(), &abr).output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("--abr {abr}"))
                && err.contains(&model.display().to_string())
                && err.contains(why),
            "{err}"
        );
    }
}
