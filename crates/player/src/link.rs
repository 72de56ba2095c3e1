//! The network trace as a link: how long bytes take from a point of the trace, in the simulator's
//! arithmetic (`neuralstream_sim::Session::step`), so that a shaped real download and a simulated
//! one agree on the link's share of every delay.

use crate::error::PlayerError;
use neuralstream_core::Trace;
use std::sync::Arc;

/// A position on the (looping) trace: the sample whose interval the clock is in and the clock.
///
/// Same state as the simulator's `mahimahi_ptr` / `last_mahimahi_time`: sample `ptr`'s capacity
/// holds over `(time_s[ptr - 1], time_s[ptr]]`, and `last_t_s` is inside that interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkCursor {
    ptr: usize,
    last_t_s: f64,
}

impl LinkCursor {
    /// Trace time of the cursor, seconds since the trace's start (within one loop).
    pub fn trace_time_s(&self) -> f64 {
        self.last_t_s
    }
}

/// A trace-driven link: capacity `bandwidth_mbps x payload_fraction` of payload, looping.
#[derive(Debug, Clone)]
pub struct TraceLink {
    trace: Arc<Trace>,
    payload_fraction: f64,
}

impl TraceLink {
    /// A link following `trace`, of which `payload_fraction` (Pensieve: 0.95) carries payload.
    pub fn new(trace: Arc<Trace>, payload_fraction: f64) -> Self {
        TraceLink {
            trace,
            payload_fraction,
        }
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The trace's start (the simulator's test-mode start).
    pub fn start(&self) -> LinkCursor {
        LinkCursor {
            ptr: 1,
            last_t_s: 0.0,
        }
    }

    /// The position at trace time `t_s` (looping), for a link whose clock is the wall clock.
    pub fn cursor_at(&self, t_s: f64) -> LinkCursor {
        let t = &self.trace.time_s;
        let tt = t_s.max(0.0).rem_euclid(self.trace.duration_s());
        let ptr = t.partition_point(|&x| x <= tt).clamp(1, t.len() - 1);
        LinkCursor { ptr, last_t_s: tt }
    }

    /// Delivers `bytes` of payload from `cur`, advancing it; returns the trace time it took, seconds.
    ///
    /// `spent` is what the request has used of the stall guard's allowance so far: one request's
    /// frames share one, so `play` gives up on a chunk exactly when the simulator would, however
    /// the server splits the body. `chunk` only names the chunk in the error.
    pub fn deliver(
        &self,
        cur: &mut LinkCursor,
        bytes: f64,
        chunk: usize,
        spent: &mut DeliverySpent,
    ) -> Result<f64, PlayerError> {
        let t = &self.trace.time_s;
        let bw = &self.trace.bandwidth_mbps;
        let n = t.len();
        let mut sent = 0.0f64;
        let mut delay_s = 0.0f64;
        if bytes <= 0.0 {
            return Ok(0.0);
        }
        loop {
            let throughput = bw[cur.ptr] * 1_000_000.0 / 8.0;
            let duration = t[cur.ptr] - cur.last_t_s;
            let packet_payload = throughput * duration * self.payload_fraction;
            if sent + packet_payload > bytes {
                let fractional = (bytes - sent) / throughput / self.payload_fraction;
                delay_s += fractional;
                cur.last_t_s += fractional;
                spent.trace_s += delay_s;
                return Ok(delay_s);
            }
            sent += packet_payload;
            delay_s += duration;
            cur.last_t_s = t[cur.ptr];
            cur.ptr += 1;
            if cur.ptr >= n {
                cur.ptr = 1;
                cur.last_t_s = 0.0;
                spent.loops += 1;
                let steps = spent.loops as u64 * (n as u64 - 1);
                if neuralstream_core::download_is_stalled(
                    spent.loops,
                    neuralstream_core::DEFAULT_MAX_TRACE_LOOPS,
                    spent.trace_s + delay_s,
                    steps,
                ) {
                    return Err(PlayerError::Stalled {
                        trace: self.trace.name.clone(),
                        chunk,
                        loops: spent.loops,
                    });
                }
            }
        }
    }

    /// Advances `cur` by `secs` of idle time (the player sleeping with a full buffer).
    pub fn idle(&self, cur: &mut LinkCursor, secs: f64) {
        let t = &self.trace.time_s;
        let n = t.len();
        let mut left_ms = secs.max(0.0) * 1000.0;
        loop {
            let duration = t[cur.ptr] - cur.last_t_s;
            if duration > left_ms / 1000.0 {
                cur.last_t_s += left_ms / 1000.0;
                return;
            }
            left_ms -= duration * 1000.0;
            cur.last_t_s = t[cur.ptr];
            cur.ptr += 1;
            if cur.ptr >= n {
                cur.ptr = 1;
                cur.last_t_s = 0.0;
                // Whole loops change nothing: skip them, as the simulator does.
                let loop_ms = self.trace.duration_s() * 1000.0;
                if left_ms >= loop_ms {
                    left_ms %= loop_ms;
                }
            }
        }
    }
}

/// What one request has used of the stall guard's allowance across its frames (see
/// [`TraceLink::deliver`]); start each request with `DeliverySpent::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliverySpent {
    /// Loops of the trace made.
    pub loops: usize,
    /// Trace time spent by the frames delivered so far, seconds.
    pub trace_s: f64,
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
