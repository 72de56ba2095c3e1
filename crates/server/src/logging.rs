//! Structured logs with `tracing`: text or JSON lines on stderr (stdout carries only the
//! `listening on` and `certificate:` lines). The filter comes from `NEURALSTREAM_LOG` (or
//! `RUST_LOG`), e.g. `info` or `neuralstream_server=debug`; default `info`.
//!
//! A warning a client can trigger at will (a 503 at the session cap) goes through a
//! [`WarnLimiter`]: the first few of each interval are logged, the rest counted and summed up in
//! one line, so a flood of refusals cannot flood the log.

use crate::config::LogFormat;
use std::sync::Mutex;
use std::time::{Duration, Instant};
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

/// Warnings of one kind logged per interval before the rest are only counted.
pub const WARN_BURST: u64 = 10;

/// Length of a [`WarnLimiter`] interval.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Rate limit of one kind of warning: the first `burst` of each interval are logged, the rest
/// are counted, and the count is logged as one summary line once the interval is over (by
/// [`WarnLimiter::flush`], which the server's sweeper calls, or by the next warning).
#[derive(Debug)]
pub struct WarnLimiter {
    what: &'static str,
    burst: u64,
    interval: Duration,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u64,
    suppressed: u64,
}

impl WarnLimiter {
    /// A limiter of the warnings called `what` (named in the summary line).
    pub fn new(what: &'static str, burst: u64, interval: Duration) -> Self {
        WarnLimiter {
            what,
            burst,
            interval,
            window: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// True when this warning should be logged; false when it was counted instead.
    pub fn admit(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        self.roll(&mut w, false);
        if w.logged < self.burst {
            w.logged += 1;
            true
        } else {
            w.suppressed += 1;
            false
        }
    }

    /// Logs the summary of an interval that is over (or, with `now`, of the current one).
    pub fn flush(&self, now: bool) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        self.roll(&mut w, now);
    }

    fn roll(&self, w: &mut Window, force: bool) {
        let elapsed = w.started.elapsed();
        if !force && elapsed < self.interval {
            return;
        }
        if w.suppressed > 0 {
            tracing::warn!(
                suppressed = w.suppressed,
                interval_s = elapsed.as_secs_f64(),
                "{}: {} more like it in the last {:.1} s were not logged",
                self.what,
                w.suppressed,
                elapsed.as_secs_f64()
            );
        }
        *w = Window {
            started: Instant::now(),
            logged: 0,
            suppressed: 0,
        };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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

    /// A writer that keeps every log line for the test to count.
    #[derive(Clone, Default)]
    pub(crate) struct Lines(pub(crate) std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        /// The log lines containing `needle`.
        pub(crate) fn count(&self, needle: &str) -> usize {
            String::from_utf8_lossy(&self.0.lock().unwrap())
                .lines()
                .filter(|l| l.contains(needle))
                .count()
        }
    }

    /// A subscriber writing to `lines`, for `tracing::subscriber::with_default`.
    pub(crate) fn capture(lines: &Lines) -> impl tracing::Subscriber {
        let lines = lines.clone();
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || lines.clone()),
        )
    }

    #[test]
    fn a_flood_of_warnings_logs_a_burst_and_one_summary() {
        let lines = Lines::default();
        let limiter = WarnLimiter::new("server error answered", 3, Duration::from_secs(3600));
        tracing::subscriber::with_default(capture(&lines), || {
            for _ in 0..1000 {
                if limiter.admit() {
                    tracing::warn!("server error answered");
                }
            }
            limiter.flush(false); // the interval is not over: nothing yet
            assert_eq!(lines.count("more like it"), 0);
            limiter.flush(true);
        });
        assert_eq!(
            lines.count("server error answered"),
            4,
            "3 warnings and 1 summary"
        );
        assert_eq!(lines.count("997 more like it"), 1);
    }
}
