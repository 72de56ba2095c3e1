//! The whole rule-based suite (every algorithm but the optimum) on the 142 test traces, and the
//! offline optimum per trace. `cargo bench -p neuralstream-eval --bench suite`

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{Trace, Video};
use neuralstream_data::{find_shared_dir, load_traces, load_video, synthetic, TraceFormat};
use neuralstream_eval::{builtin_factory, run_bench, BenchConfig, OPTIMUM};
use std::path::Path;

fn inputs() -> (Vec<Trace>, Video, &'static str) {
    if let Some(shared) = find_shared_dir(Path::new(env!("CARGO_MANIFEST_DIR"))) {
        let dir = shared.join("data/pensieve/sim");
        if let (Ok(t), Ok(v)) = (
            load_traces(&dir.join("cooked_test_traces"), TraceFormat::Cooked),
            load_video(&dir),
        ) {
            return (t, v, "pensieve-test142");
        }
    }
    (
        synthetic::TraceGenerator::default().traces(1, 142),
        synthetic::builtin_video(),
        "synthetic142",
    )
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
