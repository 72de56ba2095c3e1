//! Learned throughput prediction: the features a predictor sees and the random-forest model file.
//!
//! One definition of the features serves both sides of the in-situ loop: `neuralstream dataset`
//! (crate `neuralstream-insitu`) computes them from telemetry to train and evaluate, and
//! [`crate::mpc_rf`] computes them from an [`Observation`](neuralstream_core::Observation)'s
//! history to decide, so training and serving can never disagree on a feature.
//!
//! **Features** ([`FEATURE_NAMES`]), from the downloads before the decision and the size of the
//! chunk whose throughput is predicted (Fugu's transmission-time predictor, Yan et al., NSDI 2020,
//! also takes the candidate chunk's size: a small chunk's measured throughput is pulled down by the
//! request's round trip, so the size carries real information). Throughputs are logs of kbit/s,
//! because network throughput is closer to log-normal than normal and a tree splits it more evenly.
//! Missing lags (early in a session) repeat the oldest sample.
//!
//! **Model file** ([`ForestModel`]): JSON, `format = "neuralstream.throughput-forest"`, version 1,
//! the feature names (refused if they are not this build's), and one forest per horizon (1..=H
//! chunks ahead) of flat binary trees (`x[f] <= t` goes left, a node without children is a leaf
//! with value `v`, the predicted ln kbit/s). The trees are trained with `smartcore`'s random forest
//! and exported by `neuralstream-insitu`; reading them needs nothing but `serde_json`, so the server
//! and the simulator never build the trainer. Each tree's own prediction is kept
//! ([`ForestModel::predict_trees_kbps`]): their spread is the predicted distribution the MPC plans
//! over.
//!
//! **Target** ([`ForestModel::target`]): the leaves predict either the ln throughput itself
//! ([`TARGET_LN_KBPS`]) or its ln ratio to the harmonic mean of the last 5 samples
//! ([`TARGET_LN_RATIO_HARMONIC`], feature `ln_thr_harmonic5`): in relative units a leaf learned on
//! a 10 Mbit/s broadband session applies to a 1 Mbit/s 3G one, where an absolute leaf can only
//! answer with throughputs it has seen. Optionally ([`ForestModel::harmonic_blend`]) the point
//! prediction is shrunk towards the harmonic mean in ln units, by a weight chosen on validation.

use neuralstream_core::ChunkRecord;
use serde::{Deserialize, Serialize};

/// Number of past throughput samples used as lags.
pub const LAGS: usize = 6;

/// The features, in order (ln = natural log; throughputs in kbit/s, times in seconds).
pub const FEATURE_NAMES: [&str; 12] = [
    "ln_thr_lag1",
    "ln_thr_lag2",
    "ln_thr_lag3",
    "ln_thr_lag4",
    "ln_thr_lag5",
    "ln_thr_lag6",
    "ln_thr_harmonic5",
    "ln_thr_ewma",
    "sd_ln_thr5",
    "ln_delay_lag1_s",
    "ln_size_lag1_bytes",
    "ln_target_size_bytes",
];

/// Number of features.
pub const NUM_FEATURES: usize = FEATURE_NAMES.len();

/// Weight of the newest sample in the EWMA feature (`ewma = a * x + (1 - a) * ewma`).
pub const EWMA_ALPHA: f64 = 0.3;

/// Target of a model whose leaves predict ln kbit/s.
pub const TARGET_LN_KBPS: &str = "ln_throughput_kbps";

/// Target of a model whose leaves predict `ln(throughput / harmonic mean of the last 5)`.
pub const TARGET_LN_RATIO_HARMONIC: &str = "ln_throughput_over_harmonic5";

/// Index of `ln_thr_harmonic5` in the features.
pub const HARMONIC_FEATURE: usize = 6;

/// Format tag of the model file.
pub const MODEL_FORMAT: &str = "neuralstream.throughput-forest";

/// Version of the model file this build reads and writes.
pub const MODEL_VERSION: u32 = 1;

/// One past download, as a predictor sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Measured throughput (bytes over the whole request time), kbit/s.
    pub throughput_kbps: f64,
    /// Request to last byte, ms.
    pub delay_ms: f64,
    /// Bytes downloaded.
    pub size_bytes: f64,
}

impl Sample {
    /// The sample of a simulator or player record (`None` when its throughput is not positive).
    pub fn of_record(r: &ChunkRecord) -> Option<Sample> {
        let t = r.throughput_kbps();
        (t.is_finite() && t > 0.0).then_some(Sample {
            throughput_kbps: t,
            delay_ms: r.delay_ms,
            size_bytes: r.size_bytes as f64,
        })
    }
}

/// The features after `history` (oldest first, at least one sample) for a chunk of
/// `target_size_bytes`; `None` with an empty history.
pub fn features(history: &[Sample], target_size_bytes: f64) -> Option<[f64; NUM_FEATURES]> {
    let last = history.last()?;
    let ln = |v: f64| v.max(1e-9).ln();
    let mut x = [0.0; NUM_FEATURES];
    for (lag, slot) in x.iter_mut().take(LAGS).enumerate() {
        let i = history.len().saturating_sub(lag + 1);
        *slot = ln(history[i].throughput_kbps);
    }
    let recent = &history[history.len().saturating_sub(5)..];
    let inv: f64 = recent.iter().map(|s| 1.0 / s.throughput_kbps).sum();
    x[6] = ln(recent.len() as f64 / inv);
    let mut ewma = history[0].throughput_kbps;
    for s in &history[1..] {
        ewma = EWMA_ALPHA * s.throughput_kbps + (1.0 - EWMA_ALPHA) * ewma;
    }
    x[7] = ln(ewma);
    let logs: Vec<f64> = recent.iter().map(|s| ln(s.throughput_kbps)).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    x[8] = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
    x[9] = ln(last.delay_ms / 1000.0);
    x[10] = ln(last.size_bytes);
    x[11] = ln(target_size_bytes);
    Some(x)
}

/// One node of a flat tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index tested (ignored at a leaf).
    pub f: usize,
    /// Threshold: `x[f] <= t` goes to `l`, otherwise to `r`.
    pub t: f64,
    /// Left child (None at a leaf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<usize>,
    /// Right child (None at a leaf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<usize>,
    /// Leaf value: predicted ln kbit/s.
    pub v: f64,
}

/// A regression tree; node 0 is the root and every child comes after its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value reached by `x`.
    #[inline]
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            match (n.l, n.r) {
                (Some(l), Some(r)) => i = if x[n.f] <= n.t { l } else { r },
                _ => return n.v,
            }
        }
    }
}

/// Quantiles of the held-out residuals stored per horizon: at probabilities `(i + 0.5) / N`.
pub const RESIDUAL_QUANTILES: usize = 20;

/// The forest of one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    /// Chunks ahead: 1 predicts the next chunk's throughput.
    pub horizon_chunks: usize,
    /// The trees.
    pub trees: Vec<Tree>,
    /// Calibration: [`RESIDUAL_QUANTILES`] quantiles (ascending) of `ln(measured) - ln(predicted)`
    /// on sessions held out of the fit; empty when the fitter had none (the trees' spread is then
    /// the only distribution).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub residual_ln: Vec<f64>,
}

/// A random-forest throughput predictor (the model file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Always [`MODEL_VERSION`].
    pub version: u32,
    /// Feature names, equal to [`FEATURE_NAMES`].
    pub features: Vec<String>,
    /// What a leaf predicts: [`TARGET_LN_KBPS`] or [`TARGET_LN_RATIO_HARMONIC`].
    pub target: String,
    /// Weight of the harmonic mean in the point prediction, in ln units:
    /// `ln p = (1 - w) ln forest + w ln harmonic` (0, the default, is the forest alone).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub harmonic_blend: f64,
    /// One forest per horizon, 1, 2, ... chunks ahead.
    pub horizons: Vec<Horizon>,
    /// Free-form provenance (training data, parameters), a JSON object.
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is not a model of this format and version, or is inconsistent.
    #[error("{path}: not a usable throughput model: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the field.
        problem: String,
    },
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl ForestModel {
    /// A model over this build's features whose leaves predict ln kbit/s, no blend.
    pub fn new(horizons: Vec<Horizon>, meta: serde_json::Value) -> Self {
        ForestModel {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            target: TARGET_LN_KBPS.into(),
            harmonic_blend: 0.0,
            horizons,
            meta,
        }
    }

    /// Whether the leaves predict the ln ratio to the harmonic mean.
    fn relative(&self) -> bool {
        self.target == TARGET_LN_RATIO_HARMONIC
    }

    /// A leaf value (or the trees' mean) as the predicted ln kbit/s for features `x`: the
    /// harmonic mean added back for a relative target, then the blend applied.
    #[inline]
    pub fn ln_kbps_of_leaf(&self, leaf: f64, x: &[f64]) -> f64 {
        let harmonic = x[HARMONIC_FEATURE];
        let forest = if self.relative() {
            harmonic + leaf
        } else {
            leaf
        };
        (1.0 - self.harmonic_blend) * forest + self.harmonic_blend * harmonic
    }

    /// Parses and checks a model's JSON text; `origin` (the file) names it in errors. Reading the
    /// file is the caller's (this crate does no I/O).
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let invalid = |problem: String| ModelError::Invalid {
            path: origin.to_string(),
            problem,
        };
        let model: ForestModel = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        model.check().map_err(invalid)?;
        Ok(model)
    }

    /// The model as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a model of plain numbers serialises")
    }

    /// Checks format, version, feature names and every tree (indices in range, children after
    /// their parent so a walk always ends, finite thresholds and values).
    pub fn check(&self) -> Result<(), String> {
        if self.format != MODEL_FORMAT {
            return Err(format!(
                "`format` is `{}`, expected `{MODEL_FORMAT}`",
                self.format
            ));
        }
        if self.version != MODEL_VERSION {
            return Err(format!(
                "model version {}, this build reads version {MODEL_VERSION}; retrain it with `neuralstream dataset fit`",
                self.version
            ));
        }
        if self.features != FEATURE_NAMES {
            return Err(format!(
                "`features` {:?} differ from this build's {:?}; retrain it",
                self.features, FEATURE_NAMES
            ));
        }
        if self.target != TARGET_LN_KBPS && self.target != TARGET_LN_RATIO_HARMONIC {
            return Err(format!(
                "`target` is `{}`, expected `{TARGET_LN_KBPS}` or `{TARGET_LN_RATIO_HARMONIC}`",
                self.target
            ));
        }
        if !(0.0..=1.0).contains(&self.harmonic_blend) {
            return Err(format!(
                "`harmonic_blend` is {}, expected a weight in 0..=1",
                self.harmonic_blend
            ));
        }
        if self.horizons.is_empty() {
            return Err("`horizons` is empty".into());
        }
        for (k, h) in self.horizons.iter().enumerate() {
            if h.horizon_chunks != k + 1 {
                return Err(format!(
                    "horizons[{k}].horizon_chunks is {}, expected {}",
                    h.horizon_chunks,
                    k + 1
                ));
            }
            if h.trees.is_empty() {
                return Err(format!("horizons[{k}].trees is empty"));
            }
            let r = &h.residual_ln;
            if !r.is_empty()
                && (r.len() != RESIDUAL_QUANTILES
                    || r.iter().any(|v| !v.is_finite())
                    || r.windows(2).any(|w| w[0] > w[1]))
            {
                return Err(format!(
                    "horizons[{k}].residual_ln must be {RESIDUAL_QUANTILES} finite ascending values or empty"
                ));
            }
            for (j, t) in h.trees.iter().enumerate() {
                check_tree(t).map_err(|p| format!("horizons[{k}].trees[{j}]: {p}"))?;
            }
        }
        Ok(())
    }

    /// Longest horizon, chunks.
    pub fn max_horizon(&self) -> usize {
        self.horizons.len()
    }

    /// Each tree's prediction for `x`, `horizon_chunks` ahead (clamped to the longest), kbit/s,
    /// written into `out` (cleared first).
    pub fn predict_trees_kbps(&self, horizon_chunks: usize, x: &[f64], out: &mut Vec<f64>) {
        let h = &self.horizons[horizon_chunks.clamp(1, self.horizons.len()) - 1];
        out.clear();
        out.extend(
            h.trees
                .iter()
                .map(|t| self.ln_kbps_of_leaf(t.predict(x), x).exp()),
        );
    }

    /// The predicted distribution `horizon_chunks` ahead at each probability of `probabilities`,
    /// kbit/s, into `out`: the point prediction times the held-out residual quantile when the
    /// model is calibrated, else the trees' own predictions at that quantile.
    pub fn quantiles_kbps(
        &self,
        horizon_chunks: usize,
        x: &[f64],
        probabilities: &[f64],
        out: &mut Vec<f64>,
    ) {
        let h = &self.horizons[horizon_chunks.clamp(1, self.horizons.len()) - 1];
        if h.residual_ln.len() == RESIDUAL_QUANTILES {
            let centre = self.predict_kbps(horizon_chunks, x).ln();
            out.clear();
            out.extend(probabilities.iter().map(|p| {
                let i = (p.clamp(0.0, 1.0) * RESIDUAL_QUANTILES as f64 - 0.5).round();
                let i = (i.max(0.0) as usize).min(RESIDUAL_QUANTILES - 1);
                (centre + h.residual_ln[i]).exp()
            }));
        } else {
            let mut trees = Vec::with_capacity(h.trees.len());
            self.predict_trees_kbps(horizon_chunks, x, &mut trees);
            trees.sort_by(f64::total_cmp);
            let n = trees.len();
            out.clear();
            out.extend(
                probabilities
                    .iter()
                    .map(|p| trees[((p.clamp(0.0, 1.0) * n as f64) as usize).min(n - 1)]),
            );
        }
    }

    /// The forest's point prediction, kbit/s: exp of the trees' mean ln prediction (relative to
    /// the harmonic mean for that target, blended with it by [`ForestModel::harmonic_blend`]).
    pub fn predict_kbps(&self, horizon_chunks: usize, x: &[f64]) -> f64 {
        let h = &self.horizons[horizon_chunks.clamp(1, self.horizons.len()) - 1];
        let mean = h.trees.iter().map(|t| t.predict(x)).sum::<f64>() / h.trees.len() as f64;
        self.ln_kbps_of_leaf(mean, x).exp()
    }
}

fn check_tree(t: &Tree) -> Result<(), String> {
    if t.nodes.is_empty() {
        return Err("no nodes".into());
    }
    for (i, n) in t.nodes.iter().enumerate() {
        if !n.v.is_finite() {
            return Err(format!("nodes[{i}].v is {}", n.v));
        }
        match (n.l, n.r) {
            (None, None) => {}
            (Some(l), Some(r)) => {
                if l <= i || r <= i || l >= t.nodes.len() || r >= t.nodes.len() {
                    return Err(format!(
                        "nodes[{i}] children {l}, {r} must come after it and exist ({} nodes)",
                        t.nodes.len()
                    ));
                }
                if n.f >= NUM_FEATURES || !n.t.is_finite() {
                    return Err(format!(
                        "nodes[{i}] tests feature {} at {} (features 0..{NUM_FEATURES}, finite)",
                        n.f, n.t
                    ));
                }
            }
            _ => return Err(format!("nodes[{i}] has one child; a split needs two")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kbps: f64) -> Sample {
        Sample {
            throughput_kbps: kbps,
            delay_ms: 1000.0,
            size_bytes: kbps * 1000.0 / 8.0,
        }
    }

    #[test]
    fn features_pad_lags_and_take_the_harmonic_mean() {
        assert!(features(&[], 1.0).is_none());
        let x = features(&[s(1000.0), s(4000.0)], 5000.0).unwrap();
        assert!((x[0] - 4000f64.ln()).abs() < 1e-12);
        assert!((x[1] - 1000f64.ln()).abs() < 1e-12);
        assert!(
            (x[5] - 1000f64.ln()).abs() < 1e-12,
            "padded with the oldest"
        );
        assert!((x[6] - 1600f64.ln()).abs() < 1e-12);
        assert!((x[11] - 5000f64.ln()).abs() < 1e-12);
        assert!(x.iter().all(|v| v.is_finite()));
    }

    fn stump(v_left: f64, v_right: f64) -> Tree {
        Tree {
            nodes: vec![
                Node {
                    f: 0,
                    t: 7.0,
                    l: Some(1),
                    r: Some(2),
                    v: 0.0,
                },
                Node {
                    f: 0,
                    t: 0.0,
                    l: None,
                    r: None,
                    v: v_left,
                },
                Node {
                    f: 0,
                    t: 0.0,
                    l: None,
                    r: None,
                    v: v_right,
                },
            ],
        }
    }

    #[test]
    fn model_round_trips_and_predicts_per_tree() {
        let m = ForestModel::new(
            vec![Horizon {
                horizon_chunks: 1,
                trees: vec![stump(6.0, 8.0), stump(7.0, 9.0)],
                residual_ln: vec![],
            }],
            serde_json::json!({}),
        );
        let back = ForestModel::from_json(&m.to_json(), "m.json").unwrap();
        assert_eq!(back, m);
        let mut out = Vec::new();
        let mut x = [0.0; NUM_FEATURES];
        x[0] = 5.0;
        back.predict_trees_kbps(3, &x, &mut out);
        assert_eq!(out, vec![6f64.exp(), 7f64.exp()]);
        assert!((back.predict_kbps(1, &x) - 6.5f64.exp()).abs() < 1e-9);
        let mut q = Vec::new();
        back.quantiles_kbps(1, &x, &[0.0, 1.0], &mut q);
        assert_eq!(q, vec![6f64.exp(), 7f64.exp()], "the trees' spread");
        let mut cal = back.clone();
        cal.horizons[0].residual_ln = (0..RESIDUAL_QUANTILES)
            .map(|i| i as f64 * 0.1 - 1.0)
            .collect();
        cal.check().unwrap();
        cal.quantiles_kbps(1, &x, &[0.0, 0.5, 1.0], &mut q);
        let centre = 6.5f64;
        let want = [centre - 1.0, centre + 0.0, centre + 0.9];
        for (a, b) in q.iter().zip(want) {
            assert!((a.ln() - b).abs() < 1e-9, "{q:?}");
        }
        cal.horizons[0].residual_ln.swap(0, 1);
        assert!(cal.check().unwrap_err().contains("residual_ln"));
        let e = ForestModel::from_json("{", "m.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.json"), "{e}");
    }

    #[test]
    fn bad_models_are_refused_naming_the_field() {
        let good = ForestModel::new(
            vec![Horizon {
                horizon_chunks: 1,
                trees: vec![stump(6.0, 8.0)],
                residual_ln: vec![],
            }],
            serde_json::Value::Null,
        );
        let mut m = good.clone();
        m.version = 2;
        assert!(m.check().unwrap_err().contains("version 2"));
        let mut m = good.clone();
        m.features[0] = "other".into();
        assert!(m.check().unwrap_err().contains("features"));
        let mut m = good.clone();
        m.horizons[0].trees[0].nodes[0].l = Some(0);
        assert!(m.check().unwrap_err().contains("nodes[0]"));
        let mut m = good.clone();
        m.horizons[0].trees[0].nodes[1].v = f64::NAN;
        assert!(m.check().unwrap_err().contains("nodes[1].v"));
        let mut m = good.clone();
        m.horizons[0].trees[0].nodes[0].f = 99;
        assert!(m.check().unwrap_err().contains("feature 99"));
        let mut m = good.clone();
        m.target = "throughput".into();
        assert!(m.check().unwrap_err().contains("`target`"));
        let mut m = good;
        m.harmonic_blend = 1.5;
        assert!(m.check().unwrap_err().contains("harmonic_blend"));
    }

    #[test]
    fn a_relative_target_adds_the_harmonic_mean_back_and_the_blend_shrinks_towards_it() {
        let mut m = ForestModel::new(
            vec![Horizon {
                horizon_chunks: 1,
                trees: vec![stump(0.5, 0.5), stump(-0.1, -0.1)],
                residual_ln: vec![],
            }],
            serde_json::Value::Null,
        );
        m.target = TARGET_LN_RATIO_HARMONIC.into();
        let mut x = [0.0; NUM_FEATURES];
        x[HARMONIC_FEATURE] = 1000f64.ln();
        // Trees' mean ratio e^0.2 over the harmonic mean's 1000 kbit/s.
        assert!((m.predict_kbps(1, &x) - 1000.0 * 0.2f64.exp()).abs() < 1e-9);
        let mut out = Vec::new();
        m.predict_trees_kbps(1, &x, &mut out);
        assert!((out[0] - 1000.0 * 0.5f64.exp()).abs() < 1e-9);
        m.harmonic_blend = 0.5;
        assert!((m.predict_kbps(1, &x) - 1000.0 * 0.1f64.exp()).abs() < 1e-9);
        m.harmonic_blend = 1.0;
        assert!((m.predict_kbps(1, &x) - 1000.0).abs() < 1e-9);
        m.check().unwrap();
        // The blend and target survive the file; an old file (no blend) reads as 0.
        let back = ForestModel::from_json(&m.to_json(), "m.json").unwrap();
        assert_eq!(back, m);
        let old = ForestModel::new(m.horizons.clone(), serde_json::Value::Null);
        assert!(!old.to_json().contains("harmonic_blend"));
        assert_eq!(
            ForestModel::from_json(&old.to_json(), "o")
                .unwrap()
                .harmonic_blend,
            0.0
        );
    }
}
