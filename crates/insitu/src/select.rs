//! Feature selection report: mutual information and permutation importance of each feature for
//! the 1-chunk-ahead throughput.
//!
//! * **Mutual information** `I(feature; ln throughput)` in nats, estimated by binning both into
//!   [`MI_BINS`] equal-frequency bins (a plug-in estimate; model-free, so it also sees what a tree
//!   would not use).
//! * **Permutation importance** (Breiman 2001): a random forest fitted on 80 % of the sessions
//!   (by a hash of the session id) is scored on the other 20 % (mean squared error of ln
//!   throughput); each feature column is shuffled in turn ([`PERMUTATION_REPEATS`] seeded
//!   shuffles) and the rise of the error is that feature's importance. It measures what the
//!   fitted model relies on, on data it did not see.
//!
//! The predictors keep every feature (12 features cost nothing to a forest); the table says which
//! ones carry the signal, so a smaller model can drop the rest.

use crate::error::InsituError;
use crate::forest::{self, rows, ForestParams};
use crate::windows::{csv_field, Window};
use neuralstream_abr::predictor::{FEATURE_NAMES, NUM_FEATURES};
use neuralstream_core::Rng;
use serde::Serialize;
use std::fmt::Write as _;

/// Bins per variable of the mutual-information estimate.
pub const MI_BINS: usize = 10;

/// Shuffles per feature of the permutation importance.
pub const PERMUTATION_REPEATS: usize = 3;

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureScore {
    /// Feature name.
    pub feature: String,
    /// Mutual information with ln throughput 1 chunk ahead, nats.
    pub mutual_information_nats: f64,
    /// Rise of the held-out mean squared error of ln throughput when the feature is shuffled.
    pub permutation_importance: f64,
}

/// True for the sessions held out (about 1 in 5, by FNV-1a of the id).
pub fn held_out(session: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in session.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 5 == 0
}

/// The report over `windows`, sorted by permutation importance (largest first).
pub fn feature_scores(windows: &[Window], seed: u64) -> Result<Vec<FeatureScore>, InsituError> {
    let (x, y) = rows(windows, 1, usize::MAX, seed);
    let mi: Vec<f64> = (0..NUM_FEATURES)
        .map(|j| mutual_information(&x.iter().map(|r| r[j]).collect::<Vec<_>>(), &y))
        .collect();
    let (train, test): (Vec<&Window>, Vec<&Window>) =
        windows.iter().partition(|w| !held_out(&w.session));
    let train: Vec<Window> = train.into_iter().cloned().collect();
    let (tx, ty) = rows(
        &test.into_iter().cloned().collect::<Vec<_>>(),
        1,
        usize::MAX,
        seed,
    );
    if tx.is_empty() {
        return Err(InsituError::NotEnoughData {
            what: "permutation importance".into(),
            problem: "no held-out session has a window; record more sessions".into(),
        });
    }
    let params = ForestParams {
        trees: 20,
        max_depth: 10,
        horizons: 1,
        max_rows: 30_000,
        seed,
        ..ForestParams::default()
    };
    let model = forest::fit(&train, &params, serde_json::Value::Null)?;
    let mse = |x: &[Vec<f64>]| {
        x.iter()
            .zip(&ty)
            .map(|(r, y)| (model.predict_kbps(1, r).ln() - y).powi(2))
            .sum::<f64>()
            / x.len() as f64
    };
    let base = mse(&tx);
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(NUM_FEATURES);
    for j in 0..NUM_FEATURES {
        let mut rise = 0.0;
        for _ in 0..PERMUTATION_REPEATS {
            let mut col: Vec<f64> = tx.iter().map(|r| r[j]).collect();
            for i in (1..col.len()).rev() {
                col.swap(i, rng.below(i + 1));
            }
            let shuffled: Vec<Vec<f64>> = tx
                .iter()
                .zip(&col)
                .map(|(r, v)| {
                    let mut r = r.clone();
                    r[j] = *v;
                    r
                })
                .collect();
            rise += mse(&shuffled) - base;
        }
        out.push(FeatureScore {
            feature: FEATURE_NAMES[j].into(),
            mutual_information_nats: mi[j],
            permutation_importance: rise / PERMUTATION_REPEATS as f64,
        });
    }
    out.sort_by(|a, b| {
        b.permutation_importance
            .total_cmp(&a.permutation_importance)
    });
    Ok(out)
}

/// Plug-in mutual information of two samples over equal-frequency bins, nats.
pub fn mutual_information(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (ba, bb) = (bins(&a[..n]), bins(&b[..n]));
    let mut joint = vec![0.0; MI_BINS * MI_BINS];
    let (mut pa, mut pb) = (vec![0.0; MI_BINS], vec![0.0; MI_BINS]);
    for (i, j) in ba.iter().zip(&bb) {
        joint[i * MI_BINS + j] += 1.0 / n as f64;
        pa[*i] += 1.0 / n as f64;
        pb[*j] += 1.0 / n as f64;
    }
    let mut mi = 0.0;
    for i in 0..MI_BINS {
        for j in 0..MI_BINS {
            let p = joint[i * MI_BINS + j];
            if p > 0.0 {
                mi += p * (p / (pa[i] * pb[j])).ln();
            }
        }
    }
    mi.max(0.0)
}

/// Equal-frequency bin of each value (ties share the bin of their first rank).
fn bins(v: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut out = vec![0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && v[order[end + 1]] == v[order[start]] {
            end += 1;
        }
        let bin = (start * MI_BINS / v.len()).min(MI_BINS - 1);
        for &i in &order[start..=end] {
            out[i] = bin;
        }
        start = end + 1;
    }
    out
}

/// The report as CSV.
pub fn scores_csv(scores: &[FeatureScore]) -> String {
    let mut s = String::from("feature,mutual_information_nats,permutation_importance\n");
    for r in scores {
        writeln!(
            s,
            "{},{},{}",
            csv_field(&r.feature),
            r.mutual_information_nats,
            r.permutation_importance
        )
        .unwrap();
    }
    s
}

/// The report as a Markdown table.
pub fn scores_table(scores: &[FeatureScore]) -> String {
    let mut s = String::from(
        "| feature | mutual information (nats) | permutation importance (ΔMSE of ln kbit/s) |\n|---|---:|---:|\n",
    );
    for r in scores {
        writeln!(
            s,
            "| {} | {:.3} | {:.4} |",
            r.feature, r.mutual_information_nats, r.permutation_importance
        )
        .unwrap();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutual_information_is_high_for_dependence_and_near_zero_for_independence() {
        let mut rng = Rng::new(9);
        let a: Vec<f64> = (0..5000).map(|_| rng.uniform()).collect();
        let same = mutual_information(&a, &a);
        assert!((same - (MI_BINS as f64).ln()).abs() < 0.05, "{same}");
        let b: Vec<f64> = (0..5000).map(|_| rng.uniform()).collect();
        assert!(mutual_information(&a, &b) < 0.03);
        assert_eq!(mutual_information(&[], &[]), 0.0);
    }

    #[test]
    fn held_out_is_about_a_fifth_and_stable() {
        let n = (0..1000).filter(|i| held_out(&format!("s{i}"))).count();
        assert!((150..250).contains(&n), "{n}");
        assert_eq!(held_out("abc"), held_out("abc"));
    }
}
