//! # neuralstream-policy
//!
//! Running a learned ABR policy: the state featurisation ([`features`]) and [`LearnedAbr`], a
//! trained actor network loaded from safetensors and wrapped as one more
//! [`neuralstream_core::Abr`] ([`learned`]). This is all that `bench --abr learned:PATH`,
//! `serve` and `play` need; training lives in `neuralstream-learn`, which builds on this crate.
//!
//! **Key design decision:** inference is its own crate, with the network library and the domain
//! types as its only NeuralStream dependencies. A server or a player that runs a trained policy
//! therefore never builds the simulator, the offline optimum or the training stages, and the
//! decision path cannot reach training code: it featurises an [`neuralstream_core::Observation`]
//! *relative to the ladder* (throughput / top bitrate, download time / chunk duration, chunk size /
//! nominal size, chunks left / session length; never Pensieve's hard-coded constants, so a policy
//! keeps working on other ladders and faster networks) and runs the hand-written network's
//! allocation-free [`neuralstream_nn::Mlp::infer`]. The [`FeatureSpec`] travels in the
//! checkpoint's metadata, so a file is self-describing.
//!
//! Two feature layouts exist, told apart by the spec's `version`: 1, the fixed-ladder
//! [`FeatureSpec`] (one network output per level, so a policy runs on one ladder size), and 2, the
//! ladder-agnostic [`AgnosticSpec`] ([`agnostic`]: one scoring network shared by every level, for
//! ladders of 2 to 16 levels). [`Policy::load`] reads either, and `A+B+C` as an [`EnsembleAbr`]
//! of layout-2 files ([`ensemble`]: the mean of their per-level probabilities decides).

#![deny(missing_docs)]

pub mod agnostic;
pub mod ensemble;
pub mod features;
pub mod file;
pub mod learned;

pub use agnostic::{
    AgnosticAbr, AgnosticSpec, FeatureError, AGNOSTIC_HINTS_VERSION, AGNOSTIC_VERSION,
};
pub use ensemble::EnsembleAbr;
pub use features::{FeatureSpec, FEATURE_VERSION};
pub use file::Policy;
pub use learned::{
    argmax, policy_metadata, LearnedAbr, PolicyError, PolicyMeta, ACTOR, META_FEATURES,
    META_NUM_LEVELS,
};
