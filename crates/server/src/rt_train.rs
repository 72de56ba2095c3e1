//! Online training of the served learned real-time controller (`serve --rt-train DIR`, issue 21):
//! every live session's intervals become double-DQN transitions, a background thread learns from
//! them and swaps the serving policy only when the new one scores at least as well on a fixed
//! validation scenario in the simulator. The learning, the gate and the checkpoints are
//! `neuralstream_rt::online` (the same transitions `rt train --dataset` builds); this module runs
//! it beside the server and exports its metrics. Docs: `docs/rt_online.md`.
//!
//! **Key design decision:** the decision path never waits for training. A session task hands each
//! record to the trainer through a bounded queue with `try_send` (a full queue drops the record
//! and counts it), reads the serving policy once when the session opens (new sessions get a
//! swapped-in policy, live ones keep theirs) and otherwise shares nothing with the trainer.
//!
//! **CPU share** (`--rt-train-cpu F`, a fraction of one core): one thread does all the work
//! (building transitions, updates, evaluations) in slices of at most [`SLICE`]; after a slice that
//! was busy for `b` of wall-clock time it sleeps `b x (1 - F) / F`. A thread's CPU time cannot
//! exceed its wall-clock time, so over any run of slices it uses at most `F` of a core (less when
//! the machine makes it wait). An evaluation is one slice of its own (tens of ms on the built-in
//! scenario) and is paid back by the sleep after it. When records come faster than the share lets
//! the thread fold them in, the queue fills and records are dropped (counted), never waited for.

use crate::ServerError;
use neuralstream_rt::dataset::Record;
use neuralstream_rt::dqn::{DqnController, DqnModel};
use neuralstream_rt::online::{OnlineConfig, OnlineLearner, Outcome};
use neuralstream_rt::trace::LinkTrace;
use neuralstream_rt::{Controller, ControllerSpec};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest stretch of work between two pauses of the training thread (an evaluation excepted).
pub const SLICE: Duration = Duration::from_millis(10);
/// Longest the idle training thread waits for a record before looking at its stop flag.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// What `serve --rt-train` is told.
#[derive(Debug, Clone, PartialEq)]
pub struct RtTrainConfig {
    /// Folder of the checkpoints (`policy.safetensors`, `candidate.safetensors`).
    pub dir: PathBuf,
    /// Share of one core the training thread may use, in (0, 1]. Default 0.5.
    pub cpu_share: f64,
    /// Exploration rate of the learned controller's live sessions while training, in [0, 1].
    /// Default 0.05.
    pub epsilon: f64,
    /// Validation traces; `None`: `neuralstream_rt::online::builtin_validation()`.
    pub validation: Option<Vec<LinkTrace>>,
    /// Records the queue to the trainer holds before it drops. Default 65,536.
    pub queue: usize,
    /// The learner's settings.
    pub online: OnlineConfig,
}

impl RtTrainConfig {
    /// The defaults, checkpointing into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        RtTrainConfig {
            dir,
            cpu_share: 0.5,
            epsilon: 0.05,
            validation: None,
            queue: 65_536,
            online: OnlineConfig::default(),
        }
    }
}

/// Pause after `busy` of work so that the work is at most `share` of the time.
pub fn pause_after(busy: Duration, share: f64) -> Duration {
    if share >= 1.0 {
        return Duration::ZERO;
    }
    busy.mul_f64((1.0 - share) / share.max(1e-3))
}

/// A message to the training thread.
enum Msg {
    Record(Box<Record>),
    End(String),
}

/// The trainer's counters and the serving policy, shared with its thread.
#[derive(Debug)]
struct Shared {
    serving: Mutex<Arc<DqnModel>>,
    stop: AtomicBool,
    records_dropped: AtomicU64,
    transitions: AtomicU64,
    updates: AtomicU64,
    evaluations: AtomicU64,
    swaps: AtomicU64,
    rejected: AtomicU64,
    checkpoint_errors: AtomicU64,
    busy_ns: AtomicU64,
    replay: AtomicU64,
    /// f64 bits: the serving policy's validation score.
    serving_score: AtomicU64,
    /// f64 bits: the last candidate's validation score (NaN before the first, or when it was not
    /// played).
    candidate_score: AtomicU64,
}

fn store_f64(a: &AtomicU64, v: f64) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

fn load_f64(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

/// The online trainer of one learned controller.
#[derive(Debug)]
pub struct RtTrainer {
    /// Index of the trained controller among the server's real-time controllers.
    controller: usize,
    epsilon: f64,
    shared: Arc<Shared>,
    queue: Mutex<Option<SyncSender<Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    sessions: AtomicU64,
}

fn rt_error(message: String) -> ServerError {
    ServerError::Rt(message)
}

impl RtTrainer {
    /// Starts training the one `learned:PATH` controller of `controllers`: scores it on the
    /// validation scenario, then starts the training thread.
    pub fn start(
        controllers: &[(String, ControllerSpec)],
        cfg: &RtTrainConfig,
    ) -> Result<Self, ServerError> {
        let learned: Vec<usize> = (0..controllers.len())
            .filter(|&i| matches!(controllers[i].1, ControllerSpec::Learned(_)))
            .collect();
        let (index, model) = match learned.as_slice() {
            [i] => match &controllers[*i].1 {
                ControllerSpec::Learned(m) => (*i, m.clone()),
                _ => unreachable!("filtered on Learned"),
            },
            [] => {
                return Err(rt_error(
                    "--rt-train trains a learned controller: add one to --rt-controllers, e.g. --rt-controllers gcc,learned:model.safetensors (a model from `neuralstream rt train`)".into(),
                ))
            }
            _ => {
                return Err(rt_error(format!(
                    "--rt-train trains one learned controller, but --rt-controllers lists {}; keep one learned:PATH",
                    learned.len()
                )))
            }
        };
        if !(cfg.cpu_share > 0.0 && cfg.cpu_share <= 1.0) {
            return Err(rt_error(format!(
                "--rt-train-cpu must be a share of one core in (0, 1], got {}",
                cfg.cpu_share
            )));
        }
        if !(0.0..=1.0).contains(&cfg.epsilon) {
            return Err(rt_error(format!(
                "--rt-train-epsilon must be in [0, 1], got {}",
                cfg.epsilon
            )));
        }
        let validation = cfg
            .validation
            .clone()
            .unwrap_or_else(neuralstream_rt::online::builtin_validation);
        let started = Instant::now();
        let learner = OnlineLearner::new(model.clone(), &cfg.dir, validation, cfg.online.clone())
            .map_err(|e| rt_error(format!("--rt-train {}: {e}", cfg.dir.display())))?;
        tracing::info!(
            controller = %controllers[index].0,
            dir = %cfg.dir.display(),
            validation_score = learner.serving_score(),
            scored_in_ms = started.elapsed().as_millis() as u64,
            cpu_share = cfg.cpu_share,
            "rt online training started"
        );
        let shared = Arc::new(Shared {
            serving: Mutex::new(model),
            stop: AtomicBool::new(false),
            records_dropped: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            evaluations: AtomicU64::new(0),
            swaps: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            checkpoint_errors: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            replay: AtomicU64::new(0),
            serving_score: AtomicU64::new(learner.serving_score().to_bits()),
            candidate_score: AtomicU64::new(f64::NAN.to_bits()),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(cfg.queue.max(1));
        let thread_shared = shared.clone();
        let share = cfg.cpu_share;
        let thread = std::thread::Builder::new()
            .name("rt-train".into())
            .spawn(move || train_loop(learner, rx, &thread_shared, share))
            .map_err(|e| rt_error(format!("--rt-train: cannot start the training thread: {e}")))?;
        Ok(RtTrainer {
            controller: index,
            epsilon: cfg.epsilon,
            shared,
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            sessions: AtomicU64::new(0),
        })
    }

    /// The policy new sessions get.
    pub fn serving(&self) -> Arc<DqnModel> {
        self.shared
            .serving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The serving policy's validation score.
    pub fn serving_score(&self) -> f64 {
        load_f64(&self.shared.serving_score)
    }

    /// Policies swapped in so far.
    pub fn swaps(&self) -> u64 {
        self.shared.swaps.load(Ordering::Relaxed)
    }

    /// Candidates rejected so far.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Updates made so far.
    pub fn updates(&self) -> u64 {
        self.shared.updates.load(Ordering::Relaxed)
    }

    /// Transitions learned from so far.
    pub fn transitions(&self) -> u64 {
        self.shared.transitions.load(Ordering::Relaxed)
    }

    /// A controller for a new session of controller `index`, when it is the trained one: the
    /// serving policy, exploring at the configured rate with a stream seeded per session.
    pub fn controller_for(&self, index: usize) -> Option<Box<dyn Controller + Send>> {
        if index != self.controller {
            return None;
        }
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        let seed = 0x0a11_7e00_0000_0000 ^ n;
        Some(Box::new(DqnController::exploring_live(
            self.serving(),
            self.epsilon,
            seed,
        )))
    }

    fn send(&self, msg: Msg) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let dropped = match queue.as_ref().map(|q| q.try_send(msg)) {
            Some(Ok(())) => false,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => true,
        };
        if dropped {
            self.shared.records_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands one interval's record to the trainer (never waits; dropped and counted when the
    /// queue is full).
    pub fn submit(&self, record: &Record) {
        self.send(Msg::Record(Box::new(record.clone())));
    }

    /// Tells the trainer a session ended (best effort: a missed end is evicted later).
    pub fn end_session(&self, session: &str) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = queue.as_ref() {
            let _ = q.try_send(Msg::End(session.to_owned()));
        }
    }

    /// Stops the training thread (after its current slice) and waits for it.
    pub fn finish(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }

    /// The Prometheus exposition of online training.
    pub fn render(&self, out: &mut String) {
        let s = &self.shared;
        let counters = [
            (
                "neuralstream_rt_train_transitions_total",
                "Transitions learned from (one per pair of consecutive live intervals).",
                &s.transitions,
            ),
            (
                "neuralstream_rt_train_records_dropped_total",
                "Live intervals not handed to training because its queue was full.",
                &s.records_dropped,
            ),
            (
                "neuralstream_rt_train_updates_total",
                "Double-DQN updates (minibatch gradient steps).",
                &s.updates,
            ),
            (
                "neuralstream_rt_train_evaluations_total",
                "Candidates evaluated on the validation scenario.",
                &s.evaluations,
            ),
            (
                "neuralstream_rt_train_swaps_total",
                "Candidates that scored at least the serving policy and now serve new sessions.",
                &s.swaps,
            ),
            (
                "neuralstream_rt_train_rejected_total",
                "Candidates that did not serve (lower score, non-finite weights, or files not written).",
                &s.rejected,
            ),
            (
                "neuralstream_rt_train_checkpoint_errors_total",
                "Evaluations whose checkpoint could not be written (the serving policy was kept).",
                &s.checkpoint_errors,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_train_busy_seconds_total Time the training thread worked (it sleeps the rest, to stay within --rt-train-cpu).\n# TYPE neuralstream_rt_train_busy_seconds_total counter\nneuralstream_rt_train_busy_seconds_total {}",
            s.busy_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_train_replay_transitions Transitions in the replay buffer.\n# TYPE neuralstream_rt_train_replay_transitions gauge\nneuralstream_rt_train_replay_transitions {}",
            s.replay.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_train_validation_score Validation score (mean onl-emu combined score) of the serving policy and of the last candidate.\n# TYPE neuralstream_rt_train_validation_score gauge\nneuralstream_rt_train_validation_score{{policy=\"serving\"}} {}\nneuralstream_rt_train_validation_score{{policy=\"candidate\"}} {}",
            load_f64(&s.serving_score),
            load_f64(&s.candidate_score)
        );
    }
}

/// The training thread: fold records in, update, evaluate when due, pace to `share`.
fn train_loop(mut learner: OnlineLearner, rx: Receiver<Msg>, shared: &Shared, share: f64) {
    let take = |learner: &mut OnlineLearner, msg: Msg| match msg {
        Msg::Record(r) => {
            learner.observe(&r);
        }
        Msg::End(id) => learner.end_session(&id),
    };
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let started = if !learner.can_update() && !learner.evaluation_due() {
            // Nothing owed: wait for a record without spending CPU.
            match rx.recv_timeout(IDLE_WAIT) {
                Ok(msg) => {
                    let started = Instant::now();
                    take(&mut learner, msg);
                    started
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            Instant::now()
        };
        // Records first (they are what the updates learn from), within half the slice.
        while started.elapsed() < SLICE / 2 {
            match rx.try_recv() {
                Ok(msg) => take(&mut learner, msg),
                Err(_) => break,
            }
        }
        while started.elapsed() < SLICE && learner.update().is_some() {}
        if learner.evaluation_due() {
            evaluate(&mut learner, shared);
        }
        shared
            .transitions
            .store(learner.transitions(), Ordering::Relaxed);
        shared.updates.store(learner.updates(), Ordering::Relaxed);
        shared
            .replay
            .store(learner.replay_len() as u64, Ordering::Relaxed);
        pace(started, shared, share);
    }
}

/// Counts a slice's busy time and sleeps it off.
fn pace(started: Instant, shared: &Shared, share: f64) {
    let busy = started.elapsed();
    shared
        .busy_ns
        .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
    let pause = pause_after(busy, share);
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
}

/// One gated evaluation: metrics, a log line, and the swap.
fn evaluate(learner: &mut OnlineLearner, shared: &Shared) {
    let started = Instant::now();
    shared.evaluations.fetch_add(1, Ordering::Relaxed);
    match learner.evaluate() {
        Ok(e) => {
            store_f64(
                &shared.candidate_score,
                e.candidate_score.unwrap_or(f64::NAN),
            );
            let (outcome, reason) = match &e.outcome {
                Outcome::Swapped => {
                    *shared.serving.lock().unwrap_or_else(|e| e.into_inner()) =
                        learner.serving().clone();
                    store_f64(&shared.serving_score, learner.serving_score());
                    shared.swaps.fetch_add(1, Ordering::Relaxed);
                    ("swapped", String::new())
                }
                Outcome::Rejected(why) => {
                    shared.rejected.fetch_add(1, Ordering::Relaxed);
                    ("rejected", why.clone())
                }
            };
            tracing::info!(
                outcome,
                reason = %reason,
                candidate_score = e.candidate_score.unwrap_or(f64::NAN),
                serving_score = e.serving_score,
                updates = e.updates,
                transitions = e.transitions,
                evaluated_in_ms = started.elapsed().as_millis() as u64,
                "rt online training: candidate evaluated"
            );
        }
        Err(err) => {
            shared.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
            shared.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, "rt online training: evaluation failed; the serving policy stays");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_keeps_work_to_the_share() {
        let busy = Duration::from_millis(10);
        assert_eq!(pause_after(busy, 1.0), Duration::ZERO);
        assert_eq!(pause_after(busy, 0.5), busy);
        let p = pause_after(busy, 0.2);
        assert_eq!(p, Duration::from_millis(40));
        for share in [0.05, 0.25, 0.5, 0.9] {
            let p = pause_after(busy, share);
            let used = busy.as_secs_f64() / (busy + p).as_secs_f64();
            assert!((used - share).abs() < 1e-6, "{share}: {used}");
        }
    }

    /// Interval `seq` of a steady synthetic session: 4 packets, all delivered, 20 ms one-way.
    fn record(seq: u64) -> Record {
        use neuralstream_rt::dataset::{IntervalReport, Settings, SCHEMA_VERSION};
        use neuralstream_rt::{Decision, Feedback, PacketReport, Resolution};
        let now = 50.0 * seq as f64;
        let fb = Feedback {
            now_ms: now,
            rtt_ms: Some(40.0),
            packets: (0..4)
                .map(|i| PacketReport {
                    seq: 4 * seq + i,
                    send_ms: now - 45.0 + 10.0 * i as f64,
                    arrival_ms: Some(now - 25.0 + 10.0 * i as f64),
                    bytes: 1200,
                })
                .collect(),
        };
        let d = Decision {
            target_bps: 1e6,
            resolution: Resolution::P720,
            fps: 30,
        };
        Record {
            v: SCHEMA_VERSION,
            session: "s".into(),
            controller: "learned".into(),
            source_fps: 60,
            unix_ms: 0,
            report: IntervalReport::new(seq, &fb, &d),
            decision: Settings::of(&d),
        }
    }

    /// The thread's measured work stays within its share of the wall-clock time it takes.
    #[test]
    fn training_keeps_to_its_cpu_share() {
        let dir = tempfile::tempdir().unwrap();
        let model = Arc::new(neuralstream_rt::online::fixed_action_model(3, 7));
        let mut cfg = RtTrainConfig::new(dir.path().to_path_buf());
        cfg.cpu_share = 0.25;
        cfg.online = OnlineConfig {
            learning_starts: 200,
            updates_per_transition: 1.0,
            evaluate_every: 100_000,
            ..OnlineConfig::default()
        };
        let t =
            RtTrainer::start(&[("learned".into(), ControllerSpec::Learned(model))], &cfg).unwrap();
        let started = Instant::now();
        for seq in 1..=6000 {
            t.submit(&record(seq));
        }
        while t.updates() < 5799 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}",
                t.updates()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Stopping waits for the last slice's pause, so the wall time includes it.
        t.finish();
        let wall = started.elapsed().as_secs_f64();
        let busy = t.shared.busy_ns.load(Ordering::Relaxed) as f64 / 1e9;
        assert_eq!(t.transitions(), 5999);
        eprintln!("busy {busy:.3} s in {wall:.3} s at a share of 0.25");
        assert!(
            busy > 0.0 && busy <= 0.25 * wall + 0.002,
            "busy {busy:.3} s in {wall:.3} s"
        );
    }

    #[test]
    fn a_server_without_a_learned_controller_cannot_train() {
        let cfg = RtTrainConfig::new(std::env::temp_dir());
        let e = RtTrainer::start(&[("gcc".into(), ControllerSpec::Gcc)], &cfg).unwrap_err();
        assert!(e.to_string().contains("--rt-controllers"), "{e}");
        let e = crate::rt_ws::RtState::attach_training(None, Some(&cfg)).unwrap_err();
        assert!(e.to_string().contains("--rt-train needs"), "{e}");
    }
}
