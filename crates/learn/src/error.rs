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
    /// A training setting is out of range ([`ConfigError::field`] names it).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A training setting out of range, from the `validate()` of a training config. `field` is the
/// path of the setting in [`crate::PipelineConfig`] (`ppo.lr`, `history_len`), so that a front end
/// can name its own flag for it; `problem` reads after the field's name ("must be at least 1").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} {problem}")]
pub struct ConfigError {
    /// Path of the setting, e.g. `policy_iteration.lr`.
    pub field: String,
    /// What is wrong, with the value given.
    pub problem: String,
}

impl ConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same error for the setting seen from the config that holds this one under `prefix`
    /// (`lr` of `ppo` is `ppo.lr`).
    pub fn within(self, prefix: &str) -> Self {
        ConfigError {
            field: format!("{prefix}.{}", self.field),
            problem: self.problem,
        }
    }
}

/// The range checks the configs' `validate()` methods share.
pub(crate) mod check {
    use super::ConfigError;

    /// A count that must be at least 1.
    pub fn at_least_one(field: &str, value: usize) -> Result<(), ConfigError> {
        if value == 0 {
            return Err(ConfigError::new(field, "must be at least 1"));
        }
        Ok(())
    }

    /// A learning rate must be a finite number in (0, 1]: above 1 Adam's steps are as large as
    /// the weights themselves.
    pub fn learning_rate(field: &str, lr: f32) -> Result<(), ConfigError> {
        if !(lr.is_finite() && lr > 0.0 && lr <= 1.0) {
            return Err(ConfigError::new(
                field,
                format!("must be a learning rate in (0, 1] (e.g. 3e-4), got {lr}"),
            ));
        }
        Ok(())
    }

    /// `ok` or an error for `field` saying it `must ...`, with the value given.
    pub fn ensure(
        ok: bool,
        field: &str,
        must: &str,
        value: impl std::fmt::Display,
    ) -> Result<(), ConfigError> {
        if !ok {
            return Err(ConfigError::new(field, format!("must {must}, got {value}")));
        }
        Ok(())
    }
}
