//! The offline optimum is an upper bound: on every trace it scores at least every other algorithm.

use neuralstream_data::{load_traces, load_video, shared_dir_for_tests, synthetic, TraceFormat};
use neuralstream_eval::{builtin_factory, run_bench, BenchConfig, BenchResults, OPTIMUM};
use std::collections::HashMap;
use std::path::Path;

fn all_algorithms() -> Vec<String> {
    let mut a: Vec<String> = neuralstream_abr::ALGORITHMS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    a.push(OPTIMUM.into());
    a
}

fn assert_optimum_bounds_all(results: &BenchResults) {
    let opt: HashMap<&str, f64> = results
        .per_trace
        .iter()
        .filter(|r| r.algorithm == OPTIMUM)
        .map(|r| (r.trace.as_str(), r.score.qoe))
        .collect();
    assert_eq!(opt.len(), results.meta.traces);
    for r in &results.per_trace {
        let o = opt[r.trace.as_str()];
        assert!(
            r.score.qoe <= o + 1e-9,
            "{} beats the optimum on {}: {} > {o}",
            r.algorithm,
            r.trace,
            r.score.qoe
        );
    }
}

#[test]
fn optimum_bounds_every_algorithm_on_synthetic_traces() {
    let traces = synthetic::TraceGenerator::default().traces(7, 12);
    let video = synthetic::builtin_video();
    let cfg = BenchConfig {
        algorithms: all_algorithms(),
        ..BenchConfig::default()
    };
    let out = run_bench(
        &cfg,
        &traces,
        &video,
        "synthetic",
        7,
        &builtin_factory,
        &|| {},
    )
    .unwrap();
    assert_optimum_bounds_all(&out.results);
}

#[test]
fn optimum_bounds_every_algorithm_on_pensieve_test_traces() {
    let Some(shared) = shared_dir_for_tests(Path::new(env!("CARGO_MANIFEST_DIR"))) else {
        eprintln!("shared data not found; real-trace bound not checked");
        return;
    };
    let sim = shared.join("data/pensieve/sim");
    let traces = load_traces(&sim.join("cooked_test_traces"), TraceFormat::Cooked).unwrap();
    let video = load_video(&sim).unwrap();
    let cfg = BenchConfig {
        algorithms: all_algorithms(),
        ..BenchConfig::default()
    };
    let out = run_bench(
        &cfg,
        &traces,
        &video,
        "test142",
        0,
        &builtin_factory,
        &|| {},
    )
    .unwrap();
    assert_optimum_bounds_all(&out.results);
    let mean = |name: &str| {
        out.results
            .summaries
            .iter()
            .find(|s| s.algorithm == name)
            .unwrap()
            .qoe_mean
    };
    assert!((mean("bb") - 30.043).abs() < 5e-4);
    assert!((mean("robustmpc-pensieve") - 41.193).abs() < 5e-4);
    assert!((mean("robustmpc-pensieve-reset") - 39.591).abs() < 5e-4);
    assert!(mean(OPTIMUM) > 54.0, "optimum {}", mean(OPTIMUM));
}

#[test]
fn no_share_of_optimum_when_the_optimum_itself_scores_below_zero() {
    // 0.1 to 0.26 Mbit/s under a 300 kbit/s bottom rung: every schedule stalls, the optimum's mean
    // is negative, and a ratio to it would rank the worse algorithm higher.
    let trace = neuralstream_core::Trace::new(
        "starved",
        vec![0.0, 5.0, 10.0, 15.0],
        vec![0.26, 0.1, 0.26, 0.26],
    )
    .unwrap();
    let cfg = BenchConfig {
        algorithms: vec!["bb".into(), OPTIMUM.into()],
        ..BenchConfig::default()
    };
    let video = synthetic::builtin_video();
    let out = run_bench(
        &cfg,
        &[trace],
        &video,
        "starved",
        1,
        &builtin_factory,
        &|| {},
    )
    .unwrap();
    let s = &out.results.summaries;
    let opt = s.iter().find(|s| s.algorithm == OPTIMUM).unwrap();
    assert!(opt.qoe_mean < 0.0, "{}", opt.qoe_mean);
    assert!(s.iter().all(|s| s.share_of_optimum.is_none()), "{s:?}");
    // One trace gives no confidence interval: null in JSON, not a misleading 0.
    assert!(s.iter().all(|s| s.qoe_ci95.is_none()), "{s:?}");
    let json = serde_json::to_value(&out.results).unwrap();
    assert!(json["summaries"][0]["qoe_ci95"].is_null(), "{json}");
    // Files written before (a number) still read.
    let mut old = json.clone();
    old["summaries"][0]["qoe_ci95"] = serde_json::json!(0.0);
    let back: BenchResults = serde_json::from_value(old).unwrap();
    assert_eq!(back.summaries[0].qoe_ci95, Some(0.0));
}
