//! The crate's error type; every variant names the file, session or field and what to do.

use std::path::PathBuf;

/// What can go wrong turning telemetry into training data or fitting a predictor.
#[derive(Debug, thiserror::Error)]
pub enum InsituError {
    /// A telemetry file that cannot be read (corrupt, another schema version): the telemetry
    /// crate's message, which names the file.
    #[error(transparent)]
    Telemetry(#[from] neuralstream_telemetry::TelemetryError),
    /// An event with an impossible value, under `--strict`.
    #[error(
        "{file}: event {row}: {problem} (drop --strict to skip and count such events instead)"
    )]
    InvalidEvent {
        /// The telemetry file.
        file: String,
        /// Row of the event in the file (0-based).
        row: usize,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// Not enough data to do what was asked.
    #[error("{what}: {problem}")]
    NotEnoughData {
        /// The folder or step.
        what: String,
        /// What is missing and how to get it.
        problem: String,
    },
    /// A file-system operation failed.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The random forest library refused to fit.
    #[error("random forest ({what}): {message}")]
    Forest {
        /// Which model.
        what: String,
        /// The library's message.
        message: String,
    },
    /// A model file that cannot be used.
    #[error(transparent)]
    Model(#[from] neuralstream_abr::predictor::ModelError),
}

impl InsituError {
    /// An [`InsituError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        InsituError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
