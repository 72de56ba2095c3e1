//! WebRTC's congestion window (GoogCC, `GoogCcNetworkController::UpdateCongestionWindowSize` and
//! the pacer's congestion check): the sender keeps the bytes *in flight* (sent, their transport
//! feedback not yet back) under `target x (RTT + queue_ms)` (`queue_ms`: GoogCC's accepted queue,
//! 350 ms; at least two full packets). While the window is full the pacer sends nothing and the
//! encoder drops the frames it captures, so a link that stops (an LTE outage) is not fed a queue's
//! worth of frames it will drop; what waits, waits at the sender, and a frame dropped costs no key
//! frame.
//!
//! The simulator resolves each packet's path when it is paced, so each packet's feedback time is
//! known at once: the first report cut (every `feedback_interval_ms`, receiver clock) at or after
//! the packet and every packet before it were seen (arrived, or noticed lost), plus the report's
//! way back (rtt/2). Reports list packets in order, so these times never decrease.

use crate::trace::LinkTrace;
use std::collections::VecDeque;

/// GoogCC's accepted queue time added to the RTT in the window, ms.
pub const DEFAULT_QUEUE_MS: f64 = 350.0;
/// Smallest window, bytes (two full-size packets, as GoogCC's minimum).
pub const MIN_WINDOW_BYTES: f64 = 3000.0;

/// The sender's bytes in flight and when their feedback comes back.
#[derive(Debug, Clone, Default)]
pub struct CongestionWindow {
    queue_ms: f64,
    /// `(feedback back at the sender, bytes)` of the packets in flight, in send order.
    outstanding: VecDeque<(f64, u32)>,
    in_flight_bytes: u64,
    /// Latest time a packet sent so far was seen by the receiver, ms.
    seen_ms: f64,
    /// Feedback time of the last packet sent, ms.
    back_ms: f64,
    /// The window holds the pacer until then, ms.
    held_until_ms: f64,
}

impl CongestionWindow {
    /// A window of `target x (RTT + queue_ms)`.
    pub fn new(queue_ms: f64) -> Self {
        CongestionWindow {
            queue_ms,
            held_until_ms: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    /// The window at `target_bps` with round trip `rtt_ms`, bytes.
    pub fn window_bytes(&self, target_bps: f64, rtt_ms: f64) -> f64 {
        (target_bps / 8000.0 * (rtt_ms + self.queue_ms)).max(MIN_WINDOW_BYTES)
    }

    /// Bytes in flight at `at_ms` (feedback back by then is counted off).
    pub fn in_flight_bytes(&mut self, at_ms: f64) -> u64 {
        while let Some(&(back_ms, bytes)) = self.outstanding.front() {
            if back_ms > at_ms {
                break;
            }
            self.in_flight_bytes -= bytes as u64;
            self.outstanding.pop_front();
        }
        self.in_flight_bytes
    }

    /// True when nothing more may be sent at `at_ms`.
    pub fn is_full(&mut self, at_ms: f64, target_bps: f64, rtt_ms: f64) -> bool {
        let window = self.window_bytes(target_bps, rtt_ms);
        self.in_flight_bytes(at_ms) as f64 >= window
    }

    /// Whether the window holds the pacer at `at_ms` (a packet waits for feedback): the encoder
    /// drops the frames captured then.
    pub fn holds_pacer_at(&self, at_ms: f64) -> bool {
        at_ms < self.held_until_ms
    }

    /// The earliest time at or after `at_ms` at which a packet of `bytes` fits in the window at
    /// `target_bps` and `trace`'s RTT: `at_ms` itself, or the time enough feedback has come back
    /// (until which the window holds the pacer).
    pub fn earliest_send_ms(
        &mut self,
        at_ms: f64,
        bytes: u32,
        target_bps: f64,
        trace: &LinkTrace,
    ) -> f64 {
        let window = self.window_bytes(target_bps, trace.at(at_ms).rtt_ms);
        let mut t = at_ms;
        self.in_flight_bytes(t);
        while (self.in_flight_bytes + bytes as u64) as f64 > window {
            let Some((back_ms, b)) = self.outstanding.pop_front() else {
                break;
            };
            t = t.max(back_ms);
            self.in_flight_bytes -= b as u64;
        }
        if t > at_ms {
            self.held_until_ms = t;
        }
        t
    }

    /// Records a packet of `bytes` sent, which the receiver sees (arrival, or loss noticed) at
    /// `seen_ms`; reports are cut every `interval_ms` and come back in rtt/2 of `trace`.
    pub fn on_sent(&mut self, seen_ms: f64, bytes: u32, interval_ms: f64, trace: &LinkTrace) {
        self.seen_ms = self.seen_ms.max(seen_ms);
        let cut_ms = ((self.seen_ms / interval_ms).ceil() * interval_ms).max(interval_ms);
        let back_ms = cut_ms + trace.at(cut_ms).rtt_ms / 2.0;
        self.back_ms = self.back_ms.max(back_ms);
        self.outstanding.push_back((self.back_ms, bytes));
        self.in_flight_bytes += bytes as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fills_and_feedback_opens_it() {
        let trace = LinkTrace::constant(1000.0, 40.0, 10_000.0).unwrap();
        let mut w = CongestionWindow::new(DEFAULT_QUEUE_MS);
        // 240 kbit/s x (40 + 350) ms = 11,700 bytes: nine 1200-byte packets fit, the tenth not.
        assert!((w.window_bytes(240e3, 40.0) - 11_700.0).abs() < 1e-9);
        for i in 0..9 {
            let t = i as f64;
            assert_eq!(w.earliest_send_ms(t, 1200, 240e3, &trace), t);
            // Seen at 60 ms: in the report cut at 100 ms, back at 120 ms.
            w.on_sent(60.0, 1200, 50.0, &trace);
        }
        assert!(!w.is_full(10.0, 240e3, 40.0));
        assert_eq!(w.in_flight_bytes(10.0), 10_800);
        assert!(!w.holds_pacer_at(10.0));
        // The tenth waits for the feedback (120 ms), which frees the whole window; the pacer is
        // held until then.
        assert_eq!(w.earliest_send_ms(10.0, 1200, 240e3, &trace), 120.0);
        assert!(w.holds_pacer_at(119.0) && !w.holds_pacer_at(120.0));
        assert_eq!(w.in_flight_bytes(120.0), 0);
        // The smallest window still lets two packets through.
        assert_eq!(w.window_bytes(1.0, 0.0), MIN_WINDOW_BYTES);
    }
}
