//! Sink throughput (issue 19's bar: Parquet >= 1M chunk events/s on one core; Kafka produce
//! >= 200k events/s to a local broker).
//!
//! `cargo bench -p neuralstream-telemetry --bench sinks`. The Kafka group runs only with a tansu
//! binary (`NEURALSTREAM_TANSU` or `tansu` on PATH); it starts its own broker.

#[path = "../tests/support/tansu.rs"]
mod tansu;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuralstream_telemetry::parquet_sink::write_file;
use neuralstream_telemetry::schema::to_batch;
use neuralstream_telemetry::{Event, EventKind, SinkOptions, Source, Target, Telemetry};
use std::time::{Duration, Instant};

/// Realistic chunk events: 1,000 sessions of 48 chunks, every chunk field set.
fn chunk_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let chunk = (i % 48) as u32;
            let mut e = Event::new(
                EventKind::Chunk,
                Source::Serve,
                1_765_000_000_000 + i as i64,
                format!("session-{:06}", i / 48),
            );
            e.video = Some("pensieve".into());
            e.algorithm = Some("robustmpc".into());
            e.chunk = Some(chunk);
            e.level = Some(chunk % 6);
            e.bitrate_kbps =
                Some([300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0][(chunk % 6) as usize]);
            e.size_bytes = Some(500_000 + (i as u64 * 7919) % 1_500_000);
            e.request_start_ms = Some(i as f64 * 4000.0);
            e.response_end_ms = Some(i as f64 * 4000.0 + 800.0 + (i % 13) as f64 * 17.0);
            e.throughput_kbps = Some(2000.0 + (i % 101) as f64);
            e.buffer_s = Some(10.0 + (i % 20) as f64 * 0.5);
            e.rebuffer_s = Some(0.0);
            e
        })
        .collect()
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns on the CPU): what "on
/// one core" means on a machine shared with other builds, where wall time counts their share too.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}

/// Runs `f` `iters` times; returns the thread CPU time it used (wall time if /proc is missing).
fn cpu_timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    for _ in 0..iters {
        f();
    }
    let cpu = thread_cpu().saturating_sub(cpu0);
    if cpu.is_zero() {
        wall0.elapsed()
    } else {
        cpu
    }
}

fn parquet(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let events = chunk_events(N);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.parquet");
    let mut g = c.benchmark_group("parquet");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("write_1M_chunk_events_wall", |b| {
        b.iter(|| write_file(&path, &events).unwrap())
    });
    g.bench_function("write_1M_chunk_events_thread_cpu", |b| {
        b.iter_custom(|iters| cpu_timed(iters, || write_file(&path, &events).unwrap()))
    });
    g.bench_function("to_arrow_batch_1M_thread_cpu", |b| {
        b.iter_custom(|iters| {
            cpu_timed(iters, || {
                std::hint::black_box(to_batch(&events));
            })
        })
    });
    g.finish();
}

fn kafka(c: &mut Criterion) {
    let Some(broker) = tansu::Broker::start() else {
        return;
    };
    broker.create_topic("bench", 1);
    const N: usize = 200_000;
    let events = chunk_events(N);
    let target = Target::parse(&format!("kafka://{}/bench", broker.addr())).unwrap();
    let mut g = c.benchmark_group("kafka");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("produce_200k_events_through_the_sink", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let options = SinkOptions {
                    queue_events: N + 1,
                    batch_events: 20_000,
                    retain_events: 0,
                    ..SinkOptions::default()
                };
                let t = Telemetry::start(&target, options).unwrap();
                let h = t.handle();
                let started = Instant::now();
                for e in &events {
                    h.emit(e.clone());
                }
                let stats = t.finish().unwrap();
                total += started.elapsed();
                assert_eq!(stats.written, N as u64, "{stats:?}");
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, parquet, kafka);
criterion_main!(benches);
