//! The controller interface (feedback in; target bitrate, resolution and fps out), the
//! resolution/fps ladder, and the two simple controllers: a fixed bitrate and an oracle that reads
//! the trace ahead. GCC lives in [`crate::gcc`].

use crate::receiver::RenderedFrame;
use crate::trace::LinkTrace;

/// Encoded picture size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Resolution {
    /// 854 x 480.
    P480,
    /// 1280 x 720.
    P720,
    /// 1920 x 1080.
    P1080,
}

impl Resolution {
    /// Pixels per frame.
    pub fn pixels(self) -> f64 {
        match self {
            Resolution::P480 => 854.0 * 480.0,
            Resolution::P720 => 1280.0 * 720.0,
            Resolution::P1080 => 1920.0 * 1080.0,
        }
    }

    /// Picture height, the usual name (480, 720, 1080).
    pub fn height(self) -> u32 {
        match self {
            Resolution::P480 => 480,
            Resolution::P720 => 720,
            Resolution::P1080 => 1080,
        }
    }
}

/// What a controller asks of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Decision {
    /// Encoder target bitrate, bit/s (the pacer sends at 2.5 x this).
    pub target_bps: f64,
    /// Picture size; a change forces a key frame.
    pub resolution: Resolution,
    /// Frames per second, at most the source's (30 or 60).
    pub fps: u32,
}

/// One packet's fate as the receiver reports it (transport-wide congestion control style).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketReport {
    /// Transport-wide sequence number (send order).
    pub seq: u64,
    /// Sender's send time, ms.
    pub send_ms: f64,
    /// Receiver's arrival time, ms (same clock; only differences matter to GCC); `None`: lost.
    pub arrival_ms: Option<f64>,
    /// Packet size, bytes.
    pub bytes: u32,
}

/// One feedback message, as the sender receives it every 50 ms.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    /// When the sender receives it, ms.
    pub now_ms: f64,
    /// Packets the receiver accounted for since the previous report, in sequence order.
    pub packets: Vec<PacketReport>,
    /// Round-trip time measured from the newest reported packet, ms (`None` if none arrived).
    pub rtt_ms: Option<f64>,
}

/// A rate controller: called once at the start and once per feedback message.
pub trait Controller {
    /// Name used in result tables.
    fn name(&self) -> String;
    /// The decision before any feedback; `source_fps` is the capture rate (30 or 60).
    fn start(&mut self, source_fps: u32) -> Decision;
    /// The decision after one feedback message.
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision;
    /// The controller's own estimate of the link's capacity after its latest decision, kbit/s:
    /// the rate it computes before mapping it to a resolution and fps (GCC's delay- and
    /// loss-based estimate, the learned controller's throughput estimate, the oracle's coming
    /// capacity). `None` (the default): it keeps none (the fixed bitrate).
    fn estimate_kbps(&self) -> Option<f64> {
        None
    }
    /// The frames the receiver displayed since the previous feedback message, in display order;
    /// the simulator calls it just before each [`Controller::on_feedback`]. Senders that report
    /// the receiver's frame delay (`rt client`) keep them; the default ignores them.
    fn on_displayed(&mut self, _frames: &[RenderedFrame]) {}
}

/// Maps a target bitrate to a resolution and fps, like WebRTC's *balanced* degradation preference:
/// frame rate drops first at the top, resolution at the bottom. Rungs are `(min_kbps, resolution,
/// fps)`; moving up a rung needs [`Ladder::up_margin`] x its threshold, so a target hovering at a
/// boundary does not flap (every resolution change costs a key frame).
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// Rungs in increasing `min_kbps`; the first starts at 0.
    pub rungs: Vec<(f64, Resolution, u32)>,
    /// Factor over a rung's threshold needed to climb to it. Default 1.15.
    pub up_margin: f64,
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder {
            rungs: vec![
                (0.0, Resolution::P480, 30),
                (700.0, Resolution::P480, 60),
                (1_200.0, Resolution::P720, 30),
                (2_000.0, Resolution::P720, 60),
                (4_000.0, Resolution::P1080, 30),
                (6_000.0, Resolution::P1080, 60),
            ],
            up_margin: 1.15,
        }
    }
}

impl Ladder {
    /// The rung for `target_bps` given the current rung index (hysteresis), fps capped at
    /// `source_fps`. Returns the new rung index and the decision.
    pub fn choose(&self, target_bps: f64, current: usize, source_fps: u32) -> (usize, Decision) {
        let kbps = target_bps / 1000.0;
        let mut idx = 0;
        for (i, &(min_kbps, _, _)) in self.rungs.iter().enumerate() {
            let need = if i > current {
                min_kbps * self.up_margin
            } else {
                min_kbps
            };
            if kbps >= need {
                idx = i;
            }
        }
        let (_, resolution, fps) = self.rungs[idx];
        (
            idx,
            Decision {
                target_bps,
                resolution,
                fps: fps.min(source_fps),
            },
        )
    }
}

/// A controller's place on a [`Ladder`]: the ladder, the current rung (for hysteresis) and the
/// source's frame rate. Controllers that only choose a bitrate hold one and call
/// [`LadderPosition::decide`].
#[derive(Debug, Clone, PartialEq)]
pub struct LadderPosition {
    /// The ladder.
    pub ladder: Ladder,
    rung: usize,
    source_fps: u32,
}

impl Default for LadderPosition {
    fn default() -> Self {
        LadderPosition {
            ladder: Ladder::default(),
            rung: 0,
            source_fps: 60,
        }
    }
}

impl LadderPosition {
    /// Sets the source's frame rate (call from [`Controller::start`]).
    pub fn set_source_fps(&mut self, fps: u32) {
        self.source_fps = fps;
    }

    /// The decision for `target_bps`, moving the rung with hysteresis.
    pub fn decide(&mut self, target_bps: f64) -> Decision {
        let (rung, d) = self.ladder.choose(target_bps, self.rung, self.source_fps);
        self.rung = rung;
        d
    }
}

/// The fixed-bitrate baseline: always the same target, resolution and fps from the ladder.
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The target, bit/s.
    pub target_bps: f64,
    decision: Option<Decision>,
}

impl Fixed {
    /// A fixed controller at `target_bps`.
    pub fn new(target_bps: f64) -> Self {
        Fixed {
            target_bps,
            decision: None,
        }
    }
}

impl Controller for Fixed {
    fn name(&self) -> String {
        format!("fixed:{}", (self.target_bps / 1000.0).round())
    }
    fn start(&mut self, source_fps: u32) -> Decision {
        let d = Ladder::default().choose(self.target_bps, 0, source_fps).1;
        self.decision = Some(d);
        d
    }
    fn on_feedback(&mut self, _feedback: &Feedback) -> Decision {
        self.decision.expect("start is called first")
    }
}

/// The oracle: reads the trace ahead and targets a share of the capacity to come, the upper
/// reference as the offline optimum is for ABR (a strong heuristic, not a proven bound). Target =
/// [`Oracle::share`] x the smaller of the mean capacity over the next 200 ms and the next 1 s
/// (so it steps down before a drop, not after), capped at the encoder's maximum by the simulator.
#[derive(Debug, Clone)]
pub struct Oracle {
    trace: LinkTrace,
    /// Share of the coming capacity to target. Default 0.9 (headroom for encoder overshoot).
    pub share: f64,
    position: LadderPosition,
    coming_kbps: Option<f64>,
}

impl Oracle {
    /// An oracle that knows `trace` (the one the session replays).
    pub fn new(trace: LinkTrace) -> Self {
        Oracle {
            trace,
            share: 0.9,
            position: LadderPosition::default(),
            coming_kbps: None,
        }
    }

    fn decide(&mut self, now_ms: f64) -> Decision {
        let mean_kbps =
            |span: f64| self.trace.capacity_bytes_between(now_ms, now_ms + span) * 8.0 / span;
        let coming_kbps = mean_kbps(200.0).min(mean_kbps(1000.0));
        self.coming_kbps = Some(coming_kbps);
        let target_bps = self.share * coming_kbps * 1000.0;
        self.position.decide(target_bps)
    }
}

impl Controller for Oracle {
    fn name(&self) -> String {
        "oracle".into()
    }
    fn start(&mut self, source_fps: u32) -> Decision {
        self.position.set_source_fps(source_fps);
        self.decide(0.0)
    }
    fn on_feedback(&mut self, feedback: &Feedback) -> Decision {
        self.decide(feedback.now_ms)
    }
    fn estimate_kbps(&self) -> Option<f64> {
        self.coming_kbps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_climbs_with_margin_and_caps_fps() {
        let l = Ladder::default();
        assert_eq!(l.choose(300e3, 0, 60).1.resolution, Resolution::P480);
        // 1.25 Mbps is above 1.2 but below 1.2 x 1.15: stays on rung 1 when coming from below.
        let (i, d) = l.choose(1.25e6, 1, 60);
        assert_eq!((i, d.resolution, d.fps), (1, Resolution::P480, 60));
        // ... but keeps rung 2 when already there.
        assert_eq!(l.choose(1.25e6, 2, 60).0, 2);
        let d = l.choose(10e6, 0, 30).1;
        assert_eq!((d.resolution, d.fps), (Resolution::P1080, 30));
    }

    #[test]
    fn oracle_steps_down_before_a_drop() {
        let t = LinkTrace::from_steps(
            "s",
            "synthetic",
            &[(1000.0, 4000.0, 0.0, 20.0), (1000.0, 1000.0, 0.0, 20.0)],
        )
        .unwrap();
        let mut o = Oracle::new(t);
        let early = o.start(60).target_bps;
        let fb = Feedback {
            now_ms: 900.0,
            ..Default::default()
        };
        let late = o.on_feedback(&fb).target_bps;
        assert!((early - 3.6e6).abs() < 1.0, "{early}");
        assert!(late < early * 0.7, "{late}");
        // Its estimate is the capacity it read ahead, before the 0.9 share.
        let est = o.estimate_kbps().unwrap();
        assert!((est * 900.0 - late).abs() < 1.0, "{est} {late}");
        assert_eq!(Fixed::new(800e3).estimate_kbps(), None);
    }
}
