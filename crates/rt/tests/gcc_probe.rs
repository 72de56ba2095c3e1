//! GCC's start-up probing (WebRTC's `probe_controller.cc`): on a fast link the first probes raise
//! the estimate within about a second; on a link with no headroom they do not.

use neuralstream_rt::{run_session, Gcc, LinkConfig, LinkTrace, QueueLimit, RtConfig, SessionLog};

fn session(capacity_kbps: f64, fps: u32, seed: u64, gcc: &mut Gcc) -> SessionLog {
    let trace = LinkTrace::constant(capacity_kbps, 40.0, 10_000.0).unwrap();
    let cfg = RtConfig {
        duration_ms: 10_000.0,
        source_fps: fps,
        seed,
        link: LinkConfig {
            queue: QueueLimit::Ms(300.0),
            extra_loss: 0.0,
        },
        ..Default::default()
    };
    run_session(&trace, &cfg, gcc).unwrap()
}

/// GCC's estimate near `t_ms`, read from the session's decisions: the lowest target in
/// `[t_ms - 200, t_ms]` (a probe cluster lasts 100 ms, so the window holds at least one decision
/// that is the estimate itself).
fn target_near(log: &SessionLog, t_ms: f64) -> f64 {
    log.decisions
        .iter()
        .filter(|d| d.at_ms <= t_ms && d.at_ms >= t_ms - 200.0)
        .map(|d| d.decision.target_bps)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn probe_on_a_fast_link_raises_the_estimate_within_a_second() {
    for (fps, seed) in [(60, 1), (30, 2), (60, 3)] {
        let mut gcc = Gcc::default();
        let log = session(5000.0, fps, seed, &mut gcc);
        let with = target_near(&log, 1000.0);
        let mut plain = Gcc::without_probing(300_000.0);
        let without = target_near(&session(5000.0, fps, seed, &mut plain), 1000.0);
        eprintln!(
            "fps {fps}: at 1 s with probing {with:.0} bit/s, without {without:.0}; results {:?}",
            gcc.prober.results
        );
        assert!(with >= 900_000.0, "fps {fps}: {with} bit/s at 1 s");
        assert!(without < 400_000.0, "fps {fps}: {without}");
    }
}

#[test]
fn probe_without_headroom_does_not_raise_the_estimate() {
    for (fps, seed) in [(60, 1), (30, 2)] {
        let mut gcc = Gcc::default();
        let log = session(300.0, fps, seed, &mut gcc);
        eprintln!("fps {fps}: results {:?}", gcc.prober.results);
        for (t, r) in &gcc.prober.results {
            assert!(
                r.bps < 330_000.0,
                "fps {fps}: probe at {t} ms found {r:?} on a 300 kbit/s link"
            );
        }
        let max_after = log
            .decisions
            .iter()
            .filter(|d| d.at_ms > 1000.0 && d.at_ms < 3000.0)
            .map(|d| d.decision.target_bps)
            .fold(0.0, f64::max);
        assert!(
            max_after <= 330_000.0,
            "fps {fps}: target {max_after} bit/s after the probes"
        );
    }
}

/// Prints GCC's target once a second on a Mahimahi LTE trace with and without probing (needs
/// `../shared`): `cargo test --release -p neuralstream-rt --test gcc_probe -- --ignored --nocapture`.
#[test]
#[ignore]
fn show_mahimahi_session() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/rtc/mahimahi/ATT-LTE-driving-2016.down");
    let Ok(trace) = neuralstream_rt::read_trace(&path, Default::default()) else {
        eprintln!("skipped: {} not readable", path.display());
        return;
    };
    let cfg = RtConfig {
        duration_ms: 30_000.0,
        ..Default::default()
    };
    let mut gcc = Gcc::default();
    let log = run_session(&trace, &cfg, &mut gcc).unwrap();
    for d in log.decisions.iter().step_by(10) {
        let cap = trace.capacity_bytes_between(d.at_ms, d.at_ms + 500.0) * 8.0 / 500.0;
        eprintln!(
            "{:7.0} ms target {:6.0} kbit/s capacity(next 500 ms) {:6.0} kbit/s",
            d.at_ms,
            d.decision.target_bps / 1000.0,
            cap
        );
    }
    eprintln!("probe results {:?}", gcc.prober.results);
}
