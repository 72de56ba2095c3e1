//! Learned-policy inference per decision (issue 3's bar: at most 20 us): featurisation of an
//! [`Observation`] plus the actor's single-sample forward pass and argmax, i.e. exactly what
//! `LearnedAbr::choose` does for every chunk, with the default network (2 x 128 ReLU) on
//! Pensieve's 6-level ladder and a full 8-chunk history.

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{Abr, ChunkRecord, Observation};
use neuralstream_data::synthetic::builtin_video;
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::{FeatureSpec, LearnedAbr, PolicyMeta};
use std::hint::black_box;

fn bench_decision(c: &mut Criterion) {
    let video = builtin_video();
    let spec = FeatureSpec::new(video.num_levels());
    let actor = Mlp::new(
        &[spec.len(), 128, 128, spec.num_levels],
        Activation::Relu,
        1,
    );
    let mut policy = LearnedAbr::new(actor, spec, PolicyMeta::default());
    let history: Vec<ChunkRecord> = (0..12)
        .map(|i| ChunkRecord {
            index: i,
            level: i % video.num_levels(),
            bitrate_kbps: video.ladder.kbps(i % video.num_levels()),
            size_bytes: video.chunk_bytes[i % video.num_levels()][i],
            delay_ms: 800.0 + 150.0 * i as f64,
            sleep_ms: 0.0,
            rebuffer_s: 0.0,
            buffer_s: 10.0 + i as f64,
            request_s: 4.0 * i as f64,
            finish_s: 4.0 * i as f64 + 1.0,
        })
        .collect();
    c.bench_function("learned_abr_decision_features_and_actor_2x128", |b| {
        b.iter(|| {
            let obs = Observation {
                video: &video,
                next_chunk: 12,
                total_chunks: 48,
                buffer_s: black_box(17.5),
                last_level: 3,
                history: black_box(&history),
            };
            black_box(policy.choose(&obs))
        })
    });
}

criterion_group!(benches, bench_decision);
criterion_main!(benches);
