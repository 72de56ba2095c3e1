//! `neuralstream dataset eval-predictors` through the real binary: every predictor (harmonic mean,
//! EWMA, random forest, LSTM) has a finite row per horizon, the LSTM's training choices are
//! written, and a bad `--harmonic-blend` is refused by name.

use neuralstream_telemetry::{Event, EventKind, ParquetLayout, Source};
use std::path::Path;
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// `sessions` sessions of 24 chunks whose throughput cycles with a per-session scale.
fn write_telemetry(dir: &Path, sessions: usize, offset: usize) {
    let pattern = [700.0, 2100.0, 1400.0, 3000.0];
    let events: Vec<Event> = (0..sessions)
        .flat_map(|s| {
            let scale = 0.6 + 0.15 * ((s + offset) % 5) as f64;
            (0..24u32).map(move |c| {
                let kbps = scale * pattern[(c as usize + s) % 4];
                let start = c as f64 * 4000.0;
                let mut e = Event::new(
                    EventKind::Chunk,
                    Source::Bench,
                    1_800_000_000_000 + start as i64 + 1000,
                    format!("s{}", s + offset),
                );
                e.chunk = Some(c);
                e.size_bytes = Some((kbps * 1000.0 / 8.0) as u64);
                e.request_start_ms = Some(start);
                e.response_end_ms = Some(start + 1000.0);
                e.throughput_kbps = Some(kbps);
                e
            })
        })
        .collect();
    ParquetLayout::new(dir).write(&events).unwrap();
}

#[test]
fn eval_predictors_scores_the_lstm_beside_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test, out) = (
        tmp.path().join("train"),
        tmp.path().join("test"),
        tmp.path().join("out"),
    );
    write_telemetry(&train, 40, 0);
    write_telemetry(&test, 8, 1000);
    let args = [
        "dataset",
        "eval-predictors",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trees",
        "5",
    ];
    let o = run(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("LSTM: "), "{stdout}");
    let csv = std::fs::read_to_string(out.join("predictors.csv")).unwrap();
    for name in ["harmonic_mean", "ewma", "random_forest", "lstm"] {
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|r| r[0] == name)
            .collect();
        assert_eq!(rows.len(), 5, "{name}: one row per horizon\n{csv}");
        for r in rows {
            assert!(r[2].parse::<usize>().unwrap() > 0, "{r:?}");
            for v in &r[3..] {
                let v: f64 = v.parse().unwrap();
                assert!(v.is_finite() && v >= 0.0, "{name}: {r:?}");
            }
        }
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("lstm.json")).unwrap()).unwrap();
    assert_eq!(
        report["candidates"].as_array().unwrap().len(),
        8,
        "{report}"
    );
    assert!(report["train_s"].as_f64().unwrap() > 0.0);

    let mut bad = args.to_vec();
    bad.extend(["--harmonic-blend", "2"]);
    let o = run(&bad);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--harmonic-blend 2"));
}
