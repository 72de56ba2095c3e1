//! Time of one RobustMPC decision on realistic observations: over the built-in VBR video (6
//! levels, 5-chunk horizon: 7,776 sequences) and over a synthetic 12-level ladder (248,832
//! sequences, where the buffer-grid bound applies).
//!
//! `cargo bench -p neuralstream-abr --bench mpc -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuralstream_abr::mpc::Mpc;
use neuralstream_core::{Abr, ChunkRecord, Ladder, Observation, Video};
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

/// One benchmark group: every scenario, pruned and exhaustive.
fn group(c: &mut Criterion, name: &str, video: &Video, scenarios: &[(&str, f64, usize, f64)]) {
    let mut g = c.benchmark_group(name);
    for &(label, mbps, level, buffer_s) in scenarios {
        let hist = history(video, 20, level, mbps);
        let obs = Observation {
            video,
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

fn bench(c: &mut Criterion) {
    // (label, link Mbit/s, level played, buffer s)
    let scenarios = [
        ("slow_0.6mbps_buf4s", 0.6, 0, 4.0),
        ("medium_2mbps_buf12s", 2.0, 2, 12.0),
        ("fast_6mbps_buf25s", 6.0, 4, 25.0),
    ];
    group(c, "mpc_decision", &synthetic::builtin_video(), &scenarios);
    // 12 levels from 0.2 to 8 Mbit/s (a step of about 1.4x, as in a dense packaged ladder).
    let kbps = [
        200.0, 280.0, 390.0, 550.0, 770.0, 1080.0, 1500.0, 2100.0, 2950.0, 4100.0, 5750.0, 8000.0,
    ];
    let video = synthetic::synthetic_video("vbr-12", &Ladder::from_kbps(&kbps), 48, 4.0, 12);
    let scenarios = [
        ("slow_1mbps_buf4s", 1.0, 3, 4.0),
        ("medium_3mbps_buf12s", 3.0, 6, 12.0),
        ("fast_10mbps_buf25s", 10.0, 10, 25.0),
    ];
    group(c, "mpc_decision_12_levels", &video, &scenarios);
}

criterion_group!(benches, bench);
criterion_main!(benches);
