//! Simulator parameters and the Pensieve preset.

use crate::SimError;
use neuralstream_core::{
    DEFAULT_MAX_TRACE_LOOPS, MAX_BUFFER_CAP_S, MAX_RTT_MS, MIN_PAYLOAD_FRACTION,
};
use serde::{Deserialize, Serialize};

/// Where in the trace a session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartPosition {
    /// At time 0 (Pensieve's test mode, `fixed_env.py`).
    Beginning,
    /// At sample `index >= 1`, clock at `time_s[index - 1]` (Pensieve's training mode draws `index`
    /// uniformly from `1..len`).
    Sample(usize),
}

/// Every constant of the player and network model. [`SimConfig::pensieve`] is Pensieve's preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Fraction of link capacity that carries payload (Pensieve: 0.95).
    pub payload_fraction: f64,
    /// Round-trip time added to every download, ms; it does not advance the trace clock (Pensieve: 80).
    pub rtt_ms: f64,
    /// Buffer cap, ms; above it the player sleeps (Pensieve: 60 000).
    pub buffer_cap_ms: f64,
    /// Sleep granularity when the buffer is over the cap, ms; sleeping advances the trace clock
    /// (Pensieve: 500).
    pub drain_sleep_ms: f64,
    /// Level of chunk 0, fixed, not asked of the algorithm (Pensieve: `Some(1)`). `None` asks it.
    /// A level above the ladder's top is played as the top level (a 3-level ladder starts at 1,
    /// a 1-level ladder at 0).
    pub startup_level: Option<usize>,
    /// Chunks played per session at most (Pensieve: 48 of the 49 its size files list). `None` plays all.
    pub max_chunks: Option<usize>,
    /// Training mode: multiply each delay (after the RTT) by a uniform factor in this range
    /// (Pensieve `env.py`: 0.9..1.1). `None` in test mode.
    pub delay_noise: Option<(f64, f64)>,
    /// Give up on a chunk after looping the trace more than this many times and spending a day of
    /// trace time on it or walking 100 M trace intervals ([`neuralstream_core::download_is_stalled`];
    /// guards near-zero traces).
    pub max_trace_loops: usize,
}

impl SimConfig {
    /// Pensieve's test-mode simulator (`test/fixed_env.py`).
    pub fn pensieve() -> Self {
        SimConfig {
            payload_fraction: 0.95,
            rtt_ms: 80.0,
            buffer_cap_ms: 60_000.0,
            drain_sleep_ms: 500.0,
            startup_level: Some(1),
            max_chunks: Some(48),
            delay_noise: None,
            max_trace_loops: DEFAULT_MAX_TRACE_LOOPS,
        }
    }

    /// Pensieve's training-mode simulator (`sim/env.py`): test mode plus delay noise.
    pub fn pensieve_training() -> Self {
        SimConfig {
            delay_noise: Some((0.9, 1.1)),
            ..Self::pensieve()
        }
    }

    /// Checks every field's range; [`crate::run_session`] calls it, and code that builds
    /// [`crate::Session`]s itself should call it once. Without it a zero sleep step gives a NaN
    /// buffer, a negative cap a negative one, and so on.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad =
            |field: &'static str, problem: String| Err(SimError::InvalidConfig { field, problem });
        if !(MIN_PAYLOAD_FRACTION..=1.0).contains(&self.payload_fraction) {
            return bad(
                "payload_fraction",
                format!(
                    "must be from {MIN_PAYLOAD_FRACTION} to 1, got {}",
                    self.payload_fraction
                ),
            );
        }
        if !(self.rtt_ms.is_finite() && (0.0..=MAX_RTT_MS).contains(&self.rtt_ms)) {
            return bad(
                "rtt_ms",
                format!(
                    "must be a number of ms from 0 to {MAX_RTT_MS}, got {}",
                    self.rtt_ms
                ),
            );
        }
        if !(self.buffer_cap_ms > 0.0 && self.buffer_cap_ms <= MAX_BUFFER_CAP_S * 1000.0) {
            return bad(
                "buffer_cap_ms",
                format!(
                    "must be a number of ms > 0 and at most {}, got {}",
                    MAX_BUFFER_CAP_S * 1000.0,
                    self.buffer_cap_ms
                ),
            );
        }
        if !(self.drain_sleep_ms.is_finite() && self.drain_sleep_ms > 0.0) {
            return bad(
                "drain_sleep_ms",
                format!(
                    "must be a finite number of ms > 0, got {}",
                    self.drain_sleep_ms
                ),
            );
        }
        if let Some((lo, hi)) = self.delay_noise {
            if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi) {
                return bad(
                    "delay_noise",
                    format!("must be factors 0 < low <= high, got ({lo}, {hi})"),
                );
            }
        }
        if self.max_chunks == Some(0) {
            return bad(
                "max_chunks",
                "must be at least 1 (None plays every chunk)".into(),
            );
        }
        if self.max_trace_loops == 0 {
            return bad("max_trace_loops", "must be at least 1".into());
        }
        Ok(())
    }

    /// Chunks a session over a video of `video_chunks` chunks plays.
    pub fn chunks_for(&self, video_chunks: usize) -> usize {
        self.max_chunks
            .map_or(video_chunks, |m| m.min(video_chunks))
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::pensieve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_each_bad_field_is_named() {
        SimConfig::pensieve().validate().unwrap();
        SimConfig::pensieve_training().validate().unwrap();
        let base = SimConfig::pensieve();
        let cases: Vec<(&str, SimConfig)> = vec![
            (
                "payload_fraction",
                SimConfig {
                    payload_fraction: 0.0,
                    ..base.clone()
                },
            ),
            (
                "payload_fraction",
                SimConfig {
                    payload_fraction: f64::NAN,
                    ..base.clone()
                },
            ),
            (
                "payload_fraction",
                SimConfig {
                    payload_fraction: 1e-300,
                    ..base.clone()
                },
            ),
            (
                "rtt_ms",
                SimConfig {
                    rtt_ms: -1.0,
                    ..base.clone()
                },
            ),
            (
                "rtt_ms",
                SimConfig {
                    rtt_ms: 60_001.0,
                    ..base.clone()
                },
            ),
            (
                "buffer_cap_ms",
                SimConfig {
                    buffer_cap_ms: f64::INFINITY,
                    ..base.clone()
                },
            ),
            (
                "buffer_cap_ms",
                SimConfig {
                    buffer_cap_ms: -5.0,
                    ..base.clone()
                },
            ),
            (
                "drain_sleep_ms",
                SimConfig {
                    drain_sleep_ms: 0.0,
                    ..base.clone()
                },
            ),
            (
                "delay_noise",
                SimConfig {
                    delay_noise: Some((1.1, 0.9)),
                    ..base.clone()
                },
            ),
            (
                "delay_noise",
                SimConfig {
                    delay_noise: Some((0.0, 1.0)),
                    ..base.clone()
                },
            ),
            (
                "max_chunks",
                SimConfig {
                    max_chunks: Some(0),
                    ..base.clone()
                },
            ),
            (
                "max_trace_loops",
                SimConfig {
                    max_trace_loops: 0,
                    ..base.clone()
                },
            ),
        ];
        for (field, cfg) in cases {
            let e = cfg.validate().unwrap_err();
            assert!(
                e.to_string().contains(&format!("`{field}`")),
                "{field}: {e}"
            );
        }
    }
}
