//! The crate's one error type.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong reading real-time traces or running a real-time bench.
#[derive(Debug, Error)]
pub enum RtError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A trace file is not what its format says; `line` is 1-based.
    #[error("{}:{line}: {message}", path.display())]
    Trace {
        /// The file (or a name for an in-memory trace).
        path: PathBuf,
        /// 1-based line of the offending value (0 when the whole file is at fault).
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A setting is out of range; the message names the field.
    #[error("{0}")]
    Config(String),
    /// A learned controller's model file is not one `rt train` wrote, or does not fit this code.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Reading or writing a model's safetensors file failed (the message names the file).
    #[error(transparent)]
    Checkpoint(#[from] neuralstream_nn::CheckpointError),
    /// A folder of traces holds none the readers understand.
    #[error("{}: no real-time traces (*.json onl-emu traces or Mahimahi *.up/*.down files) in this folder{hint}", path.display())]
    NoTraces {
        /// The folder.
        path: PathBuf,
        /// Extra advice (e.g. which split was empty).
        hint: String,
    },
    /// A metrics dataset line is not a record this code reads; `line` is 1-based.
    #[error("{}:{line}: {message}", path.display())]
    Dataset {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line of the bad record.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}
