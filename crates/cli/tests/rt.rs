//! `neuralstream rt bench` end to end through the real binary: traces of both formats in, table
//! and result files out; bad traces and flags give a message naming the file and line or flag.

use std::path::Path;
use std::process::{Command, Output};

fn rt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .arg("rt")
        .args(args)
        .output()
        .expect("run neuralstream")
}

fn write_traces(dir: &Path) {
    let entries: Vec<String> = (0..40)
        .map(|i| {
            let kbps = if i % 10 < 5 { 2000 } else { 800 };
            format!("{{\"duration\": 500, \"capacity\": {kbps}, \"loss\": 0, \"rtt\": 60}}")
        })
        .collect();
    std::fs::write(
        dir.join("steps.json"),
        format!(
            "{{\"type\": \"video\", \"downlink\": {{}}, \"uplink\": {{\"trace_pattern\": [\n{}\n]}}}}\n",
            entries.join(",\n")
        ),
    )
    .unwrap();
    // Mahimahi: 2 opportunities every 3 ms for 20 s = 8 Mbit/s.
    let lines: String = (0..20_000)
        .filter(|t| t % 3 == 0)
        .map(|t| format!("{t}\n{t}\n"))
        .collect();
    std::fs::write(dir.join("link.down"), lines).unwrap();
    std::fs::write(dir.join("README"), "not a trace").unwrap();
}

#[test]
fn bench_writes_table_and_results() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path());
    let out = dir.path().join("out");
    let o = rt(&[
        "bench",
        "--traces",
        dir.path().to_str().unwrap(),
        "--controllers",
        "gcc,fixed:1500,oracle",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("onl_qoe") && stdout.contains("fixed:1500") && stdout.contains("mahimahi"),
        "{stdout}"
    );
    assert!(
        stdout.contains("6 sessions (2 traces x 3 controllers)"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let sessions = json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 6);
    // One loop of each trace: 20 s.
    assert!(sessions
        .iter()
        .all(|s| (s["duration_s"].as_f64().unwrap() - 20.0).abs() < 0.01));
    for s in sessions {
        let q = s["onl_qoe"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&q), "{s}");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("sessions.csv"))
            .unwrap()
            .lines()
            .count(),
        7
    );
    assert!(out.join("summary.csv").is_file());
    // Charts: the frame-delay CDF and one timeline per controller on the first trace.
    for ext in ["png", "svg"] {
        assert!(out.join(format!("frame_delay_cdf.{ext}")).is_file());
    }
    let timelines: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("timeline_") && n.ends_with(".png"))
        .collect();
    assert_eq!(timelines.len(), 3, "{timelines:?}");
    let svg = std::fs::read_to_string(out.join("frame_delay_cdf.svg")).unwrap();
    assert!(svg.contains("fraction of frames") && svg.contains("fixed:1500"));
}

#[test]
fn bench_timeline_trace_is_chosen_by_name_and_an_unknown_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path());
    // Outputs beside the traces' folder, not in it (traces are searched recursively).
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("out");
    let base = [
        "bench",
        "--traces",
        dir.path().to_str().unwrap(),
        "--controllers",
        "gcc",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--timeline",
        "no-such-trace",
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = rt(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--timeline no-such-trace"), "{err}");
    // The trace is found by a part of its name; --no-charts writes none (into a fresh folder).
    let out2 = outs.path().join("out2");
    let mut args = base.to_vec();
    args.extend(["--timeline", "steps", "--out", out2.to_str().unwrap()]);
    let o = rt(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out2.join("timeline_gcc_steps_json.png").is_file());
    let out3 = outs.path().join("out3");
    let mut args = base.to_vec();
    args.extend(["--no-charts", "--out", out3.to_str().unwrap()]);
    let o = rt(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out3.join("results.json").is_file());
    assert!(!out3.join("frame_delay_cdf.png").exists());
}

#[test]
fn bad_trace_and_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"uplink\": {\"trace_pattern\": [\n {\"duration\": 100, \"capacity\": 500},\n {\"duration\": 100, \"capacity\": -1}\n]}}\n",
    )
    .unwrap();
    let o = rt(&[
        "bench",
        "--traces",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("bad.json:3:") && err.contains("capacity -1"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("x.up"), "").unwrap();
    let o = rt(&["bench", "--traces", empty.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("x.up:0: empty Mahimahi trace"), "{err}");

    let good = tempfile::tempdir().unwrap();
    write_traces(good.path());
    let o = rt(&[
        "bench",
        "--traces",
        good.path().to_str().unwrap(),
        "--controllers",
        "gcc,bba",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--controllers gcc,bba") && err.contains("unknown controller 'bba'"),
        "{err}"
    );
    let o = rt(&[
        "bench",
        "--traces",
        good.path().to_str().unwrap(),
        "--fps",
        "25",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--fps 25: use 30 or 60"), "{err}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn train_writes_a_model_that_bench_runs_and_bad_models_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // Three links per family, so each family has a train, a validation and a test link.
    for i in 0..3 {
        let kbps = 1000 + 700 * i;
        std::fs::write(
            dir.path().join(format!("link{i}.json")),
            format!(
                "{{\"uplink\": {{\"trace_pattern\": [{{\"duration\": 5000, \"capacity\": {kbps}, \"loss\": 0, \"rtt\": 40}}]}}}}\n"
            ),
        )
        .unwrap();
    }
    let out = dir.path().join("model");
    let o = rt(&[
        "train",
        "--traces",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--episodes",
        "4",
        "--validate-every",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("validation onl_qoe"), "{stderr}");
    let model = out.join("model.safetensors");
    assert!(model.is_file() && out.join("curve.csv").is_file());
    let o = rt(&[
        "bench",
        "--traces",
        dir.path().to_str().unwrap(),
        "--split",
        "test",
        "--controllers",
        &format!("learned:{},gcc", model.display()),
        "--out",
        dir.path().join("bench").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("learned") && stdout.contains("gcc"),
        "{stdout}"
    );

    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, "not a model").unwrap();
    let o = rt(&[
        "bench",
        "--traces",
        dir.path().to_str().unwrap(),
        "--controllers",
        &format!("learned:{}", bad.display()),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--controllers learned:") && err.contains("bad.safetensors:"),
        "{err}"
    );
}
