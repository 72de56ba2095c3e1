//! # neuralstream-learn
//!
//! Training learned ABR policies for NeuralStream: behaviour cloning of the offline optimum with
//! DAgger relabeling ([`imitation`], [`dagger`], both over a [`dataset`]), then reinforcement
//! learning: approximate policy iteration with all-action rollouts ([`policy_iteration`], the
//! default), or [`ppo`], [`a2c`] (Pensieve's recipe) or [`dqn`] over vectorised training
//! environments ([`env`](mod@env)), sharing one prologue ([`rl`]). Typed stages ([`stage`]) are
//! chained by [`pipeline`] and selected on a validation split ([`validation`]); every config
//! checks itself (`validate()`, a [`ConfigError`] naming the field); training checkpoints
//! ([`checkpoint`]) and curves ([`curve`]). What it trains is a [`LearnedAbr`] of
//! `neuralstream-policy`, the inference crate, re-exported here.
//!
//! **Key design decision:** the teacher and the evaluator are the exact simulator. The warm
//! start (Comyco/SABR recipe) imitates the offline optimum ([`neuralstream_optimum::solve`]) of
//! windows cut from the training traces, and for DAgger the optimum of the rest of the session
//! from each state the learner visits ([`neuralstream_optimum::solve_from`]); policy iteration
//! plays every level from a cloned [`neuralstream_sim::Session`] against the same future. So
//! there is no modelling gap between what the policy learns from and what scores it. Everything
//! is deterministic for a seed: environments and trace windows are processed in parallel but
//! seeded per item and combined in a fixed order.

#![deny(missing_docs)]

pub mod a2c;
pub mod agnostic;
pub mod checkpoint;
pub mod curve;
pub mod dagger;
pub mod dataset;
pub mod dqn;
pub mod env;
pub mod error;
pub mod evaluate;
pub mod imitation;
pub mod pipeline;
pub mod policy_iteration;
pub mod ppo;
pub mod rl;
pub mod stage;
pub mod validation;
pub mod windows;

pub use a2c::{train_a2c, A2cConfig};
pub use agnostic::{train_agnostic, AgnosticConfig, AgnosticReport, TraceSet, TrainVideo};
pub use checkpoint::{Progress, ScheduleDone, TrainingCheckpoint};
pub use curve::{curve_csv, CurvePoint};
pub use dagger::{relabel_learner_states, RelabelConfig};
pub use dataset::Dataset;
pub use dqn::{train_dqn, DqnConfig};
pub use env::{RlEnvConfig, TrainEnv};
pub use error::{ConfigError, LearnError};
pub use evaluate::{mean_qoe, session_qoes};
pub use imitation::{
    collect_optimum_demos, split_traces, train_imitation, train_imitation_split, EpochStats,
    ImitationConfig, ImitationReport,
};
pub use neuralstream_policy::{FeatureSpec, LearnedAbr, PolicyError, PolicyMeta, FEATURE_VERSION};
pub use pipeline::{train_pipeline, PipelineConfig, PipelineReport, StageResult};
pub use policy_iteration::{train_policy_iteration, PolicyIterationConfig};
pub use ppo::{train_ppo, PpoConfig};
pub use rl::{RlContext, RlReport};
pub use stage::{algorithm_stages, parse_stages, Stage, StageKind, ALGORITHMS};
pub use validation::{ValMetric, Validator};
pub use windows::{window_trace, windows};
