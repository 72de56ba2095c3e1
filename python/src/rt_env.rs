//! `RtCore`: the real-time mode's environment (`neuralstream.RtEnv`, `NeuralStream/Rt-v0`), and
//! `RtController`, `neuralstream-rt`'s controllers (GCC, fixed, oracle, a DQN model) callable from
//! Python as baselines.
//!
//! **Design.** `neuralstream-rt` runs a session closed-loop ([`run_session`] calls a
//! [`Controller`] at the start and at each 50 ms feedback report). The environment runs that very
//! function unchanged on a worker thread with a [`Controller`] that hands each report to Python
//! over a channel and blocks until Python's action comes back on another: `reset` starts the worker
//! and waits for the start call; each `step` sends one decision and waits for the next report (or
//! the session's end). So an episode is exactly a `rt bench` session with the decisions taken in
//! Python, and a GCC driven from Python scores what `rt bench --controllers gcc` reports. The
//! worker never touches Python; the GIL is released while waiting for it.
//!
//! **Ending early.** When the environment is reset, closed or dropped mid-episode, both channels are
//! dropped; the worker's controller then answers every remaining call at once with the cheapest
//! decision (lowest target, one frame per second), so the simulator finishes the session within
//! milliseconds and the thread is joined before `close` returns. No thread outlives its environment.
//!
//! **Observation**: the 18 features of `rt`'s DQN ([`Tracker::features`]), from the latest report,
//! the decision in force and the link's recent pauses, over a grid with one multiplier (so feature
//! 12 is always 1).
//! **Action**: the encoder target in bit/s (`Box([min_bps], [max_bps], float64)`); resolution and
//! frame rate follow from it on WebRTC's balanced [`Ladder`] (as GCC's do), or are given explicitly
//! with a dict `{"target_bps", "height", "fps"}` (what `RtController.decide` returns).
//! **Reward** (`reward=`): `"dqn"` (default), the reward `rt train` optimises for the decision in
//! force during the report ([`reward`], default weights), dense and computed from what the sender
//! sees; `"onl_qoe"`, onl-emu's combined score per report ([`interval_score`]: its bitrate, jitter
//! and freeze terms measured on the report, weighted by one report's share of the session) and, on
//! the last step, the session's true score (`rt bench`'s `onl_qoe`, 0..100) minus what the reports
//! already paid, so the undiscounted return equals `rt bench`'s `onl_qoe` exactly.

use crate::errors::{ns_err, ns_msg};
use crate::inputs::get;
use neuralstream_core::Rng;
use neuralstream_rt::dqn::{reward, ActionGrid, RewardWeights, Signals, Tracker, N_FEATURES};
use neuralstream_rt::{
    read_trace_dir, run_session, score, select_split, Controller, ControllerSpec, Decision,
    Feedback, LadderPosition, LinkConfig, LinkTrace, MahimahiOptions, QueueLimit, Resolution,
    RtConfig, RtError, SessionLog, SessionScore,
};
use numpy::PyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Every keyword argument `RtEnv` accepts (`rt bench`'s flags, same names with underscores).
pub const RT_KEYWORDS: &[&str] = &[
    "traces",
    "split",
    "duration_s",
    "fps",
    "queue_packets",
    "queue_ms",
    "mahimahi_rtt_ms",
    "seed",
    "mode",
    "reward",
    "render_mode",
];

/// The features' bound (`Tracker::features` clamps to it).
const FEATURE_BOUND: f64 = 1e3;

/// What the worker tells Python.
enum ToPython {
    /// `Controller::start` was called.
    Start,
    /// A feedback report arrived; the controller waits for a decision.
    Report(Feedback),
    /// `run_session` returned.
    Done(Box<Result<SessionLog, RtError>>),
}

/// The controller `run_session` calls on the worker thread: each call goes to Python and waits for
/// its decision. Once Python has gone (channels dropped) it answers at once with [`drain`].
struct ChannelController {
    to_python: Sender<ToPython>,
    decisions: Receiver<Decision>,
    gone: bool,
}

/// The decision that finishes an abandoned session fastest: the lowest target at one frame per
/// second (the simulator clamps the target to `min_bps`).
fn drain() -> Decision {
    Decision {
        target_bps: 0.0,
        resolution: Resolution::P480,
        fps: 1,
    }
}

impl ChannelController {
    fn ask(&mut self, msg: ToPython) -> Decision {
        if !self.gone && self.to_python.send(msg).is_ok() {
            if let Ok(d) = self.decisions.recv() {
                return d;
            }
        }
        self.gone = true;
        drain()
    }
}

impl Controller for ChannelController {
    fn name(&self) -> String {
        "python".into()
    }
    fn start(&mut self, _source_fps: u32) -> Decision {
        self.ask(ToPython::Start)
    }
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        self.ask(ToPython::Report(feedback.clone()))
    }
}

/// The reward of `RtEnv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RewardKind {
    /// `rt train`'s per-report reward.
    Dqn,
    /// onl-emu's score per report, corrected on the last step to the session's.
    OnlQoe,
}

/// What the environment plays, read once from the keyword arguments.
#[derive(Debug)]
struct RtWorld {
    traces: Vec<LinkTrace>,
    config: RtConfig,
    /// `duration_s` not given: each session plays one loop of its trace (as `rt bench`).
    whole_trace: bool,
    /// `mode="train"`: a fresh simulator seed per episode, drawn from the reset seed.
    random_sim_seed: bool,
    reward: RewardKind,
}

impl RtWorld {
    fn from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<RtWorld> {
        if let Some(k) = kwargs {
            for key in k.keys() {
                let key: String = key.extract()?;
                if !RT_KEYWORDS.contains(&key.as_str()) {
                    return Err(ns_msg(format!(
                        "unknown argument '{key}'; the real-time environment takes: {}",
                        RT_KEYWORDS.join(", ")
                    )));
                }
            }
        }
        let traces_dir: Option<PathBuf> = get(kwargs, "traces", None)?;
        let traces_dir = traces_dir.ok_or_else(|| {
            ns_msg("argument traces is required: a folder (or file) of real-time traces, onl-emu *.json or Mahimahi *.up/*.down, as for `neuralstream rt bench --traces`")
        })?;
        let mahimahi_rtt_ms: f64 = get(kwargs, "mahimahi_rtt_ms", 40.0)?;
        if !(mahimahi_rtt_ms.is_finite() && mahimahi_rtt_ms >= 0.0) {
            return Err(ns_msg(format!(
                "argument mahimahi_rtt_ms={mahimahi_rtt_ms}: use a number >= 0"
            )));
        }
        let mahimahi = MahimahiOptions {
            rtt_ms: mahimahi_rtt_ms,
            ..Default::default()
        };
        let traces = read_trace_dir(&traces_dir, mahimahi)
            .map_err(|e| ns_err(format!("traces={}", traces_dir.display()), &e))?;
        let split: String = get(kwargs, "split", "all".to_owned())?;
        let traces = select_split(traces, &split, &traces_dir)
            .map_err(|e| ns_err(format!("split={split}"), &e))?;
        let fps: u32 = get(kwargs, "fps", 60)?;
        if fps != 30 && fps != 60 {
            return Err(ns_msg(format!("argument fps={fps}: use 30 or 60")));
        }
        let duration_s: Option<f64> = get(kwargs, "duration_s", None)?;
        if let Some(d) = duration_s {
            if !(d.is_finite() && (1.0..=86_400.0).contains(&d)) {
                return Err(ns_msg(format!(
                    "argument duration_s={d}: use 1 to 86400 seconds, or leave it out to play each trace once"
                )));
            }
        }
        let queue_packets: usize = get(kwargs, "queue_packets", 50)?;
        let queue_ms: Option<f64> = get(kwargs, "queue_ms", None)?;
        let queue = match queue_ms {
            Some(ms) if ms.is_finite() && ms > 0.0 => QueueLimit::Ms(ms),
            Some(ms) => {
                return Err(ns_msg(format!(
                    "argument queue_ms={ms}: use a positive number of ms"
                )))
            }
            None if queue_packets >= 1 => QueueLimit::Packets(queue_packets),
            None => return Err(ns_msg("argument queue_packets must be at least 1")),
        };
        let seed: u64 = get(kwargs, "seed", 1)?;
        let mode: String = get(kwargs, "mode", "test".to_owned())?;
        let random_sim_seed = match mode.as_str() {
            "test" => false,
            "train" => true,
            other => {
                return Err(ns_msg(format!(
                    "argument mode='{other}': use \"test\" (every episode uses the simulator seed `seed`, as rt bench) or \"train\" (a fresh simulator seed per episode)"
                )))
            }
        };
        let reward_name: String = get(kwargs, "reward", "dqn".to_owned())?;
        let reward = match reward_name.as_str() {
            "dqn" => RewardKind::Dqn,
            "onl_qoe" => RewardKind::OnlQoe,
            other => {
                return Err(ns_msg(format!(
                    "argument reward='{other}': use \"dqn\" (rt train's per-report reward) or \"onl_qoe\" (the session's combined score on the last step)"
                )))
            }
        };
        let config = RtConfig {
            source_fps: fps,
            duration_ms: duration_s.unwrap_or(60.0) * 1000.0,
            seed,
            link: LinkConfig {
                queue,
                ..Default::default()
            },
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| ns_err("real-time settings", &e))?;
        Ok(RtWorld {
            traces,
            config,
            whole_trace: duration_s.is_none(),
            random_sim_seed,
            reward,
        })
    }
}

/// A session running on its worker thread, and what Python tracks of it.
struct Running {
    decisions: Option<Sender<Decision>>,
    reports: Option<Mutex<Receiver<ToPython>>>,
    worker: Option<JoinHandle<()>>,
    trace_index: usize,
    sim_seed: u64,
    config: RtConfig,
    tracker: Tracker,
    signals: Signals,
    position: LadderPosition,
    /// The decision in force (as the simulator applies it: target clamped).
    decision: Decision,
    switch_penalty: f64,
    /// The report the worker waits to have answered (`None` before the start decision).
    last_report: Option<Feedback>,
    reports_seen: usize,
    /// Reward paid so far (`reward="onl_qoe"` corrects the last step by it).
    paid: f64,
    /// Whether the worker waits for a decision.
    waiting: bool,
    score: Option<SessionScore>,
}

impl Running {
    /// Drops both channels (the worker drains the session) and joins the worker.
    fn stop(&mut self) {
        self.decisions = None;
        self.reports = None;
        if let Some(w) = self.worker.take() {
            // A panic on the worker is a bug in the simulator; it has already been printed.
            let _ = w.join();
        }
        self.waiting = false;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn height_index(r: Resolution) -> usize {
    match r {
        Resolution::P480 => 0,
        Resolution::P720 => 1,
        Resolution::P1080 => 2,
    }
}

fn resolution_of(height: i64) -> Option<Resolution> {
    match height {
        480 => Some(Resolution::P480),
        720 => Some(Resolution::P720),
        1080 => Some(Resolution::P1080),
        _ => None,
    }
}

/// The grid the observation's last-action features refer to: every resolution and both frame
/// rates, one multiplier (the environment's action is the target itself).
fn feature_grid() -> ActionGrid {
    ActionGrid {
        multipliers: vec![1.0],
        ..ActionGrid::default()
    }
}

fn features(run: &Running, out: &mut [f32]) {
    let grid = feature_grid();
    let f = usize::from(run.decision.fps > 45);
    let action = grid.index(height_index(run.decision.resolution), f, 0);
    run.tracker
        .features(&grid, action, run.decision.target_bps, out);
}

/// onl-emu's combined score ([`neuralstream_rt::score`]) as one report measures it, weighted by
/// `interval_ms / duration_ms` so that a session's reports add up to about its score:
/// `100 x (bitrate + jitter + freeze) / 3` with `bitrate = min(1, received / min(capacity,
/// max_bps))` over the receiver's interval the report covers (the environment knows the trace's
/// capacity; 1 when the link carries nothing), `jitter = max(0, 1 - queueing delay / 150 ms)` (the sender's view of
/// the receiver's jitter-buffer delay) and `freeze = 0` for a report with a loss or no packet (an
/// undecodable frame, as `rt train`'s reward counts it), else 1.
pub fn interval_score(
    s: &Signals,
    capacity_bps: f64,
    max_bps: f64,
    interval_ms: f64,
    duration_ms: f64,
) -> f64 {
    let cap = capacity_bps.min(max_bps);
    let bitrate = if cap > 0.0 {
        (s.recv_bps / cap).min(1.0)
    } else {
        1.0
    };
    let jitter = (1.0 - s.queue_delay_ms / neuralstream_rt::score::ONL_JITTER_SCALE_MS).max(0.0);
    let freeze = if s.packets == 0 || s.loss > 0.0 {
        0.0
    } else {
        1.0
    };
    100.0 * (bitrate + jitter + freeze) / 3.0 * (interval_ms / duration_ms)
}

fn clamp_target(target_bps: f64, cfg: &RtConfig) -> f64 {
    target_bps.clamp(cfg.min_bps, cfg.max_bps)
}

/// One real-time session as a reinforcement-learning environment (the Rust base of
/// `neuralstream.RtEnv`; use that class or `gymnasium.make("NeuralStream/Rt-v0", traces=PATH)`).
#[pyclass(subclass, module = "neuralstream._native")]
pub struct RtCore {
    world: RtWorld,
    rng: Rng,
    run: Option<Running>,
    obs: Vec<f32>,
}

type StepResult<'py> = (Bound<'py, PyAny>, f64, bool, bool, Bound<'py, PyDict>);

impl RtCore {
    fn decision_from(&mut self, action: &Bound<'_, PyAny>) -> PyResult<Decision> {
        let run = self.run.as_mut().expect("step checks that an episode runs");
        let cfg = &run.config;
        if let Ok(d) = action.cast::<PyDict>() {
            let field = |k: &str| -> PyResult<Bound<'_, PyAny>> {
                d.get_item(k)?.ok_or_else(|| {
                    PyTypeError::new_err(format!(
                        "a decision dict needs the keys target_bps, height and fps; '{k}' is missing"
                    ))
                })
            };
            let target: f64 = field("target_bps")?.extract().map_err(|_| {
                PyTypeError::new_err("decision target_bps must be a number (bit/s)")
            })?;
            let height: i64 = field("height")?
                .extract()
                .map_err(|_| PyTypeError::new_err("decision height must be 480, 720 or 1080"))?;
            let fps: i64 = field("fps")?
                .extract()
                .map_err(|_| PyTypeError::new_err("decision fps must be an integer"))?;
            let resolution = resolution_of(height)
                .ok_or_else(|| ns_msg(format!("decision height={height}: use 480, 720 or 1080")))?;
            if !(1..=cfg.source_fps as i64).contains(&fps) {
                return Err(ns_msg(format!(
                    "decision fps={fps}: use 1 to the source's {} fps",
                    cfg.source_fps
                )));
            }
            if !target.is_finite() {
                return Err(ns_msg(format!(
                    "decision target_bps={target}: not a number"
                )));
            }
            // Keep the ladder's rung in step, so a later bitrate-only action climbs from here.
            run.position.decide(target);
            return Ok(Decision {
                target_bps: target,
                resolution,
                fps: fps as u32,
            });
        }
        let target = action
            .extract::<f64>()
            .or_else(|_| {
                let size: usize = action.getattr("size")?.extract()?;
                if size != 1 {
                    return Err(PyTypeError::new_err("size"));
                }
                action.call_method0("item")?.extract::<f64>()
            })
            .map_err(|_| {
                let shown = action.repr().map(|r| r.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!(
                    "action must be the target bitrate in bit/s (a number or a one-element array, {} to {}) or a decision dict {{\"target_bps\", \"height\", \"fps\"}}, got {shown}",
                    cfg.min_bps, cfg.max_bps
                ))
            })?;
        if !target.is_finite() {
            return Err(ns_msg(format!(
                "action {target} is not a bitrate: use {} to {} bit/s",
                cfg.min_bps, cfg.max_bps
            )));
        }
        Ok(run.position.decide(target))
    }

    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = PyDict::new(py);
        let Some(run) = &self.run else {
            return Ok(info);
        };
        let trace = &self.world.traces[run.trace_index];
        info.set_item("trace", &trace.name)?;
        info.set_item("family", &trace.family)?;
        info.set_item("trace_index", run.trace_index)?;
        info.set_item("sim_seed", run.sim_seed)?;
        info.set_item("reports", run.reports_seen)?;
        if let Some(fb) = &run.last_report {
            let s = &run.signals;
            let report = PyDict::new(py);
            report.set_item("now_ms", fb.now_ms)?;
            report.set_item("packets", s.packets)?;
            report.set_item("recv_bps", s.recv_bps)?;
            report.set_item("send_bps", s.send_bps)?;
            report.set_item("rtt_ms", s.rtt_ms)?;
            report.set_item("queue_delay_ms", s.queue_delay_ms)?;
            report.set_item("max_queue_delay_ms", s.max_queue_delay_ms)?;
            report.set_item("delay_gradient_ms", s.delay_gradient_ms)?;
            report.set_item("jitter_ms", s.jitter_ms)?;
            report.set_item("loss", s.loss)?;
            report.set_item("estimate_bps", run.tracker.estimate_bps)?;
            info.set_item("report", report)?;
        }
        let d = PyDict::new(py);
        d.set_item("target_bps", run.decision.target_bps)?;
        d.set_item("height", run.decision.resolution.height())?;
        d.set_item("fps", run.decision.fps)?;
        info.set_item("decision", d)?;
        if let Some(s) = &run.score {
            info.set_item("onl_qoe", s.onl_qoe)?;
            info.set_item("score", score_dict(py, s)?)?;
        }
        Ok(info)
    }

    fn obs_array<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyAny> {
        if let Some(run) = &self.run {
            features(run, &mut self.obs);
        }
        PyArray1::from_slice(py, &self.obs).into_any()
    }
}

/// A session score as a dict (the columns of `rt bench`'s sessions.csv).
fn score_dict<'py>(py: Python<'py>, s: &SessionScore) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("trace", &s.trace)?;
    d.set_item("family", &s.family)?;
    d.set_item("duration_s", s.duration_s)?;
    d.set_item("onl_qoe", s.onl_qoe)?;
    d.set_item("p50_frame_delay_ms", s.p50_frame_delay_ms)?;
    d.set_item("p95_frame_delay_ms", s.p95_frame_delay_ms)?;
    d.set_item("p95_packet_delay_ms", s.p95_packet_delay_ms)?;
    d.set_item("freezes", s.freezes)?;
    d.set_item("freezes_per_min", s.freezes_per_min)?;
    d.set_item("frozen_ratio", s.frozen_ratio)?;
    d.set_item("mean_quality", s.mean_quality)?;
    d.set_item("rendered_fps", s.rendered_fps)?;
    d.set_item("resolution_switches_per_min", s.resolution_switches_per_min)?;
    d.set_item("received_kbps", s.received_kbps)?;
    d.set_item("capacity_kbps", s.capacity_kbps)?;
    d.set_item("utilisation", s.utilisation)?;
    d.set_item("loss_rate", s.loss_rate)?;
    d.set_item("jitter_buffer_ms", s.jitter_buffer_ms)?;
    Ok(d)
}

#[pymethods]
impl RtCore {
    /// Loads the traces and settings from keyword arguments (see `neuralstream.RtEnv`).
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(RtCore {
            world: RtWorld::from_kwargs(kwargs)?,
            rng: Rng::new(0),
            run: None,
            obs: vec![0.0; N_FEATURES],
        })
    }

    /// Starts an episode (stopping a running one) with a generator seeded by `seed`, on trace
    /// `trace_index` (or one drawn from the generator); returns `(observation, info)`.
    #[pyo3(signature = (seed, trace_index=None))]
    fn _reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: u64,
        trace_index: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let n = self.world.traces.len();
        if let Some(i) = trace_index.filter(|&i| i >= n) {
            return Err(ns_msg(format!(
                "options trace_index={i} is out of range: there are {n} traces (0..{})",
                n - 1
            )));
        }
        self.run = None; // stops and joins the previous worker
        self.rng = Rng::new(seed);
        let trace_index = trace_index.unwrap_or_else(|| self.rng.below(n));
        let trace = self.world.traces[trace_index].clone();
        let mut config = self.world.config.clone();
        if self.world.whole_trace {
            config.duration_ms = trace.duration_ms().max(1000.0);
        }
        let sim_seed = if self.world.random_sim_seed {
            self.rng.next_u64()
        } else {
            config.seed
        };
        config.seed = sim_seed;
        let (to_python, reports) = channel();
        let (decisions, from_python) = channel();
        let worker_config = config.clone();
        let worker = std::thread::Builder::new()
            .name("neuralstream-rt-env".into())
            .spawn(move || {
                let mut controller = ChannelController {
                    to_python: to_python.clone(),
                    decisions: from_python,
                    gone: false,
                };
                let log = run_session(&trace, &worker_config, &mut controller);
                let _ = to_python.send(ToPython::Done(Box::new(log)));
            })
            .map_err(|e| ns_msg(format!("cannot start the session's thread: {e}")))?;
        let start = config.start_bps;
        let mut position = LadderPosition::default();
        position.set_source_fps(config.source_fps);
        let decision = position.ladder.choose(start, 0, config.source_fps).1;
        let mut run = Running {
            decisions: Some(decisions),
            reports: None,
            worker: Some(worker),
            trace_index,
            sim_seed,
            tracker: Tracker::new(start),
            signals: Signals::default(),
            position,
            decision,
            switch_penalty: 0.0,
            last_report: None,
            reports_seen: 0,
            paid: 0.0,
            waiting: false,
            score: None,
            config,
        };
        let (reports, first) = py.detach(move || {
            let first = reports.recv();
            (reports, first)
        });
        run.reports = Some(Mutex::new(reports));
        match first {
            Ok(ToPython::Start) => run.waiting = true,
            Ok(ToPython::Done(log)) => {
                let e = match *log {
                    Err(e) => e,
                    Ok(_) => RtError::Config("the session ended before it started".into()),
                };
                return Err(ns_err("the real-time session", &e));
            }
            _ => return Err(ns_msg("the session's thread stopped before it started")),
        }
        self.run = Some(run);
        let obs = self.obs_array(py);
        Ok((obs, self.info(py)?))
    }

    /// Applies `action` (a target in bit/s, or a decision dict) until the next feedback report;
    /// returns `(observation, reward, terminated, truncated, info)`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<StepResult<'py>> {
        match &self.run {
            Some(r) if r.waiting => {}
            Some(_) => return Err(ns_msg("the episode is over: call reset()")),
            None => return Err(ns_msg("call reset() before step()")),
        }
        let decision = self.decision_from(action)?;
        let reward_kind = self.world.reward;
        let run = self.run.as_mut().expect("checked above");
        let before = run.decision;
        let applied = Decision {
            target_bps: clamp_target(decision.target_bps, &run.config),
            ..decision
        };
        let w = RewardWeights::default();
        run.switch_penalty = if run.last_report.is_none() {
            0.0
        } else {
            (if applied.resolution != before.resolution {
                w.resolution_switch
            } else {
                0.0
            }) + if applied.fps != before.fps {
                w.fps_switch
            } else {
                0.0
            }
        };
        run.decision = applied;
        run.waiting = false;
        let sent = run
            .decisions
            .as_ref()
            .map(|tx| tx.send(decision).is_ok())
            .unwrap_or(false);
        let next = match (&run.reports, sent) {
            (Some(rx), true) => {
                py.detach(|| rx.lock().unwrap_or_else(|e| e.into_inner()).recv().ok())
            }
            _ => None,
        };
        let (reward, terminated) = match next {
            Some(ToPython::Report(fb)) => {
                let s = run.tracker.observe(&fb);
                run.signals = s;
                // The receiver's interval the report covers: report k is cut at k x 50 ms.
                let interval_ms = run.config.feedback_interval_ms;
                let to_ms = (run.reports_seen + 1) as f64 * interval_ms;
                let capacity_bps = self.world.traces[run.trace_index]
                    .capacity_bytes_between(to_ms - interval_ms, to_ms)
                    * 8000.0
                    / interval_ms;
                run.last_report = Some(fb);
                run.reports_seen += 1;
                run.waiting = true;
                let r = match reward_kind {
                    RewardKind::Dqn => reward(
                        &w,
                        &s,
                        applied.target_bps,
                        applied.resolution,
                        applied.fps,
                        run.switch_penalty,
                    ),
                    RewardKind::OnlQoe => interval_score(
                        &s,
                        capacity_bps,
                        run.config.max_bps,
                        run.config.feedback_interval_ms,
                        run.config.duration_ms,
                    ),
                };
                run.paid += r;
                (r, false)
            }
            Some(ToPython::Done(log)) => {
                run.stop();
                let log = (*log).map_err(|e| ns_err("the real-time session", &e))?;
                let s = score(&log, run.config.max_bps);
                let r = match reward_kind {
                    RewardKind::Dqn => 0.0,
                    RewardKind::OnlQoe => s.onl_qoe - run.paid,
                };
                run.score = Some(s);
                (r, true)
            }
            _ => {
                run.stop();
                return Err(ns_msg(
                    "the session's thread stopped unexpectedly (see the message printed above)",
                ));
            }
        };
        let obs = self.obs_array(py);
        Ok((obs, reward, terminated, false, self.info(py)?))
    }

    /// Stops the running session, if any, and joins its thread.
    fn _close(&mut self) {
        self.run = None;
    }

    /// Length of the observation vector.
    #[getter]
    fn feature_len(&self) -> usize {
        N_FEATURES
    }

    /// Bound of every feature (`[-feature_high, feature_high]`).
    #[getter]
    fn feature_high(&self) -> f64 {
        FEATURE_BOUND
    }

    /// Smallest target the encoder accepts, bit/s (the action space's low).
    #[getter]
    fn min_bps(&self) -> f64 {
        self.world.config.min_bps
    }

    /// Largest target the encoder accepts, bit/s (the action space's high).
    #[getter]
    fn max_bps(&self) -> f64 {
        self.world.config.max_bps
    }

    /// Capture rate, fps.
    #[getter]
    fn source_fps(&self) -> u32 {
        self.world.config.source_fps
    }

    /// Names of the traces, in the order `trace_index` counts them.
    #[getter]
    fn trace_names(&self) -> Vec<String> {
        self.world.traces.iter().map(|t| t.name.clone()).collect()
    }

    /// `"dqn"` or `"onl_qoe"`.
    #[getter]
    fn reward_kind(&self) -> &'static str {
        match self.world.reward {
            RewardKind::Dqn => "dqn",
            RewardKind::OnlQoe => "onl_qoe",
        }
    }

    /// Whether a session thread is running (for tests of the clean-up).
    #[getter]
    fn _worker_alive(&self) -> bool {
        self.run
            .as_ref()
            .and_then(|r| r.worker.as_ref())
            .is_some_and(|w| !w.is_finished())
    }
}

/// A `neuralstream-rt` controller callable from Python: `gcc`, `fixed[:KBPS]`, `oracle` or
/// `learned:PATH` (`rt bench --controllers` names). `decide(env)` returns its decision for the
/// environment's current report as a dict `env.step` accepts; a new episode starts it afresh.
#[pyclass(module = "neuralstream._native")]
pub struct RtController {
    spec: ControllerSpec,
    name: String,
    controller: Option<Box<dyn Controller + Send + Sync>>,
    /// (trace index, sim seed, reports) of the last call, to notice a new episode.
    last: Option<(usize, u64, usize)>,
}

/// [`ControllerSpec::build`], as a controller a Python object may own (`Send + Sync`; rt's returns
/// a plain `Box<dyn Controller>`). Kept in step with rt's by the pytest suite, which plays every
/// kind from Python against `rt bench`; if rt's `build` returned `Send + Sync` this copy could go.
fn build(spec: &ControllerSpec, trace: &LinkTrace) -> Box<dyn Controller + Send + Sync> {
    use neuralstream_rt::dqn::DqnController;
    use neuralstream_rt::{Fixed, Gcc, Oracle};
    match spec {
        ControllerSpec::Gcc => Box::new(Gcc::default()),
        ControllerSpec::Fixed(kbps) => Box::new(Fixed::new(kbps * 1000.0)),
        ControllerSpec::Oracle => Box::new(Oracle::new(trace.clone())),
        ControllerSpec::Learned(model) => Box::new(DqnController::new(model.clone())),
    }
}

#[pymethods]
impl RtController {
    /// The controller named `name` (as `rt bench --controllers` takes it).
    #[new]
    fn new(name: &str) -> PyResult<Self> {
        let spec =
            ControllerSpec::parse(name).map_err(|e| ns_err(format!("controller '{name}'"), &e))?;
        Ok(RtController {
            spec,
            name: name.trim().to_owned(),
            controller: None,
            last: None,
        })
    }

    /// Its decision for `env`'s current state: the start decision right after `reset`, otherwise
    /// the answer to the latest report. Returns `{"target_bps", "height", "fps"}`.
    fn decide<'py>(
        &mut self,
        py: Python<'py>,
        env: &Bound<'py, RtCore>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let core = env.borrow();
        let run = match &core.run {
            Some(r) if r.waiting => r,
            _ => {
                return Err(ns_msg(
                    "the environment has no running episode: call reset()",
                ))
            }
        };
        let key = (run.trace_index, run.sim_seed, run.reports_seen);
        let d = match &run.last_report {
            None => {
                let mut c = build(&self.spec, &core.world.traces[run.trace_index]);
                let d = c.start(run.config.source_fps);
                self.controller = Some(c);
                d
            }
            Some(fb) => {
                let follows = self
                    .last
                    .is_some_and(|(t, s, n)| t == key.0 && s == key.1 && n + 1 == key.2);
                match (&mut self.controller, follows) {
                    (Some(c), true) => c.on_feedback(fb),
                    _ => {
                        return Err(ns_msg(format!(
                            "controller '{}' must decide every step of an episode from its reset on (it keeps state across reports)",
                            self.name
                        )))
                    }
                }
            }
        };
        self.last = Some(key);
        let out = PyDict::new(py);
        out.set_item("target_bps", d.target_bps)?;
        out.set_item("height", d.resolution.height())?;
        out.set_item("fps", d.fps)?;
        Ok(out)
    }

    /// The controller's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Names `RtController` accepts, with a description each.
#[pyfunction]
pub fn rt_controllers() -> Vec<(String, String)> {
    neuralstream_rt::bench::CONTROLLERS
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect()
}
