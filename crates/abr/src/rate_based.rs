//! Rate-based (throughput-based) adaptation: the "RB" baseline of Yin et al., "A Control-Theoretic
//! Approach for Dynamic Adaptive Video Streaming over HTTP", SIGCOMM 2015, and of Mao et al.,
//! "Neural Adaptive Video Streaming with Pensieve", SIGCOMM 2017.
//!
//! Before each chunk: estimate the throughput as the harmonic mean of the last 5 measured throughputs
//! (the same predictor as Pensieve's `test/mpc.py`, see [`crate::throughput::harmonic_mean_kbps`]),
//! multiply it by a safety factor, and fetch the highest level whose nominal bitrate is at most that.
//! Level 0 when even the lowest level is above it. With no measurement yet (empty history) the last
//! level is kept.

use crate::throughput::harmonic_mean_kbps;
use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of the rate-based rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RateBasedParams {
    /// Number of most recent throughput samples in the harmonic mean (default 5, as Pensieve's MPC).
    pub window_chunks: usize,
    /// Multiplier applied to the estimate before choosing (default 1.0: no margin).
    pub safety_factor: f64,
}

impl Default for RateBasedParams {
    fn default() -> Self {
        RateBasedParams {
            window_chunks: 5,
            safety_factor: 1.0,
        }
    }
}

/// Rate-based ABR: highest level at or below the harmonic-mean throughput forecast.
#[derive(Debug, Clone, Default)]
pub struct RateBased {
    /// Parameters.
    pub params: RateBasedParams,
}

impl Abr for RateBased {
    fn name(&self) -> String {
        "rate".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let top = obs.video.num_levels() - 1;
        match harmonic_mean_kbps(obs.history, self.params.window_chunks) {
            Some(h) => {
                let budget_kbps = h * self.params.safety_factor;
                Decision {
                    level: obs.video.ladder.highest_at_most(budget_kbps).min(top),
                    predicted_throughput_kbps: Some(h),
                    buffer_target_s: None,
                }
            }
            None => Decision::level(obs.last_level.min(top)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throughput::test_util::rec;
    use neuralstream_core::{ChunkRecord, Ladder, Video};

    fn video() -> Video {
        Video::new("v", 4.0, Ladder::pensieve(), vec![vec![1; 3]; 6], vec![]).unwrap()
    }

    fn choose(abr: &mut RateBased, v: &Video, history: &[ChunkRecord]) -> Decision {
        abr.choose(&Observation {
            video: v,
            next_chunk: 1,
            total_chunks: 3,
            buffer_s: 10.0,
            last_level: 1,
            history,
        })
    }

    #[test]
    fn picks_highest_level_below_harmonic_mean() {
        let v = video();
        let mut abr = RateBased::default();
        // harmonic mean of 1000 and 4000 = 1600 -> 1200 kbps (level 2)
        let h = [rec(0, 1000.0, 1000.0), rec(0, 4000.0, 1000.0)];
        let d = choose(&mut abr, &v, &h);
        assert_eq!(d.level, 2);
        assert!((d.predicted_throughput_kbps.unwrap() - 1600.0).abs() < 1e-6);
        // only the last 5 count: an old 100 kbps sample is forgotten
        let mut h: Vec<_> = vec![rec(0, 100.0, 1000.0)];
        h.extend(std::iter::repeat_n(rec(0, 5000.0, 1000.0), 5));
        assert_eq!(choose(&mut abr, &v, &h).level, 5);
        // below the lowest bitrate -> level 0
        assert_eq!(choose(&mut abr, &v, &[rec(0, 100.0, 1000.0)]).level, 0);
    }

    #[test]
    fn safety_factor_and_empty_history() {
        let v = video();
        let mut abr = RateBased {
            params: RateBasedParams {
                safety_factor: 0.5,
                ..Default::default()
            },
        };
        // 0.5 * 2000 = 1000 -> 750 kbps (level 1)
        assert_eq!(choose(&mut abr, &v, &[rec(0, 2000.0, 1000.0)]).level, 1);
        let d = choose(&mut abr, &v, &[]);
        assert_eq!(d.level, 1);
        assert_eq!(d.predicted_throughput_kbps, None);
    }
}
