//! A single-layer LSTM (Hochreiter and Schmidhuber 1997, with the forget gate of Gers et al. 2000,
//! in the standard formulation PyTorch's `nn.LSTM` uses) with backpropagation through time.
//!
//! Per step, with `z = W [x; h_prev] + b` split into four gates of `hidden` rows each:
//! `i = σ(z_i)`, `f = σ(z_f)`, `g = tanh(z_g)`, `o = σ(z_o)`, `c = f ⊙ c_prev + i ⊙ g`,
//! `h = o ⊙ tanh(c)`. The initial state is zero. Weights start uniform in `±1/sqrt(hidden)` (as
//! PyTorch) and the forget-gate bias at 1, so memory is kept by default early in training.
//!
//! Like [`crate::Linear`], there are two paths: [`Lstm::forward_train`] caches every step of a
//! batch of sequences for [`Lstm::backward`] (BPTT over the whole sequence, gradients accumulated
//! into the parameters' gradient buffers), and [`Lstm::step`] runs one sample one step from a
//! caller-held state, with no cache, for streaming inference (e.g. a bandwidth predictor fed every
//! 50 ms). Sizes are small (tens of units), so plain loops are used rather than sgemm.

use crate::rng::SplitMix64;

/// Forget-gate bias at initialisation.
pub const FORGET_BIAS_INIT: f32 = 1.0;

/// One LSTM layer.
#[derive(Debug, Clone)]
pub struct Lstm {
    input_dim: usize,
    hidden_dim: usize,
    /// `[4 hidden x (input + hidden)]` row-major, gate blocks in the order i, f, g, o.
    weight: Vec<f32>,
    /// `[4 hidden]`.
    bias: Vec<f32>,
    grad_weight: Vec<f32>,
    grad_bias: Vec<f32>,
    // Cache of the last forward_train: per (step, sample).
    batch: usize,
    steps: usize,
    inputs: Vec<f32>,  // [steps][batch][input]
    gates: Vec<f32>,   // [steps][batch][4 hidden], after their nonlinearities
    cells: Vec<f32>,   // [steps][batch][hidden]
    hiddens: Vec<f32>, // [steps][batch][hidden]
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Lstm {
    /// A layer mapping `input_dim` features to `hidden_dim` units, initialised from `rng`.
    pub fn new(input_dim: usize, hidden_dim: usize, rng: &mut SplitMix64) -> Self {
        assert!(
            input_dim > 0 && hidden_dim > 0,
            "LSTM sizes must be positive"
        );
        let cols = input_dim + hidden_dim;
        let bound = 1.0 / (hidden_dim as f32).sqrt();
        let weight: Vec<f32> = (0..4 * hidden_dim * cols)
            .map(|_| rng.uniform(-bound, bound))
            .collect();
        let mut bias: Vec<f32> = (0..4 * hidden_dim)
            .map(|_| rng.uniform(-bound, bound))
            .collect();
        for b in &mut bias[hidden_dim..2 * hidden_dim] {
            *b = FORGET_BIAS_INIT;
        }
        Lstm {
            input_dim,
            hidden_dim,
            grad_weight: vec![0.0; weight.len()],
            grad_bias: vec![0.0; bias.len()],
            weight,
            bias,
            batch: 0,
            steps: 0,
            inputs: Vec::new(),
            gates: Vec::new(),
            cells: Vec::new(),
            hiddens: Vec::new(),
        }
    }

    /// Input features per step.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Hidden units.
    pub fn hidden_dim(&self) -> usize {
        self.hidden_dim
    }

    /// Gate weights, `[4 hidden x (input + hidden)]`, gate blocks i, f, g, o.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// Mutable gate weights.
    pub fn weight_mut(&mut self) -> &mut [f32] {
        &mut self.weight
    }

    /// Gate biases, `[4 hidden]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Mutable gate biases.
    pub fn bias_mut(&mut self) -> &mut [f32] {
        &mut self.bias
    }

    /// Accumulated gradient of the weights.
    pub fn grad_weight(&self) -> &[f32] {
        &self.grad_weight
    }

    /// Accumulated gradient of the biases.
    pub fn grad_bias(&self) -> &[f32] {
        &self.grad_bias
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    /// Clears the accumulated gradients.
    pub fn zero_grad(&mut self) {
        self.grad_weight.fill(0.0);
        self.grad_bias.fill(0.0);
    }

    /// One step of the cell for one sample: `z = W [x; h] + b` into `gates` (after their
    /// nonlinearities), then the new `c` and `h` in place.
    fn cell(&self, x: &[f32], h: &mut [f32], c: &mut [f32], gates: &mut [f32]) {
        let (n, cols) = (self.hidden_dim, self.input_dim + self.hidden_dim);
        for (r, gate) in gates.iter_mut().enumerate() {
            let row = &self.weight[r * cols..(r + 1) * cols];
            let mut z = self.bias[r];
            for (w, v) in row[..self.input_dim].iter().zip(x) {
                z += w * v;
            }
            for (w, v) in row[self.input_dim..].iter().zip(h.iter()) {
                z += w * v;
            }
            *gate = if (2 * n..3 * n).contains(&r) {
                z.tanh()
            } else {
                sigmoid(z)
            };
        }
        for k in 0..n {
            let (i, f, g, o) = (gates[k], gates[n + k], gates[2 * n + k], gates[3 * n + k]);
            c[k] = f * c[k] + i * g;
            h[k] = o * c[k].tanh();
        }
    }

    /// Streaming inference: advances one sample by one step from the state `(h, c)` (start from
    /// zeros), in place. `gates` is scratch of length `4 x hidden`.
    pub fn step(&self, x: &[f32], h: &mut [f32], c: &mut [f32], gates: &mut [f32]) {
        assert_eq!(x.len(), self.input_dim, "LSTM input size");
        assert_eq!(h.len(), self.hidden_dim, "LSTM hidden state size");
        assert_eq!(c.len(), self.hidden_dim, "LSTM cell state size");
        assert_eq!(gates.len(), 4 * self.hidden_dim, "LSTM gate scratch size");
        self.cell(x, h, c, gates);
    }

    /// Runs `batch` sequences of `steps` steps from a zero state, caching what [`Lstm::backward`]
    /// needs. `inputs` is `[steps][batch][input]`; returns the hidden states `[steps][batch][hidden]`.
    pub fn forward_train(&mut self, inputs: &[f32], batch: usize, steps: usize) -> &[f32] {
        let (n, d) = (self.hidden_dim, self.input_dim);
        assert_eq!(
            inputs.len(),
            steps * batch * d,
            "LSTM inputs must be [steps][batch][input]"
        );
        self.batch = batch;
        self.steps = steps;
        self.inputs = inputs.to_vec();
        self.gates = vec![0.0; steps * batch * 4 * n];
        self.cells = vec![0.0; steps * batch * n];
        self.hiddens = vec![0.0; steps * batch * n];
        let mut h = vec![0.0; batch * n];
        let mut c = vec![0.0; batch * n];
        let mut gates = vec![0.0; 4 * n];
        for t in 0..steps {
            for b in 0..batch {
                let x = &inputs[(t * batch + b) * d..(t * batch + b + 1) * d];
                let (hb, cb) = (&mut h[b * n..(b + 1) * n], &mut c[b * n..(b + 1) * n]);
                self.cell(x, hb, cb, &mut gates);
                let at = (t * batch + b) * n;
                self.gates[at * 4..(at + n) * 4].copy_from_slice(&gates);
                self.cells[at..at + n].copy_from_slice(cb);
                self.hiddens[at..at + n].copy_from_slice(hb);
            }
        }
        &self.hiddens
    }

    /// Backpropagation through time of the last [`Lstm::forward_train`]: `grad_hidden` is dL/dh
    /// for every step (`[steps][batch][hidden]`; zeros where a step's output is unused). Adds the
    /// parameter gradients to the accumulated ones and returns dL/dinputs (`[steps][batch][input]`).
    pub fn backward(&mut self, grad_hidden: &[f32]) -> Vec<f32> {
        let (n, d, batch) = (self.hidden_dim, self.input_dim, self.batch);
        let cols = d + n;
        assert_eq!(
            grad_hidden.len(),
            self.steps * batch * n,
            "LSTM grad_hidden must match the last forward_train"
        );
        let mut grad_inputs = vec![0.0; self.inputs.len()];
        let mut dh_next = vec![0.0f32; batch * n];
        let mut dc_next = vec![0.0f32; batch * n];
        let mut dz = vec![0.0f32; 4 * n];
        let mut dcat = vec![0.0f32; cols];
        for t in (0..self.steps).rev() {
            for b in 0..batch {
                let at = (t * batch + b) * n;
                let gates = &self.gates[at * 4..(at + n) * 4];
                let prev = (t > 0).then(|| ((t - 1) * batch + b) * n);
                for k in 0..n {
                    let (i, f, g, o) = (gates[k], gates[n + k], gates[2 * n + k], gates[3 * n + k]);
                    let c = self.cells[at + k];
                    let c_prev = prev.map_or(0.0, |p| self.cells[p + k]);
                    let tc = c.tanh();
                    let dh = grad_hidden[at + k] + dh_next[b * n + k];
                    let dc = dh * o * (1.0 - tc * tc) + dc_next[b * n + k];
                    dz[k] = dc * g * i * (1.0 - i);
                    dz[n + k] = dc * c_prev * f * (1.0 - f);
                    dz[2 * n + k] = dc * i * (1.0 - g * g);
                    dz[3 * n + k] = dh * tc * o * (1.0 - o);
                    dc_next[b * n + k] = dc * f;
                }
                // Parameter gradients and dL/d[x; h_prev].
                let x = &self.inputs[(t * batch + b) * d..(t * batch + b + 1) * d];
                dcat.fill(0.0);
                for (r, &dzr) in dz.iter().enumerate() {
                    self.grad_bias[r] += dzr;
                    let row = &self.weight[r * cols..(r + 1) * cols];
                    let grow = &mut self.grad_weight[r * cols..(r + 1) * cols];
                    for j in 0..d {
                        grow[j] += dzr * x[j];
                    }
                    if let Some(p) = prev {
                        for j in 0..n {
                            grow[d + j] += dzr * self.hiddens[p + j];
                        }
                    }
                    for (acc, w) in dcat.iter_mut().zip(row) {
                        *acc += dzr * w;
                    }
                }
                grad_inputs[(t * batch + b) * d..(t * batch + b + 1) * d]
                    .copy_from_slice(&dcat[..d]);
                dh_next[b * n..(b + 1) * n].copy_from_slice(&dcat[d..]);
            }
        }
        grad_inputs
    }
}
