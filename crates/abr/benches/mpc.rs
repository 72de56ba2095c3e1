//! Time of one RobustMPC decision (6 levels, 5-chunk horizon: 7,776 sequences) on realistic
//! observations over the built-in VBR video.
//!
//! `cargo bench -p neuralstream-abr --bench mpc -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuralstream_abr::mpc::Mpc;
use neuralstream_core::{Abr, ChunkRecord, Observation, Video};
use neuralstream_data::synthetic;
use std::hint::black_box;

/// A session history of `chunks` downloads at `level` over a link of about `mbps`, with a little
/// variation so that the forecast error is not zero.
fn history(video: &Video, chunks: usize, level: usize, mbps: f64) -> Vec<ChunkRecord> {
    (0..chunks)
        .map(|i| {
            let size_bytes = video.size_bytes(level, i);
            let rate = mbps * (1.0 + 0.15 * ((i * 7 % 5) as f64 - 2.0) / 2.0);
            let delay_ms = size_bytes as f64 * 8.0 / (rate * 1000.0) + 80.0;
            ChunkRecord {
                index: i,
                level,
                bitrate_kbps: video.ladder.kbps(level),
                size_bytes,
                delay_ms,
                buffer_s: 10.0,
                ..ChunkRecord::default()
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let video = synthetic::builtin_video();
    // (label, link Mbit/s, level played, buffer s)
    let scenarios = [
        ("slow_0.6mbps_buf4s", 0.6, 0, 4.0),
        ("medium_2mbps_buf12s", 2.0, 2, 12.0),
        ("fast_6mbps_buf25s", 6.0, 4, 25.0),
    ];
    let mut g = c.benchmark_group("mpc_decision");
    for (label, mbps, level, buffer_s) in scenarios {
        let hist = history(&video, 20, level, mbps);
        let obs = Observation {
            video: &video,
            next_chunk: 20,
            total_chunks: video.num_chunks(),
            buffer_s,
            last_level: level,
            history: &hist,
        };
        for (variant, bnb) in [("robustmpc", true), ("robustmpc_exhaustive", false)] {
            g.bench_with_input(BenchmarkId::new(variant, label), &obs, |b, obs| {
                let mut mpc = Mpc::robust();
                mpc.params.branch_and_bound = bnb;
                mpc.reset();
                // Fold the history in once; each iteration then times one decision.
                mpc.choose(obs);
                b.iter(|| black_box(mpc.choose(black_box(obs))))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
