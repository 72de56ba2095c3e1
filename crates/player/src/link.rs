//! The network trace as a link for trace-shaped downloads: core's one link model
//! ([`neuralstream_core::link`], the arithmetic `neuralstream_sim::Session::step` runs), so that a
//! shaped real download and a simulated one agree on the link's share of every delay to the bit.
//!
//! This module only adapts it to the player: the trace is shared (`Arc`) with the fleet's tasks,
//! time is in seconds, and a link that gives up names the trace and the chunk in a
//! [`PlayerError`].

use crate::error::PlayerError;
use neuralstream_core::Trace;
use std::sync::Arc;

pub use neuralstream_core::link::{DeliverySpent, LinkCursor};

/// A trace-driven link: capacity `bandwidth_mbps x payload_fraction` of payload, looping, with
/// the simulator's default loop budget ([`neuralstream_core::DEFAULT_MAX_TRACE_LOOPS`]).
#[derive(Debug, Clone)]
pub struct TraceLink {
    link: neuralstream_core::TraceLink<Arc<Trace>>,
}

impl TraceLink {
    /// A link following `trace`, of which `payload_fraction` (Pensieve: 0.95) carries payload.
    pub fn new(trace: Arc<Trace>, payload_fraction: f64) -> Self {
        TraceLink {
            link: neuralstream_core::TraceLink::new(trace, payload_fraction),
        }
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        self.link.trace()
    }

    /// The trace's start (the simulator's test-mode start).
    pub fn start(&self) -> LinkCursor {
        self.link.start()
    }

    /// The position at trace time `t_s` (looping), for a link whose clock is the wall clock.
    pub fn cursor_at(&self, t_s: f64) -> LinkCursor {
        self.link.cursor_at(t_s)
    }

    /// Delivers `bytes` of payload from `cur`, advancing it; returns the trace time it took, seconds.
    ///
    /// `spent` is what the request has used of the stall guard's allowance so far: one request's
    /// frames share one, so `play` gives up on a chunk exactly when the simulator would, however
    /// the server splits the body. `chunk` only names the chunk in the error. An empty frame takes
    /// no time.
    pub fn deliver(
        &self,
        cur: &mut LinkCursor,
        bytes: f64,
        chunk: usize,
        spent: &mut DeliverySpent,
    ) -> Result<f64, PlayerError> {
        if bytes <= 0.0 {
            return Ok(0.0);
        }
        self.link
            .deliver(cur, bytes, spent)
            .map_err(|e| PlayerError::Stalled {
                trace: self.trace().name.clone(),
                chunk,
                loops: e.loops,
            })
    }

    /// Advances `cur` by `secs` of idle time (the player sleeping with a full buffer).
    pub fn idle(&self, cur: &mut LinkCursor, secs: f64) {
        self.link.idle_ms(cur, secs * 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> TraceLink {
        let trace = Trace::new("t", vec![0.0, 1.0, 2.0, 3.0], vec![9.0, 8.0, 0.0, 16.0]).unwrap();
        TraceLink::new(Arc::new(trace), 1.0)
    }

    #[test]
    fn delivery_walks_intervals_and_loops() {
        let l = link();
        let mut c = l.start();
        // 8 Mbit/s = 1 MB/s for 1 s, then nothing for 1 s, then 2 MB/s.
        let d = l
            .deliver(&mut c, 500_000.0, 0, &mut DeliverySpent::default())
            .unwrap();
        assert!((d - 0.5).abs() < 1e-12);
        let d = l
            .deliver(&mut c, 1_500_000.0, 0, &mut DeliverySpent::default())
            .unwrap();
        assert!((d - 2.0).abs() < 1e-12, "{d}");
        assert!((c.trace_time_s() - 2.5).abs() < 1e-12);
        // 1 MB left in the last interval, then the trace loops to its start.
        let d = l
            .deliver(&mut c, 1_500_000.0, 0, &mut DeliverySpent::default())
            .unwrap();
        assert!((d - 1.0).abs() < 1e-12, "{d}");
        assert!((c.trace_time_s() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn split_delivery_equals_whole_delivery() {
        let l = link();
        let mut whole = l.start();
        let a = l
            .deliver(&mut whole, 2_345_678.0, 0, &mut DeliverySpent::default())
            .unwrap();
        let mut parts = l.start();
        let mut b = 0.0;
        for _ in 0..100 {
            b += l
                .deliver(&mut parts, 23_456.78, 0, &mut DeliverySpent::default())
                .unwrap();
        }
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        assert!((whole.trace_time_s() - parts.trace_time_s()).abs() < 1e-9);
    }

    #[test]
    fn idle_and_wall_positions() {
        let l = link();
        let mut c = l.start();
        l.idle(&mut c, 2.25);
        assert_eq!(c, l.cursor_at(2.25));
        assert_eq!(l.cursor_at(3.5), l.cursor_at(0.5));
        let mut c = l.cursor_at(1.5);
        // From 1.5 s: nothing until 2 s, then 2 MB/s.
        let d = l
            .deliver(&mut c, 1_000_000.0, 0, &mut DeliverySpent::default())
            .unwrap();
        assert!((d - 1.0).abs() < 1e-12, "{d}");
    }

    #[test]
    fn a_dead_trace_is_an_error_not_a_hang() {
        let trace = Trace::new("dead", vec![0.0, 1.0, 2.0], vec![1.0, 1.0, 0.0]).unwrap();
        let l = TraceLink::new(Arc::new(trace), 1.0);
        let mut c = l.start();
        assert!(l
            .deliver(&mut c, 1e12, 3, &mut DeliverySpent::default())
            .is_err());
        // A millisecond-long trace is a constant link: a 2 MB chunk loops it 8,000 times and
        // arrives, as in the simulator.
        let short = Trace::new("1ms", vec![0.0, 0.001], vec![2.0, 2.0]).unwrap();
        let l = TraceLink::new(Arc::new(short), 1.0);
        let mut c = l.start();
        let secs = l
            .deliver(&mut c, 2e6, 0, &mut DeliverySpent::default())
            .unwrap();
        assert!((secs - 8.0).abs() < 1e-6, "{secs}");
    }
}
