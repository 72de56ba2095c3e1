//! Shared-link speed (issue 22's bar: 100 players on one link simulate in under 1 s): 100 players
//! of five algorithms on one Pensieve test trace (scaled x100), 48 chunks each, under no allocator
//! and under max-min QoE and `fair` (caps, floors and link weights, reallocated every second of
//! link time).
//!
//! `cargo bench -p neuralstream-sim --bench shared_link`

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{Trace, Video};
use neuralstream_data::{find_shared_dir, load_pensieve_set, synthetic};
use neuralstream_sim::shared::{run_shared, scaled_trace, SharedConfig, SharedPlayer};
use std::hint::black_box;
use std::path::Path;

const PLAYERS: usize = 100;
const MIX: [&str; 5] = ["bba0", "robustmpc", "bola", "rate", "festive"];

fn inputs() -> (Trace, Video, &'static str) {
    let (traces, video, label) = find_shared_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .and_then(|shared| load_pensieve_set(&shared, "cooked_test_traces").ok())
        .map(|(t, v)| (t, v, "pensieve-test"))
        .unwrap_or_else(|| {
            (
                synthetic::TraceGenerator::default().traces(1, 1),
                synthetic::builtin_video(),
                "synthetic",
            )
        });
    let trace = scaled_trace(&traces[0], PLAYERS as f64).unwrap();
    (trace, video, label)
}

fn bench(c: &mut Criterion) {
    let (trace, video, label) = inputs();
    let cfg = SharedConfig::pensieve();
    let mut g = c.benchmark_group("shared_link");
    g.sample_size(10);
    for allocator in ["none", "maxmin", "fair"] {
        g.bench_function(format!("{PLAYERS}_players/{allocator}/{label}"), |b| {
            b.iter(|| {
                let mut players: Vec<SharedPlayer<'_>> = (0..PLAYERS)
                    .map(|i| SharedPlayer {
                        abr: neuralstream_abr::create(MIX[i % MIX.len()]).unwrap(),
                        video: &video,
                        start_s: 0.0,
                        leave_s: None,
                        weight: 1.0,
                    })
                    .collect();
                let mut alloc = neuralstream_alloc::create(allocator).unwrap();
                let out = run_shared(&cfg, &trace, &mut players, alloc.as_mut()).unwrap();
                black_box(out.link.delivered_bytes)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
