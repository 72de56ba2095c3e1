//! Errors of training and evaluating learned policies.

use neuralstream_optimum::OptimumError;
use neuralstream_sim::SimError;
use thiserror::Error;

/// Why training or evaluation could not proceed. Session errors name the trace.
#[derive(Debug, Error)]
pub enum LearnError {
    /// The offline optimum failed on a trace.
    #[error("offline optimum on trace '{trace}': {source}")]
    Optimum {
        /// Trace name.
        trace: String,
        /// Solver error.
        source: OptimumError,
    },
    /// A simulated session failed.
    #[error("session on trace '{trace}': {source}")]
    Sim {
        /// Trace name.
        trace: String,
        /// Simulator error.
        source: SimError,
    },
    /// The QoE model does not fit the video.
    #[error(transparent)]
    Qoe(#[from] neuralstream_core::CoreError),
    /// Not enough data to train or validate.
    #[error("{0}")]
    Empty(String),
    /// A setting is out of range (the message names it).
    #[error("{0}")]
    Invalid(String),
}
