//! dash.js's DYNAMIC strategy (the default ABR of the DASH reference player since v2.6), as described
//! in Spiteri, Sitaraman, Sparacio, "From Theory to Practice: Improving Bitrate Adaptation in the DASH
//! Reference Player", MMSys 2018 / ACM TOMM 2019.
//!
//! Two rules and a hysteresis between them (dash.js `AbrController._updateDynamicAbrStrategy`):
//! with `T` the stable buffer time (dash.js default 12 s), switch **to** BOLA-E when the buffer is
//! above `T`, and back **to** the throughput rule when it falls to `0.5 T` (6 s) or below:
//! `use_bola = buffer > (if use_bola { 0.5 T } else { T })`. Sessions start on the throughput rule.
//!
//! * The **throughput rule** follows Sabre's `ThroughputRule` (`sabre.py`, the model of dash.js's
//!   `ThroughputRule` + `InsufficientBufferRule`): the highest level at most 0.9 x the throughput
//!   estimate (dash.js `bandwidthSafetyFactor`), then the insufficient buffer rule (the chunk must
//!   download within `safety x buffer`, `safety` from 0.9 decaying x0.9 per decision to 0.5).
//! * The **BOLA** rule is [`BolaE`] with its defaults. As in dash.js and Sabre's `DynamicDash`, BOLA-E
//!   sees every download (placeholder bookkeeping) but decides only while it is active; its start-up
//!   decision (throughput level plus placeholder) happens the first time it becomes active.
//!
//! Throughput is Sabre's conservative EWMA (half-lives 3 s and 8 s) for both rules. Sabre's own
//! `DynamicDash` hard-codes 5 s / 10 s thresholds; we use dash.js's `T` / `0.5 T` as in the shipped
//! player. With no throughput measurement yet the last level is kept.

use crate::bola_e::{quality_from_throughput, BolaE};
use crate::throughput::{sabre_ewma_kbps, SABRE_HALF_LIVES_S};
use neuralstream_core::{Abr, Decision, Observation};

/// Parameters of DYNAMIC.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicParams {
    /// dash.js `stableBufferTime`, s: BOLA takes over above it (default 12).
    pub stable_buffer_s: f64,
    /// Fraction of `stable_buffer_s` at or below which the throughput rule takes back over
    /// (dash.js: 0.5).
    pub switch_off_fraction: f64,
    /// Throughput rule's safety factor (dash.js `bandwidthSafetyFactor`, Sabre: 0.9).
    pub throughput_safety: f64,
    /// Initial safety factor of the throughput rule's insufficient buffer rule (Sabre 0.9).
    pub ibr_safety_init: f64,
    /// Floor of that safety factor (Sabre 0.5).
    pub ibr_safety_min: f64,
}

impl Default for DynamicParams {
    fn default() -> Self {
        DynamicParams {
            stable_buffer_s: 12.0,
            switch_off_fraction: 0.5,
            throughput_safety: 0.9,
            ibr_safety_init: 0.9,
            ibr_safety_min: 0.5,
        }
    }
}

/// dash.js DYNAMIC: throughput rule at low buffer, BOLA-E above, with hysteresis.
#[derive(Debug, Clone, Default)]
pub struct Dynamic {
    /// Parameters.
    pub params: DynamicParams,
    /// The BOLA-E rule (its `stable_buffer_s` is independent of [`DynamicParams::stable_buffer_s`]).
    pub bola: BolaE,
    /// BOLA-E is the active rule.
    using_bola: bool,
    /// Safety factor of the throughput rule's insufficient buffer rule; `None` before its first use.
    ibr_safety: Option<f64>,
}

impl Dynamic {
    /// True while BOLA-E decides (false: the throughput rule).
    pub fn using_bola(&self) -> bool {
        self.using_bola
    }

    fn throughput_rule(&mut self, obs: &Observation<'_>) -> Decision {
        let video = obs.video;
        let top = video.num_levels() - 1;
        let Some(t) = sabre_ewma_kbps(obs.history, &SABRE_HALF_LIVES_S) else {
            return Decision::level(obs.last_level.min(top));
        };
        let p = &self.params;
        let mut quality = quality_from_throughput(video, t * p.throughput_safety);
        let safety = self.ibr_safety.unwrap_or(p.ibr_safety_init);
        let buffer_s = if obs.buffer_s.is_finite() {
            obs.buffer_s.max(0.0)
        } else {
            0.0
        };
        let safe_kbits = safety * buffer_s * t;
        self.ibr_safety = Some((safety * p.ibr_safety_init).max(p.ibr_safety_min));
        if let Some(q) =
            (0..quality).find(|&q| video.ladder.kbps(q + 1) * video.chunk_duration_s > safe_kbits)
        {
            quality = q;
        }
        Decision {
            level: quality.min(top),
            predicted_throughput_kbps: Some(t),
            buffer_target_s: None,
        }
    }
}

impl Abr for Dynamic {
    fn name(&self) -> String {
        "dynamic".into()
    }

    fn reset(&mut self) {
        self.bola.reset();
        self.using_bola = false;
        self.ibr_safety = None;
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        self.bola.observe(obs);
        let p = &self.params;
        let threshold_s = if self.using_bola {
            p.switch_off_fraction * p.stable_buffer_s
        } else {
            p.stable_buffer_s
        };
        self.using_bola = obs.buffer_s > threshold_s;
        if self.using_bola {
            self.bola.decide(obs)
        } else {
            self.throughput_rule(obs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throughput::test_util::{obs, pensieve_video, rec};
    use neuralstream_core::Video;

    fn video() -> Video {
        pensieve_video(60)
    }

    #[test]
    fn switches_rules_with_dash_js_hysteresis() {
        let v = video();
        let h: Vec<_> = (0..4).map(|_| rec(2, 3000.0, 2000.0)).collect();
        let mut abr = Dynamic::default();
        let mut used = vec![];
        for b in [4.0, 12.0, 12.5, 8.0, 6.01, 6.0, 9.0, 11.9, 12.1] {
            abr.choose(&obs(&v, &h, b, 2));
            used.push(abr.using_bola());
        }
        assert_eq!(
            used,
            vec![false, false, true, true, true, false, false, false, true]
        );
    }

    #[test]
    fn throughput_rule_uses_safety_factor_and_insufficient_buffer_rule() {
        let v = video();
        let h: Vec<_> = (0..4).map(|_| rec(2, 3000.0, 2000.0)).collect();
        // 0.9 x 3000 = 2700 -> 1850 (level 3) with a comfortable buffer:
        // safe = 0.9 x 10 s x 3000 = 27000 kbit >= 4 s x 1850.
        let mut abr = Dynamic::default();
        let d = abr.choose(&obs(&v, &h, 10.0, 2));
        assert_eq!(d.level, 3);
        assert!((d.predicted_throughput_kbps.unwrap() - 3000.0).abs() < 1e-6);
        // 2 s of buffer: safe = 0.81 x 2 x 3000 = 4860 kbit; 4 s x 1850 = 7400 > 4860 -> level 2
        // (4 s x 1200 = 4800 fits).
        assert_eq!(abr.choose(&obs(&v, &h, 2.0, 3)).level, 2);
        // empty history: keep the last level
        let mut abr = Dynamic::default();
        assert_eq!(abr.choose(&obs(&v, &[], 30.0, 4)).level, 4);
    }

    #[test]
    fn bola_decides_at_high_buffer() {
        let v = video();
        let h: Vec<_> = (0..4).map(|_| rec(5, 10_000.0, 2000.0)).collect();
        let mut abr = Dynamic::default();
        let d = abr.choose(&obs(&v, &h, 40.0, 5));
        assert!(abr.using_bola());
        assert_eq!(d.level, 5);
        assert_eq!(d.buffer_target_s, Some(22.0));
    }
}
