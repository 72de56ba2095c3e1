//! The long run (ignored by default): behaviour cloning on Pensieve's 127 training traces, then one
//! score on the 142 test traces (never used for training or selection).
//!
//! `cargo test -p neuralstream-learn --release --test pensieve_imitation -- --ignored --nocapture`
//! Optional: `NEURALSTREAM_IMITATION_SAVE=path.safetensors` saves the selected policy;
//! `NEURALSTREAM_IMITATION_SEED=N` changes the seed (default 1).

use neuralstream_data::{load_traces, load_video, shared_dir_for_tests, TraceFormat};
use neuralstream_learn::{session_qoes, train_imitation, ImitationConfig};
use std::time::Instant;

#[test]
#[ignore = "minutes of training on the shared Pensieve data"]
fn imitation_on_pensieve_traces() {
    let t0 = Instant::now();
    let shared = shared_dir_for_tests(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("shared data folder");
    let sim_dir = shared.join("data/pensieve/sim");
    let train = load_traces(&sim_dir.join("cooked_traces"), TraceFormat::Cooked).unwrap();
    let test = load_traces(&sim_dir.join("cooked_test_traces"), TraceFormat::Cooked).unwrap();
    let video = load_video(&sim_dir).unwrap();
    let seed = std::env::var("NEURALSTREAM_IMITATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cfg = ImitationConfig {
        seed,
        ..ImitationConfig::default()
    };
    let report = train_imitation(&train, &video, &cfg, |s| {
        eprintln!(
            "epoch {:3} loss {:.4} acc {:.3} val_qoe {:.3} wall {:.1}s",
            s.epoch, s.loss, s.accuracy, s.val_qoe, s.wall_s
        )
    })
    .unwrap();
    let train_s = t0.elapsed().as_secs_f64();
    let qoe = cfg.qoe.compile(&video).unwrap();
    let policy = report.policy.clone();
    let scores = session_qoes(
        || policy.clone(),
        &test,
        &video,
        &cfg.sim,
        &qoe,
        cfg.skip_chunks,
    )
    .unwrap();
    let mut sorted = scores.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    eprintln!(
        "windows {:?}, samples {}, collect {:.1}s, best epoch {}, val {:.3} (val optimum {:.3}), training wall {:.1}s",
        report.windows, report.samples, report.collect_s, report.best_epoch, report.best_val_qoe,
        report.val_optimum_qoe, train_s
    );
    eprintln!(
        "TEST ({} traces): mean QoE_lin {:.3}, p10 {:.3}",
        scores.len(),
        mean,
        sorted[scores.len() / 10]
    );
    if let Ok(p) = std::env::var("NEURALSTREAM_IMITATION_SAVE") {
        report.policy.save(p).unwrap();
    }
}
