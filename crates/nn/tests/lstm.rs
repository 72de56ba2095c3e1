//! The LSTM layer: finite-difference checks of backpropagation through time (weights, biases,
//! inputs, with loss terms on every step and on the last step only), and streaming inference
//! matching the cached training forward pass.

use neuralstream_nn::{Lstm, SplitMix64};

mod common;
use common::*;

fn check_bptt(coef_mask: impl Fn(usize) -> bool) {
    let (input, hidden, batch, steps) = (3, 4, 2, 6);
    let mut rng = SplitMix64::new(11);
    let mut net = Lstm::new(input, hidden, &mut rng);
    // Larger weights than the default make the gates saturate a little: a harder check.
    for w in net.weight_mut() {
        *w *= 2.0;
    }
    let x = rand_vec(&mut rng, steps * batch * input, 1.0);
    let per_step = batch * hidden;
    let coef: Vec<f32> = rand_vec(&mut rng, steps * per_step, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, c)| if coef_mask(i / per_step) { c } else { 0.0 })
        .collect();
    net.zero_grad();
    net.forward_train(&x, batch, steps);
    let grad_x = net.backward(&coef);
    let (gw, gb) = (net.grad_weight().to_vec(), net.grad_bias().to_vec());

    let base = net.clone();
    let loss_w = &mut |w: &[f32]| {
        let mut n = base.clone();
        n.weight_mut().copy_from_slice(w);
        weighted_sum(n.forward_train(&x, batch, steps), &coef)
    };
    assert_eq!(check("weight", base.weight(), &gw, loss_w), 0);
    let loss_b = &mut |b: &[f32]| {
        let mut n = base.clone();
        n.bias_mut().copy_from_slice(b);
        weighted_sum(n.forward_train(&x, batch, steps), &coef)
    };
    assert_eq!(check("bias", base.bias(), &gb, loss_b), 0);
    let loss_x = &mut |xs: &[f32]| {
        let mut n = base.clone();
        weighted_sum(n.forward_train(xs, batch, steps), &coef)
    };
    assert_eq!(check("input", &x, &grad_x, loss_x), 0);
    // The gradient reaches the first step's input from later losses (it went through time).
    assert!(grad_x[..input].iter().any(|g| g.abs() > 1e-4));
}

#[test]
fn bptt_matches_finite_differences_with_a_loss_on_every_step() {
    check_bptt(|_| true);
}

#[test]
fn bptt_matches_finite_differences_with_a_loss_on_the_last_step_only() {
    check_bptt(|t| t == 5);
}

#[test]
fn checker_rejects_a_wrong_gradient() {
    let x = [0.3f32, -0.7, 1.1];
    let mut f = |x: &[f32]| x.iter().map(|&v| (v as f64).powi(3)).sum::<f64>();
    let wrong: Vec<f32> = x.iter().map(|v| 3.0 * v * v * 1.05).collect();
    assert_eq!(check("wrong", &x, &wrong, &mut f), 3);
}

#[test]
fn streaming_steps_match_the_training_forward_pass() {
    let (input, hidden, batch, steps) = (5, 8, 3, 10);
    let mut rng = SplitMix64::new(3);
    let mut net = Lstm::new(input, hidden, &mut rng);
    let x = rand_vec(&mut rng, steps * batch * input, 2.0);
    let out = net.forward_train(&x, batch, steps).to_vec();
    for b in 0..batch {
        let (mut h, mut c, mut g) = (vec![0.0; hidden], vec![0.0; hidden], vec![0.0; 4 * hidden]);
        for t in 0..steps {
            net.step(
                &x[(t * batch + b) * input..][..input],
                &mut h,
                &mut c,
                &mut g,
            );
            assert_eq!(&h[..], &out[(t * batch + b) * hidden..][..hidden]);
        }
    }
    assert_eq!(net.num_params(), 4 * hidden * (input + hidden) + 4 * hidden);
    assert!(net.bias()[hidden..2 * hidden].iter().all(|&b| b == 1.0));
}
