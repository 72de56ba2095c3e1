//! Next-interval capacity prediction: an LSTM against an EWMA, scored by MAPE.
//!
//! **Task.** A trace is cut into [`PredictorConfig::interval_ms`] intervals (200 ms by default) of
//! mean capacity; from the intervals up to `t`, predict interval `t + 1`. This is the capacity-only
//! version of issue 18's predictor (the full one reads ~10 network features from the simulator's
//! feedback; not built yet), and it is what the bar's "MAPE on the next interval's capacity" asks.
//!
//! **Models.**
//! * EWMA: `p = α x_t + (1 - α) p`, with `α` chosen on the validation split from 0.1 .. 1.0 (1.0 is
//!   "last value").
//! * LSTM ([`neuralstream_nn::Lstm`], one layer) with a linear head, on `ln(1 + kbps / 1000)`;
//!   trained with Adam on windows of [`PredictorConfig::window`] intervals drawn from the train
//!   split, mean squared error on every step of the window; it predicts interval `t + 1` from the
//!   window ending at `t`, run from a zero state, so training and evaluation see the same context.
//!
//! **Score.** MAPE = mean of `|prediction - actual| / actual` over intervals whose actual capacity is
//! at least [`MIN_ACTUAL_KBPS`] (an outage's 0 would divide by zero), from the 10th interval of each
//! trace on (both models get the same warm-up). Everything is seeded ([`SplitMix64`]).

use crate::error::RtError;
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
}

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
    window: usize,
}

impl LstmPredictor {
    /// Predicted capacity of interval `t + 1` of `series`, kbit/s, from the window ending at `t`.
    pub fn predict(&self, series: &[f64], t: usize) -> f64 {
        let n = self.lstm.hidden_dim();
        let (mut h, mut c, mut g) = (vec![0.0; n], vec![0.0; n], vec![0.0; 4 * n]);
        let start = (t + 1).saturating_sub(self.window);
        for &x in &series[start..=t] {
            self.lstm.step(&[to_feature(x)], &mut h, &mut c, &mut g);
        }
        let y: f32 = self.head_bias
            + h.iter()
                .zip(&self.head_weight)
                .map(|(a, b)| a * b)
                .sum::<f32>();
        from_feature(y)
    }
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
/// used; an error if none is).
pub fn train_lstm(train: &[Vec<f64>], cfg: &PredictorConfig) -> Result<LstmPredictor, RtError> {
    let usable: Vec<&Vec<f64>> = train.iter().filter(|s| s.len() > cfg.window + 1).collect();
    if usable.is_empty() || cfg.hidden == 0 || cfg.window == 0 || cfg.batch == 0 {
        return Err(RtError::Config(format!(
            "predictor: no training trace is longer than {} intervals of {} ms (or hidden, window or batch is 0)",
            cfg.window + 1,
            cfg.interval_ms
        )));
    }
    let mut rng = SplitMix64::new(cfg.seed);
    let mut lstm = Lstm::new(1, cfg.hidden, &mut rng);
    let mut head_weight: Vec<f32> = (0..cfg.hidden).map(|_| rng.uniform(-0.1, 0.1)).collect();
    let mut head_bias = 0.0f32;
    let (l, b, n) = (cfg.window, cfg.batch, cfg.hidden);
    let (mut a_w, mut a_b) = (
        AdamSlot::new(lstm.weight().len()),
        AdamSlot::new(lstm.bias().len()),
    );
    let (mut a_hw, mut a_hb) = (AdamSlot::new(n), AdamSlot::new(1));
    let mut inputs = vec![0.0f32; l * b];
    let mut targets = vec![0.0f32; l * b];
    for it in 1..=cfg.iterations {
        for j in 0..b {
            let s = usable[rng.below(usable.len())];
            let start = rng.below(s.len() - l - 1);
            for t in 0..l {
                inputs[t * b + j] = to_feature(s[start + t]);
                targets[t * b + j] = to_feature(s[start + t + 1]);
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
            let d = 2.0 * (y - targets[k]) * norm;
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
        window: cfg.window,
    })
}

/// MAPE of a trained LSTM predictor.
pub fn lstm_mape(model: &LstmPredictor, series: &[Vec<f64>]) -> f64 {
    mape(series, &mut |_, s, t| model.predict(s, t))
}

/// One row of the predictor comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PredictorReport {
    /// EWMA smoothing chosen on validation.
    pub ewma_alpha: f64,
    /// EWMA MAPE on validation.
    pub ewma_validation_mape: f64,
    /// LSTM MAPE on validation.
    pub lstm_validation_mape: f64,
    /// Test MAPE per family, then `all`: `(family, EWMA MAPE, LSTM MAPE)`.
    pub test: Vec<(String, f64, f64)>,
}

/// Splits traces into (train, validation, test) series; traces without a split count as train.
pub fn split_series(traces: &[LinkTrace], interval_ms: f64) -> [Vec<(String, Vec<f64>)>; 3] {
    let mut out: [Vec<(String, Vec<f64>)>; 3] = Default::default();
    for t in traces {
        let i = match t.split {
            Some(Split::Validation) => 1,
            Some(Split::Test) => 2,
            _ => 0,
        };
        out[i].push((t.family.clone(), capacity_series(t, interval_ms)));
    }
    out
}

/// Trains on train, picks the EWMA on validation, scores both on test per family and overall.
pub fn compare(traces: &[LinkTrace], cfg: &PredictorConfig) -> Result<PredictorReport, RtError> {
    let [train, val, test] = split_series(traces, cfg.interval_ms);
    if val.is_empty() || test.is_empty() {
        return Err(RtError::Config(
            "predictor: the traces have no validation or test split (a family needs at least 3 links)".into(),
        ));
    }
    let strip = |v: &[(String, Vec<f64>)]| v.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    let (train_s, val_s) = (strip(&train), strip(&val));
    let alphas = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    let (ewma_alpha, ewma_validation_mape) = alphas
        .iter()
        .map(|&a| (a, ewma_mape(&val_s, a)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap_or((1.0, f64::NAN));
    let model = train_lstm(&train_s, cfg)?;
    let lstm_validation_mape = lstm_mape(&model, &val_s);
    let mut families: Vec<String> = test.iter().map(|(f, _)| f.clone()).collect();
    families.sort();
    families.dedup();
    families.push("all".into());
    let test_rows = families
        .into_iter()
        .map(|fam| {
            let s: Vec<Vec<f64>> = test
                .iter()
                .filter(|(f, _)| fam == "all" || *f == fam)
                .map(|(_, s)| s.clone())
                .collect();
            (fam, ewma_mape(&s, ewma_alpha), lstm_mape(&model, &s))
        })
        .collect();
    Ok(PredictorReport {
        ewma_alpha,
        ewma_validation_mape,
        lstm_validation_mape,
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
        let model = train_lstm(std::slice::from_ref(&s), &cfg).unwrap();
        let lstm = lstm_mape(&model, std::slice::from_ref(&s));
        let ewma = (1..=10)
            .map(|a| ewma_mape(std::slice::from_ref(&s), a as f64 / 10.0))
            .fold(f64::INFINITY, f64::min);
        assert!(lstm < 0.1 && ewma > 0.4, "lstm {lstm} ewma {ewma}");
        // Deterministic for a seed.
        assert_eq!(
            lstm,
            lstm_mape(
                &train_lstm(std::slice::from_ref(&s), &cfg).unwrap(),
                std::slice::from_ref(&s)
            )
        );
        // Too short to train on: an error, not a panic.
        assert!(train_lstm(&[s[..5].to_vec()], &cfg).is_err());
    }
}
