//! GCC on a link whose capacity steps down 4x: queueing delay must come back under 100 ms within
//! a few seconds (issue 18's bar), whatever the capacity, RTT, frame rate and seed.
//!
//! The queue is AlphaRTC gym's, sized in time (capacity x 300 ms), and "queueing delay" is the
//! median over 500 ms windows of packets' arrival - send - propagation (one key frame at a low
//! rate alone exceeds 100 ms, which is the encoder's doing, not the controller's). With a queue
//! sized in packets the drain takes at least `queue / (0.15 x capacity)` after GCC's cut to 0.85 x
//! the received rate (8 s for a full 50-packet queue at 200 kbit/s; about 14 s in practice, as the
//! target creeps back up while it drains): GCC's known slowness, not a simulator artefact (the
//! ignored `show_one_step` test prints that case).

use neuralstream_rt::{run_session, Fate, Gcc, LinkConfig, LinkTrace, QueueLimit, RtConfig};
use proptest::prelude::*;

/// Median queueing delay (arrival - send - propagation) of the packets sent in `[from, to)`.
fn median_queueing_ms(log: &neuralstream_rt::SessionLog, from: f64, to: f64) -> Option<f64> {
    let mut q: Vec<f64> = log
        .packets
        .iter()
        .filter(|p| p.send_ms >= from && p.send_ms < to)
        .filter_map(|p| p.arrival_ms().map(|a| a - p.send_ms - p.propagation_ms))
        .collect();
    q.sort_by(f64::total_cmp);
    q.get(q.len() / 2).copied()
}

/// Time from `step_ms` to the start of the first full second, beginning at least 1 s after the
/// step (once the queue has built), whose two 500 ms windows both have a median queueing delay
/// under `bound_ms`; `None` if that never happens.
fn recovery_ms(log: &neuralstream_rt::SessionLog, step_ms: f64, bound_ms: f64) -> Option<f64> {
    let window_ms = 500.0;
    let mut t = step_ms + 1000.0;
    while t + 2.0 * window_ms <= log.duration_ms {
        let ok = |from: f64| {
            median_queueing_ms(log, from, from + window_ms).is_some_and(|m| m < bound_ms)
        };
        if ok(t) && ok(t + window_ms) {
            return Some(t - step_ms);
        }
        t += window_ms;
    }
    None
}

fn step_trace(high_kbps: f64, rtt_ms: f64, step_ms: f64, total_ms: f64) -> LinkTrace {
    LinkTrace::from_steps(
        "step",
        "synthetic",
        &[
            (step_ms, high_kbps, 0.0, rtt_ms),
            (total_ms - step_ms, high_kbps / 4.0, 0.0, rtt_ms),
        ],
    )
    .unwrap()
}

/// Time GCC may take to bring queueing delay back under 100 ms after the step, ms.
const RECOVERY_LIMIT_MS: f64 = 5000.0;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn queueing_delay_recovers_after_a_4x_step_down(
        high_kbps in 800.0..8000.0f64,
        rtt_ms in 10.0..150.0f64,
        fps in prop::sample::select(vec![30u32, 60]),
        seed in 0u64..1000,
    ) {
        let (step, total) = (45_000.0, 65_000.0);
        let trace = step_trace(high_kbps, rtt_ms, step, total);
        let cfg = RtConfig {
            duration_ms: total,
            source_fps: fps,
            seed,
            link: LinkConfig { queue: QueueLimit::Ms(300.0), extra_loss: 0.0 },
            ..Default::default()
        };
        let log = run_session(&trace, &cfg, &mut Gcc::default()).unwrap();
        // The queue did build up (the step is felt) ...
        let peak = median_queueing_ms(&log, step, step + 1000.0).unwrap_or(0.0);
        prop_assert!(peak > 100.0, "median queueing delay after the step only {peak} ms");
        // ... and GCC brings it back under 100 ms within a few seconds ...
        let recovery = recovery_ms(&log, step, 100.0);
        prop_assert!(
            recovery.is_some_and(|r| r <= RECOVERY_LIMIT_MS),
            "queueing delay back under 100 ms after {:?} ms", recovery
        );
        // ... and keeps it there on the whole.
        let after = median_queueing_ms(&log, step + RECOVERY_LIMIT_MS, total).unwrap_or(f64::INFINITY);
        prop_assert!(after < 100.0, "median queueing delay after recovery {after} ms");
    }
}

/// Prints GCC's second-by-second target and queueing delay around a step from 800 to 200 kbit/s
/// behind onl-emu's 50-packet queue (2.4 s deep at 200 kbit/s): the slow drain described above.
/// `cargo test --release -p neuralstream-rt --test gcc_step -- --ignored --nocapture`
#[test]
#[ignore]
fn show_one_step() {
    let (step, total) = (45_000.0, 65_000.0);
    let trace = step_trace(800.0, 10.0, step, total);
    let cfg = RtConfig {
        duration_ms: total,
        source_fps: 30,
        seed: 0,
        link: LinkConfig {
            queue: QueueLimit::Packets(50),
            extra_loss: 0.0,
        },
        ..Default::default()
    };
    let log = run_session(&trace, &cfg, &mut Gcc::default()).unwrap();
    for s in 38..65 {
        let t = s as f64 * 1000.0;
        let d = log
            .decisions
            .iter()
            .rfind(|d| d.at_ms <= t)
            .unwrap()
            .decision;
        let mut q: Vec<f64> = log
            .packets
            .iter()
            .filter(|p| p.send_ms >= t && p.send_ms < t + 1000.0)
            .filter_map(|p| p.arrival_ms().map(|a| a - p.send_ms - p.propagation_ms))
            .collect();
        q.sort_by(f64::total_cmp);
        let drops = log
            .packets
            .iter()
            .filter(|p| p.send_ms >= t && p.send_ms < t + 1000.0 && p.fate == Fate::QueueDrop)
            .count();
        let keys = log
            .frames
            .iter()
            .filter(|f| f.capture_ms >= t && f.capture_ms < t + 1000.0 && f.key)
            .count();
        println!(
            "{s:3} s target {:7.0} kbps {:?}@{} q50 {:6.1} max {:6.1} drops {drops} keys {keys}",
            d.target_bps / 1000.0,
            d.resolution,
            d.fps,
            q.get(q.len() / 2).unwrap_or(&0.0),
            q.last().unwrap_or(&0.0)
        );
    }
}
