//! The frame-level, event-driven real-time session: source -> encoder -> packetizer -> pacer ->
//! bottleneck -> receiver, with transport-wide feedback to the controller every 50 ms.
//!
//! **Event order.** Time advances capture tick by capture tick (`1000 / source_fps` ms). At each
//! tick, first every feedback report the sender has received by then is handed to the controller
//! (report `k` is cut by the receiver at `k x 50 ms` and reaches the sender `rtt/2` later), then a
//! pending key-frame request is honoured, then the frame is captured and, if the chosen fps keeps
//! it, encoded, cut into 1200-byte packets and paced at 2.5 x the target (a packet leaves at
//! `max(capture, previous packet's pacing slot)`, but waits at most 2 s in the pacer, as WebRTC's
//! pacer speeds up to drain its queue in that time). Each packet's whole path is resolved as it is
//! paced: the link is FIFO and packets are offered in time order, so its departure and arrival are
//! already determined. This is causal: a report cut at `T` lists only packets that arrived by `T`,
//! which were all captured before `T`, hence already simulated when the report is delivered
//! (`T + rtt/2`). Packets already paced keep their slots when the target changes.
//!
//! **Loss recovery.** A frame with a lost packet cannot be decoded. The receiver notices when the
//! frame's last packet should have arrived and (unless it already waits for a key frame it asked
//! for) sends a key-frame request (PLI), which reaches the sender `rtt/2` later; the next frame
//! encoded after that is a key frame. No NACK retransmission is modelled.
//!
//! Every random draw comes from one seeded [`Rng`], forked per component (content, encoder noise,
//! link loss), so a session is a pure function of (trace, config, controller, seed).

use crate::controller::{Controller, Decision, Feedback, PacketReport, Resolution};
use crate::cwnd::CongestionWindow;
use crate::error::RtError;
use crate::link::{Bottleneck, Fate, LinkConfig, QueueLimit};
use crate::quality;
use crate::receiver::{Receiver, RenderedFrame};
use crate::source::{Encoder, EncoderConfig, FrameSource, SourceConfig};
use crate::trace::LinkTrace;
use neuralstream_core::Rng;

/// Session settings. Defaults follow WebRTC and the onl-emu benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct RtConfig {
    /// Capture rate, 30 or 60 fps. Default 60 (cloud gaming).
    pub source_fps: u32,
    /// Session length, ms. Default 60,000.
    pub duration_ms: f64,
    /// Largest packet payload, bytes. Default 1200.
    pub packet_bytes: u32,
    /// Pacing rate over the target. Default 2.5 (WebRTC's `kDefaultPaceMultiplier`).
    pub pace_multiplier: f64,
    /// Longest a packet may wait in the pacer, ms: past it the pacer sends faster than 2.5 x the
    /// target (WebRTC's `kMaxExpectedQueueLength`, 2 s). Default 2000.
    pub max_pacer_queue_ms: f64,
    /// Receiver feedback period, ms. Default 50.
    pub feedback_interval_ms: f64,
    /// Encoder target before the controller speaks, bit/s. Default 300,000 (WebRTC's start).
    pub start_bps: f64,
    /// Smallest target the encoder accepts, bit/s. Default 50,000.
    pub min_bps: f64,
    /// Largest target the encoder accepts (the source bitrate), bit/s. Default 10,000,000.
    pub max_bps: f64,
    /// Bottleneck queue and extra loss.
    pub link: LinkConfig,
    /// Scene-complexity process.
    pub source: SourceConfig,
    /// Encoder model.
    pub encoder: EncoderConfig,
    /// Seed of every random draw.
    pub seed: u64,
    /// NACK: a lost packet is sent again once, an RTT after the receiver noticed the gap (rtt/2
    /// for the NACK to reach the sender, then the retransmission's own trip), if it would arrive
    /// within this many ms of its frame's capture; otherwise, or if the retransmission is lost
    /// too, the frame is undecodable and the receiver asks for a key frame. `None`: no
    /// retransmission (every loss costs a key frame). Default `None`, so the results recorded
    /// before NACK was modelled stay comparable; `rt bench --nack-ms` turns it on.
    pub nack_deadline_ms: Option<f64>,
    /// WebRTC's congestion window ([`crate::cwnd`]): the pacer holds packets while the bytes in
    /// flight exceed `target x (RTT + this many ms)` (GoogCC: 350), and the encoder drops the
    /// frames captured while it does. `None`: no window. Default `None`, so the results recorded
    /// before it was modelled stay comparable; `rt bench --cwnd-ms 350` turns it on.
    pub cwnd_queue_ms: Option<f64>,
}

impl Default for RtConfig {
    fn default() -> Self {
        RtConfig {
            source_fps: 60,
            duration_ms: 60_000.0,
            packet_bytes: 1200,
            pace_multiplier: 2.5,
            max_pacer_queue_ms: 2000.0,
            feedback_interval_ms: 50.0,
            start_bps: 300_000.0,
            min_bps: 50_000.0,
            max_bps: 10_000_000.0,
            link: LinkConfig::default(),
            source: SourceConfig::default(),
            encoder: EncoderConfig::default(),
            seed: 1,
            nack_deadline_ms: None,
            cwnd_queue_ms: None,
        }
    }
}

impl RtConfig {
    /// Checks every field; the error names the field and the accepted range.
    pub fn validate(&self) -> Result<(), RtError> {
        let bad = |field: &str, value: String, range: &str| {
            Err(RtError::Config(format!(
                "{field} = {value} is out of range: use {range}"
            )))
        };
        if self.source_fps != 30 && self.source_fps != 60 {
            return bad("source_fps", self.source_fps.to_string(), "30 or 60");
        }
        if !(self.duration_ms.is_finite()
            && self.duration_ms >= 1000.0
            && self.duration_ms <= 86_400_000.0)
        {
            return bad("duration_ms", self.duration_ms.to_string(), "1 s to a day");
        }
        if !(100..=9000).contains(&self.packet_bytes) {
            return bad("packet_bytes", self.packet_bytes.to_string(), "100 to 9000");
        }
        if !(self.pace_multiplier.is_finite() && self.pace_multiplier >= 1.0) {
            return bad("pace_multiplier", self.pace_multiplier.to_string(), ">= 1");
        }
        if !(self.max_pacer_queue_ms.is_finite() && self.max_pacer_queue_ms >= 0.0) {
            return bad(
                "max_pacer_queue_ms",
                self.max_pacer_queue_ms.to_string(),
                ">= 0 ms",
            );
        }
        if !(self.feedback_interval_ms.is_finite()
            && (5.0..=1000.0).contains(&self.feedback_interval_ms))
        {
            return bad(
                "feedback_interval_ms",
                self.feedback_interval_ms.to_string(),
                "5 to 1000 ms",
            );
        }
        if !(self.min_bps.is_finite()
            && self.min_bps >= 10_000.0
            && self.max_bps.is_finite()
            && self.max_bps >= self.min_bps)
        {
            return bad(
                "min_bps/max_bps",
                format!("{}/{}", self.min_bps, self.max_bps),
                "10 kbit/s <= min_bps <= max_bps",
            );
        }
        if !(self.start_bps >= self.min_bps && self.start_bps <= self.max_bps) {
            return bad(
                "start_bps",
                self.start_bps.to_string(),
                "between min_bps and max_bps",
            );
        }
        if !(0.0..=1.0).contains(&self.link.extra_loss) {
            return bad(
                "link.extra_loss",
                self.link.extra_loss.to_string(),
                "[0, 1]",
            );
        }
        match self.link.queue {
            QueueLimit::Packets(n) if n >= 1 => {}
            QueueLimit::Ms(ms) if ms.is_finite() && ms > 0.0 => {}
            q => {
                return bad(
                    "link.queue",
                    format!("{q:?}"),
                    "at least 1 packet or a positive number of ms",
                )
            }
        }
        if let Some(ms) = self.nack_deadline_ms {
            if !(ms.is_finite() && ms > 0.0) {
                return bad(
                    "nack_deadline_ms",
                    ms.to_string(),
                    "a positive number of ms (or none)",
                );
            }
        }
        if let Some(ms) = self.cwnd_queue_ms {
            if !(ms.is_finite() && ms >= 0.0) {
                return bad(
                    "cwnd_queue_ms",
                    ms.to_string(),
                    "a number of ms >= 0 (or none)",
                );
            }
        }
        Ok(())
    }
}

/// One packet's whole life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketRecord {
    /// Send order.
    pub seq: u64,
    /// Index of its frame in [`SessionLog::frames`].
    pub frame: usize,
    /// Pacer release time, ms.
    pub send_ms: f64,
    /// Size, bytes.
    pub bytes: u32,
    /// What the link did with it.
    pub fate: Fate,
    /// One-way propagation delay on its path, ms (rtt/2 at send time).
    pub propagation_ms: f64,
}

impl PacketRecord {
    /// Arrival time if delivered.
    pub fn arrival_ms(&self) -> Option<f64> {
        match self.fate {
            Fate::Delivered { arrival_ms, .. } => Some(arrival_ms),
            _ => None,
        }
    }
}

/// One encoded frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRecord {
    /// Capture time, ms.
    pub capture_ms: f64,
    /// Encoded size, whole bytes.
    pub bytes: f64,
    /// Key frame?
    pub key: bool,
    /// Encoding decision in force.
    pub resolution: Resolution,
    /// Encoding fps in force.
    pub fps: u32,
    /// Encoder target in force, bit/s.
    pub target_bps: f64,
    /// When its last packet arrived (`None`: a packet was lost).
    pub complete_ms: Option<f64>,
    /// When it was shown (`None`: not decodable).
    pub render_ms: Option<f64>,
}

/// A decision and when it took effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionRecord {
    /// When the sender applied it, ms.
    pub at_ms: f64,
    /// The decision, target clamped to the encoder's range.
    pub decision: Decision,
}

/// Everything a session produced.
#[derive(Debug, Clone)]
pub struct SessionLog {
    /// Trace name.
    pub trace: String,
    /// Trace family.
    pub family: String,
    /// Trace split, if known.
    pub split: Option<crate::trace::Split>,
    /// Controller name.
    pub controller: String,
    /// Session length, ms.
    pub duration_ms: f64,
    /// Every packet, in send order.
    pub packets: Vec<PacketRecord>,
    /// Every encoded frame, in capture order.
    pub frames: Vec<FrameRecord>,
    /// Every rendered frame, in order.
    pub rendered: Vec<RenderedFrame>,
    /// Decisions: the start and one per feedback message.
    pub decisions: Vec<DecisionRecord>,
    /// Freezes (WebRTC rule).
    pub freezes: usize,
    /// Frozen time, ms.
    pub frozen_ms: f64,
    /// Largest bottleneck queue seen, packets.
    pub max_queue_packets: usize,
    /// Bytes the link could have carried during the session.
    pub capacity_bytes: f64,
}

impl SessionLog {
    /// Bytes handed to the link.
    pub fn sent_bytes(&self) -> u64 {
        self.packets.iter().map(|p| p.bytes as u64).sum()
    }

    /// Bytes that arrived by `t_ms`.
    pub fn delivered_bytes_by(&self, t_ms: f64) -> u64 {
        self.packets
            .iter()
            .filter(|p| p.arrival_ms().is_some_and(|a| a <= t_ms))
            .map(|p| p.bytes as u64)
            .sum()
    }
}

/// When the receiver sees a packet: its arrival, or for a lost one `expected_ms` (when it should
/// have arrived), as the feedback reports it.
fn fate_seen_ms(fate: &Fate, expected_ms: f64) -> f64 {
    match fate {
        Fate::Delivered { arrival_ms, .. } => *arrival_ms,
        _ => expected_ms,
    }
}

fn clamp_decision(d: Decision, cfg: &RtConfig) -> Decision {
    let target = if d.target_bps.is_finite() {
        d.target_bps
    } else {
        cfg.min_bps
    };
    Decision {
        target_bps: target.clamp(cfg.min_bps, cfg.max_bps),
        resolution: d.resolution,
        fps: d.fps.clamp(1, cfg.source_fps),
    }
}

/// A frame sent but not yet handed to the receiver: it waits for its retransmissions (and frames
/// behind it wait for it, since the receiver takes frames in order).
struct InFlight {
    record: FrameRecord,
    /// Opinion score of the frame as encoded.
    quality: f64,
    /// Latest arrival of its packets so far.
    last_arrival_ms: f64,
    /// A packet of it is lost for good.
    broken: bool,
    /// When the receiver knows the frame's fate (its last arrival or the notice of a loss).
    noticed_ms: f64,
    /// Retransmissions not yet sent.
    rtx_left: usize,
}

/// A retransmission waiting for its time: `(resend_ms, frame index, bytes)`.
type Rtx = (f64, usize, u32);

/// Runs one session of `controller` over `trace`.
pub fn run_session(
    trace: &LinkTrace,
    config: &RtConfig,
    controller: &mut dyn Controller,
) -> Result<SessionLog, RtError> {
    config.validate()?;
    let cfg = config;
    let rng = Rng::new(cfg.seed);
    let mut source = FrameSource::new(cfg.source, cfg.source_fps, rng.fork(1));
    let mut encoder = Encoder::new(cfg.encoder, cfg.start_bps, rng.fork(2));
    let mut link = Bottleneck::new(trace, cfg.link, rng.fork(3));

    let mut decision = clamp_decision(controller.start(cfg.source_fps), cfg);
    let mut decisions = vec![DecisionRecord {
        at_ms: 0.0,
        decision,
    }];
    let frame_ms = 1000.0 / cfg.source_fps as f64;
    let expected = (cfg.duration_ms / frame_ms) as usize + 1;
    let mut side = ReceiverSide {
        rx: Receiver::new(),
        frames: Vec::with_capacity(expected),
        waiting_for_key: false,
        key_request_at_ms: f64::INFINITY,
    };
    let mut packets: Vec<PacketRecord> = Vec::with_capacity(expected * 4);

    let mut pacer_next_ms = 0.0_f64;
    let mut report_cut_ms = cfg.feedback_interval_ms; // receiver time of the next report
    let mut reported = 0usize; // first packet not yet in a report
    let mut displayed = 0usize; // first rendered frame not yet handed to on_displayed
    let mut key_due = true;
    let mut last_resolution: Option<Resolution> = None;
    let mut last_encode_ms = f64::NEG_INFINITY;
    let mut last_send_ms = 0.0_f64; // the link takes offers in time order
    let mut in_flight: std::collections::VecDeque<InFlight> = Default::default();
    let mut rtx: Vec<Rtx> = Vec::new(); // in resend order
    let mut next_frame = 0usize; // index of the next frame encoded
    let mut cwnd = cfg.cwnd_queue_ms.map(CongestionWindow::new);

    for k in 0.. {
        let t = k as f64 * frame_ms;
        if t >= cfg.duration_ms {
            break;
        }
        // 0. Retransmissions whose NACK has reached the sender by t (through the pacer).
        let due = rtx.partition_point(|r| r.0 <= t);
        for (resend_ms, frame, bytes) in rtx.drain(..due) {
            let mut send_ms = last_send_ms.max(resend_ms.max(pacer_next_ms.min(t)));
            if let Some(w) = &mut cwnd {
                send_ms = w.earliest_send_ms(send_ms, bytes, decision.target_bps, trace);
            }
            last_send_ms = send_ms;
            pacer_next_ms = pacer_next_ms.max(send_ms)
                + bytes as f64 / (cfg.pace_multiplier * decision.target_bps / 8000.0);
            let propagation_ms = trace.at(send_ms).rtt_ms / 2.0;
            let fate = link.offer(send_ms, bytes);
            if let Some(w) = &mut cwnd {
                let seen_ms = fate_seen_ms(&fate, send_ms + propagation_ms);
                w.on_sent(seen_ms, bytes, cfg.feedback_interval_ms, trace);
            }
            let first = next_frame - in_flight.len();
            let f = &mut in_flight[frame - first];
            f.rtx_left -= 1;
            match fate {
                Fate::Delivered { arrival_ms, .. } => {
                    f.last_arrival_ms = f.last_arrival_ms.max(arrival_ms);
                    f.noticed_ms = f.noticed_ms.max(arrival_ms);
                }
                _ => {
                    f.broken = true;
                    f.noticed_ms = f.noticed_ms.max(send_ms + propagation_ms);
                }
            }
            packets.push(PacketRecord {
                seq: packets.len() as u64,
                frame,
                send_ms,
                bytes,
                fate,
                propagation_ms,
            });
        }
        // Frames whose fate is known go to the receiver, in order.
        side.take_ready(&mut in_flight, trace);
        // 1. Feedback the sender has received by t.
        loop {
            let back_ms = trace.at(report_cut_ms).rtt_ms / 2.0;
            let now_ms = report_cut_ms + back_ms;
            if now_ms > t {
                break;
            }
            let mut fb = Feedback {
                now_ms,
                packets: Vec::new(),
                rtt_ms: None,
            };
            while let Some(p) = packets.get(reported) {
                let seen_ms = match p.fate {
                    Fate::Delivered { arrival_ms, .. } => arrival_ms,
                    // A loss is noticed when the packet should have arrived.
                    _ => p.send_ms + p.propagation_ms,
                };
                if seen_ms > report_cut_ms {
                    break;
                }
                let arrival_ms = p.arrival_ms();
                if let Some(a) = arrival_ms {
                    fb.rtt_ms = Some(now_ms - p.send_ms - (report_cut_ms - a));
                }
                fb.packets.push(PacketReport {
                    seq: p.seq,
                    send_ms: p.send_ms,
                    arrival_ms,
                    bytes: p.bytes,
                });
                reported += 1;
            }
            // The frames the receiver displayed by the report's cut (display order is capture
            // order: a frame is never shown before the one captured before it).
            let shown = &side.rx.frames[displayed..];
            let n = shown.partition_point(|f| f.render_ms <= report_cut_ms);
            controller.on_displayed(&shown[..n]);
            displayed += n;
            decision = clamp_decision(controller.on_feedback(&fb), cfg);
            decisions.push(DecisionRecord {
                at_ms: now_ms,
                decision,
            });
            report_cut_ms += cfg.feedback_interval_ms;
        }
        // 2. A key-frame request that has reached the sender.
        if side.key_request_at_ms <= t {
            key_due = true;
            side.key_request_at_ms = f64::INFINITY;
        }
        // 3. Capture; the encoder keeps the frame if the chosen fps asks for one now.
        let complexity = source.next_complexity();
        let encode_every_ms = 1000.0 / decision.fps as f64;
        if t - last_encode_ms < encode_every_ms - frame_ms / 2.0 {
            continue;
        }
        // The encoder drops a frame captured while the congestion window holds the pacer.
        if cwnd.as_ref().is_some_and(|w| w.holds_pacer_at(t)) {
            continue;
        }
        last_encode_ms = t;
        let key = key_due || last_resolution != Some(decision.resolution);
        key_due = false;
        last_resolution = Some(decision.resolution);
        let bytes = encoder.encode(decision.target_bps, decision.fps, complexity, key);

        // 4. Packetize and pace; resolve each packet's path; schedule retransmissions.
        let frame_index = next_frame;
        next_frame += 1;
        let pacing_bytes_per_ms = cfg.pace_multiplier * decision.target_bps / 8000.0;
        let total = bytes.round().max(1.0) as u32;
        let n_packets = total.div_ceil(cfg.packet_bytes);
        let mut f = InFlight {
            record: FrameRecord {
                capture_ms: t,
                bytes: total as f64,
                key,
                resolution: decision.resolution,
                fps: decision.fps,
                target_bps: decision.target_bps,
                complete_ms: None,
                render_ms: None,
            },
            quality: quality::mos(encoder.effective_bps(), decision.resolution, decision.fps),
            last_arrival_ms: f64::NEG_INFINITY,
            broken: false,
            noticed_ms: t,
            rtx_left: 0,
        };
        for i in 0..n_packets {
            let size = if i + 1 < n_packets {
                cfg.packet_bytes
            } else {
                total - cfg.packet_bytes * (n_packets - 1)
            };
            let mut send_ms =
                last_send_ms.max(t.max(pacer_next_ms.min(t + cfg.max_pacer_queue_ms)));
            if let Some(w) = &mut cwnd {
                send_ms = w.earliest_send_ms(send_ms, size, decision.target_bps, trace);
            }
            last_send_ms = send_ms;
            pacer_next_ms = send_ms + size as f64 / pacing_bytes_per_ms;
            let propagation_ms = trace.at(send_ms).rtt_ms / 2.0;
            let fate = link.offer(send_ms, size);
            if let Some(w) = &mut cwnd {
                let seen_ms = fate_seen_ms(&fate, send_ms + propagation_ms);
                w.on_sent(seen_ms, size, cfg.feedback_interval_ms, trace);
            }
            match fate {
                Fate::Delivered { arrival_ms, .. } => {
                    f.last_arrival_ms = f.last_arrival_ms.max(arrival_ms);
                    f.noticed_ms = f.noticed_ms.max(arrival_ms);
                }
                _ => {
                    // The receiver notices the gap when the packet should have arrived; its
                    // NACK takes rtt/2 back, the retransmission rtt/2 (and any queue) forward.
                    let gap_ms = send_ms + propagation_ms;
                    let resend_ms = gap_ms + trace.at(gap_ms).rtt_ms / 2.0;
                    let in_time = cfg
                        .nack_deadline_ms
                        .is_some_and(|d| resend_ms + propagation_ms <= t + d);
                    if in_time {
                        f.rtx_left += 1;
                        let at = rtx.partition_point(|r| r.0 <= resend_ms);
                        rtx.insert(at, (resend_ms, frame_index, size));
                    } else {
                        f.broken = true;
                    }
                    f.noticed_ms = f.noticed_ms.max(gap_ms);
                }
            }
            packets.push(PacketRecord {
                seq: packets.len() as u64,
                frame: frame_index,
                send_ms,
                bytes: size,
                fate,
                propagation_ms,
            });
        }
        // 5. Receiver (once the frame's fate is known, in order): loss -> key-frame request;
        // decode, buffer, render.
        in_flight.push_back(f);
        side.take_ready(&mut in_flight, trace);
    }
    // Retransmissions still due at the end never arrive.
    for mut f in in_flight {
        if f.rtx_left > 0 {
            f.broken = true;
        }
        side.receive(f, trace);
    }
    let ReceiverSide { mut rx, frames, .. } = side;
    rx.finish(cfg.duration_ms);
    Ok(SessionLog {
        trace: trace.name.clone(),
        family: trace.family.clone(),
        split: trace.split,
        controller: controller.name(),
        duration_ms: cfg.duration_ms,
        packets,
        frames,
        freezes: rx.freezes,
        frozen_ms: rx.frozen_ms,
        rendered: rx.frames,
        decisions,
        max_queue_packets: link.max_queue_packets,
        capacity_bytes: trace.capacity_bytes_between(0.0, cfg.duration_ms),
    })
}

/// The receiver and what it decided: the frames in capture order and the key-frame request.
struct ReceiverSide {
    rx: Receiver,
    frames: Vec<FrameRecord>,
    /// Asked for a key frame, none arrived yet.
    waiting_for_key: bool,
    /// When the key-frame request (PLI) reaches the sender.
    key_request_at_ms: f64,
}

impl ReceiverSide {
    /// Hands a frame whose fate is known to the receiver: a broken frame (a packet lost for
    /// good) makes the receiver ask for a key frame (once, until one arrives), rtt/2 after it
    /// noticed.
    fn receive(&mut self, f: InFlight, trace: &LinkTrace) {
        let key = f.record.key;
        let complete_ms = (!f.broken).then_some(f.last_arrival_ms);
        if complete_ms.is_none() && (!self.waiting_for_key || key) {
            self.waiting_for_key = true;
            let back_ms = trace.at(f.noticed_ms).rtt_ms / 2.0;
            self.key_request_at_ms = self.key_request_at_ms.min(f.noticed_ms + back_ms);
        }
        if key && complete_ms.is_some() {
            self.waiting_for_key = false;
        }
        let render_ms = self
            .rx
            .on_frame(f.record.capture_ms, complete_ms, key, f.quality);
        self.frames.push(FrameRecord {
            complete_ms,
            render_ms,
            ..f.record
        });
    }

    /// Hands over the frames at the head of `in_flight` that wait for no retransmission, in
    /// order.
    fn take_ready(
        &mut self,
        in_flight: &mut std::collections::VecDeque<InFlight>,
        trace: &LinkTrace,
    ) {
        while in_flight.front().is_some_and(|f| f.rtx_left == 0) {
            let f = in_flight.pop_front().expect("checked");
            self.receive(f, trace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::Fixed;

    /// NACK: with 5 % random loss on an ample link, retransmissions (an RTT of 40 ms, deadline
    /// 200 ms) recover almost every frame, so far fewer key frames and far less frozen time than
    /// with every loss costing a key frame; a deadline shorter than an RTT recovers nothing.
    #[test]
    fn nack_recovers_losses_that_would_cost_key_frames() {
        let trace = LinkTrace::constant(4000.0, 40.0, 10_000.0).unwrap();
        let run = |nack: Option<f64>| {
            let cfg = RtConfig {
                duration_ms: 20_000.0,
                link: LinkConfig {
                    extra_loss: 0.05,
                    ..Default::default()
                },
                nack_deadline_ms: nack,
                ..Default::default()
            };
            run_session(&trace, &cfg, &mut Fixed::new(1e6)).unwrap()
        };
        let (without, with, late) = (run(None), run(Some(200.0)), run(Some(30.0)));
        let keys = |l: &SessionLog| l.frames.iter().filter(|f| f.key).count();
        let broken = |l: &SessionLog| l.frames.iter().filter(|f| f.complete_ms.is_none()).count();
        assert_eq!(with.frames.len(), without.frames.len());
        assert!(
            broken(&with) * 10 < broken(&without).max(1),
            "{} vs {}",
            broken(&with),
            broken(&without)
        );
        assert!(
            keys(&with) * 3 < keys(&without),
            "{} vs {} key frames",
            keys(&with),
            keys(&without)
        );
        assert!(
            with.frozen_ms < without.frozen_ms / 2.0,
            "{} vs {}",
            with.frozen_ms,
            without.frozen_ms
        );
        // A recovered frame completes about an RTT late: its arrival is after the rtx.
        let recovered = with
            .frames
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                f.complete_ms.is_some()
                    && with
                        .packets
                        .iter()
                        .any(|p| p.frame == *i && p.arrival_ms().is_none())
            })
            .map(|(_, f)| f.complete_ms.unwrap() - f.capture_ms)
            .collect::<Vec<_>>();
        assert!(recovered.len() > 20, "{} frames recovered", recovered.len());
        assert!(
            recovered.iter().all(|d| (60.0..=200.0).contains(d)),
            "{recovered:?}"
        );
        // Packets stay in send order (the link is fed in time order).
        assert!(with
            .packets
            .windows(2)
            .all(|w| w[0].send_ms <= w[1].send_ms));
        // Too short a deadline: no retransmission at all, the same session as without NACK.
        assert_eq!(late.packets, without.packets);
        assert_eq!(late.rendered, without.rendered);
    }

    /// A fixed controller that keeps what `on_displayed` hands it, with the time of the report
    /// that follows.
    struct Watching {
        inner: Fixed,
        pending: Vec<RenderedFrame>,
        seen: Vec<(f64, RenderedFrame)>,
    }

    impl Controller for Watching {
        fn name(&self) -> String {
            self.inner.name()
        }
        fn start(&mut self, fps: u32) -> Decision {
            self.inner.start(fps)
        }
        fn on_displayed(&mut self, frames: &[RenderedFrame]) {
            self.pending.extend_from_slice(frames);
        }
        fn on_feedback(&mut self, fb: &Feedback) -> Decision {
            self.seen
                .extend(self.pending.drain(..).map(|f| (fb.now_ms, f)));
            self.inner.on_feedback(fb)
        }
    }

    #[test]
    fn each_displayed_frame_is_handed_over_once_after_its_display() {
        let trace = LinkTrace::constant(4000.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 5_000.0,
            ..Default::default()
        };
        let mut c = Watching {
            inner: Fixed::new(1e6),
            pending: Vec::new(),
            seen: Vec::new(),
        };
        let log = run_session(&trace, &cfg, &mut c).unwrap();
        assert!(c.seen.len() > 200, "{}", c.seen.len());
        // In display order, the same frames the log keeps, each once ...
        let frames: Vec<RenderedFrame> = c.seen.iter().map(|s| s.1).collect();
        assert_eq!(frames[..], log.rendered[..frames.len()]);
        // ... and never before it was shown (the report is cut after it, and travels rtt/2).
        assert!(c
            .seen
            .iter()
            .all(|(now, f)| f.render_ms + 20.0 <= *now + 1e-9));
    }

    #[test]
    fn fixed_rate_below_capacity_renders_every_frame_quickly() {
        let trace = LinkTrace::constant(4000.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 20_000.0,
            ..Default::default()
        };
        let log = run_session(&trace, &cfg, &mut Fixed::new(1e6)).unwrap();
        assert_eq!(log.frames.len(), 1200);
        assert_eq!(log.rendered.len(), 1200);
        assert_eq!(log.frames.iter().filter(|f| f.key).count(), 1);
        assert_eq!(log.freezes, 0);
        let worst = log
            .rendered
            .iter()
            .map(|f| f.render_ms - f.capture_ms)
            .fold(0.0, f64::max);
        // Propagation 20 ms + pacing and serialisation of at most a (burst) frame.
        assert!(worst < 200.0, "{worst}");
        // About 50 ms of decisions.
        assert!(
            (395..=401).contains(&log.decisions.len()),
            "{}",
            log.decisions.len()
        );
    }

    #[test]
    fn fixed_rate_above_capacity_fills_the_queue_and_freezes() {
        let trace = LinkTrace::constant(500.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 20_000.0,
            ..Default::default()
        };
        let log = run_session(&trace, &cfg, &mut Fixed::new(2e6)).unwrap();
        assert_eq!(log.max_queue_packets, 50);
        assert!(log.packets.iter().any(|p| p.fate == Fate::QueueDrop));
        assert!(log.freezes > 0 && log.frozen_ms > 5000.0);
        // Key frames follow losses.
        assert!(log.frames.iter().filter(|f| f.key).count() > 3);
    }

    /// WebRTC's congestion window on a link that stops for 1.5 s every 5 s: without it the
    /// sender pours 90 frames' packets into the 50-packet queue, which drops them and costs key
    /// frames; with it the pacer stops once target x (RTT + 350 ms) is in flight, the encoder drops
    /// the frames captured meanwhile, and nothing is lost. Bytes in flight never exceed the window
    /// by more than a packet.
    #[test]
    fn congestion_window_stops_the_pacer_in_an_outage_instead_of_overflowing_the_queue() {
        let steps: Vec<(f64, f64, f64, f64)> = (0..4)
            .flat_map(|_| [(3500.0, 2000.0, 0.0, 40.0), (1500.0, 0.0, 0.0, 40.0)])
            .collect();
        let trace = LinkTrace::from_steps("outages", "synthetic", &steps).unwrap();
        let run = |cwnd_queue_ms| {
            let cfg = RtConfig {
                duration_ms: 20_000.0,
                cwnd_queue_ms,
                ..Default::default()
            };
            // 1 Mbit/s is on the ladder's 60 fps rung.
            run_session(&trace, &cfg, &mut Fixed::new(1e6)).unwrap()
        };
        let (open, windowed) = (run(None), run(Some(350.0)));
        let drops = |l: &SessionLog| {
            l.packets
                .iter()
                .filter(|p| p.fate == Fate::QueueDrop)
                .count()
        };
        let keys = |l: &SessionLog| l.frames.iter().filter(|f| f.key).count();
        assert!(drops(&open) > 20, "{}", drops(&open));
        assert_eq!(drops(&windowed), 0);
        assert!(
            keys(&windowed) < keys(&open),
            "{} vs {}",
            keys(&windowed),
            keys(&open)
        );
        assert!(windowed.frames.len() < open.frames.len());
        // In flight at each send: packets sent before it whose feedback (the next 50 ms report
        // cut after every packet up to it was seen, plus rtt/2) had not come back.
        let window_bytes = 1e6 / 8000.0 * (40.0 + 350.0);
        let mut seen_ms = 0.0_f64;
        let back: Vec<f64> = windowed
            .packets
            .iter()
            .map(|p| {
                seen_ms = seen_ms.max(p.arrival_ms().unwrap_or(p.send_ms + p.propagation_ms));
                (seen_ms / 50.0).ceil() * 50.0 + 20.0
            })
            .collect();
        for (i, p) in windowed.packets.iter().enumerate() {
            let in_flight: u32 = windowed.packets[..i]
                .iter()
                .zip(&back)
                .filter(|(_, &b)| b > p.send_ms)
                .map(|(q, _)| q.bytes)
                .sum();
            assert!(
                in_flight as f64 <= window_bytes,
                "packet {i}: {in_flight} bytes in flight"
            );
        }
    }

    #[test]
    fn thirty_fps_decision_halves_the_frames() {
        let trace = LinkTrace::constant(4000.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 10_000.0,
            ..Default::default()
        };
        // 500 kbit/s is on the ladder's 30 fps rung.
        let log = run_session(&trace, &cfg, &mut Fixed::new(5e5)).unwrap();
        assert_eq!(log.frames.len(), 300);
    }

    #[test]
    fn same_seed_same_session() {
        let trace = LinkTrace::constant(1500.0, 60.0, 7_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 10_000.0,
            link: LinkConfig {
                extra_loss: 0.02,
                ..Default::default()
            },
            ..Default::default()
        };
        let a = run_session(&trace, &cfg, &mut Fixed::new(1.2e6)).unwrap();
        let b = run_session(&trace, &cfg, &mut Fixed::new(1.2e6)).unwrap();
        assert_eq!(a.packets, b.packets);
        assert_eq!(a.rendered, b.rendered);
        let c = run_session(
            &trace,
            &RtConfig {
                seed: 2,
                ..cfg.clone()
            },
            &mut Fixed::new(1.2e6),
        )
        .unwrap();
        assert_ne!(a.packets, c.packets);
    }

    #[test]
    fn bad_config_names_the_field() {
        let trace = LinkTrace::constant(1500.0, 60.0, 7_000.0).unwrap();
        let cfg = RtConfig {
            source_fps: 25,
            ..Default::default()
        };
        let e = run_session(&trace, &cfg, &mut Fixed::new(1e6)).unwrap_err();
        assert!(e.to_string().contains("source_fps = 25"), "{e}");
        let cfg = RtConfig {
            cwnd_queue_ms: Some(f64::NAN),
            ..Default::default()
        };
        let e = run_session(&trace, &cfg, &mut Fixed::new(1e6)).unwrap_err();
        assert!(e.to_string().contains("cwnd_queue_ms"), "{e}");
    }
}
