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
    let filter: Targets = match spec.parse() {
        Ok(t) if plausible_filter(&spec) => t,
        _ => {
            eprintln!(
                "warning: ignoring the log filter {:?} (NEURALSTREAM_LOG or RUST_LOG): expected \
                 comma-separated LEVEL or TARGET=LEVEL, e.g. info or neuralstream_server=debug; \
                 logging at info",
                spec.chars().take(100).collect::<String>()
            );
            Targets::new().with_default(tracing::Level::INFO)
        }
    };
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

/// True when every directive of `spec` is `LEVEL`, `TARGET` or `TARGET=LEVEL` with a Rust path
/// as target: `Targets` also accepts junk such as `[[bad` as a target name, which silently turns
/// every log line off.
fn plausible_filter(spec: &str) -> bool {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let target = |t: &str| {
        !t.is_empty()
            && t.split("::").all(|seg| {
                !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    };
    !spec.trim().is_empty()
        && spec
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .all(|d| match d.split_once('=') {
                Some((t, level)) => {
                    target(t) && LEVELS.contains(&level.to_ascii_lowercase().as_str())
                }
                None => LEVELS.contains(&d.to_ascii_lowercase().as_str()) || target(d),
            })
}

#[cfg(test)]
mod tests {
    use super::plausible_filter;

    #[test]
    fn log_filters_are_checked() {
        for ok in [
            "info",
            "DEBUG",
            "neuralstream_server=debug",
            "info,hyper=warn",
            "tower_http",
        ] {
            assert!(plausible_filter(ok), "{ok}");
        }
        for bad in ["[[bad", "a=loud", "x::=info", "=info", "", "  "] {
            assert!(!plausible_filter(bad), "{bad}");
        }
    }
}
