//! The network trace as a link: a cursor on the looping trace that turns payload bytes into trace
//! time ([`TraceLink::deliver`]) and moves on while nobody downloads ([`TraceLink::idle_ms`]).
//!
//! This is the one link model of NeuralStream. The simulator (`neuralstream_sim::Session::step`)
//! and the native player's trace-shaped downloads (`neuralstream_player::download`) both call it, so
//! a simulated chunk and a shaped real one agree on the link's share of every delay to the bit.
//!
//! It follows Pensieve's `fixed_env.py` / `env.py` (`../shared/reference/pensieve.md`, sections 3
//! and 4) operation for operation: sample `ptr` of the trace holds over `(time_s[ptr - 1],
//! time_s[ptr]]` (`mahimahi_ptr`), the clock `t_s` is inside that interval (`last_mahimahi_time`),
//! an interval carries `bandwidth_mbps x 10^6 / 8 x payload_fraction` payload bytes per second, and
//! at the trace's end the clock loops back to 0. Changing the order of a floating-point operation
//! here breaks the simulator's parity tests (`crates/sim/tests/pensieve_parity.rs`).
//!
//! ## Design
//!
//! Three pieces, so that one trace position serves every granularity:
//!
//! - [`TraceLink`]: what never changes during a session: the trace (borrowed by the simulator,
//!   shared through an `Arc` by the player's tasks: any `T: Borrow<Trace>`), the payload fraction
//!   and the stall guard's loop budget.
//! - [`LinkCursor`]: where on the trace the clock is. Plain `Copy` data, one per session or flow;
//!   cloning a simulator session clones it.
//! - [`DeliverySpent`]: what one download has used of the stall guard's allowance. A download
//!   delivered in pieces (the player's body frames) carries one across its pieces, so it is given up
//!   exactly when the simulator would give up the whole chunk.
//!
//! Every walk over the trace is a method of [`TraceLink`] that takes a `&mut LinkCursor`:
//!
//! - *chunk level* (fluid): [`TraceLink::deliver`] (bytes -> seconds) and [`TraceLink::idle_ms`]
//!   (time passes, nothing is sent);
//! - *packet level*, for the real-time simulator and the shared-link driver that come next:
//!   [`TraceLink::capacity_bytes`] (seconds -> the bytes the link could carry in them). An
//!   event-driven simulator advances the cursor from event to event with it and hands the bytes out
//!   as whole packets (e.g. 1500-byte opportunities, carrying the remainder to the next step), or
//!   splits them among the sessions sharing the link; the time one packet takes is `deliver(1500)`.
//!   Both granularities move the same cursor, so a simulator may mix them and a new one needs a new
//!   method here, never a new copy of the walk. `capacity_bytes` shares its walk with `idle_ms`.
//!
//! The stall guard ([`crate::limits::download_is_stalled`]) bounds `deliver`: a trace with (almost)
//! no capacity ends in [`LinkStalled`] instead of a hang. `idle_ms` and `capacity_bytes` skip whole
//! loops of the trace, so their walk is bounded by the trace's length.

use crate::limits::{download_is_stalled, DEFAULT_MAX_TRACE_LOOPS};
use crate::trace::Trace;
use std::borrow::Borrow;
use thiserror::Error;

/// Bits per byte and bits per Mbit: `bandwidth_mbps * MBIT_BITS / BYTE_BITS` is bytes per second.
const MBIT_BITS: f64 = 1_000_000.0;
/// Bits per byte.
const BYTE_BITS: f64 = 8.0;

/// A position on the (looping) trace: the sample whose interval the clock is in, and the clock.
///
/// Pensieve's `mahimahi_ptr` / `last_mahimahi_time`: sample `ptr`'s capacity holds over
/// `(time_s[ptr - 1], time_s[ptr]]` and the clock is inside that interval. Built by
/// [`TraceLink::start`], [`TraceLink::at_sample`] or [`TraceLink::cursor_at`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkCursor {
    ptr: usize,
    t_s: f64,
}

impl LinkCursor {
    /// Trace time of the cursor, seconds since the trace's start (within one loop).
    #[inline]
    pub fn trace_time_s(&self) -> f64 {
        self.t_s
    }
}

/// What one download has used of the stall guard's allowance across the pieces it was delivered
/// in (see [`TraceLink::deliver`]); start each download with `DeliverySpent::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliverySpent {
    /// Loops of the trace made.
    pub loops: usize,
    /// Trace time spent by the pieces delivered so far, seconds.
    pub trace_s: f64,
}

/// A download the link gave up on: it looped the trace more than the loop budget and spent a day
/// of trace time or walked 100 M trace intervals ([`crate::limits::download_is_stalled`]).
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("the link delivered too little in {trace_s:.0} s of trace time ({loops} loops of the trace); the trace has (almost) no capacity")]
pub struct LinkStalled {
    /// Loops of the trace the download made.
    pub loops: usize,
    /// Trace time the download spent, seconds.
    pub trace_s: f64,
}

/// A trace-driven link: capacity `bandwidth_mbps x payload_fraction` of payload, looping.
///
/// `T` is how the trace is held: `&Trace` in the simulator, `Arc<Trace>` in the player.
#[derive(Debug, Clone, Copy)]
pub struct TraceLink<T: Borrow<Trace>> {
    trace: T,
    payload_fraction: f64,
    max_trace_loops: usize,
}

impl<T: Borrow<Trace>> TraceLink<T> {
    /// A link following `trace`, of which `payload_fraction` (Pensieve: 0.95) carries payload, with
    /// the default loop budget [`DEFAULT_MAX_TRACE_LOOPS`].
    ///
    /// `payload_fraction` is the caller's to check (`SimConfig::validate`, `PlayerConfig::validate`
    /// refuse one below [`crate::limits::MIN_PAYLOAD_FRACTION`]); a zero or NaN one never delivers
    /// and ends in [`LinkStalled`], never in a hang or a panic.
    #[inline]
    pub fn new(trace: T, payload_fraction: f64) -> Self {
        TraceLink {
            trace,
            payload_fraction,
            max_trace_loops: DEFAULT_MAX_TRACE_LOOPS,
        }
    }

    /// The same link with another loop budget: loops of the trace one download makes before the
    /// stall guard may give up.
    #[inline]
    pub fn with_max_trace_loops(mut self, max_trace_loops: usize) -> Self {
        self.max_trace_loops = max_trace_loops;
        self
    }

    /// The trace.
    #[inline]
    pub fn trace(&self) -> &Trace {
        self.trace.borrow()
    }

    /// The fraction of capacity that carries payload.
    #[inline]
    pub fn payload_fraction(&self) -> f64 {
        self.payload_fraction
    }

    /// The trace's start (Pensieve's test-mode start).
    #[inline]
    pub fn start(&self) -> LinkCursor {
        LinkCursor { ptr: 1, t_s: 0.0 }
    }

    /// The start of sample `index`'s interval, clamped to `1..len` (Pensieve's training mode draws
    /// `index` uniformly from `1..len`): the clock at `time_s[index - 1]`.
    #[inline]
    pub fn at_sample(&self, index: usize) -> LinkCursor {
        let trace = self.trace();
        let ptr = index.clamp(1, trace.len() - 1);
        LinkCursor {
            ptr,
            t_s: trace.time_s[ptr - 1],
        }
    }

    /// The position at trace time `t_s` (looping; negative or NaN counts as 0), for a link whose
    /// clock is the wall clock.
    pub fn cursor_at(&self, t_s: f64) -> LinkCursor {
        let trace = self.trace();
        let t = &trace.time_s;
        let tt = t_s.max(0.0).rem_euclid(trace.duration_s());
        let ptr = t.partition_point(|&x| x <= tt).clamp(1, t.len() - 1);
        LinkCursor { ptr, t_s: tt }
    }

    /// Delivers `bytes` of payload from `cur`, advancing it; returns the trace time it took,
    /// seconds (Pensieve's download loop, in its order of operations).
    ///
    /// `spent` is what this download has used of the stall guard's allowance so far (a fresh
    /// `DeliverySpent::default()` for a download delivered in one piece); it is updated. On
    /// [`LinkStalled`] the cursor is left where the walk gave up. Zero bytes take the time to the
    /// next instant with capacity, as in Pensieve.
    #[inline]
    pub fn deliver(
        &self,
        cur: &mut LinkCursor,
        bytes: f64,
        spent: &mut DeliverySpent,
    ) -> Result<f64, LinkStalled> {
        let trace = self.trace();
        let t = &trace.time_s;
        let bw = &trace.bandwidth_mbps;
        let n = t.len();
        let payload = self.payload_fraction;
        // Locals instead of fields keep the loop in registers.
        let mut ptr = cur.ptr;
        let mut last_t = cur.t_s;
        let mut loops = spent.loops;
        let mut sent = 0.0f64;
        let mut delay_s = 0.0f64;
        loop {
            let (t_ptr, bw_ptr) = (t[ptr], bw[ptr]);
            let throughput = bw_ptr * MBIT_BITS / BYTE_BITS; // bytes per second
            let duration = t_ptr - last_t;
            let packet_payload = throughput * duration * payload;
            if sent + packet_payload > bytes {
                let fractional = (bytes - sent) / throughput / payload;
                delay_s += fractional;
                last_t += fractional;
                break;
            }
            sent += packet_payload;
            delay_s += duration;
            last_t = t_ptr;
            ptr += 1;
            if ptr >= n {
                ptr = 1;
                last_t = 0.0;
                loops += 1;
                // Each loop walks the trace's n - 1 intervals.
                let steps = loops as u64 * (n as u64 - 1);
                let trace_s = spent.trace_s + delay_s;
                if download_is_stalled(loops, self.max_trace_loops, trace_s, steps) {
                    *cur = LinkCursor { ptr, t_s: last_t };
                    spent.loops = loops;
                    spent.trace_s = trace_s;
                    return Err(LinkStalled { loops, trace_s });
                }
            }
        }
        *cur = LinkCursor { ptr, t_s: last_t };
        spent.loops = loops;
        spent.trace_s += delay_s;
        Ok(delay_s)
    }

    /// Advances `cur` by `ms` of idle time (the player sleeping with a full buffer); nothing is
    /// sent. Negative, NaN or infinite times advance nothing.
    #[inline]
    pub fn idle_ms(&self, cur: &mut LinkCursor, ms: f64) {
        self.walk_ms(cur, ms, |_, _| {});
    }

    /// Advances `cur` by `secs` of trace time and returns the payload bytes the link could carry
    /// in them: the packet-level view of the same link (see the module doc). Negative, NaN or
    /// infinite times advance nothing and carry 0 bytes.
    ///
    /// `deliver(b)` taking `d` seconds and `capacity_bytes(d)` returning `b` are the same walk
    /// read in the two directions (equal to rounding, from the same cursor).
    pub fn capacity_bytes(&self, cur: &mut LinkCursor, secs: f64) -> f64 {
        let rate = MBIT_BITS / BYTE_BITS * self.payload_fraction; // bytes per s per Mbit/s
        let mut mbit = 0.0f64; // Mbit/s x s walked, i.e. Mbit of raw capacity
        let skipped_loops = self.walk_ms(cur, secs * 1000.0, |bw_mbps, dur_s| {
            mbit += bw_mbps * dur_s;
        });
        if skipped_loops > 0.0 {
            let trace = self.trace();
            mbit += skipped_loops * trace.mean_mbps() * trace.duration_s();
        }
        mbit * rate
    }

    /// The idle walk (Pensieve's sleep loop, in ms as Pensieve has it): advances `cur` by `ms`,
    /// calling `visit(bandwidth_mbps, seconds)` for every piece of an interval it crosses; whole
    /// loops of a trace shorter than what is left are skipped (they change nothing) and their
    /// number returned.
    #[inline]
    fn walk_ms(&self, cur: &mut LinkCursor, ms: f64, mut visit: impl FnMut(f64, f64)) -> f64 {
        if !ms.is_finite() {
            return 0.0;
        }
        let trace = self.trace();
        let t = &trace.time_s;
        let bw = &trace.bandwidth_mbps;
        let n = t.len();
        let mut left_ms = ms.max(0.0);
        let mut skipped_loops = 0.0;
        loop {
            let duration = t[cur.ptr] - cur.t_s;
            if duration > left_ms / 1000.0 {
                visit(bw[cur.ptr], left_ms / 1000.0);
                cur.t_s += left_ms / 1000.0;
                return skipped_loops;
            }
            visit(bw[cur.ptr], duration);
            left_ms -= duration * 1000.0;
            cur.t_s = t[cur.ptr];
            cur.ptr += 1;
            if cur.ptr >= n {
                cur.ptr = 1;
                cur.t_s = 0.0;
                // Whole loops of a trace shorter than what is left change nothing: skip them
                // (bounds the walk for a long sleep over a short, dense trace).
                let loop_ms = trace.duration_s() * 1000.0;
                if left_ms >= loop_ms {
                    skipped_loops += (left_ms / loop_ms).floor();
                    left_ms %= loop_ms;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn trace() -> Trace {
        // 8 Mbit/s = 1 MB/s for 1 s, then nothing for 1 s, then 2 MB/s for 1 s.
        Trace::new("t", vec![0.0, 1.0, 2.0, 3.0], vec![9.0, 8.0, 0.0, 16.0]).unwrap()
    }

    fn fresh() -> DeliverySpent {
        DeliverySpent::default()
    }

    #[test]
    fn delivery_walks_intervals_and_loops() {
        let tr = trace();
        let l = TraceLink::new(&tr, 1.0);
        let mut c = l.start();
        let d = l.deliver(&mut c, 500_000.0, &mut fresh()).unwrap();
        assert!((d - 0.5).abs() < 1e-12);
        let d = l.deliver(&mut c, 1_500_000.0, &mut fresh()).unwrap();
        assert!((d - 2.0).abs() < 1e-12, "{d}");
        assert!((c.trace_time_s() - 2.5).abs() < 1e-12);
        // 1 MB left in the last interval, then the trace loops to its start.
        let d = l.deliver(&mut c, 1_500_000.0, &mut fresh()).unwrap();
        assert!((d - 1.0).abs() < 1e-12, "{d}");
        assert!((c.trace_time_s() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn payload_fraction_scales_the_capacity() {
        let tr = trace();
        let l = TraceLink::new(&tr, 0.5);
        let mut c = l.start();
        // Half of 1 MB/s carries payload: 250 kB take 0.5 s.
        let d = l.deliver(&mut c, 250_000.0, &mut fresh()).unwrap();
        assert!((d - 0.5).abs() < 1e-12, "{d}");
        assert!((l.capacity_bytes(&mut l.start(), 0.5) - 250_000.0).abs() < 1e-6);
    }

    #[test]
    fn split_delivery_equals_whole_delivery() {
        let tr = trace();
        let l = TraceLink::new(&tr, 1.0);
        let mut whole = l.start();
        let a = l.deliver(&mut whole, 2_345_678.0, &mut fresh()).unwrap();
        let mut parts = l.start();
        let mut spent = fresh();
        let mut b = 0.0;
        for _ in 0..100 {
            b += l.deliver(&mut parts, 23_456.78, &mut spent).unwrap();
        }
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        assert!((whole.trace_time_s() - parts.trace_time_s()).abs() < 1e-9);
        assert!((spent.trace_s - b).abs() < 1e-12);
    }

    #[test]
    fn idle_and_wall_positions() {
        let tr = trace();
        let l = TraceLink::new(&tr, 1.0);
        let mut c = l.start();
        l.idle_ms(&mut c, 2250.0);
        assert_eq!(c, l.cursor_at(2.25));
        assert_eq!(l.cursor_at(3.5), l.cursor_at(0.5));
        // Whole loops are skipped: 10 loops and 0.25 s land where 0.25 s does.
        let mut c = l.start();
        l.idle_ms(&mut c, 30_250.0);
        assert!((c.trace_time_s() - 0.25).abs() < 1e-9);
        let mut c = l.cursor_at(1.5);
        // From 1.5 s: nothing until 2 s, then 2 MB/s.
        let d = l.deliver(&mut c, 1_000_000.0, &mut fresh()).unwrap();
        assert!((d - 1.0).abs() < 1e-12, "{d}");
        // Nonsense idle times move nothing.
        let before = l.cursor_at(1.5);
        for ms in [-5.0, f64::NAN, f64::INFINITY] {
            let mut c = before;
            l.idle_ms(&mut c, ms);
            assert_eq!(c, before, "{ms}");
        }
    }

    #[test]
    fn sample_starts_clamp_to_the_trace() {
        let tr = trace();
        let l = TraceLink::new(&tr, 1.0);
        assert_eq!(l.at_sample(0), l.start());
        assert_eq!(l.at_sample(2).trace_time_s(), 1.0);
        assert_eq!(l.at_sample(99).trace_time_s(), 2.0);
    }

    #[test]
    fn capacity_counts_the_bytes_of_each_interval_and_of_skipped_loops() {
        let tr = trace();
        let l = TraceLink::new(&tr, 1.0);
        let mut c = l.start();
        assert!((l.capacity_bytes(&mut c, 0.5) - 500_000.0).abs() < 1e-6);
        // 0.5 s of 1 MB/s, 1 s of nothing, 0.5 s of 2 MB/s.
        assert!((l.capacity_bytes(&mut c, 2.0) - 1_500_000.0).abs() < 1e-6);
        assert!((c.trace_time_s() - 2.5).abs() < 1e-12);
        // A loop carries 3 MB: 0.5 s (1 MB), 10 skipped loops (30 MB), 0.5 s (0.5 MB).
        let b = l.capacity_bytes(&mut c, 31.0);
        assert!((b - 31_500_000.0).abs() < 1e-3, "{b}");
        assert!((c.trace_time_s() - 0.5).abs() < 1e-9);
        assert_eq!(l.capacity_bytes(&mut c, f64::NAN), 0.0);
    }

    #[test]
    fn a_dead_trace_is_an_error_not_a_hang() {
        let tr = Trace::new("dead", vec![0.0, 1.0, 2.0], vec![1.0, 1.0, 0.0]).unwrap();
        let l = TraceLink::new(&tr, 1.0);
        let mut c = l.start();
        let e = l.deliver(&mut c, 1e12, &mut fresh()).unwrap_err();
        // Past the loop budget, it gives up once a day of trace time (2 s a loop) has passed...
        assert_eq!(e.loops, 43_201);
        assert!(e.trace_s > crate::limits::STALL_GIVE_UP_S, "{e}");
        assert_eq!(
            c,
            l.start(),
            "left where the walk gave up: at a loop's start"
        );
        // ...and not before the loop budget is spent.
        let l = l.with_max_trace_loops(50_000);
        let e = l.deliver(&mut l.start(), 1e12, &mut fresh()).unwrap_err();
        assert_eq!(e.loops, 50_001);
        // A payload fraction of zero never delivers, and ends the same way.
        let l = TraceLink::new(&tr, 0.0);
        assert!(l.deliver(&mut l.start(), 1.0, &mut fresh()).is_err());
        // A millisecond-long trace is a constant link: a 2 MB chunk loops it 8,000 times and
        // arrives, as in the simulator.
        let short = Trace::new("1ms", vec![0.0, 0.001], vec![2.0, 2.0]).unwrap();
        let l = TraceLink::new(std::sync::Arc::new(short), 1.0);
        let mut c = l.start();
        let secs = l.deliver(&mut c, 2e6, &mut fresh()).unwrap();
        assert!((secs - 8.0).abs() < 1e-6, "{secs}");
    }

    #[test]
    fn one_allowance_spans_the_pieces_of_a_download() {
        // Two-thirds of a day's worth of loops in each of two pieces: neither alone is given up,
        // the download as a whole is, as it would be in one piece.
        let tr = Trace::new("slow", vec![0.0, 1.0, 2.0], vec![1.0, 1e-6, 0.0]).unwrap();
        let l = TraceLink::new(&tr, 1.0);
        let per_loop_bytes = 1e-6 * MBIT_BITS / BYTE_BITS;
        let piece = per_loop_bytes * 30_000.0;
        assert!(l.deliver(&mut l.start(), piece, &mut fresh()).is_ok());
        let mut c = l.start();
        let mut spent = fresh();
        l.deliver(&mut c, piece, &mut spent).unwrap();
        assert!(l.deliver(&mut c, piece, &mut spent).is_err());
    }

    fn arb_trace() -> impl Strategy<Value = Trace> {
        prop::collection::vec((0.05f64..3.0, 0.0f64..20.0), 1..12).prop_map(|steps| {
            let mut time_s = vec![0.0];
            let mut bw = vec![0.0];
            for (dt, b) in steps {
                time_s.push(time_s.last().unwrap() + dt);
                bw.push(b);
            }
            bw[1] += 0.5; // some capacity
            Trace::new("p", time_s, bw).unwrap()
        })
    }

    proptest! {
        /// Delivering `b` bytes takes `d` seconds exactly when the link can carry `b` bytes in
        /// `d` seconds, from the same cursor, and both walks end at the same trace time.
        #[test]
        fn deliver_and_capacity_are_inverse(
            tr in arb_trace(),
            start_frac in 0.0f64..1.0,
            bytes in 1.0f64..5e7,
            payload in 0.05f64..=1.0,
        ) {
            let l = TraceLink::new(&tr, payload);
            let c0 = l.cursor_at(start_frac * tr.duration_s());
            let mut a = c0;
            let delivered = l.deliver(&mut a, bytes, &mut fresh());
            // A trace slow enough to spend a day on the bytes is given up (tested above).
            prop_assume!(delivered.is_ok());
            let d = delivered.unwrap();
            let mut b = c0;
            let carried = l.capacity_bytes(&mut b, d);
            prop_assert!((carried - bytes).abs() <= 1e-6 * bytes + 1e-3, "{carried} vs {bytes}");
            let (ta, tb) = (a.trace_time_s(), b.trace_time_s());
            let loop_s = tr.duration_s();
            let gap = (ta - tb).abs();
            prop_assert!(gap.min(loop_s - gap) < 1e-6 * (1.0 + d), "{ta} vs {tb}");
        }

        /// Idling in two parts lands where idling at once does.
        #[test]
        fn idle_is_additive(tr in arb_trace(), a_ms in 0.0f64..20_000.0, b_ms in 0.0f64..20_000.0) {
            let l = TraceLink::new(&tr, 0.95);
            let mut once = l.start();
            l.idle_ms(&mut once, a_ms + b_ms);
            let mut twice = l.start();
            l.idle_ms(&mut twice, a_ms);
            l.idle_ms(&mut twice, b_ms);
            let loop_s = tr.duration_s();
            let gap = (once.trace_time_s() - twice.trace_time_s()).abs();
            prop_assert!(gap.min(loop_s - gap) < 1e-9);
        }
    }
}
