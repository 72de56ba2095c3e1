//! Typed errors of the media pipeline: every message names the file, flag or program at fault and
//! says how to fix it.

use std::path::PathBuf;
use thiserror::Error;

/// What went wrong while probing, encoding, measuring or reading manifests.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The FFmpeg (or ffprobe) executable could not be started.
    #[error("{program} not found or not executable ({reason}); install FFmpeg with `apt-get install ffmpeg` (Debian/Ubuntu) or pass its path with --ffmpeg / --ffprobe")]
    ToolMissing {
        /// The program that was looked for, e.g. `ffmpeg` or `/opt/ff/ffmpeg`.
        program: String,
        /// The OS error.
        reason: String,
    },
    /// FFmpeg or ffprobe ran and failed; `tail` holds the last lines of its error output.
    #[error("{program} failed ({status}) while {task}; its last lines were:\n{tail}")]
    ToolFailed {
        /// The program that failed.
        program: String,
        /// What it was doing (e.g. "encoding the ladder").
        task: String,
        /// Exit status as text.
        status: String,
        /// Last lines of stderr.
        tail: String,
    },
    /// The input file cannot be used (unreadable, not a video, no video stream).
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A packaging option is invalid (ladder, codec, segment duration, ...).
    #[error("{option}: {reason}")]
    Option {
        /// The option or flag, e.g. `--ladder`.
        option: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A manifest (MPD or HLS playlist) cannot be parsed or is not usable.
    #[error("{source_name}: {reason}")]
    Manifest {
        /// The manifest's file name or URL.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// The encoder's output does not have the promised structure (segment counts, key frames, ...).
    #[error("{}: {reason}", path.display())]
    Output {
        /// The file or folder that is wrong.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file or folder could not be read or written (disk full, permissions, ...).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl MediaError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn option(option: &str, reason: impl Into<String>) -> Self {
        MediaError::Option {
            option: option.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn manifest(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        MediaError::Manifest {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn output(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        MediaError::Output {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
