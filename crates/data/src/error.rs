//! Errors raised while reading traces and videos.

use neuralstream_core::CoreError;
use std::path::PathBuf;
use thiserror::Error;

/// What went wrong reading an input file, always naming the file.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line could not be parsed.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The file parsed but its content is not usable.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The violated invariant.
        source: CoreError,
    },
    /// Anything else about a file or folder (empty, wrong layout, ...).
    #[error("{}: {message}", path.display())]
    Other {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl DataError {
    pub(crate) fn other(path: &std::path::Path, message: impl Into<String>) -> Self {
        DataError::Other {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn parse(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
