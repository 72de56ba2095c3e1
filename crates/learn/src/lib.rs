//! # neuralstream-learn
//!
//! Learned ABR policies for NeuralStream: the state featurisation ([`features`]), the
//! [`LearnedAbr`] inference wrapper that makes a trained network one more [`neuralstream_core::Abr`]
//! ([`policy`]), and the training stages of issue 3: behaviour cloning of the offline optimum with
//! DAgger relabeling ([`imitation`], [`dagger`]), then reinforcement learning: approximate policy
//! iteration with all-action rollouts ([`api`], the default), or [`ppo`], [`a2c`] (Pensieve's
//! recipe) or [`dqn`] over vectorised training environments ([`env`](mod@env)), all chained by
//! [`pipeline`] and selected on a validation split
//! ([`validation`]); training checkpoints ([`checkpoint`]) and curves ([`curve`]).
//!
//! **Key design decision:** a policy sees only an [`neuralstream_core::Observation`], turned into
//! features *relative to the ladder* (throughput / top bitrate, download time / chunk duration,
//! chunk size / nominal size, chunks left / session length), never Pensieve's hard-coded constants,
//! so that a policy keeps working on other ladders and faster networks. The [`FeatureSpec`]
//! travels in the checkpoint's metadata, and inference runs the hand-written network's
//! allocation-free [`neuralstream_nn::Mlp::infer`] path, not the training path (a test checks both
//! give the same action probabilities).
//!
//! Warm start before RL (Comyco/SABR recipe): the teacher is the offline optimum
//! ([`neuralstream_optimum::solve`]) of windows cut from the training traces, and for DAgger the
//! optimum of the rest of the session from each state the learner visits
//! ([`neuralstream_optimum::solve_from`]). Everything is deterministic for a seed: environments
//! and trace windows are processed in parallel but seeded per item and combined in a fixed order.

#![deny(missing_docs)]

pub mod a2c;
pub mod api;
pub mod checkpoint;
pub mod curve;
pub mod dagger;
pub mod dqn;
pub mod env;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod imitation;
pub mod pipeline;
pub mod policy;
pub mod ppo;
pub mod rl;
pub mod validation;
pub mod windows;

pub use a2c::{train_a2c, A2cConfig};
pub use api::{train_api, ApiConfig};
pub use checkpoint::{Progress, TrainingCheckpoint};
pub use curve::{curve_csv, CurvePoint};
pub use dagger::{relabel_learner_states, RelabelConfig};
pub use dqn::{train_dqn, DqnConfig};
pub use env::{RlEnvConfig, TrainEnv};
pub use error::LearnError;
pub use evaluate::{mean_qoe, session_qoes};
pub use features::{FeatureSpec, FEATURE_VERSION};
pub use imitation::{
    collect_optimum_demos, split_traces, train_imitation, train_imitation_split, Dataset,
    EpochStats, ImitationConfig, ImitationReport,
};
pub use pipeline::{train_pipeline, PipelineConfig, PipelineReport, StageKind, StageResult};
pub use policy::{LearnedAbr, PolicyError, PolicyMeta};
pub use ppo::{train_ppo, PpoConfig};
pub use rl::{RlContext, RlReport};
pub use validation::{ValMetric, Validator};
pub use windows::{window_trace, windows};
