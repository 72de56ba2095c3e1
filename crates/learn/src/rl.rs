//! What the reinforcement-learning trainers ([`crate::ppo`], [`crate::a2c`], [`crate::dqn`],
//! [`crate::policy_iteration`]) share: the environment set-up, the validator, the curve recorder, the report,
//! the actor-critic trainers' validate-and-keep-best bookkeeping ([`ActorCriticRun`]), and small
//! batch helpers.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::RlEnvConfig;
use crate::error::LearnError;
use crate::validation::Validator;
use neuralstream_nn::{Activation, Adam, Mlp, SplitMix64};
use std::time::Instant;

/// Environments and validation shared by the RL trainers.
#[derive(Debug, Clone)]
pub struct RlContext<'a> {
    /// The training environments' configuration.
    pub env: RlEnvConfig<'a>,
    /// Checkpoint selection on validation sessions.
    pub validator: &'a Validator<'a>,
}

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
    /// Stage name written into every point (`ppo`, `a2c`, `dqn`).
    pub stage: &'static str,
    /// QoE of the training episodes that ended since the last point.
    pub episode_qoes: Vec<f64>,
    /// Training losses since the last point.
    pub losses: Vec<f64>,
}

impl CurveRecorder {
    /// An empty recorder for `stage`.
    pub fn new(stage: &'static str) -> Self {
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
            stage: self.stage.into(),
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
    trainer: &str,
    wall_s: f64,
    best: (f64, Mlp, Option<Mlp>),
    start_val_qoe: f64,
) -> RlReport {
    let (best_val_qoe, best_actor, best_critic) = best;
    last.progress.wall_s = wall_s;
    last.stage = trainer.into();
    last.meta.extra.insert("trainer".into(), trainer.into());
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
/// (`<stage>_schedule_done` in its metadata, written by [`record_schedule`]), so the schedule goes
/// on where it stopped. That holds for the selected checkpoint too, whose counters are the run's
/// final ones. Checkpoints without the key fall back to the curve.
///
/// A fresh stage drops every `*_schedule_done` key: an earlier stage's would only mislead.
pub fn schedule_origin(ck: &mut TrainingCheckpoint, stage: &str, resumed: bool) -> (u64, u64) {
    if resumed {
        let done = ck.meta.extra.get(&schedule_key(stage)).and_then(|v| {
            let (i, s) = v.split_once(',')?;
            Some((i.parse::<u64>().ok()?, s.parse::<u64>().ok()?))
        });
        return match done {
            Some((i, s)) => (
                ck.progress.iteration.saturating_sub(i),
                ck.progress.samples.saturating_sub(s),
            ),
            None => resumed_origin(&ck.curve, stage),
        };
    }
    ck.meta
        .extra
        .retain(|k, _| !k.ends_with(SCHEDULE_KEY_SUFFIX));
    (ck.progress.iteration, ck.progress.samples)
}

const SCHEDULE_KEY_SUFFIX: &str = "_schedule_done";

fn schedule_key(stage: &str) -> String {
    format!("{stage}{SCHEDULE_KEY_SUFFIX}")
}

/// Records in `ck`'s metadata how far `stage`'s schedules have run since `origin` (from
/// [`schedule_origin`]), so that a resumed run of the stage goes on from there.
pub fn record_schedule(ck: &mut TrainingCheckpoint, stage: &str, origin: (u64, u64)) {
    let done = (
        ck.progress.iteration.saturating_sub(origin.0),
        ck.progress.samples.saturating_sub(origin.1),
    );
    ck.meta
        .extra
        .insert(schedule_key(stage), format!("{},{}", done.0, done.1));
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
        stage: &'static str,
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
