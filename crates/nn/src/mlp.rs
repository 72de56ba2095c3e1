//! Multi-layer perceptron: a stack of [`Linear`] layers with a shared hidden activation and a
//! linear output, with a cached training path and an allocation-free inference path.

use crate::activation::Activation;
use crate::init::Init;
use crate::linear::{Linear, ParamVisitor};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Architecture of an [`Mlp`]: layer widths and hidden activation. Stored in checkpoints so
/// a network can be rebuilt without knowing its shape in advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpSpec {
    /// Layer widths, input first, output last (at least two entries).
    pub sizes: Vec<usize>,
    /// Activation applied after every layer except the last.
    pub hidden_activation: Activation,
}

/// Activations cached by [`Mlp::forward_train`] for [`Mlp::backward`].
#[derive(Debug, Clone, Default, PartialEq)]
struct Cache {
    /// `acts[0]` is the input, `acts[i + 1]` the (post-activation) output of layer `i`.
    acts: Vec<Vec<f32>>,
    /// Batch size of the cached pass (`None` until the first `forward_train`).
    batch: Option<usize>,
    /// Ping-pong gradient buffers for backward.
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
}

/// Reusable buffers for the cache-free inference paths ([`Mlp::infer`], [`Mlp::forward`]).
///
/// Buffers grow on first use and are then reused, so steady-state inference allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Scratch {
    /// Empty scratch space; the first call that uses it allocates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scratch space pre-sized for single-sample inference with `mlp`, so even the first
    /// [`Mlp::infer`] call does not allocate.
    pub fn for_mlp(mlp: &Mlp) -> Self {
        let w = mlp.max_width();
        Self {
            a: vec![0.0; w],
            b: vec![0.0; w],
        }
    }
}

/// Multi-layer perceptron: `Linear -> act -> Linear -> act -> ... -> Linear` (linear output).
///
/// Training: [`forward_train`](Mlp::forward_train) caches every layer's activations,
/// [`backward`](Mlp::backward) accumulates parameter gradients, [`zero_grad`](Mlp::zero_grad)
/// clears them, and an [`Adam`](crate::Adam) step applies them. Deployment:
/// [`infer`](Mlp::infer) runs one sample through GEMV loops with caller-provided scratch space
/// and touches no cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Linear>,
    hidden_activation: Activation,
    cache: Cache,
}

impl Mlp {
    /// Builds an MLP with the default initialisation: He-uniform hidden layers for ReLU,
    /// Glorot-uniform otherwise, and a Glorot-uniform output layer. Biases start at zero.
    /// Weights are a deterministic function of `seed`.
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    pub fn new(sizes: &[usize], hidden_activation: Activation, seed: u64) -> Self {
        let hidden_init = match hidden_activation {
            Activation::Relu => Init::HeUniform,
            _ => Init::GlorotUniform,
        };
        Self::with_init(
            sizes,
            hidden_activation,
            hidden_init,
            Init::GlorotUniform,
            seed,
        )
    }

    /// Builds an MLP with explicit initialisation for hidden layers and for the output layer
    /// (e.g. `Init::Orthogonal { gain: 2f32.sqrt() }` and `Init::Orthogonal { gain: 0.01 }` for
    /// a PPO policy). Layers draw from one [`SplitMix64`] stream seeded with `seed`, in order.
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    pub fn with_init(
        sizes: &[usize],
        hidden_activation: Activation,
        hidden_init: Init,
        output_init: Init,
        seed: u64,
    ) -> Self {
        assert!(
            sizes.len() >= 2,
            "an Mlp needs at least input and output sizes"
        );
        let mut rng = SplitMix64::new(seed);
        let n = sizes.len() - 1;
        let layers = (0..n)
            .map(|i| {
                let init = if i + 1 == n { output_init } else { hidden_init };
                Linear::new(sizes[i], sizes[i + 1], init, &mut rng)
            })
            .collect();
        Self {
            layers,
            hidden_activation,
            cache: Cache::default(),
        }
    }

    /// Builds an MLP from a spec with all-zero weights (to be overwritten, e.g. by a checkpoint).
    ///
    /// # Panics
    /// If `spec.sizes` has fewer than two entries.
    pub fn zeros(spec: &MlpSpec) -> Self {
        Self::with_init(
            &spec.sizes,
            spec.hidden_activation,
            Init::Zeros,
            Init::Zeros,
            0,
        )
    }

    /// The architecture of this network.
    pub fn spec(&self) -> MlpSpec {
        MlpSpec {
            sizes: self.sizes(),
            hidden_activation: self.hidden_activation,
        }
    }

    /// Layer widths, input first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.input_dim()];
        s.extend(self.layers.iter().map(Linear::out_dim));
        s
    }

    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.layers[0].in_dim()
    }

    /// Number of outputs.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out_dim()
    }

    /// Hidden activation.
    pub fn hidden_activation(&self) -> Activation {
        self.hidden_activation
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Mutable access to the layers (for manual parameter surgery; shapes cannot change).
    pub fn layers_mut(&mut self) -> &mut [Linear] {
        &mut self.layers
    }

    /// Total number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(Linear::num_params).sum()
    }

    fn max_width(&self) -> usize {
        self.sizes().into_iter().max().unwrap_or(0)
    }

    /// Parameter tensors with their names relative to the network (`"0.weight"`, `"0.bias"`,
    /// `"1.weight"`, ...), shapes (`[out, in]` / `[out]`) and values, in layer order.
    pub fn named_params(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut v = Vec::with_capacity(2 * self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            v.push((
                format!("{i}.weight"),
                vec![l.out_dim(), l.in_dim()],
                l.weight(),
            ));
            v.push((format!("{i}.bias"), vec![l.out_dim()], l.bias()));
        }
        v
    }

    /// Calls `f(name, param, grad)` for every parameter tensor in [`named_params`] order.
    ///
    /// [`named_params`]: Mlp::named_params
    pub fn visit_params_mut(&mut self, f: &mut ParamVisitor<'_>) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&mut |name, p, g| f(&format!("{i}.{name}"), p, g));
        }
    }

    /// Resets all accumulated parameter gradients to zero.
    pub fn zero_grad(&mut self) {
        self.layers.iter_mut().for_each(Linear::zero_grad);
    }

    /// Training forward pass over `batch` samples (`input` is row-major `[batch, input_dim]`).
    /// Caches every layer's activations for [`backward`](Mlp::backward) and returns the output
    /// `[batch, output_dim]`. Buffers are reused across calls with the same batch size.
    ///
    /// # Panics
    /// If `input.len() != batch * input_dim`.
    pub fn forward_train(&mut self, input: &[f32], batch: usize) -> &[f32] {
        assert_eq!(
            input.len(),
            batch * self.input_dim(),
            "Mlp::forward_train input size"
        );
        let n = self.layers.len();
        let acts = &mut self.cache.acts;
        acts.resize_with(n + 1, Vec::new);
        acts[0].clear();
        acts[0].extend_from_slice(input);
        for (i, layer) in self.layers.iter().enumerate() {
            let (done, rest) = acts.split_at_mut(i + 1);
            let out = &mut rest[0];
            out.resize(batch * layer.out_dim(), 0.0);
            layer.forward(&done[i], batch, out);
            if i + 1 < n {
                self.hidden_activation.apply(out);
            }
        }
        self.cache.batch = Some(batch);
        &self.cache.acts[n]
    }

    /// Backward pass for the last [`forward_train`](Mlp::forward_train): accumulates parameter
    /// gradients given `grad_output = dLoss/dOutput` (`[batch, output_dim]`). Skips the input
    /// gradient; use [`backward_with_input_grad`](Mlp::backward_with_input_grad) when needed.
    ///
    /// # Panics
    /// If no forward pass was cached or `grad_output` has the wrong size.
    pub fn backward(&mut self, grad_output: &[f32]) {
        self.backward_impl(grad_output, false);
    }

    /// Like [`backward`](Mlp::backward) but also returns `dLoss/dInput` (`[batch, input_dim]`).
    ///
    /// # Panics
    /// If no forward pass was cached or `grad_output` has the wrong size.
    pub fn backward_with_input_grad(&mut self, grad_output: &[f32]) -> &[f32] {
        self.backward_impl(grad_output, true);
        &self.cache.grad_a
    }

    fn backward_impl(&mut self, grad_output: &[f32], want_input_grad: bool) {
        let batch = self
            .cache
            .batch
            .expect("Mlp::backward called before forward_train");
        assert_eq!(
            grad_output.len(),
            batch * self.output_dim(),
            "Mlp::backward grad_output size"
        );
        let Cache {
            acts,
            grad_a,
            grad_b,
            ..
        } = &mut self.cache;
        // Invariant: `grad_a` holds dLoss/d(output of layer i) at the top of iteration i.
        grad_a.clear();
        grad_a.extend_from_slice(grad_output);
        let n = self.layers.len();
        for i in (0..n).rev() {
            let layer = &mut self.layers[i];
            if i + 1 < n {
                self.hidden_activation.backprop(&acts[i + 1], grad_a);
            }
            if i > 0 || want_input_grad {
                grad_b.resize(batch * layer.in_dim(), 0.0);
                layer.backward(&acts[i], grad_a, batch, Some(grad_b));
                std::mem::swap(grad_a, grad_b);
            } else {
                layer.backward(&acts[i], grad_a, batch, None);
            }
        }
    }

    /// Single-sample inference with no cache and no allocation once `scratch` has grown
    /// (use [`Scratch::for_mlp`] to pre-size it). Returns the `output_dim` outputs, which live
    /// in `scratch`.
    ///
    /// # Panics
    /// If `input.len() != input_dim`.
    pub fn infer<'s>(&self, input: &[f32], scratch: &'s mut Scratch) -> &'s [f32] {
        assert_eq!(input.len(), self.input_dim(), "Mlp::infer input size");
        self.run(input, 1, scratch)
    }

    /// Batched inference (`input` is `[batch, input_dim]`) with no cache; returns
    /// `[batch, output_dim]` stored in `scratch`. Uses sgemm for `batch > 1`.
    ///
    /// # Panics
    /// If `input.len() != batch * input_dim`.
    pub fn forward<'s>(&self, input: &[f32], batch: usize, scratch: &'s mut Scratch) -> &'s [f32] {
        assert_eq!(
            input.len(),
            batch * self.input_dim(),
            "Mlp::forward input size"
        );
        self.run(input, batch, scratch)
    }

    fn run<'s>(&self, input: &[f32], batch: usize, scratch: &'s mut Scratch) -> &'s [f32] {
        let Scratch { a, b } = scratch;
        let need = batch * self.max_width();
        if a.len() < need {
            a.resize(need, 0.0);
        }
        if b.len() < need {
            b.resize(need, 0.0);
        }
        let n = self.layers.len();
        let (mut src, mut dst): (&mut Vec<f32>, &mut Vec<f32>) = (a, b);
        for (i, layer) in self.layers.iter().enumerate() {
            let out = &mut dst[..batch * layer.out_dim()];
            if i == 0 {
                layer.forward(input, batch, out);
            } else {
                layer.forward(&src[..batch * layer.in_dim()], batch, out);
            }
            if i + 1 < n {
                self.hidden_activation.apply(out);
            }
            std::mem::swap(&mut src, &mut dst);
        }
        &src[..batch * self.output_dim()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infer_does_not_reallocate_after_warm_up() {
        let net = Mlp::new(&[8, 32, 16, 4], Activation::Relu, 0);
        let mut scratch = Scratch::new();
        let x = [0.25f32; 8];
        let first = net.infer(&x, &mut scratch).to_vec();
        let ptrs = (scratch.a.as_ptr(), scratch.b.as_ptr());
        let caps = (scratch.a.capacity(), scratch.b.capacity());
        for _ in 0..10 {
            assert_eq!(net.infer(&x, &mut scratch), &first[..]);
        }
        assert_eq!(ptrs, (scratch.a.as_ptr(), scratch.b.as_ptr()));
        assert_eq!(caps, (scratch.a.capacity(), scratch.b.capacity()));
        // A pre-sized scratch has the final size from the start.
        let pre = Scratch::for_mlp(&net);
        assert_eq!(pre.a.len(), 32);
    }
}
