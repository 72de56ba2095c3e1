//! The LSTM throughput predictor of the real-time issue, on chunk series: `neuralstream-rt`'s
//! [`LstmPredictor`] trained by its [`train_lstm`] (one LSTM layer of `neuralstream-nn` and a
//! linear head, Adam on windows drawn from the series, inputs standardised with the training
//! series' statistics), reused as it is; this file only turns sessions into its [`Series`] and
//! chooses the training length on validation sessions.
//!
//! **Series.** One per session, one step per chunk: the value to predict is the chunk's measured
//! throughput; the inputs at step `k` are `ln(1 + Mbit/s)` of chunk `k`'s throughput, the ln of its
//! download time in seconds and the ln of chunk `k + 1`'s size in bytes (the chunk predicted next,
//! whose size is known when it is requested: Fugu's "time given size", as the forest's
//! `ln_target_size_bytes`; the last chunk repeats its own size).
//!
//! **Prediction.** For a window at decision point `t` the LSTM runs over the
//! [`LstmParams::window_chunks`] chunks before `t` from a zero state and predicts chunk `t`'s
//! throughput. It is a one-step predictor: like the harmonic mean and the EWMA, that value stands
//! for every horizon.
//!
//! **Early stopping.** The training sessions [`crate::select::held_out`] marks (about a fifth, the
//! ones the forest calibrates on) are a validation part: the LSTM is trained on the rest for each
//! of [`LstmParams::checkpoints`] Adam steps, with the head predicting the level or the change from
//! the last chunk, and the candidate with the lowest 1-chunk MAPE on the validation part is kept.
//! `train_lstm` is deterministic for a seed, so training for `n` steps gives exactly the checkpoint
//! at step `n` of a longer run: choosing among the lengths is early stopping on those checkpoints.

use crate::clean::SessionSeries;
use crate::error::InsituError;
use crate::predictors::{score, Predictor};
use crate::windows::{windows, Window};
use neuralstream_rt::predictor::{
    train_lstm, LstmPredictor, PredictorConfig, PredictorLoss, Series,
};
use serde::Serialize;
use std::collections::HashMap;

/// Settings of the LSTM and its training.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmParams {
    /// Hidden units.
    pub hidden: usize,
    /// Chunks of history the LSTM reads.
    pub window_chunks: usize,
    /// Windows per Adam step.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Training lengths (Adam steps) among which validation chooses, ascending.
    pub checkpoints: Vec<usize>,
    /// Seed of initialisation and window draws.
    pub seed: u64,
}

impl Default for LstmParams {
    fn default() -> Self {
        LstmParams {
            hidden: 16,
            window_chunks: 10,
            batch: 16,
            learning_rate: 3e-3,
            checkpoints: vec![250, 500, 1000, 2000],
            seed: 1,
        }
    }
}

/// Inputs per chunk.
pub const INPUTS: usize = 3;

/// The rt series of one session (see the module doc).
pub fn series_of(s: &SessionSeries) -> Series {
    let n = s.chunks.len();
    let mut inputs = Vec::with_capacity(n * INPUTS);
    for (k, c) in s.chunks.iter().enumerate() {
        let next_size = s.chunks.get(k + 1).map_or(c.size_bytes, |n| n.size_bytes);
        inputs.extend([
            (c.throughput_kbps / 1000.0).ln_1p() as f32,
            ((c.end_ms - c.start_ms).max(1.0) / 1000.0).ln() as f32,
            next_size.max(1.0).ln() as f32,
        ]);
    }
    Series {
        capacity_kbps: s.chunks.iter().map(|c| c.throughput_kbps).collect(),
        inputs,
        dim: INPUTS,
    }
}

/// A trained LSTM and the series of the sessions it predicts on.
pub struct LstmScorer {
    model: LstmPredictor,
    /// Per session: its series and the position of each chunk number in it.
    series: HashMap<String, (Series, HashMap<u32, usize>)>,
}

impl LstmScorer {
    /// The scorer of `model` over `sessions`.
    pub fn new(model: LstmPredictor, sessions: &[SessionSeries]) -> Self {
        let series = sessions
            .iter()
            .map(|s| {
                let pos = s
                    .chunks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.chunk, i))
                    .collect();
                (s.session.clone(), (series_of(s), pos))
            })
            .collect();
        LstmScorer { model, series }
    }

    /// The predicted throughput of the window's first target chunk, kbit/s (`None` for a
    /// session or chunk it was not given, or at the session's first chunk).
    pub fn predict_kbps(&self, w: &Window) -> Option<f64> {
        let (series, pos) = self.series.get(&w.session)?;
        let t = pos.get(&w.chunk)?.checked_sub(1)?;
        Some(self.model.predict(series, t))
    }
}

/// One training candidate and its validation score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LstmCandidate {
    /// Adam steps.
    pub steps: usize,
    /// Whether the head predicts the change from the last chunk (ln units) rather than the level.
    pub residual: bool,
    /// 1-chunk MAPE on the validation sessions, percent.
    pub validation_mape_pct: f64,
}

/// What [`fit`] chose and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LstmReport {
    /// Every candidate, in training order.
    pub candidates: Vec<LstmCandidate>,
    /// Index of the kept one.
    pub chosen: usize,
    /// Training sessions the LSTM was fitted on.
    pub fit_sessions: usize,
    /// Training sessions held out to choose among the candidates.
    pub validation_sessions: usize,
    /// Wall time of every training and validation together, seconds.
    pub train_s: f64,
}

/// Trains the LSTM on `train` sessions, early-stopped on its held-out part (module doc).
pub fn fit(
    train: &[SessionSeries],
    params: &LstmParams,
) -> Result<(LstmPredictor, LstmReport), InsituError> {
    let started = std::time::Instant::now();
    let (val, fit): (Vec<SessionSeries>, Vec<SessionSeries>) = train
        .iter()
        .cloned()
        .partition(|s| crate::select::held_out(&s.session));
    let (fit, val) = if fit.is_empty() || val.is_empty() {
        // Too few sessions to hold some out: validate on the training sessions themselves.
        (train.to_vec(), train.to_vec())
    } else {
        (fit, val)
    };
    let fit_series: Vec<Series> = fit.iter().map(series_of).collect();
    let val_windows = windows(&val);
    let mut best: Option<(LstmPredictor, usize)> = None;
    let mut candidates = Vec::new();
    for residual in [false, true] {
        for &steps in &params.checkpoints {
            let cfg = PredictorConfig {
                hidden: params.hidden,
                window: params.window_chunks,
                batch: params.batch,
                iterations: steps,
                learning_rate: params.learning_rate,
                seed: params.seed,
                residual: Some(residual),
                loss: Some(PredictorLoss::Squared),
                ..PredictorConfig::default()
            };
            let model = train_lstm(&fit_series, &cfg).map_err(|e| InsituError::NotEnoughData {
                what: "LSTM predictor".into(),
                problem: format!(
                    "{e}; sessions need more than {} chunks",
                    params.window_chunks + 1
                ),
            })?;
            let scorer = LstmScorer::new(model, &val);
            let mape = score(&Predictor::Lstm(&scorer), &val_windows)
                .first()
                .map_or(f64::INFINITY, |s| s.mape_pct);
            candidates.push(LstmCandidate {
                steps,
                residual,
                validation_mape_pct: mape,
            });
            let k = candidates.len() - 1;
            if best
                .as_ref()
                .is_none_or(|(_, b)| mape < candidates[*b].validation_mape_pct)
            {
                best = Some((scorer.model, k));
            }
        }
    }
    let (model, chosen) = best.ok_or_else(|| InsituError::NotEnoughData {
        what: "LSTM predictor".into(),
        problem: "no training length given".into(),
    })?;
    let report = LstmReport {
        candidates,
        chosen,
        fit_sessions: fit.len(),
        validation_sessions: val.len(),
        train_s: started.elapsed().as_secs_f64(),
    };
    Ok((model, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::ChunkObs;

    /// Sessions whose throughput follows a period-3 pattern scaled per session: learnable from
    /// the last chunks, while a constant (any constant) is always far off.
    fn sessions(n: usize, offset: usize) -> Vec<SessionSeries> {
        let pattern = [600.0, 2400.0, 1200.0];
        (0..n)
            .map(|i| {
                let scale = 0.7 + 0.1 * ((i + offset) % 7) as f64;
                SessionSeries {
                    session: format!("s{}", i + offset),
                    source: "bench".into(),
                    algorithm: None,
                    client: None,
                    chunks: (0..40u32)
                        .map(|c| {
                            let kbps = scale * pattern[(c as usize + i) % 3];
                            let start_ms = c as f64 * 4000.0;
                            ChunkObs {
                                chunk: c,
                                start_ms,
                                end_ms: start_ms + 1000.0,
                                size_bytes: kbps * 1000.0 / 8.0,
                                throughput_kbps: kbps,
                                imputed: false,
                            }
                        })
                        .collect(),
                }
            })
            .collect()
    }

    #[test]
    fn the_lstm_beats_a_constant_on_a_learnable_series_and_is_deterministic() {
        let train = sessions(30, 0);
        let test = sessions(10, 100);
        let params = LstmParams {
            checkpoints: vec![300, 900],
            window_chunks: 6,
            learning_rate: 1e-2,
            ..LstmParams::default()
        };
        let (model, report) = fit(&train, &params).unwrap();
        assert_eq!(report.candidates.len(), 4);
        assert!(report.validation_sessions > 0, "some sessions validate");
        let scorer = LstmScorer::new(model, &test);
        let w = windows(&test);
        let lstm = score(&Predictor::Lstm(&scorer), &w)[0].mape_pct;
        // The best constant for MAPE is the median throughput of the training chunks.
        let mut all: Vec<f64> = train
            .iter()
            .flat_map(|s| s.chunks.iter().map(|c| c.throughput_kbps))
            .collect();
        all.sort_by(f64::total_cmp);
        let median = all[all.len() / 2];
        let constant: f64 = w
            .iter()
            .filter_map(|w| w.targets[0])
            .map(|(_, y)| (median - y).abs() / y)
            .sum::<f64>()
            / w.iter().filter(|w| w.targets[0].is_some()).count() as f64
            * 100.0;
        assert!(
            lstm < 0.5 * constant,
            "lstm {lstm:.1} % vs constant {constant:.1} %"
        );
        let (again, _) = fit(&train, &params).unwrap();
        let again = LstmScorer::new(again, &test);
        assert_eq!(
            lstm,
            score(&Predictor::Lstm(&again), &w)[0].mape_pct,
            "same seed, same model"
        );
    }

    #[test]
    fn too_short_sessions_are_an_error_not_a_panic() {
        let mut s = sessions(3, 0);
        for x in &mut s {
            x.chunks.truncate(4);
        }
        let e = fit(&s, &LstmParams::default()).unwrap_err().to_string();
        assert!(e.contains("more than 11 chunks"), "{e}");
    }
}
