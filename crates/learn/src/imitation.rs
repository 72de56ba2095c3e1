//! Behaviour cloning of the offline optimum with DAgger relabeling (the warm start of the
//! Comyco/SABR recipe).
//!
//! 1. Split the training traces (whole traces, before windowing, so no window of a validation
//!    trace is trained on) into train / validation by a seeded shuffle.
//! 2. Cut every trace into windows ([`mod@crate::windows`]) and solve the offline optimum of each
//!    window ([`neuralstream_optimum::solve`], rayon across windows).
//! 3. Replay each plan through the simulator with a recorder that computes the policy's features
//!    from each [`Observation`] and stores `(features, optimal level)`.
//! 4. Train the actor with cross-entropy and Adam in shuffled minibatches; after every epoch score
//!    the greedy policy on the validation windows (test mode) and keep the best by validation QoE.
//! 5. DAgger rounds ([`mod@crate::dagger`]): roll the current learner out on a seeded subset of the
//!    training windows, label some of the states it visits with the optimum of the rest of the
//!    session from there ([`neuralstream_optimum::solve_from`]), add them to the dataset and train
//!    further, still selecting by validation QoE.
//!
//! Everything is deterministic given [`ImitationConfig::seed`]: the optimum and the simulator are
//! deterministic, rayon results are collected in order, and training is single-threaded.

use crate::dagger::{relabel_learner_states, RelabelConfig};
pub use crate::dataset::Dataset;
use crate::error::{check, ConfigError, LearnError};
use crate::validation::{ValMetric, Validator};
use crate::windows::windows;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Abr, Decision, Observation, QoeModel, Trace, Video};
use neuralstream_nn::{loss, Activation, Adam, AdamConfig, Mlp, SplitMix64};
use neuralstream_optimum::{solve, OptimumParams};
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::{LearnedAbr, PolicyMeta};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use rayon::prelude::*;
use std::time::Instant;

/// Settings of [`train_imitation`].
#[derive(Debug, Clone)]
pub struct ImitationConfig {
    /// Seed of the split, the initialisation and the minibatch order.
    pub seed: u64,
    /// Hidden layer widths of the actor.
    pub hidden: Vec<usize>,
    /// Adam learning rate.
    pub lr: f32,
    /// Minibatch size, samples.
    pub batch_size: usize,
    /// Passes over the dataset at most.
    pub epochs: usize,
    /// Stop after the epoch during which this much wall time (including data collection) has
    /// passed, seconds.
    pub max_wall_s: f64,
    /// Fraction of the training traces held out for validation (checkpoint selection).
    pub val_fraction: f64,
    /// Length of a session window cut from a training trace, seconds.
    pub window_s: f64,
    /// Distance between window starts, seconds.
    pub hop_s: f64,
    /// Distance between validation window starts, seconds (shorter than `hop_s`: more, overlapping
    /// validation sessions average out the noise of a small validation split).
    pub val_hop_s: f64,
    /// Simulator used for solving, recording and validating (delay noise is ignored).
    pub sim: SimConfig,
    /// QoE model to imitate and to validate with.
    pub qoe: QoeModel,
    /// Chunks not scored at the start of a session (Pensieve: 1).
    pub skip_chunks: usize,
    /// Parameters of the offline optimum.
    pub optimum: OptimumParams,
    /// DAgger rounds after behaviour cloning (0: plain behaviour cloning).
    pub dagger_rounds: usize,
    /// Training windows the learner is rolled out on per round (seeded subset; all if fewer).
    pub dagger_sessions_per_round: usize,
    /// Visited states labelled per rolled-out session.
    pub dagger_states_per_session: usize,
    /// Epochs over the aggregated dataset after each round.
    pub dagger_epochs: usize,
    /// Search parameters of the relabeling teacher (coarser than `optimum`: it runs many times).
    pub teacher: OptimumParams,
    /// How validation session QoEs are combined for checkpoint selection.
    pub val_metric: ValMetric,
    /// Past chunks the features describe ([`FeatureSpec::history_len`]).
    pub history_len: usize,
}

impl Default for ImitationConfig {
    /// Two hidden layers of 128 ReLU units, lr 1e-3, batch 256, 20 behaviour-cloning epochs, then 10
    /// DAgger rounds (200 sessions x 16 states, 4 epochs each), no wall-time cap of its own (the
    /// pipeline passes its budget), 15 % validation,
    /// 320 s windows every 160 s, Pensieve's simulator, QoE_lin skipping chunk 0.
    fn default() -> Self {
        ImitationConfig {
            seed: 1,
            hidden: vec![128, 128],
            lr: 1e-3,
            batch_size: 256,
            epochs: 20,
            max_wall_s: 1e9,
            val_fraction: 0.15,
            window_s: 320.0,
            hop_s: 160.0,
            val_hop_s: 80.0,
            sim: SimConfig::pensieve(),
            qoe: QoeModel::lin(),
            skip_chunks: 1,
            optimum: OptimumParams::default(),
            dagger_rounds: 10,
            dagger_sessions_per_round: 200,
            dagger_states_per_session: 16,
            dagger_epochs: 4,
            teacher: OptimumParams {
                buffer_bucket_s: 1.0,
                ..OptimumParams::default()
            },
            val_metric: ValMetric::default(),
            history_len: FeatureSpec::new(1).history_len,
        }
    }
}

impl ImitationConfig {
    /// Checks the ranges of the settings a caller chooses; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("epochs", self.epochs)?;
        check::at_least_one("batch_size", self.batch_size)?;
        check_hidden("hidden", &self.hidden)?;
        check::learning_rate("lr", self.lr)
    }
}

/// Widest hidden layer a new network may have (a 4096 x 4096 layer is 64 MB of weights).
pub const MAX_HIDDEN_WIDTH: usize = 4096;
/// Most hidden layers a new network may have.
pub const MAX_HIDDEN_LAYERS: usize = 8;

/// Hidden widths of a new network: at most [`MAX_HIDDEN_LAYERS`] layers of 1 to
/// [`MAX_HIDDEN_WIDTH`] units, refused before any memory is asked for.
pub(crate) fn check_hidden(field: &str, hidden: &[usize]) -> Result<(), ConfigError> {
    let ok = hidden.len() <= MAX_HIDDEN_LAYERS
        && hidden.iter().all(|&w| (1..=MAX_HIDDEN_WIDTH).contains(&w));
    check::ensure(
        ok,
        field,
        &format!(
            "be at most {MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN_WIDTH} units each (the \
             default 128,128 is what the recorded results use)"
        ),
        format!("{hidden:?}"),
    )
}

/// One line of the training curve.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// DAgger round (0: behaviour cloning on the optimum's own paths).
    pub round: usize,
    /// Epoch number, 1-based (0: before training).
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's minibatches.
    pub loss: f64,
    /// Fraction of training samples whose argmax equals the teacher's level (on this epoch's batches).
    pub accuracy: f64,
    /// Validation QoE (session QoEs combined with [`ImitationConfig::val_metric`]).
    pub val_qoe: f64,
    /// Wall time since training started (data collection included), seconds.
    pub wall_s: f64,
    /// Size of the (aggregated) dataset this epoch trained on.
    pub samples: usize,
}

/// What [`train_imitation`] returns.
#[derive(Debug, Clone)]
pub struct ImitationReport {
    /// The policy with the best validation QoE (the untrained one if no epoch beat it).
    pub policy: LearnedAbr,
    /// Its validation QoE.
    pub best_val_qoe: f64,
    /// Epoch that produced it (0: untrained).
    pub best_epoch: usize,
    /// The best policy of the behaviour-cloning epochs alone (before any DAgger round).
    pub bc_policy: LearnedAbr,
    /// Its validation QoE.
    pub bc_val_qoe: f64,
    /// Optimum QoE on the validation windows, combined like `val_qoe` (the ceiling).
    pub val_optimum_qoe: f64,
    /// Training curve, epoch 0 first.
    pub history: Vec<EpochStats>,
    /// Training samples at the end (optimum demonstrations plus relabeled learner states).
    pub samples: usize,
    /// Training and validation windows used.
    pub windows: (usize, usize),
    /// Time spent solving the optimum and recording, seconds.
    pub collect_s: f64,
}

/// Splits traces into (train, validation) by a seeded shuffle; at least one trace goes to each
/// side when there are two or more.
pub fn split_traces(traces: &[Trace], val_fraction: f64, seed: u64) -> (Vec<Trace>, Vec<Trace>) {
    let mut idx: Vec<usize> = (0..traces.len()).collect();
    let mut rng = SplitMix64::new(seed ^ SPLIT_SALT);
    for i in (1..idx.len()).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    let mut n_val = (traces.len() as f64 * val_fraction).round() as usize;
    if traces.len() >= 2 {
        n_val = n_val.clamp(1, traces.len() - 1);
    }
    let (val, train) = idx.split_at(n_val);
    let pick = |ix: &[usize]| {
        let mut ix = ix.to_vec();
        ix.sort_unstable();
        ix.into_iter().map(|i| traces[i].clone()).collect()
    };
    (pick(train), pick(val))
}

/// Salt that decorrelates the split from the initialisation for equal seeds.
const SPLIT_SALT: u64 = 0x5eed_0000_5011_7000;

/// A seeded subset of `count` items (all when there are fewer), in their original order.
pub(crate) fn subset<T: Clone>(sessions: &[T], count: usize, seed: u64, round: usize) -> Vec<T> {
    let mut idx: Vec<usize> = (0..sessions.len()).collect();
    let mut rng = SplitMix64::new(seed ^ (round as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for i in (1..idx.len()).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    idx.truncate(count);
    idx.sort_unstable();
    idx.into_iter().map(|i| sessions[i].clone()).collect()
}

/// Records the features of every decision while replaying a fixed schedule.
struct Recorder<'s> {
    spec: &'s FeatureSpec,
    levels: Vec<usize>,
    data: Dataset,
}

impl Abr for Recorder<'_> {
    fn name(&self) -> String {
        "recorder".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let level = self.levels.get(obs.next_chunk).copied().unwrap_or(0);
        let start = self.data.features.len();
        self.data.features.resize(start + self.spec.len(), 0.0);
        self.spec.write(obs, &mut self.data.features[start..]);
        self.data.labels.push(level);
        Decision::level(level)
    }
}

/// Solves the optimum of every session and records `(features, optimal level)` along its plan.
/// Returns the dataset (in session order) and each session's optimum QoE.
pub fn collect_optimum_demos(
    sessions: &[Trace],
    video: &Video,
    spec: &FeatureSpec,
    cfg: &ImitationConfig,
    qoe: &CompiledQoe,
) -> Result<(Dataset, Vec<f64>), LearnError> {
    let sim = SimConfig {
        delay_noise: None,
        ..cfg.sim.clone()
    };
    let parts: Vec<(Dataset, f64)> = sessions
        .par_iter()
        .map(|trace| {
            let plan = solve(&sim, trace, video, qoe, cfg.skip_chunks, &cfg.optimum).map_err(
                |source| LearnError::Optimum {
                    trace: trace.name.clone(),
                    source,
                },
            )?;
            let mut rec = Recorder {
                spec,
                levels: plan.levels,
                data: Dataset {
                    dim: spec.len(),
                    ..Dataset::default()
                },
            };
            let mut log = SessionLog::default();
            run_session(
                &sim,
                trace,
                video,
                &mut rec,
                StartPosition::Beginning,
                None,
                &mut log,
            )
            .map_err(|source| LearnError::Sim {
                trace: trace.name.clone(),
                source,
            })?;
            Ok((rec.data, plan.qoe))
        })
        .collect::<Result<_, LearnError>>()?;
    let mut data = Dataset {
        dim: spec.len(),
        ..Dataset::default()
    };
    let mut qoes = Vec::with_capacity(parts.len());
    for (d, q) in parts {
        data.extend(d);
        qoes.push(q);
    }
    Ok((data, qoes))
}

/// One epoch of minibatch cross-entropy training; returns (mean loss, accuracy).
pub fn train_epoch(
    actor: &mut Mlp,
    adam: &mut Adam,
    data: &Dataset,
    batch_size: usize,
    rng: &mut SplitMix64,
) -> (f64, f64) {
    let n = data.len();
    let n_actions = actor.output_dim();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut batch = Vec::with_capacity(batch_size * data.dim);
    let mut labels = Vec::with_capacity(batch_size);
    let (mut loss_sum, mut batches, mut correct) = (0.0, 0usize, 0usize);
    for chunk in order.chunks(batch_size) {
        batch.clear();
        labels.clear();
        for &i in chunk {
            batch.extend_from_slice(&data.features[i * data.dim..(i + 1) * data.dim]);
            labels.push(data.labels[i]);
        }
        let logits = actor.forward_train(&batch, chunk.len());
        for (row, &t) in logits.chunks(n_actions).zip(&labels) {
            correct += usize::from(neuralstream_policy::argmax(row) == t);
        }
        let out = loss::cross_entropy(logits, n_actions, &labels, None);
        actor.zero_grad();
        actor.backward(&out.grad);
        adam.step(&mut [("actor", actor)]);
        loss_sum += out.loss as f64;
        batches += 1;
    }
    (
        loss_sum / batches.max(1) as f64,
        correct as f64 / n.max(1) as f64,
    )
}

/// Trains a [`LearnedAbr`] by behaviour cloning of the offline optimum on `traces` (training
/// traces only: never pass test traces), selecting the checkpoint by validation QoE.
/// `progress` is called after every epoch (epoch 0: the untrained policy).
pub fn train_imitation(
    traces: &[Trace],
    video: &Video,
    cfg: &ImitationConfig,
    progress: impl FnMut(&EpochStats),
) -> Result<ImitationReport, LearnError> {
    let (train, val) = split_traces(traces, cfg.val_fraction, cfg.seed);
    train_imitation_split(&train, &val, video, cfg, progress)
}

/// [`train_imitation`] on an explicit split: trains on windows of `train`, selects on windows of
/// `val` (both training traces; never pass test traces). `cfg.val_fraction` is not used.
pub fn train_imitation_split(
    train: &[Trace],
    val: &[Trace],
    video: &Video,
    cfg: &ImitationConfig,
    mut progress: impl FnMut(&EpochStats),
) -> Result<ImitationReport, LearnError> {
    let t0 = Instant::now();
    let qoe = cfg.qoe.compile(video)?;
    let cut = |ts: &[Trace], hop_s: f64| -> Vec<Trace> {
        ts.iter()
            .flat_map(|t| windows(t, cfg.window_s, hop_s))
            .collect()
    };
    let train_w = cut(train, cfg.hop_s);
    let sim_test = SimConfig {
        delay_noise: None,
        ..cfg.sim.clone()
    };
    let spec = FeatureSpec {
        history_len: cfg.history_len,
        ..FeatureSpec::new(video.num_levels())
    };
    let validator = Validator::new(
        val,
        cfg.window_s,
        cfg.val_hop_s,
        video,
        &sim_test,
        &qoe,
        &spec,
        cfg.skip_chunks,
    )
    .with_metric(cfg.val_metric);
    let val_w = &validator.sessions;
    if train_w.is_empty() || val_w.is_empty() {
        return Err(LearnError::Empty(format!(
            "need training and validation sessions, got {} and {} (from {} and {} traces)",
            train_w.len(),
            val_w.len(),
            train.len(),
            val.len()
        )));
    }
    let (data, _) = collect_optimum_demos(&train_w, video, &spec, cfg, &qoe)?;
    let val_optimum_qoe = {
        let q: Vec<f64> = val_w
            .par_iter()
            .map(|t| {
                solve(&cfg.sim, t, video, &qoe, cfg.skip_chunks, &cfg.optimum)
                    .map(|p| p.qoe)
                    .map_err(|source| LearnError::Optimum {
                        trace: t.name.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        validator.combine(&q, cfg.val_metric)
    };
    let collect_s = t0.elapsed().as_secs_f64();

    let mut sizes = vec![spec.len()];
    sizes.extend(&cfg.hidden);
    sizes.push(spec.num_levels);
    let mut actor = Mlp::new(&sizes, Activation::Relu, cfg.seed);
    let mut adam = Adam::new(AdamConfig::with_lr(cfg.lr));
    let mut rng = SplitMix64::new(cfg.seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let meta = PolicyMeta {
        qoe: cfg.qoe.spec(),
        seed: Some(cfg.seed),
        ..PolicyMeta::default()
    };
    let validate = |actor: &Mlp| validator.score(actor);
    let first = EpochStats {
        round: 0,
        epoch: 0,
        loss: f64::NAN,
        accuracy: f64::NAN,
        val_qoe: validate(&actor)?,
        wall_s: t0.elapsed().as_secs_f64(),
        samples: 0,
    };
    progress(&first);
    let (mut best_val_qoe, mut best_epoch, mut best_actor) = (first.val_qoe, 0, actor.clone());
    let (mut bc_val_qoe, mut bc_actor) = (first.val_qoe, actor.clone());
    let mut history = vec![first];
    let mut data = data;
    let mut epoch = 0;
    'rounds: for round in 0..=cfg.dagger_rounds {
        if round > 0 {
            let learner = LearnedAbr::new(actor.clone(), spec.clone(), meta.clone());
            let sessions = subset(&train_w, cfg.dagger_sessions_per_round, cfg.seed, round);
            let relabel = RelabelConfig {
                states_per_session: cfg.dagger_states_per_session,
                teacher: cfg.teacher.clone(),
                skip_chunks: cfg.skip_chunks,
                seed: cfg.seed.wrapping_add(round as u64),
            };
            let extra = relabel_learner_states(
                &learner, &sessions, video, &spec, &cfg.sim, &qoe, &relabel,
            )?;
            data.extend(extra);
        }
        let epochs = if round == 0 {
            cfg.epochs
        } else {
            cfg.dagger_epochs
        };
        for _ in 0..epochs {
            epoch += 1;
            let (loss, accuracy) =
                train_epoch(&mut actor, &mut adam, &data, cfg.batch_size, &mut rng);
            let stats = EpochStats {
                round,
                epoch,
                loss,
                accuracy,
                val_qoe: validate(&actor)?,
                wall_s: t0.elapsed().as_secs_f64(),
                samples: data.len(),
            };
            progress(&stats);
            if round == 0 && stats.val_qoe > bc_val_qoe {
                bc_val_qoe = stats.val_qoe;
                bc_actor = actor.clone();
            }
            if stats.val_qoe > best_val_qoe {
                best_val_qoe = stats.val_qoe;
                best_epoch = epoch;
                best_actor = actor.clone();
            }
            let out_of_time = stats.wall_s >= cfg.max_wall_s;
            history.push(stats);
            if out_of_time {
                break 'rounds;
            }
        }
    }
    let mut meta = meta;
    meta.extra
        .insert("val_qoe".into(), format!("{best_val_qoe:.6}"));
    meta.extra
        .insert("best_epoch".into(), best_epoch.to_string());
    meta.extra.insert("trainer".into(), "imitation".into());
    Ok(ImitationReport {
        bc_policy: LearnedAbr::new(bc_actor, spec.clone(), meta.clone()),
        bc_val_qoe,
        policy: LearnedAbr::new(best_actor, spec, meta),
        best_val_qoe,
        best_epoch,
        val_optimum_qoe,
        history,
        samples: data.len(),
        windows: (train_w.len(), val_w.len()),
        collect_s,
    })
}
