//! Errors of the emulation harness, each saying what to do about it.

use thiserror::Error;

/// Why a link could not be emulated.
#[derive(Debug, Error)]
pub enum EmuError {
    /// Network namespaces and qdiscs need root (CAP_NET_ADMIN).
    #[error(
        "emulation needs root (network namespaces and tc need CAP_NET_ADMIN); run it as root, e.g. sudo"
    )]
    NotRoot,
    /// `ip` or `tc` is not installed.
    #[error(
        "`{0}` was not found on PATH; install iproute2 (apt-get install iproute2), or add /usr/sbin to PATH"
    )]
    MissingTool(&'static str),
    /// A command failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Config(String),
}
