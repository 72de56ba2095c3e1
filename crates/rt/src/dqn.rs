//! The learned encoder controller: a double DQN (Mnih et al., Nature 2015; van Hasselt, Guez and
//! Silver, AAAI 2016) that picks resolution x fps x bitrate every 50 ms from the feedback alone.
//!
//! **Actions.** A discrete grid ([`ActionGrid`], 3 x 2 x 6 = 36 by default): resolution (480p,
//! 720p, 1080p) x frame rate (30, 60) x a multiplier of the *throughput estimate* (0.5 .. 1.25),
//! so a multiplier above 1 probes and one below 1 drains the queue. The estimate ([`Estimate`],
//! stored in the model file) is by default **GCC's target** ([`Estimate::Gcc`]): a [`Gcc`] runs
//! inside the controller on the same feedback, and the network scales its output, as HRCC (the
//! MMSys'21 entry) scales GCC's with PPO. This gives the policy a safe start (GCC's 300 kbit/s
//! and its start-up probes), GCC's drain after an overuse (its 0.85 x received-rate cut) and, with
//! the multiplier 1.0 in the grid, GCC itself as one of its policies; what is learned is where to
//! go above or below it and which resolution and frame rate to use. The older estimate, an EWMA of
//! the receive rate ([`Estimate::ReceiveRate`], smoothing [`ESTIMATE_ALPHA`] per report), is kept
//! for model files that name it: alone it cannot leave a standing queue on a link slower than the
//! start rate (the 199 kbit/s onl-emu test trace, where receive rate = capacity while the queue
//! stays full, so no multiplier >= 0.8 drains it).
//!
//! **Shield** ([`DqnMeta::shield`], from a hand rule over GCC that a validation probe found
//! bounded by GCC on onl-emu): while the last report shows a mean queueing delay above
//! `guard_queue_ms` (25 ms) or a loss, the multiplier is capped at `guard_cap` (0.8); between
//! `guard_free_ms` (10 ms) and 25 ms at 1; only on a nearly empty queue may the network probe
//! above GCC's estimate. The network learns, inside these bounds, how far to go and which
//! resolution and frame rate to use. Model files written before the cap and the free zone existed
//! keep their shield (cap 1, probing up to 25 ms). The shield can also cap the frame rate at 30 fps
//! below an applied target ([`DqnMeta::fps_ceiling`], `fps_cap_below_kbps`, off by default; GCC's
//! ladder plays 30 fps below 700 kbit/s): WebRTC's freeze rule makes LTE's frequent 120-180 ms
//! outages freezes at 60 fps and not at 30, which the freeze analysis
//! (`examples/freeze_analysis.rs`) found behind the learned controller's extra frozen time on
//! Mahimahi; files written before it keep the network's frame rate. A second, opt-in frame-rate
//! rule reads the link's pauses instead of the rate ([`DqnMeta::fps_cap_after_pauses`]: 30 fps
//! while the last 5 s of arrivals held that many pauses).
//!
//! **Features** ([`N_FEATURES`] = 18, from each 50 ms report, see [`Signals`] and
//! [`Tracker::features`]): receive rate of the report and its EWMA, send rate of the reported
//! packets, RTT and the smallest RTT seen, queueing delay (one-way delay above the smallest seen)
//! mean and max, its gradient, jitter, the report's loss and its EWMA, packets reported, the
//! last action (multiplier, resolution, fps, target), and two **pause features**
//! ([`Tracker::recent_pauses`]): pauses per second over the last 5 s of arrivals (gaps of at least
//! 100 ms between arrivals while a packet was on its way) and the longest of them. They tell a link
//! that pauses (LTE) from one that does not, which is where the frame rate decides whether a pause
//! is a freeze. Rates enter as `ln(1 + Mbit/s)`, delays in 100 ms. The feature spec is versioned
//! by [`DqnMeta::features`]: files written before the pause features hold 16
//! ([`LEGACY_FEATURES`]) and read the first 16 of the same vector.
//!
//! **Reward** of the decision in force during a report ([`RewardWeights`], from what the sender
//! sees, so the live server's metrics give the same reward, and from the displayed frames):
//! quality `(mos(min(target, received), resolution, fps) - 1) / 3.6` in [0, 1]
//! ([`crate::quality`]), minus `delay_per_100ms` x the mean
//! queueing delay above `delay_free_ms` (in 100 ms), minus `freeze` when the report holds a loss
//! (an undecodable frame and a key-frame request) or no packet at all (an outage), minus
//! `frozen_per_100ms` x the frozen display time by WebRTC's freeze rule (the receiver's own
//! [`FreezeRule`], over the frames displayed since the previous report; in 100 ms), minus
//! `resolution_switch` / `fps_switch` when the decision changed them (a resolution change costs a
//! key frame). The per-report `freeze` term is the same at 30 and 60 fps; the frozen-time term
//! is what charges a frame rate that turns a pause into a freeze, as the score does. It needs the
//! displayed frames ([`Controller::on_displayed`]: the simulator, and clients that report them);
//! where the sender is not told them (a recorded dataset) it is 0.
//!
//! **Training** ([`train`]): episodes are whole sessions on random train-split traces with a fresh
//! simulator seed each; the Q-network is frozen during an iteration's episodes (run in parallel,
//! each with its own seeded stream, put back in order), acting epsilon-greedily; transitions go
//! into a FIFO replay ([`neuralstream_nn::Replay`]); then one Huber-loss Adam step per
//! [`TrainConfig::train_every`] new transitions towards the double-DQN target, the target network
//! refreshed every [`TrainConfig::target_update_every`] steps. Every
//! [`TrainConfig::validate_every`] iterations the greedy policy plays every validation trace, once
//! per simulator seed ([`TrainConfig::validation_seeds`], 3), and is compared with GCC on the same
//! traces and seeds, family by family, on the means over seeds ([`Selection`]): a network is
//! *bounded* when on every family its mean p95 frame delay and frozen-time ratio are no worse than
//! GCC's; the kept network is the bounded one whose smallest per-family gain in combined score
//! (onl-emu's) over GCC is largest (if none is bounded, the one closest to it). Test traces are
//! never seen. Same seed, same weights, on any thread count.
//!
//! **Model file**: safetensors with the Q-network as `"q"` and [`DqnMeta`] as JSON under the
//! metadata key [`META_KEY`]; [`DqnModel::load`] refuses a file of another format, shape or grid
//! with the file named.

use crate::bench::{run_bench, BenchReport, ControllerSpec, Summary};
use crate::controller::{Controller, Decision, Feedback, Resolution};
use crate::error::RtError;
use crate::gcc::Gcc;
use crate::quality;
use crate::receiver::{FreezeRule, RenderedFrame};
use crate::sim::{run_session, RtConfig};
use crate::trace::LinkTrace;
use neuralstream_nn::{
    argmax, load_networks, loss, save_safetensors, Activation, Adam, AdamConfig, Mlp, QLoss,
    Replay, Scratch, SplitMix64,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

/// Frame rate the shield allows below [`DqnMeta::fps_cap_below_kbps`].
pub const LOW_RATE_FPS: u32 = 30;

/// Features per decision of the current feature spec ([`Tracker::features`]): the
/// [`LEGACY_FEATURES`] of the first model files, then the two pause features.
pub const N_FEATURES: usize = 18;
/// Features of model files written before the pause features: the first 16 of
/// [`Tracker::features`], in the same order ([`DqnMeta::features`] says which spec a file uses).
pub const LEGACY_FEATURES: usize = 16;
/// A pause: a gap of at least this many ms between consecutive arrivals...
pub const PAUSE_MIN_MS: f64 = 100.0;
/// ... ended by a packet that could have arrived (sent plus the smallest one-way delay seen)
/// within this many ms of the previous arrival, so the gap is the link's and not a sender with
/// nothing to send (at 30 fps a frame's packets leave every 33 ms).
pub const PAUSE_SENDER_SLACK_MS: f64 = 50.0;
/// Pauses count for this long after they end, ms (arrival clock).
pub const PAUSE_WINDOW_MS: f64 = 5000.0;
/// EWMA smoothing of the receive rate per report (the throughput estimate).
pub const ESTIMATE_ALPHA: f64 = 0.25;
/// Value of [`DqnMeta::format`] this code reads and writes.
pub const FORMAT: &str = "neuralstream-rt-dqn/1";
/// Safetensors metadata key holding [`DqnMeta`] as JSON.
pub const META_KEY: &str = "rt.dqn";
/// Name of the Q-network inside the model file.
pub const Q_NET: &str = "q";
/// Smallest and largest target the controller asks for, bit/s (the encoder's range by default).
const TARGET_RANGE_BPS: (f64, f64) = (50_000.0, 10_000_000.0);

/// The discrete actions: resolution x fps x multiplier of the throughput estimate. Action `i` is
/// `(r, f, m)` with `i = (r x fps.len() + f) x multipliers.len() + m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionGrid {
    /// Picture heights: 480, 720 or 1080.
    pub heights: Vec<u32>,
    /// Frame rates: 30 or 60.
    pub fps: Vec<u32>,
    /// Target / throughput estimate.
    pub multipliers: Vec<f64>,
}

impl Default for ActionGrid {
    fn default() -> Self {
        ActionGrid {
            heights: vec![480, 720, 1080],
            fps: vec![30, 60],
            multipliers: vec![0.5, 0.8, 0.95, 1.0, 1.08, 1.25],
        }
    }
}

fn resolution_of(height: u32) -> Option<Resolution> {
    match height {
        480 => Some(Resolution::P480),
        720 => Some(Resolution::P720),
        1080 => Some(Resolution::P1080),
        _ => None,
    }
}

impl ActionGrid {
    /// Number of actions.
    pub fn len(&self) -> usize {
        self.heights.len() * self.fps.len() * self.multipliers.len()
    }

    /// True for a grid with no action.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(resolution index, fps index, multiplier index)` of action `i`.
    pub fn split(&self, i: usize) -> (usize, usize, usize) {
        let m = self.multipliers.len();
        let f = self.fps.len();
        (i / (m * f), (i / m) % f, i % m)
    }

    /// Action index of `(resolution index, fps index, multiplier index)`.
    pub fn index(&self, r: usize, f: usize, m: usize) -> usize {
        (r * self.fps.len() + f) * self.multipliers.len() + m
    }

    /// Checks the grid; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.is_empty() {
            return Err("the action grid is empty".into());
        }
        if let Some(h) = self.heights.iter().find(|&&h| resolution_of(h).is_none()) {
            return Err(format!("height {h} is not 480, 720 or 1080"));
        }
        if let Some(f) = self.fps.iter().find(|&&f| f != 30 && f != 60) {
            return Err(format!("fps {f} is not 30 or 60"));
        }
        if let Some(m) = self
            .multipliers
            .iter()
            .find(|&&m| !(m.is_finite() && m > 0.0 && m <= 10.0))
        {
            return Err(format!("multiplier {m} is not in (0, 10]"));
        }
        Ok(())
    }
}

/// The throughput estimate the bitrate multiplier scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimate {
    /// EWMA of the receive rate the reports show (smoothing [`ESTIMATE_ALPHA`]); what the first
    /// model files used, hence the default when a file names none.
    #[default]
    ReceiveRate,
    /// The target of a [`Gcc`] run inside the controller on the same feedback (probes included).
    Gcc,
}

/// Weights of the reward (see the module documentation for each term).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardWeights {
    /// Weight of the normalised quality term. Default 1.
    pub quality: f64,
    /// Penalty per 100 ms of mean queueing delay above `delay_free_ms`. Default 2.
    pub delay_per_100ms: f64,
    /// Queueing delay that costs nothing, ms. Default 20.
    pub delay_free_ms: f64,
    /// Penalty of a report with a loss or with no packet. Default 1.
    pub freeze: f64,
    /// Penalty per 100 ms of frozen display by WebRTC's rule, charged in the report whose
    /// displayed frames end the freeze ([`Signals::frozen_ms`]): what the score counts, frame by
    /// frame, so a frame rate that turns a link's pause into a freeze costs what it costs there.
    /// Default 0 (`rt train --freeze-weight`; 1 and 0.3 gave no better network on validation,
    /// docs/benchmarks.md); 0 in files written before it existed.
    #[serde(default)]
    pub frozen_per_100ms: f64,
    /// Penalty of a resolution change. Default 0.3.
    pub resolution_switch: f64,
    /// Penalty of a frame-rate change. Default 0.05.
    pub fps_switch: f64,
}

impl Default for RewardWeights {
    fn default() -> Self {
        RewardWeights {
            quality: 1.0,
            delay_per_100ms: 2.0,
            delay_free_ms: 20.0,
            freeze: 1.0,
            frozen_per_100ms: 0.0,
            resolution_switch: 0.3,
            fps_switch: 0.05,
        }
    }
}

/// What one feedback report says, as the tracker measures it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Signals {
    /// Bytes that arrived in the report over the time since the previous one, bit/s.
    pub recv_bps: f64,
    /// Bytes reported (arrived or lost) over the span of their send times, bit/s.
    pub send_bps: f64,
    /// Mean queueing delay of the arrived packets (one-way delay above the smallest seen), ms.
    pub queue_delay_ms: f64,
    /// Largest queueing delay in the report, ms.
    pub max_queue_delay_ms: f64,
    /// Change of the mean queueing delay since the previous report with arrivals, ms.
    pub delay_gradient_ms: f64,
    /// Mean absolute change of one-way delay between consecutive arrivals, ms.
    pub jitter_ms: f64,
    /// Lost / reported packets.
    pub loss: f64,
    /// Packets reported.
    pub packets: usize,
    /// Round-trip time, ms (the last one known).
    pub rtt_ms: f64,
    /// Frozen display time, ms, by WebRTC's freeze rule, of the freezes that the frames displayed
    /// since the previous report ended ([`Tracker::on_displayed`]); 0 where the sender is not told
    /// what was displayed.
    pub frozen_ms: f64,
}

/// Folds feedback reports into [`Signals`] and the throughput estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracker {
    /// Throughput estimate, bit/s: the receive-rate EWMA that [`Tracker::observe`] updates, which a
    /// controller with [`Estimate::Gcc`] overwrites with GCC's target after each report (it is
    /// feature 1 and the base of the multiplier).
    pub estimate_bps: f64,
    loss_ewma: f64,
    min_owd_ms: f64,
    min_rtt_ms: f64,
    last: Signals,
    last_now_ms: f64,
    /// Latest arrival reported, ms (receiver's clock).
    last_arrival_ms: Option<f64>,
    /// Pauses of the last [`PAUSE_WINDOW_MS`]: (end, length), ms, arrival clock, oldest first.
    pauses: VecDeque<(f64, f64)>,
    /// WebRTC's freeze rule over the displayed frames, and the frozen time not reported yet.
    freeze_rule: FreezeRule,
    frozen_pending_ms: f64,
}

impl Tracker {
    /// A tracker whose estimate starts at `start_bps`.
    pub fn new(start_bps: f64) -> Self {
        Tracker {
            estimate_bps: start_bps,
            loss_ewma: 0.0,
            min_owd_ms: f64::INFINITY,
            min_rtt_ms: f64::INFINITY,
            last: Signals::default(),
            last_now_ms: 0.0,
            last_arrival_ms: None,
            pauses: VecDeque::new(),
            freeze_rule: FreezeRule::new(),
            frozen_pending_ms: 0.0,
        }
    }

    /// Takes the frames the receiver displayed since the previous report (what the simulator,
    /// and a client that reports them, hands the controller): WebRTC's freeze rule over their
    /// render times gives the next report's [`Signals::frozen_ms`].
    pub fn on_displayed(&mut self, frames: &[RenderedFrame]) {
        for f in frames {
            if let Some(ms) = self.freeze_rule.on_render(f.render_ms) {
                self.frozen_pending_ms += ms;
            }
        }
    }

    /// Pauses in the last [`PAUSE_WINDOW_MS`] of arrivals: gaps of at least [`PAUSE_MIN_MS`]
    /// between consecutive arrivals, ended by a packet that could have arrived (its send time plus
    /// the smallest one-way delay seen) within [`PAUSE_SENDER_SLACK_MS`] of the previous arrival.
    /// The number and the longest gap, ms.
    pub fn recent_pauses(&self) -> (usize, f64) {
        let longest = self.pauses.iter().map(|p| p.1).fold(0.0, f64::max);
        (self.pauses.len(), longest)
    }

    /// Measures one report and updates the estimate.
    pub fn observe(&mut self, fb: &Feedback) -> Signals {
        let span_ms = (fb.now_ms - self.last_now_ms).max(10.0);
        self.last_now_ms = fb.now_ms;
        let (mut recv_bytes, mut all_bytes, mut lost) = (0u64, 0u64, 0usize);
        let (mut owd_sum, mut owd_n, mut owd_max) = (0.0, 0usize, f64::NEG_INFINITY);
        let (mut jitter_sum, mut prev_owd) = (0.0, None::<f64>);
        for p in &fb.packets {
            all_bytes += p.bytes as u64;
            match p.arrival_ms {
                Some(a) => {
                    recv_bytes += p.bytes as u64;
                    let owd = a - p.send_ms;
                    self.min_owd_ms = self.min_owd_ms.min(owd);
                    // A pause: a long gap since the previous arrival, although this packet
                    // could have arrived soon after it.
                    if let Some(last) = self.last_arrival_ms {
                        let gap_ms = a - last;
                        let ready_ms = p.send_ms + self.min_owd_ms;
                        if gap_ms >= PAUSE_MIN_MS && ready_ms <= last + PAUSE_SENDER_SLACK_MS {
                            self.pauses.push_back((a, gap_ms));
                        }
                    }
                    self.last_arrival_ms = Some(self.last_arrival_ms.map_or(a, |l| l.max(a)));
                    owd_sum += owd;
                    owd_n += 1;
                    owd_max = owd_max.max(owd);
                    if let Some(prev) = prev_owd {
                        jitter_sum += (owd - prev).abs();
                    }
                    prev_owd = Some(owd);
                }
                None => lost += 1,
            }
        }
        let send_span_ms = match (fb.packets.first(), fb.packets.last()) {
            (Some(a), Some(b)) => (b.send_ms - a.send_ms).max(5.0),
            _ => span_ms,
        };
        if let Some(last) = self.last_arrival_ms {
            while self
                .pauses
                .front()
                .is_some_and(|p| p.0 < last - PAUSE_WINDOW_MS)
            {
                self.pauses.pop_front();
            }
        }
        let mut s = self.last;
        s.frozen_ms = std::mem::take(&mut self.frozen_pending_ms);
        s.recv_bps = recv_bytes as f64 * 8000.0 / span_ms;
        s.send_bps = (all_bytes as f64 * 8000.0 / send_span_ms).min(1e9);
        s.packets = fb.packets.len();
        s.loss = if fb.packets.is_empty() {
            0.0
        } else {
            lost as f64 / fb.packets.len() as f64
        };
        if owd_n > 0 {
            let q = owd_sum / owd_n as f64 - self.min_owd_ms;
            s.delay_gradient_ms = q - self.last.queue_delay_ms;
            s.queue_delay_ms = q;
            s.max_queue_delay_ms = owd_max - self.min_owd_ms;
            s.jitter_ms = if owd_n > 1 {
                jitter_sum / (owd_n - 1) as f64
            } else {
                0.0
            };
        } else {
            s.delay_gradient_ms = 0.0;
        }
        if let Some(rtt) = fb.rtt_ms {
            s.rtt_ms = rtt;
            self.min_rtt_ms = self.min_rtt_ms.min(rtt);
        }
        self.estimate_bps += ESTIMATE_ALPHA * (s.recv_bps - self.estimate_bps);
        self.loss_ewma += ESTIMATE_ALPHA * (s.loss - self.loss_ewma);
        self.last = s;
        s
    }

    /// The feature vector of the latest report and the decision in force: as many of the
    /// [`N_FEATURES`] as `out` holds (a model file of the first spec takes the first
    /// [`LEGACY_FEATURES`]).
    pub fn features(&self, grid: &ActionGrid, action: usize, target_bps: f64, out: &mut [f32]) {
        let s = &self.last;
        let mbps = |bps: f64| (bps / 1e6).max(0.0).ln_1p();
        let (r, f, m) = grid.split(action);
        let min_rtt = if self.min_rtt_ms.is_finite() {
            self.min_rtt_ms
        } else {
            0.0
        };
        let (pauses, longest_pause_ms) = self.recent_pauses();
        let values: [f64; N_FEATURES] = [
            mbps(s.recv_bps),
            mbps(self.estimate_bps),
            mbps(s.send_bps),
            s.rtt_ms / 100.0,
            min_rtt / 100.0,
            s.queue_delay_ms / 100.0,
            s.max_queue_delay_ms / 100.0,
            (s.delay_gradient_ms / 50.0).clamp(-5.0, 5.0),
            s.jitter_ms / 10.0,
            s.loss,
            self.loss_ewma,
            s.packets as f64 / 20.0,
            grid.multipliers[m],
            r as f64 / (grid.heights.len().max(2) - 1) as f64,
            grid.fps[f] as f64 / 60.0,
            mbps(target_bps),
            // The pause features: whether the link pauses (LTE), where WebRTC's freeze rule
            // makes the frame rate matter (see `DqnMeta::fps_ceiling`).
            pauses as f64 / (PAUSE_WINDOW_MS / 1000.0),
            (longest_pause_ms / 100.0).min(20.0),
        ];
        for (o, v) in out.iter_mut().zip(values) {
            *o = v.clamp(-1e3, 1e3) as f32;
        }
    }
}

/// Reward of a report under the decision `(target, resolution, fps)` that was in force, with
/// `switch_penalty` already worked out when that decision was taken.
pub fn reward(
    w: &RewardWeights,
    s: &Signals,
    target_bps: f64,
    resolution: Resolution,
    fps: u32,
    switch_penalty: f64,
) -> f64 {
    let q = (quality::mos(target_bps.min(s.recv_bps), resolution, fps) - 1.0) / 3.6;
    let delay = (s.queue_delay_ms - w.delay_free_ms).max(0.0) / 100.0;
    let freeze = if s.packets == 0 || s.loss > 0.0 {
        1.0
    } else {
        0.0
    };
    w.quality * q
        - w.delay_per_100ms * delay
        - w.freeze * freeze
        - w.frozen_per_100ms * s.frozen_ms / 100.0
        - switch_penalty
}

/// What is stored with the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DqnMeta {
    /// [`FORMAT`].
    pub format: String,
    /// Input features: [`N_FEATURES`], or [`LEGACY_FEATURES`] for files written before the pause
    /// features (the feature spec's version: the first `features` of [`Tracker::features`]).
    pub features: usize,
    /// The actions the outputs stand for.
    pub grid: ActionGrid,
    /// The reward it was trained for.
    pub reward: RewardWeights,
    /// Training seed.
    pub seed: u64,
    /// Training episodes played.
    pub episodes: usize,
    /// Mean combined score of the kept network on the validation split.
    pub validation_onl_qoe: f64,
    /// Commit of the code that trained it, when known.
    pub git_commit: Option<String>,
    /// What the multiplier scales; files written before it existed mean [`Estimate::ReceiveRate`].
    #[serde(default)]
    pub estimate: Estimate,
    /// The shield: while the last report shows a mean queueing delay above this many ms, or a
    /// loss, a multiplier above 1 is applied as 1 (the estimate itself). `None`: no shield.
    #[serde(default)]
    pub guard_queue_ms: Option<f64>,
    /// The shield's downward half: above `guard_queue_ms` or on a loss the multiplier is capped at
    /// this instead of 1 (the hand rule "x0.8 over 25 ms of queue or on a loss"). `None` (files
    /// written before it existed): 1.
    #[serde(default)]
    pub guard_cap: Option<f64>,
    /// Below this queueing delay, ms, a multiplier above 1 is allowed; between it and
    /// `guard_queue_ms` the multiplier is capped at 1 (probe only on an empty queue). `None`
    /// (files written before it existed): allowed up to `guard_queue_ms`.
    #[serde(default)]
    pub guard_free_ms: Option<f64>,
    /// The shield's frame-rate ceiling ([`DqnMeta::fps_ceiling`]): below this applied target,
    /// kbit/s, the frame rate is at most [`LOW_RATE_FPS`]. `None` (files written before it
    /// existed): the network's frame rate stands.
    #[serde(default)]
    pub fps_cap_below_kbps: Option<f64>,
    /// The shield's pause rule ([`DqnMeta::fps_ceiling`]): while the last [`PAUSE_WINDOW_MS`] of
    /// arrivals held at least this many pauses ([`Tracker::recent_pauses`]), the frame rate is at
    /// most [`LOW_RATE_FPS`]. `None` (files written before it existed): no such rule.
    #[serde(default)]
    pub fps_cap_after_pauses: Option<usize>,
}

impl DqnMeta {
    /// What a network trained with `cfg` declares before any episode: its grid, reward, seed,
    /// estimate and shield; no episodes played and no validation score (NaN) yet.
    pub fn for_training(cfg: &TrainConfig) -> DqnMeta {
        DqnMeta {
            guard_queue_ms: cfg.guard_queue_ms,
            guard_cap: cfg.guard_cap,
            guard_free_ms: cfg.guard_free_ms,
            fps_cap_below_kbps: cfg.fps_cap_below_kbps,
            fps_cap_after_pauses: cfg.fps_cap_after_pauses,
            features: cfg.features,
            ..DqnMeta::unshielded(cfg.grid.clone(), cfg.reward, cfg.seed, cfg.estimate)
        }
    }

    /// What a network over `grid`, trained for `reward` from `seed` and reading `estimate`,
    /// declares before any episode: no shield, no frame-rate ceiling, no validation score (NaN).
    /// The one place every field is listed: [`DqnMeta::for_training`] and the offline trainer
    /// start from it.
    pub fn unshielded(
        grid: ActionGrid,
        reward: RewardWeights,
        seed: u64,
        estimate: Estimate,
    ) -> DqnMeta {
        DqnMeta {
            format: FORMAT.into(),
            features: N_FEATURES,
            grid,
            reward,
            seed,
            episodes: 0,
            validation_onl_qoe: f64::NAN,
            git_commit: None,
            estimate,
            guard_queue_ms: None,
            guard_cap: None,
            guard_free_ms: None,
            fps_cap_below_kbps: None,
            fps_cap_after_pauses: None,
        }
    }

    /// The multiplier the shield lets through for the network's choice `m` after report `s`.
    pub fn shield(&self, m: f64, s: &Signals) -> f64 {
        let Some(guard_ms) = self.guard_queue_ms else {
            return m;
        };
        if s.queue_delay_ms > guard_ms || s.loss > 0.0 {
            m.min(self.guard_cap.unwrap_or(1.0))
        } else if self
            .guard_free_ms
            .is_some_and(|free| s.queue_delay_ms > free)
        {
            m.min(1.0)
        } else {
            m
        }
    }

    /// The frame-rate ceiling at `target_bps` after `pauses` recent pauses
    /// ([`Tracker::recent_pauses`]): [`LOW_RATE_FPS`] below [`DqnMeta::fps_cap_below_kbps`] or
    /// from [`DqnMeta::fps_cap_after_pauses`] pauses on, else `source_fps`.
    ///
    /// Why: WebRTC's freeze rule counts a render gap of `max(3 x mean interval, mean + 150 ms)`,
    /// 167 ms at 60 fps but 183 ms at 30 fps, and LTE links pause for 120-180 ms many times a
    /// minute. At 60 fps such a pause is a freeze; at 30 fps (what GCC's ladder, WebRTC's balanced
    /// degradation, plays below 700 kbit/s) the same pause is a stutter. The freeze analysis
    /// (`examples/freeze_analysis.rs`) found this behind most of the learned controller's extra
    /// frozen time on the train and validation LTE traces, at targets of tens to a few hundred
    /// kbit/s, where 60 fps also halves each frame's bits.
    pub fn fps_ceiling(&self, target_bps: f64, pauses: usize, source_fps: u32) -> u32 {
        let low_rate = self
            .fps_cap_below_kbps
            .is_some_and(|kbps| target_bps < kbps * 1000.0);
        let pausing = self.fps_cap_after_pauses.is_some_and(|n| pauses >= n);
        if low_rate || pausing {
            LOW_RATE_FPS.min(source_fps)
        } else {
            source_fps
        }
    }
}

/// A trained Q-network and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct DqnModel {
    /// Q-network: [`DqnMeta::features`] inputs, one output per action.
    pub q: Mlp,
    /// Metadata.
    pub meta: DqnMeta,
}

impl DqnModel {
    /// Writes the model (safetensors, metadata under [`META_KEY`]).
    pub fn save(&self, path: &Path) -> Result<(), RtError> {
        self.save_with(path, BTreeMap::new())
    }

    /// [`DqnModel::save`] with more metadata keys beside [`META_KEY`] (readers ignore them; the
    /// online trainer records its counters this way).
    pub fn save_with(
        &self,
        path: &Path,
        mut metadata: BTreeMap<String, String>,
    ) -> Result<(), RtError> {
        let json = serde_json::to_string(&self.meta).map_err(|e| RtError::Model {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        metadata.insert(META_KEY.to_owned(), json);
        save_safetensors(path, &[(Q_NET, &self.q)], None, &metadata)?;
        Ok(())
    }

    /// Reads a model written by [`DqnModel::save`], checking format, grid and shapes.
    pub fn load(path: &Path) -> Result<Self, RtError> {
        let bad = |message: String| RtError::Model {
            path: path.to_path_buf(),
            message,
        };
        let mut ck = load_networks(path)?;
        let q = ck.networks.remove(Q_NET).ok_or_else(|| {
            bad(format!(
                "no '{Q_NET}' network; is this a model written by `neuralstream rt train`?"
            ))
        })?;
        let json = ck.metadata.get(META_KEY).ok_or_else(|| {
            bad(format!(
                "metadata key '{META_KEY}' is missing; is this a model written by `neuralstream rt train`?"
            ))
        })?;
        let meta: DqnMeta = serde_json::from_str(json)
            .map_err(|e| bad(format!("metadata key '{META_KEY}': {e}")))?;
        if meta.format != FORMAT {
            return Err(bad(format!(
                "format '{}' is not '{FORMAT}'; retrain with this version",
                meta.format
            )));
        }
        meta.grid
            .validate()
            .map_err(|e| bad(format!("metadata key '{META_KEY}': {e}")))?;
        if ![LEGACY_FEATURES, N_FEATURES].contains(&meta.features)
            || q.input_dim() != meta.features
            || q.output_dim() != meta.grid.len()
        {
            return Err(bad(format!(
                "the Q-network takes {} inputs and gives {} outputs, but the metadata says {} features ({LEGACY_FEATURES} or {N_FEATURES} are known) and the grid has {} actions",
                q.input_dim(),
                q.output_dim(),
                meta.features,
                meta.grid.len()
            )));
        }
        Ok(DqnModel { q, meta })
    }
}

/// One transition as an exploring controller records it: observation, action, reward, next
/// observation.
type Step = (Vec<f32>, usize, f32, Vec<f32>);

/// Exploration while training: epsilon-greedy draws and the transitions of the episode.
#[derive(Debug, Clone)]
struct Explore {
    epsilon: f64,
    rng: SplitMix64,
    steps: Vec<Step>,
    /// Whether `steps` collects the transitions (training in simulation) or stays empty (live
    /// sessions, whose transitions the server builds from the records).
    record: bool,
}

/// The learned controller: greedy on the Q-network (or epsilon-greedy while training).
#[derive(Debug, Clone)]
pub struct DqnController {
    model: Arc<DqnModel>,
    scratch: Scratch,
    tracker: Tracker,
    gcc: Option<Gcc>,
    source_fps: u32,
    action: usize,
    target_bps: f64,
    /// Frame rate the shield allows ([`DqnMeta::fps_ceiling`]).
    fps_cap: u32,
    switch_penalty: f64,
    obs: Vec<f32>,
    explore: Option<Explore>,
}

impl DqnController {
    /// A greedy controller running `model`.
    pub fn new(model: Arc<DqnModel>) -> Self {
        let scratch = Scratch::for_mlp(&model.q);
        let obs = vec![0.0; model.meta.features];
        DqnController {
            model,
            scratch,
            tracker: Tracker::new(RtConfig::default().start_bps),
            gcc: None,
            source_fps: 60,
            action: 0,
            target_bps: RtConfig::default().start_bps,
            fps_cap: u32::MAX,
            switch_penalty: 0.0,
            obs,
            explore: None,
        }
    }

    fn exploring(model: Arc<DqnModel>, epsilon: f64, seed: u64) -> Self {
        let mut c = DqnController::new(model);
        c.explore = Some(Explore {
            epsilon,
            rng: SplitMix64::new(seed),
            steps: Vec::new(),
            record: true,
        });
        c
    }

    /// A controller that explores: with probability `epsilon` (clamped to [0, 1]) a decision is
    /// a uniformly drawn action instead of the greedy one, from a stream seeded by `seed`. It
    /// keeps nothing per decision, so it can serve a live session of any length (the server's
    /// online training, `serve --rt-train`, learns from the session's records instead).
    pub fn exploring_live(model: Arc<DqnModel>, epsilon: f64, seed: u64) -> Self {
        let mut c = DqnController::new(model);
        c.explore = Some(Explore {
            epsilon: epsilon.clamp(0.0, 1.0),
            rng: SplitMix64::new(seed),
            steps: Vec::new(),
            record: false,
        });
        c
    }

    fn decision(&self) -> Decision {
        let grid = &self.model.meta.grid;
        let (r, f, _) = grid.split(self.action);
        Decision {
            target_bps: self.target_bps,
            resolution: resolution_of(grid.heights[r]).unwrap_or(Resolution::P480),
            fps: grid.fps[f].min(self.source_fps).min(self.fps_cap),
        }
    }

    fn choose(&mut self) -> usize {
        let n = self.model.meta.grid.len();
        if let Some(e) = &mut self.explore {
            if e.rng.next_f64() < e.epsilon {
                return e.rng.below(n);
            }
        }
        argmax(self.model.q.infer(&self.obs, &mut self.scratch))
    }
}

impl Controller for DqnController {
    fn name(&self) -> String {
        "learned".into()
    }

    fn start(&mut self, source_fps: u32) -> Decision {
        let mut start_bps = RtConfig::default().start_bps;
        self.source_fps = source_fps;
        self.gcc = match self.model.meta.estimate {
            Estimate::ReceiveRate => None,
            Estimate::Gcc => {
                let mut gcc = Gcc::new(start_bps);
                start_bps = gcc.start(source_fps).target_bps;
                Some(gcc)
            }
        };
        self.tracker = Tracker::new(start_bps);
        self.target_bps = start_bps;
        let grid = &self.model.meta.grid;
        // The lowest resolution and frame rate, multiplier nearest 1: a safe opening.
        let m = (0..grid.multipliers.len())
            .min_by(|&a, &b| {
                (grid.multipliers[a] - 1.0)
                    .abs()
                    .total_cmp(&(grid.multipliers[b] - 1.0).abs())
            })
            .unwrap_or(0);
        self.action = grid.index(0, 0, m);
        self.fps_cap = self.model.meta.fps_ceiling(self.target_bps, 0, source_fps);
        self.switch_penalty = 0.0;
        self.tracker
            .features(grid, self.action, self.target_bps, &mut self.obs);
        self.decision()
    }

    /// Feeds WebRTC's freeze rule of the reward ([`Tracker::on_displayed`]).
    fn on_displayed(&mut self, frames: &[RenderedFrame]) {
        self.tracker.on_displayed(frames);
    }

    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        let s = self.tracker.observe(feedback);
        if let Some(gcc) = &mut self.gcc {
            self.tracker.estimate_bps = gcc.on_feedback(feedback).target_bps;
        }
        let before = self.decision();
        let r = reward(
            &self.model.meta.reward,
            &s,
            before.target_bps,
            before.resolution,
            before.fps,
            self.switch_penalty,
        );
        let prev_obs = self.obs.clone();
        let grid = &self.model.meta.grid;
        self.tracker
            .features(grid, self.action, self.target_bps, &mut self.obs);
        let prev_action = self.action;
        if let Some(e) = self.explore.as_mut().filter(|e| e.record) {
            e.steps
                .push((prev_obs, prev_action, r as f32, self.obs.clone()));
        }
        self.action = self.choose();
        let grid = &self.model.meta.grid;
        let (m_idx, w) = (grid.split(self.action).2, &self.model.meta.reward);
        let m = self.model.meta.shield(grid.multipliers[m_idx], &s);
        self.target_bps =
            (m * self.tracker.estimate_bps).clamp(TARGET_RANGE_BPS.0, TARGET_RANGE_BPS.1);
        self.fps_cap = self.model.meta.fps_ceiling(
            self.target_bps,
            self.tracker.recent_pauses().0,
            self.source_fps,
        );
        let after = self.decision();
        self.switch_penalty = if after.resolution != before.resolution {
            w.resolution_switch
        } else {
            0.0
        } + if after.fps != before.fps {
            w.fps_switch
        } else {
            0.0
        };
        after
    }

    /// The throughput estimate the multiplier scales (its inner GCC's estimate, or the receive
    /// rate's EWMA, as the model was trained).
    fn estimate_kbps(&self) -> Option<f64> {
        Some(self.tracker.estimate_bps / 1000.0)
    }
}

/// Training settings of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Seed of initialisation, trace draws, simulator seeds, exploration and minibatches. Default 1.
    pub seed: u64,
    /// Training episodes (whole sessions). Default 1000.
    pub episodes: usize,
    /// Episodes per iteration, played in parallel with the same network. Default 2.
    pub episodes_per_iter: usize,
    /// Hidden widths of the Q-network. Default [64, 64].
    pub hidden: Vec<usize>,
    /// Adam learning rate. Default 5e-4.
    pub lr: f32,
    /// Discount per 50 ms decision. Default 0.95 (a horizon of about 1 s).
    pub gamma: f32,
    /// Minibatch size. Default 64.
    pub batch_size: usize,
    /// Replay capacity, transitions. Default 200,000.
    pub buffer_size: usize,
    /// Transitions collected before the first update. Default 5,000.
    pub learning_starts: usize,
    /// New transitions per gradient step. Default 4.
    pub train_every: usize,
    /// Gradient steps between target-network refreshes. Default 1,000.
    pub target_update_every: u64,
    /// Exploration rate at the start. Default 1.
    pub eps_start: f64,
    /// Exploration rate after the decay. Default 0.05.
    pub eps_end: f64,
    /// Episodes over which epsilon decays linearly. Default 300.
    pub eps_decay_episodes: usize,
    /// Huber loss threshold. Default 1.
    pub huber_delta: f32,
    /// Global gradient-norm clip. Default 10.
    pub max_grad_norm: f32,
    /// Validate every this many iterations. Default 10.
    pub validate_every: usize,
    /// Threads for episodes and validation. Default 2.
    pub threads: usize,
    /// Session settings (its seed is replaced per episode; durations are whole traces).
    pub session: RtConfig,
    /// Reward weights.
    pub reward: RewardWeights,
    /// Action grid.
    pub grid: ActionGrid,
    /// What the multiplier scales. Default [`Estimate::Gcc`].
    pub estimate: Estimate,
    /// The shield ([`DqnMeta::guard_queue_ms`]). Default `Some(25.0)`.
    pub guard_queue_ms: Option<f64>,
    /// The shield's cap above `guard_queue_ms` or on a loss ([`DqnMeta::guard_cap`]). Default
    /// `Some(0.8)`.
    pub guard_cap: Option<f64>,
    /// Queueing delay below which probing above 1 is allowed ([`DqnMeta::guard_free_ms`]).
    /// Default `Some(10.0)`.
    pub guard_free_ms: Option<f64>,
    /// The shield's frame-rate ceiling ([`DqnMeta::fps_cap_below_kbps`]). Default `None` (off: on
    /// the validation split it cost p95 frame delay and did not lower the frozen time, see
    /// docs/benchmarks.md).
    pub fps_cap_below_kbps: Option<f64>,
    /// The shield's pause rule ([`DqnMeta::fps_cap_after_pauses`]). Default `None` (off).
    pub fps_cap_after_pauses: Option<usize>,
    /// Input features ([`DqnMeta::features`]): [`N_FEATURES`] (default) or [`LEGACY_FEATURES`]
    /// (without the pause features).
    pub features: usize,
    /// Simulator seeds each validation plays every validation trace with (`session.seed` and
    /// the next ones); [`Selection`] compares means over them. Default 3.
    pub validation_seeds: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 1,
            episodes: 1000,
            episodes_per_iter: 2,
            hidden: vec![64, 64],
            lr: 5e-4,
            gamma: 0.95,
            batch_size: 64,
            buffer_size: 200_000,
            learning_starts: 5_000,
            train_every: 4,
            target_update_every: 1_000,
            eps_start: 1.0,
            eps_end: 0.05,
            eps_decay_episodes: 300,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            validate_every: 10,
            threads: 2,
            session: RtConfig::default(),
            reward: RewardWeights::default(),
            grid: ActionGrid::default(),
            estimate: Estimate::Gcc,
            guard_queue_ms: Some(25.0),
            guard_cap: Some(0.8),
            guard_free_ms: Some(10.0),
            fps_cap_below_kbps: None,
            fps_cap_after_pauses: None,
            features: N_FEATURES,
            validation_seeds: 3,
        }
    }
}

impl TrainConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), RtError> {
        let bad = |field: &str, what: &str| Err(RtError::Config(format!("{field}: {what}")));
        for (field, v) in [
            ("episodes", self.episodes),
            ("episodes_per_iter", self.episodes_per_iter),
            ("batch_size", self.batch_size),
            ("train_every", self.train_every),
            ("validate_every", self.validate_every),
            ("validation_seeds", self.validation_seeds),
            ("threads", self.threads),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1");
            }
        }
        if self.hidden.contains(&0) {
            return bad("hidden", "every width must be at least 1");
        }
        if ![LEGACY_FEATURES, N_FEATURES].contains(&self.features) {
            return bad(
                "features",
                &format!("must be {N_FEATURES} or {LEGACY_FEATURES} (without the pause features)"),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.gamma) {
            return bad("gamma", "must be in [0, 1)");
        }
        if !(0.0..=1.0).contains(&self.eps_start) || !(0.0..=1.0).contains(&self.eps_end) {
            return bad("eps_start/eps_end", "must be in [0, 1]");
        }
        self.grid
            .validate()
            .map_err(|e| RtError::Config(format!("grid: {e}")))?;
        self.session.validate()
    }
}

/// One point of the training curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Episodes played so far.
    pub episodes: usize,
    /// Exploration rate of the last iteration.
    pub epsilon: f64,
    /// Mean reward per decision of the episodes since the previous point.
    pub mean_reward: f64,
    /// Mean Huber loss of the gradient steps since the previous point (NaN before learning).
    pub loss: f64,
    /// Gradient steps so far.
    pub grad_steps: u64,
    /// Mean combined score of the greedy policy on the validation split.
    pub validation_onl_qoe: f64,
    /// How it compares with GCC on the same traces.
    pub selection: Selection,
}

/// How a network's greedy policy compares with GCC's on the validation traces, family by family
/// (the bar of the real-time mode: beat GCC's combined score with p95 frame delay and frozen-time
/// ratio no worse than GCC's, on every family).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Selection {
    /// On every family, mean p95 frame delay and mean frozen-time ratio are no worse than GCC's.
    pub bounded: bool,
    /// Smallest per-family gain in mean combined score over GCC, points (negative: a loss).
    pub min_gain: f64,
    /// How far it is from bounded: the sum over families of `max(0, p95 / GCC's p95 - 1)` and
    /// `max(0, frozen - GCC's frozen) x 10`; 0 when bounded.
    pub excess: f64,
}

impl Selection {
    /// Compares per-family summaries of the learned controller with GCC's (rows whose family is
    /// `all` are skipped; a family GCC lacks is skipped).
    pub fn compare(learned: &[Summary], gcc: &[Summary]) -> Selection {
        let mut sel = Selection {
            bounded: true,
            min_gain: f64::INFINITY,
            excess: 0.0,
        };
        for l in learned.iter().filter(|l| l.family != "all") {
            let Some(g) = gcc.iter().find(|g| g.family == l.family) else {
                continue;
            };
            sel.min_gain = sel.min_gain.min(l.onl_qoe - g.onl_qoe);
            let p95_over = (l.p95_frame_delay_ms / g.p95_frame_delay_ms.max(1e-9) - 1.0).max(0.0);
            let frozen_over = (l.frozen_ratio - g.frozen_ratio).max(0.0) * 10.0;
            sel.excess += p95_over + frozen_over;
        }
        sel.bounded = sel.excess == 0.0;
        if !sel.min_gain.is_finite() {
            sel.min_gain = 0.0;
        }
        sel
    }

    /// True when `self` is preferred to `other`: bounded first; among bounded, the larger
    /// smallest gain; among unbounded, the smaller excess.
    pub fn better_than(&self, other: &Selection) -> bool {
        match (self.bounded, other.bounded) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => self.min_gain > other.min_gain,
            (false, false) => self.excess < other.excess,
        }
    }
}

/// What [`train`] returns besides the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    /// One point per validation.
    pub curve: Vec<CurvePoint>,
    /// Episodes played when the kept network was validated.
    pub best_episodes: usize,
    /// Its validation score.
    pub best_validation_onl_qoe: f64,
    /// How it compares with GCC on validation.
    pub best_selection: Option<Selection>,
    /// GCC's per-family summary on the validation traces (what [`Selection`] compares with).
    pub gcc_validation: Vec<Summary>,
}

/// Mean combined score of `model` (greedy) over `traces`, whole traces, sessions in parallel.
pub fn validation_score(
    model: &Arc<DqnModel>,
    traces: &[LinkTrace],
    session: &RtConfig,
    threads: usize,
) -> Result<f64, RtError> {
    Ok(mean_onl_qoe(&validation_report(
        ControllerSpec::Learned(model.clone()),
        traces,
        session,
        threads,
        1,
    )?))
}

/// One controller over `traces`, whole traces, sessions in parallel, once per simulator seed
/// `session.seed .. session.seed + seeds`: the summary is the mean over traces and seeds, so a
/// network is not judged on one draw of the simulator's noise (loss, content, encoder).
fn validation_report(
    spec: ControllerSpec,
    traces: &[LinkTrace],
    session: &RtConfig,
    threads: usize,
    seeds: usize,
) -> Result<BenchReport, RtError> {
    let mut sessions = Vec::new();
    for k in 0..seeds.max(1) as u64 {
        let cfg = RtConfig {
            seed: session.seed.wrapping_add(k),
            ..session.clone()
        };
        sessions.extend(
            run_bench(
                traces,
                std::slice::from_ref(&spec),
                &cfg,
                true,
                threads,
                false,
            )?
            .0
            .sessions,
        );
    }
    Ok(crate::bench::report_of(sessions))
}

fn mean_onl_qoe(report: &BenchReport) -> f64 {
    let n = report.sessions.len().max(1) as f64;
    report.sessions.iter().map(|s| s.onl_qoe).sum::<f64>() / n
}

/// Plays one exploring episode; returns its transitions.
fn episode(
    model: &Arc<DqnModel>,
    trace: &LinkTrace,
    session: &RtConfig,
    epsilon: f64,
    seed: u64,
) -> Result<Vec<Step>, RtError> {
    let mut cfg = session.clone();
    cfg.seed = seed;
    cfg.duration_ms = trace.duration_ms().max(1000.0);
    let mut c = DqnController::exploring(model.clone(), epsilon, seed ^ 0x5eed_0000_0000_0001);
    run_session(trace, &cfg, &mut c)?;
    Ok(c.explore.map(|e| e.steps).unwrap_or_default())
}

/// Trains a DQN controller on `train` traces, keeping the network with the best validation score
/// on `validation` (see the module documentation). `progress` sees every curve point.
pub fn train(
    train_traces: &[LinkTrace],
    validation: &[LinkTrace],
    cfg: &TrainConfig,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<(DqnModel, TrainReport), RtError> {
    cfg.validate()?;
    if train_traces.is_empty() || validation.is_empty() {
        return Err(RtError::Config(
            "rt train needs traces in both the train and the validation split (a family needs at least 3 links)".into(),
        ));
    }
    let mut rng = SplitMix64::new(cfg.seed);
    let mut sizes = vec![cfg.features];
    sizes.extend(&cfg.hidden);
    sizes.push(cfg.grid.len());
    let meta = DqnMeta::for_training(cfg);
    let mut q = Mlp::new(&sizes, Activation::Relu, cfg.seed ^ 0xd9a0_0000_0000_0001);
    let mut target = q.clone();
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(cfg.max_grad_norm),
        ..AdamConfig::with_lr(cfg.lr)
    });
    let mut replay = Replay::new(cfg.features, cfg.buffer_size);
    let mut bufs = StepBuffers::default();
    let (mut grad_steps, mut since_update) = (0u64, 0usize);
    let (mut reward_sum, mut reward_n, mut loss_sum, mut loss_n) = (0.0, 0usize, 0.0, 0usize);
    let mut best: Option<(Selection, f64, usize, Mlp)> = None;
    let gcc_validation = validation_report(
        ControllerSpec::Gcc,
        validation,
        &cfg.session,
        cfg.threads,
        cfg.validation_seeds,
    )?
    .summary;
    let mut report = TrainReport {
        curve: Vec::new(),
        best_episodes: 0,
        best_validation_onl_qoe: f64::NAN,
        best_selection: None,
        gcc_validation: gcc_validation.clone(),
    };
    let mut played = 0usize;
    let mut iteration = 0usize;
    while played < cfg.episodes {
        let frac = (played as f64 / cfg.eps_decay_episodes.max(1) as f64).min(1.0);
        let epsilon = cfg.eps_start + (cfg.eps_end - cfg.eps_start) * frac;
        let n = cfg.episodes_per_iter.min(cfg.episodes - played);
        let jobs: Vec<(usize, u64)> = (0..n)
            .map(|_| (rng.below(train_traces.len()), rng.next_u64()))
            .collect();
        let model = Arc::new(DqnModel {
            q: q.clone(),
            meta: meta.clone(),
        });
        let results = parallel(&jobs, cfg.threads, |&(t, seed)| {
            episode(&model, &train_traces[t], &cfg.session, epsilon, seed)
        });
        for steps in results {
            for (o, a, r, o2) in steps? {
                replay.push(&o, a, r, &o2, false);
                reward_sum += r as f64;
                reward_n += 1;
                since_update += 1;
                if replay.len() < cfg.learning_starts.max(cfg.batch_size)
                    || since_update < cfg.train_every
                {
                    continue;
                }
                since_update = 0;
                let step = StepSettings {
                    batch_size: cfg.batch_size,
                    gamma: cfg.gamma,
                    huber_delta: cfg.huber_delta,
                };
                let l = double_dqn_step(
                    &mut q, &target, &mut adam, &replay, &mut rng, step, &mut bufs,
                );
                loss_sum += l as f64;
                loss_n += 1;
                grad_steps += 1;
                if grad_steps % cfg.target_update_every.max(1) == 0 {
                    target = q.clone();
                }
            }
        }
        played += n;
        iteration += 1;
        if iteration % cfg.validate_every == 0 || played >= cfg.episodes {
            let model = Arc::new(DqnModel {
                q: q.clone(),
                meta: meta.clone(),
            });
            let val_report = validation_report(
                ControllerSpec::Learned(model),
                validation,
                &cfg.session,
                cfg.threads,
                cfg.validation_seeds,
            )?;
            let val = mean_onl_qoe(&val_report);
            let selection = Selection::compare(&val_report.summary, &gcc_validation);
            let point = CurvePoint {
                episodes: played,
                epsilon,
                mean_reward: reward_sum / reward_n.max(1) as f64,
                loss: if loss_n == 0 {
                    f64::NAN
                } else {
                    loss_sum / loss_n as f64
                },
                grad_steps,
                validation_onl_qoe: val,
                selection,
            };
            (reward_sum, reward_n, loss_sum, loss_n) = (0.0, 0, 0.0, 0);
            progress(&point);
            report.curve.push(point);
            if best.as_ref().is_none_or(|b| selection.better_than(&b.0)) {
                best = Some((selection, val, played, q.clone()));
            }
        }
    }
    let (selection, val, at, q) = best.expect("the last iteration validates");
    report.best_episodes = at;
    report.best_validation_onl_qoe = val;
    report.best_selection = Some(selection);
    let meta = DqnMeta {
        episodes: played,
        validation_onl_qoe: val,
        ..meta
    };
    Ok((DqnModel { q, meta }, report))
}

/// Minibatch buffers reused across [`double_dqn_step`]s.
#[derive(Debug, Default)]
pub(crate) struct StepBuffers {
    idx: Vec<usize>,
    obs: Vec<f32>,
    next: Vec<f32>,
    targets: Vec<f32>,
    actions: Vec<usize>,
    scratch: Scratch,
}

/// The minibatch settings of [`double_dqn_step`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSettings {
    /// Minibatch size.
    pub batch_size: usize,
    /// Discount.
    pub gamma: f32,
    /// Huber loss threshold.
    pub huber_delta: f32,
}

/// One Huber-loss Adam step of `q` on a minibatch drawn from `replay`, towards the double-DQN
/// target (action chosen by `q`, valued by `target`); returns the loss. Shared by training in
/// simulation ([`train`]) and offline ([`crate::offline`]).
pub(crate) fn double_dqn_step(
    q: &mut Mlp,
    target: &Mlp,
    adam: &mut Adam,
    replay: &Replay,
    rng: &mut SplitMix64,
    s: StepSettings,
    b: &mut StepBuffers,
) -> f32 {
    let n_actions = q.output_dim();
    replay.sample(rng, s.batch_size, &mut b.idx);
    replay.gather(&b.idx, &mut b.obs, &mut b.next);
    let n = b.idx.len();
    let q_next_target = target.forward(&b.next, n, &mut b.scratch).to_vec();
    let q_next_online = q.forward(&b.next, n, &mut b.scratch).to_vec();
    replay.targets(
        &b.idx,
        &q_next_target,
        Some(&q_next_online),
        n_actions,
        s.gamma,
        &mut b.targets,
    );
    b.actions.clear();
    b.actions.extend(b.idx.iter().map(|&i| replay.actions[i]));
    let qs = q.forward_train(&b.obs, n);
    let l = loss::q_value_loss(
        qs,
        n_actions,
        &b.actions,
        &b.targets,
        QLoss::Huber {
            delta: s.huber_delta,
        },
    );
    q.zero_grad();
    q.backward(&l.grad);
    adam.step(&mut [(Q_NET, q)]);
    l.loss
}

/// `f` over `jobs` on up to `threads` scoped threads; results in job order.
fn parallel<J: Sync, R: Send>(jobs: &[J], threads: usize, f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let chunk = jobs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an episode thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_indices_round_trip() {
        let g = ActionGrid::default();
        assert_eq!(g.len(), 36);
        for i in 0..g.len() {
            let (r, f, m) = g.split(i);
            assert_eq!(g.index(r, f, m), i);
        }
        assert!(ActionGrid {
            heights: vec![360],
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn reward_prefers_delivered_quality_and_punishes_delay_loss_and_switches() {
        let w = RewardWeights::default();
        let good = Signals {
            recv_bps: 3e6,
            packets: 10,
            ..Default::default()
        };
        let r0 = reward(&w, &good, 3e6, Resolution::P720, 60, 0.0);
        assert!(r0 > 0.2, "{r0}");
        // Asking for more than arrives earns nothing more.
        assert_eq!(reward(&w, &good, 6e6, Resolution::P720, 60, 0.0), r0);
        let slow = Signals {
            queue_delay_ms: 220.0,
            ..good
        };
        assert!(
            (reward(&w, &slow, 3e6, Resolution::P720, 60, 0.0) - (r0 - 2.0 * w.delay_per_100ms))
                .abs()
                < 1e-9
        );
        let lossy = Signals { loss: 0.1, ..good };
        assert!((reward(&w, &lossy, 3e6, Resolution::P720, 60, 0.0) - (r0 - 1.0)).abs() < 1e-9);
        assert!(reward(&w, &good, 3e6, Resolution::P720, 60, 0.3) < r0);
    }

    /// A short, tiny training problem: a constant 20 Mbit/s link (above the encoder's 10 Mbit/s)
    /// and a grid of 480p or 720p at 60 fps, x0.6 or x1.4 the estimate. The obvious policy climbs
    /// (x1.4) to the encoder's 10 Mbit/s, where 720p scores 4.0 and 480p 3.6.
    fn tiny(episodes: usize, threads: usize) -> (TrainConfig, LinkTrace) {
        let trace = LinkTrace::constant(20_000.0, 40.0, 8_000.0).unwrap();
        let cfg = TrainConfig {
            episodes,
            threads,
            learning_starts: 500,
            train_every: 2,
            target_update_every: 200,
            eps_decay_episodes: episodes / 2,
            validate_every: 4,
            lr: 1e-3,
            hidden: vec![32],
            grid: ActionGrid {
                heights: vec![480, 720],
                fps: vec![60],
                multipliers: vec![0.6, 1.4],
            },
            fps_cap_below_kbps: None,
            validation_seeds: 2,
            ..Default::default()
        };
        (cfg, trace)
    }

    #[test]
    fn learns_to_climb_and_pick_720p_on_an_ample_constant_link() {
        let (cfg, trace) = tiny(60, 2);
        let traces = [trace.clone()];
        // Validate only at the end, so the last network is kept (the combined score cannot tell
        // 480p from 720p: it counts bits, not pixels).
        let cfg = TrainConfig {
            validate_every: 1000,
            ..cfg
        };
        let (model, report) = train(&traces, &traces, &cfg, |_| {}).unwrap();
        assert_eq!(report.curve.len(), 1);
        assert_eq!(report.best_episodes, 60);
        let grid = cfg.grid.clone();
        let mut c = DqnController::new(Arc::new(model));
        let session = RtConfig {
            duration_ms: 8_000.0,
            ..Default::default()
        };
        let log = run_session(&trace, &session, &mut c).unwrap();
        let late = &log.decisions[log.decisions.len() / 2..];
        let mean_target =
            late.iter().map(|d| d.decision.target_bps).sum::<f64>() / late.len() as f64;
        let hd = late
            .iter()
            .filter(|d| d.decision.resolution == Resolution::P720)
            .count();
        assert!(mean_target > 6e6, "mean target {mean_target}");
        assert!(hd * 10 >= late.len() * 9, "720p in {hd} of {}", late.len());
        assert_eq!(grid.len(), 4);
    }

    fn summary(family: &str, onl_qoe: f64, p95: f64, frozen: f64) -> Summary {
        Summary {
            controller: "c".into(),
            family: family.into(),
            sessions: 1,
            onl_qoe,
            p50_frame_delay_ms: 0.0,
            p95_frame_delay_ms: p95,
            frozen_ratio: frozen,
            freezes_per_min: 0.0,
            mean_quality: 0.0,
            utilisation: 0.0,
            loss_rate: 0.0,
            received_kbps: 0.0,
        }
    }

    #[test]
    fn selection_bounds_every_family_by_gcc_then_maximises_the_smallest_gain() {
        let gcc = [
            summary("mahimahi", 50.0, 500.0, 0.15),
            summary("onl-emu", 90.0, 120.0, 0.005),
            summary("all", 80.0, 200.0, 0.04),
        ];
        // Better everywhere, bounded: the smallest gain is onl-emu's; `all` is ignored.
        let a = Selection::compare(
            &[
                summary("mahimahi", 55.0, 480.0, 0.15),
                summary("onl-emu", 91.0, 120.0, 0.004),
                summary("all", 0.0, 1e9, 1.0),
            ],
            &gcc,
        );
        assert!(
            a.bounded && a.excess == 0.0 && (a.min_gain - 1.0).abs() < 1e-9,
            "{a:?}"
        );
        // A higher score with a worse p95 on one family is not bounded.
        let b = Selection::compare(
            &[
                summary("mahimahi", 70.0, 550.0, 0.15),
                summary("onl-emu", 95.0, 100.0, 0.0),
            ],
            &gcc,
        );
        assert!(!b.bounded && (b.excess - 0.1).abs() < 1e-9, "{b:?}");
        assert!(a.better_than(&b) && !b.better_than(&a));
        // More frozen time: excess 10 x the difference.
        let c = Selection::compare(
            &[
                summary("mahimahi", 70.0, 400.0, 0.16),
                summary("onl-emu", 95.0, 100.0, 0.0),
            ],
            &gcc,
        );
        assert!(!c.bounded && (c.excess - 0.1).abs() < 1e-9, "{c:?}");
        // Between two unbounded ones, the nearer to bounded; between bounded, the larger gain.
        let d = Selection { excess: 0.05, ..c };
        assert!(d.better_than(&c) && !c.better_than(&d));
        let e = Selection { min_gain: 2.0, ..a };
        assert!(e.better_than(&a) && !a.better_than(&e));
    }

    /// Metadata of a default grid with GCC's estimate and the given shield.
    fn meta_with_shield(
        guard_queue_ms: Option<f64>,
        cap: Option<f64>,
        free: Option<f64>,
    ) -> DqnMeta {
        DqnMeta {
            validation_onl_qoe: 0.0,
            guard_queue_ms,
            guard_cap: cap,
            guard_free_ms: free,
            ..DqnMeta::unshielded(
                ActionGrid::default(),
                RewardWeights::default(),
                1,
                Estimate::Gcc,
            )
        }
    }

    #[test]
    fn shield_caps_probes_on_a_queue_and_cuts_on_a_long_one_or_a_loss() {
        let meta = |cap, free| meta_with_shield(Some(25.0), cap, free);
        let at = |q: f64, loss: f64| Signals {
            queue_delay_ms: q,
            loss,
            packets: 10,
            ..Default::default()
        };
        let hand = meta(Some(0.8), Some(10.0));
        // Empty queue: the network's choice stands.
        assert_eq!(hand.shield(1.25, &at(5.0, 0.0)), 1.25);
        assert_eq!(hand.shield(0.5, &at(5.0, 0.0)), 0.5);
        // Some queue: no probing above GCC's estimate.
        assert_eq!(hand.shield(1.25, &at(15.0, 0.0)), 1.0);
        assert_eq!(hand.shield(0.95, &at(15.0, 0.0)), 0.95);
        // A long queue or a loss: at most 0.8.
        assert_eq!(hand.shield(1.25, &at(30.0, 0.0)), 0.8);
        assert_eq!(hand.shield(1.0, &at(0.0, 0.1)), 0.8);
        assert_eq!(hand.shield(0.5, &at(30.0, 0.0)), 0.5);
        // Files without the new fields keep the old shield: cap 1, probing up to 25 ms.
        let old = meta(None, None);
        assert_eq!(old.shield(1.25, &at(15.0, 0.0)), 1.25);
        assert_eq!(old.shield(1.25, &at(30.0, 0.0)), 1.0);
        assert_eq!(
            DqnMeta {
                guard_queue_ms: None,
                ..old
            }
            .shield(1.25, &at(300.0, 1.0)),
            1.25
        );
    }

    #[test]
    fn old_model_files_mean_the_receive_rate_estimate_and_no_shield() {
        let meta = meta_with_shield(Some(10.0), Some(0.8), Some(5.0));
        let mut v = serde_json::to_value(&meta).unwrap();
        assert_eq!(v["estimate"], "gcc");
        let o = v.as_object_mut().unwrap();
        o.remove("estimate");
        o.remove("guard_queue_ms");
        o.remove("guard_cap");
        o.remove("guard_free_ms");
        o.remove("fps_cap_below_kbps");
        o.remove("fps_cap_after_pauses");
        o["reward"]
            .as_object_mut()
            .unwrap()
            .remove("frozen_per_100ms");
        let old: DqnMeta = serde_json::from_value(v).unwrap();
        assert_eq!(old.fps_cap_below_kbps, None);
        assert_eq!(old.fps_cap_after_pauses, None);
        assert_eq!(old.reward.frozen_per_100ms, 0.0);
        assert_eq!((old.guard_cap, old.guard_free_ms), (None, None));
        assert_eq!(old.estimate, Estimate::ReceiveRate);
        assert_eq!(old.guard_queue_ms, None);
    }

    #[test]
    fn fps_ceiling_caps_low_rates_only_when_asked() {
        let mut meta = meta_with_shield(Some(25.0), Some(0.8), Some(10.0));
        assert_eq!(meta.fps_ceiling(100e3, 9, 60), 60);
        meta.fps_cap_below_kbps = Some(300.0);
        assert_eq!(meta.fps_ceiling(100e3, 0, 60), 30);
        assert_eq!(meta.fps_ceiling(299e3, 0, 60), 30);
        assert_eq!(meta.fps_ceiling(300e3, 0, 60), 60);
        assert_eq!(meta.fps_ceiling(2e6, 0, 60), 60);
        assert_eq!(meta.fps_ceiling(100e3, 0, 30), 30);
        // The pause rule: 30 fps from 2 recent pauses on, at any rate.
        meta.fps_cap_after_pauses = Some(2);
        assert_eq!(meta.fps_ceiling(2e6, 1, 60), 60);
        assert_eq!(meta.fps_ceiling(2e6, 2, 60), 30);
    }

    /// The mechanism the ceiling fixes (issue 18's Mahimahi frozen time): a 300 kbit/s link that
    /// pauses for 130 ms every 1.5 s, as LTE does. At 60 fps each pause is a render gap above
    /// WebRTC's freeze threshold (167 ms there); at the ceiling's 30 fps (threshold 183 ms) almost
    /// none is. A network that always asks for 60 fps freezes on the pauses without the ceiling
    /// (19 of 20) and not with it (1).
    #[test]
    fn fps_ceiling_keeps_short_outages_from_counting_as_freezes() {
        let steps: Vec<(f64, f64, f64, f64)> = (0..20)
            .flat_map(|_| [(1370.0, 300.0, 0.0, 40.0), (130.0, 0.0, 0.0, 40.0)])
            .collect();
        let trace = LinkTrace::from_steps("pauses", "synthetic", &steps).unwrap();
        let session = RtConfig {
            duration_ms: 30_000.0,
            ..Default::default()
        };
        let mut meta = meta_with_shield(Some(25.0), Some(0.8), Some(10.0));
        meta.grid = ActionGrid {
            heights: vec![480],
            fps: vec![60],
            multipliers: vec![1.0],
        };
        let q = Mlp::zeros(&neuralstream_nn::MlpSpec {
            sizes: vec![N_FEATURES, 4, 1],
            hidden_activation: Activation::Relu,
        });
        let run = |fps_cap_below_kbps: Option<f64>, fps_cap_after_pauses: Option<usize>| {
            let model = DqnModel {
                q: q.clone(),
                meta: DqnMeta {
                    fps_cap_below_kbps,
                    fps_cap_after_pauses,
                    ..meta.clone()
                },
            };
            let mut c = DqnController::new(Arc::new(model));
            run_session(&trace, &session, &mut c).unwrap()
        };
        let (free, capped) = (run(None, None), run(Some(300.0), None));
        let fps =
            |l: &crate::sim::SessionLog| l.decisions.iter().skip(20).map(|d| d.decision.fps).max();
        assert_eq!(fps(&free), Some(60));
        assert_eq!(fps(&capped), Some(30));
        assert!(
            free.freezes >= 15 && capped.freezes * 5 <= free.freezes,
            "freezes: {} at 60 fps, {} with the ceiling",
            free.freezes,
            capped.freezes
        );
        // The pause rule sees the link pause (one pause per 1.5 s: 3 or 4 in 5 s) and plays
        // 30 fps once the second pause (2.9-3.0 s) is reported, whatever the rate. (Whether a
        // pause then freezes depends on where it falls between frames: at 30 fps the render gap
        // is the pause plus up to 33 ms, against a threshold of 183 ms; here, from that phase,
        // 170-190 ms, so the freeze count is not asserted.)
        let paused = run(None, Some(2));
        let fps_from = |l: &crate::sim::SessionLog, ms: f64| {
            l.decisions
                .iter()
                .filter(|d| d.at_ms > ms)
                .map(|d| d.decision.fps)
                .max()
        };
        assert_eq!(fps_from(&paused, 1000.0), Some(60));
        assert_eq!(fps_from(&paused, 4000.0), Some(30));
        assert!(paused.freezes <= free.freezes);
    }

    /// Feedback of `packets` (send, arrival) pairs, 1200 bytes each, received at `now_ms`.
    fn feedback_of(now_ms: f64, packets: &[(f64, f64)]) -> Feedback {
        Feedback {
            now_ms,
            packets: packets
                .iter()
                .enumerate()
                .map(
                    |(i, &(send_ms, arrival_ms))| crate::controller::PacketReport {
                        seq: (now_ms as u64) * 100 + i as u64,
                        send_ms,
                        arrival_ms: Some(arrival_ms),
                        bytes: 1200,
                    },
                )
                .collect(),
            rtt_ms: Some(40.0),
        }
    }

    /// A pause is a silence of the link while a packet waited, not a sender with nothing to send;
    /// it is remembered for 5 s of arrivals, and it is what the two pause features show.
    #[test]
    fn tracker_counts_pauses_while_packets_wait_and_forgets_them_after_the_window() {
        let mut t = Tracker::new(300e3);
        // Packets every 10 ms with a 20 ms one-way delay.
        let steady = |from: f64, to: f64| -> Vec<(f64, f64)> {
            (0..((to - from) / 10.0) as usize)
                .map(|i| (from + i as f64 * 10.0, from + i as f64 * 10.0 + 20.0))
                .collect()
        };
        t.observe(&feedback_of(100.0, &steady(0.0, 100.0)));
        assert_eq!(t.recent_pauses(), (0, 0.0));
        // The sender goes quiet for 300 ms: no packet waited, no pause.
        t.observe(&feedback_of(500.0, &steady(400.0, 500.0)));
        assert_eq!(t.recent_pauses(), (0, 0.0));
        // The link stops: packets sent at 500-640 ms arrive at 650-790 ms, 140 ms after the
        // previous arrival (510 ms); the first could have arrived at 520 ms.
        let mut held: Vec<(f64, f64)> = (0..15)
            .map(|i| (500.0 + i as f64 * 10.0, 650.0 + i as f64 * 10.0))
            .collect();
        held.extend(steady(650.0, 700.0).iter().map(|&(s, a)| (s, a + 150.0)));
        t.observe(&feedback_of(900.0, &held));
        let (n, longest) = t.recent_pauses();
        assert_eq!(n, 1);
        assert!((longest - 140.0).abs() < 1e-9, "{longest}");
        let grid = ActionGrid::default();
        let mut obs = vec![0.0; N_FEATURES];
        t.features(&grid, 0, 300e3, &mut obs);
        assert_eq!(obs[LEGACY_FEATURES], 0.2); // 1 pause in 5 s, per second
        assert!((obs[LEGACY_FEATURES + 1] - 1.4).abs() < 1e-6);
        // A first-spec observation takes the first 16 features, the same values.
        let mut old = vec![0.0; LEGACY_FEATURES];
        t.features(&grid, 0, 300e3, &mut old);
        assert_eq!(old[..], obs[..LEGACY_FEATURES]);
        // 5 s of steady arrivals later it is forgotten.
        t.observe(&feedback_of(5_900.0, &steady(900.0, 5_900.0)));
        assert_eq!(t.recent_pauses().0, 0);
    }

    /// The reward charges a render gap by WebRTC's freeze rule, frame by frame: the same 175 ms
    /// gap is a freeze after 60 fps (threshold 167 ms) and not after 30 fps (183 ms), so the
    /// frame rate that turns a pause into a freeze pays for it.
    #[test]
    fn reward_charges_freezes_by_webrtc_rule_of_the_displayed_frames() {
        let gap_after = |fps: f64| {
            let mut t = Tracker::new(300e3);
            let interval = 1000.0 / fps;
            let frame = |render_ms: f64| RenderedFrame {
                capture_ms: render_ms - 50.0,
                render_ms,
                jitter_buffer_ms: 0.0,
                quality: 3.0,
            };
            let mut frames: Vec<RenderedFrame> =
                (0..40).map(|i| frame(i as f64 * interval)).collect();
            frames.push(frame(39.0 * interval + 175.0));
            t.on_displayed(&frames);
            t.observe(&feedback_of(1000.0, &[(900.0, 920.0)]))
        };
        let (at_60, at_30) = (gap_after(60.0), gap_after(30.0));
        assert!(
            (at_60.frozen_ms - 175.0).abs() < 1e-6,
            "{}",
            at_60.frozen_ms
        );
        assert_eq!(at_30.frozen_ms, 0.0);
        let w = RewardWeights {
            frozen_per_100ms: 1.0,
            ..Default::default()
        };
        let r = |s: &Signals| reward(&w, s, 300e3, Resolution::P480, 60, 0.0);
        let charged = r(&at_60)
            - r(&Signals {
                frozen_ms: 0.0,
                ..at_60
            });
        assert!((charged + 1.75).abs() < 1e-9, "{charged}");
        // The charge is made once: the next report starts from nothing.
        let mut t = Tracker::new(300e3);
        t.on_displayed(&[]);
        assert_eq!(t.observe(&feedback_of(50.0, &[(0.0, 20.0)])).frozen_ms, 0.0);
    }

    /// A model file of the first feature spec (16 inputs, no pause features) loads and runs.
    #[test]
    fn a_first_spec_model_file_loads_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let meta = DqnMeta {
            features: LEGACY_FEATURES,
            ..meta_with_shield(Some(25.0), Some(0.8), Some(10.0))
        };
        let q = Mlp::new(&[LEGACY_FEATURES, 8, meta.grid.len()], Activation::Relu, 3);
        let path = dir.path().join("first.safetensors");
        DqnModel { q, meta }.save(&path).unwrap();
        let model = DqnModel::load(&path).unwrap();
        assert_eq!(model.meta.features, LEGACY_FEATURES);
        let trace = LinkTrace::constant(2000.0, 40.0, 5_000.0).unwrap();
        let session = RtConfig {
            duration_ms: 5_000.0,
            ..Default::default()
        };
        let log = run_session(&trace, &session, &mut DqnController::new(Arc::new(model))).unwrap();
        assert!(!log.rendered.is_empty());
        // A network whose inputs match neither spec is refused, with the file named.
        let mut bad = DqnModel::load(&path).unwrap();
        bad.meta.features = 17;
        let path2 = dir.path().join("odd.safetensors");
        bad.save(&path2).unwrap();
        let e = DqnModel::load(&path2).unwrap_err().to_string();
        assert!(
            e.contains("odd.safetensors") && e.contains("features"),
            "{e}"
        );
    }

    /// Selection's validation averages several simulator seeds: the summary over seeds 1 and 2
    /// is the mean of the two single-seed summaries.
    #[test]
    fn validation_over_seeds_is_the_mean_of_the_seeds() {
        let trace = LinkTrace::from_steps(
            "lossy",
            "synthetic",
            &[(4000.0, 1500.0, 0.02, 40.0), (4000.0, 600.0, 0.02, 40.0)],
        )
        .unwrap();
        let session = RtConfig {
            duration_ms: 8_000.0,
            ..Default::default()
        };
        let one = std::slice::from_ref(&trace);
        let run = |seed: u64, seeds: usize| {
            let cfg = RtConfig {
                seed,
                ..session.clone()
            };
            validation_report(ControllerSpec::Gcc, one, &cfg, 2, seeds)
                .unwrap()
                .summary[0]
                .clone()
        };
        let (a, b, both) = (run(1, 1), run(2, 1), run(1, 2));
        assert_ne!(a.onl_qoe, b.onl_qoe, "the seeds should differ");
        assert!((both.onl_qoe - (a.onl_qoe + b.onl_qoe) / 2.0).abs() < 1e-9);
        assert!((both.frozen_ratio - (a.frozen_ratio + b.frozen_ratio) / 2.0).abs() < 1e-12);
        assert_eq!(both.sessions, 2);
    }

    /// With GCC as the estimate, the neutral multiplier plays GCC's bitrate: on a 199 kbit/s link
    /// (below the 300 kbit/s start, like the onl-emu test trace that kept the receive-rate
    /// version in a standing queue) the queue drains as GCC's does.
    #[test]
    fn gcc_estimate_drains_a_link_slower_than_the_start_rate() {
        let trace = LinkTrace::constant(199.0, 40.0, 30_000.0).unwrap();
        let session = RtConfig {
            duration_ms: 30_000.0,
            ..Default::default()
        };
        let (cfg, _) = tiny(2, 1);
        let one = std::slice::from_ref(&trace);
        let (mut model, _) = train(one, one, &cfg, |_| {}).unwrap();
        // Zero weights: every action scores the same and the greedy choice is action 0: 480p,
        // 60 fps, multiplier 1.0 (GCC's own bitrate).
        let spec = model.q.spec();
        model.q = Mlp::zeros(&spec);
        model.meta.grid = ActionGrid {
            heights: vec![480, 720],
            fps: vec![60],
            multipliers: vec![1.0, 1.4],
        };
        // The shield as it was when the bug was found (never below the estimate): with a cap
        // below 1 on a queue, the receive-rate estimate drains the queue too.
        (model.meta.guard_cap, model.meta.guard_free_ms) = (None, None);
        let mut c = DqnController::new(Arc::new(model.clone()));
        let log = run_session(&trace, &session, &mut c).unwrap();
        let mut gcc = Gcc::default();
        let log_gcc = run_session(&trace, &session, &mut gcc).unwrap();
        let s = crate::score::score(&log, session.max_bps);
        let g = crate::score::score(&log_gcc, session.max_bps);
        assert!(
            s.p50_frame_delay_ms < 2.0 * g.p50_frame_delay_ms.max(100.0),
            "learned p50 {} vs gcc {}",
            s.p50_frame_delay_ms,
            g.p50_frame_delay_ms
        );
        // The receive-rate estimate, same policy: the queue stays (the bug this fixes).
        model.meta.estimate = Estimate::ReceiveRate;
        let mut old = DqnController::new(Arc::new(model));
        let o = crate::score::score(&run_session(&trace, &session, &mut old).unwrap(), 1e7);
        assert!(
            o.p50_frame_delay_ms > s.p50_frame_delay_ms,
            "receive-rate p50 {} vs gcc-estimate p50 {}",
            o.p50_frame_delay_ms,
            s.p50_frame_delay_ms
        );
    }

    #[test]
    fn same_seed_same_weights_on_any_thread_count() {
        let (cfg, trace) = tiny(6, 1);
        let traces = [trace];
        let (a, ra) = train(&traces, &traces, &cfg, |_| {}).unwrap();
        let (b, rb) = train(
            &traces,
            &traces,
            &TrainConfig {
                threads: 2,
                ..cfg.clone()
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        let (c, _) = train(&traces, &traces, &TrainConfig { seed: 2, ..cfg }, |_| {}).unwrap();
        assert_ne!(a.q, c.q);
    }

    #[test]
    fn model_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, trace) = tiny(2, 1);
        let traces = [trace];
        let (model, _) = train(&traces, &traces, &cfg, |_| {}).unwrap();
        let path = dir.path().join("model.safetensors");
        model.save(&path).unwrap();
        assert_eq!(DqnModel::load(&path).unwrap(), model);

        let garbage = dir.path().join("garbage.safetensors");
        std::fs::write(&garbage, b"not a model").unwrap();
        let e = DqnModel::load(&garbage).unwrap_err().to_string();
        assert!(e.contains("garbage.safetensors"), "{e}");

        // A safetensors file of another kind: no metadata.
        let other = dir.path().join("other.safetensors");
        save_safetensors(&other, &[(Q_NET, &model.q)], None, &BTreeMap::new()).unwrap();
        let e = DqnModel::load(&other).unwrap_err().to_string();
        assert!(
            e.contains("other.safetensors") && e.contains(META_KEY),
            "{e}"
        );

        // A grid that does not fit the network.
        let mut wrong = model.clone();
        wrong.meta.grid.multipliers.push(2.0);
        let path2 = dir.path().join("wrong.safetensors");
        wrong.save(&path2).unwrap();
        let e = DqnModel::load(&path2).unwrap_err().to_string();
        assert!(
            e.contains("wrong.safetensors") && e.contains("actions"),
            "{e}"
        );

        let missing = dir.path().join("missing.safetensors");
        let e = ControllerSpec::parse(&format!("learned:{}", missing.display()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.safetensors"), "{e}");
    }
}
