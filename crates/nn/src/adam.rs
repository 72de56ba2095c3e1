//! Adam optimiser over the parameters of one or more named networks.

use crate::mlp::Mlp;
use std::collections::BTreeMap;

/// Hyper-parameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Exponential decay of the first-moment estimate (default 0.9).
    pub beta1: f32,
    /// Exponential decay of the second-moment estimate (default 0.999).
    pub beta2: f32,
    /// Denominator fuzz term (default 1e-8).
    pub eps: f32,
    /// If set, gradients of all networks in a step are scaled together so that their global L2
    /// norm is at most this value before the update.
    pub max_grad_norm: Option<f32>,
}

impl Default for AdamConfig {
    /// `lr = 3e-4`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`, no clipping.
    fn default() -> Self {
        Self {
            lr: 3e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            max_grad_norm: None,
        }
    }
}

impl AdamConfig {
    /// Default config with learning rate `lr`.
    pub fn with_lr(lr: f32) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }
}

/// First and second moment estimates of one parameter tensor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Moments {
    /// First moment (mean of gradients).
    pub m: Vec<f32>,
    /// Second moment (uncentred variance of gradients).
    pub v: Vec<f32>,
    /// Updates this tensor has had: its own bias-correction step `t` (as PyTorch keeps per
    /// parameter), so a network that joins training late (PPO's actor after the critic's
    /// warm-up) starts with correctly corrected steps.
    pub step: u64,
}

/// Adam (Kingma & Ba 2015) with bias correction, PyTorch-style `eps` placement
/// (`p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`, `t` counted per tensor)
/// and optional global gradient-norm clipping. A step whose gradient norm is NaN or infinite is
/// skipped: it would write NaN into every parameter.
///
/// State is keyed by full parameter name (`"<net>.<layer>.weight"`), created lazily on the first
/// step, and saved/restored by [`save_safetensors`](crate::save_safetensors) /
/// [`load_safetensors`](crate::load_safetensors) so training resumes bit-exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    config: AdamConfig,
    step: u64,
    state: BTreeMap<String, Moments>,
}

impl Adam {
    /// New optimiser with zero state.
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            step: 0,
            state: BTreeMap::new(),
        }
    }

    /// Current hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Replaces the hyper-parameters (e.g. for a learning-rate schedule); state is kept.
    pub fn set_config(&mut self, config: AdamConfig) {
        self.config = config;
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    /// Number of update steps taken so far (skipped non-finite steps not counted).
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Moment estimates keyed by full parameter name.
    pub fn state(&self) -> &BTreeMap<String, Moments> {
        &self.state
    }

    /// Replaces step counter and moments (used when restoring a checkpoint).
    pub fn set_state(&mut self, step: u64, state: BTreeMap<String, Moments>) {
        self.step = step;
        self.state = state;
    }

    /// Global L2 norm of the accumulated gradients of `nets` (accumulated in `f64`).
    pub fn grad_norm(nets: &mut [(&str, &mut Mlp)]) -> f32 {
        let mut sq = 0.0f64;
        for (_, net) in nets.iter_mut() {
            net.visit_params_mut(&mut |_, _, g| {
                sq += g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
            });
        }
        sq.sqrt() as f32
    }

    /// Applies one update to every parameter of `nets` using their accumulated gradients and
    /// returns the global gradient norm measured *before* clipping. Gradients are not cleared;
    /// call [`Mlp::zero_grad`] before the next backward pass.
    ///
    /// # Panics
    /// If a network's parameter shape changed since the optimiser state was created
    /// (i.e. the same `Adam` is used with a different architecture under the same name).
    pub fn step(&mut self, nets: &mut [(&str, &mut Mlp)]) -> f32 {
        let norm = Self::grad_norm(nets);
        if !norm.is_finite() {
            return norm;
        }
        let clip = match self.config.max_grad_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let c = self.config;
        let (b1, b2, eps) = (c.beta1, c.beta2, c.eps);
        for (net_name, net) in nets.iter_mut() {
            let state = &mut self.state;
            net.visit_params_mut(&mut |name, p, g| {
                let key = format!("{net_name}.{name}");
                let mo = state.entry(key).or_insert_with(|| Moments {
                    m: vec![0.0; p.len()],
                    v: vec![0.0; p.len()],
                    step: 0,
                });
                assert_eq!(mo.m.len(), p.len(), "Adam state shape changed");
                mo.step += 1;
                let t = mo.step.min(i32::MAX as u64) as i32;
                let bc1 = 1.0 - (c.beta1 as f64).powi(t);
                let bc2 = 1.0 - (c.beta2 as f64).powi(t);
                let step_size = (c.lr as f64 / bc1) as f32;
                let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(&mut mo.m).zip(&mut mo.v) {
                    let g = g * clip;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                }
            });
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{loss, Activation};

    /// One backward pass of `net` on a fixed batch (any loss: Adam's first step is about
    /// `lr * sign(g)` whatever the gradient's size).
    fn backward(net: &mut Mlp, input: f32) {
        net.zero_grad();
        let x = [input, 1.0 - input];
        let out = net.forward_train(&x, 1).to_vec();
        net.backward(&loss::value_mse(&out, &[5.0]).grad);
    }

    fn params(net: &mut Mlp) -> Vec<f32> {
        let mut all = Vec::new();
        net.visit_params_mut(&mut |_, p, _| all.extend_from_slice(p));
        all
    }

    /// Largest relative deviation of a parameter move from `lr` (moves of 0 are skipped:
    /// parameters with a zero gradient).
    fn worst_step_error(before: &[f32], after: &[f32], lr: f32) -> f32 {
        before
            .iter()
            .zip(after)
            .map(|(a, b)| (a - b).abs())
            .filter(|d| *d > 0.0)
            .map(|d| (d / lr - 1.0).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn the_first_step_of_every_tensor_is_lr_even_when_it_joins_late() {
        let lr = 1e-3;
        let mut adam = Adam::new(AdamConfig::with_lr(lr));
        let mut critic = Mlp::new(&[2, 4, 1], Activation::Tanh, 1);
        let mut actor = Mlp::new(&[2, 4, 1], Activation::Tanh, 2);
        // The critic warms up alone for 160 steps (PPO's default warm-up)...
        for i in 0..160 {
            backward(&mut critic, (i % 7) as f32 / 7.0);
            adam.step(&mut [("critic", &mut critic)]);
        }
        // ...then the actor joins: its first update must be a bias-corrected one, lr per weight.
        // With one step counter for all tensors it was 1.22 lr.
        backward(&mut critic, 0.3);
        backward(&mut actor, 0.3);
        let before = params(&mut actor);
        adam.step(&mut [("critic", &mut critic), ("actor", &mut actor)]);
        let err = worst_step_error(&before, &params(&mut actor), lr);
        assert!(err < 0.01, "first actor step off by {err}");
        assert_eq!(adam.steps(), 161);
        assert_eq!(adam.state()["actor.0.weight"].step, 1);
        assert_eq!(adam.state()["critic.0.weight"].step, 161);
    }

    #[test]
    fn a_non_finite_gradient_skips_the_step() {
        let mut adam = Adam::new(AdamConfig::with_lr(1e-2));
        let mut net = Mlp::new(&[2, 4, 1], Activation::Tanh, 3);
        backward(&mut net, 0.5);
        adam.step(&mut [("net", &mut net)]);
        backward(&mut net, f32::NAN);
        let before = params(&mut net);
        let norm = adam.step(&mut [("net", &mut net)]);
        assert!(norm.is_nan());
        assert_eq!(params(&mut net), before, "parameters must not change");
        assert!(params(&mut net).iter().all(|p| p.is_finite()));
        assert_eq!(adam.steps(), 1);
        assert_eq!(adam.state()["net.0.weight"].step, 1);
    }
}
