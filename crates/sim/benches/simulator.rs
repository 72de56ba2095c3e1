//! Simulator throughput: chunk downloads per second with Pensieve's buffer-based rule.
//!
//! `cargo bench -p neuralstream-sim --bench simulator`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuralstream_abr::bb::Bb;
use neuralstream_core::{Trace, Video};
use neuralstream_data::{find_shared_dir, load_pensieve_set, synthetic};
use neuralstream_sim::{run_session, Session, SessionLog, SimConfig, StartPosition};
use std::hint::black_box;
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
    let cfg = SimConfig::pensieve();
    let chunks = (traces.len() * cfg.chunks_for(video.num_chunks())) as u64;

    let mut g = c.benchmark_group("simulator");
    g.throughput(Throughput::Elements(chunks));
    g.bench_function(format!("bb_sessions/{label}"), |b| {
        let mut log = SessionLog::default();
        let mut abr = Bb::default();
        b.iter(|| {
            for t in &traces {
                run_session(
                    &cfg,
                    t,
                    &video,
                    &mut abr,
                    StartPosition::Beginning,
                    None,
                    &mut log,
                )
                .unwrap();
                black_box(log.records.len());
            }
        })
    });
    g.bench_function(format!("raw_steps_level3/{label}"), |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for t in &traces {
                let mut s = Session::new(&cfg, t, &video, StartPosition::Beginning, None);
                while !s.is_done() {
                    acc += s.step(black_box(3)).unwrap().buffer_s;
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
