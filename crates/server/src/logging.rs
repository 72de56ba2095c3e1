//! Structured logs with `tracing`: text or JSON lines on stderr (stdout carries only the
//! `listening on` and `certificate:` lines). The filter comes from `NEURALSTREAM_LOG` (or
//! `RUST_LOG`), e.g. `info` or `neuralstream_server=debug`; default `info`.

use crate::config::LogFormat;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber; does nothing if one is already installed.
pub fn init_logging(format: LogFormat) {
    let spec = std::env::var("NEURALSTREAM_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter: Targets = spec
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
