//! Simulator parameters and the Pensieve preset.
//!
//! Two fields model what a real player on a real link does and Pensieve's simulator does not, both
//! off in [`SimConfig::pensieve`] (so the parity tests see Pensieve's arithmetic unchanged) and set
//! together by [`SimConfig::with_real_link_requests`], the model of `neuralstream emulate`'s native
//! player (`play --trace-clock network`, `docs/sim_to_real.md`):
//!
//! - [`SimConfig::rtt_advances_trace`]: a request's round trip takes link time. The player waits
//!   `rtt_ms` before its bytes flow, and the trace runs on meanwhile, carrying nothing for it (a
//!   real link's capacity is a function of wall time). In Pensieve the RTT is added to the delay
//!   while the trace stands still, so the next bytes start where the last ones ended.
//! - [`SimConfig::init_segment_bytes`]: a DASH player fetches a level's init segment before its
//!   first chunk at that level after a switch (`play` without `--cache-init`): one more request, its
//!   round trip and its bytes on the link, before the chunk's own request.
//!
//! A third, [`SimConfig::trace_offset_ms`], models a harness rather than a link: the trace has
//! been running for a while when the player's first request goes out (`emulate` starts its
//! shaper, then the players; they reach their first request 0.6 to 2.25 s later, p10 to p90).
//! With all three on (the offset averaged over the measured starts) and Pensieve's RTT and payload
//! fraction, the simulator's per-rule mean QoE is within 8% of the emulation's on held-back
//! traces (`docs/sim_to_real.md`, "Simulator vs emulation").

use crate::SimError;
use neuralstream_core::{
    DEFAULT_MAX_TRACE_LOOPS, MAX_BUFFER_CAP_S, MAX_RTT_MS, MIN_PAYLOAD_FRACTION,
};
use serde::{Deserialize, Serialize};

/// The largest [`SimConfig::init_segment_bytes`] accepted: 10 MB (real ones are a few hundred
/// bytes to a few kB).
pub const MAX_INIT_SEGMENT_BYTES: u64 = 10_000_000;

/// The largest [`SimConfig::trace_offset_ms`] accepted: a day.
pub const MAX_TRACE_OFFSET_MS: f64 = 86_400_000.0;

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
    /// Round-trip time added to every download, ms; it advances the trace clock only with
    /// [`SimConfig::rtt_advances_trace`] (Pensieve: 80, trace standing still).
    pub rtt_ms: f64,
    /// The trace keeps running during each request's `rtt_ms` wait (no bytes are delivered in
    /// it), as on a real link; `false` is Pensieve's model (the trace stands still during the RTT).
    #[serde(default)]
    pub rtt_advances_trace: bool,
    /// Bytes of an init segment fetched, as a request of its own (round trip plus bytes on the
    /// link), before chunk 0 and before every chunk whose level differs from the previous chunk's,
    /// as a DASH player without an init cache does. `None` (Pensieve) fetches none.
    #[serde(default)]
    pub init_segment_bytes: Option<u64>,
    /// Trace time that has passed, nothing delivered, before the session's first request, ms
    /// (the link started before the player). 0: Pensieve.
    #[serde(default)]
    pub trace_offset_ms: f64,
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
            rtt_advances_trace: false,
            init_segment_bytes: None,
            trace_offset_ms: 0.0,
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

    /// This config with the request model of a player on a real link (`neuralstream emulate`'s
    /// native player): the trace runs during every round trip and an init segment of
    /// `init_segment_bytes` precedes every level switch (`None`: no init segments). The link's
    /// constants (`rtt_ms`, `payload_fraction`) are kept.
    pub fn with_real_link_requests(self, init_segment_bytes: Option<u64>) -> Self {
        SimConfig {
            rtt_advances_trace: true,
            init_segment_bytes,
            ..self
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
        if let Some(b) = self.init_segment_bytes {
            if !(1..=MAX_INIT_SEGMENT_BYTES).contains(&b) {
                return bad(
                    "init_segment_bytes",
                    format!(
                        "must be from 1 to {MAX_INIT_SEGMENT_BYTES} bytes (None fetches no init \
                         segments), got {b}"
                    ),
                );
            }
        }
        if !(self.trace_offset_ms.is_finite()
            && (0.0..=MAX_TRACE_OFFSET_MS).contains(&self.trace_offset_ms))
        {
            return bad(
                "trace_offset_ms",
                format!(
                    "must be a number of ms from 0 to {MAX_TRACE_OFFSET_MS}, got {}",
                    self.trace_offset_ms
                ),
            );
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
        SimConfig::pensieve()
            .with_real_link_requests(Some(900))
            .validate()
            .unwrap();
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
                "init_segment_bytes",
                SimConfig {
                    init_segment_bytes: Some(0),
                    ..base.clone()
                },
            ),
            (
                "init_segment_bytes",
                SimConfig {
                    init_segment_bytes: Some(MAX_INIT_SEGMENT_BYTES + 1),
                    ..base.clone()
                },
            ),
            (
                "trace_offset_ms",
                SimConfig {
                    trace_offset_ms: -1.0,
                    ..base.clone()
                },
            ),
            (
                "trace_offset_ms",
                SimConfig {
                    trace_offset_ms: f64::NAN,
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
