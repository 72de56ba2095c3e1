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
//!
//! **Outages do not count while the link carries most of its bytes fast.** On a cellular or 5G
//! link an outage (tens of kbit/s for seconds, as `ucc5g` traces open with) is busy time with
//! hardly a byte: averaged in, it pulls the estimate far below what the link carries once it is
//! back, and the allocators' caps bind where full buffers would have ridden the outage out. So a
//! sample slower than [`OUTAGE_FRACTION`] of the *byte-weighted median* rate (the rate at which
//! half of the window's bytes were carried) is left out. The median is over bytes, not time, since
//! an outage takes much busy time and few bytes; when the link is slow throughout, the slow
//! samples carry the bytes, the median is slow and they count.

use std::collections::VecDeque;

/// A sample slower than this fraction of the window's byte-weighted median rate is an outage and
/// left out of the estimate (0.5 beat 0, 0.1 and 0.3 on the training traces, for `maxmin` and
/// `fair` alike; `docs/benchmarks.md`, "Shared link").
pub const OUTAGE_FRACTION: f64 = 0.5;

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
        while self.samples.len() > 1 && self.samples[0].0 < at_s - self.window_s {
            self.samples.pop_front();
        }
    }

    /// The estimate, kbit/s; `None` before any sample.
    pub fn kbps(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        // (bytes per busy second, busy seconds) of every sample, slowest first.
        let mut rates: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|&(_, b, s)| (b.max(0.0) / s, s))
            .collect();
        rates.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The rate at which half of the window's bytes were carried (the byte-weighted median).
        let half_bytes = rates.iter().map(|&(r, s)| r * s).sum::<f64>() / 2.0;
        let mut carried = 0.0;
        let mut median = rates.last().map_or(0.0, |r| r.0);
        for &(r, s) in &rates {
            carried += r * s;
            if carried >= half_bytes {
                median = r;
                break;
            }
        }
        // Bytes over busy time of the periods that are not outages (at least the median's own).
        let (bytes, secs) = rates
            .iter()
            .filter(|&&(r, _)| r >= OUTAGE_FRACTION * median)
            .fold((0.0, 0.0), |(b, t), &(r, s)| (b + r * s, t + s));
        (secs > 0.0).then(|| (bytes * 8.0 / 1000.0) / secs)
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

    #[test]
    fn an_outage_inside_the_window_does_not_pull_the_estimate_down() {
        let mut e = CapacityEstimator::new(30.0);
        // 10 s of outage (8 kbit/s, busy), then 2 s carrying 20 000 kbit/s: the fast periods
        // carry nearly every byte, so the outage is left out.
        e.record(10.0, 10_000.0, 10.0);
        e.record(11.0, 2_500_000.0, 1.0);
        e.record(12.0, 2_500_000.0, 1.0);
        assert!(
            (e.kbps().unwrap() - 20_000.0).abs() < 1e-6,
            "{:?}",
            e.kbps()
        );
        // The old average would have said (5 010 000 B * 8) / 12 s = 3340 kbit/s.
        // A link slow throughout is slow: its slow samples carry its bytes.
        let mut slow = CapacityEstimator::new(30.0);
        slow.record(1.0, 12_500.0, 1.0); // 100 kbit/s
        slow.record(2.0, 25_000.0, 1.0); // 200 kbit/s
        slow.record(3.0, 18_750.0, 1.0); // 150 kbit/s
        assert!(
            (slow.kbps().unwrap() - 150.0).abs() < 1e-9,
            "{:?}",
            slow.kbps()
        );
    }
}
