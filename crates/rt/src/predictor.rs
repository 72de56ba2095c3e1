//! Next-interval capacity prediction: an LSTM against an EWMA, scored by MAPE.
//!
//! **Task.** A trace is cut into [`PredictorConfig::interval_ms`] intervals (200 ms by default) of
//! mean capacity; from the intervals up to `t`, predict interval `t + 1` (issue 18's "MAPE on the
//! next interval's capacity").
//!
//! **Inputs** ([`PredictorInputs`]). Either the capacity history alone, or that plus the ~10
//! network features issue 18 names, measured per interval while GCC runs the trace in the
//! simulator ([`network_series`]): receive rate, send rate, GCC's target, RTT, one-way delay and
//! its gradient, queueing delay over the lowest one-way delay seen, jitter (spread of packet
//! inter-arrival gaps), loss, and receive / send ratio ([`FEATURE_NAMES`]). They are what the 50 ms
//! transport feedback carries (per-packet send and arrival times, sizes and losses), grouped by the
//! interval in which packets arrived (or were sent, for send rate and loss): the view of the
//! receiver at the interval's end, `rtt/2` ahead of the sender's. Which inputs (and LSTM size) are
//! used is chosen on the validation split ([`compare`]); the test split only scores.
//!
//! **Models.**
//! * EWMA: `p = α x_t + (1 - α) p`, with `α` chosen on the validation split from 0.1 .. 1.0 (1.0 is
//!   "last value").
//! * LSTM ([`neuralstream_nn::Lstm`], one layer) with a linear head predicting `ln(1 + Mbit/s)`;
//!   trained with Adam on windows of [`PredictorConfig::window`] intervals drawn from the train
//!   split, mean squared error on every step of the window; it predicts interval `t + 1` from the
//!   window ending at `t`, run from a zero state, so training and evaluation see the same context.
//!
//! **Score.** MAPE = mean of `|prediction - actual| / actual` over intervals whose actual capacity is
//! at least [`MIN_ACTUAL_KBPS`] (an outage's 0 would divide by zero), from the 10th interval of each
//! trace on (both models get the same warm-up). Everything is seeded ([`SplitMix64`]).

use crate::error::RtError;
use crate::gcc::Gcc;
use crate::sim::{run_session, RtConfig, SessionLog};
use crate::trace::{LinkTrace, Split};
use neuralstream_nn::{Lstm, SplitMix64};

/// Intervals whose actual capacity is below this are not scored, kbit/s.
pub const MIN_ACTUAL_KBPS: f64 = 10.0;
/// Intervals of history before scoring starts.
pub const WARM_UP: usize = 10;

/// Predictor training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorConfig {
    /// Interval length, ms. Default 200.
    pub interval_ms: f64,
    /// LSTM hidden units. Default 16.
    pub hidden: usize,
    /// Window length, intervals. Default 32.
    pub window: usize,
    /// Windows per Adam step. Default 16.
    pub batch: usize,
    /// Adam steps. Default 1500.
    pub iterations: usize,
    /// Adam learning rate. Default 3e-3.
    pub learning_rate: f32,
    /// Seed of initialisation and window draws. Default 1.
    pub seed: u64,
    /// LSTM inputs; `None` (the default): chosen on validation by [`compare`].
    pub inputs: Option<PredictorInputs>,
    /// Whether the head predicts the change from the last interval (`ln` of the ratio) rather
    /// than the level; `None` (the default): chosen on validation by [`compare`].
    pub residual: Option<bool>,
    /// Training loss; `None` (the default): chosen on validation by [`compare`].
    pub loss: Option<PredictorLoss>,
}

/// What the LSTM reads each interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PredictorInputs {
    /// The interval's capacity alone (what the EWMA reads).
    Capacity,
    /// Capacity plus the network features of [`FEATURE_NAMES`], measured while GCC runs.
    Network,
}

/// The LSTM's training loss, per interval of every window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PredictorLoss {
    /// Squared error in `ln(1 + Mbit/s)`.
    Squared,
    /// Absolute error in `ln(1 + Mbit/s)`.
    Absolute,
    /// The score itself: `|prediction - actual| / actual` in kbit/s, over intervals of at least
    /// [`MIN_ACTUAL_KBPS`].
    Mape,
}

/// The LSTM's inputs with [`PredictorInputs::Network`], in order; rates as `ln(1 + Mbit/s)`,
/// delays in units of 100 ms, jitter in units of 10 ms.
pub const FEATURE_NAMES: [&str; 11] = [
    "capacity",
    "receive_rate",
    "send_rate",
    "gcc_target",
    "rtt",
    "one_way_delay",
    "one_way_delay_gradient",
    "queueing_delay",
    "jitter",
    "loss",
    "receive_send_ratio",
];

impl Default for PredictorConfig {
    fn default() -> Self {
        PredictorConfig {
            interval_ms: 200.0,
            hidden: 16,
            window: 32,
            batch: 16,
            iterations: 1500,
            learning_rate: 3e-3,
            seed: 1,
            inputs: None,
            residual: None,
            loss: None,
        }
    }
}

/// Mean capacity of each interval over one loop of the trace, kbit/s.
pub fn capacity_series(trace: &LinkTrace, interval_ms: f64) -> Vec<f64> {
    let n = (trace.duration_ms() / interval_ms).floor() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * interval_ms;
            trace.capacity_bytes_between(t, t + interval_ms) * 8.0 / interval_ms
        })
        .collect()
}

fn to_feature(kbps: f64) -> f32 {
    (kbps / 1000.0).ln_1p() as f32
}

fn from_feature(x: f32) -> f64 {
    ((x as f64).exp_m1() * 1000.0).max(0.0)
}

/// One trace's intervals: the capacity to predict and the LSTM's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Mean capacity of each interval, kbit/s.
    pub capacity_kbps: Vec<f64>,
    /// Inputs, `dim` per interval, interval-major.
    pub inputs: Vec<f32>,
    /// Inputs per interval.
    pub dim: usize,
}

impl Series {
    /// The capacity-only series (one input: `ln(1 + Mbit/s)` of the capacity).
    pub fn capacity_only(capacity_kbps: Vec<f64>) -> Self {
        let inputs = capacity_kbps.iter().map(|&k| to_feature(k)).collect();
        Series {
            capacity_kbps,
            inputs,
            dim: 1,
        }
    }

    fn input(&self, t: usize) -> &[f32] {
        &self.inputs[t * self.dim..(t + 1) * self.dim]
    }
}

/// Runs GCC over one loop of `trace` in the simulator (default [`RtConfig`]: 60 fps, 50-packet
/// queue) and measures [`FEATURE_NAMES`] per interval of `interval_ms` from the session's packets.
pub fn network_series(trace: &LinkTrace, interval_ms: f64) -> Result<Series, RtError> {
    let cfg = RtConfig {
        duration_ms: trace.duration_ms().max(1000.0),
        ..Default::default()
    };
    let log = run_session(trace, &cfg, &mut Gcc::default())?;
    Ok(features_of(trace, &log, interval_ms))
}

/// [`FEATURE_NAMES`] per interval of a finished session (see [`network_series`]).
pub fn features_of(trace: &LinkTrace, log: &SessionLog, interval_ms: f64) -> Series {
    let capacity_kbps = capacity_series(trace, interval_ms);
    let n = capacity_kbps.len();
    let slot =
        |t_ms: f64| ((t_ms / interval_ms).floor().max(0.0) as usize).min(n.saturating_sub(1));
    #[derive(Clone, Default)]
    struct Acc {
        recv_bytes: f64,
        sent_bytes: f64,
        sent: usize,
        lost: usize,
        owd_sum: f64,
        rtt_sum: f64,
        arrived: usize,
        owd_min: f64,
        gaps: Vec<f64>,
    }
    let mut acc = vec![
        Acc {
            owd_min: f64::INFINITY,
            ..Default::default()
        };
        n
    ];
    let mut last_arrival: Option<f64> = None;
    for p in &log.packets {
        if n == 0 {
            break;
        }
        let a = &mut acc[slot(p.send_ms)];
        a.sent += 1;
        a.sent_bytes += p.bytes as f64;
        match p.arrival_ms() {
            None => a.lost += 1,
            Some(arr) => {
                let a = &mut acc[slot(arr)];
                let owd = arr - p.send_ms;
                a.recv_bytes += p.bytes as f64;
                a.owd_sum += owd;
                a.rtt_sum += owd + p.propagation_ms;
                a.arrived += 1;
                a.owd_min = a.owd_min.min(owd);
                if let Some(prev) = last_arrival {
                    a.gaps.push(arr - prev);
                }
                last_arrival = Some(arr);
            }
        }
    }
    let kbps = |bytes: f64| bytes * 8.0 / interval_ms;
    let mut inputs = Vec::with_capacity(n * FEATURE_NAMES.len());
    let (mut owd, mut rtt, mut prev_owd) = (0.0, 0.0, 0.0);
    let mut lowest_owd = f64::INFINITY;
    let mut decision = 0;
    for (k, a) in acc.iter().enumerate() {
        let end_ms = (k + 1) as f64 * interval_ms;
        while decision + 1 < log.decisions.len() && log.decisions[decision + 1].at_ms <= end_ms {
            decision += 1;
        }
        let target_kbps = log
            .decisions
            .get(decision)
            .map_or(0.0, |d| d.decision.target_bps / 1000.0);
        // With nothing arriving, delays keep their last value (the receiver learns nothing new).
        if a.arrived > 0 {
            owd = a.owd_sum / a.arrived as f64;
            rtt = a.rtt_sum / a.arrived as f64;
            lowest_owd = lowest_owd.min(a.owd_min);
        }
        let queueing = if a.arrived > 0 {
            a.owd_min - lowest_owd
        } else {
            0.0
        };
        let jitter = if a.gaps.len() > 1 {
            let m = a.gaps.iter().sum::<f64>() / a.gaps.len() as f64;
            (a.gaps.iter().map(|g| (g - m) * (g - m)).sum::<f64>() / a.gaps.len() as f64).sqrt()
        } else {
            0.0
        };
        let loss = if a.sent > 0 {
            a.lost as f64 / a.sent as f64
        } else {
            0.0
        };
        let ratio = if a.sent_bytes > 0.0 {
            (a.recv_bytes / a.sent_bytes).min(2.0)
        } else {
            1.0
        };
        inputs.extend([
            to_feature(capacity_kbps[k]),
            to_feature(kbps(a.recv_bytes)),
            to_feature(kbps(a.sent_bytes)),
            to_feature(target_kbps),
            (rtt / 100.0) as f32,
            (owd / 100.0) as f32,
            ((owd - prev_owd) / 100.0) as f32,
            (queueing / 100.0) as f32,
            (jitter / 10.0) as f32,
            loss as f32,
            ratio as f32,
        ]);
        prev_owd = owd;
    }
    Series {
        capacity_kbps,
        inputs,
        dim: FEATURE_NAMES.len(),
    }
}

/// MAPE of `predict(trace index, series, t)` (a prediction of `series[t + 1]`) over the scored
/// intervals.
fn mape(series: &[Vec<f64>], predict: &mut dyn FnMut(usize, &[f64], usize) -> f64) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, s) in series.iter().enumerate() {
        for t in WARM_UP..s.len().saturating_sub(1) {
            let actual = s[t + 1];
            if actual < MIN_ACTUAL_KBPS {
                continue;
            }
            sum += (predict(i, s, t) - actual).abs() / actual;
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// MAPE of an EWMA with smoothing `alpha`, started at each trace's first interval.
pub fn ewma_mape(series: &[Vec<f64>], alpha: f64) -> f64 {
    // Precompute each trace's EWMA once.
    let smoothed: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut p = s.first().copied().unwrap_or(0.0);
            s.iter()
                .map(|&x| {
                    p = alpha * x + (1.0 - alpha) * p;
                    p
                })
                .collect()
        })
        .collect();
    mape(series, &mut |i, _, t| smoothed[i][t])
}

/// The LSTM and its linear head.
#[derive(Debug, Clone)]
pub struct LstmPredictor {
    /// The recurrent layer.
    pub lstm: Lstm,
    /// Head weights, one per hidden unit.
    pub head_weight: Vec<f32>,
    /// Head bias.
    pub head_bias: f32,
    /// Whether the head predicts the change from the last interval.
    pub residual: bool,
    /// Per-input mean over the training intervals (inputs are standardised).
    pub input_mean: Vec<f32>,
    /// Per-input standard deviation over the training intervals (at least 1e-3).
    pub input_std: Vec<f32>,
    window: usize,
}

impl LstmPredictor {
    /// Predicted capacity of interval `t + 1` of `series`, kbit/s, from the window ending at `t`.
    pub fn predict(&self, series: &Series, t: usize) -> f64 {
        let n = self.lstm.hidden_dim();
        let (mut h, mut c, mut g) = (vec![0.0; n], vec![0.0; n], vec![0.0; 4 * n]);
        let start = (t + 1).saturating_sub(self.window);
        let mut x = vec![0.0; series.dim];
        for k in start..=t {
            standardise(series.input(k), &self.input_mean, &self.input_std, &mut x);
            self.lstm.step(&x, &mut h, &mut c, &mut g);
        }
        let y: f32 = self.head_bias
            + h.iter()
                .zip(&self.head_weight)
                .map(|(a, b)| a * b)
                .sum::<f32>();
        let base = if self.residual {
            to_feature(series.capacity_kbps[t])
        } else {
            0.0
        };
        from_feature(base + y)
    }
}

/// `out = (x - mean) / std`, element by element.
fn standardise(x: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
    for (((o, &v), &m), &s) in out.iter_mut().zip(x).zip(mean).zip(std) {
        *o = (v - m) / s;
    }
}

/// Per-input mean and standard deviation (floored at 1e-3) over every interval of `series`.
fn input_stats(series: &[&Series], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut sum, mut sq, mut n) = (vec![0.0f64; dim], vec![0.0f64; dim], 0.0f64);
    for s in series {
        for x in s.inputs.chunks_exact(dim) {
            for (i, &v) in x.iter().enumerate() {
                sum[i] += v as f64;
                sq[i] += (v as f64) * (v as f64);
            }
            n += 1.0;
        }
    }
    let n = n.max(1.0);
    let mean: Vec<f32> = sum.iter().map(|&v| (v / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(&q, &m)| ((q / n - (m as f64) * (m as f64)).max(0.0).sqrt() as f32).max(1e-3))
        .collect();
    (mean, std)
}

/// Plain Adam over one parameter slice.
struct AdamSlot {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl AdamSlot {
    fn new(n: usize) -> Self {
        AdamSlot {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }
    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32, t: i32, scale: f32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for i in 0..params.len() {
            let g = grads[i] * scale;
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g;
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g;
            params[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
        }
    }
}

/// Trains the LSTM predictor on `train` series (those longer than `window + 1` intervals are
/// used; an error if none is, or if their input sizes differ).
pub fn train_lstm(train: &[Series], cfg: &PredictorConfig) -> Result<LstmPredictor, RtError> {
    let usable: Vec<&Series> = train
        .iter()
        .filter(|s| s.capacity_kbps.len() > cfg.window + 1)
        .collect();
    let dim = usable.first().map_or(1, |s| s.dim);
    if usable
        .iter()
        .any(|s| s.dim != dim || s.inputs.len() != s.dim * s.capacity_kbps.len())
    {
        return Err(RtError::Config(
            "predictor: training series have different input sizes".into(),
        ));
    }
    if usable.is_empty() || cfg.hidden == 0 || cfg.window == 0 || cfg.batch == 0 {
        return Err(RtError::Config(format!(
            "predictor: no training trace is longer than {} intervals of {} ms (or hidden, window or batch is 0)",
            cfg.window + 1,
            cfg.interval_ms
        )));
    }
    let (input_mean, input_std) = input_stats(&usable, dim);
    let residual = cfg.residual.unwrap_or(false);
    let loss = cfg.loss.unwrap_or(PredictorLoss::Squared);
    let mut rng = SplitMix64::new(cfg.seed);
    let mut lstm = Lstm::new(dim, cfg.hidden, &mut rng);
    let mut head_weight: Vec<f32> = (0..cfg.hidden).map(|_| rng.uniform(-0.1, 0.1)).collect();
    let mut head_bias = 0.0f32;
    let (l, b, n) = (cfg.window, cfg.batch, cfg.hidden);
    let (mut a_w, mut a_b) = (
        AdamSlot::new(lstm.weight().len()),
        AdamSlot::new(lstm.bias().len()),
    );
    let (mut a_hw, mut a_hb) = (AdamSlot::new(n), AdamSlot::new(1));
    let mut inputs = vec![0.0f32; l * b * dim];
    let mut targets = vec![0.0f32; l * b];
    // Per position: the level the residual is added to, and the actual capacity (kbit/s).
    let mut bases = vec![0.0f32; l * b];
    let mut actuals = vec![0.0f64; l * b];
    for it in 1..=cfg.iterations {
        for j in 0..b {
            let s = usable[rng.below(usable.len())];
            let start = rng.below(s.capacity_kbps.len() - l - 1);
            for t in 0..l {
                standardise(
                    s.input(start + t),
                    &input_mean,
                    &input_std,
                    &mut inputs[(t * b + j) * dim..(t * b + j + 1) * dim],
                );
                bases[t * b + j] = if residual {
                    to_feature(s.capacity_kbps[start + t])
                } else {
                    0.0
                };
                actuals[t * b + j] = s.capacity_kbps[start + t + 1];
                targets[t * b + j] = to_feature(s.capacity_kbps[start + t + 1]) - bases[t * b + j];
            }
        }
        lstm.zero_grad();
        let hidden = lstm.forward_train(&inputs, b, l).to_vec();
        let mut grad_h = vec![0.0f32; l * b * n];
        let mut g_hw = vec![0.0f32; n];
        let mut g_hb = 0.0f32;
        let norm = 1.0 / (l * b) as f32;
        for k in 0..l * b {
            let h = &hidden[k * n..(k + 1) * n];
            let y = head_bias + h.iter().zip(&head_weight).map(|(a, w)| a * w).sum::<f32>();
            let d = match loss {
                PredictorLoss::Squared => 2.0 * (y - targets[k]) * norm,
                PredictorLoss::Absolute => (y - targets[k]).signum() * norm,
                PredictorLoss::Mape if actuals[k] < MIN_ACTUAL_KBPS => 0.0,
                PredictorLoss::Mape => {
                    // d/dy |p - a| / a with p = 1000 (e^(base + y) - 1).
                    let e = ((bases[k] + y) as f64).exp() * 1000.0;
                    let p = e - 1000.0;
                    ((p - actuals[k]).signum() * e / actuals[k]) as f32 * norm
                }
            };
            g_hb += d;
            for u in 0..n {
                g_hw[u] += d * h[u];
                grad_h[k * n + u] = d * head_weight[u];
            }
        }
        lstm.backward(&grad_h);
        // Global gradient-norm clipping at 1.
        let sq: f32 = lstm
            .grad_weight()
            .iter()
            .chain(lstm.grad_bias())
            .chain(&g_hw)
            .map(|g| g * g)
            .sum::<f32>()
            + g_hb * g_hb;
        let scale = if sq.sqrt() > 1.0 {
            1.0 / sq.sqrt()
        } else {
            1.0
        };
        let (gw, gb) = (lstm.grad_weight().to_vec(), lstm.grad_bias().to_vec());
        let t = it as i32;
        a_w.step(lstm.weight_mut(), &gw, cfg.learning_rate, t, scale);
        a_b.step(lstm.bias_mut(), &gb, cfg.learning_rate, t, scale);
        a_hw.step(&mut head_weight, &g_hw, cfg.learning_rate, t, scale);
        let mut hb = [head_bias];
        a_hb.step(&mut hb, &[g_hb], cfg.learning_rate, t, scale);
        head_bias = hb[0];
    }
    Ok(LstmPredictor {
        lstm,
        head_weight,
        head_bias,
        residual,
        input_mean,
        input_std,
        window: cfg.window,
    })
}

/// MAPE of a trained LSTM predictor.
pub fn lstm_mape(model: &LstmPredictor, series: &[Series]) -> f64 {
    let caps: Vec<Vec<f64>> = series.iter().map(|s| s.capacity_kbps.clone()).collect();
    mape(&caps, &mut |i, _, t| model.predict(&series[i], t))
}

/// The LSTM settings [`compare`] chooses among on validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LstmCandidate {
    /// Inputs.
    pub inputs: PredictorInputs,
    /// Head predicts the change from the last interval.
    pub residual: bool,
    /// Training loss.
    pub loss: PredictorLoss,
}

/// One row of the predictor comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PredictorReport {
    /// EWMA smoothing chosen on validation.
    pub ewma_alpha: f64,
    /// EWMA MAPE on validation.
    pub ewma_validation_mape: f64,
    /// LSTM settings used (chosen on validation where the config left them open).
    pub lstm: LstmCandidate,
    /// LSTM MAPE on validation of the chosen settings.
    pub lstm_validation_mape: f64,
    /// Validation MAPE of every LSTM candidate tried.
    pub lstm_candidates: Vec<(LstmCandidate, f64)>,
    /// Test MAPE per family, then `all`: `(family, EWMA MAPE, LSTM MAPE)`.
    pub test: Vec<(String, f64, f64)>,
}

/// Splits traces into (train, validation, test) `(family, series)` with the network features
/// (GCC run on each trace); traces without a split count as train.
pub fn split_series(
    traces: &[LinkTrace],
    interval_ms: f64,
) -> Result<[Vec<(String, Series)>; 3], RtError> {
    let mut out: [Vec<(String, Series)>; 3] = Default::default();
    for t in traces {
        let i = match t.split {
            Some(Split::Validation) => 1,
            Some(Split::Test) => 2,
            _ => 0,
        };
        out[i].push((t.family.clone(), network_series(t, interval_ms)?));
    }
    Ok(out)
}

/// The series as `inputs` reads them.
fn with_inputs(v: &[(String, Series)], inputs: PredictorInputs) -> Vec<Series> {
    v.iter()
        .map(|(_, s)| match inputs {
            PredictorInputs::Network => s.clone(),
            PredictorInputs::Capacity => Series::capacity_only(s.capacity_kbps.clone()),
        })
        .collect()
}

/// Trains on train, picks the EWMA and the LSTM's inputs on validation, scores both on test per
/// family and overall.
pub fn compare(traces: &[LinkTrace], cfg: &PredictorConfig) -> Result<PredictorReport, RtError> {
    let [train, val, test] = split_series(traces, cfg.interval_ms)?;
    if val.is_empty() || test.is_empty() {
        return Err(RtError::Config(
            "predictor: the traces have no validation or test split (a family needs at least 3 links)".into(),
        ));
    }
    let caps = |v: &[(String, Series)]| {
        v.iter()
            .map(|(_, s)| s.capacity_kbps.clone())
            .collect::<Vec<_>>()
    };
    let val_caps = caps(&val);
    let alphas = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    let (ewma_alpha, ewma_validation_mape) = alphas
        .iter()
        .map(|&a| (a, ewma_mape(&val_caps, a)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap_or((1.0, f64::NAN));
    let inputs = match cfg.inputs {
        Some(i) => vec![i],
        None => vec![PredictorInputs::Capacity, PredictorInputs::Network],
    };
    let both = |o: Option<bool>| o.map_or(vec![false, true], |v| vec![v]);
    let mut best: Option<(LstmCandidate, LstmPredictor, f64)> = None;
    let mut lstm_candidates = Vec::new();
    for &inputs in &inputs {
        for residual in both(cfg.residual) {
            for loss in cfg.loss.map_or(
                vec![
                    PredictorLoss::Squared,
                    PredictorLoss::Absolute,
                    PredictorLoss::Mape,
                ],
                |l| vec![l],
            ) {
                let c = LstmCandidate {
                    inputs,
                    residual,
                    loss,
                };
                let cfg = PredictorConfig {
                    inputs: Some(inputs),
                    residual: Some(residual),
                    loss: Some(loss),
                    ..cfg.clone()
                };
                let model = train_lstm(&with_inputs(&train, inputs), &cfg)?;
                let m = lstm_mape(&model, &with_inputs(&val, inputs));
                lstm_candidates.push((c, m));
                if best.as_ref().is_none_or(|b| m < b.2) {
                    best = Some((c, model, m));
                }
            }
        }
    }
    let Some((lstm, model, lstm_validation_mape)) = best else {
        return Err(RtError::Config("predictor: no LSTM candidate".into()));
    };
    let mut families: Vec<String> = test.iter().map(|(f, _)| f.clone()).collect();
    families.sort();
    families.dedup();
    families.push("all".into());
    let test_rows = families
        .into_iter()
        .map(|fam| {
            let v: Vec<(String, Series)> = test
                .iter()
                .filter(|(f, _)| fam == "all" || *f == fam)
                .cloned()
                .collect();
            (
                fam,
                ewma_mape(&caps(&v), ewma_alpha),
                lstm_mape(&model, &with_inputs(&v, lstm.inputs)),
            )
        })
        .collect();
    Ok(PredictorReport {
        ewma_alpha,
        ewma_validation_mape,
        lstm,
        lstm_validation_mape,
        lstm_candidates,
        test: test_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_interval_means() {
        let t = LinkTrace::from_steps(
            "s",
            "synthetic",
            &[(300.0, 1000.0, 0.0, 0.0), (100.0, 3000.0, 0.0, 0.0)],
        )
        .unwrap();
        assert_eq!(capacity_series(&t, 200.0), vec![1000.0, 2000.0]);
    }

    #[test]
    fn network_features_follow_the_link() {
        let idx = |name: &str| FEATURE_NAMES.iter().position(|&n| n == name).unwrap();
        // 5 Mbit/s, 40 ms RTT: after start-up, GCC sends below capacity; nothing is lost and
        // the receive rate matches the send rate.
        let fast = LinkTrace::constant(5000.0, 40.0, 10_000.0).unwrap();
        let s = network_series(&fast, 200.0).unwrap();
        assert_eq!((s.dim, s.capacity_kbps.len()), (FEATURE_NAMES.len(), 50));
        assert_eq!(s.inputs.len(), 50 * s.dim);
        for t in 10..50 {
            let x = s.input(t);
            assert_eq!(x[idx("capacity")], to_feature(5000.0));
            assert_eq!(x[idx("loss")], 0.0, "interval {t}");
            let (r, snd) = (
                from_feature(x[idx("receive_rate")]),
                from_feature(x[idx("send_rate")]),
            );
            assert!(
                r > 100.0 && r < 5100.0 && (r / snd - 1.0).abs() < 0.5,
                "interval {t}: {r} {snd}"
            );
            // RTT at least the propagation's 40 ms.
            assert!(x[idx("rtt")] >= 0.39, "interval {t}: {}", x[idx("rtt")]);
        }
        // An outage: capacity 0 from 4 s; nothing arrives, so the receive rate is 0 and the
        // delays keep their last values.
        let outage = LinkTrace::from_steps(
            "o",
            "synthetic",
            &[(4000.0, 2000.0, 0.0, 40.0), (2000.0, 0.0, 0.0, 40.0)],
        )
        .unwrap();
        let s = network_series(&outage, 200.0).unwrap();
        let x = s.input(25);
        assert_eq!(x[idx("receive_rate")], 0.0);
        assert_eq!(x[idx("rtt")], s.input(24)[idx("rtt")]);
    }

    #[test]
    fn ewma_of_last_value_is_exact_on_a_constant_series() {
        let s = vec![vec![500.0; 50]];
        assert_eq!(ewma_mape(&s, 1.0), 0.0);
        assert_eq!(ewma_mape(&s, 0.3), 0.0);
        // A square wave: last value is wrong at every edge only.
        let sq: Vec<f64> = (0..100)
            .map(|i| if (i / 10) % 2 == 0 { 1000.0 } else { 2000.0 })
            .collect();
        let m = ewma_mape(&[sq], 1.0);
        assert!(m > 0.0 && m < 0.1, "{m}");
    }

    #[test]
    fn lstm_learns_a_pattern_the_ewma_cannot() {
        // Period-4 pattern: last value and any EWMA are always wrong, an LSTM can learn it.
        let pattern = [400.0, 1600.0, 800.0, 3200.0];
        let s: Vec<f64> = (0..400).map(|i| pattern[i % 4]).collect();
        let cfg = PredictorConfig {
            iterations: 1500,
            window: 12,
            hidden: 8,
            learning_rate: 1e-2,
            ..Default::default()
        };
        let series = [Series::capacity_only(s.clone())];
        let model = train_lstm(&series, &cfg).unwrap();
        let lstm = lstm_mape(&model, &series);
        let ewma = (1..=10)
            .map(|a| ewma_mape(std::slice::from_ref(&s), a as f64 / 10.0))
            .fold(f64::INFINITY, f64::min);
        assert!(lstm < 0.1 && ewma > 0.4, "lstm {lstm} ewma {ewma}");
        // Deterministic for a seed.
        assert_eq!(
            lstm,
            lstm_mape(&train_lstm(&series, &cfg).unwrap(), &series)
        );
        // Too short to train on: an error, not a panic.
        assert!(train_lstm(&[Series::capacity_only(s[..5].to_vec())], &cfg).is_err());
    }
}
