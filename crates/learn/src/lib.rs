//! # neuralstream-learn
//!
//! Learned ABR policies for NeuralStream: the state featurisation ([`features`]), the
//! [`LearnedAbr`] inference wrapper that makes a trained network one more [`neuralstream_core::Abr`]
//! ([`policy`]), and the first training stage of issue 3, behaviour cloning of the offline optimum
//! ([`imitation`]), with its helpers (trace windows, parallel evaluation).
//!
//! **Key design decision:** a policy sees only an [`neuralstream_core::Observation`], turned into
//! features *relative to the ladder* (throughput / top bitrate, download time / chunk duration,
//! chunk size / nominal size, chunks left / session length), never Pensieve's hard-coded constants,
//! so that a policy keeps working on other ladders and faster networks. The [`FeatureSpec`]
//! travels in the checkpoint's metadata, and inference runs the hand-written network's
//! allocation-free [`neuralstream_nn::Mlp::infer`] path, not the training path (a test checks both
//! give the same action probabilities).
//!
//! Teacher: the offline optimum ([`neuralstream_optimum::solve`]) of windows cut from the training
//! traces, and for DAgger-style relabeling ([`dagger`]) the optimum of the rest of the session from
//! each state the learner visits ([`neuralstream_optimum::solve_from`]). RL fine-tuning
//! (PPO/A2C/DQN) is a later stage.

#![deny(missing_docs)]

pub mod dagger;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod imitation;
pub mod policy;
pub mod windows;

pub use dagger::{relabel_learner_states, RelabelConfig};
pub use error::LearnError;
pub use evaluate::{mean_qoe, session_qoes};
pub use features::{FeatureSpec, FEATURE_VERSION};
pub use imitation::{
    collect_optimum_demos, split_traces, train_imitation, Dataset, EpochStats, ImitationConfig,
    ImitationReport,
};
pub use policy::{LearnedAbr, PolicyError, PolicyMeta};
pub use windows::{window_trace, windows};
