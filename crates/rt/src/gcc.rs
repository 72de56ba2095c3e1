//! Google Congestion Control (GCC), written from draft-ietf-rmcat-gcc-02 with WebRTC's constants
//! (`../shared/reference/realtime.md` section 1.1; libwebrtc `modules/congestion_controller/goog_cc`).
//! No code was copied; the structure follows the draft's sections.
//!
//! Pipeline, once per transport feedback message:
//! 1. **Arrival groups** (draft 5.2): packets sent within 5 ms form a group; for consecutive groups
//!    the delay variation is `d = (arrival_i - arrival_{i-1}) - (send_i - send_{i-1})`.
//!    (WebRTC's extra burst merging of groups that arrive back to back is not modelled.)
//! 2. **Trendline estimator** (WebRTC's default, replacing the draft's Kalman filter): the
//!    accumulated delay is smoothed (0.9) and a least-squares slope is fitted over the last 20
//!    groups; the *modified trend* is `m = min(n, 60) x slope x 4`.
//! 3. **Over-use detector with adaptive threshold** (draft 5.4, 5.5): overuse when `m > γ` for more
//!    than 10 ms over at least two groups with a non-falling trend; underuse when `m < -γ`;
//!    `γ += k (|m| - γ) min(Δt, 100 ms)` with `k = 0.039` below and `0.0087` above, within
//!    [6, 600] ms, frozen when `|m| > γ + 15 ms`.
//! 4. **AIMD rate controller** (draft 5.5, `aimd_rate_control.cc`): Increase / Hold / Decrease.
//!    Overuse: to 0.85 x the received rate. Underuse: hold. Normal: increase, multiplicatively by
//!    8 % per second while far from convergence, additively (about one packet per RTT + 100 ms)
//!    within 3 standard deviations of the received rate measured at past decreases; never above
//!    1.5 x the received rate + 10 kbit/s.
//! 5. **Loss-based controller** (draft 6, classic `send_side_bandwidth_estimation.cc`): loss under
//!    2 %: 8 % up per second (from the smallest estimate of the last second) + 1 kbit/s; 2-10 %:
//!    hold; over 10 %: `x (1 - 0.5 loss)` at most once per 300 ms + RTT. The target is the smaller
//!    of the loss-based and delay-based estimates.
//! 6. **Probing** ([`Prober`], libwebrtc `goog_cc/probe_controller.cc` and
//!    `probe_bitrate_estimator.cc`, `../shared/reference/realtime.md` section 1.1). At start-up two
//!    clusters at 3x and 6x the start rate (`first_exponential_probe_scale`,
//!    `second_exponential_probe_scale`); if the last one's result exceeds 0.7 of what it probed
//!    (`further_probe_threshold`), a further one at 2x the result (`further_exponential_probe_scale`),
//!    and so on while headroom is found. In ALR (the sender uses under 65 % of the estimate,
//!    `alr_detector`'s bandwidth usage ratio) a probe at 2x the estimate (`alr_probe_scale`) every
//!    5 s (`alr_probing_interval`). A cluster's result is `min(send rate, receive rate)`, or 0.95 x
//!    the receive rate when the link took less than 0.9 of the send rate
//!    (`kMinRatioForUnsaturatedLink`, `kTargetUtilizationFraction`); it needs 5 packets, 80 % of
//!    them received (`kMinReceivedProbesRatio`), a receive rate at most 2x the send rate
//!    (`kMaxValidRatio`) and spans under 1 s (`kMaxProbeInterval`). A result above the estimate
//!    replaces both estimates unless the detector says overuse (`delay_based_bwe.cc`'s
//!    `SetEstimate`, goog_cc's `SetSendBitrate`).
//!    **Deviation:** the simulator has no padding packets, so a cluster is *media*: the encoder
//!    target is raised to the probe rate for [`PROBE_CLUSTER_MS`] (the ladder rung stays on the
//!    estimate, so a probe costs no key frame), and the packets sent in that window are the
//!    cluster. The encoder's rate-control lag means the send rate reaches only part of the probe
//!    rate, so "0.7 of what it probed" is taken against the measured send rate.
//! 7. **Resolution and fps** from the target by [`crate::Ladder`] (WebRTC's balanced degradation).
//!
//! Not modelled: probing after a large drop or on a raised max bitrate, loss-based BWE v2.

use crate::controller::{Controller, Decision, Feedback, LadderPosition};
use std::collections::VecDeque;

/// Packets sent within this span form one arrival group, ms.
pub const GROUP_SPAN_MS: f64 = 5.0;
/// Trendline regression window, groups.
pub const TRENDLINE_WINDOW: usize = 20;
/// Smoothing of the accumulated delay.
pub const TRENDLINE_SMOOTHING: f64 = 0.9;
/// Gain applied to the trend.
pub const TRENDLINE_GAIN: f64 = 4.0;
/// Cap on the delta count multiplying the trend.
pub const TRENDLINE_MAX_DELTAS: f64 = 60.0;
/// Initial adaptive threshold, ms.
pub const THRESHOLD_START_MS: f64 = 12.5;
/// Threshold bounds, ms.
pub const THRESHOLD_MIN_MS: f64 = 6.0;
/// Threshold bounds, ms.
pub const THRESHOLD_MAX_MS: f64 = 600.0;
/// Threshold gain when |m| is above it.
pub const K_UP: f64 = 0.0087;
/// Threshold gain when |m| is below it.
pub const K_DOWN: f64 = 0.039;
/// The threshold is not updated when |m| exceeds it by more than this, ms.
pub const THRESHOLD_MAX_JUMP_MS: f64 = 15.0;
/// Longest time step of a threshold update, ms.
pub const THRESHOLD_MAX_STEP_MS: f64 = 100.0;
/// Overuse must last this long, ms.
pub const OVERUSE_TIME_MS: f64 = 10.0;
/// Multiplicative decrease factor on the received rate.
pub const BETA: f64 = 0.85;
/// Multiplicative increase per second far from convergence.
pub const MULTIPLICATIVE_INCREASE_PER_S: f64 = 1.08;
/// Smallest multiplicative step, bit/s.
pub const MIN_MULTIPLICATIVE_STEP_BPS: f64 = 1000.0;
/// Smallest additive increase rate, bit/s per second.
pub const MIN_ADDITIVE_BPS_PER_S: f64 = 4000.0;
/// Added to the RTT for the additive increase's response time, ms.
pub const RESPONSE_TIME_EXTRA_MS: f64 = 100.0;
/// Cap: `THROUGHPUT_CAP_FACTOR x received + THROUGHPUT_CAP_EXTRA_BPS`.
pub const THROUGHPUT_CAP_FACTOR: f64 = 1.5;
/// See [`THROUGHPUT_CAP_FACTOR`], bit/s.
pub const THROUGHPUT_CAP_EXTRA_BPS: f64 = 10_000.0;
/// Smoothing of the link-capacity estimate kept at decreases.
pub const LINK_CAPACITY_ALPHA: f64 = 0.05;
/// Received-rate window, ms.
pub const THROUGHPUT_WINDOW_MS: f64 = 500.0;
/// Loss below this increases the loss-based estimate.
pub const LOSS_LOW: f64 = 0.02;
/// Loss above this decreases it.
pub const LOSS_HIGH: f64 = 0.10;
/// Loss-based increase per second.
pub const LOSS_INCREASE_PER_S: f64 = 1.08;
/// Loss-based additive step, bit/s.
pub const LOSS_INCREASE_EXTRA_BPS: f64 = 1000.0;
/// Least time between loss-based decreases, ms (plus one RTT).
pub const LOSS_DECREASE_INTERVAL_MS: f64 = 300.0;
/// Packets a loss measurement needs.
pub const LOSS_MIN_PACKETS: usize = 20;
/// Start bitrate, bit/s (WebRTC's 300 kbit/s).
pub const START_BPS: f64 = 300_000.0;
/// Frame rate assumed by the additive increase's packet-size estimate.
pub const ASSUMED_FPS: f64 = 30.0;
/// Packet size assumed by the additive increase, bytes.
pub const ASSUMED_PACKET_BYTES: f64 = 1200.0;
/// First start-up probe, x the start rate (`first_exponential_probe_scale`).
pub const PROBE_FIRST_SCALE: f64 = 3.0;
/// Second start-up probe, x the start rate (`second_exponential_probe_scale`).
pub const PROBE_SECOND_SCALE: f64 = 6.0;
/// A further exponential probe, x the last result (`further_exponential_probe_scale`).
pub const PROBE_FURTHER_SCALE: f64 = 2.0;
/// Probe further only if the result exceeds this share of the probed (here: sent) rate
/// (`further_probe_threshold`).
pub const PROBE_FURTHER_THRESHOLD: f64 = 0.7;
/// ALR probe, x the estimate (`alr_probe_scale`).
pub const ALR_PROBE_SCALE: f64 = 2.0;
/// Least time between ALR probes, ms (`alr_probing_interval`).
pub const ALR_PROBE_INTERVAL_MS: f64 = 5000.0;
/// In ALR when the send rate is under this share of the estimate (`alr_detector`).
pub const ALR_USAGE_RATIO: f64 = 0.65;
/// Send-rate window of the ALR detector, ms.
pub const ALR_WINDOW_MS: f64 = 500.0;
/// Length of one (media) probe cluster, ms: two feedback periods (see the module doc).
pub const PROBE_CLUSTER_MS: f64 = 100.0;
/// Packets a cluster needs (`kMinProbePacketsSent`).
pub const PROBE_MIN_PACKETS: usize = 5;
/// Share of a cluster's packets that must arrive (`kMinReceivedProbesRatio`).
pub const PROBE_MIN_RECEIVED_RATIO: f64 = 0.8;
/// Largest valid receive / send rate ratio (`kMaxValidRatio`).
pub const PROBE_MAX_VALID_RATIO: f64 = 2.0;
/// Below this receive / send ratio the link is saturated (`kMinRatioForUnsaturatedLink`).
pub const PROBE_UNSATURATED_RATIO: f64 = 0.9;
/// A saturated cluster's result, x the receive rate (`kTargetUtilizationFraction`).
pub const PROBE_TARGET_UTILIZATION: f64 = 0.95;
/// Longest send or receive span of a cluster, and longest wait for its feedback, ms
/// (`kMaxProbeInterval`, `kMaxClusterHistory`).
pub const PROBE_MAX_INTERVAL_MS: f64 = 1000.0;
/// Highest probe rate, bit/s (the simulator's default largest encoder target).
pub const PROBE_MAX_BPS: f64 = 10_000_000.0;

/// The delay-based detector's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Queues are stable.
    Normal,
    /// Queues are growing.
    Overuse,
    /// Queues are draining.
    Underuse,
}

/// Arrival-group aggregation and delay variation (draft 5.2).
#[derive(Debug, Clone, Default)]
pub struct InterArrival {
    current: Option<(f64, f64, f64)>, // (first send, last send, last arrival)
    previous: Option<(f64, f64)>,     // (last send, last arrival) of the last complete group
}

impl InterArrival {
    /// Takes a received packet in arrival order; returns `(send_delta_ms, arrival_delta_ms,
    /// arrival_ms)` when a group completes and a previous one exists.
    pub fn push(&mut self, send_ms: f64, arrival_ms: f64) -> Option<(f64, f64, f64)> {
        match self.current {
            None => {
                self.current = Some((send_ms, send_ms, arrival_ms));
                None
            }
            Some((first, last_send, last_arrival)) => {
                if send_ms - first <= GROUP_SPAN_MS {
                    self.current =
                        Some((first, last_send.max(send_ms), last_arrival.max(arrival_ms)));
                    return None;
                }
                let out = self
                    .previous
                    .map(|(ps, pa)| (last_send - ps, last_arrival - pa, last_arrival));
                self.previous = Some((last_send, last_arrival));
                self.current = Some((send_ms, send_ms, arrival_ms));
                out
            }
        }
    }
}

/// Trendline estimator plus the over-use detector and its adaptive threshold (draft 5.3-5.5).
#[derive(Debug, Clone)]
pub struct TrendlineDetector {
    first_arrival_ms: Option<f64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    window: VecDeque<(f64, f64)>,
    deltas: f64,
    /// Current adaptive threshold γ, ms.
    pub threshold_ms: f64,
    last_threshold_update_ms: Option<f64>,
    time_over_using_ms: f64,
    overuse_count: usize,
    prev_trend: f64,
    /// Latest modified trend `m`, ms.
    pub modified_trend: f64,
    /// Latest verdict.
    pub signal: Signal,
}

impl Default for TrendlineDetector {
    fn default() -> Self {
        TrendlineDetector {
            first_arrival_ms: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            window: VecDeque::with_capacity(TRENDLINE_WINDOW + 1),
            deltas: 0.0,
            threshold_ms: THRESHOLD_START_MS,
            last_threshold_update_ms: None,
            time_over_using_ms: -1.0,
            overuse_count: 0,
            prev_trend: 0.0,
            modified_trend: 0.0,
            signal: Signal::Normal,
        }
    }
}

impl TrendlineDetector {
    /// Takes one group's delay variation; returns the verdict.
    pub fn update(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_ms: f64) -> Signal {
        let delta = arrival_delta_ms - send_delta_ms;
        self.deltas = (self.deltas + 1.0).min(1000.0);
        self.accumulated_ms += delta;
        self.smoothed_ms = TRENDLINE_SMOOTHING * self.smoothed_ms
            + (1.0 - TRENDLINE_SMOOTHING) * self.accumulated_ms;
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.window
            .push_back((arrival_ms - first, self.smoothed_ms));
        if self.window.len() > TRENDLINE_WINDOW {
            self.window.pop_front();
        }
        let mut trend = self.prev_trend;
        if self.window.len() == TRENDLINE_WINDOW {
            if let Some(slope) = slope(&self.window) {
                trend = slope;
            }
        }
        self.detect(trend, send_delta_ms, arrival_ms)
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, now_ms: f64) -> Signal {
        let m = self.deltas.min(TRENDLINE_MAX_DELTAS) * trend * TRENDLINE_GAIN;
        self.modified_trend = m;
        if m > self.threshold_ms {
            if self.time_over_using_ms < 0.0 {
                self.time_over_using_ms = send_delta_ms / 2.0;
            } else {
                self.time_over_using_ms += send_delta_ms;
            }
            self.overuse_count += 1;
            if self.time_over_using_ms > OVERUSE_TIME_MS
                && self.overuse_count > 1
                && trend >= self.prev_trend
            {
                self.time_over_using_ms = 0.0;
                self.overuse_count = 0;
                self.signal = Signal::Overuse;
            }
        } else if m < -self.threshold_ms {
            self.time_over_using_ms = -1.0;
            self.overuse_count = 0;
            self.signal = Signal::Underuse;
        } else {
            self.time_over_using_ms = -1.0;
            self.overuse_count = 0;
            self.signal = Signal::Normal;
        }
        self.prev_trend = trend;
        self.update_threshold(m, now_ms);
        self.signal
    }

    fn update_threshold(&mut self, m: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        if m.abs() > self.threshold_ms + THRESHOLD_MAX_JUMP_MS {
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let k = if m.abs() < self.threshold_ms {
            K_DOWN
        } else {
            K_UP
        };
        let dt = (now_ms - last).clamp(0.0, THRESHOLD_MAX_STEP_MS);
        self.threshold_ms = (self.threshold_ms + k * (m.abs() - self.threshold_ms) * dt)
            .clamp(THRESHOLD_MIN_MS, THRESHOLD_MAX_MS);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

/// Least-squares slope of `(x, y)` points, `None` if all x are equal.
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    (den != 0.0).then(|| num / den)
}

/// AIMD's running estimate of the link capacity, from the received rate at decreases (kbit/s).
#[derive(Debug, Clone, Default)]
struct LinkCapacity {
    estimate_kbps: Option<f64>,
    deviation: f64,
}

impl LinkCapacity {
    fn on_decrease(&mut self, kbps: f64) {
        let a = LINK_CAPACITY_ALPHA;
        match self.estimate_kbps {
            None => {
                self.estimate_kbps = Some(kbps);
                self.deviation = 0.4;
            }
            Some(est) => {
                let est = (1.0 - a) * est + a * kbps;
                let err = est - kbps;
                self.deviation =
                    ((1.0 - a) * self.deviation + a * err * err / est.max(1.0)).clamp(0.4, 2.5);
                self.estimate_kbps = Some(est);
            }
        }
    }
    fn spread(&self, est: f64) -> f64 {
        3.0 * (self.deviation * est).sqrt()
    }
    fn upper_kbps(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| e + self.spread(e))
    }
    fn lower_kbps(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| e - self.spread(e))
    }
}

/// AIMD state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AimdState {
    /// Growing.
    Increase,
    /// Keeping the rate.
    Hold,
    /// Cutting the rate.
    Decrease,
}

/// The delay-based AIMD rate controller (draft 5.5).
#[derive(Debug, Clone)]
pub struct Aimd {
    /// Current delay-based estimate, bit/s.
    pub rate_bps: f64,
    /// Current state.
    pub state: AimdState,
    link: LinkCapacity,
    last_change_ms: Option<f64>,
    last_decrease_ms: Option<f64>,
}

impl Aimd {
    /// Starts at `start_bps` in Hold.
    pub fn new(start_bps: f64) -> Self {
        Aimd {
            rate_bps: start_bps,
            state: AimdState::Hold,
            link: LinkCapacity::default(),
            last_change_ms: None,
            last_decrease_ms: None,
        }
    }

    /// Whether a further decrease is allowed now (once per RTT, clamped to [10, 200] ms, unless the
    /// received rate fell below half the estimate).
    pub fn time_to_reduce_further(&self, now_ms: f64, rtt_ms: f64, received_bps: f64) -> bool {
        match self.last_decrease_ms {
            None => true,
            Some(t) => {
                now_ms - t >= rtt_ms.clamp(10.0, 200.0) || received_bps < 0.5 * self.rate_bps
            }
        }
    }

    /// One update: `received_bps` is the acknowledged receive rate (`None` if not yet known).
    pub fn update(
        &mut self,
        signal: Signal,
        received_bps: Option<f64>,
        now_ms: f64,
        rtt_ms: f64,
    ) -> f64 {
        match signal {
            Signal::Normal => {
                if self.state == AimdState::Hold {
                    self.state = AimdState::Increase;
                    self.last_change_ms = Some(now_ms);
                }
            }
            Signal::Overuse => self.state = AimdState::Decrease,
            Signal::Underuse => self.state = AimdState::Hold,
        }
        let current = self.rate_bps;
        let mut new = current;
        match self.state {
            AimdState::Hold => {}
            AimdState::Increase => {
                if let (Some(r), Some(up)) = (received_bps, self.link.upper_kbps()) {
                    if r / 1000.0 > up {
                        self.link = LinkCapacity::default();
                    }
                }
                let dt_s = (now_ms - self.last_change_ms.unwrap_or(now_ms)).max(0.0) / 1000.0;
                let step = if self.link.estimate_kbps.is_some() {
                    self.near_max_increase_bps_per_s(rtt_ms) * dt_s
                } else {
                    (current * (MULTIPLICATIVE_INCREASE_PER_S.powf(dt_s.min(1.0)) - 1.0))
                        .max(MIN_MULTIPLICATIVE_STEP_BPS * dt_s.min(1.0))
                };
                new = current + step;
                self.last_change_ms = Some(now_ms);
            }
            AimdState::Decrease => {
                let received = received_bps.unwrap_or(current);
                new = BETA * received;
                if new > current {
                    if let Some(est) = self.link.estimate_kbps {
                        new = BETA * est * 1000.0;
                    }
                }
                new = new.min(current);
                if let Some(low) = self.link.lower_kbps() {
                    if received / 1000.0 < low {
                        self.link = LinkCapacity::default();
                    }
                }
                self.link.on_decrease(received / 1000.0);
                self.state = AimdState::Hold;
                self.last_decrease_ms = Some(now_ms);
                self.last_change_ms = Some(now_ms);
            }
        }
        if let Some(r) = received_bps {
            let cap = THROUGHPUT_CAP_FACTOR * r + THROUGHPUT_CAP_EXTRA_BPS;
            if new > current && new > cap {
                new = current.max(cap);
            }
        }
        self.rate_bps = new;
        new
    }

    fn near_max_increase_bps_per_s(&self, rtt_ms: f64) -> f64 {
        let bits_per_frame = self.rate_bps / ASSUMED_FPS;
        let packets = (bits_per_frame / (ASSUMED_PACKET_BYTES * 8.0))
            .ceil()
            .max(1.0);
        let packet_bits = bits_per_frame / packets;
        let response_s = (rtt_ms + RESPONSE_TIME_EXTRA_MS) / 1000.0;
        (packet_bits / response_s).max(MIN_ADDITIVE_BPS_PER_S)
    }
}

/// The loss-based controller (draft 6).
#[derive(Debug, Clone)]
pub struct LossBased {
    /// Current loss-based estimate, bit/s.
    pub rate_bps: f64,
    history: VecDeque<(f64, f64)>,
    last_decrease_ms: Option<f64>,
}

impl LossBased {
    /// Starts at `start_bps`.
    pub fn new(start_bps: f64) -> Self {
        LossBased {
            rate_bps: start_bps,
            history: VecDeque::new(),
            last_decrease_ms: None,
        }
    }

    /// One update with the loss fraction measured since the last one, capped by the delay-based
    /// estimate `delay_based_bps`.
    pub fn update(&mut self, loss: f64, now_ms: f64, rtt_ms: f64, delay_based_bps: f64) -> f64 {
        while self
            .history
            .front()
            .is_some_and(|&(t, _)| now_ms - t > 1000.0)
        {
            self.history.pop_front();
        }
        let mut new = self.rate_bps;
        if loss < LOSS_LOW {
            // 8 % per second: grow from the smallest estimate of the last second.
            let oldest_t = self.history.front().map_or(now_ms, |&(t, _)| t);
            let min_recent = self
                .history
                .iter()
                .map(|&(_, r)| r)
                .fold(self.rate_bps, f64::min);
            let span_s = ((now_ms - oldest_t) / 1000.0).clamp(0.0, 1.0);
            new = new.max(
                min_recent * LOSS_INCREASE_PER_S.powf(span_s.max(0.05))
                    + LOSS_INCREASE_EXTRA_BPS * span_s,
            );
        } else if loss > LOSS_HIGH {
            let ready = self
                .last_decrease_ms
                .is_none_or(|t| now_ms - t >= LOSS_DECREASE_INTERVAL_MS + rtt_ms);
            if ready {
                new = self.rate_bps * (1.0 - 0.5 * loss);
                self.last_decrease_ms = Some(now_ms);
            }
        }
        new = new.min(delay_based_bps);
        self.rate_bps = new;
        self.history.push_back((now_ms, new));
        new
    }
}

/// Bytes of the packets seen over a sliding time window (by send or arrival time).
#[derive(Debug, Clone, Default)]
struct ByteWindow {
    packets: VecDeque<(f64, u32)>,
    bytes: u64,
}

impl ByteWindow {
    fn push(&mut self, t_ms: f64, bytes: u32) {
        self.packets.push_back((t_ms, bytes));
        self.bytes += bytes as u64;
    }

    /// Drops packets older than `window_ms` before the newest; returns `(newest time, rate in
    /// bit/s over the window)`, `None` if empty.
    fn rate_bps(&mut self, window_ms: f64) -> Option<(f64, f64)> {
        let newest = self.packets.back()?.0;
        while self
            .packets
            .front()
            .is_some_and(|&(t, _)| t <= newest - window_ms)
        {
            let (_, b) = self.packets.pop_front().unwrap_or_default();
            self.bytes -= b as u64;
        }
        Some((newest, self.bytes as f64 * 8.0 / (window_ms / 1000.0)))
    }
}

/// One probe cluster: the rate asked for, its send window and the packets reported from it.
#[derive(Debug, Clone)]
struct Cluster {
    rate_bps: f64,
    start_ms: f64,
    end_ms: f64,
    /// Whether a good result triggers a further exponential probe.
    further: bool,
    /// `(send_ms, arrival_ms, bytes)` of the packets sent in the window.
    packets: Vec<(f64, Option<f64>, u32)>,
}

/// A finished cluster's measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    /// The estimate the cluster supports, bit/s.
    pub bps: f64,
    /// The cluster's measured send rate, bit/s.
    pub send_bps: f64,
}

/// WebRTC's probe controller and probe bitrate estimator over media clusters (module doc, step 6).
#[derive(Debug, Clone, Default)]
pub struct Prober {
    pending: VecDeque<(f64, bool)>,
    active: Option<Cluster>,
    measuring: Vec<Cluster>,
    sent: ByteWindow,
    last_alr_probe_ms: Option<f64>,
    /// Every result so far `(time ms, result)`, for inspection in tests.
    pub results: Vec<(f64, ProbeResult)>,
}

impl Prober {
    /// Queues the start-up clusters at 3x and 6x `start_bps`.
    pub fn start(&mut self, start_bps: f64) {
        self.pending
            .push_back(((PROBE_FIRST_SCALE * start_bps).min(PROBE_MAX_BPS), false));
        self.pending
            .push_back(((PROBE_SECOND_SCALE * start_bps).min(PROBE_MAX_BPS), true));
    }

    /// Whether a cluster is being sent or waits to be.
    pub fn busy(&self) -> bool {
        self.active.is_some() || !self.pending.is_empty()
    }

    /// The probe rate to ask of the encoder at `now_ms`, if a cluster is being sent then.
    pub fn target_at(&mut self, now_ms: f64) -> Option<f64> {
        if self.active.as_ref().is_some_and(|c| now_ms >= c.end_ms) {
            self.measuring.extend(self.active.take());
        }
        if self.active.is_none() {
            if let Some((rate_bps, further)) = self.pending.pop_front() {
                self.active = Some(Cluster {
                    rate_bps,
                    start_ms: now_ms,
                    end_ms: now_ms + PROBE_CLUSTER_MS,
                    further,
                    packets: Vec::new(),
                });
            }
        }
        self.active.as_ref().map(|c| c.rate_bps)
    }

    /// Files one feedback message's packets under their clusters; returns the result of the
    /// latest cluster that completed with a valid measurement, and queues a further probe when
    /// its result shows headroom over `estimate_bps`.
    pub fn on_feedback(&mut self, fb: &Feedback, estimate_bps: f64) -> Option<ProbeResult> {
        for p in &fb.packets {
            self.sent.push(p.send_ms, p.bytes);
            for c in self.measuring.iter_mut().chain(self.active.as_mut()) {
                if p.send_ms >= c.start_ms && p.send_ms < c.end_ms {
                    c.packets.push((p.send_ms, p.arrival_ms, p.bytes));
                }
            }
        }
        // A cluster is complete once a packet sent after its window is reported (reports come
        // in sequence order), and abandoned if its feedback is more than 1 s late.
        let newest_send = fb
            .packets
            .iter()
            .map(|p| p.send_ms)
            .fold(f64::MIN, f64::max);
        let mut result = None;
        let mut i = 0;
        while i < self.measuring.len() {
            let c = &self.measuring[i];
            if newest_send >= c.end_ms || fb.now_ms > c.end_ms + PROBE_MAX_INTERVAL_MS {
                let c = self.measuring.remove(i);
                if let Some(r) = measure(&c.packets) {
                    self.results.push((fb.now_ms, r));
                    if c.further
                        && r.bps >= PROBE_FURTHER_THRESHOLD * r.send_bps
                        && r.bps > estimate_bps
                        && r.bps < PROBE_MAX_BPS
                    {
                        self.pending
                            .push_back(((PROBE_FURTHER_SCALE * r.bps).min(PROBE_MAX_BPS), true));
                    }
                    result = Some(r);
                }
            } else {
                i += 1;
            }
        }
        result
    }

    /// ALR probing: when the sender used under 65 % of `estimate_bps` over the last 500 ms of
    /// reported packets, queue a probe at 2x the estimate, at most every 5 s.
    pub fn check_alr(&mut self, now_ms: f64, estimate_bps: f64) {
        let Some((_, send_bps)) = self.sent.rate_bps(ALR_WINDOW_MS) else {
            return;
        };
        let due = self
            .last_alr_probe_ms
            .is_none_or(|t| now_ms - t >= ALR_PROBE_INTERVAL_MS);
        if !self.busy()
            && due
            && now_ms >= ALR_PROBE_INTERVAL_MS
            && send_bps < ALR_USAGE_RATIO * estimate_bps
        {
            self.last_alr_probe_ms = Some(now_ms);
            self.pending
                .push_back(((ALR_PROBE_SCALE * estimate_bps).min(PROBE_MAX_BPS), false));
        }
    }
}

/// The probe bitrate estimator on one cluster's `(send_ms, arrival_ms, bytes)` packets.
pub fn measure(packets: &[(f64, Option<f64>, u32)]) -> Option<ProbeResult> {
    let received: Vec<(f64, u32)> = packets
        .iter()
        .filter_map(|&(_, a, b)| a.map(|a| (a, b)))
        .collect();
    if packets.len() < PROBE_MIN_PACKETS
        || (received.len() as f64) < PROBE_MIN_RECEIVED_RATIO * packets.len() as f64
    {
        return None;
    }
    let first_send = packets.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let (last_send, last_bytes) =
        packets.iter().fold(
            (f64::MIN, 0),
            |acc, p| if p.0 > acc.0 { (p.0, p.2) } else { acc },
        );
    let (first_arrival, first_bytes) =
        received
            .iter()
            .fold((f64::MAX, 0), |acc, &r| if r.0 < acc.0 { r } else { acc });
    let last_arrival = received.iter().map(|r| r.0).fold(f64::MIN, f64::max);
    let send_ms = last_send - first_send;
    let recv_ms = last_arrival - first_arrival;
    if send_ms <= 0.0
        || recv_ms <= 0.0
        || send_ms > PROBE_MAX_INTERVAL_MS
        || recv_ms > PROBE_MAX_INTERVAL_MS
    {
        return None;
    }
    // The last packet's bytes left after the send span; the first's arrived before the receive span.
    let sent_bits = (packets.iter().map(|p| p.2 as f64).sum::<f64>() - last_bytes as f64) * 8.0;
    let recv_bits = (received.iter().map(|r| r.1 as f64).sum::<f64>() - first_bytes as f64) * 8.0;
    let send_bps = sent_bits / (send_ms / 1000.0);
    let recv_bps = recv_bits / (recv_ms / 1000.0);
    if recv_bps > PROBE_MAX_VALID_RATIO * send_bps {
        return None;
    }
    let bps = if recv_bps < PROBE_UNSATURATED_RATIO * send_bps {
        PROBE_TARGET_UTILIZATION * recv_bps
    } else {
        send_bps.min(recv_bps)
    };
    Some(ProbeResult { bps, send_bps })
}

/// GCC as a [`Controller`].
#[derive(Debug, Clone)]
pub struct Gcc {
    arrivals: InterArrival,
    /// The trendline detector (public for inspection in tests).
    pub detector: TrendlineDetector,
    /// The delay-based controller.
    pub aimd: Aimd,
    /// The loss-based controller.
    pub loss: LossBased,
    received: ByteWindow,
    first_arrival_ms: Option<f64>,
    loss_packets: usize,
    loss_lost: usize,
    rtt_ms: f64,
    position: LadderPosition,
    /// Start-up and ALR probing (public for inspection in tests).
    pub prober: Prober,
    probing: bool,
    estimate_bps: f64,
}

impl Default for Gcc {
    fn default() -> Self {
        Self::new(START_BPS)
    }
}

impl Gcc {
    /// GCC starting at `start_bps`.
    pub fn new(start_bps: f64) -> Self {
        Gcc {
            arrivals: InterArrival::default(),
            detector: TrendlineDetector::default(),
            aimd: Aimd::new(start_bps),
            loss: LossBased::new(start_bps),
            received: ByteWindow::default(),
            first_arrival_ms: None,
            loss_packets: 0,
            loss_lost: 0,
            rtt_ms: 100.0,
            position: LadderPosition::default(),
            prober: Prober::default(),
            probing: true,
            estimate_bps: start_bps,
        }
    }

    /// GCC without probing (the version before probing was modelled), for comparison.
    pub fn without_probing(start_bps: f64) -> Self {
        Gcc {
            probing: false,
            ..Self::new(start_bps)
        }
    }

    /// Acknowledged receive rate over the last 500 ms of arrivals, bit/s (`None` until 500 ms of
    /// arrivals have been seen).
    fn received_bps(&mut self) -> Option<f64> {
        let (newest, bps) = self.received.rate_bps(THROUGHPUT_WINDOW_MS)?;
        let first = self.first_arrival_ms?;
        (newest - first >= THROUGHPUT_WINDOW_MS).then_some(bps)
    }

    /// The ladder follows the estimate; while a cluster is being sent the encoder target is the
    /// probe rate.
    fn decision(&mut self, target_bps: f64, now_ms: f64) -> Decision {
        let mut d = self.position.decide(target_bps);
        if self.probing {
            if let Some(probe_bps) = self.prober.target_at(now_ms) {
                d.target_bps = probe_bps.max(target_bps);
            }
        }
        d
    }
}

impl Controller for Gcc {
    fn name(&self) -> String {
        "gcc".into()
    }

    fn start(&mut self, source_fps: u32) -> Decision {
        self.position.set_source_fps(source_fps);
        if self.probing {
            self.prober.start(self.aimd.rate_bps);
        }
        self.decision(self.aimd.rate_bps, 0.0)
    }

    fn on_feedback(&mut self, fb: &Feedback) -> Decision {
        if let Some(rtt) = fb.rtt_ms {
            self.rtt_ms = rtt;
        }
        let mut arrived: Vec<(f64, f64, u32)> = fb
            .packets
            .iter()
            .filter_map(|p| p.arrival_ms.map(|a| (a, p.send_ms, p.bytes)))
            .collect();
        arrived.sort_by(|a, b| a.0.total_cmp(&b.0));
        for &(arrival, send, bytes) in &arrived {
            self.first_arrival_ms.get_or_insert(arrival);
            self.received.push(arrival, bytes);
            if let Some((ds, da, at)) = self.arrivals.push(send, arrival) {
                self.detector.update(ds, da, at);
            }
        }
        let received = self.received_bps();
        let signal = self.detector.signal;
        let probe = if self.probing {
            let estimate = self.aimd.rate_bps.min(self.loss.rate_bps);
            self.prober.on_feedback(fb, estimate)
        } else {
            None
        };
        // While overusing, the delay-based estimate is cut at most once per RTT (WebRTC's
        // `TimeToReduceFurther`); between cuts it is left as it is.
        let delay_based = if signal == Signal::Overuse
            && !self.aimd.time_to_reduce_further(
                fb.now_ms,
                self.rtt_ms,
                received.unwrap_or(f64::INFINITY),
            ) {
            self.aimd.rate_bps
        } else {
            self.aimd.update(signal, received, fb.now_ms, self.rtt_ms)
        };

        self.loss_packets += fb.packets.len();
        self.loss_lost += fb.packets.iter().filter(|p| p.arrival_ms.is_none()).count();
        let target = if self.loss_packets >= LOSS_MIN_PACKETS {
            let loss = self.loss_lost as f64 / self.loss_packets as f64;
            self.loss_packets = 0;
            self.loss_lost = 0;
            self.loss.update(loss, fb.now_ms, self.rtt_ms, delay_based)
        } else {
            self.loss.rate_bps = self.loss.rate_bps.min(delay_based);
            self.loss.rate_bps
        };
        // A probe that found headroom replaces both estimates, unless queues are growing.
        let target = match probe {
            Some(r) if r.bps > target && signal != Signal::Overuse => {
                self.aimd.rate_bps = self.aimd.rate_bps.max(r.bps);
                self.loss.rate_bps = r.bps;
                r.bps
            }
            _ => target,
        };
        if self.probing {
            self.prober.check_alr(fb.now_ms, target);
        }
        self.estimate_bps = target;
        self.decision(target, fb.now_ms)
    }

    /// The smaller of the delay- and loss-based estimates (or a probe's result that replaced
    /// them), before the ladder and before a probe cluster raises the encoder target.
    fn estimate_kbps(&self) -> Option<f64> {
        Some(self.estimate_bps / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::PacketReport;

    #[test]
    fn overuse_cuts_to_085_of_received_rate() {
        let mut a = Aimd::new(2e6);
        let r = a.update(Signal::Overuse, Some(1e6), 1000.0, 50.0);
        assert!((r - 0.85e6).abs() < 1e-6, "{r}");
        assert_eq!(a.state, AimdState::Hold);
    }

    #[test]
    fn underuse_holds() {
        let mut a = Aimd::new(1e6);
        for i in 0..40 {
            let r = a.update(Signal::Underuse, Some(0.9e6), i as f64 * 50.0, 50.0);
            assert_eq!(r, 1e6);
        }
        assert_eq!(a.state, AimdState::Hold);
    }

    #[test]
    fn far_from_convergence_grows_8_percent_per_second() {
        let mut a = Aimd::new(1e6);
        a.update(Signal::Normal, Some(5e6), 0.0, 50.0); // Hold -> Increase
        let mut r = 0.0;
        for i in 1..=20 {
            r = a.update(Signal::Normal, Some(5e6), i as f64 * 50.0, 50.0);
        }
        assert!((r / 1e6 - 1.08).abs() < 1e-9, "{r}");
        // Capped at 1.5 x received + 10 kbit/s.
        let mut b = Aimd::new(1e6);
        b.update(Signal::Normal, Some(0.5e6), 0.0, 50.0);
        let r = b.update(Signal::Normal, Some(0.5e6), 1000.0, 50.0);
        assert_eq!(r, 1e6, "never below current when capped");
        let mut c = Aimd::new(0.72e6);
        c.update(Signal::Normal, Some(0.5e6), 0.0, 50.0);
        let r = c.update(Signal::Normal, Some(0.5e6), 1000.0, 50.0);
        assert!((r - 0.76e6).abs() < 1e-6, "{r}");
    }

    #[test]
    fn near_convergence_grows_additively() {
        let mut a = Aimd::new(1e6);
        a.update(Signal::Overuse, Some(1e6), 0.0, 50.0); // link estimate 1 Mbit/s, rate 0.85
        a.update(Signal::Normal, Some(1e6), 100.0, 50.0); // Hold -> Increase
        let r0 = a.rate_bps;
        a.update(Signal::Normal, Some(1e6), 1100.0, 50.0);
        let step = a.rate_bps - r0;
        // About one packet per (RTT + 100 ms): ~ (0.85e6 / 30 / 3 packets) bits / 0.15 s ~ 63 kbit/s.
        assert!(step > 4000.0 && step < 0.08 * r0, "{step}");
    }

    #[test]
    fn loss_over_10_percent_cuts_by_half_the_loss() {
        let mut l = LossBased::new(1e6);
        let r = l.update(0.2, 0.0, 50.0, 1e7);
        assert!((r - 0.9e6).abs() < 1e-6, "{r}");
        // Not again within 300 ms + RTT.
        assert_eq!(l.update(0.2, 200.0, 50.0, 1e7), 0.9e6);
        let r = l.update(0.2, 400.0, 50.0, 1e7);
        assert!((r - 0.81e6).abs() < 1e-6, "{r}");
        // 2-10 %: hold.
        assert_eq!(l.update(0.05, 2000.0, 50.0, 1e7), r);
        // Under 2 %: grows, but never above the delay-based estimate.
        assert!(l.update(0.0, 3000.0, 50.0, 1e7) > r);
        assert_eq!(l.update(0.0, 4000.0, 50.0, 0.5e6), 0.5e6);
    }

    /// GCC without probing, fed 3 s of 50 ms reports of packets sent every 5 ms and arriving
    /// every `arrival_gap_ms` (6 ms: the queue grows). Returns the estimates after start and
    /// after every report, kbit/s.
    fn estimates(arrival_gap_ms: f64) -> Vec<f64> {
        let mut g = Gcc::without_probing(2e6);
        g.start(60);
        let mut out = vec![g.estimate_kbps().unwrap()];
        let mut seq = 0u64;
        for k in 1..=60 {
            let now = 50.0 * k as f64;
            let packets = (0..10)
                .map(|_| {
                    let p = PacketReport {
                        seq,
                        send_ms: 5.0 * seq as f64,
                        arrival_ms: Some(20.0 + arrival_gap_ms * seq as f64),
                        bytes: 1200,
                    };
                    seq += 1;
                    p
                })
                .collect();
            g.on_feedback(&Feedback {
                now_ms: now,
                packets,
                rtt_ms: Some(60.0),
            });
            out.push(g.estimate_kbps().unwrap());
        }
        out
    }

    #[test]
    fn the_estimate_falls_with_overuse_and_not_without() {
        let queued = estimates(6.0);
        assert_eq!(queued[0], 2000.0, "the start rate");
        let last = *queued.last().unwrap();
        // Received 1200 bytes per 6 ms = 1.6 Mbit/s: cut to about 0.85 x that.
        assert!(last < 1600.0, "{queued:?}");
        let steady = estimates(5.0);
        assert!(
            steady.iter().all(|&e| e >= 2000.0),
            "no queue, no cut: {steady:?}"
        );
    }

    #[test]
    fn rising_delay_is_overuse_and_falling_is_underuse() {
        let mut d = TrendlineDetector::default();
        let mut t = 0.0;
        // Each 10 ms group arrives 2 ms later than the previous: the queue grows.
        let mut s = Signal::Normal;
        for _ in 0..60 {
            t += 12.0;
            s = d.update(10.0, 12.0, t);
        }
        assert_eq!(s, Signal::Overuse);
        for _ in 0..60 {
            t += 8.0;
            s = d.update(10.0, 8.0, t);
        }
        assert_eq!(s, Signal::Underuse);
        assert!((THRESHOLD_MIN_MS..=THRESHOLD_MAX_MS).contains(&d.threshold_ms));
    }

    /// `n` packets of 1200 bytes sent every `send_gap_ms` and arriving every `arrival_gap_ms`.
    fn cluster(n: usize, send_gap_ms: f64, arrival_gap_ms: f64) -> Vec<(f64, Option<f64>, u32)> {
        (0..n)
            .map(|i| {
                let i = i as f64;
                (i * send_gap_ms, Some(50.0 + i * arrival_gap_ms), 1200)
            })
            .collect()
    }

    #[test]
    fn probe_result_is_the_send_rate_on_an_unsaturated_link() {
        // 9600 bits every 2 ms = 4.8 Mbit/s, received at the same pace.
        let r = measure(&cluster(10, 2.0, 2.0)).unwrap();
        assert!(
            (r.bps - 4.8e6).abs() < 1.0 && (r.send_bps - 4.8e6).abs() < 1.0,
            "{r:?}"
        );
    }

    #[test]
    fn probe_result_is_095_of_the_receive_rate_on_a_saturated_link() {
        // Sent at 4.8 Mbit/s, received at 1.2 Mbit/s (every 8 ms).
        let r = measure(&cluster(10, 2.0, 8.0)).unwrap();
        assert!((r.bps - 0.95 * 1.2e6).abs() < 1.0, "{r:?}");
    }

    #[test]
    fn invalid_probe_clusters_give_no_result() {
        assert_eq!(measure(&cluster(4, 2.0, 2.0)), None, "under 5 packets");
        let mut lossy = cluster(10, 2.0, 2.0);
        for p in lossy.iter_mut().take(3) {
            p.1 = None;
        }
        assert_eq!(measure(&lossy), None, "under 80 % received");
        assert_eq!(
            measure(&cluster(10, 2.0, 0.5)),
            None,
            "received 4x faster than sent"
        );
        assert_eq!(measure(&cluster(10, 200.0, 200.0)), None, "spans over 1 s");
    }

    #[test]
    fn a_result_with_headroom_queues_a_further_probe_at_twice_it() {
        let mut p = Prober::default();
        p.start(300_000.0);
        assert_eq!(p.target_at(0.0), Some(900_000.0));
        assert_eq!(p.target_at(100.0), Some(1_800_000.0));
        assert_eq!(p.target_at(200.0), None);
        // The second cluster's packets: 4.8 Mbit/s sent and received, then one sent after it.
        let mut packets: Vec<PacketReport> = (0..10)
            .map(|i| PacketReport {
                seq: i,
                send_ms: 100.0 + 2.0 * i as f64,
                arrival_ms: Some(150.0 + 2.0 * i as f64),
                bytes: 1200,
            })
            .collect();
        packets.push(PacketReport {
            seq: 10,
            send_ms: 210.0,
            arrival_ms: Some(260.0),
            bytes: 1200,
        });
        let fb = Feedback {
            now_ms: 300.0,
            packets,
            rtt_ms: Some(100.0),
        };
        let r = p.on_feedback(&fb, 300_000.0).unwrap();
        assert!((r.bps - 4.8e6).abs() < 1.0, "{r:?}");
        assert_eq!(p.target_at(300.0), Some(9.6e6));
        // No further probe when the result is not above the estimate.
        let mut q = Prober::default();
        q.start(300_000.0);
        q.target_at(0.0);
        q.target_at(100.0);
        q.target_at(200.0);
        q.on_feedback(&fb, 5e6);
        assert_eq!(q.target_at(300.0), None);
    }

    #[test]
    fn groups_are_5_ms_of_send_time() {
        let mut g = InterArrival::default();
        assert_eq!(g.push(0.0, 20.0), None);
        assert_eq!(g.push(4.0, 24.0), None);
        assert_eq!(g.push(10.0, 30.0), None); // closes group 1, no previous
        assert_eq!(g.push(20.0, 45.0), Some((6.0, 6.0, 30.0)));
    }
}
