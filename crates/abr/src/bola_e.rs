//! BOLA-E of Spiteri, Sitaraman, Sparacio, "From Theory to Practice: Improving Bitrate Adaptation in
//! the DASH Reference Player", MMSys 2018 / ACM TOMM 2019, following the authors' reference
//! implementation in Sabre (`sabre.py`, class `BolaEnh`) and dash.js's `BolaRule.js` (v2.6+), which
//! were written together.
//!
//! BOLA's buffer rule (see [`crate::bola`]) with the paper's three additions:
//!
//! * **Parameters from a minimum buffer.** Utilities `u_m = ln(R_m / R_0) + 1`, and with
//!   `B = max(stable buffer, 10 s + 2 s x levels)`: `gp = (u_top - 1) / (B / 10 s - 1)`,
//!   `Vp = 10 s / gp`, so level 0 is preferred below 10 s and the top level near `B`. The score of level
//!   `m` at buffer `Q` (seconds) is `(Vp (u_m + gp) - Q) / R_m`.
//! * **Placeholder buffer.** At start-up (first decision with a throughput estimate) the level is
//!   chosen from throughput and a virtual "placeholder" buffer is set so that BOLA would pick that
//!   level: `placeholder = max(0, min_buffer_for(level) - Q)`. BOLA then decides on `Q + placeholder`.
//!   After each download the placeholder decays (x0.99, dash.js), is clipped so the effective buffer
//!   stays within `[min_buffer_for, max_buffer_for]` of the level just fetched (Sabre
//!   `report_download`), grows by any time the player idled (`sleep`, Sabre `report_delay`), and is
//!   reset to 0 after a stall (dash.js `onBufferEmpty`). When BOLA would pause (effective buffer above
//!   `max_buffer_for(level)`), the placeholder absorbs it; the simulator cannot pause, so any excess is
//!   dropped.
//! * **BOLA-O oscillation guard** (dash.js default): never switch *up* to a level above both the last
//!   level and the throughput-sustainable level; take `max(last, throughput level)` instead (with
//!   `bola_o = false`, Sabre's BOLA-U variant takes one level more).
//! * **Insufficient buffer rule** (Sabre `BolaEnh`, dash.js `InsufficientBufferRule`): the chunk must
//!   be downloadable within `safety x buffer` at the estimated throughput; `safety` starts at 0.9 and is
//!   multiplied by 0.9 at each decision down to 0.5. When it lowers the level the placeholder is cut
//!   to what that level justifies.
//!
//! Throughput is Sabre's default estimator, the conservative two-half-life EWMA
//! ([`crate::throughput::sabre_ewma_kbps`]); Sabre's separate latency estimate is taken as 0 (the
//! records do not separate the round trip from the transfer). No abandonment (the simulator has none).
//! Defaults: dash.js `stableBufferTime` = 12 s, hence `B = 22 s` on a 6-level ladder.

use crate::throughput::{sabre_ewma_kbps, SABRE_HALF_LIVES_S};
use neuralstream_core::{Abr, Decision, Observation, Video};

/// Parameters of BOLA-E.
#[derive(Debug, Clone, PartialEq)]
pub struct BolaEParams {
    /// Buffer below which the lowest level is preferred, s (dash.js `MINIMUM_BUFFER_S` = 10).
    pub minimum_buffer_s: f64,
    /// Extra buffer target per ladder level, s (dash.js `MINIMUM_BUFFER_PER_BITRATE_LEVEL_S` = 2).
    pub minimum_buffer_per_level_s: f64,
    /// The player's stable buffer time, s (dash.js `stableBufferTime` default 12).
    pub stable_buffer_s: f64,
    /// Per-download decay of the placeholder buffer (dash.js `PLACEHOLDER_BUFFER_DECAY` = 0.99).
    pub placeholder_decay: f64,
    /// Use BOLA-O (true, dash.js) rather than BOLA-U (false) as the oscillation guard.
    pub bola_o: bool,
    /// Apply the insufficient buffer rule (default true).
    pub insufficient_buffer_rule: bool,
    /// Initial safety factor of the insufficient buffer rule (Sabre 0.9).
    pub ibr_safety_init: f64,
    /// Floor of the insufficient buffer rule's safety factor (Sabre 0.5).
    pub ibr_safety_min: f64,
}

impl Default for BolaEParams {
    fn default() -> Self {
        BolaEParams {
            minimum_buffer_s: 10.0,
            minimum_buffer_per_level_s: 2.0,
            stable_buffer_s: 12.0,
            placeholder_decay: 0.99,
            bola_o: true,
            insufficient_buffer_rule: true,
            ibr_safety_init: 0.9,
            ibr_safety_min: 0.5,
        }
    }
}

/// BOLA's constants for one ladder.
#[derive(Debug, Clone, Copy)]
struct Consts {
    gp: f64,
    vp_s: f64,
    buffer_target_s: f64,
}

/// BOLA-E: BOLA with placeholder buffer, BOLA-O and the insufficient buffer rule.
#[derive(Debug, Clone, Default)]
pub struct BolaE {
    /// Parameters.
    pub params: BolaEParams,
    /// Past the start-up decision (dash.js `BOLA_STATE_STEADY`).
    steady: bool,
    /// The placeholder (virtual) buffer, s.
    placeholder_s: f64,
    /// Current safety factor of the insufficient buffer rule.
    ibr_safety: f64,
    /// Number of history records already folded into the state.
    seen: usize,
}

fn utility(video: &Video, m: usize) -> f64 {
    (video.ladder.kbps(m) / video.ladder.kbps(0)).ln() + 1.0
}

/// Highest level whose bitrate is at most `kbps` (Sabre `quality_from_throughput` with no latency).
pub(crate) fn quality_from_throughput(video: &Video, kbps: f64) -> usize {
    video
        .ladder
        .highest_at_most(kbps)
        .min(video.num_levels() - 1)
}

impl BolaE {
    fn consts(&self, video: &Video) -> Consts {
        let p = &self.params;
        let top = video.num_levels() - 1;
        let min_b = p.minimum_buffer_s.max(1e-3);
        let target = p
            .stable_buffer_s
            .max(min_b + p.minimum_buffer_per_level_s * video.num_levels() as f64)
            .max(min_b * 1.01);
        let u_top = utility(video, top);
        let gp = ((u_top - 1.0) / (target / min_b - 1.0)).max(1e-9);
        Consts {
            gp,
            vp_s: min_b / gp,
            buffer_target_s: target,
        }
    }

    fn score(c: &Consts, video: &Video, m: usize, buffer_s: f64) -> f64 {
        (c.vp_s * (utility(video, m) + c.gp) - buffer_s) / video.ladder.kbps(m)
    }

    fn quality_from_buffer(c: &Consts, video: &Video, buffer_s: f64) -> usize {
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for m in 0..video.num_levels() {
            let s = Self::score(c, video, m, buffer_s);
            if s > best_score {
                best = m;
                best_score = s;
            }
        }
        best
    }

    /// Lowest buffer at which BOLA prefers `m` to every lower level, s.
    fn min_buffer_for(c: &Consts, video: &Video, m: usize) -> f64 {
        let (b, u) = (video.ladder.kbps(m), utility(video, m));
        (0..m)
            .map(|q| {
                let (bq, uq) = (video.ladder.kbps(q), utility(video, q));
                c.vp_s * (c.gp + (b * uq - bq * u) / (b - bq))
            })
            .fold(0.0, f64::max)
    }

    /// Buffer above which BOLA would pause rather than fetch `m`, s.
    fn max_buffer_for(c: &Consts, video: &Video, m: usize) -> f64 {
        c.vp_s * (utility(video, m) + c.gp)
    }

    /// The current placeholder buffer, s.
    pub fn placeholder_s(&self) -> f64 {
        self.placeholder_s
    }

    /// Folds downloads not seen yet into the placeholder (Sabre `report_download` / `report_delay`,
    /// dash.js decay and `onBufferEmpty`). Called before every decision, also while another rule
    /// decides (as in dash.js DYNAMIC).
    pub fn observe(&mut self, obs: &Observation<'_>) {
        if self.seen > obs.history.len() {
            // a different session's history: start over
            self.reset();
        }
        let video = obs.video;
        if video.num_levels() < 2 {
            self.seen = obs.history.len();
            return;
        }
        let c = self.consts(video);
        let top = video.num_levels() - 1;
        for r in &obs.history[self.seen..] {
            let sleep_s = (r.sleep_ms / 1000.0).max(0.0);
            if r.index > 0 && r.rebuffer_s > 0.0 {
                self.placeholder_s = 0.0;
            } else {
                self.placeholder_s *= self.params.placeholder_decay;
                let q = r.level.min(top);
                let level_after_s = r.buffer_s + sleep_s;
                let level_was_s = level_after_s + r.delay_ms / 1000.0;
                let max_ph = (Self::max_buffer_for(&c, video, q) - level_was_s).max(0.0);
                self.placeholder_s = self.placeholder_s.min(max_ph);
                if level_after_s > 0.0 {
                    let min_ph = Self::min_buffer_for(&c, video, q) - level_was_s;
                    self.placeholder_s = self.placeholder_s.max(min_ph);
                }
            }
            self.placeholder_s += sleep_s;
            if !self.placeholder_s.is_finite() || self.placeholder_s < 0.0 {
                self.placeholder_s = 0.0;
            }
        }
        self.seen = obs.history.len();
    }

    /// BOLA-E's decision, assuming [`BolaE::observe`] has seen `obs` (Sabre `get_quality_delay`).
    pub fn decide(&mut self, obs: &Observation<'_>) -> Decision {
        let video = obs.video;
        let top = video.num_levels() - 1;
        let last = obs.last_level.min(top);
        if top == 0 {
            return Decision::level(0);
        }
        let c = self.consts(video);
        let buffer_s = if obs.buffer_s.is_finite() {
            obs.buffer_s.max(0.0)
        } else {
            0.0
        };
        let tput = sabre_ewma_kbps(obs.history, &SABRE_HALF_LIVES_S);
        let decision = |level: usize| Decision {
            level: level.min(top),
            predicted_throughput_kbps: tput,
            buffer_target_s: Some(c.buffer_target_s),
        };
        if !self.steady {
            let Some(t) = tput else {
                return decision(last);
            };
            self.steady = true;
            self.ibr_safety = self.params.ibr_safety_init;
            let q = quality_from_throughput(video, t);
            self.placeholder_s = (Self::min_buffer_for(&c, video, q) - buffer_s).max(0.0);
            return decision(q);
        }

        let mut quality = Self::quality_from_buffer(&c, video, buffer_s + self.placeholder_s);
        if let Some(t) = tput {
            let quality_t = quality_from_throughput(video, t);
            if quality > last && quality > quality_t {
                quality = last.max(quality_t);
                if !self.params.bola_o {
                    quality = (quality + 1).min(top);
                }
            }
        }

        // BOLA would pause here; spend the placeholder first, drop the rest (no pause possible).
        let delay_s = buffer_s + self.placeholder_s - Self::max_buffer_for(&c, video, quality);
        if delay_s > 0.0 {
            self.placeholder_s = (self.placeholder_s - delay_s).max(0.0);
        }

        if let (true, Some(t)) = (self.params.insufficient_buffer_rule, tput) {
            let p_s = video.chunk_duration_s;
            let safe_kbits = self.ibr_safety * buffer_s * t;
            self.ibr_safety =
                (self.ibr_safety * self.params.ibr_safety_init).max(self.params.ibr_safety_min);
            if let Some(q) = (0..quality).find(|&q| video.ladder.kbps(q + 1) * p_s > safe_kbits) {
                quality = q;
                let max_ph = (Self::min_buffer_for(&c, video, q) - buffer_s).max(0.0);
                self.placeholder_s = self.placeholder_s.min(max_ph);
            }
        }
        decision(quality)
    }
}

impl Abr for BolaE {
    fn name(&self) -> String {
        "bola-e".into()
    }

    fn reset(&mut self) {
        self.steady = false;
        self.placeholder_s = 0.0;
        self.ibr_safety = self.params.ibr_safety_init;
        self.seen = 0;
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        self.observe(obs);
        self.decide(obs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throughput::test_util::{obs, one_level_video, pensieve_video, rec};

    fn video() -> Video {
        pensieve_video(60)
    }

    #[test]
    fn parameters_match_dash_js() {
        // 6 levels: B = max(12, 10 + 12) = 22 s; u_top = ln(4300/300) + 1 = 3.6626;
        // gp = 2.6626 / (2.2 - 1) = 2.2188; Vp = 10 / gp = 4.5069 s.
        let v = video();
        let c = BolaE::default().consts(&v);
        assert!((c.buffer_target_s - 22.0).abs() < 1e-12);
        assert!((c.gp - 2.21885).abs() < 1e-4, "{}", c.gp);
        assert!((c.vp_s - 4.50684).abs() < 1e-4, "{}", c.vp_s);
        // Level 0 is preferred up to Vp * (gp + (R1 u0 - R0 u1)/(R1 - R0)):
        // (750*1 - 300*1.9163)/450 = 0.3891 -> 4.5068 * 2.6079 = 11.75 s.
        assert_eq!(BolaE::quality_from_buffer(&c, &v, 11.7), 0);
        assert_eq!(BolaE::quality_from_buffer(&c, &v, 11.8), 1);
        assert!((BolaE::min_buffer_for(&c, &v, 1) - 11.753).abs() < 1e-2);
        assert_eq!(BolaE::quality_from_buffer(&c, &v, 30.0), 5);
    }

    #[test]
    fn startup_uses_throughput_and_sets_the_placeholder() {
        let v = video();
        let mut abr = BolaE::default();
        // no estimate: keep the last level
        assert_eq!(abr.choose(&obs(&v, &[], 0.0, 1)).level, 1);
        // 2000 kbps -> 1850 (level 3) although the buffer (4 s) alone would say level 0
        let h = [rec(1, 2000.0, 1500.0)];
        let d = abr.choose(&obs(&v, &h, 4.0, 1));
        assert_eq!(d.level, 3);
        assert_eq!(d.buffer_target_s, Some(22.0));
        let c = abr.consts(&v);
        let expect = BolaE::min_buffer_for(&c, &v, 3) - 4.0;
        assert!((abr.placeholder_s() - expect).abs() < 1e-9);
    }

    #[test]
    fn bola_o_blocks_unsustainable_up_switches_and_ibr_protects_low_buffer() {
        let v = video();
        // Steady, large effective buffer (would pick the top), but throughput only 1300 kbps and last
        // level 2 (1200): BOLA-O keeps max(last, throughput level) = 2.
        let h: Vec<_> = (0..5).map(|_| rec(2, 1300.0, 3000.0)).collect();
        let steady = || BolaE {
            steady: true,
            ibr_safety: 0.9,
            placeholder_s: 30.0,
            seen: h.len(),
            ..Default::default()
        };
        let mut abr = steady();
        assert_eq!(abr.decide(&obs(&v, &h, 20.0, 2)).level, 2);
        // Same, but a tiny real buffer: 0.9 * 1 s * 1300 kbit/s = 1170 kbit < 4 s x 750 kbit/s
        // -> the insufficient buffer rule forces level 0.
        let mut abr = steady();
        assert_eq!(abr.decide(&obs(&v, &h, 1.0, 2)).level, 0);
        assert!(abr.placeholder_s() <= 1e-9, "cut to what level 0 justifies");
    }

    #[test]
    fn stall_resets_placeholder_and_one_level_ladder_is_safe() {
        let v = video();
        let mut abr = BolaE::default();
        let mut h = vec![rec(1, 2000.0, 1500.0)];
        abr.choose(&obs(&v, &h, 4.0, 1));
        assert!(abr.placeholder_s() > 0.0);
        let mut stalled = rec(3, 200.0, 20_000.0);
        stalled.index = 1;
        stalled.rebuffer_s = 16.0;
        stalled.buffer_s = 4.0;
        h.push(stalled);
        abr.observe(&obs(&v, &h, 4.0, 3));
        assert_eq!(abr.placeholder_s(), 0.0);

        let one = one_level_video();
        let mut abr = BolaE::default();
        assert_eq!(abr.choose(&obs(&one, &h, 30.0, 4)).level, 0);
    }
}
