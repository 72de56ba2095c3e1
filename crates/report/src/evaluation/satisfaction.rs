//! The user-satisfaction estimate of a session: a predicted opinion score from its stalls, and the
//! share of viewers expected to abandon it before it starts, from its startup delay.
//!
//! Two published models, each fitted on measurements of real viewers, with their constants as the
//! papers give them:
//!
//! - **Stalls -> mean opinion score (1..5)**: T. Hoßfeld, R. Schatz, M. Seufert, M. Hirth,
//!   T. Zinner, P. Tran-Gia, *Quantification of YouTube QoE via Crowdsourcing*, IEEE
//!   International Symposium on Multimedia (MQoE workshop), 2011. From crowdsourced ratings of
//!   YouTube clips with N stalling events of L seconds each (the IQX hypothesis, an exponential
//!   in the impairment):
//!
//!   ```text
//!   MOS = 3.50 * exp(-(0.15 * L + 0.19) * N) + 1.50
//!   ```
//!
//!   A session with no stall scores 5.0. Here N is the number of stalls after playback started
//!   (chunks after the first with a stall > 0) and L their mean length in seconds. The model was
//!   fitted on clips of about 30 s, so on longer sessions it judges each stall as harshly as in a
//!   short clip (a pessimistic reading); bitrate and quality changes are not in it (the session's
//!   QoE and mean bitrate are reported beside it).
//! - **Startup delay -> abandonment**: S. S. Krishnan, R. K. Sitaraman, *Video Stream Quality
//!   Impacts Viewer Behavior: Inferring Causality Using Quasi-Experimental Designs*, ACM IMC
//!   2012 (23 million views from Akamai): viewers start to abandon a video that takes more than
//!   2 s to start, and each further second of startup delay adds 5.8 % to the abandonment rate:
//!
//!   ```text
//!   abandonment_pct = min(100, 5.8 * max(0, startup_s - 2))
//!   ```
//!
//! The PySpark job (`spark/telemetry_report.py`) computes the same two formulas; change both
//! together.

/// Hoßfeld et al.'s MOS of a session without stalls plus its floor: `MOS = A exp(..) + FLOOR`.
pub const MOS_SPAN: f64 = 3.50;
/// The lowest MOS the stall model reaches.
pub const MOS_FLOOR: f64 = 1.50;
/// Weight of the mean stall length (per second) in the exponent.
pub const MOS_PER_STALL_S: f64 = 0.15;
/// Weight of one stall in the exponent, whatever its length.
pub const MOS_PER_STALL: f64 = 0.19;
/// The MOS from which a session counts as satisfying ("good" on the 5-point ACR scale).
pub const SATISFIED_MOS: f64 = 4.0;

/// Startup delay viewers tolerate before they start to abandon, seconds (Krishnan & Sitaraman).
pub const ABANDON_AFTER_S: f64 = 2.0;
/// Abandonment added per second of startup delay beyond [`ABANDON_AFTER_S`], percent.
pub const ABANDON_PCT_PER_S: f64 = 5.8;

/// Predicted mean opinion score (1.5..=5) of a session with `stalls` stalls of `stall_s` seconds
/// in all (Hoßfeld et al. 2011). No stall: 5.0.
pub fn stall_mos(stalls: usize, stall_s: f64) -> f64 {
    if stalls == 0 {
        return MOS_SPAN + MOS_FLOOR;
    }
    let n = stalls as f64;
    let mean_length_s = stall_s / n;
    MOS_SPAN * (-(MOS_PER_STALL_S * mean_length_s + MOS_PER_STALL) * n).exp() + MOS_FLOOR
}

/// Expected abandonment before playback starts, percent of viewers (Krishnan & Sitaraman 2012).
pub fn abandonment_pct(startup_s: f64) -> f64 {
    (ABANDON_PCT_PER_S * (startup_s - ABANDON_AFTER_S).max(0.0)).min(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_stall_scores_five_and_stalls_follow_the_papers_formula() {
        assert_eq!(stall_mos(0, 0.0), 5.0);
        // One 2 s stall: 3.5 exp(-(0.3 + 0.19)) + 1.5 = 3.5 * 0.612626394... + 1.5.
        let one = 3.5 * (-0.49f64).exp() + 1.5;
        assert!((stall_mos(1, 2.0) - one).abs() < 1e-15);
        assert!((one - 3.644192379).abs() < 1e-9, "{one}");
        // Three stalls of 4 s in all (mean 4/3 s): exponent -(0.2 + 0.19) * 3 = -1.17.
        assert!((stall_mos(3, 4.0) - (3.5 * (-1.17f64).exp() + 1.5)).abs() < 1e-15);
        // Many long stalls approach the floor, never below it.
        let worst = stall_mos(1000, 1e6);
        assert!((MOS_FLOOR..MOS_FLOOR + 1e-9).contains(&worst), "{worst}");
    }

    #[test]
    fn abandonment_starts_after_two_seconds_and_is_capped() {
        assert_eq!(abandonment_pct(0.0), 0.0);
        assert_eq!(abandonment_pct(2.0), 0.0);
        assert!((abandonment_pct(3.5) - 8.7).abs() < 1e-12);
        assert_eq!(abandonment_pct(100.0), 100.0);
    }
}
