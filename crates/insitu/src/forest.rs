//! The random-forest throughput predictor: fitted with `smartcore`, exported to the flat model
//! file `neuralstream-abr` reads ([`ForestModel`]).
//!
//! One forest per horizon (1..=[`HORIZONS`] chunks ahead), each fitted on the windows that have a
//! target at that horizon, to the **natural log** of the measured throughput (errors of a ratio
//! weigh the same at 300 kbit/s and at 30 Mbit/s, as MAPE counts them). Defaults
//! ([`ForestParams`]): 40 trees, depth at most 12, at least 5 windows per leaf, 4 of the 12 features
//! tried per split (about a third, the usual choice for regression), at most 60,000 windows per
//! horizon (a seeded subset above that, so fitting stays within a minute on one core).
//!
//! Two options, chosen on validation sessions (docs/telemetry.md, "Choosing mpc-rf's predictor"):
//! [`ForestParams::relative_target`] fits the trees to `ln(throughput / harmonic mean of the last
//! 5)` instead (relative units carry over between networks of different speeds), and
//! [`ForestParams::harmonic_blend`] shrinks the point prediction towards the harmonic mean.
//!
//! About a fifth of the sessions (by a hash of the id) are held out of the fit; the quantiles of
//! the forest's errors on them (`ln measured - ln predicted`) are stored per horizon, so the model
//! gives a calibrated distribution, not only the trees' spread.
//!
//! `smartcore` keeps its trees private; its `serde` form is the only public view of them, so the
//! export reads that form (`forest_regressor.trees[].nodes[]`: `split_feature`, `split_value`,
//! `true_child` taken when `x <= split_value`, `false_child`, `output`). A test checks the exported
//! forest predicts exactly what `smartcore`'s own `predict` does, so a change of that form in a
//! new `smartcore` fails loudly instead of exporting wrong trees.

use crate::error::InsituError;
use crate::windows::{Window, HORIZONS};
use neuralstream_abr::predictor::{
    ForestModel, Horizon, Node, Tree, HARMONIC_FEATURE, NUM_FEATURES, RESIDUAL_QUANTILES,
    TARGET_LN_RATIO_HARMONIC,
};
use neuralstream_core::Rng;
use serde_json::Value;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Settings of the forests.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// Trees per horizon.
    pub trees: usize,
    /// Deepest split.
    pub max_depth: u16,
    /// Fewest windows in a leaf.
    pub min_samples_leaf: usize,
    /// Features tried per split.
    pub features_per_split: usize,
    /// Most windows fitted per horizon (a seeded subset above it).
    pub max_rows: usize,
    /// Horizons fitted (1..=this).
    pub horizons: usize,
    /// Seed of the subset and of the forest.
    pub seed: u64,
    /// Fit the ln ratio to the harmonic mean of the last 5 samples instead of ln kbit/s.
    pub relative_target: bool,
    /// Weight of the harmonic mean in the point prediction (ln units, 0..=1).
    pub harmonic_blend: f64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 40,
            max_depth: 12,
            min_samples_leaf: 5,
            features_per_split: 4,
            max_rows: 60_000,
            horizons: HORIZONS,
            seed: 1,
            relative_target: false,
            harmonic_blend: 0.0,
        }
    }
}

type Rf = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Fits one forest per horizon on `windows`; `meta` is stored in the model file.
pub fn fit(
    windows: &[Window],
    params: &ForestParams,
    meta: Value,
) -> Result<ForestModel, InsituError> {
    let mut horizons = Vec::with_capacity(params.horizons);
    // About a fifth of the sessions calibrate the predicted distribution; with too few sessions
    // for that, every window is fitted and the model has the trees' spread only.
    let (fit_part, held): (Vec<Window>, Vec<Window>) = windows
        .iter()
        .cloned()
        .partition(|w| !crate::select::held_out(&w.session));
    let (windows, held) = if held.len() >= MIN_CALIBRATION_WINDOWS && !fit_part.is_empty() {
        (fit_part, held)
    } else {
        (windows.to_vec(), Vec::new())
    };
    let (windows, held) = (&windows[..], &held[..]);
    for h in 1..=params.horizons.clamp(1, HORIZONS) {
        let (x, mut y) = rows(windows, h, params.max_rows, params.seed);
        if x.len() < 2 * params.min_samples_leaf.max(1) {
            return Err(InsituError::NotEnoughData {
                what: format!("random forest, horizon {h}"),
                problem: format!(
                    "{} windows with a target {h} chunks ahead; record more sessions",
                    x.len()
                ),
            });
        }
        if params.relative_target {
            for (y, row) in y.iter_mut().zip(&x) {
                *y -= row[HARMONIC_FEATURE];
            }
        }
        let rf = fit_smartcore(&x, &y, params, h)?;
        let trees = export(&rf).map_err(|message| InsituError::Forest {
            what: format!("exporting horizon {h}"),
            message,
        })?;
        horizons.push(Horizon {
            horizon_chunks: h,
            trees,
            residual_ln: Vec::new(),
        });
    }
    let mut model = ForestModel::new(horizons, meta);
    if params.relative_target {
        model.target = TARGET_LN_RATIO_HARMONIC.into();
    }
    model.harmonic_blend = params.harmonic_blend;
    model.check().map_err(|message| InsituError::Forest {
        what: "the fitted model".into(),
        message,
    })?;
    for h in 1..=model.max_horizon() {
        model.horizons[h - 1].residual_ln = residual_quantiles(&model, held, h);
    }
    Ok(model)
}

/// Fewest held-out windows that calibrate the residual quantiles.
pub const MIN_CALIBRATION_WINDOWS: usize = 200;

/// [`RESIDUAL_QUANTILES`] quantiles of `ln(measured) - ln(predicted)` (the model's point
/// prediction, target and blend included) over the `held` windows with a target `h` ahead (empty
/// with fewer than [`MIN_CALIBRATION_WINDOWS`]).
fn residual_quantiles(model: &ForestModel, held: &[Window], h: usize) -> Vec<f64> {
    let (x, y) = rows(held, h, usize::MAX, 0);
    if x.len() < MIN_CALIBRATION_WINDOWS {
        return Vec::new();
    }
    let mut r: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(row, y)| y - model.predict_kbps(h, row).ln())
        .collect();
    r.sort_by(f64::total_cmp);
    let n = r.len();
    (0..RESIDUAL_QUANTILES)
        .map(|i| r[(((i as f64 + 0.5) / RESIDUAL_QUANTILES as f64) * n as f64) as usize])
        .collect()
}

/// (features, ln throughput) of the windows with a target `h` chunks ahead, at most `max_rows`.
pub fn rows(windows: &[Window], h: usize, max_rows: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut idx: Vec<usize> = (0..windows.len())
        .filter(|&i| windows[i].targets[h - 1].is_some())
        .collect();
    if idx.len() > max_rows {
        let mut rng = Rng::new(seed ^ (h as u64).wrapping_mul(0x9E37_79B9));
        for i in (1..idx.len()).rev() {
            idx.swap(i, rng.below(i + 1));
        }
        idx.truncate(max_rows);
        idx.sort_unstable();
    }
    let x = idx
        .iter()
        .map(|&i| windows[i].x_for(h).expect("filtered").to_vec())
        .collect();
    let y = idx
        .iter()
        .map(|&i| windows[i].targets[h - 1].expect("filtered").1.ln())
        .collect();
    (x, y)
}

fn fit_smartcore(
    x: &[Vec<f64>],
    y: &[f64],
    params: &ForestParams,
    h: usize,
) -> Result<Rf, InsituError> {
    let fail = |e: smartcore::error::Failed| InsituError::Forest {
        what: format!("horizon {h}"),
        message: e.to_string(),
    };
    let matrix = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(fail)?;
    let p = RandomForestRegressorParameters::default()
        .with_n_trees(params.trees.max(1))
        .with_max_depth(params.max_depth.max(1))
        .with_min_samples_leaf(params.min_samples_leaf.max(1))
        .with_m(params.features_per_split.clamp(1, NUM_FEATURES))
        .with_seed(params.seed.wrapping_add(h as u64));
    Rf::fit(&matrix, &y.to_vec(), p).map_err(fail)
}

/// The trees of a fitted `smartcore` forest, read from its serde form.
fn export(rf: &Rf) -> Result<Vec<Tree>, String> {
    let v = serde_json::to_value(rf).map_err(|e| e.to_string())?;
    let trees = v
        .pointer("/forest_regressor/trees")
        .and_then(Value::as_array)
        .ok_or("no forest_regressor.trees in smartcore's serde form")?;
    trees
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let nodes = t
                .get("nodes")
                .and_then(Value::as_array)
                .ok_or(format!("trees[{k}] has no nodes"))?;
            let nodes = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let num = |key: &str| n.get(key).and_then(Value::as_f64);
                    let idx = |key: &str| n.get(key).and_then(Value::as_u64).map(|u| u as usize);
                    let v = num("output").ok_or(format!("trees[{k}].nodes[{i}]: no output"))?;
                    let (l, r) = (idx("true_child"), idx("false_child"));
                    Ok(Node {
                        f: idx("split_feature").unwrap_or(0),
                        t: if l.is_some() {
                            num("split_value")
                                .ok_or(format!("trees[{k}].nodes[{i}]: split without value"))?
                        } else {
                            0.0
                        },
                        l,
                        r,
                        v,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Tree { nodes })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_predicts_what_smartcore_predicts() {
        let mut rng = Rng::new(3);
        let x: Vec<Vec<f64>> = (0..300)
            .map(|_| (0..NUM_FEATURES).map(|_| rng.uniform() * 10.0).collect())
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| r[0].sin() + 0.3 * r[3] + if r[7] > 5.0 { 2.0 } else { 0.0 })
            .collect();
        let params = ForestParams {
            trees: 7,
            max_depth: 6,
            min_samples_leaf: 2,
            ..ForestParams::default()
        };
        let rf = fit_smartcore(&x, &y, &params, 1).unwrap();
        let trees = export(&rf).unwrap();
        assert_eq!(trees.len(), 7);
        let want = rf.predict(&DenseMatrix::from_2d_vec(&x).unwrap()).unwrap();
        for (row, w) in x.iter().zip(want) {
            let mean = trees.iter().map(|t| t.predict(row)).sum::<f64>() / trees.len() as f64;
            assert!((mean - w).abs() < 1e-9, "{mean} vs {w}");
        }
        let model = ForestModel::new(
            vec![Horizon {
                horizon_chunks: 1,
                trees,
                residual_ln: vec![],
            }],
            Value::Null,
        );
        model.check().unwrap();
    }
}
