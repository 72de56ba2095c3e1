//! Benchmarks for the ABR policy networks: single-sample actor inference and one PPO
//! actor-critic training step at batch 256.

use criterion::{criterion_group, criterion_main, Criterion};
use neuralstream_nn::{loss, Activation, Adam, AdamConfig, Mlp, Scratch, SplitMix64};
use std::hint::black_box;

const STATE: usize = 48;
const HIDDEN: usize = 128;
const ACTIONS: usize = 6;
const BATCH: usize = 256;

fn bench_inference(c: &mut Criterion) {
    let actor = Mlp::new(&[STATE, HIDDEN, HIDDEN, ACTIONS], Activation::Relu, 1);
    let mut rng = SplitMix64::new(2);
    let input: Vec<f32> = (0..STATE).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut scratch = Scratch::for_mlp(&actor);
    let mut probs = [0.0f32; ACTIONS];
    c.bench_function("actor_infer_1_sample_48_128_128_6_softmax", |b| {
        b.iter(|| {
            let logits = actor.infer(black_box(&input), &mut scratch);
            probs.copy_from_slice(logits);
            loss::softmax_in_place(&mut probs);
            black_box(probs[0])
        })
    });
}

fn bench_ppo_step(c: &mut Criterion) {
    let mut actor = Mlp::new(&[STATE, HIDDEN, HIDDEN, ACTIONS], Activation::Relu, 1);
    let mut critic = Mlp::new(&[STATE, HIDDEN, HIDDEN, 1], Activation::Relu, 2);
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(0.5),
        ..AdamConfig::default()
    });
    let mut rng = SplitMix64::new(3);
    let states: Vec<f32> = (0..BATCH * STATE).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let actions: Vec<usize> = (0..BATCH).map(|_| rng.below(ACTIONS)).collect();
    let advantages: Vec<f32> = (0..BATCH).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let returns: Vec<f32> = (0..BATCH).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let old_logp = {
        let logits = actor.forward_train(&states, BATCH).to_vec();
        loss::action_log_probs(&logits, ACTIONS, &actions)
    };
    c.bench_function("ppo_train_step_b256_actor_critic_48_128_128", |b| {
        b.iter(|| {
            actor.zero_grad();
            critic.zero_grad();
            let logits = actor.forward_train(black_box(&states), BATCH);
            let pl =
                loss::ppo_clip_loss(logits, ACTIONS, &actions, &advantages, &old_logp, 0.2, 0.01);
            actor.backward(&pl.grad);
            let values = critic.forward_train(&states, BATCH);
            let vl = loss::value_mse(values, &returns).scaled(0.5);
            critic.backward(&vl.grad);
            black_box(adam.step(&mut [("actor", &mut actor), ("critic", &mut critic)]))
        })
    });
}

criterion_group!(benches, bench_inference, bench_ppo_step);
criterion_main!(benches);
