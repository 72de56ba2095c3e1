//! BBA-0 of Huang, Johari, McKeown, Trunnell, Watson, "A Buffer-Based Approach to Rate Adaptation:
//! Evidence from a Large Video Streaming Service", SIGCOMM 2014 (Section 4, Algorithm 1).
//!
//! A rate map `f(B)` rises linearly from `R_min` at the end of the reservoir `r` to `R_max` at
//! `r + cushion`. With `R_prev` the bitrate of the last chunk, `R+` the next higher ladder rate
//! (`R_max` at the top) and `R-` the next lower one (`R_min` at the bottom):
//!
//! ```text
//! B <= r            -> R_min
//! B >= r + cushion  -> R_max
//! f(B) >= R+        -> max{ R_i : R_i < f(B) }
//! f(B) <= R-        -> min{ R_i : R_i > f(B) }
//! otherwise         -> R_prev               (hysteresis: stay until f(B) crosses a neighbour)
//! ```
//!
//! **Defaults.** The paper's player has a 240 s buffer with a 90 s reservoir and a 126 s cushion
//! (leaving a 24 s upper reservoir). We scale all three by 60/240 to Pensieve's 60 s buffer cap:
//! reservoir 22.5 s, cushion 31.5 s, so `R_max` is reached at 54 s with 6 s of upper reservoir. Unlike
//! Pensieve's `bb.py` ([`crate::bb`]) this works on any ladder, reaches `R_max` through the ramp and
//! keeps the `R+`/`R-` hysteresis.

use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of BBA-0.
#[derive(Debug, Clone, PartialEq)]
pub struct Bba0Params {
    /// Reservoir `r`, s: at or below it, always the lowest level (default 22.5 = 90 s x 60/240).
    pub reservoir_s: f64,
    /// Cushion, s: width of the linear ramp of `f(B)` above the reservoir (default 31.5 = 126 s x 60/240).
    pub cushion_s: f64,
}

impl Default for Bba0Params {
    fn default() -> Self {
        Bba0Params {
            reservoir_s: 22.5,
            cushion_s: 31.5,
        }
    }
}

/// BBA-0: buffer-based rate map with hysteresis (Huang et al. 2014, Algorithm 1).
#[derive(Debug, Clone, Default)]
pub struct Bba0 {
    /// Parameters.
    pub params: Bba0Params,
}

impl Bba0 {
    /// The rate map `f(B)`, kbit/s, for a buffer of `buffer_s` on a ladder from `r_min` to `r_max`.
    pub fn rate_map_kbps(&self, buffer_s: f64, r_min_kbps: f64, r_max_kbps: f64) -> f64 {
        let p = &self.params;
        let x = ((buffer_s - p.reservoir_s) / p.cushion_s).clamp(0.0, 1.0);
        r_min_kbps + (r_max_kbps - r_min_kbps) * x
    }
}

impl Abr for Bba0 {
    fn name(&self) -> String {
        "bba0".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let ladder = &obs.video.ladder;
        let top = obs.video.num_levels() - 1;
        let prev = obs.last_level.min(top);
        let p = &self.params;
        let b = obs.buffer_s;
        let target = Some(p.reservoir_s + p.cushion_s);
        if top == 0 {
            return Decision {
                level: 0,
                predicted_throughput_kbps: None,
                buffer_target_s: target,
            };
        }
        let rate_plus = ladder.kbps((prev + 1).min(top));
        let rate_minus = ladder.kbps(prev.saturating_sub(1));
        let level = if b <= p.reservoir_s {
            0
        } else if b >= p.reservoir_s + p.cushion_s {
            top
        } else {
            let f = self.rate_map_kbps(b, ladder.kbps(0), ladder.kbps(top));
            if f >= rate_plus {
                // max{R_i : R_i < f(B)}
                (0..=top).rev().find(|&i| ladder.kbps(i) < f).unwrap_or(0)
            } else if f <= rate_minus {
                // min{R_i : R_i > f(B)}
                (0..=top).find(|&i| ladder.kbps(i) > f).unwrap_or(top)
            } else {
                prev
            }
        };
        Decision {
            level: level.min(top),
            predicted_throughput_kbps: None,
            buffer_target_s: target,
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

    fn level(abr: &mut Bba0, v: &Video, buffer_s: f64, last_level: usize) -> usize {
        abr.choose(&Observation {
            video: v,
            next_chunk: 1,
            total_chunks: 3,
            buffer_s,
            last_level,
            history: &[],
        })
        .level
    }

    #[test]
    fn reservoir_and_upper_reservoir() {
        let v = video();
        let mut abr = Bba0::default();
        assert_eq!(level(&mut abr, &v, 0.0, 5), 0);
        assert_eq!(level(&mut abr, &v, 22.5, 5), 0);
        assert_eq!(level(&mut abr, &v, 54.0, 0), 5);
        assert_eq!(level(&mut abr, &v, 60.0, 2), 5);
    }

    #[test]
    fn hysteresis_follows_algorithm_1() {
        let v = video();
        let mut abr = Bba0::default();
        // f(B) = 300 + 4000 * (B - 22.5) / 31.5. At B = 33: f = 1633.3 kbps.
        // From 1200 (level 2): R+ = 1850 > f > R- = 750 -> stay at 1200.
        assert_eq!(level(&mut abr, &v, 33.0, 2), 2);
        // From 300 (level 0): R+ = 750 <= f -> max{R_i < f} = 1200 (level 2), several steps up at once.
        assert_eq!(level(&mut abr, &v, 33.0, 0), 2);
        // From 2850 (level 4): R- = 1850 >= f -> min{R_i > f} = 1850 (level 3).
        assert_eq!(level(&mut abr, &v, 33.0, 4), 3);
        // From 4300 (level 5): R- = 2850 >= f -> 1850 (level 3): down several steps.
        assert_eq!(level(&mut abr, &v, 33.0, 5), 3);
        // Same buffer, different history, different answers: that is the hysteresis.
        assert_eq!(level(&mut abr, &v, 33.0, 3), 3);
    }

    #[test]
    fn one_level_ladder_and_odd_inputs() {
        let v = crate::throughput::test_util::one_level_video();
        let mut abr = Bba0::default();
        assert_eq!(level(&mut abr, &v, 40.0, 7), 0);
        let v = video();
        assert!(level(&mut abr, &v, f64::NAN, 99) < 6);
        assert!(level(&mut abr, &v, 1e300, 99) < 6);
    }
}
