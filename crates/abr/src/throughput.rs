//! Throughput estimators shared by the throughput-driven algorithms.
//!
//! Every estimator reads only the session's download history (`ChunkRecord::throughput_kbps()`:
//! bytes over the whole delay, round trip included), so it is a pure function of the observation.
//! Samples that are not finite and positive (a zero delay, a zero-byte record) are skipped.
//!
//! * [`harmonic_mean_kbps`]: harmonic mean of the last `n` samples, as in Pensieve's `test/mpc.py`,
//!   FESTIVE (Jiang et al., CoNEXT 2012) and the rate-based baseline.
//! * [`sabre_ewma_kbps`]: Sabre's `Ewma` throughput history (Spiteri et al., "From Theory to Practice:
//!   Improving Bitrate Adaptation in the DASH Reference Player", MMSys 2018; `sabre.py`, class `Ewma`):
//!   two exponentially weighted averages whose weights decay with download time (half-lives 3 s and
//!   8 s), each corrected for its zero start, and the smaller (more conservative) of the two.

use neuralstream_core::ChunkRecord;

/// Sabre's default EWMA half-lives, seconds (`--half-life 3 8`).
pub const SABRE_HALF_LIVES_S: [f64; 2] = [3.0, 8.0];

/// The valid throughput samples of `history`, oldest first, kbit/s.
pub fn samples_kbps(history: &[ChunkRecord]) -> impl DoubleEndedIterator<Item = f64> + '_ {
    history
        .iter()
        .map(ChunkRecord::throughput_kbps)
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// Harmonic mean of the last `n` valid throughput samples, kbit/s; `None` when there is none
/// (or `n == 0`).
pub fn harmonic_mean_kbps(history: &[ChunkRecord], n: usize) -> Option<f64> {
    let mut count = 0usize;
    let mut inv_sum = 0.0;
    for t in samples_kbps(history).rev().take(n) {
        inv_sum += 1.0 / t;
        count += 1;
    }
    let h = count as f64 / inv_sum;
    (count > 0 && h.is_finite() && h > 0.0).then_some(h)
}

/// Sabre's conservative EWMA estimate over the whole history, kbit/s: for each half-life `h`,
/// `est = a * est + (1 - a) * sample` with `a = 0.5^(download_time / h)`, divided by
/// `1 - 0.5^(total_download_time / h)`; the minimum over `half_lives_s`. `None` without a valid sample.
pub fn sabre_ewma_kbps(history: &[ChunkRecord], half_lives_s: &[f64]) -> Option<f64> {
    let mut best: Option<f64> = None;
    for &h in half_lives_s {
        if !(h.is_finite() && h > 0.0) {
            continue;
        }
        let mut est = 0.0;
        let mut weight_s = 0.0;
        for r in history {
            let t = r.throughput_kbps();
            let dt_s = r.delay_ms / 1000.0;
            if !(t.is_finite() && t > 0.0 && dt_s.is_finite() && dt_s > 0.0) {
                continue;
            }
            let a = 0.5f64.powf(dt_s / h);
            est = a * est + (1.0 - a) * t;
            weight_s += dt_s;
        }
        let zero_factor = 1.0 - 0.5f64.powf(weight_s / h);
        let e = est / zero_factor;
        if weight_s > 0.0 && e.is_finite() && e > 0.0 {
            best = Some(best.map_or(e, |b: f64| b.min(e)));
        }
    }
    best
}

#[cfg(test)]
pub(crate) mod test_util {
    use neuralstream_core::{ChunkRecord, Ladder, Observation, Video};

    /// Pensieve's ladder with `chunks` one-byte chunks (algorithms here look at bitrates).
    pub fn pensieve_video(chunks: usize) -> Video {
        Video::new(
            "v",
            4.0,
            Ladder::pensieve(),
            vec![vec![1; chunks]; 6],
            vec![],
        )
        .unwrap()
    }

    /// A one-level ladder (500 kbit/s, 3 chunks): the degenerate case every algorithm must handle.
    pub fn one_level_video() -> Video {
        Video::new(
            "v",
            4.0,
            Ladder::from_kbps(&[500.0]),
            vec![vec![1; 3]],
            vec![],
        )
        .unwrap()
    }

    /// An observation after the downloads in `h`, with the given buffer and last level.
    pub fn obs<'a>(
        v: &'a Video,
        h: &'a [ChunkRecord],
        buffer_s: f64,
        last: usize,
    ) -> Observation<'a> {
        Observation {
            video: v,
            next_chunk: h.len(),
            total_chunks: v.num_chunks(),
            buffer_s,
            last_level: last,
            history: h,
        }
    }

    /// A record whose measured throughput is `kbps` over a download of `delay_ms`.
    pub fn rec(level: usize, kbps: f64, delay_ms: f64) -> ChunkRecord {
        ChunkRecord {
            level,
            size_bytes: (kbps * delay_ms / 8.0).round() as u64,
            delay_ms,
            ..ChunkRecord::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::rec;
    use super::*;

    #[test]
    fn harmonic_mean_of_last_n() {
        let h = [
            rec(0, 100.0, 1000.0),
            rec(0, 1000.0, 1000.0),
            rec(0, 4000.0, 1000.0),
        ];
        // last two: 2 / (1/1000 + 1/4000) = 1600
        assert!((harmonic_mean_kbps(&h, 2).unwrap() - 1600.0).abs() < 1e-6);
        assert!(harmonic_mean_kbps(&[], 5).is_none());
        assert!(harmonic_mean_kbps(&h, 0).is_none());
        // a zero-delay record is skipped
        let mut bad = rec(0, 1000.0, 1000.0);
        bad.delay_ms = 0.0;
        assert!((harmonic_mean_kbps(&[h[2], bad], 5).unwrap() - 4000.0).abs() < 1e-6);
    }

    #[test]
    fn ewma_of_constant_samples_is_the_constant_and_min_is_conservative() {
        let h = vec![rec(0, 2000.0, 3000.0); 4];
        let e = sabre_ewma_kbps(&h, &SABRE_HALF_LIVES_S).unwrap();
        assert!((e - 2000.0).abs() < 1e-6, "{e}");
        // a drop is followed faster by the short half-life, which the min picks
        let mut h2 = h.clone();
        h2.push(rec(0, 500.0, 8000.0));
        let fast = sabre_ewma_kbps(&h2, &[3.0]).unwrap();
        let slow = sabre_ewma_kbps(&h2, &[8.0]).unwrap();
        assert!(fast < slow);
        assert_eq!(sabre_ewma_kbps(&h2, &SABRE_HALF_LIVES_S).unwrap(), fast);
        assert!(sabre_ewma_kbps(&[], &SABRE_HALF_LIVES_S).is_none());
    }
}
