//! The bottleneck: a trace-driven link with a FIFO drop-tail queue, random loss and propagation
//! delay, as `tc netem rate C delay rtt/2 loss L% limit 50` (onl-emu) or `mm-link` + `mm-delay` +
//! `mm-loss` (Mahimahi) build it.
//!
//! A packet offered at time `t` is first subject to random loss (the segment's loss plus
//! [`LinkConfig::extra_loss`], as netem drops at enqueue); then it is dropped if the queue is full
//! (drop-tail, [`QueueLimit`]); otherwise it joins the FIFO and leaves when the link has carried its
//! bytes: service starts at `max(t, previous departure)` and consumes the trace's capacity
//! (`kbit/s / 8` bytes per ms, fluid within a segment; capacity 0 means it waits). It then arrives
//! `rtt/2` later. Because the queue is FIFO and offers come in time order, departures are
//! non-decreasing and the delivery loop below walks the trace forward only: this is the one place
//! the real-time simulator turns capacity into time.

use crate::trace::LinkTrace;
use neuralstream_core::Rng;
use std::collections::VecDeque;

/// Size limit of the drop-tail queue (the packet in service counts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueueLimit {
    /// At most this many packets (onl-emu's netem `limit 50`).
    Packets(usize),
    /// At most the bytes the link carries in this many ms at the current capacity, and at least one
    /// 1500-byte packet (AlphaRTC gym's `max(MTU, bps x 300 ms / 8)`).
    Ms(f64),
}

/// Bottleneck settings beyond the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Drop-tail queue size. Default 50 packets.
    pub queue: QueueLimit,
    /// Random loss added to the trace's, in [0, 1]. Default 0.
    pub extra_loss: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            queue: QueueLimit::Packets(50),
            extra_loss: 0.0,
        }
    }
}

/// What happened to one packet on the link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    /// Carried: left the queue at `departure_ms`, reached the receiver at `arrival_ms`.
    Delivered {
        /// When its last byte left the bottleneck.
        departure_ms: f64,
        /// When it reached the receiver (departure + rtt/2).
        arrival_ms: f64,
    },
    /// Dropped because the queue was full.
    QueueDrop,
    /// Lost at random.
    RandomLoss,
}

/// The bottleneck's state while a session runs.
#[derive(Debug, Clone)]
pub struct Bottleneck<'t> {
    trace: &'t LinkTrace,
    config: LinkConfig,
    /// Departure times and sizes of the packets still in the queue (in service included).
    queue: VecDeque<(f64, u32)>,
    queued_bytes: u64,
    /// When the last queued packet leaves (service of the next starts no earlier).
    busy_until_ms: f64,
    /// Delivery cursor: segment index and loop number of `busy_until_ms`.
    seg: usize,
    loop_start_ms: f64,
    rng: Rng,
    /// Largest queue length seen, packets (for tests and reports).
    pub max_queue_packets: usize,
}

impl<'t> Bottleneck<'t> {
    /// A fresh, empty link over `trace`; random loss draws from `rng`.
    pub fn new(trace: &'t LinkTrace, config: LinkConfig, rng: Rng) -> Self {
        Bottleneck {
            trace,
            config,
            queue: VecDeque::new(),
            queued_bytes: 0,
            busy_until_ms: 0.0,
            seg: 0,
            loop_start_ms: 0.0,
            rng,
            max_queue_packets: 0,
        }
    }

    /// Packets in the queue at `t_ms` (call with non-decreasing times).
    pub fn queue_len_at(&mut self, t_ms: f64) -> usize {
        self.drain(t_ms);
        self.queue.len()
    }

    fn drain(&mut self, t_ms: f64) {
        while let Some(&(dep, bytes)) = self.queue.front() {
            if dep > t_ms {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes -= bytes as u64;
        }
    }

    /// Offers a packet of `bytes` at `t_ms` (offers must come in non-decreasing time order).
    pub fn offer(&mut self, t_ms: f64, bytes: u32) -> Fate {
        self.drain(t_ms);
        let seg = self.trace.at(t_ms);
        let loss = (seg.loss + self.config.extra_loss).min(1.0);
        if loss > 0.0 && self.rng.uniform() < loss {
            return Fate::RandomLoss;
        }
        let full = match self.config.queue {
            QueueLimit::Packets(n) => self.queue.len() >= n,
            QueueLimit::Ms(ms) => {
                let limit = (seg.capacity_kbps / 8.0 * ms).max(1500.0);
                (self.queued_bytes + bytes as u64) as f64 > limit
            }
        };
        if full {
            return Fate::QueueDrop;
        }
        let start = t_ms.max(self.busy_until_ms);
        let departure_ms = self.serve(start, bytes as f64);
        self.busy_until_ms = departure_ms;
        self.queue.push_back((departure_ms, bytes));
        self.queued_bytes += bytes as u64;
        self.max_queue_packets = self.max_queue_packets.max(self.queue.len());
        let arrival_ms = departure_ms + self.trace.at(departure_ms).rtt_ms / 2.0;
        Fate::Delivered {
            departure_ms,
            arrival_ms,
        }
    }

    /// The delivery loop: when `bytes` starting service at `start_ms` have been carried. Walks the
    /// trace's segments forward from the cursor (start times never decrease), looping at its end.
    /// Terminates because a trace's mean capacity is at least 1 kbit/s (checked at load).
    fn serve(&mut self, start_ms: f64, mut bytes: f64) -> f64 {
        let segments = self.trace.segments();
        let period = self.trace.duration_ms();
        // Move the cursor to the segment holding start_ms.
        while start_ms >= self.loop_start_ms + segments[self.seg].end_ms {
            self.seg += 1;
            if self.seg == segments.len() {
                self.seg = 0;
                self.loop_start_ms += period;
            }
        }
        let mut t = start_ms;
        loop {
            let s = &segments[self.seg];
            let end = self.loop_start_ms + s.end_ms;
            let rate = s.capacity_kbps / 8.0; // bytes per ms
            if rate > 0.0 {
                let can = rate * (end - t);
                if can >= bytes {
                    return t + bytes / rate;
                }
                bytes -= can;
            }
            t = end;
            self.seg += 1;
            if self.seg == segments.len() {
                self.seg = 0;
                self.loop_start_ms += period;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_at_capacity_and_adds_half_rtt() {
        // 1200 kbit/s = 150 bytes/ms: a 1200-byte packet takes 8 ms.
        let trace = LinkTrace::constant(1200.0, 40.0, 1000.0).unwrap();
        let mut link = Bottleneck::new(&trace, LinkConfig::default(), Rng::new(1));
        let a = link.offer(0.0, 1200);
        let b = link.offer(1.0, 1200);
        assert_eq!(
            a,
            Fate::Delivered {
                departure_ms: 8.0,
                arrival_ms: 28.0
            }
        );
        assert_eq!(
            b,
            Fate::Delivered {
                departure_ms: 16.0,
                arrival_ms: 36.0
            }
        );
        assert_eq!(link.queue_len_at(10.0), 1);
        assert_eq!(link.queue_len_at(16.0), 0);
    }

    #[test]
    fn zero_capacity_waits_and_drop_tail_drops() {
        // 100 ms of nothing, then 1200 kbit/s.
        let trace = LinkTrace::from_steps(
            "t",
            "synthetic",
            &[(100.0, 0.0, 0.0, 0.0), (100.0, 1200.0, 0.0, 0.0)],
        )
        .unwrap();
        let cfg = LinkConfig {
            queue: QueueLimit::Packets(2),
            extra_loss: 0.0,
        };
        let mut link = Bottleneck::new(&trace, cfg, Rng::new(1));
        assert_eq!(
            link.offer(0.0, 1200),
            Fate::Delivered {
                departure_ms: 108.0,
                arrival_ms: 108.0
            }
        );
        assert!(matches!(link.offer(1.0, 1200), Fate::Delivered { .. }));
        assert_eq!(link.offer(2.0, 1200), Fate::QueueDrop);
        // The trace loops: at 200 ms the link is off again until 300 ms.
        let mut l2 = Bottleneck::new(&trace, LinkConfig::default(), Rng::new(1));
        assert_eq!(
            l2.offer(199.0, 1200),
            Fate::Delivered {
                departure_ms: 307.0,
                arrival_ms: 307.0
            }
        );
    }

    #[test]
    fn queue_in_ms_scales_with_capacity() {
        let trace = LinkTrace::constant(1200.0, 0.0, 1000.0).unwrap(); // 150 B/ms
        let cfg = LinkConfig {
            queue: QueueLimit::Ms(20.0), // 3000 bytes: two 1200-byte packets
            extra_loss: 0.0,
        };
        let mut link = Bottleneck::new(&trace, cfg, Rng::new(1));
        assert!(matches!(link.offer(0.0, 1200), Fate::Delivered { .. }));
        assert!(matches!(link.offer(0.0, 1200), Fate::Delivered { .. }));
        assert_eq!(link.offer(0.0, 1200), Fate::QueueDrop);
    }

    #[test]
    fn random_loss_follows_the_probability() {
        let trace = LinkTrace::constant(100_000.0, 0.0, 1000.0).unwrap();
        let cfg = LinkConfig {
            queue: QueueLimit::Packets(100_000),
            extra_loss: 0.1,
        };
        let mut link = Bottleneck::new(&trace, cfg, Rng::new(3));
        let lost = (0..10_000)
            .filter(|i| link.offer(*i as f64, 100) == Fate::RandomLoss)
            .count();
        assert!((850..1150).contains(&lost), "{lost}");
    }
}
