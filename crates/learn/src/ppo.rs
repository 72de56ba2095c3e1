//! Proximal Policy Optimization (Schulman, Wolski, Dhariwal, Radford, Klimov, "Proximal Policy
//! Optimization Algorithms", arXiv:1707.06347, 2017) with generalised advantage estimation
//! (Schulman et al., ICLR 2016), as the RL fine-tuning stage after imitation.
//!
//! Actor-critic with separate networks: the actor is the policy being fine-tuned (usually the
//! imitation stage's result), the critic a fresh value network that is first trained alone for
//! [`PpoConfig::critic_warmup_iters`] iterations so that the first advantages are meaningful and
//! the warm-started policy is not pushed around by a random critic. Each iteration:
//!
//! 1. every one of [`PpoConfig::n_envs`] training environments (random trace, random start, delay
//!    noise; [`crate::env`]) plays [`PpoConfig::steps_per_env`] decisions with the stochastic
//!    policy, in parallel on all cores, seeded per environment;
//! 2. GAE(gamma, lambda) advantages (normalised per batch) and returns;
//! 3. [`PpoConfig::epochs`] passes of shuffled minibatches: clipped surrogate + entropy bonus for the
//!    actor, MSE for the critic, one Adam step over both with global gradient-norm clipping; an
//!    epoch loop stops early when the approximate KL to the behaviour policy exceeds
//!    [`PpoConfig::target_kl`] (keeps a good warm start from collapsing);
//! 4. every [`PpoConfig::validate_every`] iterations the greedy policy is scored on the validation
//!    sessions, and the best one is kept.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::{collect_rollout, gae, normalise};
use crate::error::{check, ConfigError, LearnError};
use crate::rl::{
    gather_rows, impl_rl_trainer, permutation, start_actor_critic, Cadence, RlContext, RlReport,
    TrainerSetup,
};
use crate::stage::StageKind;
use neuralstream_nn::{loss, SplitMix64};
use std::time::Instant;

/// Hyper-parameters of [`train_ppo`].
#[derive(Debug, Clone)]
pub struct PpoConfig {
    /// Seed of the environments and minibatch order.
    pub seed: u64,
    /// Parallel environments.
    pub n_envs: usize,
    /// Decisions per environment per iteration.
    pub steps_per_env: usize,
    /// Discount.
    pub gamma: f32,
    /// GAE lambda.
    pub lambda: f32,
    /// Clip range of the probability ratio.
    pub clip_eps: f32,
    /// Passes over each batch.
    pub epochs: usize,
    /// Minibatch size.
    pub minibatch: usize,
    /// Adam learning rate (actor and critic) at the start of the stage.
    pub lr: f32,
    /// Learning rate at the last iteration as a fraction of `lr`: the rate decays linearly over
    /// the stage's `max_iters` (1: constant). Annealing settles the policy instead of leaving it
    /// jittering around the optimum, so the last checkpoints are also the best.
    pub lr_final_fraction: f32,
    /// Entropy bonus weight.
    pub entropy_coef: f32,
    /// Value loss weight.
    pub vf_coef: f32,
    /// Global gradient-norm clip.
    pub max_grad_norm: f32,
    /// Stop an iteration's epochs once the mean approximate KL exceeds this.
    pub target_kl: f32,
    /// Hidden widths of a new critic.
    pub critic_hidden: Vec<usize>,
    /// Iterations at the start that train only the critic (skipped when resuming with a critic).
    pub critic_warmup_iters: usize,
    /// Validate every this many iterations.
    pub validate_every: usize,
    /// Iterations at most.
    pub max_iters: usize,
    /// Stop after the iteration during which this much wall time (this stage) has passed, seconds.
    pub max_wall_s: f64,
}

impl Default for PpoConfig {
    /// Fine-tuning settings: 16 environments x 64 decisions, gamma 0.99, lambda 0.95, clip 0.1,
    /// 4 epochs of minibatch 256, lr 1e-4, entropy 0.002, target KL 0.02, 10 critic warm-up
    /// iterations, validation every 20 iterations, 10 000 iterations (about 10 M decisions; the
    /// count, not wall time, ends the stage, so a run is reproducible), no wall-time limit of its own.
    fn default() -> Self {
        PpoConfig {
            seed: 1,
            n_envs: 16,
            steps_per_env: 64,
            gamma: 0.99,
            lambda: 0.95,
            clip_eps: 0.1,
            epochs: 4,
            minibatch: 256,
            lr: 1e-4,
            lr_final_fraction: 1.0,
            entropy_coef: 0.002,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: 0.02,
            critic_hidden: vec![128, 128],
            critic_warmup_iters: 10,
            validate_every: 20,
            max_iters: 10_000,
            max_wall_s: 1e9,
        }
    }
}

impl PpoConfig {
    /// Checks every setting's range; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, count) in [
            ("n_envs", self.n_envs),
            ("steps_per_env", self.steps_per_env),
            ("minibatch", self.minibatch),
            ("epochs", self.epochs),
            ("max_iters", self.max_iters),
            ("validate_every", self.validate_every),
        ] {
            check::at_least_one(field, count)?;
        }
        check::learning_rate("lr", self.lr)?;
        let f = self.lr_final_fraction;
        check::ensure(
            (0.0..=1.0).contains(&f),
            "lr_final_fraction",
            "be in [0, 1]",
            f,
        )?;
        let w = self.entropy_coef;
        check::ensure(w >= 0.0, "entropy_coef", "not be negative", w)?;
        let kl = self.target_kl;
        check::ensure(kl > 0.0, "target_kl", "be positive", kl)
    }
}

impl_rl_trainer!(PpoConfig, train_ppo);

/// Learning rate of iteration `it` (0-based) of the stage: linear from `lr` at the first
/// iteration to `lr * lr_final_fraction` at the last.
pub fn lr_at(cfg: &PpoConfig, it: usize) -> f32 {
    let span = cfg.max_iters.saturating_sub(1).max(1) as f32;
    let t = (it as f32 / span).min(1.0);
    cfg.lr * (1.0 - (1.0 - cfg.lr_final_fraction) * t)
}

/// Fine-tunes `state.actor` with PPO. `state` may come from imitation (no critic: a fresh one is
/// made and warmed up) or from a PPO checkpoint (`--resume`: critic, Adam state, counters and
/// curve continue); an A2C checkpoint's critic is kept and warmed up ([`start_actor_critic`]).
/// `progress` is called at every validation.
pub fn train_ppo(
    ctx: &RlContext<'_>,
    mut state: TrainingCheckpoint,
    cfg: &PpoConfig,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<RlReport, LearnError> {
    let t0 = Instant::now();
    let dim = state.spec.len();
    let n_actions = state.spec.num_levels;
    let setup = TrainerSetup::new(cfg.seed, cfg.n_envs, cfg.lr, cfg.max_grad_norm);
    let cadence = Cadence::new(cfg.max_iters, cfg.validate_every, cfg.max_wall_s);
    let hidden = &cfg.critic_hidden;
    let start = start_actor_critic(ctx, &mut state, StageKind::Ppo, &setup, hidden, cadence, t0)?;
    let (mut actor, mut critic, mut run) = (start.actor, start.critic, start.run);
    let t = start.trainer;
    let (mut adam, mut envs) = (t.adam, t.envs);
    let warmup = if t.resumed {
        0
    } else {
        cfg.critic_warmup_iters
    };
    let mut rng = SplitMix64::new(t.seed ^ 0x99f0_0000_0000_0001);
    let (mut mb_obs, mut mb_ret, mut mb_adv, mut mb_old, mut mb_act) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for it in 0..cfg.max_iters {
        adam.set_lr(lr_at(cfg, it));
        let batch = collect_rollout(&mut envs, &actor, Some(&critic), cfg.steps_per_env)?;
        run.recorder.episode_qoes.extend(&batch.episode_qoes);
        let (mut adv, ret) = gae(&batch, cfg.gamma, cfg.lambda);
        normalise(&mut adv);
        let train_actor = it >= warmup;
        'epochs: for _ in 0..cfg.epochs {
            let order = permutation(batch.len(), &mut rng);
            let mut kl_sum = 0.0f64;
            let mut kl_n = 0usize;
            for idx in order.chunks(cfg.minibatch) {
                let b = idx.len();
                gather_rows(&batch.obs, dim, idx, &mut mb_obs);
                mb_ret.clear();
                mb_adv.clear();
                mb_old.clear();
                mb_act.clear();
                for &i in idx {
                    mb_ret.push(ret[i]);
                    mb_adv.push(adv[i]);
                    mb_old.push(batch.log_probs[i]);
                    mb_act.push(batch.actions[i]);
                }
                let values = critic.forward_train(&mb_obs, b);
                let vl = loss::value_mse(values, &mb_ret).scaled(cfg.vf_coef);
                critic.zero_grad();
                critic.backward(&vl.grad);
                if train_actor {
                    let logits = actor.forward_train(&mb_obs, b);
                    let pl = loss::ppo_clip_loss(
                        logits,
                        n_actions,
                        &mb_act,
                        &mb_adv,
                        &mb_old,
                        cfg.clip_eps,
                        cfg.entropy_coef,
                    );
                    actor.zero_grad();
                    actor.backward(&pl.grad);
                    adam.step(&mut [("actor", &mut actor), ("critic", &mut critic)]);
                    run.recorder.losses.push((pl.loss + vl.loss) as f64);
                    run.entropies.push(pl.entropy as f64);
                    kl_sum += pl.approx_kl as f64;
                    kl_n += 1;
                } else {
                    adam.step(&mut [("critic", &mut critic)]);
                    run.recorder.losses.push(vl.loss as f64);
                }
            }
            if train_actor && kl_n > 0 && kl_sum / kl_n as f64 > cfg.target_kl as f64 {
                break 'epochs;
            }
        }
        if run.end_update(&mut state, &actor, &critic, batch.len(), &mut progress)? {
            break;
        }
    }
    Ok(run.finish(state, actor, critic, adam))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_decays_linearly_to_the_final_fraction() {
        let cfg = PpoConfig {
            lr: 2e-4,
            lr_final_fraction: 0.1,
            max_iters: 11,
            ..PpoConfig::default()
        };
        assert_eq!(lr_at(&cfg, 0), 2e-4);
        assert!((lr_at(&cfg, 5) - 1.1e-4).abs() < 1e-9);
        assert!((lr_at(&cfg, 10) - 2e-5).abs() < 1e-9);
        let constant = PpoConfig {
            lr_final_fraction: 1.0,
            ..cfg
        };
        assert_eq!(lr_at(&constant, 7), 2e-4);
    }
}
