//! Online training (`serve --rt-train DIR`): the learned controller of [`crate::dqn`] keeps
//! learning from the live sessions a server answers, and a new network serves only once it has
//! scored at least as well as the serving one on a fixed validation scenario in the simulator.
//!
//! **Transitions** come from the server's records ([`Record`]: each report and the decision it
//! got), one session at a time, through the same [`TransitionBuilder`] `rt train --dataset` runs
//! offline ([`crate::offline`]), with the serving model's estimate, grid and reward, so a live
//! transition is exactly the offline one. Records of every controller count (GCC's decisions map
//! onto the grid as offline); sessions of the learned controller itself explore epsilon-greedily
//! when the server asks for it ([`crate::dqn::DqnController::exploring_live`]). A session whose
//! records arrive with a gap in `seq` (a record the server dropped under load) is not learned
//! from after the gap: its tracker would no longer see what the live controller saw.
//!
//! **Learning** (double DQN, van Hasselt, Guez and Silver, AAAI 2016, as in simulation and
//! offline): a FIFO replay of [`OnlineConfig::replay_capacity`] transitions; one Huber-loss Adam
//! step on a minibatch per [`OnlineConfig::updates_per_transition`] new transitions (an update
//! credit, so a server with no sessions does no work and a busy one does not replay a few
//! transitions forever), none before [`OnlineConfig::learning_starts`]; the target network is
//! refreshed every [`OnlineConfig::target_update_every`] updates. The network trained starts as
//! the serving one.
//!
//! **Gate** ([`OnlineLearner::evaluate`], every [`OnlineConfig::evaluate_every`] updates): the
//! candidate (the network being trained, greedy) plays every validation trace whole with the
//! validation session settings (fixed seed: the same policy always gets the same score); its
//! score is the mean of onl-emu's combined score ([`crate::score`](mod@crate::score)). A candidate with a
//! non-finite weight is rejected without playing, and training restarts from the serving network
//! (fresh optimiser state): a diverged network cannot recover by itself. A finite candidate is
//! written to `candidate.safetensors` with its score; it becomes the serving policy (written to
//! `policy.safetensors`) only when its score is at least the serving policy's, otherwise it is
//! rejected and training goes on from it (DQN's scores fluctuate between evaluations; the gate,
//! not a rollback, keeps a bad one from serving). Every file is written atomically: a temporary
//! file beside it, fsync, rename, fsync of the folder.
//!
//! The default validation scenario ([`builtin_validation`]) is three synthetic 20 s links
//! (steady, a 4x step down, a varying one): deterministic, a few tens of ms per evaluation, and
//! never the test traces. What a learner does with time (its share of a core) is the host's
//! business: the server runs it on one thread paced to `--rt-train-cpu`.

use crate::dataset::Record;
use crate::dqn::{
    double_dqn_step, validation_score, DqnMeta, DqnModel, StepBuffers, StepSettings, TrainConfig,
    N_FEATURES,
};
use crate::error::RtError;
use crate::offline::TransitionBuilder;
use crate::sim::RtConfig;
use crate::trace::LinkTrace;
use neuralstream_nn::{Activation, Adam, AdamConfig, Mlp, Replay, SplitMix64};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File of the serving policy in the training folder.
pub const POLICY_FILE: &str = "policy.safetensors";
/// File of the last evaluated (finite) candidate in the training folder.
pub const CANDIDATE_FILE: &str = "candidate.safetensors";
/// Metadata key of a checkpoint's online-training record (JSON: [`CheckpointInfo`]).
pub const ONLINE_META_KEY: &str = "rt.online";

/// A function applied to the trained network after every update. Tests use it to break updates on
/// purpose (NaN weights, a policy that always picks the lowest setting) and check the gate.
#[derive(Clone)]
pub struct UpdateHook(pub Arc<dyn Fn(&mut Mlp) + Send + Sync>);

impl std::fmt::Debug for UpdateHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpdateHook(..)")
    }
}

impl PartialEq for UpdateHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Settings of [`OnlineLearner`].
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineConfig {
    /// Seed of the minibatch draws. Default 1.
    pub seed: u64,
    /// Adam learning rate. Default 5e-4 (as in simulation).
    pub lr: f32,
    /// Discount per 50 ms interval. Default 0.95.
    pub gamma: f32,
    /// Minibatch size. Default 64.
    pub batch_size: usize,
    /// Replay capacity, transitions (FIFO). Default 100,000 (about 3 MB per 10,000).
    pub replay_capacity: usize,
    /// Transitions held before the first update. Default 1,000.
    pub learning_starts: usize,
    /// Updates per new transition. Default 0.25 (one update per 4 transitions, as `rt train`).
    pub updates_per_transition: f64,
    /// Updates between target-network refreshes. Default 500.
    pub target_update_every: u64,
    /// Updates between evaluations of the candidate. Default 1,000.
    pub evaluate_every: u64,
    /// Huber loss threshold. Default 1.
    pub huber_delta: f32,
    /// Gradient-norm clip. Default 10.
    pub max_grad_norm: f32,
    /// Sessions whose transition builders are kept at once; beyond it the least recently seen is
    /// forgotten. Default 10,000 (the server's session cap).
    pub max_sessions: usize,
    /// Session settings of the validation runs (seed included). Default: the simulator's.
    pub validation_session: RtConfig,
    /// Applied to the network after every update (tests); `None` by default.
    pub after_update: Option<UpdateHook>,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            seed: 1,
            lr: 5e-4,
            gamma: 0.95,
            batch_size: 64,
            replay_capacity: 100_000,
            learning_starts: 1_000,
            updates_per_transition: 0.25,
            target_update_every: 500,
            evaluate_every: 1_000,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            max_sessions: 10_000,
            validation_session: RtConfig::default(),
            after_update: None,
        }
    }
}

impl OnlineConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), RtError> {
        let bad = |field: &str, what: &str| Err(RtError::Config(format!("{field}: {what}")));
        for (field, v) in [
            ("batch_size", self.batch_size),
            ("replay_capacity", self.replay_capacity),
            ("max_sessions", self.max_sessions),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1");
            }
        }
        if self.evaluate_every == 0 || self.target_update_every == 0 {
            return bad(
                "evaluate_every/target_update_every",
                "must be at least 1 update",
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.gamma) {
            return bad("gamma", "must be in [0, 1)");
        }
        if !(self.updates_per_transition.is_finite()
            && (0.0..=64.0).contains(&self.updates_per_transition))
        {
            return bad("updates_per_transition", "must be between 0 and 64");
        }
        self.validation_session.validate()
    }
}

/// The default validation scenario: three 20 s synthetic links, deterministic. `steady`: 2.5
/// Mbit/s, 40 ms RTT; `step-down`: 4 Mbit/s for 8 s then 1 Mbit/s, 60 ms RTT; `varying`: 1, 3,
/// 1.5 and 5 Mbit/s for 5 s each, 50 ms RTT, 0.5% random loss.
pub fn builtin_validation() -> Vec<LinkTrace> {
    /// `(duration_ms, capacity_kbps, loss, rtt_ms)`, as [`LinkTrace::from_steps`] takes them.
    type Steps = &'static [(f64, f64, f64, f64)];
    let sets: [(&str, Steps); 3] = [
        ("steady", &[(20_000.0, 2500.0, 0.0, 40.0)]),
        (
            "step-down",
            &[(8_000.0, 4000.0, 0.0, 60.0), (12_000.0, 1000.0, 0.0, 60.0)],
        ),
        (
            "varying",
            &[
                (5_000.0, 1000.0, 0.005, 50.0),
                (5_000.0, 3000.0, 0.005, 50.0),
                (5_000.0, 1500.0, 0.005, 50.0),
                (5_000.0, 5000.0, 0.005, 50.0),
            ],
        ),
    ];
    sets.iter()
        .map(|(name, steps)| {
            LinkTrace::from_steps(name, "validation", steps).expect("built-in steps are valid")
        })
        .collect()
}

/// Makes `q` choose `action` in every state: its output layer is zeroed but for a bias of 1 on
/// `action`; the hidden layers are left as they are, so the network still learns from there.
pub fn pin_action(q: &mut Mlp, action: usize) {
    let last = format!("{}.", q.layers().len().saturating_sub(1));
    q.visit_params_mut(&mut |name, p, _| {
        if name.starts_with(&last) {
            p.fill(0.0);
            if name.ends_with("bias") {
                if let Some(b) = p.get_mut(action) {
                    *b = 1.0;
                }
            }
        }
    });
}

/// A trainable model (hidden 32, 32; weights from `seed`) that starts as the fixed policy
/// `action` of the default grid ([`pin_action`]), with `rt train`'s estimate (GCC's target) and
/// shield (25 ms): a deliberately simple start for online training. Action 0 (480p, 30 fps, half
/// the estimate) is the weakest.
pub fn fixed_action_model(action: usize, seed: u64) -> DqnModel {
    let cfg = TrainConfig {
        seed,
        ..TrainConfig::default()
    };
    let mut q = Mlp::new(
        &[N_FEATURES, 32, 32, cfg.grid.len()],
        Activation::Relu,
        seed,
    );
    pin_action(&mut q, action);
    DqnModel {
        q,
        // Not validated in the simulator yet (JSON has no NaN): 0 says so.
        meta: DqnMeta {
            validation_onl_qoe: 0.0,
            ..DqnMeta::for_training(&cfg)
        },
    }
}

/// What a checkpoint records of the training that produced it (metadata key
/// [`ONLINE_META_KEY`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointInfo {
    /// Updates made so far.
    pub updates: u64,
    /// Transitions learned from so far.
    pub transitions: u64,
    /// The network's validation score (mean onl-emu combined score).
    pub score: f64,
    /// The serving policy's score when this one was evaluated.
    pub serving_score: f64,
    /// Whether it became the serving policy.
    pub accepted: bool,
}

/// How an evaluation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The candidate serves from now on.
    Swapped,
    /// The candidate does not serve; why.
    Rejected(String),
}

/// One evaluation of the candidate ([`OnlineLearner::evaluate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Updates made so far.
    pub updates: u64,
    /// Transitions learned from so far.
    pub transitions: u64,
    /// The candidate's score; `None` when it was not played (non-finite weights).
    pub candidate_score: Option<f64>,
    /// The serving policy's score before this evaluation.
    pub serving_score: f64,
    /// Swapped in or rejected.
    pub outcome: Outcome,
}

/// One live session's transition builder.
#[derive(Debug)]
struct SessionSlot {
    builder: TransitionBuilder,
    last_seq: u64,
    /// A record was missed: nothing more is learned from this session.
    broken: bool,
    last_seen: u64,
}

/// The online learner: transitions in, updates, gated evaluations (see the module documentation).
#[derive(Debug)]
pub struct OnlineLearner {
    cfg: OnlineConfig,
    dir: PathBuf,
    validation: Vec<LinkTrace>,
    serving: Arc<DqnModel>,
    serving_score: f64,
    q: Mlp,
    target: Mlp,
    adam: Adam,
    replay: Replay,
    rng: SplitMix64,
    bufs: StepBuffers,
    sessions: HashMap<String, SessionSlot>,
    clock: u64,
    credit: f64,
    updates: u64,
    since_evaluation: u64,
    transitions: u64,
}

fn adam(cfg: &OnlineConfig) -> Adam {
    Adam::new(AdamConfig {
        max_grad_norm: Some(cfg.max_grad_norm),
        ..AdamConfig::with_lr(cfg.lr)
    })
}

/// Whether every weight of `q` is finite.
pub fn all_finite(q: &Mlp) -> bool {
    q.named_params()
        .iter()
        .all(|(_, _, p)| p.iter().all(|x| x.is_finite()))
}

impl OnlineLearner {
    /// A learner that trains `start`'s network, checkpoints into `dir` (created if missing) and
    /// gates on `validation` (e.g. [`builtin_validation`]). Scores `start` first (its score is
    /// the bar of the first candidate).
    pub fn new(
        start: Arc<DqnModel>,
        dir: &Path,
        validation: Vec<LinkTrace>,
        cfg: OnlineConfig,
    ) -> Result<Self, RtError> {
        cfg.validate()?;
        if validation.is_empty() {
            return Err(RtError::Config(
                "online training needs at least one validation trace".into(),
            ));
        }
        if !all_finite(&start.q) {
            return Err(RtError::Config(
                "the model to train has non-finite weights".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|source| RtError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let serving_score = validation_score(&start, &validation, &cfg.validation_session, 1)?;
        Ok(OnlineLearner {
            dir: dir.to_path_buf(),
            validation,
            q: start.q.clone(),
            target: start.q.clone(),
            adam: adam(&cfg),
            replay: Replay::new(start.meta.features, cfg.replay_capacity),
            rng: SplitMix64::new(cfg.seed),
            bufs: StepBuffers::default(),
            sessions: HashMap::new(),
            clock: 0,
            credit: 0.0,
            updates: 0,
            since_evaluation: 0,
            transitions: 0,
            serving: start,
            serving_score,
            cfg,
        })
    }

    /// The policy serving now.
    pub fn serving(&self) -> &Arc<DqnModel> {
        &self.serving
    }

    /// Its validation score.
    pub fn serving_score(&self) -> f64 {
        self.serving_score
    }

    /// Updates made so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Transitions learned from so far.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Transitions in the replay now.
    pub fn replay_len(&self) -> usize {
        self.replay.len()
    }

    /// Sessions whose builders are kept now.
    pub fn sessions_tracked(&self) -> usize {
        self.sessions.len()
    }

    /// Folds one server record in; returns the transitions it added (0 or 1).
    pub fn observe(&mut self, record: &Record) -> usize {
        self.clock += 1;
        let meta = &self.serving.meta;
        if !self.sessions.contains_key(&record.session) {
            if record.report.seq != 1 {
                // Joined mid-session (records dropped before): the tracker would start wrong.
                return 0;
            }
            if self.sessions.len() >= self.cfg.max_sessions {
                let oldest = self
                    .sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.sessions.remove(&k);
                }
            }
            self.sessions.insert(
                record.session.clone(),
                SessionSlot {
                    builder: TransitionBuilder::new(meta.estimate, record.source_fps)
                        .with_features(meta.features),
                    last_seq: 0,
                    broken: false,
                    last_seen: 0,
                },
            );
        }
        let Some(slot) = self.sessions.get_mut(&record.session) else {
            return 0;
        };
        slot.last_seen = self.clock;
        if record.report.seq == 1 && slot.last_seq != 0 {
            // The id was used again for a new session.
            *slot = SessionSlot {
                builder: TransitionBuilder::new(meta.estimate, record.source_fps)
                    .with_features(meta.features),
                last_seq: 0,
                broken: false,
                last_seen: self.clock,
            };
        }
        if slot.broken || record.report.seq != slot.last_seq + 1 {
            slot.broken = true;
            return 0;
        }
        slot.last_seq = record.report.seq;
        match slot.builder.push(record, &meta.grid, &meta.reward) {
            Some((o, a, r, o2)) => {
                self.replay.push(&o, a, r, &o2, false);
                self.transitions += 1;
                self.credit += self.cfg.updates_per_transition;
                1
            }
            None => 0,
        }
    }

    /// Forgets a session that ended.
    pub fn end_session(&mut self, session: &str) {
        self.sessions.remove(session);
    }

    /// Whether an update is owed (enough transitions, and credit from new ones).
    pub fn can_update(&self) -> bool {
        self.credit >= 1.0 && self.replay.len() >= self.cfg.learning_starts.max(self.cfg.batch_size)
    }

    /// One update if one is owed; its loss.
    pub fn update(&mut self) -> Option<f32> {
        if !self.can_update() {
            return None;
        }
        self.credit -= 1.0;
        let settings = StepSettings {
            batch_size: self.cfg.batch_size,
            gamma: self.cfg.gamma,
            huber_delta: self.cfg.huber_delta,
        };
        let loss = double_dqn_step(
            &mut self.q,
            &self.target,
            &mut self.adam,
            &self.replay,
            &mut self.rng,
            settings,
            &mut self.bufs,
        );
        if let Some(hook) = &self.cfg.after_update {
            (hook.0)(&mut self.q);
        }
        self.updates += 1;
        self.since_evaluation += 1;
        if self.updates % self.cfg.target_update_every == 0 {
            self.target = self.q.clone();
        }
        Some(loss)
    }

    /// Whether an evaluation is due ([`OnlineConfig::evaluate_every`] updates since the last).
    pub fn evaluation_due(&self) -> bool {
        self.since_evaluation >= self.cfg.evaluate_every
    }

    /// Evaluates the candidate now, writes its checkpoint and swaps it in when it scores at least
    /// the serving policy's score (see the module documentation). An error is a file that could
    /// not be written; the serving policy is then unchanged.
    pub fn evaluate(&mut self) -> Result<Evaluation, RtError> {
        self.since_evaluation = 0;
        let serving_score = self.serving_score;
        let mut evaluation = Evaluation {
            updates: self.updates,
            transitions: self.transitions,
            candidate_score: None,
            serving_score,
            outcome: Outcome::Swapped,
        };
        if !all_finite(&self.q) {
            self.q = self.serving.q.clone();
            self.target = self.serving.q.clone();
            self.adam = adam(&self.cfg);
            evaluation.outcome = Outcome::Rejected(
                "non-finite weights; training restarts from the serving network".into(),
            );
            return Ok(evaluation);
        }
        let mut meta = self.serving.meta.clone();
        meta.validation_onl_qoe = f64::NAN;
        let mut candidate = DqnModel {
            q: self.q.clone(),
            meta,
        };
        let score = validation_score(
            &Arc::new(candidate.clone()),
            &self.validation,
            &self.cfg.validation_session,
            1,
        )?;
        candidate.meta.validation_onl_qoe = score;
        evaluation.candidate_score = Some(score);
        let accepted = score.is_finite() && score >= serving_score;
        let info = CheckpointInfo {
            updates: self.updates,
            transitions: self.transitions,
            score,
            serving_score,
            accepted,
        };
        write_checkpoint(&self.dir.join(CANDIDATE_FILE), &candidate, &info)?;
        if accepted {
            write_checkpoint(&self.dir.join(POLICY_FILE), &candidate, &info)?;
            self.serving = Arc::new(candidate);
            self.serving_score = score;
        } else {
            evaluation.outcome = Outcome::Rejected(format!(
                "validation score {score:.2} below the serving policy's {serving_score:.2}"
            ));
        }
        Ok(evaluation)
    }
}

/// Writes `model` with `info` to `path` atomically: a temporary file beside it, fsync, rename,
/// fsync of the folder (so after a crash the file is either the old one or the new one, whole).
pub fn write_checkpoint(
    path: &Path,
    model: &DqnModel,
    info: &CheckpointInfo,
) -> Result<(), RtError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| RtError::Io { path: p, source }
    };
    let name = path
        .file_name()
        .map_or_else(|| "checkpoint".into(), |n| n.to_string_lossy().into_owned());
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{name}.partial"));
    let json = serde_json::to_string(info).map_err(|e| RtError::Model {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    model.save_with(&tmp, BTreeMap::from([(ONLINE_META_KEY.to_owned(), json)]))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    // The rename is durable once the folder is synced (POSIX); elsewhere opening a folder fails
    // and the rename stands as it is.
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(io(dir))?;
    }
    Ok(())
}

/// Reads the [`CheckpointInfo`] of a checkpoint written by [`write_checkpoint`].
pub fn read_checkpoint_info(path: &Path) -> Result<CheckpointInfo, RtError> {
    let ck = neuralstream_nn::load_networks(path)?;
    let json = ck
        .metadata
        .get(ONLINE_META_KEY)
        .ok_or_else(|| RtError::Model {
            path: path.to_path_buf(),
            message: format!(
                "metadata key '{ONLINE_META_KEY}' is missing; not an online-training checkpoint"
            ),
        })?;
    serde_json::from_str(json).map_err(|e| RtError::Model {
        path: path.to_path_buf(),
        message: format!("metadata key '{ONLINE_META_KEY}': {e}"),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::controller::{Controller, Decision, Feedback};
    use crate::dataset::{IntervalReport, Settings, SCHEMA_VERSION};
    use crate::dqn::DqnController;

    /// Wraps a controller and keeps the records a server would have written of its session (also
    /// `offline`'s tests' source of records).
    pub(crate) struct Recorder<C> {
        inner: C,
        session: String,
        applied: Decision,
        seq: u64,
        /// The records so far.
        pub(crate) out: Vec<Record>,
    }

    impl<C: Controller> Recorder<C> {
        pub(crate) fn new(inner: C, session: &str) -> Self {
            Recorder {
                inner,
                session: session.into(),
                applied: Decision {
                    target_bps: 1.0,
                    resolution: crate::Resolution::P480,
                    fps: 60,
                },
                seq: 0,
                out: Vec::new(),
            }
        }
    }

    impl<C: Controller> Controller for Recorder<C> {
        fn name(&self) -> String {
            self.inner.name()
        }
        fn start(&mut self, fps: u32) -> Decision {
            self.applied = self.inner.start(fps);
            self.applied
        }
        fn on_feedback(&mut self, fb: &Feedback) -> Decision {
            self.seq += 1;
            let d = self.inner.on_feedback(fb);
            self.out.push(Record {
                v: SCHEMA_VERSION,
                session: self.session.clone(),
                controller: self.inner.name(),
                source_fps: 60,
                unix_ms: 0,
                report: IntervalReport::new(self.seq, fb, &self.applied),
                decision: Settings::of(&d),
            });
            self.applied = d;
            d
        }
    }

    /// Links the sessions stream over (not the validation ones).
    fn training_links() -> Vec<LinkTrace> {
        vec![
            LinkTrace::from_steps("t1", "train", &[(15_000.0, 3000.0, 0.0, 40.0)]).unwrap(),
            LinkTrace::from_steps(
                "t2",
                "train",
                &[(7_000.0, 1500.0, 0.0, 50.0), (8_000.0, 4500.0, 0.0, 50.0)],
            )
            .unwrap(),
        ]
    }

    /// One live session of the serving policy, exploring; its records.
    fn live_session(learner: &OnlineLearner, link: &LinkTrace, id: &str, seed: u64) -> Vec<Record> {
        let inner = DqnController::exploring_live(learner.serving().clone(), 0.3, seed);
        let mut c = Recorder::new(inner, id);
        let cfg = RtConfig {
            duration_ms: link.duration_ms(),
            seed,
            ..Default::default()
        };
        crate::run_session(link, &cfg, &mut c).unwrap();
        c.out
    }

    fn quick() -> OnlineConfig {
        OnlineConfig {
            learning_starts: 300,
            updates_per_transition: 1.0,
            evaluate_every: 400,
            target_update_every: 200,
            lr: 1e-3,
            ..Default::default()
        }
    }

    #[test]
    fn live_records_train_a_policy_that_beats_a_weak_start_and_only_better_ones_serve() {
        let dir = tempfile::tempdir().unwrap();
        // Action 0: 480p, 30 fps, half the estimate (which drags GCC's own estimate down).
        let start = Arc::new(fixed_action_model(0, 7));
        let mut learner =
            OnlineLearner::new(start.clone(), dir.path(), builtin_validation(), quick()).unwrap();
        let initial = learner.serving_score();
        let mut evaluations = Vec::new();
        for round in 0..6u64 {
            for (i, link) in training_links().iter().enumerate() {
                let id = format!("s{round}-{i}");
                for r in live_session(&learner, link, &id, 100 * round + i as u64) {
                    learner.observe(&r);
                    while learner.update().is_some() {
                        if learner.evaluation_due() {
                            evaluations.push(learner.evaluate().unwrap());
                        }
                    }
                }
                learner.end_session(&id);
            }
        }
        assert!(!evaluations.is_empty());
        let swaps = evaluations
            .iter()
            .filter(|e| e.outcome == Outcome::Swapped)
            .count();
        eprintln!(
            "validation score: start {initial:.2}, after {:.2} ({swaps} swaps in {} evaluations, {} updates)",
            learner.serving_score(),
            evaluations.len(),
            learner.updates()
        );
        assert!(
            learner.serving_score() > initial && swaps >= 1,
            "serving {} vs start {initial}; {evaluations:#?}",
            learner.serving_score()
        );
        // The gate: every swap scored at least the policy it replaced; the serving score never fell.
        let mut bar = initial;
        for e in &evaluations {
            assert_eq!(e.serving_score, bar);
            if e.outcome == Outcome::Swapped {
                assert!(e.candidate_score.unwrap() >= bar);
                bar = e.candidate_score.unwrap();
            }
        }
        let served = DqnModel::load(&dir.path().join(POLICY_FILE)).unwrap();
        assert_eq!(served.meta.validation_onl_qoe, learner.serving_score());
        assert!(
            read_checkpoint_info(&dir.path().join(POLICY_FILE))
                .unwrap()
                .accepted
        );
        let info = read_checkpoint_info(&dir.path().join(CANDIDATE_FILE)).unwrap();
        assert_eq!(info.updates, evaluations.last().unwrap().updates);
        let stray: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(stray.is_empty(), "temporary files left: {stray:?}");
    }

    #[test]
    fn broken_updates_are_rejected_and_never_serve() {
        let links = training_links();
        // Serving: multiplier 1.0 at 480p/30 (GCC's own bitrate).
        let start = Arc::new(fixed_action_model(3, 7));
        for (hook, why) in [
            (
                UpdateHook(Arc::new(|q: &mut Mlp| {
                    q.visit_params_mut(&mut |_, p, _| p[0] = f32::NAN)
                })),
                "non-finite",
            ),
            (
                // Always the lowest setting: 480p, 30 fps, half the estimate.
                UpdateHook(Arc::new(|q: &mut Mlp| pin_action(q, 0))),
                "below the serving policy",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let cfg = OnlineConfig {
                after_update: Some(hook),
                learning_starts: 100,
                evaluate_every: 50,
                ..quick()
            };
            let mut learner =
                OnlineLearner::new(start.clone(), dir.path(), builtin_validation(), cfg).unwrap();
            let before = learner.serving_score();
            for r in live_session(&learner, &links[0], "a", 1) {
                learner.observe(&r);
                while learner.update().is_some() {}
            }
            assert!(learner.evaluation_due());
            let e = learner.evaluate().unwrap();
            match &e.outcome {
                Outcome::Rejected(reason) => assert!(reason.contains(why), "{reason}"),
                Outcome::Swapped => panic!("a broken update was swapped in: {e:?}"),
            }
            assert!(Arc::ptr_eq(learner.serving(), &start));
            assert_eq!(learner.serving_score(), before);
            assert!(!dir.path().join(POLICY_FILE).exists());
            if why == "non-finite" {
                // Training restarts from the serving network.
                assert!(all_finite(&learner.q) && learner.q == start.q);
                assert!(!dir.path().join(CANDIDATE_FILE).exists());
            } else {
                let info = read_checkpoint_info(&dir.path().join(CANDIDATE_FILE)).unwrap();
                assert!(!info.accepted && info.score < before, "{info:?}");
            }
        }
    }

    fn record(session: &str, seq: u64) -> Record {
        crate::dataset::tests::record(session, seq, 0)
    }

    #[test]
    fn sessions_are_followed_by_seq_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = OnlineConfig {
            max_sessions: 2,
            ..quick()
        };
        let mut l = OnlineLearner::new(
            Arc::new(fixed_action_model(3, 7)),
            dir.path(),
            builtin_validation(),
            cfg,
        )
        .unwrap();
        // The first record makes no transition; each next one makes one.
        assert_eq!(l.observe(&record("a", 1)), 0);
        assert_eq!(l.observe(&record("a", 2)), 1);
        // Joined mid-session: ignored.
        assert_eq!(l.observe(&record("b", 5)), 0);
        assert_eq!(l.sessions_tracked(), 1);
        // A gap: nothing more from that session...
        assert_eq!(l.observe(&record("a", 4)), 0);
        assert_eq!(l.observe(&record("a", 5)), 0);
        // ...until its id starts a new session.
        assert_eq!(l.observe(&record("a", 1)), 0);
        assert_eq!(l.observe(&record("a", 2)), 1);
        // At most two sessions: the least recently seen is forgotten.
        l.observe(&record("c", 1));
        l.observe(&record("d", 1));
        assert_eq!(l.sessions_tracked(), 2);
        assert_eq!(l.observe(&record("a", 3)), 0, "'a' was evicted");
        l.end_session("d");
        assert_eq!(l.sessions_tracked(), 1);
        assert_eq!(l.transitions(), 2);
        // Too few transitions for an update.
        assert!(!l.can_update() && l.update().is_none());
    }

    #[test]
    fn settings_out_of_range_name_the_field() {
        for (cfg, field) in [
            (
                OnlineConfig {
                    batch_size: 0,
                    ..Default::default()
                },
                "batch_size",
            ),
            (
                OnlineConfig {
                    gamma: 1.0,
                    ..Default::default()
                },
                "gamma",
            ),
            (
                OnlineConfig {
                    updates_per_transition: f64::NAN,
                    ..Default::default()
                },
                "updates_per_transition",
            ),
        ] {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let e = OnlineLearner::new(
            Arc::new(fixed_action_model(0, 7)),
            dir.path(),
            Vec::new(),
            OnlineConfig::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("validation trace"), "{e}");
    }
}
