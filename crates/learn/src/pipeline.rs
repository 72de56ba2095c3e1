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

use crate::a2c::A2cConfig;
use crate::checkpoint::{Progress, TrainingCheckpoint};
use crate::curve::CurvePoint;
use crate::dqn::DqnConfig;
use crate::error::{check, ConfigError, LearnError};
use crate::evaluate::session_qoes;
use crate::imitation::{check_hidden, split_traces, ImitationConfig};
use crate::policy_iteration::PolicyIterationConfig;
use crate::ppo::PpoConfig;
pub use crate::stage::StageKind;
use crate::stage::{Stage, StageContext};
use crate::validation::{ValMetric, Validator};
use neuralstream_core::{Trace, Video};
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::PolicyMeta;
use neuralstream_sim::{SimConfig, SimError};
use std::fmt::Write as _;
use std::time::Instant;

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

/// The default wall-time cap of a training run, seconds: a safety net, not a schedule. The default
/// recipe ends on its counts in about 165 s of training on an idle 2-core machine; on a 2-core
/// machine shared by several builds it took 550 s, and a quarter of its policy-iteration rounds
/// 967 s; an hour leaves room for several times that load before the cap could cut a stage
/// (imitation: 60 % of it) and change the policy. It was 560 s (imitation 336 s); a run that
/// reached neither trains bit for bit the same policy under either cap, since only counts end
/// its stages.
pub const DEFAULT_MAX_WALL_S: f64 = 3600.0;

impl Default for PipelineConfig {
    /// Imitation (20 behaviour-cloning epochs, then 10 DAgger rounds of 100 sessions x 8 relabelled
    /// states) then 40 rounds of approximate policy iteration ([`PolicyIterationConfig::default`]; PPO,
    /// A2C and DQN are selectable); a [`DEFAULT_MAX_WALL_S`] wall-time cap in all (imitation at
    /// most 60 % of it) that a 2-core machine does not come near, so stages end on their counts and a
    /// seed gives one result;
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
            max_wall_s: DEFAULT_MAX_WALL_S,
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

impl PipelineConfig {
    /// Checks every setting's range, the stages' own configs included (also those of stages not
    /// in [`PipelineConfig::stages`]); the error names the field by its path in this config
    /// (`val_fraction`, `ppo.lr`, `train_sim.delay_noise`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let v = self.val_fraction;
        check::ensure(v > 0.0 && v < 1.0, "val_fraction", "be between 0 and 1", v)?;
        let w = self.max_wall_s;
        check::ensure(w > 0.0, "max_wall_s", "be positive", w)?;
        let s = self.imitation_share;
        check::ensure(s > 0.0 && s <= 1.0, "imitation_share", "be in (0, 1]", s)?;
        let h = self.history_len;
        let max = FeatureSpec::MAX_HISTORY_LEN;
        let ok = (1..=max).contains(&h);
        check::ensure(
            ok,
            "history_len",
            &format!("be between 1 and {max} chunks"),
            h,
        )?;
        check_hidden("actor_hidden", &self.actor_hidden)?;
        self.train_sim.validate().map_err(|e| match e {
            SimError::InvalidConfig { field, problem } => {
                ConfigError::new(field, problem).within("train_sim")
            }
            other => ConfigError::new("train_sim", other.to_string()),
        })?;
        self.imitation
            .validate()
            .map_err(|e| e.within("imitation"))?;
        let pi = self.policy_iteration.validate();
        pi.map_err(|e| e.within("policy_iteration"))?;
        self.ppo.validate().map_err(|e| e.within("ppo"))?;
        self.a2c.validate().map_err(|e| e.within("a2c"))?;
        self.dqn.validate().map_err(|e| e.within("dqn"))
    }
}

/// The selected checkpoint after one stage and its validation QoE.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// Behaviour cloning alone ([`Stage::Imitation`]), [`Stage::Dagger`] or an RL stage.
    pub stage: Stage,
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
    cfg.validate()?;
    let qoe = cfg.qoe.compile(video)?;
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
        qoe: cfg.qoe.spec(),
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
                stage: Stage::Init,
                schedule: None,
                ladder_kbps: (0..video.num_levels())
                    .map(|l| video.ladder.kbps(l))
                    .collect(),
                progress: Progress::default(),
                curve: Vec::new(),
            }
        }
    };
    let resumed_wall = state.progress.wall_s;
    let elapsed_s = || resumed_wall + t0.elapsed().as_secs_f64();
    let mut stages = Vec::new();
    let mut val_optimum_qoe = None;
    let mut best: Option<(f64, TrainingCheckpoint)> = None;
    let mut wall_limited = false;
    for (i, stage) in cfg.stages.iter().enumerate() {
        let budget_left_s = cfg.max_wall_s - t0.elapsed().as_secs_f64();
        if budget_left_s <= 0.0 && i > 0 {
            wall_limited = true;
            break;
        }
        let ctx = StageContext {
            cfg,
            train: &train,
            val: &val,
            video,
            qoe: &qoe,
            validator: &validator,
            elapsed_s: &elapsed_s,
            budget_left_s,
        };
        let outcome = stage.run(&ctx, state, &mut progress)?;
        stages.extend(outcome.rows);
        val_optimum_qoe = outcome.val_optimum_qoe.or(val_optimum_qoe);
        wall_limited |= outcome.wall_limited;
        if best.as_ref().is_none_or(|b| outcome.best.0 > b.0) {
            best = Some(outcome.best);
        }
        state = outcome.state;
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

/// The report's outputs beside the two checkpoints: the test score of every stage's selected
/// checkpoint (reporting only, never selection) and `stages.csv`.
impl PipelineReport {
    /// Mean test QoE of every stage's selected checkpoint (greedy, Pensieve's simulator), in stage
    /// order. All or nothing: one stage that cannot be scored fails the whole.
    pub fn test_scores(
        &self,
        test: &[Trace],
        video: &Video,
        qoe: &neuralstream_core::QoeModel,
    ) -> Result<Vec<f64>, LearnError> {
        let compiled = qoe.compile(video)?;
        let sim = SimConfig::pensieve();
        self.stages
            .iter()
            .map(|s| {
                let policy = s.checkpoint.policy();
                let q = session_qoes(|| policy.clone(), test, video, &sim, &compiled, 1)?;
                Ok(q.iter().sum::<f64>() / q.len().max(1) as f64)
            })
            .collect()
    }

    /// `stages.csv`: `stage,val_qoe,test_qoe`, one row per stage (`test` from
    /// [`PipelineReport::test_scores`], or `None` for an empty column).
    pub fn stages_csv(&self, test: Option<&[f64]>) -> String {
        let mut csv = String::from("stage,val_qoe,test_qoe\n");
        for (i, s) in self.stages.iter().enumerate() {
            let t = test.and_then(|t| t.get(i));
            let t = t.map(|t| format!("{t:.4}")).unwrap_or_default();
            let _ = writeln!(csv, "{},{:.4},{t}", s.stage, s.val_qoe);
        }
        csv
    }

    /// Stamps provenance on the two checkpoints (`best`, `last`): the commit the trainer was built
    /// from, the traces' source, the stages run and the optimum's validation QoE.
    pub fn stamp(&mut self, git_commit: &str, traces: &str, stages: &[StageKind]) {
        let names: Vec<&str> = stages.iter().map(|s| s.name()).collect();
        for ck in [&mut self.best, &mut self.last] {
            ck.meta.git_commit = Some(git_commit.to_owned());
            ck.meta.extra.insert("traces".into(), traces.to_owned());
            ck.meta.extra.insert("stages".into(), names.join(","));
            if let Some(o) = self.val_optimum_qoe {
                let o = format!("{o:.6}");
                ck.meta.extra.insert("val_optimum_qoe".into(), o);
            }
        }
    }
}
