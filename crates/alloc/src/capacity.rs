//! The link's capacity estimated from recent deliveries, for an allocator that is not told it.
//!
//! An egress sees its own bytes: each sample is `(bytes, seconds)` of a period in which the link
//! was busy (at least one download in flight). The estimate is the bytes over the busy time of the
//! most recent `window_s` seconds of samples: the rate the link carried while it had work, which is
//! its capacity when its downloads share it fully (a fluid, work-conserving link). Idle periods are
//! not samples, so a quiet link does not look slow.

use std::collections::VecDeque;

/// Busy time over which the estimate averages, seconds.
pub const DEFAULT_WINDOW_S: f64 = 8.0;

/// Capacity from recent busy periods (see the module doc).
#[derive(Debug, Clone)]
pub struct CapacityEstimator {
    window_s: f64,
    samples: VecDeque<(f64, f64)>,
    bytes: f64,
    secs: f64,
}

impl Default for CapacityEstimator {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_S)
    }
}

impl CapacityEstimator {
    /// An estimator over the last `window_s` seconds of busy time (at least a millisecond).
    pub fn new(window_s: f64) -> Self {
        CapacityEstimator {
            window_s: if window_s.is_finite() {
                window_s.max(1e-3)
            } else {
                DEFAULT_WINDOW_S
            },
            samples: VecDeque::new(),
            bytes: 0.0,
            secs: 0.0,
        }
    }

    /// Records that the link carried `bytes` in `secs` seconds of busy time. Non-finite,
    /// negative or empty samples are ignored.
    pub fn record(&mut self, bytes: f64, secs: f64) {
        if !(bytes.is_finite() && secs.is_finite() && bytes >= 0.0 && secs > 0.0) {
            return;
        }
        self.samples.push_back((bytes, secs));
        self.bytes += bytes;
        self.secs += secs;
        while self.secs - self.samples.front().map_or(0.0, |s| s.1) >= self.window_s {
            let (b, s) = self.samples.pop_front().expect("non-empty: secs > 0");
            self.bytes -= b;
            self.secs -= s;
        }
    }

    /// The estimate, kbit/s; `None` before any sample.
    pub fn kbps(&self) -> Option<f64> {
        (self.secs > 0.0).then(|| (self.bytes.max(0.0) * 8.0 / 1000.0) / self.secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_recent_busy_window() {
        let mut e = CapacityEstimator::new(4.0);
        assert_eq!(e.kbps(), None);
        e.record(125_000.0, 1.0); // 1000 kbit/s
        assert!((e.kbps().unwrap() - 1000.0).abs() < 1e-9);
        e.record(f64::NAN, 1.0);
        e.record(10.0, 0.0);
        for _ in 0..10 {
            e.record(250_000.0, 1.0); // 2000 kbit/s pushes the old sample out
        }
        assert!((e.kbps().unwrap() - 2000.0).abs() < 1e-6, "{:?}", e.kbps());
    }
}
