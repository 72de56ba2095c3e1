//! Training stages as types: [`StageKind`] is what the pipeline can be asked to run (each with its
//! own [`StageKind::run`] and [`StageKind::planned_iterations`]), [`Stage`] is what produced a
//! checkpoint or a row of results (the imitation stage yields two: behaviour cloning and DAgger).
//!
//! Every match over a stage is exhaustive, so a new trainer is a new variant the compiler walks
//! through: there is no catch-all arm that would send an unlisted stage to another trainer. The
//! names (`imitation`, `dagger`, `api`, `ppo`, `a2c`, `dqn`) are those of flags, curves and
//! checkpoint files, unchanged.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::RlEnvConfig;
use crate::error::LearnError;
use crate::imitation::{train_imitation_split, EpochStats, ImitationConfig};
use crate::pipeline::{PipelineConfig, StageResult};
use crate::rl::{RlContext, RlTrainer};
use crate::validation::Validator;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Trace, Video};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One stage the pipeline can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    /// Behaviour cloning of the offline optimum, then DAgger rounds.
    Imitation,
    /// Approximate policy iteration with all-action rollouts ([`crate::policy_iteration`]);
    /// named `api` in flags, curves and checkpoints.
    #[serde(rename = "api")]
    PolicyIteration,
    /// PPO fine-tuning.
    Ppo,
    /// A2C (Pensieve's recipe).
    A2c,
    /// DQN.
    Dqn,
}

impl StageKind {
    /// The name used in flags, curves and checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Imitation => "imitation",
            StageKind::PolicyIteration => "api",
            StageKind::Ppo => "ppo",
            StageKind::A2c => "a2c",
            StageKind::Dqn => "dqn",
        }
    }

    /// The epochs (imitation: behaviour cloning plus every DAgger round's) or iterations the stage
    /// runs when no wall-time budget cuts it short.
    pub fn planned_iterations(self, cfg: &PipelineConfig) -> usize {
        match self {
            StageKind::Imitation => {
                cfg.imitation.epochs + cfg.imitation.dagger_rounds * cfg.imitation.dagger_epochs
            }
            StageKind::PolicyIteration => cfg.policy_iteration.iterations,
            StageKind::Ppo => cfg.ppo.max_iters,
            StageKind::A2c => cfg.a2c.max_iters,
            StageKind::Dqn => cfg.dqn.max_iters,
        }
    }

    /// Runs the stage from `state` (the previous stage's end, a resumed checkpoint or a fresh
    /// network) with the pipeline's settings and `ctx.budget_left_s` of wall time.
    pub fn run(
        self,
        ctx: &StageContext<'_>,
        state: TrainingCheckpoint,
        progress: &mut dyn FnMut(&CurvePoint),
    ) -> Result<StageOutcome, LearnError> {
        let cfg = ctx.cfg;
        match self {
            StageKind::Imitation => run_imitation(ctx, state, progress),
            StageKind::PolicyIteration => run_rl(self, ctx, state, progress, &cfg.policy_iteration),
            StageKind::Ppo => run_rl(self, ctx, state, progress, &cfg.ppo),
            StageKind::A2c => run_rl(self, ctx, state, progress, &cfg.a2c),
            StageKind::Dqn => run_rl(self, ctx, state, progress, &cfg.dqn),
        }
    }
}

/// The `--algo` recipes: each algorithm's stages, in order.
pub const ALGORITHMS: [(&str, &[StageKind]); 6] = [
    (
        "policy-iteration",
        &[StageKind::Imitation, StageKind::PolicyIteration],
    ),
    ("api", &[StageKind::Imitation, StageKind::PolicyIteration]),
    ("ppo", &[StageKind::Imitation, StageKind::Ppo]),
    ("imitation", &[StageKind::Imitation]),
    ("a2c", &[StageKind::A2c]),
    ("dqn", &[StageKind::Dqn]),
];

/// The stages of the recipe `algo` ([`ALGORITHMS`]), or an error listing the recipes.
pub fn algorithm_stages(algo: &str) -> Result<Vec<StageKind>, String> {
    ALGORITHMS
        .iter()
        .find(|(name, _)| *name == algo)
        .map(|(_, stages)| stages.to_vec())
        .ok_or_else(|| {
            format!(
                "unknown algorithm '{algo}'; expected policy-iteration (or api), ppo, imitation, \
                 a2c or dqn"
            )
        })
}

/// Parses a comma-separated list of stages (`imitation,ppo`); empty entries are skipped, and at
/// least one stage is needed.
pub fn parse_stages(list: &str) -> Result<Vec<StageKind>, String> {
    let stages: Vec<StageKind> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if stages.is_empty() {
        return Err("needs at least one stage".into());
    }
    Ok(stages)
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for StageKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "imitation" | "bc" | "dagger" => Ok(StageKind::Imitation),
            "api" | "rollout" | "policy-iteration" => Ok(StageKind::PolicyIteration),
            "ppo" => Ok(StageKind::Ppo),
            "a2c" => Ok(StageKind::A2c),
            "dqn" => Ok(StageKind::Dqn),
            other => Err(format!(
                "unknown stage '{other}'; expected imitation, api, ppo, a2c or dqn"
            )),
        }
    }
}

/// What produced a checkpoint's networks, or one row of the pipeline's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// A network made from scratch, not trained yet.
    Init,
    /// Behaviour cloning of the optimum (the imitation stage before any DAgger round).
    Imitation,
    /// The imitation stage after its DAgger rounds.
    Dagger,
    /// One of the RL stages (never `Rl(StageKind::Imitation)`: the imitation stage's rows are
    /// [`Stage::Imitation`] and [`Stage::Dagger`]).
    Rl(StageKind),
}

impl Stage {
    /// The name written in checkpoints (`learn.stage`), curves and `stages.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Init => "init",
            Stage::Imitation => "imitation",
            Stage::Dagger => "dagger",
            Stage::Rl(kind) => kind.name(),
        }
    }

    /// The stage named `name` as [`Stage::name`] writes it, `None` for another word.
    pub fn from_name(name: &str) -> Option<Stage> {
        Some(match name {
            "init" => Stage::Init,
            "imitation" => Stage::Imitation,
            "dagger" => Stage::Dagger,
            "api" => Stage::Rl(StageKind::PolicyIteration),
            "ppo" => Stage::Rl(StageKind::Ppo),
            "a2c" => Stage::Rl(StageKind::A2c),
            "dqn" => Stage::Rl(StageKind::Dqn),
            _ => return None,
        })
    }

    /// True when a checkpoint of this stage is continued (optimiser and networks) by `kind`.
    pub fn is(self, kind: StageKind) -> bool {
        self == Stage::Rl(kind)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// What every stage reads: the pipeline's settings, the split, and the clock.
pub struct StageContext<'a> {
    /// The pipeline's settings.
    pub cfg: &'a PipelineConfig,
    /// Training traces (the split's training side).
    pub train: &'a [Trace],
    /// Validation traces (the split's held-out side).
    pub val: &'a [Trace],
    /// The video.
    pub video: &'a Video,
    /// `cfg.qoe` compiled for the video.
    pub qoe: &'a CompiledQoe,
    /// Checkpoint selection on the validation sessions.
    pub validator: &'a Validator<'a>,
    /// Wall time of the whole run so far, resumed runs included, seconds.
    pub elapsed_s: &'a dyn Fn() -> f64,
    /// Wall time this stage may still use, seconds.
    pub budget_left_s: f64,
}

/// What one stage hands back to the pipeline.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    /// The stage's rows of results (imitation: behaviour cloning, then DAgger if a round ran).
    pub rows: Vec<StageResult>,
    /// The state at the stage's end, where the next stage starts.
    pub state: TrainingCheckpoint,
    /// The stage's selected checkpoint and its validation QoE.
    pub best: (f64, TrainingCheckpoint),
    /// Mean optimum QoE on the validation sessions (imitation only).
    pub val_optimum_qoe: Option<f64>,
    /// True when the wall-time budget ended the stage before its planned iterations.
    pub wall_limited: bool,
}

/// The imitation stage: behaviour cloning, then DAgger rounds; one row for each that ran.
fn run_imitation(
    ctx: &StageContext<'_>,
    mut state: TrainingCheckpoint,
    progress: &mut dyn FnMut(&CurvePoint),
) -> Result<StageOutcome, LearnError> {
    let cfg = ctx.cfg;
    let has_rl = cfg.stages.iter().any(|s| *s != StageKind::Imitation);
    let share = if has_rl { cfg.imitation_share } else { 1.0 };
    let icfg = ImitationConfig {
        seed: cfg.seed,
        val_fraction: cfg.val_fraction,
        window_s: cfg.val_window_s,
        val_hop_s: cfg.val_hop_s,
        qoe: cfg.qoe.clone(),
        skip_chunks: cfg.skip_chunks,
        val_metric: cfg.val_metric,
        history_len: state.spec.history_len,
        max_wall_s: cfg.imitation.max_wall_s.min(cfg.max_wall_s * share),
        ..cfg.imitation.clone()
    };
    let wall0 = (ctx.elapsed_s)();
    let samples0 = state.progress.samples;
    let it0 = state.progress.iteration;
    let point = |e: &EpochStats| CurvePoint {
        stage: if e.round == 0 {
            Stage::Imitation
        } else {
            Stage::Dagger
        }
        .name()
        .into(),
        iteration: it0 + e.epoch as u64,
        samples: samples0 + e.samples as u64,
        wall_s: wall0 + e.wall_s,
        val_qoe: e.val_qoe,
        train_qoe: f64::NAN,
        loss: e.loss,
        aux: e.accuracy,
    };
    let rep = train_imitation_split(ctx.train, ctx.val, ctx.video, &icfg, |e| {
        progress(&point(e))
    })?;
    state.curve.extend(rep.history.iter().map(point));
    let planned = StageKind::Imitation.planned_iterations(cfg);
    // history[0] scores the untrained network.
    let wall_limited = rep.history.len() < planned + 1;
    state.progress.iteration = it0 + rep.history.len() as u64;
    state.progress.samples = samples0 + rep.samples as u64;
    state.progress.wall_s = (ctx.elapsed_s)();
    state.critic = None;
    state.adam = None;
    state.target = None;
    state.schedule = None;
    let mut bc = state.clone();
    bc.actor = rep.bc_policy.actor().clone();
    bc.stage = Stage::Imitation;
    bc.meta = rep.bc_policy.meta().clone();
    let mut rows = vec![StageResult {
        stage: Stage::Imitation,
        val_qoe: rep.bc_val_qoe,
        improved: rep
            .history
            .first()
            .is_none_or(|h| rep.bc_val_qoe > h.val_qoe),
        checkpoint: bc,
    }];
    state.actor = rep.policy.actor().clone();
    state.meta = rep.policy.meta().clone();
    // A DAgger row only when a DAgger round ran (the budget may end imitation first).
    let dagger_ran = rep.history.iter().any(|e| e.round > 0);
    state.stage = if dagger_ran {
        Stage::Dagger
    } else {
        Stage::Imitation
    };
    if dagger_ran {
        rows.push(StageResult {
            stage: Stage::Dagger,
            val_qoe: rep.best_val_qoe,
            improved: rep.best_val_qoe > rep.bc_val_qoe,
            checkpoint: state.clone(),
        });
    }
    Ok(StageOutcome {
        rows,
        best: (rep.best_val_qoe, state.clone()),
        state,
        val_optimum_qoe: Some(rep.val_optimum_qoe),
        wall_limited,
    })
}

/// An RL stage: the training environments over the split's training side, then the stage's
/// `trainer` with the pipeline's seed and what is left of its wall-time budget.
fn run_rl(
    kind: StageKind,
    ctx: &StageContext<'_>,
    state: TrainingCheckpoint,
    progress: &mut dyn FnMut(&CurvePoint),
    trainer: &impl RlTrainer,
) -> Result<StageOutcome, LearnError> {
    let spec = state.spec.clone();
    let (video, qoe) = (ctx.video, ctx.qoe);
    let rl = RlContext {
        env: RlEnvConfig {
            traces: ctx.train,
            video,
            sim: &ctx.cfg.train_sim,
            qoe,
            spec: &spec,
            reward_scale: 0.1 / qoe.utility(video.ladder.top()).abs().max(1e-9),
            random_start: true,
        },
        validator: ctx.validator,
    };
    let iter0 = state.progress.iteration;
    let trainer = trainer.for_run(ctx.cfg.seed, ctx.budget_left_s.max(1.0));
    let rep = trainer.train(&rl, state, progress)?;
    let ran = rep.last.progress.iteration - iter0;
    Ok(StageOutcome {
        rows: vec![StageResult {
            stage: Stage::Rl(kind),
            val_qoe: rep.best_val_qoe,
            improved: rep.best_val_qoe > rep.start_val_qoe,
            checkpoint: rep.best.clone(),
        }],
        best: (rep.best_val_qoe, rep.best),
        state: rep.last,
        val_optimum_qoe: None,
        wall_limited: ran < kind.planned_iterations(ctx.cfg) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_name_reads_back_as_itself() {
        let kinds = [
            StageKind::Imitation,
            StageKind::PolicyIteration,
            StageKind::Ppo,
            StageKind::A2c,
            StageKind::Dqn,
        ];
        for kind in kinds {
            assert_eq!(kind.name().parse::<StageKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        for stage in [Stage::Init, Stage::Imitation, Stage::Dagger]
            .into_iter()
            .chain(kinds[1..].iter().map(|&k| Stage::Rl(k)))
        {
            assert_eq!(Stage::from_name(stage.name()), Some(stage));
        }
        assert_eq!(Stage::from_name("sarsa"), None);
        assert!("sarsa".parse::<StageKind>().is_err());
        assert_eq!(
            "policy-iteration".parse::<StageKind>(),
            Ok(StageKind::PolicyIteration)
        );
    }
}
