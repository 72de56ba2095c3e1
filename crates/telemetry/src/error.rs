//! The crate's one error type; every variant names the file, record or field and what to do.

use std::path::PathBuf;

/// What can go wrong writing, reading or moving telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An event with an impossible value (NaN, a negative time, a response before its request).
    #[error("telemetry event of session `{session}`: `{field}` {problem}")]
    InvalidEvent {
        /// Start of the session id.
        session: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A file or record written with another schema version.
    #[error("{origin}: telemetry schema version {found}, this build reads version {} to {expected}; read it with the NeuralStream build that wrote it, or re-export it", crate::event::OLDEST_READABLE_VERSION)]
    SchemaVersion {
        /// File or Kafka record.
        origin: String,
        /// Version tag found (`none` when missing).
        found: String,
        /// Version this build writes (the newest it reads).
        expected: u32,
    },
    /// A file or record that is not a telemetry table of this version.
    #[error("{origin}: not a readable telemetry file or record: {problem}")]
    Corrupt {
        /// File or Kafka record.
        origin: String,
        /// What is wrong.
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
    /// The Parquet library refused to write or read.
    #[error("{origin}: parquet: {message}")]
    Parquet {
        /// File involved.
        origin: String,
        /// The library's message.
        message: String,
    },
    /// The broker refused or could not be reached.
    #[error("kafka {target}: {action}: {message}; is the broker running and the topic created (`tansu topic create TOPIC`)?")]
    Kafka {
        /// `host:port/topic`.
        target: String,
        /// What was being done.
        action: &'static str,
        /// The client's message.
        message: String,
    },
    /// A `--telemetry` value that is neither a folder nor a `kafka://HOST:PORT/TOPIC` URL.
    #[error(
        "--telemetry `{spec}`: {problem}; give a folder (Parquet files) or kafka://HOST:PORT/TOPIC"
    )]
    BadTarget {
        /// The value given.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The telemetry worker is gone (it panicked or was already finished).
    #[error("telemetry worker stopped: {0}")]
    Stopped(String),
}

impl TelemetryError {
    /// An [`TelemetryError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        TelemetryError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
