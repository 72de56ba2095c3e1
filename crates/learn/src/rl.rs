//! What the reinforcement-learning trainers ([`crate::ppo`], [`crate::a2c`], [`crate::dqn`],
//! [`crate::policy_iteration`]) share: the environment set-up, the validator, the curve recorder,
//! the report, the sampling trainers' prologue ([`start_trainer`], [`start_actor_critic`]: what
//! continues from a checkpoint and what starts fresh, decided once), the actor-critic trainers'
//! validate-and-keep-best bookkeeping ([`ActorCriticRun`]), and small batch helpers.

use crate::checkpoint::{ScheduleDone, TrainingCheckpoint};
use crate::curve::CurvePoint;
use crate::env::{make_envs, RlEnvConfig, TrainEnv};
use crate::error::LearnError;
use crate::stage::{Stage, StageKind};
use crate::validation::Validator;
use neuralstream_nn::{Activation, Adam, AdamConfig, Mlp, SplitMix64};
use std::time::Instant;

/// Environments and validation shared by the RL trainers.
#[derive(Debug, Clone)]
pub struct RlContext<'a> {
    /// The training environments' configuration.
    pub env: RlEnvConfig<'a>,
    /// Checkpoint selection on validation sessions.
    pub validator: &'a Validator<'a>,
}

/// An RL trainer's settings, as the pipeline runs them ([`crate::stage::StageKind::run`]).
pub trait RlTrainer: Sized {
    /// The settings for one run of the stage: the pipeline's `seed`, and the trainer's own
    /// wall-time cap lowered to what is left of the pipeline's budget.
    fn for_run(&self, seed: u64, budget_s: f64) -> Self;

    /// Trains from `start` ([`RlReport`]); `progress` is called at every validation.
    fn train(
        &self,
        ctx: &RlContext<'_>,
        start: TrainingCheckpoint,
        progress: &mut dyn FnMut(&CurvePoint),
    ) -> Result<RlReport, LearnError>;
}

/// Implements [`RlTrainer`] for a trainer's config type (with `seed` and `max_wall_s` fields) by
/// its training function: every trainer is run by the pipeline the same way.
macro_rules! impl_rl_trainer {
    ($config:ident, $train:ident) => {
        impl $crate::rl::RlTrainer for $config {
            fn for_run(&self, seed: u64, budget_s: f64) -> Self {
                let max_wall_s = self.max_wall_s.min(budget_s);
                $config {
                    seed,
                    max_wall_s,
                    ..self.clone()
                }
            }

            fn train(
                &self,
                ctx: &$crate::rl::RlContext<'_>,
                start: $crate::checkpoint::TrainingCheckpoint,
                progress: &mut dyn FnMut(&$crate::curve::CurvePoint),
            ) -> Result<$crate::rl::RlReport, $crate::error::LearnError> {
                $train(ctx, start, self, progress)
            }
        }
    };
}
pub(crate) use impl_rl_trainer;

/// What an RL trainer returns.
#[derive(Debug, Clone)]
pub struct RlReport {
    /// The checkpoint with the best validation QoE (the starting one if nothing beat it).
    pub best: TrainingCheckpoint,
    /// The checkpoint at the end of training (for `--resume`).
    pub last: TrainingCheckpoint,
    /// Validation QoE of `best`.
    pub best_val_qoe: f64,
    /// Validation QoE of the starting actor.
    pub start_val_qoe: f64,
}

/// Records a trainer's curve: the statistics gathered since the last validation point, and the
/// point itself when validation comes round.
#[derive(Debug)]
pub struct CurveRecorder {
    /// Stage written into every point.
    pub stage: StageKind,
    /// QoE of the training episodes that ended since the last point.
    pub episode_qoes: Vec<f64>,
    /// Training losses since the last point.
    pub losses: Vec<f64>,
}

impl CurveRecorder {
    /// An empty recorder for `stage`.
    pub fn new(stage: StageKind) -> Self {
        CurveRecorder {
            stage,
            episode_qoes: Vec::new(),
            losses: Vec::new(),
        }
    }

    /// Scores `actor` on the validation sessions, appends one curve point to `state` (with the
    /// trainer's own `aux` statistic and the wall time read after scoring), reports it to
    /// `progress`, clears the gathered statistics and returns the score.
    pub fn validate(
        &mut self,
        validator: &Validator<'_>,
        state: &mut TrainingCheckpoint,
        actor: &Mlp,
        wall_s: impl FnOnce() -> f64,
        aux: f64,
        progress: &mut impl FnMut(&CurvePoint),
    ) -> Result<f64, LearnError> {
        let val = validator.score(actor)?;
        let point = CurvePoint {
            stage: self.stage.name().into(),
            iteration: state.progress.iteration,
            samples: state.progress.samples,
            wall_s: wall_s(),
            val_qoe: val,
            train_qoe: mean_or_nan(&self.episode_qoes),
            loss: mean_or_nan(&self.losses),
            aux,
        };
        progress(&point);
        state.curve.push(point);
        self.episode_qoes.clear();
        self.losses.clear();
        Ok(val)
    }
}

/// Ends an RL stage: `last` already holds the final networks and optimiser (it is what `--resume`
/// continues); this stamps the stage name, trainer and wall time on it and builds the `best`
/// checkpoint from it with the best validated actor (and critic, for actor-critic trainers).
pub fn finish_stage(
    mut last: TrainingCheckpoint,
    trainer: StageKind,
    wall_s: f64,
    best: (f64, Mlp, Option<Mlp>),
    start_val_qoe: f64,
) -> RlReport {
    let (best_val_qoe, best_actor, best_critic) = best;
    last.progress.wall_s = wall_s;
    last.stage = Stage::Rl(trainer);
    last.meta
        .extra
        .insert("trainer".into(), trainer.name().into());
    // The last network was not selected: scores inherited from the stage before would describe
    // another network.
    last.meta.extra.remove("val_qoe");
    last.meta.extra.remove("best_epoch");
    let mut best_ck = last.clone();
    best_ck.actor = best_actor;
    if best_critic.is_some() {
        best_ck.critic = best_critic;
    }
    best_ck
        .meta
        .extra
        .insert("val_qoe".into(), format!("{best_val_qoe:.6}"));
    RlReport {
        best: best_ck,
        last,
        best_val_qoe,
        start_val_qoe,
    }
}

/// The counters `(iteration, samples)` from which a stage's schedules (DQN's epsilon, A2C's
/// entropy weight) count: the checkpoint's own counters when the stage starts afresh, so the
/// imitation stage's epochs and samples do not advance them; and, when `resumed` continues the
/// same stage, the checkpoint's counters less what the stage had already run
/// ([`TrainingCheckpoint::schedule`], written by [`record_schedule`]), so the schedule goes on
/// where it stopped. That holds for the selected checkpoint too, whose counters are the run's
/// final ones. Checkpoints without it fall back to the curve.
///
/// A fresh stage drops the checkpoint's schedule: an earlier stage's would only mislead.
pub fn schedule_origin(ck: &mut TrainingCheckpoint, stage: StageKind, resumed: bool) -> (u64, u64) {
    if resumed {
        return match ck.schedule.filter(|d| d.stage == stage) {
            Some(done) => (
                ck.progress.iteration.saturating_sub(done.iterations),
                ck.progress.samples.saturating_sub(done.samples),
            ),
            None => resumed_origin(&ck.curve, stage.name()),
        };
    }
    ck.schedule = None;
    (ck.progress.iteration, ck.progress.samples)
}

/// Records in `ck` how far `stage`'s schedules have run since `origin` (from
/// [`schedule_origin`]), so that a resumed run of the stage goes on from there.
pub fn record_schedule(ck: &mut TrainingCheckpoint, stage: StageKind, origin: (u64, u64)) {
    ck.schedule = Some(ScheduleDone {
        stage,
        iterations: ck.progress.iteration.saturating_sub(origin.0),
        samples: ck.progress.samples.saturating_sub(origin.1),
    });
}

/// [`schedule_origin`] of a resumed stage whose checkpoint has no saved origin, from its curve
/// (the counters of the last point of another stage; imitation's last point can sit one
/// iteration before the stage's true start).
fn resumed_origin(curve: &[CurvePoint], stage: &str) -> (u64, u64) {
    curve
        .iter()
        .rev()
        .find(|p| p.stage != stage)
        .map_or((0, 0), |p| (p.iteration, p.samples))
}

/// What every sampling trainer (PPO, A2C, DQN) sets up alike.
#[derive(Debug, Clone, Copy)]
pub struct TrainerSetup {
    /// The stage's seed (the pipeline's).
    pub seed: u64,
    /// Parallel training environments.
    pub n_envs: usize,
    /// Learning rate of a fresh optimiser.
    pub lr: f32,
    /// Global gradient-norm clip of a fresh optimiser.
    pub max_grad_norm: f32,
}

impl TrainerSetup {
    /// The setup of `n_envs` environments from `seed`, and a fresh optimiser's `lr` and clip.
    pub fn new(seed: u64, n_envs: usize, lr: f32, max_grad_norm: f32) -> Self {
        TrainerSetup {
            seed,
            n_envs,
            lr,
            max_grad_norm,
        }
    }
}

/// The optimiser, seed and environments a sampling trainer starts from.
#[derive(Debug)]
pub struct TrainerStart<'a> {
    /// True when the checkpoint was written by this same stage, which continues it.
    pub resumed: bool,
    /// The checkpoint's optimiser when resumed, a fresh one otherwise.
    pub adam: Adam,
    /// The run's seed, advanced by the checkpoint's iteration counter so that a resumed run does
    /// not replay the episodes it has already played.
    pub seed: u64,
    /// [`TrainerSetup::n_envs`] training environments seeded from `seed`.
    pub envs: Vec<TrainEnv<'a>>,
}

/// The prologue of a sampling trainer: takes the optimiser out of `state` and continues it when
/// `resumed` (the checkpoint is this stage's own), or makes a fresh one; derives the run's seed;
/// makes the environments.
pub fn start_trainer<'a>(
    ctx: &RlContext<'a>,
    state: &mut TrainingCheckpoint,
    resumed: bool,
    setup: &TrainerSetup,
) -> Result<TrainerStart<'a>, LearnError> {
    let adam = match state.adam.take().filter(|_| resumed) {
        Some(a) => a,
        None => Adam::new(AdamConfig {
            max_grad_norm: Some(setup.max_grad_norm),
            ..AdamConfig::with_lr(setup.lr)
        }),
    };
    let seed = setup.seed ^ state.progress.iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let envs = make_envs(&ctx.env, setup.n_envs, seed)?;
    Ok(TrainerStart {
        resumed,
        adam,
        seed,
        envs,
    })
}

/// The networks and the rest an actor-critic trainer (PPO, A2C) starts from.
#[derive(Debug)]
pub struct ActorCriticStart<'a> {
    /// The checkpoint's actor.
    pub actor: Mlp,
    /// The critic (see [`start_actor_critic`] for which).
    pub critic: Mlp,
    /// Optimiser, seed and environments; `resumed` only for a checkpoint of this very stage
    /// with its critic.
    pub trainer: TrainerStart<'a>,
    /// The stage's bookkeeping, the starting actor already validated.
    pub run: ActorCriticRun<'a>,
}

/// The prologue of the actor-critic trainers, one rule for PPO and A2C.
///
/// **The critic rule.** A critic in the checkpoint is kept, whichever actor-critic stage trained
/// it: it estimates the value of the checkpoint's own actor for the same rewards (only PPO and A2C
/// write one; imitation, policy iteration and DQN drop it), so it is a better start than a random
/// network. Otherwise a fresh critic of `critic_hidden` is made. Only a checkpoint of this very
/// stage with its critic counts as resumed: its optimiser (and schedules) continue; a critic from
/// the other actor-critic stage gets a fresh optimiser (and, in PPO, its warm-up).
/// The stage's [`ActorCriticRun`] starts here too, at `t0`, with `cadence`.
pub fn start_actor_critic<'a>(
    ctx: &RlContext<'a>,
    state: &mut TrainingCheckpoint,
    stage: StageKind,
    setup: &TrainerSetup,
    critic_hidden: &[usize],
    cadence: Cadence,
    t0: Instant,
) -> Result<ActorCriticStart<'a>, LearnError> {
    let resumed = state.critic.is_some() && state.stage.is(stage);
    let critic = state
        .critic
        .take()
        .unwrap_or_else(|| new_critic(state.spec.len(), critic_hidden, setup.seed));
    let trainer = start_trainer(ctx, state, resumed, setup)?;
    let actor = state.actor.clone();
    let run = ActorCriticRun::start(stage, ctx.validator, cadence, t0, state, &actor, &critic)?;
    Ok(ActorCriticStart {
        actor,
        critic,
        trainer,
        run,
    })
}

/// When an actor-critic trainer stops and validates.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// Updates after which the stage ends.
    pub max_iters: usize,
    /// Validate after every this many updates (and after the last).
    pub validate_every: usize,
    /// Stage wall time after which the current update is the last, seconds.
    pub max_wall_s: f64,
}

impl Cadence {
    /// Stop after `max_iters` updates or `max_wall_s` seconds, validate every `validate_every`.
    pub fn new(max_iters: usize, validate_every: usize, max_wall_s: f64) -> Self {
        Cadence {
            max_iters,
            validate_every,
            max_wall_s,
        }
    }
}

/// The bookkeeping the actor-critic trainers ([`crate::a2c`], [`crate::ppo`]) share around their
/// updates: the curve, the validation cadence, the best actor and critic so far, and the
/// checkpoints at the end. Each trainer keeps only its own update rule.
#[derive(Debug)]
pub struct ActorCriticRun<'a> {
    validator: &'a Validator<'a>,
    cadence: Cadence,
    t0: Instant,
    wall0_s: f64,
    updates: usize,
    start_val_qoe: f64,
    best: (f64, Mlp, Mlp),
    /// The trainer's curve statistics (episode QoEs and losses since the last point).
    pub recorder: CurveRecorder,
    /// Policy entropies since the last point (the curve's `aux` column).
    pub entropies: Vec<f64>,
}

impl<'a> ActorCriticRun<'a> {
    /// Starts a `stage` run from `state` (its curve and wall time continue) by validating the
    /// starting `actor`, which is the best so far. `t0` is when the stage began.
    pub fn start(
        stage: StageKind,
        validator: &'a Validator<'a>,
        cadence: Cadence,
        t0: Instant,
        state: &TrainingCheckpoint,
        actor: &Mlp,
        critic: &Mlp,
    ) -> Result<Self, LearnError> {
        let start_val_qoe = validator.score(actor)?;
        Ok(ActorCriticRun {
            validator,
            cadence,
            t0,
            wall0_s: state.progress.wall_s,
            updates: 0,
            start_val_qoe,
            best: (start_val_qoe, actor.clone(), critic.clone()),
            recorder: CurveRecorder::new(stage),
            entropies: Vec::new(),
        })
    }

    /// Ends one update on `samples` decisions: counts it in `state`, validates when the cadence
    /// says so (a curve point to `state` and `progress`), keeps the actor and critic if they are
    /// the best so far. Returns true when this was the stage's last update.
    pub fn end_update(
        &mut self,
        state: &mut TrainingCheckpoint,
        actor: &Mlp,
        critic: &Mlp,
        samples: usize,
        progress: &mut impl FnMut(&CurvePoint),
    ) -> Result<bool, LearnError> {
        self.updates += 1;
        state.progress.iteration += 1;
        state.progress.samples += samples as u64;
        let c = self.cadence;
        let last = self.updates >= c.max_iters || self.t0.elapsed().as_secs_f64() >= c.max_wall_s;
        if self.updates % c.validate_every.max(1) == 0 || last {
            let (t0, wall0_s) = (self.t0, self.wall0_s);
            let val = self.recorder.validate(
                self.validator,
                state,
                actor,
                || wall0_s + t0.elapsed().as_secs_f64(),
                mean_or_nan(&self.entropies),
                progress,
            )?;
            self.entropies.clear();
            if val > self.best.0 {
                self.best = (val, actor.clone(), critic.clone());
            }
        }
        Ok(last)
    }

    /// Ends the stage: `last` holds the final actor, critic and optimiser (what `--resume`
    /// continues), `best` the best validated actor and critic ([`finish_stage`]).
    pub fn finish(
        self,
        mut state: TrainingCheckpoint,
        actor: Mlp,
        critic: Mlp,
        adam: Adam,
    ) -> RlReport {
        let wall_s = self.wall0_s + self.t0.elapsed().as_secs_f64();
        state.actor = actor;
        state.critic = Some(critic);
        state.adam = Some(adam);
        let (val, best_actor, best_critic) = self.best;
        finish_stage(
            state,
            self.recorder.stage,
            wall_s,
            (val, best_actor, Some(best_critic)),
            self.start_val_qoe,
        )
    }
}

/// A fresh value network `[dim, hidden.., 1]`.
pub fn new_critic(dim: usize, hidden: &[usize], seed: u64) -> Mlp {
    let mut sizes = vec![dim];
    sizes.extend(hidden);
    sizes.push(1);
    Mlp::new(&sizes, Activation::Relu, seed ^ 0xc417_1c00_0000_0001)
}

/// A seeded permutation of `0..n`.
pub fn permutation(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// Copies rows `idx` of the row-major `[_, dim]` matrix `src` into `dst` (cleared first).
pub fn gather_rows(src: &[f32], dim: usize, idx: &[usize], dst: &mut Vec<f32>) {
    dst.clear();
    for &i in idx {
        dst.extend_from_slice(&src[i * dim..(i + 1) * dim]);
    }
}

/// Mean of the values, NaN for none (a NaN among them makes the mean NaN).
pub fn mean_or_nan(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn point(stage: &str, iteration: u64, samples: u64) -> CurvePoint {
        CurvePoint {
            stage: stage.into(),
            iteration,
            samples,
            wall_s: 0.0,
            val_qoe: 0.0,
            train_qoe: f64::NAN,
            loss: 0.0,
            aux: 0.0,
        }
    }

    #[test]
    fn a_resumed_stage_counts_its_schedule_from_where_it_began() {
        let curve = [
            point("imitation", 20, 90_000),
            point("dagger", 30, 120_000),
            point("dqn", 40, 121_000),
            point("dqn", 50, 122_000),
        ];
        // DQN began after DAgger: its epsilon has seen 2,000 samples, not 122,000.
        assert_eq!(resumed_origin(&curve, "dqn"), (30, 120_000));
        // A stage with no other stage before it counts from 0.
        assert_eq!(resumed_origin(&curve[2..], "dqn"), (0, 0));
    }
}
