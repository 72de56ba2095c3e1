//! Invariants of the real-time simulator over random traces, rates, queues, loss and seeds:
//! time only moves forward, bytes are conserved, the queue stays within its limit and the link
//! never carries more than its capacity.

use neuralstream_rt::{run_session, Fate, Fixed, LinkConfig, LinkTrace, QueueLimit, RtConfig};
use proptest::prelude::*;

fn trace_strategy() -> impl Strategy<Value = LinkTrace> {
    (
        prop::collection::vec((50.0..2000.0f64, 0.0..6000.0f64), 1..12),
        0.0..200.0f64,
        0.0..0.05f64,
    )
        .prop_map(|(steps, rtt, loss)| {
            let mut steps: Vec<(f64, f64, f64, f64)> =
                steps.into_iter().map(|(d, c)| (d, c, loss, rtt)).collect();
            // At least one step with capacity, so the trace is valid.
            steps.push((500.0, 1000.0, loss, rtt));
            LinkTrace::from_steps("prop", "synthetic", &steps).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn simulator_invariants(
        trace in trace_strategy(),
        target_kbps in 100.0..8000.0f64,
        queue_packets in 1usize..120,
        extra_loss in 0.0..0.05f64,
        fps in prop::sample::select(vec![30u32, 60]),
        seed in 0u64..1000,
    ) {
        let cfg = RtConfig {
            source_fps: fps,
            duration_ms: 6000.0,
            link: LinkConfig { queue: QueueLimit::Packets(queue_packets), extra_loss },
            seed,
            ..Default::default()
        };
        let log = run_session(&trace, &cfg, &mut Fixed::new(target_kbps * 1000.0)).unwrap();

        // Time is monotonic along every stream.
        for w in log.frames.windows(2) {
            prop_assert!(w[1].capture_ms > w[0].capture_ms);
        }
        let mut last_send = 0.0;
        let mut last_departure = 0.0;
        for p in &log.packets {
            prop_assert!(p.send_ms >= last_send);
            prop_assert!(p.send_ms >= log.frames[p.frame].capture_ms);
            last_send = p.send_ms;
            if let Fate::Delivered { departure_ms, arrival_ms } = p.fate {
                prop_assert!(departure_ms >= p.send_ms && departure_ms >= last_departure);
                prop_assert!((arrival_ms - departure_ms - p.propagation_ms).abs() < 1e-9);
                last_departure = departure_ms;
            }
        }
        for w in log.rendered.windows(2) {
            prop_assert!(w[1].render_ms >= w[0].render_ms);
        }
        for w in log.decisions.windows(2) {
            prop_assert!(w[1].at_ms > w[0].at_ms);
        }

        // Bytes are conserved: the packetizer carries every encoded byte, and at any time
        // sent = delivered + dropped + lost + in flight (queued or propagating).
        let encoded: f64 = log.frames.iter().map(|f| f.bytes).sum();
        prop_assert_eq!(encoded as u64, log.sent_bytes());
        for t in [500.0, 2000.0, 4000.0, 6000.0, 1e9] {
            let sent: u64 = log.packets.iter().filter(|p| p.send_ms <= t).map(|p| p.bytes as u64).sum();
            let dropped: u64 = log.packets.iter()
                .filter(|p| p.send_ms <= t && p.fate == Fate::QueueDrop).map(|p| p.bytes as u64).sum();
            let lost: u64 = log.packets.iter()
                .filter(|p| p.send_ms <= t && p.fate == Fate::RandomLoss).map(|p| p.bytes as u64).sum();
            let in_flight: u64 = log.packets.iter()
                .filter(|p| p.send_ms <= t && p.arrival_ms().is_some_and(|a| a > t))
                .map(|p| p.bytes as u64).sum();
            prop_assert_eq!(sent, log.delivered_bytes_by(t) + dropped + lost + in_flight);
            // The link never carries more than its capacity.
            let departed: f64 = log.packets.iter()
                .filter(|p| matches!(p.fate, Fate::Delivered { departure_ms, .. } if departure_ms <= t))
                .map(|p| p.bytes as f64).sum();
            prop_assert!(departed <= trace.capacity_bytes_between(0.0, t) + 1e-6);
        }

        // The queue is bounded, by the link's own count and by the log.
        prop_assert!(log.max_queue_packets <= queue_packets);
        let delivered: Vec<(f64, f64)> = log.packets.iter().filter_map(|p| match p.fate {
            Fate::Delivered { departure_ms, .. } => Some((p.send_ms, departure_ms)),
            _ => None,
        }).collect();
        for (i, &(send, _)) in delivered.iter().enumerate() {
            // Packets still queued when this one joined (it included).
            let queued = delivered[..=i].iter().filter(|&&(_, dep)| dep > send).count();
            prop_assert!(queued <= queue_packets, "{} > {}", queued, queue_packets);
        }
    }
}
