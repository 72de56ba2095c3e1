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
}

/// Adam (Kingma & Ba 2015) with bias correction, PyTorch-style `eps` placement
/// (`p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`) and optional global
/// gradient-norm clipping.
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

    /// Number of update steps taken so far.
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
        let clip = match self.config.max_grad_norm {
            Some(max) if norm.is_finite() && norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let c = self.config;
        let t = self.step.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (c.beta1 as f64).powi(t);
        let bc2 = 1.0 - (c.beta2 as f64).powi(t);
        let step_size = (c.lr as f64 / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let (b1, b2, eps) = (c.beta1, c.beta2, c.eps);
        for (net_name, net) in nets.iter_mut() {
            let state = &mut self.state;
            net.visit_params_mut(&mut |name, p, g| {
                let key = format!("{net_name}.{name}");
                let mo = state.entry(key).or_insert_with(|| Moments {
                    m: vec![0.0; p.len()],
                    v: vec![0.0; p.len()],
                });
                assert_eq!(mo.m.len(), p.len(), "Adam state shape changed");
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
