//! BOLA-BASIC of Spiteri, Urgaonkar, Sitaraman, "BOLA: Near-Optimal Bitrate Adaptation for Online
//! Videos", INFOCOM 2016 (Algorithm 1), with the parameterisation of Sabre's `Bola` class (Spiteri's
//! ABR simulator, `sabre.py`, run with `--abr bola --abr-basic`).
//!
//! Lyapunov utility maximisation on the buffer. With `p` the chunk duration, `Q` the buffer in chunks,
//! `S_m` the size of a chunk at level `m` and utilities `v_m = ln(S_m / S_1)` (so `v_1 = 0`), fetch
//!
//! ```text
//! argmax_m  (V (v_m + gamma p) - Q) / S_m,      V = (Q_max - 1) / (v_M + gamma p)
//! ```
//!
//! where `Q_max` is the buffer target in chunks. `V` is chosen so that from `Q = Q_max - 1` chunks
//! on no score is positive (the top level's is 0 there, the others' negative): above it BOLA would
//! rather idle than download, so it steers the buffer below it. The top level wins earlier, where its score first beats the next level's (about
//! 17.7 s with the defaults, see the tests); `gamma p` trades rebuffering risk against utility
//! (larger: more conservative at low buffer).
//!
//! Choices and deviations:
//! * `S_m` is the nominal chunk size `bitrate_m x p` (as Sabre and dash.js do), not the per-chunk VBR
//!   size, so utilities and thresholds are the same for every chunk;
//! * defaults are Sabre's: `gamma p = 5`, buffer target 25 s (Sabre's `--max-buffer` default). The
//!   Pensieve player's cap is 60 s; BOLA cannot pause, so above the target it just keeps the top level
//!   while the player's own cap takes over. The target is at least two chunks;
//! * pure BOLA-BASIC: no throughput check (Sabre's BOLA-U/BOLA-O guards and the placeholder buffer
//!   are in [`crate::bola_e`]) and no abandonment (the simulator has none). Ties go to the lower level.

use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of BOLA-BASIC.
#[derive(Debug, Clone, PartialEq)]
pub struct BolaParams {
    /// Buffer target `Q_max`, s: one chunk above it every score is <= 0, so BOLA steers the buffer
    /// below it; the top level is reached before it (default 25 s, Sabre's default).
    pub buffer_target_s: f64,
    /// The product `gamma p` of the paper (dimensionless, default 5 as in Sabre's `--gamma-p`).
    pub gamma_p: f64,
}

impl Default for BolaParams {
    fn default() -> Self {
        BolaParams {
            buffer_target_s: 25.0,
            gamma_p: 5.0,
        }
    }
}

/// BOLA-BASIC: argmax of the Lyapunov drift-plus-penalty score over the levels.
#[derive(Debug, Clone, Default)]
pub struct Bola {
    /// Parameters.
    pub params: BolaParams,
}

impl Bola {
    /// Control parameter `V` (in chunks) for a ladder whose top utility is `v_top`, and a chunk of `p_s`.
    pub fn v(&self, v_top: f64, p_s: f64) -> f64 {
        let q_max = (self.params.buffer_target_s / p_s).max(2.0);
        (q_max - 1.0) / (v_top + self.params.gamma_p)
    }
}

impl Abr for Bola {
    fn name(&self) -> String {
        "bola".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let ladder = &obs.video.ladder;
        let top = obs.video.num_levels() - 1;
        let p_s = obs.video.chunk_duration_s;
        let q = obs.buffer_s / p_s;
        let s1 = ladder.kbps(0);
        let v = self.v((ladder.kbps(top) / s1).ln(), p_s);
        let gp = self.params.gamma_p;
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for m in 0..=top {
            let s_m = ladder.kbps(m);
            let score = (v * ((s_m / s1).ln() + gp) - q) / (s_m / s1);
            if score > best_score {
                best = m;
                best_score = score;
            }
        }
        Decision {
            level: best.min(top),
            predicted_throughput_kbps: None,
            buffer_target_s: Some(self.params.buffer_target_s.max(2.0 * p_s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{Ladder, Video};

    fn video() -> Video {
        Video::new("v", 4.0, Ladder::pensieve(), vec![vec![1; 3]; 6], vec![]).unwrap()
    }

    fn level(abr: &mut Bola, v: &Video, buffer_s: f64) -> usize {
        abr.choose(&Observation {
            video: v,
            next_chunk: 1,
            total_chunks: 3,
            buffer_s,
            last_level: 1,
            history: &[],
        })
        .level
    }

    #[test]
    fn hand_computed_thresholds() {
        // Q_max = 25/4 = 6.25 chunks, v_top = ln(4300/300) = 2.6626, V = 5.25 / 7.6626 = 0.68515.
        // Level 0 vs 1 switch point: V (gp + (S2 v1 - S1 v2) / (S2 - S1)) with sizes in units of S1:
        // v2 = ln 2.5 = 0.9163 -> (0 - 0.9163) / 1.5 = -0.6109 -> Q = 0.68515 * 4.3891 = 3.007 chunks
        // = 12.03 s. Top level (4 vs 5): v = ln 9.5 = 2.2513, ln 14.333 = 2.6626;
        // (14.333*2.2513 - 9.5*2.6626)/(4.8333) = 1.4426 -> Q = 0.68515 * 6.4426 = 4.414 chunks = 17.66 s.
        let v = video();
        let mut abr = Bola::default();
        assert_eq!(level(&mut abr, &v, 0.0), 0);
        assert_eq!(level(&mut abr, &v, 11.9), 0);
        assert_eq!(level(&mut abr, &v, 12.2), 1);
        assert!(level(&mut abr, &v, 17.5) < 5);
        assert_eq!(level(&mut abr, &v, 17.8), 5);
        assert_eq!(level(&mut abr, &v, 60.0), 5);
    }

    #[test]
    fn monotone_in_buffer_and_larger_target_is_more_conservative() {
        let v = video();
        let mut abr = Bola::default();
        let mut prev = 0;
        for i in 0..=240 {
            let l = level(&mut abr, &v, i as f64 * 0.25);
            assert!(l >= prev, "BOLA-BASIC is monotone in the buffer");
            prev = l;
        }
        let mut slow = Bola {
            params: BolaParams {
                buffer_target_s: 60.0,
                ..Default::default()
            },
        };
        assert_eq!(level(&mut slow, &v, 17.8), 0);
        assert_eq!(level(&mut slow, &v, 60.0), 5);
        let d = slow.choose(&Observation {
            video: &v,
            next_chunk: 1,
            total_chunks: 3,
            buffer_s: 1.0,
            last_level: 1,
            history: &[],
        });
        assert_eq!(d.buffer_target_s, Some(60.0));
    }

    #[test]
    fn one_level_ladder() {
        let v = crate::throughput::test_util::one_level_video();
        assert_eq!(level(&mut Bola::default(), &v, 30.0), 0);
    }
}
