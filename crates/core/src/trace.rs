//! Network throughput traces.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};

/// A throughput trace in Pensieve's "cooked" form: sample times and the throughput that holds up to each.
///
/// Semantics (as in Pensieve's simulator): `bandwidth_mbps[i]` is the link capacity during the interval
/// `(time_s[i-1], time_s[i]]`; `bandwidth_mbps[0]` is never used. When a session runs past the last
/// sample the trace loops back to its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Name (usually the file name without folder).
    pub name: String,
    /// Sample times, seconds, strictly increasing, starting at 0.
    pub time_s: Vec<f64>,
    /// Throughput, Mbit/s (10^6 bit/s), finite and non-negative.
    pub bandwidth_mbps: Vec<f64>,
}

impl Trace {
    /// Builds and validates a trace. Times are shifted so that the first sample is at 0 s. (Pensieve
    /// keeps the file's times and restarts its clock at 0 when the trace wraps; the two agree for
    /// traces that start at 0, as every shared trace does, and differ by the first time otherwise.)
    ///
    /// Rejects: fewer than two samples, non-finite or non-increasing times, a span under
    /// [`crate::limits::MIN_TRACE_SPAN_S`], negative or non-finite throughput, and traces that can
    /// never deliver a byte (zero throughput on every used line), which would otherwise stall a
    /// simulation forever.
    pub fn new(
        name: impl Into<String>,
        mut time_s: Vec<f64>,
        bandwidth_mbps: Vec<f64>,
    ) -> Result<Self, CoreError> {
        let name = name.into();
        let bad = |reason: String| CoreError::InvalidTrace {
            name: name.clone(),
            reason,
        };
        if time_s.len() != bandwidth_mbps.len() {
            return Err(bad(format!(
                "{} times but {} throughput samples",
                time_s.len(),
                bandwidth_mbps.len()
            )));
        }
        if time_s.len() < 2 {
            return Err(bad(format!(
                "needs at least 2 samples (the first only marks time 0), got {}",
                time_s.len()
            )));
        }
        for (i, (&t, &b)) in time_s.iter().zip(&bandwidth_mbps).enumerate() {
            if !t.is_finite() {
                return Err(bad(format!(
                    "sample {}: time {t} is not a finite number",
                    i + 1
                )));
            }
            if !(b.is_finite() && b >= 0.0) {
                return Err(bad(format!(
                    "sample {}: throughput {b} Mbit/s must be a finite number >= 0",
                    i + 1
                )));
            }
            if i > 0 && t <= time_s[i - 1] {
                return Err(bad(format!(
                    "sample {}: time {t} s is not after the previous sample's {} s; times must increase",
                    i + 1,
                    time_s[i - 1]
                )));
            }
        }
        let span_s = time_s[time_s.len() - 1] - time_s[0];
        if span_s < crate::limits::MIN_TRACE_SPAN_S {
            return Err(bad(format!(
                "spans only {span_s} s; a trace must cover at least {} s (the simulator loops it, \
                 so a constant link needs just two lines, e.g. `0 2` and `1 2`)",
                crate::limits::MIN_TRACE_SPAN_S
            )));
        }
        if bandwidth_mbps[1..].iter().all(|&b| b == 0.0) {
            return Err(bad(
                "throughput is 0 on every line, so no chunk could ever finish; use a trace with some capacity"
                    .into(),
            ));
        }
        let t0 = time_s[0];
        if t0 != 0.0 {
            for t in &mut time_s {
                *t -= t0;
            }
        }
        Ok(Trace {
            name,
            time_s,
            bandwidth_mbps,
        })
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.time_s.len()
    }

    /// Always false for a validated trace (it has at least two samples).
    pub fn is_empty(&self) -> bool {
        self.time_s.is_empty()
    }

    /// Time of the last sample (the length of one loop of the trace), seconds.
    pub fn duration_s(&self) -> f64 {
        *self.time_s.last().expect("validated trace is non-empty")
    }

    /// Time-weighted mean throughput over one loop, Mbit/s.
    pub fn mean_mbps(&self) -> f64 {
        let mut acc = 0.0;
        for i in 1..self.len() {
            acc += self.bandwidth_mbps[i] * (self.time_s[i] - self.time_s[i - 1]);
        }
        acc / self.duration_s()
    }

    /// Throughput in force at trace time `t_s` (looping), Mbit/s.
    pub fn bandwidth_mbps_at(&self, t_s: f64) -> f64 {
        let d = self.duration_s();
        let t = t_s.rem_euclid(d);
        let i = self
            .time_s
            .partition_point(|&x| x < t)
            .clamp(1, self.len() - 1);
        self.bandwidth_mbps[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_increasing_time_with_line_number() {
        let e = Trace::new("t", vec![0.0, 1.0, 1.0], vec![1.0, 1.0, 1.0]).unwrap_err();
        assert!(e.to_string().contains("sample 3"), "{e}");
    }

    #[test]
    fn rejects_all_zero_and_negative() {
        assert!(Trace::new("t", vec![0.0, 1.0], vec![5.0, 0.0])
            .unwrap_err()
            .to_string()
            .contains("0 on every line"));
        assert!(Trace::new("t", vec![0.0, 1.0], vec![1.0, -1.0]).is_err());
        assert!(Trace::new("t", vec![0.0, 1.0], vec![1.0, f64::NAN]).is_err());
        // Shorter than a millisecond: refused, with the two-line constant link as the fix.
        let e = Trace::new("t", vec![0.0, 1e-300], vec![1.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("spans only") && e.contains("`0 2`"), "{e}");
        assert!(Trace::new("t", vec![0.0, 0.001], vec![1.0, 1.0]).is_ok());
    }

    #[test]
    fn shifts_to_zero_and_computes_mean() {
        let t = Trace::new("t", vec![10.0, 11.0, 13.0], vec![9.0, 1.0, 4.0]).unwrap();
        assert_eq!(t.time_s, vec![0.0, 1.0, 3.0]);
        assert!((t.mean_mbps() - 3.0).abs() < 1e-12);
        assert_eq!(t.bandwidth_mbps_at(0.5), 1.0);
        assert_eq!(t.bandwidth_mbps_at(2.0), 4.0);
        assert_eq!(t.bandwidth_mbps_at(3.5), 1.0);
    }
}
