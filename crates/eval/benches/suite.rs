//! The whole rule-based suite (every algorithm but the optimum) on the 142 test traces, and the
//! offline optimum per trace. `cargo bench -p neuralstream-eval --bench suite`

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{Trace, Video};
use neuralstream_data::{find_shared_dir, load_pensieve_set, synthetic};
use neuralstream_eval::{builtin_factory, run_bench, BenchConfig, OPTIMUM};
use std::path::Path;

fn inputs() -> (Vec<Trace>, Video, &'static str) {
    find_shared_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .and_then(|shared| load_pensieve_set(&shared, "cooked_test_traces").ok())
        .map(|(t, v)| (t, v, "pensieve-test142"))
        .unwrap_or_else(|| {
            (
                synthetic::TraceGenerator::default().traces(1, 142),
                synthetic::builtin_video(),
                "synthetic142",
            )
        })
}

fn bench(c: &mut Criterion) {
    let (traces, video, label) = inputs();
    let baselines: Vec<String> = neuralstream_abr::ALGORITHMS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let mut g = c.benchmark_group("suite");
    g.sample_size(10);
    let cfg = BenchConfig {
        algorithms: baselines.clone(),
        ..BenchConfig::default()
    };
    g.bench_function(format!("all_{}_baselines/{label}", baselines.len()), |b| {
        b.iter(|| run_bench(&cfg, &traces, &video, label, 0, &builtin_factory, &|| {}).unwrap())
    });
    let one = &traces[..1];
    let cfg = BenchConfig {
        algorithms: vec![OPTIMUM.into()],
        ..BenchConfig::default()
    };
    g.bench_function(format!("optimum_one_trace/{}", one[0].name), |b| {
        b.iter(|| run_bench(&cfg, one, &video, label, 0, &builtin_factory, &|| {}).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
