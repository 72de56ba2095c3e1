//! [`ServerError`]: why a server could not start. Every message names the file or flag to fix.

use std::path::PathBuf;
use thiserror::Error;

/// A failure to start the server.
#[derive(Debug, Error)]
pub enum ServerError {
    /// No `--media` folder was given.
    #[error(
        "no media folder given; pass --media DIR with a folder made by `neuralstream package`"
    )]
    NoMedia,
    /// A media folder is missing or unusable.
    #[error("media folder {}: {reason}", path.display())]
    Media {
        /// The folder.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Two media folders have the same name.
    #[error("two media folders are both named '{0}'; media are served as /media/<folder name>/, so rename one")]
    DuplicateMedia(String),
    /// An algorithm name or checkpoint is unusable.
    #[error("--abr {name}: {reason}")]
    Algorithm {
        /// The `--abr` entry.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The QoE model does not fit a video.
    #[error("--qoe: {0}")]
    Qoe(String),
    /// The web root is not a folder.
    #[error("--web-root {}: {reason}", path.display())]
    WebRoot {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A certificate or key could not be read, parsed or generated.
    #[error("TLS: {}: {reason}", path.display())]
    Tls {
        /// The file (or state folder).
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another server using the port? try --port 0)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another I/O failure (runtime, signals).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}
