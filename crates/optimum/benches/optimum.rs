//! Time of one offline-optimum solve on one real test trace.
//!
//! `cargo bench -p neuralstream-optimum -- --warm-up-time 1 --measurement-time 5`
//!
//! Uses Pensieve's first test trace (in name order) and video when the shared data is present,
//! otherwise a synthetic trace and the built-in video.

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::{find_shared_dir, load_traces, load_video, synthetic, TraceFormat};
use neuralstream_optimum::{solve, OptimumParams};
use neuralstream_sim::SimConfig;
use std::hint::black_box;
use std::path::Path;

fn inputs() -> (Trace, Video, String) {
    if let Some(shared) = find_shared_dir(Path::new(env!("CARGO_MANIFEST_DIR"))) {
        let dir = shared.join("data/pensieve/sim");
        if let (Ok(mut t), Ok(v)) = (
            load_traces(&dir.join("cooked_test_traces"), TraceFormat::Cooked),
            load_video(&dir),
        ) {
            if !t.is_empty() {
                t.sort_by(|a, b| a.name.cmp(&b.name));
                let trace = t.swap_remove(0);
                let label = format!("pensieve-test/{}", trace.name);
                return (trace, v, label);
            }
        }
    }
    let trace = synthetic::TraceGenerator::default().trace(1, 0);
    let label = format!("synthetic/{}", trace.name);
    (trace, synthetic::builtin_video(), label)
}

fn bench(c: &mut Criterion) {
    let (trace, video, label) = inputs();
    let cfg = SimConfig::pensieve();
    let qoe = QoeModel::lin().compile(&video).unwrap();
    let params = OptimumParams::default();
    let mut g = c.benchmark_group("optimum");
    g.sample_size(10);
    g.bench_function(format!("solve/{label}"), |b| {
        b.iter(|| solve(&cfg, black_box(&trace), &video, &qoe, 1, &params).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
