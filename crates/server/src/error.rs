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
    /// The real-time settings (`--rt-controllers`, `--rt-dataset`, limits) are unusable.
    #[error("{0}")]
    Rt(String),
    /// The QoE model does not fit a video.
    #[error("--qoe: {0}")]
    Qoe(String),
    /// The egress allocator's settings (`--egress-mbps`, `--allocator`) are wrong.
    #[error("{0}")]
    Egress(String),
    /// A `--cors` origin is malformed.
    #[error("--cors: {0}")]
    Cors(String),
    /// The web root is not a folder.
    #[error("--web-root {}: {reason}", path.display())]
    WebRoot {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The Pensieve client folder (`--pensieve-client`) is unusable.
    #[error("--pensieve-client {}: {reason}", path.display())]
    PensieveClient {
        /// The folder.
        path: PathBuf,
        /// What is wrong and how to fix it.
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
    #[error("cannot listen on {addr}: {source} ({})", bind_hint(source))]
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

/// What to try when binding failed, by the kind of failure.
fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "is another server using the port? try --port 0",
        std::io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address; --bind takes one of its own addresses, 127.0.0.1 or 0.0.0.0"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges; pick a port of 1024 or more"
        }
        _ => "check --bind and --port",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_hint_by_their_kind() {
        let addr: std::net::SocketAddr = "127.0.0.1:80".parse().unwrap();
        let text = |kind| {
            ServerError::Bind {
                addr,
                source: std::io::Error::from(kind),
            }
            .to_string()
        };
        assert!(text(std::io::ErrorKind::AddrInUse).contains("--port 0"));
        assert!(text(std::io::ErrorKind::AddrNotAvailable).contains("no such address"));
        assert!(text(std::io::ErrorKind::PermissionDenied).contains("1024"));
    }
}
