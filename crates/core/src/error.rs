//! Typed errors for invalid domain data.

use thiserror::Error;

/// An invariant of a domain type was violated while building it.
///
/// Messages say which field is wrong and how to fix it; I/O crates add the file and line.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A trace is unusable (too short, time not increasing, bad throughput).
    #[error("trace '{name}': {reason}")]
    InvalidTrace {
        /// Trace name (usually the file name).
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A video description is unusable (no levels, mismatched chunk counts, ...).
    #[error("video '{name}': {reason}")]
    InvalidVideo {
        /// Video name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A QoE model does not fit the ladder it is used with.
    #[error("QoE model: {0}")]
    InvalidQoe(String),
}
