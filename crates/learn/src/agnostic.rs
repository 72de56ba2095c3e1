//! Training the ladder-agnostic policy ([`neuralstream_policy::AgnosticAbr`], feature layout 2)
//! over a *distribution* of networks and videos: the imitation + policy-iteration recipe of
//! [`crate::imitation`] and [`crate::policy_iteration`] with a variable number of actions.
//!
//! 1. Every trace set is split by whole trace into train / validation ([`split_traces`]); the
//!    training traces are cut into windows, and every window is paired with
//!    `videos_per_window` videos drawn (seeded) from the video list, so every trace set meets every
//!    kind of ladder. Validation pairs each validation window with *every* video.
//! 2. The offline optimum of every (window, video) environment is solved with that video's own
//!    QoE model (QoE_lin's stall penalty is its top bitrate), and its plan is replayed with a
//!    recorder that writes one feature row per level of every decision and the optimal level.
//! 3. The scoring network is trained with a softmax over each decision's levels
//!    ([`loss::grouped_cross_entropy`]); after every epoch the greedy policy plays the validation
//!    environments and the best checkpoint is kept.
//! 4. DAgger rounds: the learner plays a seeded subset of the training environments, a few of the
//!    states it visits are labelled with the optimum of the rest of the session from there
//!    ([`solve_from`]), added to the data and trained on. Off by default: the clone on its own
//!    is a copycat (the optimum mostly keeps its level, so "stay" explains most labels and the
//!    clone stays at its startup level wherever the optimum never was), and step 5 undoes that
//!    for less time than DAgger.
//! 5. Policy iteration with all-action rollouts ([`pi`]) from the best policy so far, on sessions
//!    drawn by a Genet-style [`curriculum`] (where the policy's gap to the best rule is largest),
//!    still selected on validation.
//!
//! **Selection metric** ([`Selection`]; the default, [`Selection::Regret`]). Ladders differ in
//! scale (QoE_lin on a 35 Mbit/s ladder is in the thousands, on Pensieve's in the tens), and a
//! share of the optimum is ill-conditioned where the optimum itself is near 0 (a 40 Mbit/s ladder
//! on a 3G trace). So validation scores each (trace set, video) group by its regret to the
//! optimum normalised by the most a session could earn (the top level's utility times the chunks
//! played), and averages the groups: the score is 0 at the optimum, -0.1 for a policy that loses
//! a tenth of the top bitrate per chunk, and every group weighs the same, as every cell of the
//! generalisation grid does. The curriculum then measures each session against its best rule.
//!
//! [`Selection::Bar`] (opt-in) aligns both with issue 17's bar instead ([`selection`]): each
//! validation group's margin is the smaller of its mean's lead over the group's best rule and its
//! p10's lead over RobustMPC's, the score weighs the worst groups most, and the curriculum draws
//! by the group's best rule plus a tail term. It improved validation but not the test grid
//! (`docs/benchmarks.md`, the agnostic third pass), so it is not the default.
//!
//! [`Selection::Grid`] (opt-in, `train --agnostic-select grid`) validates on sessions from every
//! validation trace and on videos of the generalisation grid's kinds held out of training
//! ([`validation_set`]), scores the groups' mean margins to their best rule plus half their p10
//! shortfall ([`selection::grid_score`]; the first term ranks as the regret does, with no optimum
//! to solve), and lets averages of the last and best policy-iteration checkpoints compete with
//! the best one ([`checkpoints`]). [`HomeShare`] gives one set and video (Pensieve's) a larger
//! share of the training mix. Its validation-chosen policy met the bar in one grid cell more than
//! the default's but scored lower on Pensieve's test traces (`docs/benchmarks.md`, the fourth
//! pass), so it is not the default either.
//!
//! Everything is deterministic for a seed: environments are solved and played in parallel but
//! collected in order, and training is single-threaded.

use crate::error::LearnError;
use crate::imitation::{split_traces, subset};
use crate::windows::windows;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Abr, Decision, Observation, Rng, Trace, Video};
use neuralstream_nn::{loss, Activation, Adam, AdamConfig, Mlp, SplitMix64};
use neuralstream_optimum::{solve_from, OptimumParams};
use neuralstream_policy::agnostic::AGNOSTIC_HIDDEN;
use neuralstream_policy::{AgnosticAbr, AgnosticSpec, PolicyMeta};
use neuralstream_sim::{run_session, Session, SessionLog, SimConfig, StartPosition};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::time::Instant;

pub mod checkpoints;
pub mod curriculum;
pub mod distil;
pub mod optimum_cache;
pub mod pi;
pub mod selection;
pub mod validation_set;
pub use curriculum::CurriculumConfig;
pub use pi::AgnosticPiConfig;
pub use selection::{GroupMargin, SelectionConfig};
pub use validation_set::ValidationSet;

/// What selects the policy on validation, and what the curriculum draws by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// Minus the mean normalised regret to the offline optimum over (set, video) groups; the
    /// curriculum weighs a session by its gap to that session's best rule (the default).
    #[default]
    Regret,
    /// The margin to issue 17's bar per group, worst groups first ([`selection`]); the
    /// curriculum weighs a session by its shortfall to the group's best rule plus
    /// [`CurriculumConfig::tail_weight`] times its shortfall below the group's RobustMPC p10.
    Bar,
    /// The mean over groups of each group's mean margin to its best rule plus
    /// [`AgnosticConfig::p10_weight`] times its p10 shortfall to RobustMPC
    /// ([`selection::grid_score`]), on the [`AgnosticConfig::validation`] set (every validation
    /// trace, videos of the grid's kinds held out of training); no optimum on validation. The
    /// curriculum is [`Selection::Regret`]'s. Use [`AgnosticConfig::with_selection`].
    Grid,
}

/// Validation windows per set that [`AgnosticConfig::with_selection`] takes for
/// [`Selection::Bar`] (it needs no optimum, only the rules: more sessions make its p10
/// meaningful).
pub const BAR_VAL_WINDOWS_PER_SET: usize = 24;

/// Validation windows per set that [`AgnosticConfig::with_selection`] takes for
/// [`Selection::Grid`] (round robin over every validation trace).
pub const GRID_VAL_WINDOWS_PER_SET: usize = 64;

/// The checkpoints [`AgnosticConfig::with_selection`] averages for [`Selection::Grid`].
pub const GRID_AVERAGE: usize = 4;

/// A larger share of one trace set and video in the training mix (Pensieve's, whose test set the
/// bar holds at 47.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeShare {
    /// The trace set (by name) whose training windows are capped at `max_windows` instead of
    /// [`AgnosticConfig::max_windows_per_set`].
    pub set: String,
    /// The video (by name) that every window of that set is paired with (its other videos are
    /// drawn as usual).
    pub video: String,
    /// Most training windows of that set.
    pub max_windows: usize,
}

/// Settings of [`train_agnostic`].
#[derive(Debug, Clone)]
pub struct AgnosticConfig {
    /// Seed of the splits, the pairing of windows and videos, the initialisation and minibatches.
    pub seed: u64,
    /// Hidden layer widths of the scoring network.
    pub hidden: Vec<usize>,
    /// Adam learning rate.
    pub lr: f32,
    /// Decisions per minibatch.
    pub batch_size: usize,
    /// Behaviour-cloning epochs.
    pub epochs: usize,
    /// DAgger rounds after behaviour cloning.
    pub dagger_rounds: usize,
    /// Training environments rolled out per round.
    pub dagger_sessions_per_round: usize,
    /// Visited states labelled per rolled-out session.
    pub dagger_states_per_session: usize,
    /// Epochs over the aggregated data after each round.
    pub dagger_epochs: usize,
    /// Videos each training window is paired with.
    pub videos_per_window: usize,
    /// Most training windows per trace set (a seeded subset; keeps big sets from dominating).
    pub max_windows_per_set: usize,
    /// Most validation windows per trace set.
    pub max_val_windows_per_set: usize,
    /// Fraction of each set's traces held out for validation.
    pub val_fraction: f64,
    /// Window length, seconds.
    pub window_s: f64,
    /// Distance between window starts, seconds.
    pub hop_s: f64,
    /// The simulator (delay noise is ignored: solving, recording and validating are exact).
    pub sim: SimConfig,
    /// Chunks not scored at the start of a session.
    pub skip_chunks: usize,
    /// Search parameters of the optimum that is imitated.
    pub optimum: OptimumParams,
    /// Search parameters of DAgger's relabelling teacher.
    pub teacher: OptimumParams,
    /// The policy-iteration stage after DAgger ([`pi`]; `iterations: 0` turns it off).
    pub pi: AgnosticPiConfig,
    /// Which environments policy iteration rolls in ([`curriculum`]).
    pub curriculum: CurriculumConfig,
    /// What selects the policy and steers the curriculum.
    pub selection: Selection,
    /// With [`Selection::Bar`]: how validation groups' margins make the score ([`selection`]).
    pub bar: SelectionConfig,
    /// With [`Selection::Grid`]: the weight of a group's p10 shortfall in the score.
    pub p10_weight: f64,
    /// With [`Selection::Grid`]: one (trace set, video) group whose term counts
    /// [`AgnosticConfig::home_weight`] more ([`selection::grid_score_with_home`]).
    pub home_group: Option<(String, String)>,
    /// The extra weight of [`AgnosticConfig::home_group`].
    pub home_weight: f64,
    /// Which videos and windows validation plays ([`validation_set`]; the default: every video,
    /// a seeded subset of windows).
    pub validation: ValidationSet,
    /// Policy-iteration checkpoints averaged ([`checkpoints`]): the mean of the last `average`
    /// and the mean of the best `average` are validated and compete with the best checkpoint
    /// (0: off).
    pub average: usize,
    /// A larger share of one set and video in the training mix (`None`: every set alike).
    pub home: Option<HomeShare>,
    /// Seed of the train/validation split and of the environments (windows and their videos);
    /// `None`: [`AgnosticConfig::seed`]. Fixing it lets runs of several seeds be compared on one
    /// validation split.
    pub split_seed: Option<u64>,
    /// Stop after the epoch during which this much wall time has passed, seconds (a safety net).
    pub max_wall_s: f64,
    /// Feature layout 3: every level's part also says what RobustMPC and BBA-0 would fetch now
    /// ([`AgnosticSpec::with_rule_hints`]); off: layout 2.
    pub rule_hints: bool,
    /// A folder of offline-optimum plans shared by trainings ([`optimum_cache`]; `None`: solve
    /// every plan). Outputs are the same with or without it.
    pub optimum_cache: Option<std::path::PathBuf>,
}

impl Default for AgnosticConfig {
    /// 2 x 64 ReLU, lr 1e-3, 128 decisions per batch, 12 epochs, no DAgger round (policy
    /// iteration does its work for less: see `docs/benchmarks.md`; a round is 80 sessions x 10
    /// states and 3 epochs), [`AgnosticPiConfig::default`] policy iteration, 2 videos per window,
    /// at most 100 training and 10 validation windows per set, 15 % validation, 320 s windows
    /// every 160 s, Pensieve's simulator skipping chunk 0, selection by [`Selection::Regret`].
    fn default() -> Self {
        AgnosticConfig {
            seed: 1,
            hidden: AGNOSTIC_HIDDEN.to_vec(),
            lr: 1e-3,
            batch_size: 128,
            epochs: 12,
            dagger_rounds: 0,
            dagger_sessions_per_round: 80,
            dagger_states_per_session: 10,
            dagger_epochs: 3,
            videos_per_window: 2,
            max_windows_per_set: 100,
            max_val_windows_per_set: 10,
            val_fraction: 0.15,
            window_s: 320.0,
            hop_s: 160.0,
            sim: SimConfig::pensieve(),
            skip_chunks: 1,
            optimum: OptimumParams::default(),
            teacher: OptimumParams {
                buffer_bucket_s: 1.0,
                ..OptimumParams::default()
            },
            pi: AgnosticPiConfig::default(),
            curriculum: CurriculumConfig::default(),
            selection: Selection::Regret,
            bar: SelectionConfig::default(),
            p10_weight: 0.5,
            home_group: None,
            home_weight: 0.0,
            validation: ValidationSet::default(),
            average: 0,
            home: None,
            split_seed: None,
            max_wall_s: 3600.0,
            rule_hints: false,
            optimum_cache: None,
        }
    }
}

impl AgnosticConfig {
    /// The featurisation these settings train: layout 2, or 3 with [`AgnosticConfig::rule_hints`].
    pub fn spec(&self) -> AgnosticSpec {
        if self.rule_hints {
            AgnosticSpec::with_rule_hints()
        } else {
            AgnosticSpec::default()
        }
    }

    /// The default settings with `selection`; [`Selection::Bar`] validates on
    /// [`BAR_VAL_WINDOWS_PER_SET`] windows per set (as its measured runs did), [`Selection::Grid`]
    /// on [`GRID_VAL_WINDOWS_PER_SET`] taken from every validation trace and averages
    /// [`GRID_AVERAGE`] checkpoints (its videos are the caller's: set
    /// [`AgnosticConfig::validation`]'s `val_videos` and `held_out_videos`).
    pub fn with_selection(selection: Selection) -> Self {
        let default = AgnosticConfig::default();
        match selection {
            Selection::Regret => AgnosticConfig {
                selection,
                ..default
            },
            Selection::Bar => AgnosticConfig {
                selection,
                max_val_windows_per_set: BAR_VAL_WINDOWS_PER_SET,
                ..default
            },
            Selection::Grid => AgnosticConfig {
                selection,
                max_val_windows_per_set: GRID_VAL_WINDOWS_PER_SET,
                validation: ValidationSet {
                    every_trace: true,
                    ..ValidationSet::default()
                },
                average: GRID_AVERAGE,
                ..default
            },
        }
    }
}

/// A named set of training traces (its validation split is taken from it).
#[derive(Debug, Clone)]
pub struct TraceSet {
    /// Name, for the report (`pensieve`, `ucc5g`, ...).
    pub name: String,
    /// The traces.
    pub traces: Vec<Trace>,
}

/// A video of the training distribution with the QoE model it is scored with.
#[derive(Debug, Clone)]
pub struct TrainVideo {
    /// The video.
    pub video: Video,
    /// Its QoE model, compiled for it.
    pub qoe: CompiledQoe,
}

impl TrainVideo {
    /// The video's top utility per chunk (QoE_lin: its top bitrate in Mbit/s): the unit of the
    /// normalised regrets, gaps and advantages.
    pub fn top_utility(&self) -> f64 {
        self.qoe.raw.iter().cloned().fold(0.0, f64::max) / self.qoe.divisor
    }
}

/// One environment: a window of a trace set's trace played on one video.
#[derive(Debug, Clone)]
struct Env {
    set: usize,
    video: usize,
    trace: Trace,
}

/// One validation measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct AgnosticPoint {
    /// `bc`, `dagger` or `pi`.
    pub stage: &'static str,
    /// Epoch (bc), round (dagger) or iteration (pi), from 1.
    pub step: usize,
    /// Mean training loss of the last epoch.
    pub loss: f64,
    /// Validation score: with [`Selection::Regret`] minus the mean normalised regret to the
    /// optimum over (set, video) groups (0 at the optimum), with [`Selection::Bar`]
    /// [`selection::selection_score`] of the groups' margins to the bar (at least 0 when every
    /// group meets it); see the module doc.
    pub val_score: f64,
    /// Wall time since the start, seconds.
    pub wall_s: f64,
}

/// A (trace set, video) group's validation score by regret: `(set, video, score)`.
pub type GroupScore = (String, String, f64);

/// A policy measured on the validation split.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The selection score ([`AgnosticPoint::val_score`]).
    pub score: f64,
    /// Every group's score by regret to the optimum (empty with [`Selection::Bar`], which solves
    /// no optimum on validation).
    pub regret_groups: Vec<GroupScore>,
    /// Every group's margins to the bar, in (set, video) order.
    pub margins: Vec<GroupMargin>,
}

/// What [`train_agnostic`] returns.
#[derive(Debug, Clone)]
pub struct AgnosticReport {
    /// The policy with the best validation score.
    pub policy: AgnosticAbr,
    /// Its validation score.
    pub best_val_score: f64,
    /// Every validation measurement.
    pub curve: Vec<AgnosticPoint>,
    /// The best policy's margins to the bar per validation (set, video) group.
    pub groups: Vec<GroupMargin>,
    /// The best policy's score by regret per validation group (empty with [`Selection::Bar`]).
    pub regret_groups: Vec<GroupScore>,
    /// Decisions in the final training data.
    pub samples: usize,
    /// Training environments.
    pub train_envs: usize,
    /// True when `max_wall_s` cut the run short (the result is then not reproducible).
    pub cut_short: bool,
}

/// Decisions as feature rows: sample `i` owns rows `offsets[i]..offsets[i + 1]`.
#[derive(Debug, Clone, Default)]
struct Samples {
    rows: Vec<f32>,
    offsets: Vec<usize>,
    labels: Vec<usize>,
    /// Soft targets ([`distil`] with [`distil::DistilConfig::soft`]): one probability per row,
    /// so training uses [`loss::grouped_soft_cross_entropy`]; `None`: the labels are the targets.
    soft: Option<Vec<f32>>,
}

impl Samples {
    fn new() -> Self {
        Samples {
            offsets: vec![0],
            ..Samples::default()
        }
    }

    /// No samples, with soft targets when `soft`.
    fn with_soft(soft: bool) -> Self {
        Samples {
            soft: soft.then(Vec::new),
            ..Samples::new()
        }
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    /// Records one decision: its rows, its `label` and, with soft targets, `probs` (one per
    /// level; `None` or a wrong length: the label one-hot).
    fn push(
        &mut self,
        spec: &AgnosticSpec,
        obs: &Observation<'_>,
        label: usize,
        probs: Option<&[f64]>,
        buf: &mut Vec<f32>,
    ) {
        // Observations come from the simulator, so their inputs are finite and the ladder is
        // checked before training starts; a refusal here would be a bug, and skips the state.
        if let Ok(levels) = spec.write(obs, buf) {
            let label = label.min(levels - 1);
            self.rows.extend_from_slice(buf);
            self.offsets
                .push(self.offsets.last().copied().unwrap_or(0) + levels);
            self.labels.push(label);
            if let Some(soft) = &mut self.soft {
                match probs {
                    Some(p) if p.len() == levels => soft.extend(p.iter().map(|&x| x as f32)),
                    _ => soft.extend((0..levels).map(|l| f32::from(u8::from(l == label)))),
                }
            }
        }
    }

    fn extend(&mut self, other: Samples) {
        let base = self.offsets.last().copied().unwrap_or(0);
        if let (Some(soft), Some(more)) = (&mut self.soft, other.soft) {
            soft.extend(more);
        }
        self.rows.extend(other.rows);
        self.offsets
            .extend(other.offsets.iter().skip(1).map(|o| o + base));
        self.labels.extend(other.labels);
    }
}

/// Replays a fixed schedule and records every decision.
struct Recorder<'s> {
    spec: &'s AgnosticSpec,
    levels: Vec<usize>,
    data: Samples,
    buf: Vec<f32>,
}

impl Abr for Recorder<'_> {
    fn name(&self) -> String {
        "recorder".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let level = self.levels.get(obs.next_chunk).copied().unwrap_or(0);
        self.data.push(self.spec, obs, level, None, &mut self.buf);
        Decision::level(level)
    }
}

/// Trains a ladder-agnostic policy on `sets` x `videos`; `progress` is called after every
/// validation. Fails on a video outside 2..=16 levels (naming it) or a simulator/optimum error.
pub fn train_agnostic(
    sets: &[TraceSet],
    videos: &[TrainVideo],
    cfg: &AgnosticConfig,
    meta: PolicyMeta,
    progress: &mut dyn FnMut(&AgnosticPoint),
) -> Result<AgnosticReport, LearnError> {
    let start = Instant::now();
    cfg.pi.validate().map_err(|e| e.within("pi"))?;
    let sim = checked_sim(videos, cfg)?;
    let spec = cfg.spec();
    let (train_envs, val_envs) = environments(sets, videos, cfg)?;
    let mut data = collect_demos(&train_envs, videos, &spec, &sim, cfg)?;
    ensure_sessions("the ladder-agnostic trainer", &data, &train_envs, &val_envs)?;
    let mut val = ValidationRun::new(&val_envs, sets, videos, &sim, cfg, &spec, start)?;
    let mut actor = scoring_network(&spec, cfg);
    let mut adam = Adam::new(AdamConfig::with_lr(cfg.lr));
    let mut rng = SplitMix64::new(cfg.seed ^ 0xa9_0571_c000);
    let mut cut_short = false;
    let mut pi_checkpoints: Vec<(f64, Mlp)> = Vec::new();
    for epoch in 1..=cfg.epochs {
        let loss = train_epoch(&mut actor, &mut adam, &data, cfg.batch_size, &mut rng);
        val.record(&actor, "bc", epoch, loss, progress)?;
        if start.elapsed().as_secs_f64() > cfg.max_wall_s {
            cut_short = epoch < cfg.epochs || cfg.dagger_rounds > 0 || cfg.pi.iterations > 0;
            break;
        }
    }
    for round in 1..=cfg.dagger_rounds {
        if cut_short {
            break;
        }
        let learner = AgnosticAbr::new(actor.clone(), spec.clone(), PolicyMeta::default());
        let envs = subset(&train_envs, cfg.dagger_sessions_per_round, cfg.seed, round);
        data.extend(relabel(&learner, &envs, videos, &spec, &sim, cfg, round)?);
        let mut loss = 0.0;
        for _ in 0..cfg.dagger_epochs {
            loss = train_epoch(&mut actor, &mut adam, &data, cfg.batch_size, &mut rng);
        }
        val.record(&actor, "dagger", round, loss, progress)?;
        if start.elapsed().as_secs_f64() > cfg.max_wall_s
            && (round < cfg.dagger_rounds || cfg.pi.iterations > 0)
        {
            cut_short = true;
        }
    }
    // Policy iteration continues from the best policy so far.
    actor = val.best.1.clone();
    let mut pi_adam = Adam::new(AdamConfig::with_lr(cfg.pi.lr));
    let mut kept = VecDeque::new();
    let focus = cfg.curriculum.focus;
    let targets = if cfg.pi.iterations > 0 && focus > 0.0 && !cut_short {
        let rules = curriculum::rule_qoes(&train_envs, videos, &sim, cfg.skip_chunks)?;
        match cfg.selection {
            Selection::Regret | Selection::Grid => curriculum::session_targets(&rules),
            Selection::Bar => curriculum::targets(&train_envs, &rules),
        }
    } else {
        Vec::new()
    };
    let tail_weight = match cfg.selection {
        Selection::Regret | Selection::Grid => 0.0,
        Selection::Bar => cfg.curriculum.tail_weight,
    };
    let mut draw_rng = Rng::new(cfg.seed ^ 0x0c2c_0000_0000_0000).fork(1);
    for it in 1..=cfg.pi.iterations {
        if cut_short {
            break;
        }
        let gaps = if targets.is_empty() {
            vec![0.0; train_envs.len()]
        } else {
            let policy = AgnosticAbr::new(actor.clone(), spec.clone(), PolicyMeta::default());
            curriculum::gaps(
                &policy,
                &train_envs,
                &targets,
                videos,
                &sim,
                cfg.skip_chunks,
                tail_weight,
            )?
        };
        let picks = curriculum::draw(&gaps, cfg.pi.sessions_per_iter, focus, &mut draw_rng);
        let base = Rng::new(cfg.seed ^ 0x0a91_5e55_0000_0000).fork(it as u64);
        kept.push_back(pi::collect(
            &actor,
            &train_envs,
            &picks,
            videos,
            &spec,
            &cfg.sim,
            &cfg.pi,
            base,
        )?);
        while kept.len() > cfg.pi.keep_iters.max(1) {
            kept.pop_front();
        }
        let all = pi::merged(&kept);
        let mut loss = 0.0;
        for _ in 0..cfg.pi.epochs {
            loss = pi::regress_epoch(&mut actor, &mut pi_adam, &all, cfg.pi.minibatch, &mut rng);
        }
        let score = val.record(&actor, "pi", it, loss, progress)?;
        if cfg.average > 0 {
            pi_checkpoints.push((score, actor.clone()));
        }
        if start.elapsed().as_secs_f64() > cfg.max_wall_s && it < cfg.pi.iterations {
            cut_short = true;
        }
    }
    // Checkpoint averages compete with the best checkpoint on validation ([`checkpoints`]).
    if cfg.average > 1 && pi_checkpoints.len() > 1 {
        let scores: Vec<f64> = pi_checkpoints.iter().map(|c| c.0).collect();
        let averages = [
            ("avg-last", checkpoints::last_k(&scores, cfg.average)),
            ("avg-best", checkpoints::best_k(&scores, cfg.average)),
        ];
        for (stage, picks) in averages {
            let nets: Vec<&Mlp> = picks.iter().map(|&i| &pi_checkpoints[i].1).collect();
            if let Some(avg) = checkpoints::average_weights(&nets) {
                val.record(&avg, stage, picks.len(), 0.0, progress)?;
            }
        }
    }
    val.report(meta, data.len(), train_envs.len(), cut_short)
}

/// Refuses a run with no training decisions or no validation environment; `who` names the trainer.
fn ensure_sessions(
    who: &str,
    data: &Samples,
    train_envs: &[Env],
    val_envs: &[Env],
) -> Result<(), LearnError> {
    if data.len() == 0 || val_envs.is_empty() {
        return Err(LearnError::Empty(format!(
            "{who} needs training and validation sessions: {} training decisions from {} environments, {} validation environments (more or longer traces?)",
            data.len(),
            train_envs.len(),
            val_envs.len()
        )));
    }
    Ok(())
}

/// A new scoring network: one row of `spec` in, [`AgnosticConfig::hidden`] ReLU layers, one score
/// out, initialised from the seed.
fn scoring_network(spec: &AgnosticSpec, cfg: &AgnosticConfig) -> Mlp {
    let mut sizes = vec![spec.row_len()];
    sizes.extend(&cfg.hidden);
    sizes.push(1);
    Mlp::new(&sizes, Activation::Relu, cfg.seed)
}

/// A run's validations and its selection: the validation environments and what they are compared
/// with, the curve so far and the best network so far.
struct ValidationRun<'a> {
    envs: &'a [Env],
    refs: References,
    sets: &'a [TraceSet],
    videos: &'a [TrainVideo],
    sim: &'a SimConfig,
    cfg: &'a AgnosticConfig,
    spec: &'a AgnosticSpec,
    start: Instant,
    curve: Vec<AgnosticPoint>,
    /// The best `(score, network)` so far; before any validation, the untrained network
    /// ([`scoring_network`], the same the trainers start from).
    best: (f64, Mlp),
}

impl<'a> ValidationRun<'a> {
    /// Solves what validation compares with on `envs` ([`references`]); `start` is the run's.
    fn new(
        envs: &'a [Env],
        sets: &'a [TraceSet],
        videos: &'a [TrainVideo],
        sim: &'a SimConfig,
        cfg: &'a AgnosticConfig,
        spec: &'a AgnosticSpec,
        start: Instant,
    ) -> Result<Self, LearnError> {
        Ok(ValidationRun {
            envs,
            refs: references(envs, videos, sim, cfg)?,
            sets,
            videos,
            sim,
            cfg,
            spec,
            start,
            curve: Vec::new(),
            best: (f64::NEG_INFINITY, scoring_network(spec, cfg)),
        })
    }

    fn policy(&self, actor: Mlp, meta: PolicyMeta) -> AgnosticAbr {
        AgnosticAbr::new(actor, self.spec.clone(), meta)
    }

    fn measure(&self, policy: &AgnosticAbr) -> Result<Validation, LearnError> {
        validation_score(
            policy,
            self.envs,
            &self.refs,
            self.sets,
            self.videos,
            self.sim,
            self.cfg,
        )
    }

    /// Validates `actor`, tells `progress`, adds the point to the curve and keeps `actor` as the
    /// best when it scores higher; its score.
    fn record(
        &mut self,
        actor: &Mlp,
        stage: &'static str,
        step: usize,
        loss: f64,
        progress: &mut dyn FnMut(&AgnosticPoint),
    ) -> Result<f64, LearnError> {
        let policy = self.policy(actor.clone(), PolicyMeta::default());
        let score = self.measure(&policy)?.score;
        let point = AgnosticPoint {
            stage,
            step,
            loss,
            val_score: score,
            wall_s: self.start.elapsed().as_secs_f64(),
        };
        progress(&point);
        self.curve.push(point);
        if score > self.best.0 {
            self.best = (score, actor.clone());
        }
        Ok(score)
    }

    /// The run's report around its best network, with its groups measured.
    fn report(
        self,
        meta: PolicyMeta,
        samples: usize,
        train_envs: usize,
        cut_short: bool,
    ) -> Result<AgnosticReport, LearnError> {
        let policy = self.policy(self.best.1.clone(), meta);
        let last = self.measure(&policy)?;
        Ok(AgnosticReport {
            policy,
            best_val_score: self.best.0,
            curve: self.curve,
            groups: last.margins,
            regret_groups: last.regret_groups,
            samples,
            train_envs,
            cut_short,
        })
    }
}

/// Refuses a video outside 2..=16 levels (naming it); the noise-free simulator that solving,
/// recording and validation use.
fn checked_sim(videos: &[TrainVideo], cfg: &AgnosticConfig) -> Result<SimConfig, LearnError> {
    for v in videos {
        AgnosticSpec::check_levels(&v.video.name, v.video.num_levels())
            .map_err(|e| LearnError::Invalid(e.to_string()))?;
    }
    Ok(SimConfig {
        delay_noise: None,
        ..cfg.sim.clone()
    })
}

/// Training and validation environments, in a fixed order: training windows paired with
/// [`ValidationSet::train_videos`] (the [`HomeShare`] set's with its video first), validation
/// windows (a seeded subset, or round robin over every trace with
/// [`ValidationSet::every_trace`]) with every [`ValidationSet::validation_videos`]. Fails on a
/// [`HomeShare`] naming no set or video, or held out of training.
fn environments(
    sets: &[TraceSet],
    videos: &[TrainVideo],
    cfg: &AgnosticConfig,
) -> Result<(Vec<Env>, Vec<Env>), LearnError> {
    let n_videos = videos.len();
    let train_videos = cfg.validation.train_videos(n_videos);
    let val_videos = cfg.validation.validation_videos(n_videos);
    let home = match &cfg.home {
        None => None,
        Some(h) => {
            let set = sets.iter().position(|s| s.name == h.set);
            let video = videos.iter().position(|v| v.video.name == h.video);
            match (set, video) {
                (Some(s), Some(v)) if train_videos.contains(&v) => Some((s, v, h.max_windows)),
                _ => {
                    return Err(LearnError::Invalid(format!(
                        "home share: needs a training trace set named '{}' and a training video named '{}' (sets: {}; videos: {})",
                        h.set,
                        h.video,
                        sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
                        train_videos.iter().map(|&v| videos[v].video.name.as_str()).collect::<Vec<_>>().join(", ")
                    )))
                }
            }
        }
    };
    let mut train = Vec::new();
    let mut val = Vec::new();
    for (s, set) in sets.iter().enumerate() {
        let (salt, tr, va) = set_split(s, set, cfg);
        let cut = |traces: &[Trace], max: usize, round: usize| {
            let all: Vec<Trace> = traces
                .iter()
                .flat_map(|t| windows(t, cfg.window_s, cfg.hop_s))
                .collect();
            subset(&all, max, salt, round)
        };
        let home_video = home.filter(|h| h.0 == s).map(|h| h.1);
        let max_windows = home
            .filter(|h| h.0 == s)
            .map_or(cfg.max_windows_per_set, |h| h.2);
        let mut rng = Rng::new(salt).fork(7);
        for trace in cut(&tr, max_windows, 1000) {
            // Distinct videos for one window: a seeded draw without replacement.
            let mut order = train_videos.clone();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            if let Some(hv) = home_video {
                order.retain(|&v| v != hv);
                order.insert(0, hv);
            }
            for &video in order.iter().take(cfg.videos_per_window.max(1)) {
                train.push(Env {
                    set: s,
                    video,
                    trace: trace.clone(),
                });
            }
        }
        let val_windows = if cfg.validation.every_trace {
            validation_set::round_robin_windows(
                &va,
                cfg.window_s,
                cfg.hop_s,
                cfg.max_val_windows_per_set,
            )
        } else {
            cut(&va, cfg.max_val_windows_per_set, 2000)
        };
        for trace in val_windows {
            for &video in &val_videos {
                val.push(Env {
                    set: s,
                    video,
                    trace: trace.clone(),
                });
            }
        }
    }
    Ok((train, val))
}

/// Set `s`'s seed of its split and windows, and its training and validation traces.
fn set_split(s: usize, set: &TraceSet, cfg: &AgnosticConfig) -> (u64, Vec<Trace>, Vec<Trace>) {
    let split_seed = cfg.split_seed.unwrap_or(cfg.seed);
    let salt = split_seed ^ (s as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (tr, va) = if cfg.validation.held_out_sets.contains(&s) {
        (Vec::new(), set.traces.clone())
    } else {
        split_traces(&set.traces, cfg.val_fraction, salt)
    };
    (salt, tr, va)
}

/// Which whole traces of every set [`train_agnostic`] (and [`distil::distil_agnostic`],
/// [`validate_agnostic`]) train on and which they hold out for validation with these `sets` and
/// `cfg`: `(set name, trace name, held out)` in set and trace order. For a record of the split,
/// and for training another model (a teacher) on the same training traces only.
pub fn split_of(sets: &[TraceSet], cfg: &AgnosticConfig) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for (s, set) in sets.iter().enumerate() {
        let (_, tr, va) = set_split(s, set, cfg);
        for (traces, held_out) in [(tr, false), (va, true)] {
            out.extend(
                traces
                    .into_iter()
                    .map(|t| (set.name.clone(), t.name, held_out)),
            );
        }
    }
    out
}

fn optimum_err(env: &Env) -> impl Fn(neuralstream_optimum::OptimumError) -> LearnError + '_ {
    move |source| LearnError::Optimum {
        trace: env.trace.name.clone(),
        source,
    }
}

fn sim_err(env: &Env) -> impl Fn(neuralstream_sim::SimError) -> LearnError + '_ {
    move |source| LearnError::Sim {
        trace: env.trace.name.clone(),
        source,
    }
}

/// Plays `abr` on `env` from the window's start (`sim` as given: noise-free here) into `log`.
fn run_env(
    abr: &mut dyn Abr,
    env: &Env,
    videos: &[TrainVideo],
    sim: &SimConfig,
    log: &mut SessionLog,
) -> Result<(), LearnError> {
    let v = &videos[env.video];
    run_session(
        sim,
        &env.trace,
        &v.video,
        abr,
        StartPosition::Beginning,
        None,
        log,
    )
    .map_err(sim_err(env))
}

/// Solves every environment's optimum and records its decisions.
fn collect_demos(
    envs: &[Env],
    videos: &[TrainVideo],
    spec: &AgnosticSpec,
    sim: &SimConfig,
    cfg: &AgnosticConfig,
) -> Result<Samples, LearnError> {
    let parts: Vec<Samples> = envs
        .par_iter()
        .map(|env| {
            let plan = optimum_plan(env, videos, sim, cfg)?;
            let mut rec = Recorder {
                spec,
                levels: plan.levels,
                data: Samples::new(),
                buf: Vec::new(),
            };
            run_env(&mut rec, env, videos, sim, &mut SessionLog::default())?;
            Ok(rec.data)
        })
        .collect::<Result<_, LearnError>>()?;
    let mut data = Samples::new();
    for p in parts {
        data.extend(p);
    }
    Ok(data)
}

/// What validation compares a policy with on every validation environment.
struct References {
    /// The optimum's QoE (empty with [`Selection::Bar`]).
    optimum: Vec<f64>,
    /// The QoEs of the bar's rules ([`selection::RULES`]).
    rules: Vec<[f64; 4]>,
}

/// The rules' QoEs on every environment, and the optimum's with [`Selection::Regret`].
fn references(
    envs: &[Env],
    videos: &[TrainVideo],
    sim: &SimConfig,
    cfg: &AgnosticConfig,
) -> Result<References, LearnError> {
    let optimum = match cfg.selection {
        Selection::Regret => optimum_qoes(envs, videos, sim, cfg)?,
        Selection::Bar | Selection::Grid => Vec::new(),
    };
    let rules = curriculum::rule_qoes(envs, videos, sim, cfg.skip_chunks)?;
    Ok(References { optimum, rules })
}

/// The optimum's QoE of every environment.
fn optimum_qoes(
    envs: &[Env],
    videos: &[TrainVideo],
    sim: &SimConfig,
    cfg: &AgnosticConfig,
) -> Result<Vec<f64>, LearnError> {
    envs.par_iter()
        .map(|env| optimum_plan(env, videos, sim, cfg).map(|p| p.qoe))
        .collect()
}

/// The offline optimum of `env`, from [`AgnosticConfig::optimum_cache`] when it holds it.
fn optimum_plan(
    env: &Env,
    videos: &[TrainVideo],
    sim: &SimConfig,
    cfg: &AgnosticConfig,
) -> Result<neuralstream_optimum::Plan, LearnError> {
    let v = &videos[env.video];
    let problem = optimum_cache::Problem {
        sim,
        trace: &env.trace,
        video: &v.video,
        qoe: &v.qoe,
        skip_chunks: cfg.skip_chunks,
        params: &cfg.optimum,
    };
    optimum_cache::solve_cached(cfg.optimum_cache.as_deref(), &problem, optimum_err(env))
}

/// Plays `policy` on the validation environments and measures every (set, video) group: its
/// normalised regret to the optimum (negated; with [`Selection::Regret`]) and its margins to the
/// bar ([`selection`]). The score is the mean of the groups' regret scores ([`Selection::Regret`])
/// or [`selection::selection_score`] of the margins ([`Selection::Bar`]).
fn validation_score<P: Abr + Clone + Send + Sync>(
    policy: &P,
    envs: &[Env],
    refs: &References,
    sets: &[TraceSet],
    videos: &[TrainVideo],
    sim: &SimConfig,
    cfg: &AgnosticConfig,
) -> Result<Validation, LearnError> {
    let qoes: Vec<(f64, f64)> = envs
        .par_iter()
        .map_init(
            || (policy.clone(), SessionLog::default()),
            |(abr, log), env| curriculum::play(abr, env, videos, sim, cfg.skip_chunks, log),
        )
        .collect::<Result<_, LearnError>>()?;
    let mut regret_groups = Vec::new();
    let mut margins = Vec::new();
    for (s, set) in sets.iter().enumerate() {
        for (vi, v) in videos.iter().enumerate() {
            let members: Vec<usize> = (0..envs.len())
                .filter(|&i| envs[i].set == s && envs[i].video == vi)
                .collect();
            if members.is_empty() {
                continue;
            }
            if !refs.optimum.is_empty() {
                let (mut regret, mut most) = (0.0, 0.0);
                for &i in &members {
                    regret += refs.optimum[i] - qoes[i].0;
                    most += qoes[i].1;
                }
                if most > 0.0 {
                    regret_groups.push((set.name.clone(), v.video.name.clone(), -regret / most));
                }
            }
            let policy_qoes: Vec<f64> = members.iter().map(|&i| qoes[i].0).collect();
            let rule_qoes: Vec<[f64; 4]> = members.iter().map(|&i| refs.rules[i]).collect();
            let scale = members.iter().map(|&i| qoes[i].1).sum::<f64>() / members.len() as f64;
            margins.push(selection::group_margin(
                &set.name,
                &v.video.name,
                &policy_qoes,
                &rule_qoes,
                scale,
            ));
        }
    }
    let score = match cfg.selection {
        Selection::Regret if regret_groups.is_empty() => 0.0,
        Selection::Regret => {
            regret_groups.iter().map(|g| g.2).sum::<f64>() / regret_groups.len() as f64
        }
        Selection::Bar => selection::selection_score(&margins, &cfg.bar),
        Selection::Grid => match &cfg.home_group {
            Some((set, video)) => selection::grid_score_with_home(
                &margins,
                cfg.p10_weight,
                set,
                video,
                cfg.home_weight,
            ),
            None => selection::grid_score(&margins, cfg.p10_weight),
        },
    };
    Ok(Validation {
        score,
        regret_groups,
        margins,
    })
}

/// Measures a trained `policy` on the validation split `train_agnostic` would use with the same
/// `sets`, `videos` and `cfg` (its seed, split, windows and [`Selection`]): the selection score,
/// the groups' regret scores (with [`Selection::Regret`]) and every group's margins to the bar.
/// For comparing policies trained by different recipes on equal terms; `policy` is any policy
/// that plays every validation ladder (an [`AgnosticAbr`], an ensemble of them, a loaded
/// [`neuralstream_policy::Policy`]).
pub fn validate_agnostic<P: Abr + Clone + Send + Sync>(
    policy: &P,
    sets: &[TraceSet],
    videos: &[TrainVideo],
    cfg: &AgnosticConfig,
) -> Result<Validation, LearnError> {
    let sim = checked_sim(videos, cfg)?;
    let (_, val_envs) = environments(sets, videos, cfg)?;
    let refs = references(&val_envs, videos, &sim, cfg)?;
    validation_score(policy, &val_envs, &refs, sets, videos, &sim, cfg)
}

/// DAgger: the learner plays every environment; `dagger_states_per_session` of the states it
/// visits are labelled with the optimum of the rest of the session from there.
fn relabel(
    learner: &AgnosticAbr,
    envs: &[Env],
    videos: &[TrainVideo],
    spec: &AgnosticSpec,
    sim: &SimConfig,
    cfg: &AgnosticConfig,
    round: usize,
) -> Result<Samples, LearnError> {
    let parts: Vec<Samples> = envs
        .par_iter()
        .enumerate()
        .map_init(
            || (learner.clone(), SessionLog::default(), Vec::new()),
            |(abr, log, buf), (i, env)| {
                let v = &videos[env.video];
                run_env(abr, env, videos, sim, log)?;
                let total = log.records.len();
                let mut chunks: Vec<usize> = (1..total).collect();
                let mut rng = Rng::new(cfg.seed ^ (round as u64) << 32).fork(i as u64);
                for j in (1..chunks.len()).rev() {
                    chunks.swap(j, rng.below(j + 1));
                }
                chunks.truncate(cfg.dagger_states_per_session);
                chunks.sort_unstable();
                let mut data = Samples::new();
                let mut session =
                    Session::new(sim, &env.trace, &v.video, StartPosition::Beginning, None);
                let mut played = 0;
                for k in chunks {
                    while played < k {
                        session
                            .step(log.records[played].level)
                            .map_err(sim_err(env))?;
                        played += 1;
                    }
                    let last_level = log.records[k - 1].level;
                    let plan = solve_from(
                        sim,
                        &session,
                        last_level,
                        &v.qoe,
                        cfg.skip_chunks,
                        &cfg.teacher,
                    )
                    .map_err(optimum_err(env))?;
                    let Some(&label) = plan.levels.first() else {
                        continue;
                    };
                    let obs = Observation {
                        video: &v.video,
                        next_chunk: k,
                        total_chunks: total,
                        buffer_s: session.buffer_s(),
                        last_level,
                        history: &log.records[..k],
                    };
                    data.push(spec, &obs, label, None, buf);
                }
                Ok(data)
            },
        )
        .collect::<Result<_, LearnError>>()?;
    let mut data = Samples::new();
    for p in parts {
        data.extend(p);
    }
    Ok(data)
}

/// One epoch of minibatch training with a softmax over each decision's levels; the mean loss.
fn train_epoch(
    actor: &mut Mlp,
    adam: &mut Adam,
    data: &Samples,
    batch_size: usize,
    rng: &mut SplitMix64,
) -> f64 {
    let n = data.len();
    let row_len = actor.input_dim();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let (mut rows, mut offsets, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut soft = Vec::new();
    let (mut loss_sum, mut batches) = (0.0, 0usize);
    for chunk in order.chunks(batch_size.max(1)) {
        rows.clear();
        offsets.clear();
        labels.clear();
        soft.clear();
        offsets.push(0);
        for &i in chunk {
            let (lo, hi) = (data.offsets[i], data.offsets[i + 1]);
            rows.extend_from_slice(&data.rows[lo * row_len..hi * row_len]);
            offsets.push(offsets.last().copied().unwrap_or(0) + hi - lo);
            labels.push(data.labels[i]);
            if let Some(p) = &data.soft {
                soft.extend_from_slice(&p[lo..hi]);
            }
        }
        let total = offsets.last().copied().unwrap_or(0);
        let scores = actor.forward_train(&rows, total).to_vec();
        let out = match data.soft {
            Some(_) => loss::grouped_soft_cross_entropy(&scores, &offsets, &soft),
            None => loss::grouped_cross_entropy(&scores, &offsets, &labels, None),
        };
        actor.zero_grad();
        actor.backward(&out.grad);
        adam.step(&mut [("actor", actor)]);
        loss_sum += out.loss as f64;
        batches += 1;
    }
    loss_sum / batches.max(1) as f64
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use neuralstream_core::{Ladder, QoeModel};
    use neuralstream_data::synthetic::{synthetic_video, TraceGenerator};

    pub(super) fn video(name: &str, kbps: &[f64], chunk_s: f64) -> TrainVideo {
        let video = synthetic_video(name, &Ladder::from_kbps(kbps), 12, chunk_s, 3);
        let qoe = QoeModel::for_video("lin", &video)
            .unwrap()
            .compile(&video)
            .unwrap();
        TrainVideo { video, qoe }
    }

    pub(super) fn tiny() -> AgnosticConfig {
        AgnosticConfig {
            epochs: 2,
            dagger_rounds: 1,
            dagger_sessions_per_round: 4,
            dagger_states_per_session: 2,
            dagger_epochs: 1,
            max_windows_per_set: 6,
            max_val_windows_per_set: 2,
            window_s: 60.0,
            hop_s: 60.0,
            hidden: vec![8],
            pi: AgnosticPiConfig {
                iterations: 1,
                sessions_per_iter: 4,
                states_per_session: 2,
                epochs: 1,
                ..AgnosticPiConfig::default()
            },
            ..AgnosticConfig::default()
        }
    }

    #[test]
    fn trains_on_ladders_of_different_sizes_deterministically() {
        let gen = TraceGenerator {
            duration_s: 120.0,
            ..TraceGenerator::default()
        };
        let sets = vec![TraceSet {
            name: "synthetic".into(),
            traces: gen.traces(5, 6),
        }];
        let videos = vec![
            video("three", &[300.0, 1200.0, 4000.0], 4.0),
            video("five", &[500.0, 1000.0, 2000.0, 4000.0, 8000.0], 2.0),
        ];
        let run =
            || train_agnostic(&sets, &videos, &tiny(), PolicyMeta::default(), &mut |_| {}).unwrap();
        let a = run();
        assert_eq!(a.curve.len(), 4);
        assert_eq!(a.curve[3].stage, "pi");
        assert!(a.samples > 0 && a.train_envs == 12);
        assert!(a.best_val_score.is_finite());
        assert_eq!(a.groups.len(), 2);
        assert_eq!(a.regret_groups.len(), 2, "the default selects by regret");
        assert!(
            a.best_val_score <= 1e-9,
            "minus a regret: {}",
            a.best_val_score
        );
        let b = run();
        assert_eq!(
            a.policy.actor(),
            b.policy.actor(),
            "same seed, same weights"
        );
        let bar = AgnosticConfig {
            selection: Selection::Bar,
            ..tiny()
        };
        let c = train_agnostic(&sets, &videos, &bar, PolicyMeta::default(), &mut |_| {}).unwrap();
        assert!(c.regret_groups.is_empty(), "no optimum on validation");
        assert_eq!(c.groups.len(), 2);
        assert_eq!(
            c.best_val_score,
            c.curve.iter().map(|p| p.val_score).fold(f64::MIN, f64::max)
        );
    }

    #[test]
    fn the_split_names_every_trace_once_and_follows_the_split_seed() {
        let sets = synthetic_sets(120.0, &[("a", 1, 20), ("b", 2, 7)]);
        let cfg = tiny();
        let split = split_of(&sets, &cfg);
        assert_eq!(split.len(), 27);
        let held: Vec<&(String, String, bool)> = split.iter().filter(|r| r.2).collect();
        assert_eq!(held.iter().filter(|r| r.0 == "a").count(), 3, "15 % of 20");
        let mut names: Vec<(&str, &str)> =
            split.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 27, "every trace once");
        // The validation environments are windows of the held-out traces only.
        let videos = vec![video("three", &[300.0, 1200.0, 4000.0], 4.0)];
        let (_, val) = environments(&sets, &videos, &cfg).unwrap();
        assert!(val.iter().all(|e| held
            .iter()
            .any(|h| e.trace.name.starts_with(&format!("{}@", h.1)))));
        let other = AgnosticConfig {
            split_seed: Some(99),
            ..tiny()
        };
        assert_ne!(
            split_of(&sets, &other),
            split,
            "another split seed, another split"
        );
        let same = AgnosticConfig {
            seed: 5,
            split_seed: Some(cfg.seed),
            ..tiny()
        };
        assert_eq!(split_of(&sets, &same), split);
    }

    #[test]
    fn the_bar_selection_validates_on_more_windows() {
        assert_eq!(AgnosticConfig::default().selection, Selection::Regret);
        let bar = AgnosticConfig::with_selection(Selection::Bar);
        assert_eq!(bar.max_val_windows_per_set, BAR_VAL_WINDOWS_PER_SET);
        let regret = AgnosticConfig::with_selection(Selection::Regret);
        assert_eq!(regret.max_val_windows_per_set, 10);
    }

    /// Trace sets of the default generator's `duration_s` traces: (name, seed, traces) each.
    pub(super) fn synthetic_sets(duration_s: f64, sets: &[(&str, u64, usize)]) -> Vec<TraceSet> {
        let gen = TraceGenerator {
            duration_s,
            ..TraceGenerator::default()
        };
        sets.iter()
            .map(|&(name, seed, n)| TraceSet {
                name: name.into(),
                traces: gen.traces(seed, n),
            })
            .collect()
    }

    #[test]
    fn the_grid_selection_validates_held_out_videos_on_every_trace_and_averages() {
        let sets = synthetic_sets(120.0, &[("synthetic", 5, 8), ("validation-only", 6, 3)]);
        let videos = vec![
            video("three", &[300.0, 1200.0, 4000.0], 4.0),
            video("five", &[500.0, 1000.0, 2000.0, 4000.0, 8000.0], 2.0),
            video("held", &[400.0, 900.0, 2500.0, 6000.0], 3.0),
        ];
        let cfg = AgnosticConfig {
            validation: ValidationSet {
                val_videos: vec![0, 2],
                held_out_videos: vec![2],
                every_trace: true,
                held_out_sets: vec![1],
            },
            ..AgnosticConfig {
                max_val_windows_per_set: 64,
                selection: Selection::Grid,
                average: 2,
                pi: AgnosticPiConfig {
                    iterations: 3,
                    ..tiny().pi
                },
                ..tiny()
            }
        };
        let (train, val) = environments(&sets, &videos, &cfg).unwrap();
        assert!(train.iter().all(|e| e.video != 2), "held out of training");
        assert!(
            train.iter().all(|e| e.set == 0),
            "a held-out set never trains"
        );
        let held: Vec<&Env> = val.iter().filter(|e| e.set == 1).collect();
        assert_eq!(
            held.len(),
            3 * 2 * 2,
            "3 traces of 2 windows each, 2 videos"
        );
        assert!(train.iter().any(|e| e.video == 0) && train.iter().any(|e| e.video == 1));
        // 8 traces, 15 % held out: 1 trace of 120 s, one window of 60 s every 60 s... twice.
        let (_, va) = split_traces(
            &sets[0].traces,
            cfg.val_fraction,
            cfg.seed ^ 0x9e37_79b9_7f4a_7c15,
        );
        let windows: usize = va.iter().map(|t| windows(t, 60.0, 60.0).len()).sum();
        assert_eq!(
            val.len() - held.len(),
            2 * windows,
            "every window of every validation trace, 2 videos"
        );
        assert!(val.iter().all(|e| e.video != 1));
        let a = train_agnostic(&sets, &videos, &cfg, PolicyMeta::default(), &mut |_| {}).unwrap();
        assert!(a.regret_groups.is_empty(), "no optimum on validation");
        let groups: Vec<(&str, &str)> = a
            .groups
            .iter()
            .map(|g| (g.set.as_str(), g.video.as_str()))
            .collect();
        assert_eq!(
            groups,
            [
                ("synthetic", "three"),
                ("synthetic", "held"),
                ("validation-only", "three"),
                ("validation-only", "held")
            ]
        );
        let stages: Vec<&str> = a.curve.iter().map(|p| p.stage).collect();
        assert_eq!(&stages[stages.len() - 2..], ["avg-last", "avg-best"]);
        assert_eq!(
            a.best_val_score,
            a.curve.iter().map(|p| p.val_score).fold(f64::MIN, f64::max),
            "the best of checkpoints and averages"
        );
        let b = train_agnostic(&sets, &videos, &cfg, PolicyMeta::default(), &mut |_| {}).unwrap();
        assert_eq!(
            a.policy.actor(),
            b.policy.actor(),
            "same seed, same weights"
        );
    }

    #[test]
    fn the_home_share_pairs_every_home_window_with_its_video() {
        let sets = synthetic_sets(240.0, &[("home", 1, 10), ("away", 2, 10)]);
        let videos = vec![
            video("a", &[300.0, 1200.0, 4000.0], 4.0),
            video("b", &[500.0, 1000.0, 2000.0], 2.0),
            video("c", &[400.0, 900.0, 2500.0], 3.0),
        ];
        let base = AgnosticConfig {
            max_windows_per_set: 4,
            videos_per_window: 1,
            ..tiny()
        };
        let cfg = AgnosticConfig {
            home: Some(HomeShare {
                set: "home".into(),
                video: "c".into(),
                max_windows: 12,
            }),
            ..base.clone()
        };
        let (train, val) = environments(&sets, &videos, &cfg).unwrap();
        let home: Vec<&Env> = train.iter().filter(|e| e.set == 0).collect();
        assert_eq!(home.len(), 12, "the home set's own cap");
        assert!(
            home.iter().all(|e| e.video == 2),
            "every home window plays the home video"
        );
        assert_eq!(train.iter().filter(|e| e.set == 1).count(), 4);
        let (_, plain_val) = environments(&sets, &videos, &base).unwrap();
        assert_eq!(val.len(), plain_val.len(), "validation is unchanged");
        let wrong = AgnosticConfig {
            home: Some(HomeShare {
                set: "home".into(),
                video: "nope".into(),
                max_windows: 12,
            }),
            ..base
        };
        let e = environments(&sets, &videos, &wrong)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'nope'") && e.contains("a, b, c"), "{e}");
    }

    #[test]
    fn a_fixed_split_seed_gives_every_training_seed_the_same_environments() {
        let sets = vec![TraceSet {
            name: "s".into(),
            traces: TraceGenerator::default().traces(3, 12),
        }];
        let videos = vec![
            video("a", &[300.0, 1200.0, 4000.0], 4.0),
            video("b", &[500.0, 1000.0, 2000.0], 2.0),
            video("c", &[400.0, 900.0, 2500.0], 3.0),
        ];
        let names = |cfg: &AgnosticConfig| {
            let (train, val) = environments(&sets, &videos, cfg).unwrap();
            let key = |e: &Env| (e.trace.name.clone(), e.video);
            (
                train.iter().map(key).collect::<Vec<_>>(),
                val.iter().map(key).collect::<Vec<_>>(),
            )
        };
        let at = |seed: u64, split_seed: Option<u64>| AgnosticConfig {
            seed,
            split_seed,
            videos_per_window: 1,
            ..tiny()
        };
        assert_eq!(names(&at(1, None)), names(&at(2, Some(1))));
        assert_eq!(names(&at(7, Some(1))), names(&at(2, Some(1))));
        assert_ne!(
            names(&at(1, None)),
            names(&at(2, None)),
            "the seed moves the split"
        );
    }

    #[test]
    fn a_one_level_video_is_refused_by_name() {
        let sets = vec![TraceSet {
            name: "s".into(),
            traces: TraceGenerator::default().traces(1, 2),
        }];
        let videos = vec![video("single", &[1000.0], 4.0)];
        let e = train_agnostic(&sets, &videos, &tiny(), PolicyMeta::default(), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("single") && e.contains("1 levels"), "{e}");
    }
}
