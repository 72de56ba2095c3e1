//! Finite-difference gradient checks for layers, networks and every loss.

use neuralstream_nn::loss::{self, QLoss};
use neuralstream_nn::{Activation, Init, Linear, Mlp, SplitMix64};

mod common;
use common::*;

#[test]
fn checker_rejects_a_wrong_gradient() {
    // Guard against a vacuous checker: a 5% error in the gradient must be detected.
    let x = [0.3f32, -0.7, 1.1];
    let mut f = |x: &[f32]| x.iter().map(|&v| (v as f64).powi(3)).sum::<f64>();
    let good: Vec<f32> = x.iter().map(|v| 3.0 * v * v).collect();
    assert_eq!(check("good", &x, &good, &mut f), 0);
    let wrong: Vec<f32> = good.iter().map(|g| g * 1.05).collect();
    assert_eq!(check("wrong", &x, &wrong, &mut f), 3);
}

#[test]
fn linear_gradients() {
    let mut rng = SplitMix64::new(11);
    let (batch, din, dout) = (4, 5, 3);
    let mut layer = Linear::new(din, dout, Init::GlorotUniform, &mut rng);
    layer
        .bias_mut()
        .copy_from_slice(&rand_vec(&mut rng, dout, 0.5));
    let input = rand_vec(&mut rng, batch * din, 1.0);
    let coef = rand_vec(&mut rng, batch * dout, 1.0);

    let mut grad_in = vec![0.0; batch * din];
    layer.backward(&input, &coef, batch, Some(&mut grad_in));
    // Accumulation: a second backward doubles the parameter gradients.
    let gw1 = layer.grad_weight().to_vec();
    layer.backward(&input, &coef, batch, None);
    for (a, b) in layer.grad_weight().iter().zip(&gw1) {
        assert!((a - 2.0 * b).abs() <= 1e-6 * b.abs().max(1.0));
    }
    layer.zero_grad();
    assert!(layer.grad_weight().iter().all(|&g| g == 0.0));
    layer.backward(&input, &coef, batch, None);

    let mut out = vec![0.0; batch * dout];
    let probe = layer.clone();
    let mut f_w = |w: &[f32]| {
        let mut l = probe.clone();
        l.weight_mut().copy_from_slice(w);
        l.forward(&input, batch, &mut out);
        weighted_sum(&out, &coef)
    };
    let mut bad = check("dW", layer.weight(), layer.grad_weight(), &mut f_w);
    let mut out = vec![0.0; batch * dout];
    let mut f_b = |b: &[f32]| {
        let mut l = probe.clone();
        l.bias_mut().copy_from_slice(b);
        l.forward(&input, batch, &mut out);
        weighted_sum(&out, &coef)
    };
    bad += check("db", layer.bias(), layer.grad_bias(), &mut f_b);
    let mut out = vec![0.0; batch * dout];
    let mut f_x = |x: &[f32]| {
        probe.forward(x, batch, &mut out);
        weighted_sum(&out, &coef)
    };
    bad += check("dx", &input, &grad_in, &mut f_x);
    assert_eq!(bad, 0);
}

fn mlp_check(act: Activation, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let batch = 3;
    let sizes = [4, 7, 6, 3];
    let mut net = Mlp::new(&sizes, act, seed);
    for l in net.layers_mut() {
        let n = l.bias().len();
        l.bias_mut().copy_from_slice(&rand_vec(&mut rng, n, 0.3));
    }
    let input = rand_vec(&mut rng, batch * sizes[0], 1.0);
    let coef = rand_vec(&mut rng, batch * sizes[3], 1.0);

    net.forward_train(&input, batch);
    net.zero_grad();
    let grad_in = net.backward_with_input_grad(&coef).to_vec();

    let probe = net.clone();
    let mut bad = 0;
    for li in 0..probe.layers().len() {
        for is_weight in [true, false] {
            let (params, grads) = {
                let l = &net.layers()[li];
                if is_weight {
                    (l.weight().to_vec(), l.grad_weight().to_vec())
                } else {
                    (l.bias().to_vec(), l.grad_bias().to_vec())
                }
            };
            let mut f = |p: &[f32]| {
                let mut n = probe.clone();
                let l = &mut n.layers_mut()[li];
                if is_weight {
                    l.weight_mut().copy_from_slice(p);
                } else {
                    l.bias_mut().copy_from_slice(p);
                }
                weighted_sum(n.forward_train(&input, batch), &coef)
            };
            bad += check(
                &format!("{act:?} layer {li} w={is_weight}"),
                &params,
                &grads,
                &mut f,
            );
        }
    }
    let mut f_x = |x: &[f32]| weighted_sum(probe.clone().forward_train(x, batch), &coef);
    bad += check(&format!("{act:?} input"), &input, &grad_in, &mut f_x);
    assert_eq!(bad, 0, "{act:?}: {bad} gradient entries disagree");

    // `backward` (no input gradient) must give the same parameter gradients.
    let mut again = probe.clone();
    again.zero_grad();
    again.forward_train(&input, batch);
    again.backward(&coef);
    for (a, b) in again.layers().iter().zip(net.layers()) {
        assert_eq!(a.grad_weight(), b.grad_weight());
        assert_eq!(a.grad_bias(), b.grad_bias());
    }
}

#[test]
fn mlp_relu_gradients() {
    mlp_check(Activation::Relu, 21);
}

#[test]
fn mlp_tanh_gradients() {
    mlp_check(Activation::Tanh, 22);
}

const B: usize = 5;
const A: usize = 4;

fn logits(seed: u64) -> Vec<f32> {
    rand_vec(&mut SplitMix64::new(seed), B * A, 2.0)
}

#[test]
fn cross_entropy_gradients() {
    let z = logits(1);
    let targets = [0, 3, 1, 2, 3];
    let weights = [1.0, 0.5, 2.0, 0.0, 1.5];
    for w in [None, Some(&weights[..])] {
        let out = loss::cross_entropy(&z, A, &targets, w);
        let mut f = |z: &[f32]| loss::cross_entropy(z, A, &targets, w).loss as f64;
        assert_eq!(check("ce", &z, &out.grad, &mut f), 0);
        assert!(out.loss > 0.0);
    }
}

#[test]
fn softmax_and_log_softmax_agree() {
    let z = logits(2);
    let p = loss::softmax(&z, A);
    let lp = loss::log_softmax(&z, A);
    for row in p.chunks(A) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    for (a, b) in p.iter().zip(&lp) {
        assert!((a.ln() - b).abs() < 1e-5);
    }
    // Stable for huge logits.
    let big = loss::softmax(&[1000.0, 0.0, -1000.0], 3);
    assert!(big.iter().all(|x| x.is_finite()) && (big[0] - 1.0).abs() < 1e-6);
}

#[test]
fn ppo_gradients() {
    let z = logits(3);
    let actions = [1, 0, 3, 2, 1];
    let adv = [1.0, -0.5, 2.0, -1.5, 0.7];
    // Old log-probs shifted so that some ratios are clipped and some are not, none near a
    // clip boundary (where the loss is not differentiable).
    let shift = [0.5f32, -0.45, 0.05, 0.4, -0.1];
    let cur = loss::action_log_probs(&z, A, &actions);
    let old: Vec<f32> = cur.iter().zip(&shift).map(|(c, s)| c + s).collect();
    let out = loss::ppo_clip_loss(&z, A, &actions, &adv, &old, 0.2, 0.05);
    assert!(
        out.clip_fraction > 0.0 && out.clip_fraction < 1.0,
        "{}",
        out.clip_fraction
    );
    let mut f = |z: &[f32]| loss::ppo_clip_loss(z, A, &actions, &adv, &old, 0.2, 0.05).loss as f64;
    assert_eq!(check("ppo", &z, &out.grad, &mut f), 0);
    // With old == current the ratio is 1 and the surrogate equals -mean(adv).
    let on = loss::ppo_clip_loss(&z, A, &actions, &adv, &cur, 0.2, 0.0);
    let mean_adv = adv.iter().sum::<f32>() / B as f32;
    assert!((on.loss + mean_adv).abs() < 1e-5);
    assert!(on.approx_kl.abs() < 1e-6 && on.clip_fraction == 0.0);
}

#[test]
fn a2c_gradients() {
    let z = logits(4);
    let actions = [3, 0, 1, 1, 2];
    let adv = [0.3, -1.0, 2.0, 0.5, -0.2];
    let out = loss::a2c_loss(&z, A, &actions, &adv, 0.1);
    let mut f = |z: &[f32]| loss::a2c_loss(z, A, &actions, &adv, 0.1).loss as f64;
    assert_eq!(check("a2c", &z, &out.grad, &mut f), 0);
    // Entropy of a uniform policy is ln(A).
    let uni = loss::a2c_loss(&[0.0; A], A, &[0], &[0.0], 1.0);
    assert!((uni.entropy - (A as f32).ln()).abs() < 1e-6);
}

#[test]
fn value_mse_gradients() {
    let mut rng = SplitMix64::new(5);
    let v = rand_vec(&mut rng, 7, 2.0);
    let r = rand_vec(&mut rng, 7, 2.0);
    let out = loss::value_mse(&v, &r).scaled(0.5);
    let mut f = |v: &[f32]| 0.5 * loss::value_mse(v, &r).loss as f64;
    assert_eq!(check("mse", &v, &out.grad, &mut f), 0);
}

#[test]
fn q_value_loss_gradients() {
    let q = logits(6);
    let actions = [2, 2, 0, 3, 1];
    let targets = [0.1, 3.0, -2.5, 0.4, -0.3];
    for kind in [QLoss::Mse, QLoss::Huber { delta: 1.0 }] {
        let out = loss::q_value_loss(&q, A, &actions, &targets, kind);
        let mut f = |q: &[f32]| loss::q_value_loss(q, A, &actions, &targets, kind).loss as f64;
        assert_eq!(check(&format!("{kind:?}"), &q, &out.grad, &mut f), 0);
        // Only chosen actions get gradient.
        for (i, row) in out.grad.chunks(A).enumerate() {
            for (j, g) in row.iter().enumerate() {
                if j != actions[i] {
                    assert_eq!(*g, 0.0);
                }
            }
        }
    }
    // Huber is linear beyond delta: a residual of 3 costs 1 * (3 - 0.5) = 2.5.
    let h = loss::q_value_loss(&[3.0], 1, &[0], &[0.0], QLoss::Huber { delta: 1.0 });
    assert!((h.loss - 2.5).abs() < 1e-6 && (h.grad[0] - 1.0).abs() < 1e-6);
}
