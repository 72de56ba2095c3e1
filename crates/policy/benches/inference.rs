//! Learned-policy inference per decision (issues 3 and 17: at most 20 us each). The fixed-ladder
//! policy: featurisation of an [`Observation`] plus the actor's single-sample forward pass and
//! argmax, i.e. exactly what `LearnedAbr::choose` does for every chunk, with the default network
//! (2 x 128 ReLU) on Pensieve's 6-level ladder and a full 8-chunk history; then the same for the
//! ladder-agnostic policy on a 10-level ladder, alone and as an ensemble of three.

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_core::{Abr, ChunkRecord, Ladder, Observation, Video};
use neuralstream_data::synthetic::{builtin_video, synthetic_video};
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::agnostic::AGNOSTIC_HIDDEN;
use neuralstream_policy::{
    AgnosticAbr, AgnosticSpec, EnsembleAbr, FeatureSpec, LearnedAbr, PolicyMeta,
};
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
    let history = history(&video);
    c.bench_function("learned_abr_decision_features_and_actor_2x128", |b| {
        b.iter(|| black_box(policy.choose(&observation(&video, &history))))
    });
}

/// The benchmarks' observation: chunk 12 of 48, 17.5 s of buffer, last level 3.
fn observation<'a>(video: &'a Video, history: &'a [ChunkRecord]) -> Observation<'a> {
    Observation {
        video,
        next_chunk: 12,
        total_chunks: 48,
        buffer_s: black_box(17.5),
        last_level: 3,
        history: black_box(history),
    }
}

/// Twelve downloads of 0.8 to 2.45 s cycling through the ladder's levels.
fn history(video: &Video) -> Vec<ChunkRecord> {
    (0..12)
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
        .collect()
}

/// Issue 17's bar (at most 20 us): one decision of the ladder-agnostic policy on a 10-level
/// ladder (0.3-12 Mbit/s, the grid's `ladder10`) with the default trained network (2 x 64 ReLU,
/// one score per level) and a full history: ten rows featurised and scored as one batch.
fn bench_agnostic_decision(c: &mut Criterion) {
    let kbps = [
        300.0, 500.0, 750.0, 1000.0, 1500.0, 2300.0, 3500.0, 5000.0, 8000.0, 12000.0,
    ];
    let video = synthetic_video("ladder10", &Ladder::from_kbps(&kbps), 48, 4.0, 10);
    let spec = AgnosticSpec::default();
    let actor = Mlp::new(
        &[spec.row_len(), AGNOSTIC_HIDDEN[0], AGNOSTIC_HIDDEN[1], 1],
        Activation::Relu,
        1,
    );
    let mut policy = AgnosticAbr::new(actor, spec, PolicyMeta::default());
    let history = history(&video);
    let obs = || observation(&video, &history);
    c.bench_function("agnostic_decision_10_levels_2x64", |b| {
        b.iter(|| black_box(policy.choose(&obs())))
    });
    // A wider network (2 x 128, as `train --agnostic --hidden 128,128` makes, e.g. a distilled
    // student), the same observation.
    let spec = AgnosticSpec::default();
    let wide = Mlp::new(&[spec.row_len(), 128, 128, 1], Activation::Relu, 1);
    let mut wide = AgnosticAbr::new(wide, spec, PolicyMeta::default());
    c.bench_function("agnostic_decision_10_levels_2x128", |b| {
        b.iter(|| black_box(wide.choose(&obs())))
    });
    // Layout 3 (`--agnostic-rule-hints`): the same 2 x 64 network's inputs plus what RobustMPC and
    // BBA-0 would fetch, both recomputed from the observation every decision.
    let spec = AgnosticSpec::with_rule_hints();
    let hinted = Mlp::new(
        &[spec.row_len(), AGNOSTIC_HIDDEN[0], AGNOSTIC_HIDDEN[1], 1],
        Activation::Relu,
        1,
    );
    let mut hinted = AgnosticAbr::new(hinted, spec, PolicyMeta::default());
    c.bench_function("agnostic_decision_10_levels_2x64_rule_hints", |b| {
        b.iter(|| black_box(hinted.choose(&obs())))
    });
    // Ensembles of three and five such networks (issue 17's ensemble: mean of the per-level
    // softmax probabilities), the same observation.
    for n in [3u64, 5] {
        let members = (1..=n)
            .map(|seed| {
                let spec = AgnosticSpec::default();
                let actor = Mlp::new(
                    &[spec.row_len(), AGNOSTIC_HIDDEN[0], AGNOSTIC_HIDDEN[1], 1],
                    Activation::Relu,
                    seed,
                );
                AgnosticAbr::new(actor, spec, PolicyMeta::default())
            })
            .collect();
        let mut ensemble = EnsembleAbr::new(members);
        c.bench_function(&format!("ensemble{n}_decision_10_levels_2x64"), |b| {
            b.iter(|| black_box(ensemble.choose(&obs())))
        });
    }
}

criterion_group!(benches, bench_decision, bench_agnostic_decision);
criterion_main!(benches);
