//! The training pipeline behind `neuralstream train`: stages run in order, each starting from the
//! previous stage's selected checkpoint, all selected on the same validation sessions. Stages end
//! on their epoch / iteration counts (reproducible); one wall-time budget caps the whole run as a
//! safety net, and [`PipelineReport::wall_limited`] says when it cut a stage short.
//!
//! Default recipe: imitation of the offline optimum with DAgger relabeling ([`crate::imitation`],
//! the Comyco/SABR warm start), then approximate policy iteration with all-action rollouts
//! ([`crate::policy_iteration`]) in the simulator's training mode. PPO fine-tuning ([`crate::ppo`]), A2C
//! ([`crate::a2c`], Pensieve's recipe) and DQN ([`crate::dqn`]) are selectable for comparison; on
//! Pensieve's traces PPO plateaus about 2 QoE points below the policy-iteration stage
//! (`docs/benchmarks.md`). With a resumed
//! checkpoint the imitation stage is skipped and the RL stage continues the checkpoint's curve.
//!
//! The split is by whole traces (seeded; [`split_traces`]); the validation sessions are windows of
//! the validation traces, averaged per trace by default ([`ValMetric`]: long starved traces would
//! otherwise dominate the score and select over-cautious checkpoints); test traces never enter here.

use crate::a2c::{train_a2c, A2cConfig};
use crate::checkpoint::{Progress, TrainingCheckpoint};
use crate::curve::CurvePoint;
use crate::dqn::{train_dqn, DqnConfig};
use crate::env::RlEnvConfig;
use crate::error::LearnError;
use crate::imitation::{split_traces, train_imitation_split, ImitationConfig};
use crate::policy_iteration::{train_policy_iteration, PolicyIterationConfig};
use crate::ppo::{train_ppo, PpoConfig};
use crate::rl::{RlContext, RlReport};
use crate::validation::{ValMetric, Validator};
use neuralstream_core::{Trace, Video};
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::PolicyMeta;
use neuralstream_sim::SimConfig;
use std::str::FromStr;
use std::time::Instant;

/// One stage of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    /// Behaviour cloning of the offline optimum, then DAgger rounds.
    Imitation,
    /// Approximate policy iteration with all-action rollouts ([`crate::policy_iteration`]);
    /// named `api` in flags, curves and checkpoints.
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

/// Everything [`train_pipeline`] needs.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Seed of everything (split, initialisation, environments, minibatches).
    pub seed: u64,
    /// Stages in order (default: imitation, then approximate policy iteration).
    pub stages: Vec<StageKind>,
    /// Imitation settings (its `seed`, `val_fraction`, `window_s`, `val_hop_s`, `qoe`, `sim`,
    /// `skip_chunks` are overwritten from this config so every stage shares one split).
    pub imitation: ImitationConfig,
    /// Approximate-policy-iteration settings.
    pub policy_iteration: PolicyIterationConfig,
    /// PPO settings.
    pub ppo: PpoConfig,
    /// A2C settings.
    pub a2c: A2cConfig,
    /// DQN settings.
    pub dqn: DqnConfig,
    /// Wall-time budget for all stages together, seconds.
    pub max_wall_s: f64,
    /// Share of the budget the imitation stage may use when RL stages follow it.
    pub imitation_share: f64,
    /// Fraction of the training traces held out for validation.
    pub val_fraction: f64,
    /// Validation window length, seconds.
    pub val_window_s: f64,
    /// Distance between validation window starts, seconds.
    pub val_hop_s: f64,
    /// How validation session QoEs are combined for selection (default: per trace).
    pub val_metric: ValMetric,
    /// Simulator of the RL environments (training mode: delay noise); validation always runs the
    /// same simulator without noise.
    pub train_sim: SimConfig,
    /// QoE model.
    pub qoe: neuralstream_core::QoeModel,
    /// Chunks not scored at the start of a session (Pensieve: 1).
    pub skip_chunks: usize,
    /// Hidden widths of an actor made from scratch (RL without imitation).
    pub actor_hidden: Vec<usize>,
    /// Past chunks the features of a new policy describe ([`FeatureSpec::history_len`]).
    pub history_len: usize,
}

impl Default for PipelineConfig {
    /// Imitation (20 behaviour-cloning epochs, then 10 DAgger rounds of 100 sessions x 8 relabelled
    /// states) then 40 rounds of approximate policy iteration ([`PolicyIterationConfig::default`]; PPO,
    /// A2C and DQN are selectable); 560 s wall-time cap in all (imitation at most 60 %) that
    /// a 2-core machine does not reach, so stages end on their counts and a seed gives one result;
    /// 15 % validation split, 320 s validation windows every 80 s averaged per trace
    /// ([`ValMetric::PerTrace`]), Pensieve's training-mode
    /// simulator, QoE_lin.
    fn default() -> Self {
        PipelineConfig {
            seed: 1,
            stages: vec![StageKind::Imitation, StageKind::PolicyIteration],
            imitation: ImitationConfig {
                dagger_rounds: 10,
                dagger_sessions_per_round: 100,
                dagger_states_per_session: 8,
                ..ImitationConfig::default()
            },
            policy_iteration: PolicyIterationConfig::default(),
            ppo: PpoConfig::default(),
            a2c: A2cConfig::default(),
            dqn: DqnConfig::default(),
            max_wall_s: 560.0,
            imitation_share: 0.6,
            val_fraction: 0.15,
            val_window_s: 320.0,
            val_hop_s: 80.0,
            val_metric: ValMetric::default(),
            train_sim: SimConfig::pensieve_training(),
            qoe: neuralstream_core::QoeModel::lin(),
            skip_chunks: 1,
            actor_hidden: vec![128, 128],
            history_len: FeatureSpec::new(1).history_len,
        }
    }
}

/// The selected checkpoint after one stage and its validation QoE.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// `imitation` (behaviour cloning alone), `dagger`, `api`, `ppo`, `a2c` or `dqn`.
    pub stage: String,
    /// Validation QoE of the stage's selected checkpoint: its best iterate, or the network it
    /// started from when no iterate validated better (the stage then contributed nothing, and the
    /// row equals the previous one).
    pub val_qoe: f64,
    /// False when no iterate of the stage validated better than the network it started from.
    pub improved: bool,
    /// That checkpoint.
    pub checkpoint: TrainingCheckpoint,
}

/// What [`train_pipeline`] returns.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    /// The checkpoint with the best validation QoE over all stages.
    pub best: TrainingCheckpoint,
    /// Validation QoE of `best`.
    pub best_val_qoe: f64,
    /// The state at the end of the last stage (for `--resume`).
    pub last: TrainingCheckpoint,
    /// The selected checkpoint after every stage, in order.
    pub stages: Vec<StageResult>,
    /// Mean optimum QoE on the validation sessions (when the imitation stage ran).
    pub val_optimum_qoe: Option<f64>,
    /// Training traces and validation sessions used.
    pub split: (usize, usize),
    /// True when a stage stopped on the wall-time budget rather than on its epoch / iteration
    /// count: the result then depends on the machine's speed and load (not reproducible).
    pub wall_limited: bool,
}

/// Runs the stages of `cfg` on `traces` (training traces only), starting from `resume` when given.
/// `progress` is called at every validation of every stage.
pub fn train_pipeline(
    traces: &[Trace],
    video: &Video,
    cfg: &PipelineConfig,
    resume: Option<TrainingCheckpoint>,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<PipelineReport, LearnError> {
    let t0 = Instant::now();
    let qoe = cfg.qoe.compile(video)?;
    cfg.train_sim
        .validate()
        .map_err(|e| LearnError::Invalid(format!("training {e}")))?;
    let (train, val) = split_traces(traces, cfg.val_fraction, cfg.seed);
    let spec = match &resume {
        Some(ck) => ck.spec.clone(),
        None => FeatureSpec {
            history_len: cfg.history_len,
            ..FeatureSpec::new(video.num_levels())
        },
    };
    // What `LearnedAbr::load` will check, checked before minutes of training are spent.
    spec.validate()
        .map_err(|e| LearnError::Invalid(format!("the policy's features: {e}")))?;
    if spec.num_levels != video.num_levels() {
        return Err(LearnError::Empty(format!(
            "the resumed policy has {} levels but video '{}' has {}",
            spec.num_levels,
            video.name,
            video.num_levels()
        )));
    }
    let validator = Validator::new(
        &val,
        cfg.val_window_s,
        cfg.val_hop_s,
        video,
        &cfg.train_sim,
        &qoe,
        &spec,
        cfg.skip_chunks,
    )
    .with_metric(cfg.val_metric);
    if train.is_empty() || validator.sessions.is_empty() {
        return Err(LearnError::Empty(format!(
            "need training and validation traces, got {} and {} (from {} traces): give at least 2 \
             traces and a validation fraction that holds out at least one but not all",
            train.len(),
            val.len(),
            traces.len()
        )));
    }
    let meta = PolicyMeta {
        qoe: cfg.qoe.name().to_owned(),
        seed: Some(cfg.seed),
        ..PolicyMeta::default()
    };
    let mut state = match resume {
        Some(mut ck) => {
            // The checkpoint now describes this run: its QoE and seed. Scores of the run that
            // wrote it (in its own QoE's units) no longer do.
            ck.meta.qoe.clone_from(&meta.qoe);
            ck.meta.seed = meta.seed;
            for stale in ["val_qoe", "val_optimum_qoe"] {
                ck.meta.extra.remove(stale);
            }
            ck
        }
        None => {
            let mut sizes = vec![spec.len()];
            sizes.extend(&cfg.actor_hidden);
            sizes.push(spec.num_levels);
            TrainingCheckpoint {
                actor: Mlp::new(&sizes, Activation::Relu, cfg.seed),
                critic: None,
                target: None,
                adam: None,
                spec: spec.clone(),
                meta,
                stage: "init".into(),
                ladder_kbps: (0..video.num_levels())
                    .map(|l| video.ladder.kbps(l))
                    .collect(),
                progress: Progress::default(),
                curve: Vec::new(),
            }
        }
    };
    let resumed_wall = state.progress.wall_s;
    let elapsed = || resumed_wall + t0.elapsed().as_secs_f64();
    let has_rl = cfg.stages.iter().any(|s| *s != StageKind::Imitation);
    let mut stages = Vec::new();
    let mut val_optimum_qoe = None;
    let mut best: Option<(f64, TrainingCheckpoint)> = None;
    let mut wall_limited = false;
    for (i, stage) in cfg.stages.iter().enumerate() {
        let budget_left = cfg.max_wall_s - t0.elapsed().as_secs_f64();
        if budget_left <= 0.0 && i > 0 {
            wall_limited = true;
            break;
        }
        match stage {
            StageKind::Imitation => {
                let share = if has_rl { cfg.imitation_share } else { 1.0 };
                let icfg = ImitationConfig {
                    seed: cfg.seed,
                    val_fraction: cfg.val_fraction,
                    window_s: cfg.val_window_s,
                    val_hop_s: cfg.val_hop_s,
                    qoe: cfg.qoe.clone(),
                    skip_chunks: cfg.skip_chunks,
                    val_metric: cfg.val_metric,
                    history_len: spec.history_len,
                    max_wall_s: cfg.imitation.max_wall_s.min(cfg.max_wall_s * share),
                    ..cfg.imitation.clone()
                };
                let wall0 = elapsed();
                let samples0 = state.progress.samples;
                let it0 = state.progress.iteration;
                let rep = train_imitation_split(&train, &val, video, &icfg, |e| {
                    let p = CurvePoint {
                        stage: if e.round == 0 { "imitation" } else { "dagger" }.into(),
                        iteration: it0 + e.epoch as u64,
                        samples: samples0 + e.samples as u64,
                        wall_s: wall0 + e.wall_s,
                        val_qoe: e.val_qoe,
                        train_qoe: f64::NAN,
                        loss: e.loss,
                        aux: e.accuracy,
                    };
                    progress(&p);
                })?;
                for e in &rep.history {
                    state.curve.push(CurvePoint {
                        stage: if e.round == 0 { "imitation" } else { "dagger" }.into(),
                        iteration: it0 + e.epoch as u64,
                        samples: samples0 + e.samples as u64,
                        wall_s: wall0 + e.wall_s,
                        val_qoe: e.val_qoe,
                        train_qoe: f64::NAN,
                        loss: e.loss,
                        aux: e.accuracy,
                    });
                }
                val_optimum_qoe = Some(rep.val_optimum_qoe);
                let planned = icfg.epochs + icfg.dagger_rounds * icfg.dagger_epochs;
                wall_limited |= rep.history.len() < planned + 1;
                state.progress.iteration = it0 + rep.history.len() as u64;
                state.progress.samples = samples0 + rep.samples as u64;
                state.progress.wall_s = elapsed();
                state.critic = None;
                state.adam = None;
                state.target = None;
                let mut bc = state.clone();
                bc.actor = rep.bc_policy.actor().clone();
                bc.stage = "imitation".into();
                bc.meta = rep.bc_policy.meta().clone();
                stages.push(StageResult {
                    stage: "imitation".into(),
                    val_qoe: rep.bc_val_qoe,
                    // history[0] scores the untrained network.
                    improved: rep
                        .history
                        .first()
                        .is_none_or(|h| rep.bc_val_qoe > h.val_qoe),
                    checkpoint: bc,
                });
                state.actor = rep.policy.actor().clone();
                state.meta = rep.policy.meta().clone();
                // A DAgger row only when a DAgger round ran (the budget may end imitation first).
                let dagger_ran = rep.history.iter().any(|e| e.round > 0);
                state.stage = if dagger_ran { "dagger" } else { "imitation" }.into();
                if dagger_ran {
                    stages.push(StageResult {
                        stage: "dagger".into(),
                        val_qoe: rep.best_val_qoe,
                        improved: rep.best_val_qoe > rep.bc_val_qoe,
                        checkpoint: state.clone(),
                    });
                }
                if best.as_ref().is_none_or(|b| rep.best_val_qoe > b.0) {
                    best = Some((rep.best_val_qoe, state.clone()));
                }
            }
            rl => {
                let spec_owned = state.spec.clone();
                let env = RlEnvConfig {
                    traces: &train,
                    video,
                    sim: &cfg.train_sim,
                    qoe: &qoe,
                    spec: &spec_owned,
                    reward_scale: 0.1 / qoe.utility(video.ladder.top()).abs().max(1e-9),
                    random_start: true,
                };
                let ctx = RlContext {
                    env,
                    validator: &validator,
                };
                let budget = budget_left.max(1.0);
                let start = state.clone();
                let iter0 = start.progress.iteration;
                let rep: RlReport = match rl {
                    StageKind::PolicyIteration => train_policy_iteration(
                        &ctx,
                        start,
                        &PolicyIterationConfig {
                            seed: cfg.seed,
                            max_wall_s: cfg.policy_iteration.max_wall_s.min(budget),
                            ..cfg.policy_iteration.clone()
                        },
                        &mut progress,
                    )?,
                    StageKind::Ppo => train_ppo(
                        &ctx,
                        start,
                        &PpoConfig {
                            seed: cfg.seed,
                            max_wall_s: cfg.ppo.max_wall_s.min(budget),
                            ..cfg.ppo.clone()
                        },
                        &mut progress,
                    )?,
                    StageKind::A2c => train_a2c(
                        &ctx,
                        start,
                        &A2cConfig {
                            seed: cfg.seed,
                            max_wall_s: cfg.a2c.max_wall_s.min(budget),
                            ..cfg.a2c.clone()
                        },
                        &mut progress,
                    )?,
                    _ => train_dqn(
                        &ctx,
                        start,
                        &DqnConfig {
                            seed: cfg.seed,
                            max_wall_s: cfg.dqn.max_wall_s.min(budget),
                            ..cfg.dqn.clone()
                        },
                        &mut progress,
                    )?,
                };
                let max_iters = match rl {
                    StageKind::PolicyIteration => cfg.policy_iteration.iterations,
                    StageKind::Ppo => cfg.ppo.max_iters,
                    StageKind::A2c => cfg.a2c.max_iters,
                    _ => cfg.dqn.max_iters,
                };
                wall_limited |= rep.last.progress.iteration - iter0 < max_iters as u64;
                stages.push(StageResult {
                    stage: rl.name().into(),
                    val_qoe: rep.best_val_qoe,
                    improved: rep.best_val_qoe > rep.start_val_qoe,
                    checkpoint: rep.best.clone(),
                });
                if best.as_ref().is_none_or(|b| rep.best_val_qoe > b.0) {
                    best = Some((rep.best_val_qoe, rep.best.clone()));
                }
                state = rep.last;
            }
        }
    }
    let (best_val_qoe, mut best) = match best {
        Some(b) => b,
        None => {
            let v = validator.score(&state.actor)?;
            (v, state.clone())
        }
    };
    // The selected checkpoint carries the whole curve and the final counters.
    best.curve = state.curve.clone();
    best.progress = state.progress;
    best.meta
        .extra
        .insert("val_qoe".into(), format!("{best_val_qoe:.6}"));
    Ok(PipelineReport {
        best,
        best_val_qoe,
        last: state,
        stages,
        val_optimum_qoe,
        split: (train.len(), validator.sessions.len()),
        wall_limited,
    })
}
