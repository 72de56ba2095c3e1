//! `neuralstream train`: the training pipeline (imitation of the offline optimum with DAgger, then
//! approximate policy iteration by default; PPO, A2C and DQN selectable), with a live validation score, safetensors
//! checkpoints, a training curve (CSV, PNG, SVG) and a stage-contribution chart.

use crate::inputs;
use crate::progress::Progress;
use anyhow::{Context, Result};
use clap::Args;
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::load_traces;
use neuralstream_learn::pipeline::DEFAULT_MAX_WALL_S;
use neuralstream_learn::pipeline::{train_pipeline, PipelineConfig, PipelineReport, StageKind};
use neuralstream_learn::{
    algorithm_stages, curve_csv, parse_stages, ConfigError, TrainingCheckpoint, ValMetric,
};
use neuralstream_report::{stage_chart, training_curve_chart, Reference, StageBar, TrainingPoint};
use std::path::{Path, PathBuf};

/// Default `--hidden`: two hidden layers of 128.
const DEFAULT_HIDDEN: &str = "128,128";
/// Default `--history`: Pensieve's 8 chunks.
const DEFAULT_HISTORY: usize = 8;

/// Arguments of `neuralstream train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Training traces, video and the QoE model to optimise.
    #[command(flatten)]
    pub inputs: inputs::InputArgs,
    /// Number of synthetic traces when --traces is not given.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub synthetic_traces: usize,
    /// Seed (trace split, initialisation, environments, minibatch order); same seed, same policy.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Algorithm: `policy-iteration` (alias `api`: imitation, then approximate policy iteration
    /// with all-action rollouts: the default recipe), `ppo` (imitation, then PPO fine-tuning), `imitation` (imitation with
    /// DAgger only), `a2c` (Pensieve's actor-critic from scratch) or `dqn` (from scratch).
    #[arg(long, default_value = "policy-iteration", value_name = "ALGO")]
    pub algo: String,
    /// Explicit comma-separated stages, overriding --algo, e.g. `imitation,ppo` or `imitation,a2c`.
    #[arg(long, value_name = "LIST")]
    pub stages: Option<String>,
    /// Wall-time cap of all stages together, seconds (default 3600: a safety net far above the
    /// default recipe's 3 minutes on 2 idle cores, 9 to 16 on loaded ones, so a slow or loaded
    /// machine still trains the same policy). The stages end on their epoch/iteration counts before it; a run it cuts short
    /// prints a warning and is not reproducible. The imitation stage's own cap is this times
    /// --imitation-share when an RL stage follows. Stages check it
    /// between epochs and iterations, and the imitation stage's first step (solving the optimum on
    /// every training trace: about 50 s for Pensieve's 127 traces on 2 cores) is never cut.
    #[arg(long, default_value_t = DEFAULT_MAX_WALL_S, value_name = "S")]
    pub max_wall_s: f64,
    /// Share of the budget the imitation stage may use when an RL stage follows.
    #[arg(long, default_value_t = 0.6, value_name = "FRACTION")]
    pub imitation_share: f64,
    /// Behaviour-cloning epochs before the DAgger rounds (default: the trainer's, 20).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// DAgger rounds: the learner plays, the optimum relabels the states it visits (default 10).
    #[arg(long, value_name = "N")]
    pub dagger_rounds: Option<usize>,
    /// Learner sessions rolled out per DAgger round (default 100).
    #[arg(long, value_name = "N")]
    pub dagger_sessions: Option<usize>,
    /// Visited states relabelled by the optimum per rolled-out session (default 8).
    #[arg(long, value_name = "N")]
    pub dagger_states: Option<usize>,
    /// PPO iterations (each: every environment plays a batch of decisions, then a few epochs of
    /// updates; default 10000). Stages stop on their counts, so a run is reproducible unless it
    /// hits --max-wall-s.
    #[arg(long, value_name = "N")]
    pub ppo_iters: Option<usize>,
    /// Multiplicative delay noise of the training environments: every download time is scaled by
    /// U(1 - F, 1 + F) (Pensieve's training mode: 0.1; 0 turns it off). Validation never has noise.
    #[arg(long, default_value_t = 0.1, value_name = "F")]
    pub delay_noise: f64,
    /// Hidden layer widths of a new policy network, comma-separated [default: 128,128; with
    /// --agnostic 64,64]. With --resume the checkpoint's network is kept.
    #[arg(long, value_name = "LIST")]
    pub hidden: Option<String>,
    /// Past chunks whose throughput and download time the policy sees (Pensieve: 8) [default: 8].
    /// With --resume the checkpoint's is kept.
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Policy-iteration rounds of the `api` stage (each: roll the policy in, roll every level out
    /// from sampled decisions, regress the advantages).
    #[arg(long, value_name = "N")]
    pub api_iters: Option<usize>,
    /// Training sessions rolled in per `api` iteration.
    #[arg(long, value_name = "N")]
    pub api_sessions: Option<usize>,
    /// Decisions per session whose levels are all rolled out in the `api` stage.
    #[arg(long, value_name = "N")]
    pub api_states: Option<usize>,
    /// Regression epochs per `api` iteration.
    #[arg(long, value_name = "N")]
    pub api_epochs: Option<usize>,
    /// Iterations whose rolled-out data the `api` stage keeps for regression.
    #[arg(long, value_name = "N")]
    pub api_keep: Option<usize>,
    /// Probability of a random level while the `api` stage rolls the policy in.
    #[arg(long, value_name = "P")]
    pub api_explore: Option<f64>,
    /// Per-step decay of the `api` stage's moving average of the actor weights (0: off).
    #[arg(long, value_name = "DECAY")]
    pub api_ema: Option<f32>,
    /// Advantages below minus this many QoE points are clipped in the `api` regression: a level
    /// that much worse than the best is simply bad, and the fit spends itself near the decision.
    #[arg(long, value_name = "QOE")]
    pub api_clip: Option<f32>,
    /// Trace augmentation of the `api` stage: each rolled-in session's throughput is scaled by a
    /// factor drawn log-uniformly from [1/F, F] (1: off).
    #[arg(long, value_name = "F")]
    pub api_augment: Option<f64>,
    /// Learning rate of the `api` regression.
    #[arg(long, value_name = "LR")]
    pub api_lr: Option<f32>,
    /// A2C / DQN updates (with --algo a2c / dqn or in --stages).
    #[arg(long, value_name = "N")]
    pub rl_iters: Option<usize>,
    /// PPO learning rate (default 1e-4, a fine-tuning rate).
    #[arg(long, value_name = "LR")]
    pub ppo_lr: Option<f32>,
    /// PPO learning rate at the last iteration as a fraction of --ppo-lr (linear decay over this
    /// run's --ppo-iters, so a --resume run decays anew from --ppo-lr; 1: constant).
    #[arg(long, value_name = "FRACTION")]
    pub ppo_lr_final: Option<f32>,
    /// PPO parallel environments.
    #[arg(long, value_name = "N")]
    pub ppo_envs: Option<usize>,
    /// PPO decisions per environment per iteration.
    #[arg(long, value_name = "N")]
    pub ppo_steps: Option<usize>,
    /// PPO minibatch size.
    #[arg(long, value_name = "N")]
    pub ppo_minibatch: Option<usize>,
    /// PPO passes over each batch.
    #[arg(long, value_name = "N")]
    pub ppo_epochs: Option<usize>,
    /// PPO entropy bonus weight.
    #[arg(long, value_name = "W")]
    pub ppo_entropy: Option<f32>,
    /// PPO early stop of an iteration's epochs once the approximate KL exceeds this.
    #[arg(long, value_name = "KL")]
    pub ppo_target_kl: Option<f32>,
    /// Validate every this many PPO iterations.
    #[arg(long, value_name = "N")]
    pub ppo_validate_every: Option<usize>,
    /// How validation sessions are averaged for checkpoint selection: `per-trace` (every
    /// validation trace counts once; default), `sessions` (every window counts once, so long
    /// traces weigh more) or `from-start` (only each trace's first window).
    #[arg(long, default_value = "per-trace", value_name = "METRIC")]
    pub val_metric: String,
    /// Fraction of the training traces held out for checkpoint selection.
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    pub val_fraction: f64,
    /// Continue training from a checkpoint written by `train` (its last.safetensors keeps the
    /// optimiser state): the imitation stage is skipped and the curve continues.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Test traces to score each stage's selected checkpoint on, for the stage chart only (never
    /// used for selection).
    #[arg(long, value_name = "PATH")]
    pub test_traces: Option<PathBuf>,
    /// Train the ladder-agnostic policy (one network for ladders of 2 to 16 levels) over a
    /// distribution of trace sets and videos (--agnostic-traces, --agnostic-videos; by default
    /// Pensieve's train traces, the ucc5g and nyumets train splits of ../shared/data, 0.1-100
    /// Mbit/s synthetic traces, and Pensieve's video with synthetic ladders of 3 to 12 levels), by
    /// the recipe --agnostic-recipe names: by default eleven teachers distilled into one network;
    /// each training imitates the optimum, then runs policy iteration (--api-* flags) with a
    /// curriculum. --traces and --video are not used.
    #[arg(long)]
    pub agnostic: bool,
    /// With --agnostic: comma-separated trace sets `NAME=PATH` (folders) or `NAME=synthetic-wide`.
    #[arg(long, value_name = "LIST", requires = "agnostic")]
    pub agnostic_traces: Option<String>,
    /// With --agnostic: comma-separated videos `NAME=PATH` (as --video), `builtin`, or a training
    /// ladder: h264-5, vbr-3, vbr-8, vbr-9, vbr-12, top-40.
    #[arg(long, value_name = "LIST", requires = "agnostic")]
    pub agnostic_videos: Option<String>,
    /// With --agnostic: train nothing; measure this ladder-agnostic policy file on the validation
    /// split the same flags would train with (its selection score, and its regret and margins to
    /// the bar per group, written to --out/validation_groups.csv), to compare policies on equal
    /// terms. `A+B+C` measures the ensemble of those files (mean per-level probability).
    #[arg(long, value_name = "POLICY", requires = "agnostic")]
    pub agnostic_validate: Option<PathBuf>,
    /// With --agnostic: how the policy is made. `distil` (the default): issue 17's recipe
    /// (docs/benchmarks.md, the sixth pass): ten ladder-agnostic teachers (two seeds, and three
    /// with 200 extra Pensieve windows, each in feature layouts 2 and 3) and the fixed-ladder policy
    /// of Pensieve's training traces, trained two at a time and sharing one optimum cache, then one
    /// 2 x 128 network (--hidden) distilled from them; 13 to 15 minutes on 2 cores (Pensieve test
    /// 47.21, 11 of 16 grid cells at seed 1); --out/recipe.csv lists each step's flags, time and
    /// score, and --out/recipe/ keeps each teacher. It needs Pensieve's training traces; the other
    /// training flags (--epochs, --api-*, --qoe, ...) apply to every step. `single`: one network
    /// (--hidden, default 64,64) by imitation of the optimum then policy iteration, about 2 minutes
    /// (Pensieve test 45.14, 9 of 16 cells). A flag of one training (--agnostic-select,
    /// --agnostic-split-seed, --agnostic-pensieve-windows, --agnostic-pensieve-weight,
    /// --agnostic-rule-hints, --agnostic-teacher, --agnostic-validate, --agnostic-split-only), or
    /// no Pensieve traces, means `single` unless `distil` is given.
    #[arg(long, value_name = "RECIPE", value_parser = ["distil", "single"], requires = "agnostic")]
    pub agnostic_recipe: Option<String>,
    /// With --agnostic: what selects the policy on validation and steers the curriculum.
    /// `regret` (default of one training): the mean normalised regret to the offline optimum per
    /// (trace set, video) group, the curriculum by each session's gap to its best rule (Pensieve
    /// test 45.14, 9 of 16 grid cells at seed 1). `bar` (opt-in): the margin to issue 17's bar per group,
    /// worst groups first, on 24 validation windows per set, the curriculum by the group's best
    /// rule plus a tail term (better on validation, worse on the test grid: Pensieve test 36.18 at seed 1;
    /// see docs/benchmarks.md).
    /// `grid` (opt-in): the mean margin to each group's best rule plus half its p10 shortfall to
    /// RobustMPC, on windows from every validation trace and a validation-only fast set (20-100
    /// Mbit/s, seed 4242), on Pensieve's video plus three validation-only ladders of the grid's
    /// kinds (10 levels; 6 levels to 30 Mbit/s; 5 levels of 4 s chunks), no optimum on
    /// validation, the best of 4 averaged checkpoints (its validation-chosen policy: 10 of 16 grid
    /// cells, Pensieve test 44.62; see docs/benchmarks.md, the fourth pass).
    /// A flag of one training: given, `train --agnostic` trains one policy (--agnostic-recipe
    /// single) unless --agnostic-recipe distil is given, whose trainings all select by `grid`.
    /// [default: regret]
    #[arg(long, value_name = "MODE", value_parser = ["regret", "bar", "grid"], requires = "agnostic")]
    pub agnostic_select: Option<String>,
    /// With --agnostic: the trace set named `pensieve` gets up to N training windows (the others
    /// 100), each paired with the first video (Pensieve's by default) and one drawn at random
    /// (0: as every set, both videos drawn at random).
    #[arg(long, default_value_t = 0, value_name = "N", requires = "agnostic")]
    pub agnostic_pensieve_windows: usize,
    /// With --agnostic: policy-iteration checkpoints averaged (the last K and the best K compete
    /// with the best checkpoint on validation; 0: off). Default: 4 with --agnostic-select grid,
    /// else 0.
    #[arg(long, value_name = "K", requires = "agnostic")]
    pub agnostic_average: Option<usize>,
    /// With --agnostic: seed of the train/validation split, of the training windows and of the
    /// synthetic-wide traces (default: --seed), so runs of several --seed values can be compared
    /// on one validation split.
    #[arg(long, value_name = "SEED", requires = "agnostic")]
    pub agnostic_split_seed: Option<u64>,
    /// With --agnostic-select grid: the extra weight of the Pensieve traces x first video
    /// validation group in the score (0: every group alike; the bar holds Pensieve's test cell to
    /// 47.0 besides the rules).
    #[arg(long, default_value_t = 0.0, value_name = "W", requires = "agnostic")]
    pub agnostic_pensieve_weight: f64,
    /// With --agnostic: distil this policy instead of imitating the optimum (policy distillation
    /// with DAgger rounds: the teacher's own sessions first, then the student plays every training
    /// environment and the teacher labels each state it reaches; no optimum is solved). A
    /// ladder-agnostic file or an ensemble `A+B+C` (one network of --hidden widths that decides
    /// as the ensemble does, at one network's cost). Selection on validation as usual.
    #[arg(long, value_name = "POLICY", requires = "agnostic")]
    pub agnostic_teacher: Option<PathBuf>,
    /// With --agnostic: write --out/split.csv (which traces of every set are trained on and which
    /// are held out for validation with these flags) and stop, training nothing; e.g. to train a
    /// teacher on the same training traces only.
    #[arg(long, requires = "agnostic")]
    pub agnostic_split_only: bool,
    /// With --agnostic-teacher: a second teacher for the trace set named `pensieve` on the first
    /// video (Pensieve's by default), e.g. the fixed-ladder policy plain `neuralstream train`
    /// makes, which plays only that ladder and is the best on Pensieve's traces.
    #[arg(long, value_name = "POLICY", requires = "agnostic_teacher")]
    pub agnostic_home_teacher: Option<PathBuf>,
    /// With --agnostic-teacher: the bar's rules (bba0, bola-e, dynamic, robustmpc) teach the
    /// training environments on which one of them scores a higher QoE than the teacher (the best
    /// of them there), so the student imitates the best causal player of each environment.
    #[arg(long, requires = "agnostic_teacher")]
    pub agnostic_teacher_rules: bool,
    /// With --agnostic: feature layout 3, which adds to every level's inputs what RobustMPC and
    /// BBA-0 would fetch now, so the network learns when to follow a strong rule and when to
    /// leave it (about 2 us more a decision; the file says its layout).
    #[arg(long, requires = "agnostic")]
    pub agnostic_rule_hints: bool,
    /// With --agnostic: keep the offline optimum of every training environment in this folder
    /// (created if missing) and reuse it: runs on the same split (seeds, layouts, teachers of a
    /// recipe) then solve each plan once. Entries are keyed by the problem's content, so the
    /// policy is the same with or without the cache; a damaged entry is an error naming the file.
    #[arg(long, value_name = "DIR", requires = "agnostic")]
    pub agnostic_optimum_cache: Option<PathBuf>,
    /// With --agnostic-teacher: train on the teachers' probabilities of every level (soft
    /// targets; an ensemble's mean probability, a policy's softmax) instead of their chosen level.
    #[arg(long, requires = "agnostic_teacher")]
    pub agnostic_distil_soft: bool,
    /// With --agnostic-teacher: DAgger rounds after the teacher's own sessions.
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        requires = "agnostic_teacher"
    )]
    pub agnostic_distil_rounds: usize,
    /// With --agnostic-teacher: epochs over the aggregated data after each DAgger round (the
    /// first stage, on the teacher's own sessions, takes --epochs, default 12).
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        requires = "agnostic_teacher"
    )]
    pub agnostic_distil_epochs: usize,
    /// With --agnostic-select bar: weight of a session's shortfall below its group's RobustMPC
    /// p10 in the curriculum's draw (0: only the shortfall to the group's best rule counts).
    #[arg(long, default_value_t = 1.0, value_name = "W", requires = "agnostic")]
    pub agnostic_tail_weight: f64,
    /// Output folder: policy.safetensors (selected), last.safetensors (to resume),
    /// training_curve.{csv,png,svg}, stages.{csv,png,svg}.
    #[arg(long, default_value = "out/train", value_name = "DIR")]
    pub out: PathBuf,
}

/// The commit this binary was built from (`build.rs`), or "unknown" outside a git checkout.
fn git_commit() -> String {
    env!("NEURALSTREAM_GIT_COMMIT").to_owned()
}

/// The flag that sets each field of [`PipelineConfig`] a [`ConfigError`] may name.
const FLAG_OF_FIELD: &[(&str, &str)] = &[
    ("val_fraction", "--val-fraction"),
    ("max_wall_s", "--max-wall-s"),
    ("imitation_share", "--imitation-share"),
    ("history_len", "--history"),
    ("actor_hidden", "--hidden"),
    ("imitation.hidden", "--hidden"),
    ("imitation.epochs", "--epochs"),
    (
        "train_sim.delay_noise",
        "--delay-noise (downloads take U(1 - F, 1 + F) times as long)",
    ),
    ("policy_iteration.iterations", "--api-iters"),
    ("policy_iteration.sessions_per_iter", "--api-sessions"),
    ("policy_iteration.states_per_session", "--api-states"),
    ("policy_iteration.epochs", "--api-epochs"),
    ("policy_iteration.keep_iters", "--api-keep"),
    ("policy_iteration.explore_eps", "--api-explore"),
    ("policy_iteration.ema_decay", "--api-ema"),
    ("policy_iteration.clip", "--api-clip"),
    ("policy_iteration.augment_scale", "--api-augment"),
    ("policy_iteration.lr", "--api-lr"),
    ("ppo.max_iters", "--ppo-iters"),
    ("ppo.lr", "--ppo-lr"),
    ("ppo.lr_final_fraction", "--ppo-lr-final"),
    ("ppo.n_envs", "--ppo-envs"),
    ("ppo.steps_per_env", "--ppo-steps"),
    ("ppo.minibatch", "--ppo-minibatch"),
    ("ppo.epochs", "--ppo-epochs"),
    ("ppo.entropy_coef", "--ppo-entropy"),
    ("ppo.target_kl", "--ppo-target-kl"),
    ("ppo.validate_every", "--ppo-validate-every"),
    ("a2c.max_iters", "--rl-iters"),
    ("dqn.max_iters", "--rl-iters"),
];

/// A config error in the words of the command line: the flag that sets the field.
fn flag_error(e: ConfigError) -> anyhow::Error {
    match FLAG_OF_FIELD.iter().find(|(field, _)| *field == e.field) {
        Some((_, flag)) => anyhow::anyhow!("{flag} {}", e.problem),
        None => anyhow::anyhow!("the training setting {e}"),
    }
}

/// Sets `target` to the flag's value when the flag was given.
fn set<T>(target: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *target = v;
    }
}

/// `--hidden`'s comma-separated positive widths.
pub(crate) fn parse_hidden(arg: &str) -> Result<Vec<usize>> {
    arg.split(',')
        .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
        .collect::<Option<_>>()
        .with_context(|| {
            format!("--hidden {arg}: expected comma-separated positive widths such as 128,128")
        })
}

/// The pipeline's settings from the flags, validated (the error names the flag).
fn config(args: &TrainArgs, qoe: &QoeModel, stages: &[StageKind]) -> Result<PipelineConfig> {
    let hidden = parse_hidden(args.hidden.as_deref().unwrap_or(DEFAULT_HIDDEN))?;
    let val_metric = args
        .val_metric
        .parse::<ValMetric>()
        .map_err(anyhow::Error::msg);
    let mut cfg = PipelineConfig {
        seed: args.seed,
        stages: stages.to_vec(),
        max_wall_s: args.max_wall_s,
        imitation_share: args.imitation_share,
        val_fraction: args.val_fraction,
        qoe: qoe.clone(),
        val_metric: val_metric.context("in --val-metric")?,
        history_len: args.history.unwrap_or(DEFAULT_HISTORY),
        actor_hidden: hidden.clone(),
        ..PipelineConfig::default()
    };
    cfg.imitation.hidden = hidden;
    let noise = args.delay_noise;
    cfg.train_sim.delay_noise = (noise != 0.0).then_some((1.0 - noise, 1.0 + noise));
    let (im, pi, ppo) = (&mut cfg.imitation, &mut cfg.policy_iteration, &mut cfg.ppo);
    set(&mut im.epochs, args.epochs);
    set(&mut im.dagger_rounds, args.dagger_rounds);
    set(&mut im.dagger_sessions_per_round, args.dagger_sessions);
    set(&mut im.dagger_states_per_session, args.dagger_states);
    set(&mut cfg.a2c.max_iters, args.rl_iters);
    set(&mut cfg.dqn.max_iters, args.rl_iters);
    set(&mut pi.iterations, args.api_iters);
    set(&mut pi.sessions_per_iter, args.api_sessions);
    set(&mut pi.states_per_session, args.api_states);
    set(&mut pi.epochs, args.api_epochs);
    set(&mut pi.keep_iters, args.api_keep);
    set(&mut pi.explore_eps, args.api_explore);
    set(&mut pi.ema_decay, args.api_ema);
    set(&mut pi.clip, args.api_clip);
    set(&mut pi.augment_scale, args.api_augment);
    set(&mut pi.lr, args.api_lr);
    set(&mut ppo.max_iters, args.ppo_iters);
    set(&mut ppo.lr, args.ppo_lr);
    set(&mut ppo.lr_final_fraction, args.ppo_lr_final);
    set(&mut ppo.n_envs, args.ppo_envs);
    set(&mut ppo.steps_per_env, args.ppo_steps);
    set(&mut ppo.minibatch, args.ppo_minibatch);
    set(&mut ppo.epochs, args.ppo_epochs);
    set(&mut ppo.entropy_coef, args.ppo_entropy);
    set(&mut ppo.target_kl, args.ppo_target_kl);
    set(&mut ppo.validate_every, args.ppo_validate_every);
    cfg.validate().map_err(flag_error)?;
    Ok(cfg)
}

/// The `--algo` recipe, or the explicit `--stages`.
fn stages_of(args: &TrainArgs) -> Result<Vec<StageKind>> {
    match &args.stages {
        Some(list) => parse_stages(list)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("in --stages {list}")),
        None => {
            algorithm_stages(&args.algo).map_err(|e| anyhow::anyhow!("--algo {}: {e}", args.algo))
        }
    }
}

/// Loads the `--resume` checkpoint, drops the imitation stage it skips, and notes the flags it
/// overrides (the checkpoint keeps its network's shape).
fn load_resume(
    args: &TrainArgs,
    cfg: &mut PipelineConfig,
    video: &Video,
) -> Result<Option<TrainingCheckpoint>> {
    let Some(p) = &args.resume else {
        return Ok(None);
    };
    let ck = TrainingCheckpoint::load(p)
        .with_context(|| format!("cannot resume from --resume {}", p.display()))?;
    cfg.stages.retain(|s| *s != StageKind::Imitation);
    anyhow::ensure!(
        !cfg.stages.is_empty(),
        "--resume continues training with an RL stage, but the stages asked for ({}) are only \
         imitation, which always starts from scratch; pass e.g. --stages api (or --algo api / \
         ppo / a2c / dqn), or drop --resume",
        args.stages.as_deref().unwrap_or(&args.algo)
    );
    let ladder = video.ladder.bitrates_kbps();
    if ck.ladder_kbps.len() == ladder.len() && ck.ladder_kbps != ladder {
        eprintln!(
            "note: --resume {} was trained on the ladder {:?} kbit/s; this video's is {ladder:?}. \
             Its inputs are relative to the ladder, so training goes on, but what it learned \
             about these rungs may not carry over",
            p.display(),
            ck.ladder_kbps,
        );
    }
    let ck_hidden = &ck.actor.sizes()[1..ck.actor.sizes().len() - 1];
    // Flags given on the command line that ask for another shape than the file's.
    let mut ignored = Vec::new();
    if args.hidden.is_some() && cfg.actor_hidden != ck_hidden {
        ignored.push("--hidden");
    }
    if args.history.is_some_and(|h| h != ck.spec.history_len) {
        ignored.push("--history");
    }
    if !ignored.is_empty() {
        eprintln!(
            "note: {} shape{} a new network; --resume keeps the checkpoint's ({ck_hidden:?} \
             hidden, {} chunks of history)",
            ignored.join(" and "),
            if ignored.len() == 1 { "s" } else { "" },
            ck.spec.history_len
        );
    }
    Ok(Some(ck))
}

/// A progress display that shows the latest validation point (a bar over the wall-time cap on a
/// terminal, a line every few seconds elsewhere).
fn progress_bar(cfg: &PipelineConfig, resuming: bool) -> Progress {
    let bar = Progress::new(
        "train",
        cfg.max_wall_s.ceil() as u64,
        "",
        "{spinner} [{elapsed_precise}] {bar:30} {msg}",
    );
    bar.enable_steady_tick();
    bar.set_message(if resuming {
        "starting from the checkpoint..."
    } else {
        "solving the offline optimum on training windows..."
    });
    bar
}

/// The `--test-traces`, loaded before training so that a wrong path costs no training time.
fn load_test_traces(args: &TrainArgs) -> Result<Option<Vec<Trace>>> {
    let Some(p) = &args.test_traces else {
        return Ok(None);
    };
    let traces = load_traces(p, args.inputs.trace_format)
        .with_context(|| format!("cannot load --test-traces {}", p.display()))?;
    Ok(Some(traces))
}

/// Test scores of every stage for the chart, or none (with a warning) when the simulator cannot
/// play the test traces: they only decorate the report.
fn test_scores(
    args: &TrainArgs,
    report: &PipelineReport,
    test: Option<&[Trace]>,
    video: &Video,
    qoe: &QoeModel,
) -> Option<Vec<f64>> {
    let scores = report.test_scores(test?, video, qoe);
    scores
        .map_err(|e| {
            eprintln!(
                "warning: cannot score --test-traces {}: {e}; stages.csv and the charts go \
                 without test scores",
                args.test_traces
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            )
        })
        .ok()
}

/// Writes a file, naming it in the error.
fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the checkpoints, the curve, `stages.csv` and the charts into `--out`; returns the
/// stage bars and every path written.
fn write_outputs(
    args: &TrainArgs,
    report: &PipelineReport,
    test: Option<&[f64]>,
) -> Result<(Vec<StageBar>, Vec<PathBuf>)> {
    let policy_path = args.out.join("policy.safetensors");
    let last_path = args.out.join("last.safetensors");
    for (ck, path) in [(&report.best, &policy_path), (&report.last, &last_path)] {
        ck.save(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (curve_path, stages_path) = (
        args.out.join("training_curve.csv"),
        args.out.join("stages.csv"),
    );
    write(&curve_path, curve_csv(&report.last.curve))?;
    write(&stages_path, report.stages_csv(test))?;
    let bars: Vec<StageBar> = report
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| StageBar {
            stage: s.stage.to_string(),
            val_qoe: s.val_qoe,
            test_qoe: test.and_then(|t| t.get(i).copied()),
        })
        .collect();
    let refs: Vec<Reference> = report
        .val_optimum_qoe
        .iter()
        .map(|&value| Reference {
            label: "optimum, validation".into(),
            value,
        })
        .collect();
    let points: Vec<TrainingPoint> = report
        .last
        .curve
        .iter()
        .map(|p| TrainingPoint {
            stage: p.stage.clone(),
            wall_s: p.wall_s,
            samples: p.samples as f64,
            val_qoe: p.val_qoe,
        })
        .collect();
    let title = format!("Validation QoE during training (seed {})", args.seed);
    let mut paths = vec![policy_path, last_path, curve_path, stages_path];
    paths.extend(training_curve_chart(
        &title,
        &points,
        &refs,
        &args.out.join("training_curve"),
    )?);
    let title = "What each training stage contributes";
    paths.extend(stage_chart(title, &bars, &refs, &args.out.join("stages"))?);
    Ok((bars, paths))
}

/// Prints the stage scores, the selection and the files written.
fn print_summary(
    cfg: &PipelineConfig,
    report: &PipelineReport,
    bars: &[StageBar],
    paths: &[PathBuf],
    wall_s: f64,
) {
    if report.wall_limited {
        eprintln!(
            "warning: a stage stopped on the --max-wall-s budget ({} s) before its \
             epoch/iteration count, so this result depends on the machine's speed and load; rerun with a larger \
             --max-wall-s to reproduce it exactly",
            cfg.max_wall_s
        );
    }
    // One bar per stage, in order (a stage may repeat, e.g. --stages a2c,a2c).
    for (s, bar) in report.stages.iter().zip(bars) {
        let test = bar
            .test_qoe
            .map(|t| format!(", test {t:.2}"))
            .unwrap_or_default();
        let kept = if s.improved {
            ""
        } else {
            " (no iterate beat the network the stage started from; this is that network's score)"
        };
        say!(
            "after {:<9} validation QoE {:.2}{test}{kept}",
            s.stage,
            s.val_qoe
        );
    }
    let optimum = report
        .val_optimum_qoe
        .map(|o| format!(" (optimum on the same sessions {o:.2})"));
    say!(
        "selected: {} checkpoint, validation QoE {:.2}{}; {} training traces, {} validation \
         sessions; training {wall_s:.0} s",
        report.best.stage,
        report.best_val_qoe,
        optimum.unwrap_or_default(),
        report.split.0,
        report.split.1,
    );
    let files: Vec<String> = paths[..4].iter().map(|p| p.display().to_string()).collect();
    say!("wrote {}", files.join(", "));
    for c in &paths[4..] {
        say!("wrote {}", c.display());
    }
    say!(
        "evaluate it: neuralstream bench --abr learned:{},robustmpc-pensieve,optimum ...",
        paths[0].display()
    );
}

#[path = "train_agnostic.rs"]
mod agnostic;
#[path = "train_recipe.rs"]
mod recipe;

/// Runs `neuralstream train`.
pub fn run(args: TrainArgs) -> Result<()> {
    if args.agnostic {
        return agnostic::run(&args);
    }
    let inputs = args.inputs.load(args.synthetic_traces, args.seed)?;
    run_fixed(&args, inputs, Display::Own).map(drop)
}

/// What a training run measured, for a recipe's log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// The selected policy's validation score (QoE for the fixed-ladder policy, the selection's
    /// score for a ladder-agnostic one).
    pub val_score: f64,
    /// `--max-wall-s` cut the run short: the policy depends on the machine.
    pub cut_short: bool,
}

/// Where a training shows its progress: its own display (a bar, or lines in a log) with a summary
/// on stdout, or one recipe job's status line (`train --agnostic`'s default recipe), silently.
#[derive(Clone, Copy)]
pub(crate) enum Display<'a> {
    /// The command's own progress display and summary.
    Own,
    /// Each update goes to this status line; nothing is printed.
    Job(&'a (dyn Fn(String) + Sync)),
}

/// Where a training's progress goes, made from its [`Display`]: its own progress display, or
/// the recipe job's status line.
pub(crate) enum Sink<'a> {
    /// [`Display::Own`]: the command's bar (or lines in a log).
    Bar(Progress),
    /// [`Display::Job`]: the job's status line.
    Line(&'a (dyn Fn(String) + Sync)),
}

impl<'a> Sink<'a> {
    /// The sink of `display`; `bar` makes the display of [`Display::Own`].
    pub fn new(display: Display<'a>, bar: impl FnOnce() -> Progress) -> Self {
        match display {
            Display::Own => Sink::Bar(bar()),
            Display::Job(line) => Sink::Line(line),
        }
    }

    /// Shows `msg` after the bar, or as the job's status.
    pub fn say(&self, msg: String) {
        match self {
            Sink::Bar(bar) => bar.set_message(msg),
            Sink::Line(line) => line(msg),
        }
    }

    /// The training ended: the bar disappears (a last line in a log).
    pub fn finish(&self) {
        if let Sink::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Trains the fixed-ladder policy on `inputs` with `args`' settings into `--out`.
pub(crate) fn run_fixed(
    args: &TrainArgs,
    inputs: inputs::Inputs,
    display: Display,
) -> Result<Outcome> {
    let inputs::Inputs {
        qoe,
        video,
        traces,
        source,
    } = inputs;
    let mut cfg = config(args, &qoe, &stages_of(args)?)?;
    anyhow::ensure!(
        traces.len() >= 2,
        "train needs at least 2 traces (part of them is held out for validation), got {} from \
         {source}; pass a folder with more with --traces, or --synthetic-traces N",
        traces.len()
    );
    let test = load_test_traces(args)?;
    let resume = load_resume(args, &mut cfg, &video)?;
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let names: Vec<&str> = cfg.stages.iter().map(|s| s.name()).collect();
    let own = matches!(display, Display::Own);
    if own {
        eprintln!(
            "train: stages {} on {} traces ({source}), video '{}', budget {} s{}",
            names.join(" -> "),
            traces.len(),
            video.name,
            cfg.max_wall_s,
            args.resume
                .as_ref()
                .map(|p| format!(", resuming {}", p.display()))
                .unwrap_or_default()
        );
    }
    let sink = Sink::new(display, || progress_bar(&cfg, resume.is_some()));
    let started = std::time::Instant::now();
    let mut best = f64::NEG_INFINITY;
    let mut report = train_pipeline(&traces, &video, &cfg, resume, |p| {
        best = best.max(p.val_qoe);
        match &sink {
            Sink::Bar(bar) => {
                bar.set_position(started.elapsed().as_secs());
                bar.set_message(format!(
                    "{} #{}: validation QoE {:.2} (best {:.2}), {} samples, loss {:.3}",
                    p.stage, p.iteration, p.val_qoe, best, p.samples, p.loss
                ));
            }
            Sink::Line(_) => sink.say(format!(
                "{} #{} validation QoE {:.2} (best {:.2})",
                p.stage, p.iteration, p.val_qoe, best
            )),
        }
    })?;
    sink.finish();
    report.stamp(&git_commit(), &source, &cfg.stages);
    let test = test_scores(args, &report, test.as_deref(), &video, &qoe);
    let (bars, paths) = write_outputs(args, &report, test.as_deref())?;
    if own {
        print_summary(
            &cfg,
            &report,
            &bars,
            &paths,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(Outcome {
        val_score: report.best_val_qoe,
        cut_short: report.wall_limited,
    })
}
