//! Offline double DQN from a recorded metrics dataset (`rt train --dataset DIR`): the learned
//! controller of [`crate::dqn`] trained from the intervals a live server logged
//! ([`crate::dataset`]), with no simulator in the loop.
//!
//! **Transitions.** Each recorded session is replayed through the same [`Tracker`] the live
//! controller runs, so features are computed from the recorded per-packet feedback exactly as
//! live. After report `k` the state is `s_k` (features of report `k` and the settings in force);
//! the action `a_k` is the logged decision mapped onto the [`ActionGrid`] (its height and fps,
//! and the multiplier nearest to `decision.target / estimate`); the reward is
//! [`crate::dqn::reward`] of report `k + 1` under the settings that report says were applied
//! (with the switch penalty of going from the settings of `k` to them); the next state is
//! `s_{k+1}`. Decisions of any controller (GCC's included) become training data this way.
//!
//! **Learning** (van Hasselt, Guez and Silver, AAAI 2016, on a fixed replay as in batch RL):
//! all transitions fill one replay; [`OfflineConfig::grad_steps`] Huber-loss Adam steps on
//! minibatches towards the double-DQN target, the target network refreshed every
//! [`OfflineConfig::target_update_every`] steps. Same data and seed, same weights. Caveat, stated
//! rather than hidden: a Q-function learned from another controller's actions is only reliable
//! near those actions (no conservative penalty is applied); validate the model in `rt bench`
//! before serving it.

use crate::controller::Controller;
use crate::dataset::{sessions, Record, Settings};
use crate::dqn::{
    double_dqn_step, reward, ActionGrid, DqnMeta, DqnModel, Estimate, RewardWeights, StepBuffers,
    StepSettings, Tracker, N_FEATURES,
};
use crate::error::RtError;
use crate::gcc::Gcc;
use crate::sim::RtConfig;
use neuralstream_nn::{Activation, Adam, AdamConfig, Mlp, Replay, SplitMix64};

/// Settings of [`train_offline`].
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineConfig {
    /// Seed of initialisation and minibatch draws. Default 1.
    pub seed: u64,
    /// Hidden layer widths. Default 64, 64 (as in simulation).
    pub hidden: Vec<usize>,
    /// Adam learning rate. Default 5e-4.
    pub lr: f32,
    /// Discount per 50 ms interval. Default 0.95.
    pub gamma: f32,
    /// Minibatch size. Default 64.
    pub batch_size: usize,
    /// Gradient steps. Default 5,000.
    pub grad_steps: u64,
    /// Target-network refresh period, steps. Default 500.
    pub target_update_every: u64,
    /// Huber loss threshold. Default 1.
    pub huber_delta: f32,
    /// Gradient norm clip. Default 10.
    pub max_grad_norm: f32,
    /// Actions. Default: the simulation default grid.
    pub grid: ActionGrid,
    /// Reward weights. Default: the simulation defaults.
    pub reward: RewardWeights,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            seed: 1,
            hidden: vec![64, 64],
            lr: 5e-4,
            gamma: 0.95,
            batch_size: 64,
            grad_steps: 5_000,
            target_update_every: 500,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            grid: ActionGrid::default(),
            reward: RewardWeights::default(),
        }
    }
}

/// What [`train_offline`] saw and did.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineReport {
    /// Sessions in the dataset.
    pub sessions: usize,
    /// Transitions learned from.
    pub transitions: usize,
    /// Mean reward of the logged transitions.
    pub mean_reward: f64,
    /// Mean loss over the last tenth of the steps.
    pub final_loss: f64,
}

/// One transition: state, action, reward, next state.
pub type Transition = (Vec<f32>, usize, f32, Vec<f32>);

fn nearest<T: Copy>(values: &[T], x: f64, f: impl Fn(T) -> f64) -> usize {
    (0..values.len())
        .min_by(|&a, &b| {
            (f(values[a]) - x)
                .abs()
                .total_cmp(&(f(values[b]) - x).abs())
        })
        .unwrap_or(0)
}

/// Builds one session's transitions from its records, one record at a time: what [`transitions`]
/// runs over every session of a dataset, and what the live server's online training
/// ([`crate::online`]) runs over each session as its reports arrive. It folds each report into
/// the same [`Tracker`] (and, for [`Estimate::Gcc`], the same GCC) the learned controller runs
/// live, so features and the estimate the multipliers scale are the live ones.
#[derive(Debug, Clone)]
pub struct TransitionBuilder {
    tracker: Tracker,
    gcc: Option<Gcc>,
    prev: Option<(Vec<f32>, usize, Settings)>,
    features: usize,
}

impl TransitionBuilder {
    /// A builder for a session captured at `source_fps` whose multipliers scale `estimate` (as
    /// [`crate::dqn::DqnController`] starts one).
    pub fn new(estimate: Estimate, source_fps: u32) -> Self {
        let mut start_bps = RtConfig::default().start_bps;
        let gcc = match estimate {
            Estimate::ReceiveRate => None,
            Estimate::Gcc => {
                let mut gcc = Gcc::new(start_bps);
                start_bps = gcc.start(source_fps).target_bps;
                Some(gcc)
            }
        };
        TransitionBuilder {
            tracker: Tracker::new(start_bps),
            gcc,
            prev: None,
            features: N_FEATURES,
        }
    }

    /// The same builder for a model of `features` inputs ([`crate::dqn::DqnMeta::features`]):
    /// its observations hold the first `features` of [`Tracker::features`].
    pub fn with_features(mut self, features: usize) -> Self {
        self.features = features;
        self
    }

    /// Folds the session's next record in; returns the transition it completes (none for the
    /// first record, or when the settings applied are not on the grid's resolutions).
    pub fn push(&mut self, r: &Record, grid: &ActionGrid, w: &RewardWeights) -> Option<Transition> {
        let fb = r.report.feedback();
        let signals = self.tracker.observe(&fb);
        if let Some(gcc) = &mut self.gcc {
            self.tracker.estimate_bps = gcc.on_feedback(&fb).target_bps;
        }
        let applied = r.report.applied;
        let action_of = |s: &Settings, estimate: f64| {
            let h = nearest(&grid.heights, s.height as f64, |h| h as f64);
            let f = nearest(&grid.fps, s.fps as f64, |f| f as f64);
            let m = nearest(&grid.multipliers, s.target_bps / estimate.max(1.0), |m| m);
            grid.index(h, f, m)
        };
        let in_force = action_of(&applied, self.tracker.estimate_bps);
        let mut obs = vec![0.0; self.features];
        self.tracker
            .features(grid, in_force, applied.target_bps, &mut obs);
        let mut out = None;
        if let Some((prev_obs, prev_action, prev_applied)) = self.prev.take() {
            if let Some(d) = applied.decision() {
                let switch = if applied.height != prev_applied.height {
                    w.resolution_switch
                } else {
                    0.0
                } + if applied.fps != prev_applied.fps {
                    w.fps_switch
                } else {
                    0.0
                };
                let rew = reward(w, &signals, d.target_bps, d.resolution, d.fps, switch);
                out = Some((prev_obs, prev_action, rew as f32, obs.clone()));
            }
        }
        let action = action_of(&r.decision, self.tracker.estimate_bps);
        self.prev = Some((obs, action, applied));
        out
    }
}

/// The transitions of every recorded session (see the module documentation), with the
/// receive-rate estimate [`train_offline`] models are written with.
pub fn transitions(records: &[Record], grid: &ActionGrid, w: &RewardWeights) -> Vec<Transition> {
    let mut out = Vec::new();
    for session in sessions(records) {
        let fps = session.first().map_or(60, |r| r.source_fps);
        let mut builder = TransitionBuilder::new(Estimate::ReceiveRate, fps);
        out.extend(session.iter().filter_map(|r| builder.push(r, grid, w)));
    }
    out
}

/// Trains a DQN controller from `records` (see the module documentation).
pub fn train_offline(
    records: &[Record],
    cfg: &OfflineConfig,
) -> Result<(DqnModel, OfflineReport), RtError> {
    cfg.grid.validate().map_err(RtError::Config)?;
    if cfg.batch_size == 0
        || cfg.grad_steps == 0
        || cfg.lr.is_nan()
        || cfg.lr <= 0.0
        || !(0.0..1.0).contains(&cfg.gamma)
    {
        return Err(RtError::Config(
            "offline training: batch_size and grad_steps must be at least 1, lr above 0, gamma in [0, 1)".into(),
        ));
    }
    let data = transitions(records, &cfg.grid, &cfg.reward);
    if data.len() < 2 {
        return Err(RtError::Config(format!(
            "the dataset holds {} transitions; record at least a few seconds of sessions (two reports per session make one)",
            data.len()
        )));
    }
    let mut replay = Replay::new(N_FEATURES, data.len());
    let mut reward_sum = 0.0;
    for (o, a, r, o2) in &data {
        replay.push(o, *a, *r, o2, false);
        reward_sum += *r as f64;
    }
    let mut sizes = vec![N_FEATURES];
    sizes.extend(&cfg.hidden);
    sizes.push(cfg.grid.len());
    let mut q = Mlp::new(&sizes, Activation::Relu, cfg.seed ^ 0xd9a0_0000_0000_0001);
    let mut target = q.clone();
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(cfg.max_grad_norm),
        ..AdamConfig::with_lr(cfg.lr)
    });
    let mut rng = SplitMix64::new(cfg.seed);
    let mut bufs = StepBuffers::default();
    let settings = StepSettings {
        batch_size: cfg.batch_size,
        gamma: cfg.gamma,
        huber_delta: cfg.huber_delta,
    };
    let tail_from = cfg.grad_steps - cfg.grad_steps.div_ceil(10);
    let (mut tail_loss, mut tail_n) = (0.0, 0usize);
    for step in 0..cfg.grad_steps {
        let loss = double_dqn_step(
            &mut q, &target, &mut adam, &replay, &mut rng, settings, &mut bufs,
        );
        if step >= tail_from {
            tail_loss += loss as f64;
            tail_n += 1;
        }
        if (step + 1) % cfg.target_update_every.max(1) == 0 {
            target = q.clone();
        }
    }
    // Logged decisions are mapped onto multipliers of the receive-rate estimate the live tracker
    // computes, so that is what the model's multipliers mean; no shield is learned from logs.
    let meta = DqnMeta {
        // Not validated in the simulator (JSON has no NaN): 0 says so.
        validation_onl_qoe: 0.0,
        ..DqnMeta::unshielded(
            cfg.grid.clone(),
            cfg.reward,
            cfg.seed,
            Estimate::ReceiveRate,
        )
    };
    let report = OfflineReport {
        sessions: sessions(records).len(),
        transitions: data.len(),
        mean_reward: reward_sum / data.len() as f64,
        final_loss: tail_loss / tail_n.max(1) as f64,
    };
    Ok((DqnModel { q, meta }, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dqn::DqnController;
    use crate::trace::LinkTrace;
    use std::sync::Arc;

    /// Records of GCC sessions on a simulated link, as a live server would have logged them.
    fn gcc_records() -> Vec<Record> {
        let trace = LinkTrace::from_steps(
            "t",
            "synthetic",
            &[(3000.0, 3000.0, 0.0, 40.0), (3000.0, 800.0, 0.01, 40.0)],
        )
        .unwrap();
        let mut l = crate::online::tests::Recorder::new(Gcc::default(), "s");
        let cfg = RtConfig {
            duration_ms: 6000.0,
            ..Default::default()
        };
        crate::run_session(&trace, &cfg, &mut l).unwrap();
        l.out
    }

    #[test]
    fn a_logged_gcc_session_trains_a_model_that_loads_and_runs() {
        let records = gcc_records();
        assert!(records.len() > 100, "{}", records.len());
        let grid = ActionGrid::default();
        let t = transitions(&records, &grid, &RewardWeights::default());
        assert_eq!(t.len(), records.len() - 1);
        assert!(t.iter().all(|(o, a, r, o2)| o.len() == N_FEATURES
            && o2.len() == N_FEATURES
            && *a < grid.len()
            && r.is_finite()));
        let cfg = OfflineConfig {
            grad_steps: 300,
            ..Default::default()
        };
        let (model, report) = train_offline(&records, &cfg).unwrap();
        assert_eq!(report.transitions, t.len());
        assert!(report.final_loss.is_finite());
        let again = train_offline(&records, &cfg).unwrap().0;
        assert!(again.q == model.q, "same data and seed, same weights");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        model.save(&path).unwrap();
        let loaded = Arc::new(DqnModel::load(&path).unwrap());
        let trace = LinkTrace::constant(2000.0, 40.0, 3000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 3000.0,
            ..Default::default()
        };
        let log = crate::run_session(&trace, &cfg, &mut DqnController::new(loaded)).unwrap();
        assert!(!log.frames.is_empty());
    }

    #[test]
    fn too_little_data_is_a_clear_error() {
        let records: Vec<Record> = gcc_records().into_iter().take(1).collect();
        let e = train_offline(&records, &OfflineConfig::default()).unwrap_err();
        assert!(e.to_string().contains("0 transitions"), "{e}");
    }
}
