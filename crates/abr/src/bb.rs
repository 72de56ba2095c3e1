//! Buffer-based ABR as implemented in Pensieve's `test/bb.py`, a linear reservoir/cushion map in the
//! spirit of Huang et al., "A Buffer-Based Approach to Rate Adaptation", SIGCOMM 2014.
//!
//! After each download, with `B` the buffer in seconds:
//! `B < reservoir` -> level 0; `B >= reservoir + cushion` -> top level; otherwise
//! `floor(top * (B - reservoir) / cushion)`. (With Pensieve's constants the ramp never reaches the top
//! level; only `B >= 15 s` does.) See `bba0.rs` for BBA-0 proper on general ladders.

use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of Pensieve's buffer-based rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BbParams {
    /// Below this buffer (s), always the lowest level (Pensieve `RESEVOIR` = 5).
    pub reservoir_s: f64,
    /// Width of the linear ramp (s) above the reservoir (Pensieve `CUSHION` = 10).
    pub cushion_s: f64,
}

impl Default for BbParams {
    fn default() -> Self {
        BbParams {
            reservoir_s: 5.0,
            cushion_s: 10.0,
        }
    }
}

/// Pensieve's buffer-based algorithm.
#[derive(Debug, Clone, Default)]
pub struct Bb {
    /// Parameters.
    pub params: BbParams,
}

impl Abr for Bb {
    fn name(&self) -> String {
        "bb".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let top = obs.video.num_levels() - 1;
        let b = obs.buffer_s;
        let p = &self.params;
        let level = if b < p.reservoir_s {
            0
        } else if b >= p.reservoir_s + p.cushion_s {
            top
        } else {
            (top as f64 * (b - p.reservoir_s) / p.cushion_s) as usize
        };
        Decision {
            level: level.min(top),
            predicted_throughput_kbps: None,
            buffer_target_s: Some(p.reservoir_s + p.cushion_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{Ladder, Video};

    #[test]
    fn maps_buffer_like_bb_py() {
        let v = Video::new("v", 4.0, Ladder::pensieve(), vec![vec![1; 3]; 6], vec![]).unwrap();
        let mut bb = Bb::default();
        let obs = |b| Observation {
            video: &v,
            next_chunk: 1,
            total_chunks: 3,
            buffer_s: b,
            last_level: 1,
            history: &[],
        };
        let levels: Vec<usize> = [0.0, 4.99, 5.0, 7.0, 9.0, 14.99, 15.0, 60.0]
            .iter()
            .map(|&b| bb.choose(&obs(b)).level)
            .collect();
        assert_eq!(levels, vec![0, 0, 0, 1, 2, 4, 5, 5]);
    }
}
