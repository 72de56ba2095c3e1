//! The receiver: frame assembly, decodability, a jitter buffer, rendering and WebRTC's freeze rule.
//!
//! * **Assembly.** A frame is complete when its last packet arrives; a frame with a lost packet is
//!   undecodable, and so is every later frame until a key frame completes (no NACK retransmission:
//!   the sender learns of the loss and sends a key frame, see [`crate::sim`]).
//! * **Jitter buffer.** RFC 3550-style jitter `J += (|ΔT| - J) / 16` over the transit times (capture
//!   to completion) of consecutive decodable frames; a frame is held `min(3 J, 500 ms)` after it
//!   completes and frames render in order: `render = max(complete + hold, previous render)`.
//! * **Freeze rule** (`AlphaRTC:video/video_quality_observer.cc`): once at least 5 frames have
//!   rendered, a render interval of at least `max(3 x avg, avg + 150 ms)` (avg over the last 30
//!   intervals) is a freeze lasting the whole interval. At the end of the session a trailing gap is
//!   judged the same way; a session that renders nothing is frozen throughout. [`FreezeRule`] is
//!   the rule alone, which the learned controller's reward applies to the frames it is told of.

use std::collections::VecDeque;

/// Frames in the freeze rule's moving average.
pub const FREEZE_AVG_FRAMES: usize = 30;
/// Frames that must have rendered before freezes are counted.
pub const FREEZE_MIN_FRAMES: usize = 5;
/// Additive term of the freeze threshold, ms.
pub const FREEZE_EXTRA_MS: f64 = 150.0;
/// Multiplicative term of the freeze threshold.
pub const FREEZE_FACTOR: f64 = 3.0;
/// Jitter-buffer hold in multiples of the jitter estimate.
pub const JITTER_HOLD_FACTOR: f64 = 3.0;
/// Largest jitter-buffer hold, ms.
pub const MAX_JITTER_HOLD_MS: f64 = 500.0;

/// One rendered frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderedFrame {
    /// Capture time, ms.
    pub capture_ms: f64,
    /// Display time, ms.
    pub render_ms: f64,
    /// Time held in the jitter buffer (render minus completion), ms.
    pub jitter_buffer_ms: f64,
    /// Opinion-model quality of the frame (1..5).
    pub quality: f64,
}

/// WebRTC's freeze rule over a stream of render times: the one copy the receiver scores with and
/// the learned controller's reward charges ([`crate::dqn::Tracker::on_displayed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreezeRule {
    last_render_ms: Option<f64>,
    intervals: VecDeque<f64>,
    interval_sum: f64,
    rendered: usize,
}

impl FreezeRule {
    /// A rule that has seen no frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next render time (never before the previous one); returns the render interval
    /// ending at it, ms, if that interval is a freeze.
    pub fn on_render(&mut self, render_ms: f64) -> Option<f64> {
        let mut frozen = None;
        if let Some(prev) = self.last_render_ms {
            let interval = render_ms - prev;
            if self.is_freeze(interval) {
                frozen = Some(interval);
            }
            self.intervals.push_back(interval);
            self.interval_sum += interval;
            if self.intervals.len() > FREEZE_AVG_FRAMES {
                self.interval_sum -= self.intervals.pop_front().unwrap_or(0.0);
            }
        }
        self.rendered += 1;
        self.last_render_ms = Some(render_ms);
        frozen
    }

    /// The last render time, ms (`None` before the first frame).
    pub fn last_render_ms(&self) -> Option<f64> {
        self.last_render_ms
    }

    /// Whether a render interval of `interval_ms` after the frames seen so far is a freeze.
    pub fn is_freeze(&self, interval_ms: f64) -> bool {
        if self.rendered < FREEZE_MIN_FRAMES || self.intervals.is_empty() {
            return false;
        }
        let avg = self.interval_sum / self.intervals.len() as f64;
        interval_ms >= (FREEZE_FACTOR * avg).max(avg + FREEZE_EXTRA_MS)
    }
}

/// The receiver's state.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    broken: bool,
    jitter_ms: f64,
    last_transit_ms: Option<f64>,
    freeze_rule: FreezeRule,
    /// Rendered frames in order.
    pub frames: Vec<RenderedFrame>,
    /// Number of freezes.
    pub freezes: usize,
    /// Total frozen time, ms.
    pub frozen_ms: f64,
    /// Frames that arrived complete but could not be decoded (waiting for a key frame).
    pub undecodable: usize,
}

impl Receiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next frame in capture order: `complete_ms` is `None` if a packet was lost.
    /// Returns the render time if the frame is shown.
    pub fn on_frame(
        &mut self,
        capture_ms: f64,
        complete_ms: Option<f64>,
        key: bool,
        quality: f64,
    ) -> Option<f64> {
        let Some(complete) = complete_ms else {
            self.broken = true;
            return None;
        };
        if key {
            self.broken = false;
        } else if self.broken {
            self.undecodable += 1;
            return None;
        }
        let transit = complete - capture_ms;
        if let Some(prev) = self.last_transit_ms {
            self.jitter_ms += ((transit - prev).abs() - self.jitter_ms) / 16.0;
        }
        self.last_transit_ms = Some(transit);
        let hold = (JITTER_HOLD_FACTOR * self.jitter_ms).min(MAX_JITTER_HOLD_MS);
        let render = match self.freeze_rule.last_render_ms() {
            Some(prev) => (complete + hold).max(prev),
            None => complete + hold,
        };
        if let Some(interval) = self.freeze_rule.on_render(render) {
            self.freezes += 1;
            self.frozen_ms += interval;
        }
        self.frames.push(RenderedFrame {
            capture_ms,
            render_ms: render,
            jitter_buffer_ms: render - complete,
            quality,
        });
        Some(render)
    }

    /// Closes the session at `end_ms` (judging the trailing gap) and returns the frozen time.
    pub fn finish(&mut self, end_ms: f64) -> f64 {
        match self.freeze_rule.last_render_ms() {
            None => {
                self.freezes += 1;
                self.frozen_ms = end_ms;
            }
            Some(last) => {
                let gap = end_ms - last;
                if gap > 0.0 && self.freeze_rule.is_freeze(gap) {
                    self.freezes += 1;
                    self.frozen_ms += gap;
                }
            }
        }
        self.frozen_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(rx: &mut Receiver, from: usize, to: usize, transit: f64) {
        for i in from..to {
            let c = i as f64 * 1000.0 / 60.0;
            rx.on_frame(c, Some(c + transit), i == 0, 4.0);
        }
    }

    #[test]
    fn a_long_gap_is_a_freeze_and_a_short_one_is_not() {
        let mut rx = Receiver::new();
        steady(&mut rx, 0, 60, 50.0);
        assert_eq!(rx.freezes, 0);
        // Frames 60..72 are late by 200 ms: the gap before frame 60 is 16.7 + 200 ms plus the
        // jitter buffer's new hold (3 x 200 / 16 = 37.5 ms), >= 16.7 + 150.
        for i in 60..72 {
            let c = i as f64 * 1000.0 / 60.0;
            rx.on_frame(c, Some(c + 250.0), false, 4.0);
        }
        assert_eq!(rx.freezes, 1);
        assert!((rx.frozen_ms - 254.2).abs() < 0.1, "{}", rx.frozen_ms);
    }

    #[test]
    fn loss_breaks_decoding_until_a_key_frame() {
        let mut rx = Receiver::new();
        steady(&mut rx, 0, 10, 30.0);
        assert_eq!(rx.on_frame(200.0, None, false, 4.0), None);
        assert_eq!(rx.on_frame(216.0, Some(250.0), false, 4.0), None);
        assert_eq!(rx.undecodable, 1);
        assert!(rx.on_frame(233.0, Some(270.0), true, 4.0).is_some());
    }

    #[test]
    fn nothing_rendered_is_frozen_throughout_and_trailing_gap_counts() {
        let mut rx = Receiver::new();
        assert_eq!(rx.finish(5000.0), 5000.0);
        let mut rx = Receiver::new();
        steady(&mut rx, 0, 60, 20.0);
        let last = rx.frames.last().unwrap().render_ms;
        rx.finish(last + 1000.0);
        assert_eq!(rx.freezes, 1);
        assert!((rx.frozen_ms - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn jitter_buffer_holds_when_transit_varies() {
        let mut rx = Receiver::new();
        for i in 0..100 {
            let c = i as f64 * 1000.0 / 60.0;
            let transit = if i % 2 == 0 { 20.0 } else { 60.0 };
            rx.on_frame(c, Some(c + transit), i == 0, 4.0);
        }
        let jb = rx.frames.last().unwrap().jitter_buffer_ms;
        assert!(jb > 50.0, "{jb}");
        // Render times never go back.
        assert!(rx
            .frames
            .windows(2)
            .all(|w| w[1].render_ms >= w[0].render_ms));
    }
}
