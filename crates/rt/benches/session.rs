//! Real-time simulator speed: one 60 fps, 60 s session (3,600 frames, every packet through the
//! bottleneck, feedback every 50 ms), with GCC, with a fixed bitrate, and with GCC under WebRTC's
//! congestion window. Issue 18's bar: at most 20 ms per session on one core (3000x real time).
//!
//! `cargo bench -p neuralstream-rt --bench session`
//!
//! The trace is Mahimahi's Verizon-LTE-short.down (5 Mbit/s mean) from `../shared/data/rtc` when it
//! is there, else a synthetic 5 Mbit/s trace with 100 ms steps.

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_rt::{read_trace, run_session, Fixed, Gcc, LinkTrace, MahimahiOptions, RtConfig};
use std::hint::black_box;
use std::path::Path;

fn trace() -> (LinkTrace, &'static str) {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in here.ancestors() {
        let f = dir.join("shared/data/rtc/mahimahi/Verizon-LTE-short.down");
        if let Ok(t) = read_trace(&f, MahimahiOptions::default()) {
            return (t, "verizon-lte-short-down");
        }
    }
    let steps: Vec<(f64, f64, f64, f64)> = (0..600)
        .map(|i| {
            (
                100.0,
                5000.0 * (1.0 + 0.5 * ((i as f64) * 0.1).sin()),
                0.0,
                40.0,
            )
        })
        .collect();
    (
        LinkTrace::from_steps("synthetic", "synthetic", &steps).unwrap(),
        "synthetic-5mbps",
    )
}

fn bench(c: &mut Criterion) {
    let (trace, label) = trace();
    let cfg = RtConfig {
        source_fps: 60,
        duration_ms: 60_000.0,
        ..Default::default()
    };
    let mut g = c.benchmark_group("rt_session_60fps_60s");
    g.bench_function(format!("gcc/{label}"), |b| {
        b.iter(|| {
            black_box(
                run_session(&trace, &cfg, &mut Gcc::default())
                    .unwrap()
                    .packets
                    .len(),
            )
        })
    });
    g.bench_function(format!("fixed_2500/{label}"), |b| {
        b.iter(|| {
            black_box(
                run_session(&trace, &cfg, &mut Fixed::new(2.5e6))
                    .unwrap()
                    .packets
                    .len(),
            )
        })
    });
    // The same GCC session with WebRTC's congestion window on (`RtConfig::cwnd_queue_ms`).
    let cwnd_cfg = RtConfig {
        cwnd_queue_ms: Some(neuralstream_rt::cwnd::DEFAULT_QUEUE_MS),
        ..cfg.clone()
    };
    g.bench_function(format!("gcc_cwnd/{label}"), |b| {
        b.iter(|| {
            black_box(
                run_session(&trace, &cwnd_cfg, &mut Gcc::default())
                    .unwrap()
                    .packets
                    .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
