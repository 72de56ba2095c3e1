//! Advantage actor-critic, Pensieve's recipe (Mao, Netravali, Alizadeh, "Neural Adaptive Video
//! Streaming with Pensieve", SIGCOMM 2017; synchronous A3C of Mnih et al., ICML 2016), for
//! comparison with PPO.
//!
//! Pensieve (reference section 5.5): 16 workers each play up to 100 decisions of a random-trace
//! environment; returns are discounted (gamma 0.99) and bootstrapped from the critic when the batch
//! did not end the video; advantage = return - V; actor loss `sum log pi(a|s) (-A)` minus an
//! entropy bonus; critic loss MSE to the return; RMSProp with actor lr 1e-4, critic lr 1e-3.
//!
//! Here: the same batch shape ([`A2cConfig::n_envs`] x [`A2cConfig::steps_per_env`], n-step
//! returns = GAE with lambda 1), one gradient step per batch over actor and critic, with Adam (one
//! learning rate, global norm clipping) in place of RMSProp, losses averaged over the batch, and
//! an entropy weight that decays linearly from [`A2cConfig::entropy_start`] to
//! [`A2cConfig::entropy_end`] over [`A2cConfig::entropy_decay_iters`] (Pensieve's README advises
//! starting high and decaying). Checkpoints are selected on validation QoE like every trainer.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::{collect_rollout, gae};
use crate::error::{check, ConfigError, LearnError};
use crate::rl::{
    impl_rl_trainer, record_schedule, schedule_origin, start_actor_critic, Cadence, RlContext,
    RlReport, TrainerSetup,
};
use crate::stage::StageKind;
use neuralstream_nn::loss;
use std::time::Instant;

/// Hyper-parameters of [`train_a2c`].
#[derive(Debug, Clone)]
pub struct A2cConfig {
    /// Seed of the environments.
    pub seed: u64,
    /// Parallel environments (Pensieve: 16 agents).
    pub n_envs: usize,
    /// Decisions per environment per update (Pensieve: 100).
    pub steps_per_env: usize,
    /// Discount (Pensieve: 0.99).
    pub gamma: f32,
    /// Adam learning rate for actor and critic.
    pub lr: f32,
    /// Value loss weight.
    pub vf_coef: f32,
    /// Entropy weight at the start.
    pub entropy_start: f32,
    /// Entropy weight after the decay.
    pub entropy_end: f32,
    /// Updates over which the entropy weight decays.
    pub entropy_decay_iters: usize,
    /// Normalise advantages per batch (not in Pensieve; off by default).
    pub normalise_advantages: bool,
    /// Global gradient-norm clip.
    pub max_grad_norm: f32,
    /// Hidden widths of a new critic.
    pub critic_hidden: Vec<usize>,
    /// Validate every this many updates.
    pub validate_every: usize,
    /// Updates at most.
    pub max_iters: usize,
    /// Stop after the update during which this much wall time (this stage) has passed, seconds.
    pub max_wall_s: f64,
}

impl Default for A2cConfig {
    /// 16 x 100 decisions per update, gamma 0.99, lr 1e-4, entropy 0.1 decaying to 0.01 over
    /// 2 000 updates, validation every 20 updates.
    fn default() -> Self {
        A2cConfig {
            seed: 1,
            n_envs: 16,
            steps_per_env: 100,
            gamma: 0.99,
            lr: 1e-4,
            vf_coef: 0.5,
            entropy_start: 0.1,
            entropy_end: 0.01,
            entropy_decay_iters: 2_000,
            normalise_advantages: false,
            max_grad_norm: 1.0,
            critic_hidden: vec![128, 128],
            validate_every: 20,
            max_iters: 1_000_000,
            max_wall_s: 1e9,
        }
    }
}

impl A2cConfig {
    /// Checks every setting's range; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("n_envs", self.n_envs)?;
        check::at_least_one("steps_per_env", self.steps_per_env)?;
        check::at_least_one("max_iters", self.max_iters)?;
        check::learning_rate("lr", self.lr)
    }
}

impl_rl_trainer!(A2cConfig, train_a2c);

/// Trains `state.actor` with A2C (from scratch or warm-started; resumes an A2C checkpoint's critic,
/// optimiser, counters and curve, and keeps a PPO checkpoint's critic: [`start_actor_critic`]).
/// `progress` is called at every validation.
pub fn train_a2c(
    ctx: &RlContext<'_>,
    mut state: TrainingCheckpoint,
    cfg: &A2cConfig,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<RlReport, LearnError> {
    let t0 = Instant::now();
    let n_actions = state.spec.num_levels;
    let setup = TrainerSetup::new(cfg.seed, cfg.n_envs, cfg.lr, cfg.max_grad_norm);
    let cadence = Cadence::new(cfg.max_iters, cfg.validate_every, cfg.max_wall_s);
    let hidden = &cfg.critic_hidden;
    let start = start_actor_critic(ctx, &mut state, StageKind::A2c, &setup, hidden, cadence, t0)?;
    let (mut actor, mut critic, mut run) = (start.actor, start.critic, start.run);
    let t = start.trainer;
    let (mut adam, mut envs) = (t.adam, t.envs);
    let resumed = t.resumed;
    let origin = schedule_origin(&mut state, StageKind::A2c, resumed);
    let iteration0 = origin.0;
    for _ in 0..cfg.max_iters {
        let batch = collect_rollout(&mut envs, &actor, Some(&critic), cfg.steps_per_env)?;
        run.recorder.episode_qoes.extend(&batch.episode_qoes);
        let (mut adv, ret) = gae(&batch, cfg.gamma, 1.0);
        if cfg.normalise_advantages {
            crate::env::normalise(&mut adv);
        }
        let stage_iters = state.progress.iteration.saturating_sub(iteration0);
        let done_frac = (stage_iters as f32 / cfg.entropy_decay_iters.max(1) as f32).min(1.0);
        let entropy_coef = cfg.entropy_start + (cfg.entropy_end - cfg.entropy_start) * done_frac;
        let b = batch.len();
        let logits = actor.forward_train(&batch.obs, b);
        let pl = loss::a2c_loss(logits, n_actions, &batch.actions, &adv, entropy_coef);
        actor.zero_grad();
        actor.backward(&pl.grad);
        let values = critic.forward_train(&batch.obs, b);
        let vl = loss::value_mse(values, &ret).scaled(cfg.vf_coef);
        critic.zero_grad();
        critic.backward(&vl.grad);
        adam.step(&mut [("actor", &mut actor), ("critic", &mut critic)]);
        run.recorder.losses.push((pl.loss + vl.loss) as f64);
        run.entropies.push(pl.entropy as f64);
        if run.end_update(&mut state, &actor, &critic, b, &mut progress)? {
            break;
        }
    }
    record_schedule(&mut state, StageKind::A2c, origin);
    Ok(run.finish(state, actor, critic, adam))
}
