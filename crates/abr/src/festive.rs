//! FESTIVE of Jiang, Sekar, Zhang, "Improving Fairness, Efficiency, and Stability in HTTP-based
//! Adaptive Video Streaming with FESTIVE", CoNEXT 2012 (Section 5), in the form of the widely used
//! port of Pensieve's modified dash.js (`FestiveRule`, Mao et al. 2017; also in Pitree's
//! `algorithms/festive.ts`), to which we add the paper's 20-sample harmonic-mean estimator.
//!
//! Before each chunk, with `w` the harmonic mean of the last 20 measured throughputs:
//!
//! 1. **Target**: `b_target` = highest level with bitrate <= 0.85 x `w` (level 0 if none).
//! 2. **Gradual switching** to a reference level `b_ref` from the current level `b_cur`:
//!    * `b_target > b_cur`: count consecutive such decisions; switch up **one level** only once the
//!      count exceeds `b_cur` (the paper's "switch up from level k only after k chunks", so higher
//!      levels ramp more slowly); otherwise `b_ref = b_cur`;
//!    * `b_target < b_cur`: `b_ref = b_cur - 1` at once (a constant rate of decrease), count reset;
//!    * otherwise `b_ref = b_cur`, count reset.
//! 3. **Delayed update**: when `b_ref != b_cur`, compare the combined score
//!    `score(b) = 2^n(b) + alpha * |bitrate(b) / min(w, bitrate(b_ref)) - 1|` of `b_cur` and `b_ref`,
//!    where `n(b)` is the number of switches over the last 20 s of downloads (5 chunks of 4 s) plus one
//!    if `b != b_cur`, and `alpha = 12` (the paper's value). Switch only if `score(b_ref) <
//!    score(b_cur)` (ties stay).
//!
//! Deviations: the stability window counts chunks (`ceil(20 s / chunk duration)` downloads) rather
//! than wall-clock seconds, as the port does; FESTIVE's randomized request scheduling is not modelled
//! (the simulator fetches back to back). With no measurement yet the last level is kept.

use crate::throughput::harmonic_mean_kbps;
use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of FESTIVE.
#[derive(Debug, Clone, PartialEq)]
pub struct FestiveParams {
    /// Throughput samples in the harmonic-mean estimate (default 20, the paper's value).
    pub window_chunks: usize,
    /// Fraction of the estimate the target level may use (default 0.85, the paper's `p`).
    pub target_fraction: f64,
    /// Weight of the efficiency score against the stability score (default 12, the paper's `alpha`).
    pub alpha: f64,
    /// Span over which switches are counted for the stability score, s (default 20 s, the paper's).
    pub stability_window_s: f64,
}

impl Default for FestiveParams {
    fn default() -> Self {
        FestiveParams {
            window_chunks: 20,
            target_fraction: 0.85,
            alpha: 12.0,
            stability_window_s: 20.0,
        }
    }
}

/// FESTIVE: harmonic-mean estimate, gradual switching, stability/efficiency delayed update.
#[derive(Debug, Clone, Default)]
pub struct Festive {
    /// Parameters.
    pub params: FestiveParams,
    /// Consecutive decisions whose target was above the current level (per session).
    switch_up_count: usize,
}

impl Festive {
    /// Switches among the downloads of the last `stability_window_s` seconds of video.
    fn recent_switches(&self, obs: &Observation<'_>) -> usize {
        let p = obs.video.chunk_duration_s;
        let n = (self.params.stability_window_s / p).ceil();
        let n = if n.is_finite() && n >= 1.0 {
            (n as usize).min(obs.history.len())
        } else {
            1.min(obs.history.len())
        };
        let recent = &obs.history[obs.history.len() - n..];
        recent
            .windows(2)
            .filter(|w| w[0].level != w[1].level)
            .count()
    }

    /// The paper's combined score of fetching level `b` (lower is better).
    fn score(
        &self,
        obs: &Observation<'_>,
        b: usize,
        b_ref: usize,
        b_cur: usize,
        w_kbps: f64,
    ) -> f64 {
        let ladder = &obs.video.ladder;
        let n = self.recent_switches(obs) + usize::from(b != b_cur);
        let stability = 2f64.powi(n.min(1000) as i32);
        let efficiency = (ladder.kbps(b) / w_kbps.min(ladder.kbps(b_ref)) - 1.0).abs();
        stability + self.params.alpha * efficiency
    }
}

impl Abr for Festive {
    fn name(&self) -> String {
        "festive".into()
    }

    fn reset(&mut self) {
        self.switch_up_count = 0;
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let top = obs.video.num_levels() - 1;
        let b_cur = obs.last_level.min(top);
        let Some(w) = harmonic_mean_kbps(obs.history, self.params.window_chunks) else {
            return Decision::level(b_cur);
        };
        let b_target = obs
            .video
            .ladder
            .highest_at_most(self.params.target_fraction * w)
            .min(top);
        let b_ref = if b_target > b_cur {
            self.switch_up_count += 1;
            if self.switch_up_count > b_cur {
                b_cur + 1
            } else {
                b_cur
            }
        } else if b_target < b_cur {
            self.switch_up_count = 0;
            b_cur - 1
        } else {
            self.switch_up_count = 0;
            b_cur
        };
        let level = if b_ref != b_cur {
            let score_cur = self.score(obs, b_cur, b_ref, b_cur, w);
            let score_ref = self.score(obs, b_ref, b_ref, b_cur, w);
            if score_ref < score_cur {
                if b_ref > b_cur {
                    self.switch_up_count = 0;
                }
                b_ref
            } else {
                b_cur
            }
        } else {
            b_cur
        };
        Decision {
            level: level.min(top),
            predicted_throughput_kbps: Some(w),
            buffer_target_s: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throughput::test_util::rec;
    use neuralstream_core::{ChunkRecord, Ladder, Video};

    fn video() -> Video {
        Video::new("v", 4.0, Ladder::pensieve(), vec![vec![1; 60]; 6], vec![]).unwrap()
    }

    fn choose(abr: &mut Festive, v: &Video, history: &[ChunkRecord], last_level: usize) -> usize {
        abr.choose(&Observation {
            video: v,
            next_chunk: history.len(),
            total_chunks: 60,
            buffer_s: 10.0,
            last_level,
            history,
        })
        .level
    }

    #[test]
    fn switches_up_one_level_at_a_time_and_slower_at_higher_levels() {
        let v = video();
        let mut abr = Festive::default();
        // Plenty of bandwidth (10 Mbit/s): target is the top level, but we climb one level at a time,
        // waiting longer at each level (> k decisions at level k).
        let mut history: Vec<ChunkRecord> = vec![rec(0, 10_000.0, 1000.0)];
        let mut levels = vec![];
        let mut last = 0;
        for _ in 0..25 {
            let l = choose(&mut abr, &v, &history, last);
            assert!(l <= last + 1, "never more than one level up");
            levels.push(l);
            history.push(rec(l, 10_000.0, 1000.0));
            last = l;
        }
        assert_eq!(
            levels[0], 1,
            "from level 0 the first up-switch is immediate"
        );
        assert_eq!(
            *levels.last().unwrap(),
            5,
            "reaches the top eventually: {levels:?}"
        );
        let first_at = |l: usize| levels.iter().position(|&x| x == l).unwrap();
        // time spent at each level grows with the level
        assert!(first_at(3) - first_at(2) >= first_at(2) - first_at(1));
        assert!(first_at(5) - first_at(4) >= 5, "{levels:?}");
    }

    #[test]
    fn switches_down_one_level_when_the_estimate_drops() {
        let v = video();
        let mut abr = Festive::default();
        // Stable at level 4 (2850), then the estimate is 1000 kbps: target 750 (level 1).
        let history: Vec<ChunkRecord> = (0..3).map(|_| rec(4, 1000.0, 1000.0)).collect();
        // score(4) = 2^0 + 12*|2850/1000-1| = 23.2; score(3) = 2^1 + 12*|1850/1000-1| = 12.2 -> down.
        assert_eq!(choose(&mut abr, &v, &history, 4), 3);
    }

    #[test]
    fn instability_delays_a_small_switch_down() {
        let v = video();
        let mut abr = Festive::default();
        // Five recent downloads alternating 2 / 3: 4 switches in the window. Estimate 1500 kbps ->
        // target 1200 (level 2); from level 3, b_ref = 2.
        // score(3) = 2^4 + 12*|1850/1200-1| = 22.5; score(2) = 2^5 + 0 = 32 -> stay at 3.
        let history: Vec<ChunkRecord> = [2, 3, 2, 3, 2, 3]
            .iter()
            .map(|&l| rec(l, 1500.0, 1000.0))
            .collect();
        assert_eq!(choose(&mut abr, &v, &history, 3), 3);
        // The same drop with a stable history switches down.
        let mut abr = Festive::default();
        let history: Vec<ChunkRecord> = (0..6).map(|_| rec(3, 1500.0, 1000.0)).collect();
        assert_eq!(choose(&mut abr, &v, &history, 3), 2);
    }

    #[test]
    fn empty_history_keeps_the_last_level() {
        let v = video();
        let mut abr = Festive::default();
        assert_eq!(choose(&mut abr, &v, &[], 3), 3);
        assert_eq!(choose(&mut abr, &v, &[], 30), 5);
    }
}
