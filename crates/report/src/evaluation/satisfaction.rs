//! The user-satisfaction estimate of a session: a predicted opinion score from its stalls, and the
//! share of viewers expected to abandon it before it starts, from its startup delay.
//!
//! Two published models, each fitted on measurements of real viewers, with their constants as the
//! papers give them (checked against the sources below; what could and could not be read is
//! said with each):
//!
//! - **Stalls -> mean opinion score (1..5)**: T. Hoßfeld, M. Seufert, M. Hirth, T. Zinner,
//!   P. Tran-Gia (University of Würzburg), R. Schatz (FTW Vienna), *Quantification of YouTube
//!   QoE via Crowdsourcing*, IEEE International Symposium on Multimedia (ISM) 2011 (the venue as
//!   commonly cited; the stored copy of the paper shows no venue).
//!   From crowdsourced ratings of YouTube clips of about 30 s, each with N stalling events of
//!   the same length L seconds (an exponential in the impairment, the IQX hypothesis of Fiedler,
//!   Hoßfeld and Tran-Gia, IEEE Network 2010):
//!
//!   ```text
//!   MOS = 3.50 * exp(-(0.15 * L + 0.19) * N) + 1.50
//!   ```
//!
//!   Source check: the paper's title page and abstract are public (pdfcookie.com's copy of the
//!   paper, "Quantification of YouTube QoE via Crowdsourcing"); the stored copies of its text
//!   stop before the model's section, so the formula was checked against independent
//!   implementations that cite the paper: a MATLAB function `FTW(l, n)` ("l: length of average
//!   stalling events, n: number of stalling events", `3.5 * exp(-(0.15*l+0.19)*n) + 1.5`), an
//!   ns-3 LTE application (`3.5*exp(-(0.15*m_pauseTime+0.19)*m_pauseTotal)+1.5`) and lecture
//!   slides citing the 2011 paper ("one 3 s stall in a 30 s clip: 3.5 e^{-(0.15*3+0.19)} + 1.5
//!   = 3.35"). All four constants and the meaning of L (length of one stall, seconds) and N
//!   (number of stalls) agree with what was written here; nothing changed.
//!
//!   A session with no stall scores 5.0. Here N is the number of stalls after playback started
//!   (chunks after the first with a stall > 0: the paper models stalls during playback, the
//!   initial delay separately) and L their mean length in seconds (the paper's stalls within a
//!   clip all had one length). The model was fitted on ~30 s clips, so on longer sessions it
//!   judges each stall as harshly as in a short clip (a pessimistic reading); bitrate and
//!   quality changes are not in it (the session's QoE and mean bitrate are reported beside it).
//! - **Startup delay -> abandonment**: S. S. Krishnan, R. K. Sitaraman, *Video Stream Quality
//!   Impacts Viewer Behavior: Inferring Causality Using Quasi-Experimental Designs*, ACM Internet
//!   Measurement Conference (IMC) 2012, Boston; extended in IEEE/ACM Transactions on Networking
//!   (2013, doi:10.1109/TNET.2013.2281542). From 23 million views by 6.7 million viewers on
//!   Akamai, the abstract (read in full: studylib.net and fdocuments.net copies of the IMC
//!   paper, and the TNET abstract): "viewers start to abandon a video if it takes more than 2
//!   seconds to start up, with each incremental delay of 1 second resulting in a 5.8% increase
//!   in the abandonment rate":
//!
//!   ```text
//!   abandonment_pct = min(100, 5.8 * max(0, startup_s - 2))
//!   ```
//!
//!   Source check: 2 s and 5.8 % per second are the abstract's words (UMass's news release
//!   says "roughly a 5.8% increase"). The abstract does not say whether 5.8 % is percentage
//!   points of all viewers or relative to the rate; the body of the paper (its regression of
//!   abandonment on startup delay) was not readable here, so the reading as percentage points,
//!   linear from 2 s, is ours. It is consistent with the authors' own summary in the press (a
//!   quarter of viewers gone by 5 s, close to half by 10 s, against 17 % and 46 % here). The
//!   cap at 100 % is ours: the paper's data reach tens of seconds at most.
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
