//! Throughput predictors compared on held-out sessions: MAPE, RMSE and p90 absolute error per
//! horizon of 1 to [`HORIZONS`] chunks.
//!
//! * **Harmonic mean** of the last 5 measured throughputs (Pensieve's and MPC's forecast, Yin et
//!   al. 2015), the same value for every horizon.
//! * **EWMA** of the session's throughputs, weight
//!   [`neuralstream_abr::predictor::EWMA_ALPHA`] on the newest, the same value for
//!   every horizon.
//! * **Random forest** ([`crate::forest`]): one per horizon, its point prediction is exp of the
//!   trees' mean ln throughput, with the target chunk's size among the features.
//!
//! * **LSTM** ([`crate::lstm`]): `neuralstream-rt`'s LSTM predictor over each session's chunk
//!   series, early-stopped on validation sessions; a one-step predictor, the same value for every
//!   horizon.
//!
//! The baselines read their value off the features (`ln_thr_harmonic5`, `ln_thr_ewma`), so all
//! three see exactly the same history.

use crate::lstm::LstmScorer;
use crate::windows::{csv_field, Window, HORIZONS};
use neuralstream_abr::predictor::ForestModel;
use serde::Serialize;
use std::fmt::Write as _;

/// A predictor under comparison.
pub enum Predictor<'a> {
    /// Harmonic mean of the last 5 samples.
    HarmonicMean,
    /// Exponentially weighted mean.
    Ewma,
    /// A fitted forest.
    Forest(&'a ForestModel),
    /// A trained LSTM over the scored sessions' series.
    Lstm(&'a LstmScorer),
}

impl Predictor<'_> {
    /// Name in the tables.
    pub fn name(&self) -> &'static str {
        match self {
            Predictor::HarmonicMean => "harmonic_mean",
            Predictor::Ewma => "ewma",
            Predictor::Forest(_) => "random_forest",
            Predictor::Lstm(_) => "lstm",
        }
    }

    /// Predicted throughput `h` chunks ahead of `w`, kbit/s (`None` without a target there).
    pub fn predict_kbps(&self, w: &Window, h: usize) -> Option<f64> {
        let x = w.x_for(h)?;
        Some(match self {
            Predictor::HarmonicMean => x[6].exp(),
            Predictor::Ewma => x[7].exp(),
            Predictor::Forest(m) => m.predict_kbps(h, &x),
            Predictor::Lstm(s) => s.predict_kbps(w)?,
        })
    }
}

/// Errors of one predictor at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Predictor name.
    pub predictor: String,
    /// Chunks ahead.
    pub horizon_chunks: usize,
    /// Windows scored.
    pub windows: usize,
    /// Mean absolute percentage error, percent.
    pub mape_pct: f64,
    /// Root mean squared error, kbit/s.
    pub rmse_kbps: f64,
    /// 90th percentile of the absolute error, kbit/s.
    pub p90_abs_error_kbps: f64,
}

/// Scores `predictor` on `windows` at every horizon it has targets for.
pub fn score(predictor: &Predictor<'_>, windows: &[Window]) -> Vec<Score> {
    let mut out = Vec::new();
    for h in 1..=HORIZONS {
        let mut ape = 0.0;
        let mut se = 0.0;
        let mut abs = Vec::new();
        for w in windows {
            let (Some(p), Some((_, y))) = (predictor.predict_kbps(w, h), w.targets[h - 1]) else {
                continue;
            };
            ape += (p - y).abs() / y;
            se += (p - y).powi(2);
            abs.push((p - y).abs());
        }
        if abs.is_empty() {
            continue;
        }
        let n = abs.len();
        abs.sort_by(f64::total_cmp);
        let p90 = abs[((0.9 * n as f64).ceil() as usize).clamp(1, n) - 1];
        out.push(Score {
            predictor: predictor.name().into(),
            horizon_chunks: h,
            windows: n,
            mape_pct: 100.0 * ape / n as f64,
            rmse_kbps: (se / n as f64).sqrt(),
            p90_abs_error_kbps: p90,
        });
    }
    out
}

/// The scores as CSV.
pub fn scores_csv(scores: &[Score]) -> String {
    let mut s =
        String::from("predictor,horizon_chunks,windows,mape_pct,rmse_kbps,p90_abs_error_kbps\n");
    for r in scores {
        writeln!(
            s,
            "{},{},{},{},{},{}",
            csv_field(&r.predictor),
            r.horizon_chunks,
            r.windows,
            r.mape_pct,
            r.rmse_kbps,
            r.p90_abs_error_kbps
        )
        .unwrap();
    }
    s
}

/// The scores as a Markdown table, one row per predictor and horizon.
pub fn scores_table(scores: &[Score]) -> String {
    let mut s = String::from(
        "| predictor | horizon (chunks) | windows | MAPE % | RMSE kbit/s | p90 abs. error kbit/s |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in scores {
        writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.0} | {:.0} |",
            r.predictor, r.horizon_chunks, r.windows, r.mape_pct, r.rmse_kbps, r.p90_abs_error_kbps
        )
        .unwrap();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::{ChunkObs, SessionSeries};
    use crate::windows::windows;

    #[test]
    fn a_constant_link_is_predicted_exactly_and_errors_are_counted() {
        let s = SessionSeries {
            session: "s".into(),
            source: "bench".into(),
            algorithm: None,
            client: None,
            chunks: (0..10)
                .map(|c| ChunkObs {
                    chunk: c,
                    start_ms: c as f64 * 4000.0,
                    end_ms: c as f64 * 4000.0 + 1000.0,
                    size_bytes: 125_000.0,
                    throughput_kbps: if c == 9 { 2000.0 } else { 1000.0 },
                    imputed: false,
                })
                .collect(),
        };
        let w = windows(&[s]);
        let scores = score(&Predictor::HarmonicMean, &w);
        assert_eq!(scores.len(), HORIZONS);
        let h1 = &scores[0];
        assert_eq!(h1.windows, 9);
        // Only the last window misses: by 1000 kbit/s, 50 %.
        assert!((h1.mape_pct - 100.0 * 0.5 / 9.0).abs() < 1e-9, "{h1:?}");
        assert!((h1.rmse_kbps - (1e6f64 / 9.0).sqrt()).abs() < 1e-6);
        // p90 of 9 errors is the 9th smallest (ceil(0.9 * 9)): the miss.
        assert!((h1.p90_abs_error_kbps - 1000.0).abs() < 1e-6);
        assert!(scores_csv(&scores).lines().count() == HORIZONS + 1);
        assert!(scores_table(&scores).contains("| harmonic_mean | 1 | 9 |"));
    }
}
