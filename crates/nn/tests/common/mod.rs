//! Finite-difference helpers shared by the gradient tests (`gradients.rs`, `lstm.rs`).
#![allow(dead_code)] // each test binary uses its own subset

use neuralstream_nn::SplitMix64;

pub const EPS: f32 = 1e-3;

pub fn rand_vec(rng: &mut SplitMix64, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-scale, scale)).collect()
}

/// `|a - n| <= 1e-2 * max(|a|, |n|) + 2e-4`: relative error below 1e-2, with a small absolute
/// floor for the f32 round-off of the central difference itself.
pub fn close(analytic: f32, numeric: f64) -> bool {
    let a = analytic as f64;
    (a - numeric).abs() <= 1e-2 * a.abs().max(numeric.abs()) + 2e-4
}

/// Central difference of `f` w.r.t. `x[i]`.
pub fn numeric(x: &mut [f32], i: usize, f: &mut dyn FnMut(&[f32]) -> f64) -> f64 {
    let orig = x[i];
    x[i] = orig + EPS;
    let up = f(x);
    x[i] = orig - EPS;
    let down = f(x);
    x[i] = orig;
    (up - down) / (2.0 * (EPS as f64))
}

/// Checks `grad` (analytic dL/dx) against central differences of `f` at `x`.
pub fn check(name: &str, x: &[f32], grad: &[f32], f: &mut dyn FnMut(&[f32]) -> f64) -> usize {
    assert_eq!(x.len(), grad.len(), "{name}: gradient size");
    let mut x = x.to_vec();
    let mut bad = 0;
    for (i, &g) in grad.iter().enumerate() {
        let n = numeric(&mut x, i, f);
        if !close(g, n) {
            eprintln!("{name}[{i}]: analytic {g} numeric {n}");
            bad += 1;
        }
    }
    bad
}

pub fn weighted_sum(out: &[f32], coef: &[f32]) -> f64 {
    out.iter()
        .zip(coef)
        .map(|(&o, &c)| o as f64 * c as f64)
        .sum()
}
