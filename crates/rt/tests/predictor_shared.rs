//! The predictor comparison on the project's traces (`../shared/data/rtc`), as recorded in
//! docs/benchmarks.md: `cargo test --release -p neuralstream-rt --test predictor_shared --
//! --ignored --nocapture` (about a minute; skipped without `../shared`).

use neuralstream_rt::predictor::{compare, PredictorConfig};

#[test]
#[ignore]
fn lstm_vs_ewma_on_shared_traces() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rtc");
    let Ok(traces) = neuralstream_rt::read_trace_dir(&dir, Default::default()) else {
        eprintln!("skipped: {} not readable", dir.display());
        return;
    };
    let started = std::time::Instant::now();
    let r = compare(&traces, &PredictorConfig::default()).unwrap();
    eprintln!("{r:#?}");
    for (family, ewma, lstm) in &r.test {
        eprintln!(
            "{family:<10} ewma {ewma:.4} lstm {lstm:.4} lstm/ewma {:.3}",
            lstm / ewma
        );
    }
    eprintln!("in {:.1} s", started.elapsed().as_secs_f64());
    assert!(r.lstm_validation_mape.is_finite());
}
