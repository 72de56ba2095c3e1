//! End-to-end behaviour: inference/training agreement, learning toy tasks, determinism.

use neuralstream_nn::{loss, Activation, Adam, AdamConfig, Init, Mlp, Scratch, SplitMix64};

#[test]
fn inference_matches_training_forward() {
    let mut rng = SplitMix64::new(1);
    for act in [Activation::Relu, Activation::Tanh] {
        let mut net = Mlp::new(&[48, 128, 128, 6], act, 7);
        let batch = 16;
        let x: Vec<f32> = (0..batch * 48).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let train = net.forward_train(&x, batch).to_vec();
        let mut scratch = Scratch::new();
        let batched = net.forward(&x, batch, &mut scratch).to_vec();
        let mut max_err = 0.0f32;
        for (b, row) in x.chunks(48).enumerate() {
            let y = net.infer(row, &mut scratch);
            for (j, &v) in y.iter().enumerate() {
                max_err = max_err.max((v - train[b * 6 + j]).abs());
                max_err = max_err.max((v - batched[b * 6 + j]).abs());
            }
        }
        assert!(max_err < 1e-6, "{act:?}: max abs difference {max_err}");
    }
}

fn accuracy(net: &Mlp, x: &[f32], labels: &[usize], classes: usize) -> f32 {
    let mut scratch = Scratch::new();
    let out = net.forward(x, labels.len(), &mut scratch);
    let correct = out
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &l)| {
            let best = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            best == l
        })
        .count();
    correct as f32 / labels.len() as f32
}

#[test]
fn learns_xor() {
    let x = [0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let y = [0usize, 1, 1, 0];
    let mut net = Mlp::new(&[2, 16, 2], Activation::Tanh, 3);
    let mut adam = Adam::new(AdamConfig::with_lr(0.05));
    for _ in 0..300 {
        net.zero_grad();
        let logits = net.forward_train(&x, 4).to_vec();
        net.backward(&loss::cross_entropy(&logits, 2, &y, None).grad);
        adam.step(&mut [("net", &mut net)]);
    }
    assert_eq!(accuracy(&net, &x, &y, 2), 1.0);
}

#[test]
fn learns_three_gaussian_blobs() {
    let mut rng = SplitMix64::new(4);
    let centers = [(0.0f32, 1.5f32), (-1.3, -0.8), (1.3, -0.8)];
    let n = 150;
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        x.push(centers[c].0 + 0.5 * rng.normal() as f32);
        x.push(centers[c].1 + 0.5 * rng.normal() as f32);
        y.push(c);
    }
    let mut net = Mlp::new(&[2, 16, 16, 3], Activation::Relu, 5);
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(5.0),
        ..AdamConfig::with_lr(0.01)
    });
    let mut last = f32::INFINITY;
    for _ in 0..150 {
        net.zero_grad();
        let logits = net.forward_train(&x, n).to_vec();
        let out = loss::cross_entropy(&logits, 3, &y, None);
        net.backward(&out.grad);
        adam.step(&mut [("net", &mut net)]);
        last = out.loss;
    }
    let acc = accuracy(&net, &x, &y, 3);
    assert!(acc > 0.95, "accuracy {acc}, loss {last}");
}

/// A 3-armed bandit with mean rewards 0.2, 0.5, 0.8 (Gaussian noise 0.3). The policy is an Mlp
/// on a constant input, trained with PPO (4 epochs per batch of 64 pulls).
#[test]
fn ppo_finds_the_best_bandit_arm() {
    let means = [0.2f32, 0.5, 0.8];
    let mut rng = SplitMix64::new(6);
    let mut policy = Mlp::with_init(
        &[1, 16, 3],
        Activation::Tanh,
        Init::Orthogonal { gain: 1.0 },
        Init::Orthogonal { gain: 0.01 },
        6,
    );
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(0.5),
        ..AdamConfig::with_lr(0.01)
    });
    let batch = 64;
    let x = vec![1.0f32; batch];
    let mut scratch = Scratch::new();
    let mut p_best = 0.0;
    for iter in 0..200 {
        let mut probs = policy.infer(&[1.0], &mut scratch).to_vec();
        loss::softmax_in_place(&mut probs);
        p_best = probs[2];
        if iter == 0 {
            assert!(
                p_best < 0.4,
                "initial policy should be near uniform: {probs:?}"
            );
        }
        if p_best > 0.95 {
            eprintln!("p(best arm) = {p_best} after {iter} PPO iterations");
            break;
        }
        let actions: Vec<usize> = (0..batch).map(|_| rng.categorical(&probs)).collect();
        let rewards: Vec<f32> = actions
            .iter()
            .map(|&a| means[a] + 0.3 * rng.normal() as f32)
            .collect();
        let mean = rewards.iter().sum::<f32>() / batch as f32;
        let adv: Vec<f32> = rewards.iter().map(|r| r - mean).collect();
        let old: Vec<f32> = actions.iter().map(|&a| probs[a].ln()).collect();
        for _ in 0..4 {
            policy.zero_grad();
            let logits = policy.forward_train(&x, batch).to_vec();
            let out = loss::ppo_clip_loss(&logits, 3, &actions, &adv, &old, 0.2, 0.001);
            policy.backward(&out.grad);
            adam.step(&mut [("policy", &mut policy)]);
        }
    }
    assert!(p_best > 0.9, "p(best arm) = {p_best}");
}

fn run_training(seed: u64, steps: usize) -> (Mlp, Adam) {
    let mut net = Mlp::new(&[6, 24, 24, 4], Activation::Relu, seed);
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(1.0),
        ..AdamConfig::with_lr(3e-3)
    });
    let mut rng = SplitMix64::new(seed ^ 0xABCD);
    for _ in 0..steps {
        let x: Vec<f32> = (0..32 * 6).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let actions: Vec<usize> = (0..32).map(|_| rng.below(4)).collect();
        let adv: Vec<f32> = (0..32).map(|_| rng.uniform(-1.0, 1.0)).collect();
        net.zero_grad();
        let logits = net.forward_train(&x, 32).to_vec();
        net.backward(&loss::a2c_loss(&logits, 4, &actions, &adv, 0.01).grad);
        adam.step(&mut [("net", &mut net)]);
    }
    (net, adam)
}

#[test]
fn same_seed_same_parameters() {
    let (a, adam_a) = run_training(42, 25);
    let (b, adam_b) = run_training(42, 25);
    let bits = |m: &Mlp| -> Vec<u32> {
        m.named_params()
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|x| x.to_bits()))
            .collect()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(adam_a, adam_b);
    let (c, _) = run_training(43, 25);
    assert_ne!(bits(&a), bits(&c));
    // Training actually changed the parameters.
    assert_ne!(
        bits(&a),
        bits(&Mlp::new(&[6, 24, 24, 4], Activation::Relu, 42))
    );
}
