//! Small, fast, hand-written neural networks for reinforcement-learning ABR policies.
//!
//! This crate provides exactly what NeuralStream's learned bitrate controllers need and nothing
//! more: dense layers ([`Linear`]), multi-layer perceptrons ([`Mlp`]) with ReLU/tanh hidden
//! activations, the [`Adam`] optimiser with global gradient-norm clipping, batched losses with
//! analytic gradients for behaviour cloning, PPO, A2C, value regression and DQN ([`loss`]), and
//! safetensors checkpoints that include optimiser state ([`save_safetensors`],
//! [`load_safetensors`], [`load_networks`]).
//!
//! # Key design decision
//!
//! Networks are written by hand in `f32` on top of `matrixmultiply`'s sgemm instead of using a
//! deep-learning framework. On the project's 2-core machines this was measured to be ~2.4x
//! faster per PPO step and ~4x faster at single-sample inference than burn, and builds in
//! seconds instead of ten minutes (see `shared/reference/rust_stack.md`, section 1). Gradients
//! are derived by hand per layer and loss; there is no autodiff graph.
//!
//! Two forward paths exist on purpose:
//! - **Training** ([`Mlp::forward_train`] / [`Mlp::backward`]) caches activations for a batch and
//!   uses sgemm.
//! - **Inference** ([`Mlp::infer`]) takes `&self`, keeps no cache and allocates nothing after
//!   warm-up (buffers live in a caller-owned [`Scratch`]); it uses a GEMV loop, which beats
//!   sgemm's packing overhead at batch 1.
//! - **A few rows** (2 to 16: one decision of a ladder-agnostic policy scores every level of the
//!   ladder as one row) skip sgemm's packing too, through a direct AVX2/FMA product in `linear`
//!   that sums in exactly sgemm's order, so its bits are sgemm's (a unit test compares them on
//!   every shape); it runs only on CPUs where sgemm itself uses fused multiply-adds.
//!
//! Everything is deterministic: initialisation draws from a seeded [`SplitMix64`], and all
//! computations are single-threaded, so the same seed and data give bit-identical parameters.
//!
//! # Example
//!
//! ```
//! use neuralstream_nn::{loss, Activation, Adam, AdamConfig, Mlp, Scratch};
//!
//! let mut net = Mlp::new(&[4, 16, 3], Activation::Relu, 42);
//! let mut adam = Adam::new(AdamConfig::with_lr(1e-2));
//! let input = [0.1f32, -0.2, 0.3, 0.0, 1.0, 0.5, -0.5, 0.2]; // batch of 2
//! let logits = net.forward_train(&input, 2).to_vec();
//! let out = loss::cross_entropy(&logits, 3, &[0, 2], None);
//! net.zero_grad();
//! net.backward(&out.grad);
//! adam.step(&mut [("policy", &mut net)]);
//!
//! let mut scratch = Scratch::for_mlp(&net);
//! let logits = net.infer(&input[..4], &mut scratch);
//! assert_eq!(logits.len(), 3);
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod activation;
pub mod adam;
pub mod checkpoint;
pub mod init;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod mlp;
pub mod replay;
pub mod rng;

pub use activation::Activation;
pub use adam::{Adam, AdamConfig, Moments};
pub use checkpoint::{
    load_networks, load_safetensors, save_safetensors, CheckpointError, LoadedCheckpoint,
};
pub use init::Init;
pub use linear::{Linear, ParamVisitor};
pub use loss::{LossOutput, PolicyLossOutput, QLoss};
pub use lstm::Lstm;
pub use mlp::{Mlp, MlpSpec, Scratch};
pub use replay::{argmax, Replay};
pub use rng::SplitMix64;
