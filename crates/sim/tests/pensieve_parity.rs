//! Golden test: the simulator plus Pensieve's buffer-based rule reproduce the reference per trace.
//!
//! Fails (does not skip) whenever `../shared/data` is present; prints a notice when it is absent.

use neuralstream_abr::bb::Bb;
use neuralstream_core::QoeModel;
use neuralstream_data::{load_traces, load_video, shared_dir_for_tests, TraceFormat};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use std::collections::HashMap;
use std::path::Path;

fn reference(shared: &Path, set: &str, scheme: &str) -> HashMap<String, (f64, f64, f64, f64)> {
    let text = std::fs::read_to_string(shared.join("reference/pensieve_per_trace.csv")).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if c[0] == set && c[1] == scheme {
            let f = |i: usize| c[i].parse::<f64>().unwrap();
            // qoe_sum_skip1, bitrate_mean_kbps_skip1, rebuf_s_skip1, smooth_pen
            out.insert(c[2].to_string(), (f(3), f(6), f(7), f(9)));
        }
    }
    out
}

#[test]
fn bb_matches_reference_trace_by_trace() {
    let Some(shared) = shared_dir_for_tests(Path::new(env!("CARGO_MANIFEST_DIR"))) else {
        eprintln!("shared data not found; parity test not run");
        return;
    };
    let video = load_video(&shared.join("data/pensieve/sim")).unwrap();
    let qoe = QoeModel::lin().compile(&video).unwrap();
    let cfg = SimConfig::pensieve();
    for (set, dir, expected_mean) in [
        ("test142", "cooked_test_traces", Some(30.043)),
        ("train127", "cooked_traces", None),
    ] {
        let traces = load_traces(
            &shared.join("data/pensieve/sim").join(dir),
            TraceFormat::Cooked,
        )
        .unwrap();
        let reference = reference(&shared, set, "bb");
        assert_eq!(reference.len(), traces.len());
        let mut log = SessionLog::default();
        let mut sum = 0.0;
        for t in &traces {
            run_session(
                &cfg,
                t,
                &video,
                &mut Bb::default(),
                StartPosition::Beginning,
                None,
                &mut log,
            )
            .unwrap();
            let s = qoe.score(&log.records, 1);
            let (q, br, rb, sm) = reference[&t.name];
            assert!(
                (s.qoe - q).abs() < 1e-6,
                "{set}/{}: qoe {} vs reference {q}",
                t.name,
                s.qoe
            );
            assert!(
                (s.bitrate_mean_kbps - br).abs() < 1e-4,
                "{}: bitrate",
                t.name
            );
            assert!((s.rebuffer_s - rb).abs() < 1e-6, "{}: rebuffer", t.name);
            assert!(
                (s.smoothness_penalty - sm).abs() < 1e-6,
                "{}: smoothness",
                t.name
            );
            sum += s.qoe;
        }
        let mean = sum / traces.len() as f64;
        if let Some(m) = expected_mean {
            assert!((mean - m).abs() < 5e-4, "{set}: mean {mean} vs {m}");
        }
    }
}
