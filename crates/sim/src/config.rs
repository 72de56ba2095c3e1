//! Simulator parameters and the Pensieve preset.

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
    pub startup_level: Option<usize>,
    /// Chunks played per session at most (Pensieve: 48 of the 49 its size files list). `None` plays all.
    pub max_chunks: Option<usize>,
    /// Training mode: multiply each delay (after the RTT) by a uniform factor in this range
    /// (Pensieve `env.py`: 0.9..1.1). `None` in test mode.
    pub delay_noise: Option<(f64, f64)>,
    /// Give up on a chunk after looping the trace this many times (guards near-zero traces).
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
            max_trace_loops: 1000,
        }
    }

    /// Pensieve's training-mode simulator (`sim/env.py`): test mode plus delay noise.
    pub fn pensieve_training() -> Self {
        SimConfig {
            delay_noise: Some((0.9, 1.1)),
            ..Self::pensieve()
        }
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
