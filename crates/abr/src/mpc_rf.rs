//! MPC that plans over a learned throughput distribution (`mpc-rf:MODEL`), after Fugu
//! (Yan et al., "Learning in situ: a randomized experiment in video streaming", NSDI 2020).
//!
//! Fugu replaces MPC's point forecast with a learned predictor of each candidate chunk's
//! transmission time *given its size*, as a probability distribution, and maximises the expected
//! QoE over it. Here the predictor is a random forest ([`crate::predictor::ForestModel`], trained on
//! the service's own telemetry by `neuralstream dataset fit`): for every look-ahead step `h` and
//! level `q` the features of the chunk's size give one throughput per tree, so download time
//! `size_q / throughput` has one value per tree. The trees' spread is the distribution.
//!
//! The distribution: the forest's point prediction times the quantiles of its residuals on
//! sessions held out of the fit (stored per horizon in the model: calibrated, so it is as wide as
//! the errors really are), or, for a model without them, the trees' own spread (bagged trees agree
//! more than the link varies, so that one is narrower than the truth).
//!
//! On top of it, RobustMPC's discount ([`MpcRfParams::robust_discount`]): every scenario's
//! throughput is divided by `1 + max` relative error of the forest's own 1-chunk predictions over
//! the session's last 5 chunks. One global distribution cannot know that *this* session is
//! volatile; the discount does. Chosen on Pensieve's training traces (never the test traces):
//! quantiles alone 27.93, the median with the discount 26.59, both 29.43 (RobustMPC 26.13).
//!
//! The model it is run with is fitted with a blend towards the harmonic mean
//! ([`ForestModel::harmonic_blend`] 0.5, `dataset eval-predictors --harmonic-blend 0.5`), chosen by
//! 4-fold cross-validation over the training traces (docs/telemetry.md, "Choosing mpc-rf's
//! predictor"); the planner reads the blend from the model file and needs no setting of its own.
//!
//! Planning: the distribution of each (step, level) is summarised by its [`MpcRfParams::quantiles`]
//! (equal weights), taken comonotone across steps (scenario `s` is quantile `s` at every step: a
//! slow link tends to stay slow). Every level sequence of the horizon is played against every
//! scenario with MPC's buffer model (download time drains the buffer, a stall when it runs dry,
//! each chunk adds its duration; no buffer cap), scored with QoE_lin (`Σ R/1000 − 4.3·Σ rebuffer −
//! Σ |ΔR|/1000`), and the first level of the sequence with the best mean score is played. The
//! stall penalty is convex in the download time, so the mean over scenarios is more cautious than
//! planning on the median alone, and how cautious follows the model's own uncertainty instead of
//! RobustMPC's fixed discount by the recent maximum error.
//!
//! Parameters and defaults are at the top ([`MpcRfParams`]); the search is a plain depth-first
//! enumeration (9,330 prefixes for 6 levels and 5 chunks, times the scenarios).

use crate::predictor::{features, ForestModel, Sample};
use neuralstream_core::{Abr, Decision, Observation};
use std::sync::Arc;

/// Parameters of [`MpcRf`].
#[derive(Debug, Clone, PartialEq)]
pub struct MpcRfParams {
    /// Look-ahead horizon, chunks (at most the model's longest horizon).
    pub horizon_chunks: usize,
    /// Quantiles of the per-tree download times planned over, equal weights.
    pub quantiles: Vec<f64>,
    /// QoE_lin rebuffering penalty per second of stall (4.3).
    pub rebuffer_penalty_per_s: f64,
    /// QoE_lin smoothness penalty per Mbit/s of change (1).
    pub smoothness_penalty: f64,
    /// RobustMPC's discount on the forest: divide every scenario's throughput by `1 + max` relative
    /// error of the forest's own 1-chunk predictions over the last [`MpcRfParams::error_window_chunks`]
    /// chunks of this session (the session's volatility, which one global distribution misses).
    pub robust_discount: bool,
    /// Chunks whose prediction errors the discount looks at (5, as RobustMPC).
    pub error_window_chunks: usize,
}

impl Default for MpcRfParams {
    fn default() -> Self {
        MpcRfParams {
            horizon_chunks: 5,
            quantiles: vec![0.1, 0.3, 0.5, 0.7, 0.9],
            rebuffer_penalty_per_s: 4.3,
            smoothness_penalty: 1.0,
            robust_discount: true,
            error_window_chunks: 5,
        }
    }
}

/// Prefix of the algorithm's name; the model file follows it (`mpc-rf:out/dataset/rf.json`).
pub const PREFIX: &str = "mpc-rf:";

/// MPC over a random forest's predicted throughput distribution.
#[derive(Debug, Clone)]
pub struct MpcRf {
    /// Parameters.
    pub params: MpcRfParams,
    model: Arc<ForestModel>,
    name: String,
    /// Scratch: the session's samples.
    samples: Vec<Sample>,
    /// Scratch: per-tree predictions.
    per_tree: Vec<f64>,
    /// Scratch: download seconds, `[(scenario * horizon + step) * levels + level]`.
    download_s: Vec<f64>,
}

impl MpcRf {
    /// The controller over `model`, reported as `mpc-rf:{model_path}`.
    pub fn new(model: Arc<ForestModel>, model_path: &str, params: MpcRfParams) -> Self {
        MpcRf {
            params,
            model,
            name: format!("{PREFIX}{model_path}"),
            samples: Vec::with_capacity(64),
            per_tree: Vec::with_capacity(64),
            download_s: Vec::new(),
        }
    }

    /// Fills `download_s` for the scenarios; returns the 1-step point prediction at `level`, kbit/s.
    fn predict(&mut self, obs: &Observation<'_>, horizon: usize, level: usize) -> f64 {
        let video = obs.video;
        let levels = video.num_levels();
        let scenarios = self.params.quantiles.len();
        self.download_s.clear();
        self.download_s.resize(scenarios * horizon * levels, 0.0);
        let mut median_kbps = f64::NAN;
        for step in 0..horizon {
            let chunk = obs.next_chunk + step;
            for q in 0..levels {
                let size_bytes = video.size_bytes_or_zero(q, chunk) as f64;
                let x = features(&self.samples, size_bytes.max(1.0)).expect("history checked");
                if step == 0 && q == level {
                    median_kbps = self.model.predict_kbps(1, &x);
                }
                self.model
                    .quantiles_kbps(step + 1, &x, &self.params.quantiles, &mut self.per_tree);
                for (s, kbps) in self.per_tree.iter().enumerate() {
                    self.download_s[(s * horizon + step) * levels + q] =
                        size_bytes * 8.0 / kbps.max(1e-3) / 1000.0;
                }
            }
        }
        median_kbps
    }
}

impl MpcRf {
    /// Largest relative error `|predicted - measured| / measured` of the forest's 1-chunk
    /// predictions of the last `error_window_chunks` downloads (each from the samples before it,
    /// at its own size); 0 with fewer than two samples.
    fn max_recent_error(&self) -> f64 {
        let n = self.samples.len();
        let from = n.saturating_sub(self.params.error_window_chunks).max(1);
        (from..n)
            .filter_map(|k| {
                let s = self.samples[k];
                let x = features(&self.samples[..k], s.size_bytes.max(1.0))?;
                let p = self.model.predict_kbps(1, &x);
                Some((p - s.throughput_kbps).abs() / s.throughput_kbps)
            })
            .fold(0.0, f64::max)
    }
}

/// The depth-first search over level sequences, every scenario at once.
struct Search<'a> {
    download_s: &'a [f64],
    kbps: &'a [f64],
    levels: usize,
    horizon: usize,
    scenarios: usize,
    chunk_s: f64,
    rebuffer_penalty: f64,
    smoothness_penalty: f64,
    best: (f64, usize),
}

impl Search<'_> {
    /// `buffers`/`rebuffers`: per scenario after `depth` chunks; sums shared by all scenarios.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        depth: usize,
        first: usize,
        last: usize,
        buffers: &[f64],
        rebuffers: &[f64],
        bitrate_sum: f64,
        smooth_sum: f64,
    ) {
        if depth == self.horizon {
            let mean_rebuffer = rebuffers.iter().sum::<f64>() / self.scenarios as f64;
            let reward = bitrate_sum / 1000.0
                - self.rebuffer_penalty * mean_rebuffer
                - self.smoothness_penalty * smooth_sum / 1000.0;
            if reward > self.best.0 {
                self.best = (reward, first);
            }
            return;
        }
        let mut b = vec![0.0; self.scenarios];
        let mut r = vec![0.0; self.scenarios];
        for q in 0..self.levels {
            for s in 0..self.scenarios {
                let t = self.download_s[(s * self.horizon + depth) * self.levels + q];
                if buffers[s] < t {
                    r[s] = rebuffers[s] + (t - buffers[s]);
                    b[s] = self.chunk_s;
                } else {
                    r[s] = rebuffers[s];
                    b[s] = buffers[s] - t + self.chunk_s;
                }
            }
            let f = if depth == 0 { q } else { first };
            let smooth = smooth_sum + (self.kbps[q] - self.kbps[last]).abs();
            self.node(depth + 1, f, q, &b, &r, bitrate_sum + self.kbps[q], smooth);
        }
    }
}

impl Abr for MpcRf {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        self.samples.clear();
        self.samples
            .extend(obs.history.iter().filter_map(Sample::of_record));
        let levels = obs.video.num_levels();
        let last = obs.last_level.min(levels - 1);
        if self.samples.is_empty() {
            // Nothing measured yet in this session: the lowest level, as MPC does.
            return Decision::level(0);
        }
        let horizon = self
            .params
            .horizon_chunks
            .min(self.model.max_horizon())
            .min(obs.chunks_left());
        if horizon == 0 || self.params.quantiles.is_empty() {
            return Decision::level(last);
        }
        let median_kbps = self.predict(obs, horizon, last);
        if self.params.robust_discount {
            let discount = 1.0 + self.max_recent_error();
            for t in &mut self.download_s {
                *t *= discount;
            }
        }
        let kbps: Vec<f64> = obs
            .video
            .ladder
            .levels
            .iter()
            .map(|l| l.bitrate_kbps)
            .collect();
        let scenarios = self.params.quantiles.len();
        let mut search = Search {
            download_s: &self.download_s,
            kbps: &kbps,
            levels,
            horizon,
            scenarios,
            chunk_s: obs.video.chunk_duration_s,
            rebuffer_penalty: self.params.rebuffer_penalty_per_s,
            smoothness_penalty: self.params.smoothness_penalty,
            best: (f64::NEG_INFINITY, 0),
        };
        let buffers = vec![obs.buffer_s; scenarios];
        let rebuffers = vec![0.0; scenarios];
        search.node(0, 0, last, &buffers, &rebuffers, 0.0, 0.0);
        Decision {
            level: search.best.1.min(levels - 1),
            predicted_throughput_kbps: median_kbps.is_finite().then_some(median_kbps),
            buffer_target_s: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::{Horizon, Node, Tree};
    use crate::throughput::test_util::{obs, pensieve_video, rec};

    /// A model whose every tree predicts `kbps` whatever the features.
    fn constant_model(kbps: &[f64]) -> Arc<ForestModel> {
        let trees = kbps
            .iter()
            .map(|k| Tree {
                nodes: vec![Node {
                    f: 0,
                    t: 0.0,
                    l: None,
                    r: None,
                    v: k.ln(),
                }],
            })
            .collect::<Vec<_>>();
        let horizons = (1..=5)
            .map(|h| Horizon {
                horizon_chunks: h,
                trees: trees.clone(),
                residual_ln: vec![],
            })
            .collect();
        Arc::new(ForestModel::new(horizons, serde_json::Value::Null))
    }

    fn video_with_sizes() -> neuralstream_core::Video {
        // Pensieve's ladder, 4 s chunks sized at the nominal bitrate.
        let ladder = neuralstream_core::Ladder::pensieve();
        let sizes = ladder
            .levels
            .iter()
            .map(|l| vec![(l.bitrate_kbps * 4.0 * 1000.0 / 8.0) as u64; 20])
            .collect();
        neuralstream_core::Video::new("v", 4.0, ladder, sizes, vec![]).unwrap()
    }

    #[test]
    fn fast_certain_link_picks_the_top_and_slow_one_the_bottom() {
        let v = video_with_sizes();
        let h = [rec(0, 3000.0, 1000.0)];
        let mut fast = MpcRf::new(constant_model(&[50_000.0; 4]), "m", MpcRfParams::default());
        assert_eq!(fast.choose(&obs(&v, &h, 20.0, 5)).level, 5);
        let mut slow = MpcRf::new(constant_model(&[200.0; 4]), "m", MpcRfParams::default());
        assert_eq!(slow.choose(&obs(&v, &h, 2.0, 0)).level, 0);
        assert_eq!(slow.name(), "mpc-rf:m");
    }

    #[test]
    fn uncertainty_makes_it_more_cautious() {
        let v = video_with_sizes();
        let h = [rec(2, 2500.0, 1000.0)];
        let o = obs(&v, &h, 4.0, 2);
        let mut certain = MpcRf::new(constant_model(&[2500.0; 8]), "m", MpcRfParams::default());
        let spread = [300.0, 600.0, 2500.0, 2500.0, 2500.0, 2500.0, 5000.0, 9000.0];
        let mut unsure = MpcRf::new(constant_model(&spread), "m", MpcRfParams::default());
        let a = certain.choose(&o).level;
        let b = unsure.choose(&o).level;
        assert!(b < a, "certain {a}, unsure {b}");
    }

    #[test]
    fn no_history_and_last_chunk_are_handled() {
        let v = pensieve_video(3);
        let mut m = MpcRf::new(constant_model(&[1000.0]), "m", MpcRfParams::default());
        assert_eq!(m.choose(&obs(&v, &[], 0.0, 0)).level, 0);
        let h = [rec(1, 1000.0, 500.0); 3];
        // next_chunk == total: no horizon, keeps the last level.
        assert_eq!(m.choose(&obs(&v, &h, 4.0, 1)).level, 1);
    }

    #[test]
    fn a_volatile_session_is_discounted_by_the_forest_s_own_errors() {
        let v = video_with_sizes();
        // The forest always predicts 2500 kbit/s; a steady session matches it, a volatile one
        // measured 800 kbit/s once (a 213 % error).
        let steady = [rec(2, 2500.0, 1000.0); 4];
        let mut volatile = steady;
        volatile[2] = rec(2, 800.0, 1000.0);
        let model = constant_model(&[2500.0; 4]);
        let mut m = MpcRf::new(model.clone(), "m", MpcRfParams::default());
        let a = m.choose(&obs(&v, &steady, 8.0, 2)).level;
        let b = m.choose(&obs(&v, &volatile, 8.0, 2)).level;
        assert!(b < a, "steady {a}, volatile {b}");
        let plain = MpcRfParams {
            robust_discount: false,
            ..MpcRfParams::default()
        };
        let mut m = MpcRf::new(model, "m", plain);
        assert_eq!(m.choose(&obs(&v, &volatile, 8.0, 2)).level, a);
    }
}
