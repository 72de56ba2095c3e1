//! Deterministic weight initialisation schemes for [`Linear`](crate::Linear) layers.
//!
//! All schemes draw from a [`SplitMix64`] stream, so the same seed always produces bit-identical
//! weights. Biases are always initialised to zero.

use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// How to initialise the weight matrix (`[out, in]`, row-major) of a dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// He/Kaiming uniform: `U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))`, suited to ReLU layers.
    HeUniform,
    /// Glorot/Xavier uniform: `U(-sqrt(6 / (fan_in + fan_out)), +...)`, suited to tanh and
    /// linear layers.
    GlorotUniform,
    /// Orthogonal initialisation (Saxe et al. 2014) scaled by `gain`: the rows (or columns, for a
    /// wide matrix) are orthonormal. The usual RL choice is gain `sqrt(2)` for ReLU hidden layers,
    /// `0.01` for a policy head and `1.0` for a value head.
    Orthogonal {
        /// Multiplier applied to the orthonormal matrix.
        gain: f32,
    },
    /// Plain uniform `U(-limit, +limit)`.
    Uniform {
        /// Half-width of the interval.
        limit: f32,
    },
    /// All weights zero (mostly useful for tests and for loading checkpoints).
    Zeros,
}

/// Fills `weight` (row-major `[fan_out, fan_in]`) according to `init`.
///
/// # Panics
/// If `weight.len() != fan_out * fan_in`.
pub fn init_weights(
    weight: &mut [f32],
    fan_out: usize,
    fan_in: usize,
    init: Init,
    rng: &mut SplitMix64,
) {
    assert_eq!(weight.len(), fan_out * fan_in, "weight buffer size");
    match init {
        Init::HeUniform => fill_uniform(weight, (6.0 / fan_in.max(1) as f32).sqrt(), rng),
        Init::GlorotUniform => {
            fill_uniform(weight, (6.0 / (fan_in + fan_out).max(1) as f32).sqrt(), rng)
        }
        Init::Uniform { limit } => fill_uniform(weight, limit, rng),
        Init::Zeros => weight.fill(0.0),
        Init::Orthogonal { gain } => orthogonal(weight, fan_out, fan_in, gain, rng),
    }
}

fn fill_uniform(weight: &mut [f32], limit: f32, rng: &mut SplitMix64) {
    for w in weight {
        *w = rng.uniform(-limit, limit);
    }
}

/// Gaussian matrix followed by modified Gram–Schmidt (in `f64`) on the vectors along the
/// smaller dimension.
fn orthogonal(weight: &mut [f32], rows: usize, cols: usize, gain: f32, rng: &mut SplitMix64) {
    // Work with `k` vectors of length `n`, k <= n, orthonormalise them, then lay them out as the
    // rows (rows <= cols) or columns (rows > cols) of the weight matrix.
    let (k, n) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut vecs: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..n).map(|_| rng.normal()).collect())
        .collect();
    for i in 0..k {
        for j in 0..i {
            let (done, rest) = vecs.split_at_mut(i);
            let d: f64 = done[j].iter().zip(&rest[0]).map(|(a, b)| a * b).sum();
            for (x, q) in rest[0].iter_mut().zip(&done[j]) {
                *x -= d * q;
            }
        }
        let norm = vecs[i].iter().map(|x| x * x).sum::<f64>().sqrt();
        let norm = if norm > 1e-12 { norm } else { 1.0 };
        for x in &mut vecs[i] {
            *x /= norm;
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows <= cols { vecs[r][c] } else { vecs[c][r] };
            weight[r * cols + c] = (gain as f64 * v) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_orthonormal(rows: usize, cols: usize) {
        let mut w = vec![0.0f32; rows * cols];
        init_weights(
            &mut w,
            rows,
            cols,
            Init::Orthogonal { gain: 1.0 },
            &mut SplitMix64::new(5),
        );
        // W W^T = I when rows <= cols, W^T W = I otherwise.
        let (k, n, at) = if rows <= cols {
            (
                rows,
                cols,
                Box::new(move |v: usize, i: usize| v * cols + i) as Box<dyn Fn(_, _) -> _>,
            )
        } else {
            (
                cols,
                rows,
                Box::new(move |v: usize, i: usize| i * cols + v) as Box<dyn Fn(_, _) -> _>,
            )
        };
        for a in 0..k {
            for b in 0..k {
                let d: f32 = (0..n).map(|i| w[at(a, i)] * w[at(b, i)]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-4, "({a},{b}) = {d}");
            }
        }
    }

    #[test]
    fn orthogonal_is_orthonormal() {
        check_orthonormal(4, 9);
        check_orthonormal(9, 4);
        check_orthonormal(6, 6);
    }

    #[test]
    fn uniform_limits() {
        let mut w = vec![0.0f32; 200];
        init_weights(&mut w, 10, 20, Init::HeUniform, &mut SplitMix64::new(1));
        let lim = (6.0f32 / 20.0).sqrt();
        assert!(w.iter().all(|x| x.abs() <= lim));
        assert!(w.iter().any(|x| x.abs() > lim * 0.5));
    }
}
