//! Deep Q-network (Mnih et al., "Human-level control through deep reinforcement learning",
//! Nature 2015), with the double-DQN target of van Hasselt, Guez and Silver (AAAI 2016).
//!
//! A Q-network maps the state features to one value per level. Each iteration every one of
//! [`DqnConfig::n_envs`] training environments (random trace, random start, delay noise) plays
//! [`DqnConfig::steps_per_env`] decisions epsilon-greedily (epsilon decays linearly from
//! [`DqnConfig::eps_start`] to [`DqnConfig::eps_end`] over [`DqnConfig::eps_decay_steps`]
//! environment steps), the transitions go into a replay buffer (FIFO, [`DqnConfig::buffer_size`]),
//! then [`DqnConfig::updates_per_iter`] minibatches are drawn uniformly and the Q-value of the
//! action taken is regressed with the Huber loss towards `r + gamma (1 - done) Q_target(s', argmax_a
//! Q(s', a))`. The target network is a copy refreshed every [`DqnConfig::target_update_every`]
//! gradient steps. The checkpoint stores the Q-network as `"actor"` (acting = argmax Q, so
//! `learned:PATH` runs it) and the target network as `"target"`.
//!
//! Deterministic for a seed: environments draw from their own streams, transitions are appended
//! in environment order, and minibatches are drawn from one seeded generator.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::TrainEnv;
use crate::error::{check, ConfigError, LearnError};
use crate::rl::{
    finish_stage, gather_rows, impl_rl_trainer, record_schedule, schedule_origin, start_trainer,
    CurveRecorder, RlContext, RlReport, TrainerSetup,
};
use crate::stage::StageKind;
use neuralstream_core::Rng;
use neuralstream_nn::{loss, Activation, Mlp, QLoss, Replay, Scratch, SplitMix64};
use neuralstream_policy::argmax;
use rayon::prelude::*;
use std::time::Instant;

/// Hyper-parameters of [`train_dqn`].
#[derive(Debug, Clone)]
pub struct DqnConfig {
    /// Seed of the environments, exploration and minibatch draws.
    pub seed: u64,
    /// Parallel environments.
    pub n_envs: usize,
    /// Decisions per environment per iteration.
    pub steps_per_env: usize,
    /// Discount.
    pub gamma: f32,
    /// Adam learning rate.
    pub lr: f32,
    /// Minibatch size.
    pub batch_size: usize,
    /// Gradient steps per iteration.
    pub updates_per_iter: usize,
    /// Replay buffer capacity, transitions.
    pub buffer_size: usize,
    /// Transitions collected before the first update.
    pub learning_starts: usize,
    /// Gradient steps between target-network refreshes.
    pub target_update_every: u64,
    /// Exploration rate at the start.
    pub eps_start: f64,
    /// Exploration rate after the decay.
    pub eps_end: f64,
    /// Environment steps over which epsilon decays.
    pub eps_decay_steps: u64,
    /// Huber loss threshold.
    pub huber_delta: f32,
    /// Double-DQN target (online argmax, target evaluation).
    pub double: bool,
    /// Hidden widths of a new Q-network.
    pub hidden: Vec<usize>,
    /// Global gradient-norm clip.
    pub max_grad_norm: f32,
    /// Validate every this many iterations.
    pub validate_every: usize,
    /// Iterations at most.
    pub max_iters: usize,
    /// Stop after the iteration during which this much wall time (this stage) has passed, seconds.
    pub max_wall_s: f64,
}

impl Default for DqnConfig {
    /// 8 environments x 16 decisions per iteration, gamma 0.99, lr 5e-4, batch 128, 32 updates per
    /// iteration, 100 000 transitions, target refresh every 500 steps, epsilon 1 -> 0.05 over
    /// 100 000 steps, Huber delta 1, double DQN, two hidden layers of 128.
    fn default() -> Self {
        DqnConfig {
            seed: 1,
            n_envs: 8,
            steps_per_env: 16,
            gamma: 0.99,
            lr: 5e-4,
            batch_size: 128,
            updates_per_iter: 32,
            buffer_size: 100_000,
            learning_starts: 2_000,
            target_update_every: 500,
            eps_start: 1.0,
            eps_end: 0.05,
            eps_decay_steps: 100_000,
            huber_delta: 1.0,
            double: true,
            hidden: vec![128, 128],
            max_grad_norm: 10.0,
            validate_every: 20,
            max_iters: 1_000_000,
            max_wall_s: 1e9,
        }
    }
}

impl DqnConfig {
    /// Checks every setting's range; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("n_envs", self.n_envs)?;
        check::at_least_one("steps_per_env", self.steps_per_env)?;
        check::at_least_one("max_iters", self.max_iters)?;
        check::at_least_one("batch_size", self.batch_size)?;
        check::learning_rate("lr", self.lr)
    }
}

impl_rl_trainer!(DqnConfig, train_dqn);

/// A fresh Q-network `[dim, hidden.., levels]`.
pub fn new_q_network(dim: usize, levels: usize, hidden: &[usize], seed: u64) -> Mlp {
    let mut sizes = vec![dim];
    sizes.extend(hidden);
    sizes.push(levels);
    Mlp::new(&sizes, Activation::Relu, seed ^ 0xd0d0_0000_0000_0001)
}

struct Transition {
    obs: Vec<f32>,
    action: usize,
    reward: f32,
    next_obs: Vec<f32>,
    done: bool,
}

/// Plays `steps` epsilon-greedy decisions in every environment (in parallel, each with its own
/// stream); returns the transitions in environment order and the finished episodes' QoE.
fn collect(
    envs: &mut [(TrainEnv<'_>, Rng)],
    q: &Mlp,
    eps: f64,
    steps: usize,
) -> Result<(Vec<Transition>, Vec<f64>), LearnError> {
    let dim = q.input_dim();
    let parts: Vec<(Vec<Transition>, Vec<f64>)> = envs
        .par_iter_mut()
        .map(|(env, rng)| {
            let mut scratch = Scratch::for_mlp(q);
            let mut out = Vec::with_capacity(steps);
            let mut qoes = Vec::new();
            let mut obs = vec![0.0f32; dim];
            env.observe(&mut obs);
            for _ in 0..steps {
                let action = if rng.uniform() < eps {
                    rng.below(q.output_dim())
                } else {
                    argmax(q.infer(&obs, &mut scratch))
                };
                let o = env.step(action)?;
                let mut next_obs = vec![0.0f32; dim];
                env.observe(&mut next_obs);
                qoes.extend(o.episode_qoe);
                out.push(Transition {
                    obs: std::mem::replace(&mut obs, next_obs.clone()),
                    action,
                    reward: o.reward,
                    next_obs,
                    done: o.done,
                });
            }
            Ok((out, qoes))
        })
        .collect::<Result<_, LearnError>>()?;
    let mut all = Vec::new();
    let mut qoes = Vec::new();
    for (t, q) in parts {
        all.extend(t);
        qoes.extend(q);
    }
    Ok((all, qoes))
}

/// Trains a Q-network. `state.actor` is used as the Q-network when `state` is a DQN checkpoint
/// (resume: target network, optimiser, counters and curve continue; the replay buffer starts
/// empty); otherwise a fresh one is made (a policy's logits are not Q-values).
pub fn train_dqn(
    ctx: &RlContext<'_>,
    mut state: TrainingCheckpoint,
    cfg: &DqnConfig,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<RlReport, LearnError> {
    let t0 = Instant::now();
    let dim = state.spec.len();
    let levels = state.spec.num_levels;
    let resumed = state.stage.is(StageKind::Dqn);
    let setup = TrainerSetup::new(cfg.seed, cfg.n_envs, cfg.lr, cfg.max_grad_norm);
    let start = start_trainer(ctx, &mut state, resumed, &setup)?;
    let (mut adam, seed, envs) = (start.adam, start.seed, start.envs);
    let mut q = if resumed {
        state.actor.clone()
    } else {
        new_q_network(dim, levels, &cfg.hidden, cfg.seed)
    };
    let mut target = state
        .target
        .take()
        .filter(|_| resumed)
        .unwrap_or_else(|| q.clone());
    let mut envs: Vec<(TrainEnv<'_>, Rng)> = envs
        .into_iter()
        .enumerate()
        .map(|(i, e)| (e, Rng::new(seed ^ 0xe95e_0000_0000_0000).fork(i as u64)))
        .collect();
    let mut rng = SplitMix64::new(seed ^ 0xb0b0_0000_0000_0001);
    let mut replay = Replay::new(dim, cfg.buffer_size);
    let start_val = ctx.validator.score(&q)?;
    let wall0 = state.progress.wall_s;
    let mut best = (start_val, q.clone());
    let mut recorder = CurveRecorder::new(StageKind::Dqn);
    let (mut mb_obs, mut mb_next, mut mb_act, mut targets) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut idx = Vec::with_capacity(cfg.batch_size);
    let mut scratch = Scratch::new();
    let mut grad_steps = adam.steps();
    let origin = schedule_origin(&mut state, StageKind::Dqn, resumed);
    let samples0 = origin.1;
    for it in 0..cfg.max_iters {
        let stage_samples = state.progress.samples.saturating_sub(samples0);
        let frac = (stage_samples as f64 / cfg.eps_decay_steps.max(1) as f64).min(1.0);
        let eps = cfg.eps_start + (cfg.eps_end - cfg.eps_start) * frac;
        let (transitions, qoes) = collect(&mut envs, &q, eps, cfg.steps_per_env)?;
        state.progress.samples += transitions.len() as u64;
        recorder.episode_qoes.extend(qoes);
        for t in &transitions {
            replay.push(&t.obs, t.action, t.reward, &t.next_obs, t.done);
        }
        if replay.len() >= cfg.learning_starts.max(cfg.batch_size) {
            for _ in 0..cfg.updates_per_iter {
                idx.clear();
                idx.extend((0..cfg.batch_size).map(|_| rng.below(replay.len())));
                gather_rows(&replay.obs, dim, &idx, &mut mb_obs);
                gather_rows(&replay.next_obs, dim, &idx, &mut mb_next);
                let b = idx.len();
                let q_next_target = target.forward(&mb_next, b, &mut scratch).to_vec();
                let q_next_online = if cfg.double {
                    q.forward(&mb_next, b, &mut scratch).to_vec()
                } else {
                    q_next_target.clone()
                };
                targets.clear();
                mb_act.clear();
                for (k, &i) in idx.iter().enumerate() {
                    let row = k * levels..(k + 1) * levels;
                    let a_star = argmax(&q_next_online[row.clone()]);
                    let next_v = q_next_target[row][a_star];
                    let not_done = if replay.dones[i] { 0.0 } else { 1.0 };
                    targets.push(replay.rewards[i] + cfg.gamma * not_done * next_v);
                    mb_act.push(replay.actions[i]);
                }
                let qs = q.forward_train(&mb_obs, b);
                let l = loss::q_value_loss(
                    qs,
                    levels,
                    &mb_act,
                    &targets,
                    QLoss::Huber {
                        delta: cfg.huber_delta,
                    },
                );
                q.zero_grad();
                q.backward(&l.grad);
                adam.step(&mut [("actor", &mut q)]);
                recorder.losses.push(l.loss as f64);
                grad_steps += 1;
                if grad_steps % cfg.target_update_every.max(1) == 0 {
                    target = q.clone();
                }
            }
        }
        state.progress.iteration += 1;
        let stage_s = t0.elapsed().as_secs_f64();
        let last = it + 1 == cfg.max_iters || stage_s >= cfg.max_wall_s;
        if (it + 1) % cfg.validate_every.max(1) == 0 || last {
            let val = recorder.validate(
                ctx.validator,
                &mut state,
                &q,
                || wall0 + t0.elapsed().as_secs_f64(),
                eps,
                &mut progress,
            )?;
            if val > best.0 {
                best = (val, q.clone());
            }
        }
        if last {
            break;
        }
    }
    let wall_s = wall0 + t0.elapsed().as_secs_f64();
    record_schedule(&mut state, StageKind::Dqn, origin);
    let mut last = state;
    last.actor = q;
    last.critic = None;
    last.target = Some(target);
    last.adam = Some(adam);
    Ok(finish_stage(
        last,
        StageKind::Dqn,
        wall_s,
        (best.0, best.1, None),
        start_val,
    ))
}
