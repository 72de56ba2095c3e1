//! Supervised windows for throughput prediction, and their normalisation.
//!
//! One window per (session, decision point `t`): the features of the downloads before chunk `t`
//! ([`neuralstream_abr::predictor::features`], the same function the MPC runs), and for each horizon
//! `h` = 1..=[`HORIZONS`] the size and measured throughput of chunk `t + h - 1` (absent past the
//! session's end or when that chunk was imputed). Every feature but the target size is shared by
//! the horizons; the target size is stored per horizon.
//!
//! Normalisation: each feature column is standardised (`(x - mean) / sd`, population sd, 1 when a
//! column is constant) with statistics of the windows written, saved beside them
//! (`normalisation.json`), so a consumer applies the same transform to new data. The targets stay
//! in kbit/s (errors are reported in kbit/s and percent). The random forest is fitted on the raw
//! features: trees are invariant to monotone transforms, and the MPC then needs no statistics.

use crate::clean::SessionSeries;
use neuralstream_abr::predictor::{features, Sample, FEATURE_NAMES, NUM_FEATURES};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Horizons predicted, chunks ahead.
pub const HORIZONS: usize = 5;

/// Index of the target-size feature (the one that varies by horizon).
pub const TARGET_SIZE_FEATURE: usize = NUM_FEATURES - 1;

/// One supervised window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Session (part) id.
    pub session: String,
    /// Decision point: the first chunk predicted.
    pub chunk: u32,
    /// Features with the horizon-1 target size (raw, not normalised).
    pub x: [f64; NUM_FEATURES],
    /// Per horizon: (target chunk's size in bytes, its measured throughput in kbit/s).
    pub targets: [Option<(f64, f64)>; HORIZONS],
}

impl Window {
    /// The features for horizon `h` (1-based): `x` with that horizon's target size.
    pub fn x_for(&self, h: usize) -> Option<[f64; NUM_FEATURES]> {
        let (size, _) = self.targets[h - 1]?;
        let mut x = self.x;
        x[TARGET_SIZE_FEATURE] = size.max(1.0).ln();
        Some(x)
    }
}

/// The windows of every session.
pub fn windows(series: &[SessionSeries]) -> Vec<Window> {
    let mut out = Vec::new();
    for s in series {
        let samples: Vec<Sample> = s.chunks.iter().map(|c| c.sample()).collect();
        for t in 1..s.chunks.len() {
            let mut targets = [None; HORIZONS];
            for (h, slot) in targets.iter_mut().enumerate() {
                if let Some(c) = s.chunks.get(t + h) {
                    if !c.imputed {
                        *slot = Some((c.size_bytes, c.throughput_kbps));
                    }
                }
            }
            if targets.iter().all(Option::is_none) {
                continue;
            }
            let size = s.chunks[t].size_bytes;
            let Some(x) = features(&samples[..t], size) else {
                continue;
            };
            out.push(Window {
                session: s.session.clone(),
                chunk: s.chunks[t].chunk,
                x,
                targets,
            });
        }
    }
    out
}

/// Mean and standard deviation of one feature column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation (1 for a constant column).
    pub sd: f64,
}

/// The normalisation statistics saved beside the windows (`normalisation.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// What the transform is.
    pub transform: String,
    /// Windows the statistics come from.
    pub rows: usize,
    /// Per feature, in column order.
    pub features: Vec<(String, ColumnStats)>,
}

impl Normalisation {
    /// Statistics of the windows' features (the horizon-1 target size for that column).
    pub fn fit(windows: &[Window]) -> Self {
        let n = windows.len().max(1) as f64;
        let features = (0..NUM_FEATURES)
            .map(|j| {
                let mean = windows.iter().map(|w| w.x[j]).sum::<f64>() / n;
                let var = windows.iter().map(|w| (w.x[j] - mean).powi(2)).sum::<f64>() / n;
                let sd = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
                (FEATURE_NAMES[j].to_string(), ColumnStats { mean, sd })
            })
            .collect();
        Normalisation {
            transform: "z = (x - mean) / sd, per feature; targets not normalised (kbit/s)".into(),
            rows: windows.len(),
            features,
        }
    }

    /// `x` standardised.
    pub fn apply(&self, x: &[f64; NUM_FEATURES]) -> [f64; NUM_FEATURES] {
        let mut z = *x;
        for (v, (_, s)) in z.iter_mut().zip(&self.features) {
            *v = (*v - s.mean) / s.sd;
        }
        z
    }
}

/// The windows as CSV: session, chunk, normalised features, then per horizon the normalised
/// ln target size and the target throughput in kbit/s (empty when absent).
pub fn windows_csv(windows: &[Window], norm: &Normalisation) -> String {
    let mut s = String::from("session,chunk");
    for name in FEATURE_NAMES {
        write!(s, ",{name}").unwrap();
    }
    for h in 2..=HORIZONS {
        write!(s, ",ln_target_size_bytes_h{h}").unwrap();
    }
    for h in 1..=HORIZONS {
        write!(s, ",target_kbps_h{h}").unwrap();
    }
    s.push('\n');
    let size_stats = norm.features[TARGET_SIZE_FEATURE].1;
    for w in windows {
        s.push_str(&csv_field(&w.session));
        write!(s, ",{}", w.chunk).unwrap();
        for v in norm.apply(&w.x) {
            write!(s, ",{v}").unwrap();
        }
        for t in &w.targets[1..] {
            match t {
                Some((size, _)) => write!(
                    s,
                    ",{}",
                    (size.max(1.0).ln() - size_stats.mean) / size_stats.sd
                )
                .unwrap(),
                None => s.push(','),
            }
        }
        for t in &w.targets {
            match t {
                Some((_, kbps)) => write!(s, ",{kbps}").unwrap(),
                None => s.push(','),
            }
        }
        s.push('\n');
    }
    s
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::ChunkObs;

    fn series(n: u32, imputed: u32) -> SessionSeries {
        SessionSeries {
            session: "a,b".into(),
            source: "bench".into(),
            algorithm: None,
            client: None,
            chunks: (0..n)
                .map(|c| ChunkObs {
                    chunk: c,
                    start_ms: c as f64 * 4000.0,
                    end_ms: c as f64 * 4000.0 + 1000.0,
                    size_bytes: 1000.0 + c as f64,
                    throughput_kbps: 100.0 * (c + 1) as f64,
                    imputed: c == imputed,
                })
                .collect(),
        }
    }

    #[test]
    fn windows_have_targets_per_horizon_and_never_an_imputed_one() {
        let w = windows(&[series(4, 2)]);
        // Decision points 1, 2, 3.
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].targets[0], Some((1001.0, 200.0)));
        assert_eq!(w[0].targets[1], None, "chunk 2 is imputed");
        assert_eq!(w[0].targets[2], Some((1003.0, 400.0)));
        assert_eq!(w[0].targets[3], None, "past the end");
        assert!((w[0].x[0] - 100f64.ln()).abs() < 1e-12);
        assert_eq!(w[0].x_for(3).unwrap()[TARGET_SIZE_FEATURE], 1003f64.ln());
    }

    #[test]
    fn normalised_columns_have_zero_mean_unit_sd_and_csv_quotes() {
        let w = windows(&[series(12, 99)]);
        let norm = Normalisation::fit(&w);
        for j in 0..NUM_FEATURES {
            let z: Vec<f64> = w.iter().map(|x| norm.apply(&x.x)[j]).collect();
            let mean = z.iter().sum::<f64>() / z.len() as f64;
            assert!(mean.abs() < 1e-9, "column {j}");
        }
        let csv = windows_csv(&w, &norm);
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        let cols = header.split(',').count();
        assert_eq!(cols, 2 + NUM_FEATURES + (HORIZONS - 1) + HORIZONS);
        assert!(lines.next().unwrap().starts_with("\"a,b\",1,"));
    }
}
