//! The state featurisation of learned policies: a fixed-length `f32` vector computed from an
//! [`Observation`] only, normalised relative to the ladder so that it transfers to other ladders,
//! other videos and faster networks.
//!
//! Layout for a ladder of `L` levels and a history of `H` chunks ([`FeatureSpec::len`] =
//! `2 H + 2 L + 2`), every entry documented with its scale:
//!
//! | offset | count | feature |
//! |---|---|---|
//! | 0 | `H` | measured throughput of the last `H` chunks / top bitrate, oldest first, clamped to `[0, max_throughput_ratio]`; 0 where the session has fewer downloads |
//! | `H` | `H` | download time of the last `H` chunks / chunk duration, clamped to `[0, max_delay_ratio]`; 0 where missing |
//! | `2H` | 1 | buffer / buffer cap (both seconds), clamped to `[0, 1.5]` |
//! | `2H+1` | `L` | last level, one-hot |
//! | `2H+1+L` | `L` | next chunk's size at every level / (that level's nominal bitrate x chunk duration): 1 means "as advertised" |
//! | `2H+1+2L` | 1 | chunks left (including the one being chosen) / chunks in the session: the input Pensieve's model never saw (reference section 5.1) |
//!
//! Nothing here uses Pensieve's hard-coded constants (4300 kbit/s, 10 s, 48 chunks): every scale
//! comes from the observed video (its top bitrate, chunk duration, chunk count) or from the spec.

use neuralstream_core::Observation;
use serde::{Deserialize, Serialize};

/// Format version written into [`FeatureSpec::version`]; bump when the layout changes.
pub const FEATURE_VERSION: u32 = 1;

/// Everything needed to rebuild the featurisation of a trained policy; stored as JSON in
/// checkpoint metadata so that a policy is always fed the features it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Layout version ([`FEATURE_VERSION`] when created by this crate).
    pub version: u32,
    /// Number of levels of the ladder the policy chooses from.
    pub num_levels: usize,
    /// Number of past chunks whose throughput and download time are fed (Pensieve: 8).
    pub history_len: usize,
    /// Buffer that maps to feature value 1, seconds (the player's buffer cap; Pensieve: 60).
    pub buffer_scale_s: f64,
    /// Clamp of the throughput / top-bitrate ratio (keeps fast networks in range).
    pub max_throughput_ratio: f64,
    /// Clamp of the download-time / chunk-duration ratio (keeps long stalls in range).
    pub max_delay_ratio: f64,
}

/// What is wrong with a fixed-ladder spec of layout `version` (not [`FEATURE_VERSION`]).
pub(crate) fn wrong_version(version: u64) -> String {
    if version == u64::from(crate::agnostic::AGNOSTIC_VERSION)
        || version == u64::from(crate::agnostic::AGNOSTIC_HINTS_VERSION)
    {
        format!("feature layout version {version} is the ladder-agnostic layout, not the fixed-ladder {FEATURE_VERSION}; load the file with Policy::load")
    } else {
        format!("feature layout version {version} is not the {FEATURE_VERSION} this build reads; use a NeuralStream of the version that trained it, or retrain")
    }
}

impl FeatureSpec {
    /// The default spec for a ladder of `num_levels` levels: 8 chunks of history, buffer scaled by
    /// 60 s, throughput ratios clamped at 10, delay ratios at 10.
    pub fn new(num_levels: usize) -> Self {
        FeatureSpec {
            version: FEATURE_VERSION,
            num_levels,
            history_len: 8,
            buffer_scale_s: 60.0,
            max_throughput_ratio: 10.0,
            max_delay_ratio: 10.0,
        }
    }

    /// Length of the feature vector.
    pub fn len(&self) -> usize {
        2 * self.history_len + 2 * self.num_levels + 2
    }

    /// Always false for a usable spec (the vector holds at least the buffer and chunks left).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Offset of the buffer feature.
    pub fn buffer_offset(&self) -> usize {
        2 * self.history_len
    }

    /// Offset of the last-level one-hot block.
    pub fn last_level_offset(&self) -> usize {
        2 * self.history_len + 1
    }

    /// Offset of the next-chunk relative sizes block.
    pub fn next_sizes_offset(&self) -> usize {
        2 * self.history_len + 1 + self.num_levels
    }

    /// Offset of the chunks-left fraction (the last entry).
    pub fn chunks_left_offset(&self) -> usize {
        2 * self.history_len + 1 + 2 * self.num_levels
    }

    /// Longest history a spec may ask for, chunks (what `train --history` accepts).
    pub const MAX_HISTORY_LEN: usize = 64;
    /// Most levels a spec may have.
    pub const MAX_LEVELS: usize = 64;

    /// Checks a spec read from a file: this layout version, 1 to [`Self::MAX_LEVELS`] levels,
    /// 1 to [`Self::MAX_HISTORY_LEN`] chunks of history, finite positive scales and clamps.
    /// Returns what is wrong, for the caller to put in its error.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != FEATURE_VERSION {
            return Err(wrong_version(u64::from(self.version)));
        }
        if !(1..=Self::MAX_LEVELS).contains(&self.num_levels) {
            return Err(format!(
                "num_levels must be 1 to {}, got {}",
                Self::MAX_LEVELS,
                self.num_levels
            ));
        }
        if !(1..=Self::MAX_HISTORY_LEN).contains(&self.history_len) {
            return Err(format!(
                "history_len must be 1 to {}, got {}",
                Self::MAX_HISTORY_LEN,
                self.history_len
            ));
        }
        for (name, v) in [
            ("buffer_scale_s", self.buffer_scale_s),
            ("max_throughput_ratio", self.max_throughput_ratio),
            ("max_delay_ratio", self.max_delay_ratio),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a finite number > 0, got {v}"));
            }
        }
        Ok(())
    }

    /// Writes the features of `obs` into `out` (length [`FeatureSpec::len`]); allocates nothing.
    ///
    /// # Panics
    /// If `out.len() != self.len()` or the video's ladder does not have `num_levels` levels.
    pub fn write(&self, obs: &Observation<'_>, out: &mut [f32]) {
        assert_eq!(out.len(), self.len(), "feature buffer has the wrong length");
        let video = obs.video;
        let ladder = &video.ladder;
        assert_eq!(
            ladder.len(),
            self.num_levels,
            "policy was trained for {} levels but video '{}' has {}",
            self.num_levels,
            video.name,
            ladder.len()
        );
        out.fill(0.0);
        let h = self.history_len;
        let top_kbps = ladder.kbps(ladder.top());
        let chunk_ms = video.chunk_duration_s * 1000.0;
        let recent = &obs.history[obs.history.len().saturating_sub(h)..];
        // Right-align the history: the newest chunk is always at index h - 1.
        let pad = h - recent.len();
        for (i, rec) in recent.iter().enumerate() {
            let thr = if rec.delay_ms > 0.0 {
                rec.throughput_kbps() / top_kbps
            } else {
                self.max_throughput_ratio
            };
            out[pad + i] = thr.clamp(0.0, self.max_throughput_ratio) as f32;
            out[h + pad + i] = (rec.delay_ms / chunk_ms).clamp(0.0, self.max_delay_ratio) as f32;
        }
        out[self.buffer_offset()] = (obs.buffer_s / self.buffer_scale_s).clamp(0.0, 1.5) as f32;
        out[self.last_level_offset() + obs.last_level.min(self.num_levels - 1)] = 1.0;
        let next = obs
            .next_chunk
            .min(video.chunk_bytes[0].len().saturating_sub(1));
        let sizes = self.next_sizes_offset();
        for level in 0..self.num_levels {
            let nominal_bytes = ladder.kbps(level) * 1000.0 / 8.0 * video.chunk_duration_s;
            let bytes = video.chunk_bytes[level][next] as f64;
            out[sizes + level] = (bytes / nominal_bytes).clamp(0.0, 10.0) as f32;
        }
        out[self.chunks_left_offset()] = if obs.total_chunks == 0 {
            0.0
        } else {
            (obs.chunks_left() as f64 / obs.total_chunks as f64) as f32
        };
    }

    /// Convenience wrapper of [`FeatureSpec::write`] that allocates the vector.
    pub fn compute(&self, obs: &Observation<'_>) -> Vec<f32> {
        let mut out = vec![0.0; self.len()];
        self.write(obs, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::video::Ladder;
    use neuralstream_core::{ChunkRecord, Video};

    fn video() -> Video {
        let ladder = Ladder::from_kbps(&[1000.0, 2000.0]);
        // 2 s chunks: nominal 250 000 and 500 000 bytes.
        Video::new(
            "t",
            2.0,
            ladder,
            vec![vec![250_000, 125_000], vec![500_000, 1_000_000]],
            vec![],
        )
        .unwrap()
    }

    fn rec(level: usize, size_bytes: u64, delay_ms: f64) -> ChunkRecord {
        ChunkRecord {
            level,
            size_bytes,
            delay_ms,
            ..ChunkRecord::default()
        }
    }

    #[test]
    fn empty_history_layout() {
        let v = video();
        let spec = FeatureSpec::new(2);
        assert_eq!(spec.len(), 2 * 8 + 2 * 2 + 2);
        let obs = Observation {
            video: &v,
            next_chunk: 0,
            total_chunks: 2,
            buffer_s: 30.0,
            last_level: 1,
            history: &[],
        };
        let f = spec.compute(&obs);
        assert!(f[..16].iter().all(|&x| x == 0.0));
        assert_eq!(f[spec.buffer_offset()], 0.5);
        assert_eq!(&f[spec.last_level_offset()..][..2], &[0.0, 1.0]);
        assert_eq!(&f[spec.next_sizes_offset()..][..2], &[1.0, 1.0]);
        assert_eq!(f[spec.chunks_left_offset()], 1.0);
    }

    #[test]
    fn history_is_right_aligned_and_relative_to_ladder() {
        let v = video();
        let spec = FeatureSpec::new(2);
        // 500 000 bytes in 1000 ms = 4000 kbit/s = 2x the top bitrate; delay = half a chunk.
        let history = [rec(0, 250_000, 2000.0), rec(1, 500_000, 1000.0)];
        let obs = Observation {
            video: &v,
            next_chunk: 1,
            total_chunks: 2,
            buffer_s: 90.0,
            last_level: 0,
            history: &history,
        };
        let f = spec.compute(&obs);
        assert_eq!(f[6], 0.5); // 1000 kbit/s / 2000
        assert_eq!(f[7], 2.0);
        assert_eq!(f[8 + 6], 1.0);
        assert_eq!(f[8 + 7], 0.5);
        assert!(f[..6].iter().all(|&x| x == 0.0));
        assert_eq!(f[spec.buffer_offset()], 1.5); // clamped
        assert_eq!(&f[spec.next_sizes_offset()..][..2], &[0.5, 2.0]);
        assert_eq!(f[spec.chunks_left_offset()], 0.5);
    }

    #[test]
    fn scaling_the_ladder_and_network_together_keeps_features() {
        // Same session on a 10x faster network with a 10x ladder: identical features.
        let v = video();
        let fast = Video::new(
            "fast",
            2.0,
            Ladder::from_kbps(&[10_000.0, 20_000.0]),
            vec![vec![2_500_000, 1_250_000], vec![5_000_000, 10_000_000]],
            vec![],
        )
        .unwrap();
        let spec = FeatureSpec::new(2);
        let h1 = [rec(1, 500_000, 1000.0)];
        let h2 = [rec(1, 5_000_000, 1000.0)];
        let mk = |video, history| Observation {
            video,
            next_chunk: 1,
            total_chunks: 2,
            buffer_s: 4.0,
            last_level: 1,
            history,
        };
        assert_eq!(spec.compute(&mk(&v, &h1)), spec.compute(&mk(&fast, &h2)));
    }

    #[test]
    fn spec_json_round_trip() {
        let spec = FeatureSpec::new(6);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<FeatureSpec>(&json).unwrap(), spec);
    }
}
