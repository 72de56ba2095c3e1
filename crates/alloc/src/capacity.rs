//! The link's capacity estimated from recent deliveries, for an allocator that is not told it.
//!
//! An egress sees its own bytes: each sample is `(bytes, seconds)` of a period in which the link
//! was busy (at least one download in flight), stamped with the link time it ended. The estimate
//! is the bytes over the busy time of the samples that ended in the last `window_s` seconds of
//! link time (the latest sample always counts): the rate the link carried while it had work,
//! which is its capacity when its downloads share it fully (a fluid, work-conserving link). Idle
//! periods are not samples, so a quiet link does not look slow; the window is link time, not busy
//! time, so a long outage (busy, few bytes) leaves the estimate once the window has passed it,
//! however little busy time the fast periods after it take.

use std::collections::VecDeque;

/// Link time over which the estimate averages, seconds (30 s beat 8 s on the training traces:
/// a shorter window follows every dip of a cellular link and caps players that could ride it out
/// on their buffers).
pub const DEFAULT_WINDOW_S: f64 = 30.0;

/// Capacity from recent busy periods (see the module doc).
#[derive(Debug, Clone)]
pub struct CapacityEstimator {
    window_s: f64,
    /// `(ended at link s, bytes, busy s)`, oldest first.
    samples: VecDeque<(f64, f64, f64)>,
    bytes: f64,
    secs: f64,
}

impl Default for CapacityEstimator {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_S)
    }
}

impl CapacityEstimator {
    /// An estimator over the last `window_s` seconds of link time (at least a millisecond).
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

    /// Records that the link carried `bytes` in `secs` seconds of busy time ending at link time
    /// `at_s`. Non-finite, negative or empty samples are ignored.
    pub fn record(&mut self, at_s: f64, bytes: f64, secs: f64) {
        if !(at_s.is_finite()
            && bytes.is_finite()
            && secs.is_finite()
            && bytes >= 0.0
            && secs > 0.0)
        {
            return;
        }
        self.samples.push_back((at_s, bytes, secs));
        self.bytes += bytes;
        self.secs += secs;
        while self.samples.len() > 1 && self.samples[0].0 < at_s - self.window_s {
            let (_, b, s) = self.samples.pop_front().expect("more than one sample");
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
    fn averages_the_recent_window_of_link_time() {
        let mut e = CapacityEstimator::new(4.0);
        assert_eq!(e.kbps(), None);
        e.record(1.0, 125_000.0, 1.0); // 1000 kbit/s
        assert!((e.kbps().unwrap() - 1000.0).abs() < 1e-9);
        e.record(2.0, f64::NAN, 1.0);
        e.record(2.0, 10.0, 0.0);
        // A 20 s outage (busy, 20 kB), then fast periods of 0.1 s busy each.
        e.record(22.0, 20_000.0, 20.0);
        assert!(e.kbps().unwrap() < 10.0);
        for k in 1..=10 {
            e.record(22.0 + k as f64, 250_000.0, 0.1); // 20 000 kbit/s
        }
        // The outage ended more than 4 s ago: it no longer counts.
        assert!(
            (e.kbps().unwrap() - 20_000.0).abs() < 1e-6,
            "{:?}",
            e.kbps()
        );
        // The latest sample always counts.
        e.record(100.0, 125_000.0, 1.0);
        assert!((e.kbps().unwrap() - 1000.0).abs() < 1e-9);
    }
}
