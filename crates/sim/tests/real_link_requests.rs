//! The real link's request model (`SimConfig::rtt_advances_trace`, `init_segment_bytes`): a case
//! computed by hand, and properties on random traces (time monotonic, bytes conserved, the options
//! off or on a constant link changing nothing they should not).

use neuralstream_core::{Ladder, Rng, Trace, Video};
use neuralstream_sim::{run_session, Session, SessionLog, SimConfig, StartPosition};
use proptest::prelude::*;

#[path = "support/random.rs"]
mod random;
use random::{capacity_bytes, trace_strategy, video_strategy, RandomAbr};

/// 8 Mbit/s over (0, 1] s and 16 Mbit/s over (1, 2] s, looping: 1 MB/s then 2 MB/s of payload.
fn two_step_trace() -> Trace {
    Trace::new("two-step", vec![0.0, 1.0, 2.0], vec![8.0, 8.0, 16.0]).unwrap()
}

/// Two levels of 4 s chunks: 1 MB at level 0, 2 MB at level 1.
fn two_level_video() -> Video {
    Video::new(
        "v",
        4.0,
        Ladder::from_kbps(&[2000.0, 4000.0]),
        vec![vec![1_000_000; 3], vec![2_000_000; 3]],
        vec![],
    )
    .unwrap()
}

fn config(rtt_ms: f64) -> SimConfig {
    SimConfig {
        rtt_ms,
        payload_fraction: 1.0,
        startup_level: None,
        max_chunks: None,
        ..SimConfig::pensieve()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn hand_computed_round_trips_and_init_segments() {
    let (trace, video) = (two_step_trace(), two_level_video());

    // Pensieve: 1 MB from t = 0 takes the whole first second; the 500 ms RTT takes no trace time.
    let cfg = config(500.0);
    let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
    let r = s.step(0).unwrap();
    assert!(close(r.delay_ms, 1500.0), "{}", r.delay_ms);
    assert!(close(s.trace_time_s(), 1.0));

    // The RTT runs on the trace: the bytes start at 0.5 s, 0.5 MB at 1 MB/s, 0.5 MB at 2 MB/s.
    let cfg = config(500.0).with_real_link_requests(None);
    let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
    let r = s.step(0).unwrap();
    assert!(close(r.delay_ms, 500.0 + 750.0), "{}", r.delay_ms);
    assert!(close(s.trace_time_s(), 1.25), "{}", s.trace_time_s());

    // And a 250 kB init segment before chunk 0 and before every level switch.
    let cfg = config(500.0).with_real_link_requests(Some(250_000));
    let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
    // Chunk 0: init RTT 0-0.5, init bytes 0.5-0.75 (1 MB/s); chunk RTT 0.75-1.25, 1 MB at
    // 2 MB/s 1.25-1.75.
    let r = s.step(0).unwrap();
    assert!(
        close(r.delay_ms, (500.0 + 250.0) + (500.0 + 500.0)),
        "{}",
        r.delay_ms
    );
    assert!(close(r.rebuffer_s, 1.75));
    assert!(close(r.buffer_s, 4.0));
    assert!(close(s.trace_time_s(), 1.75), "{}", s.trace_time_s());
    // Chunk 1, same level, no init: RTT 1.75-2.25 (loops to 0.25), 0.75 MB at 1 MB/s to 1.0,
    // 0.25 MB at 2 MB/s to 1.125.
    let r = s.step(0).unwrap();
    assert!(close(r.delay_ms, 500.0 + 875.0), "{}", r.delay_ms);
    assert!(close(r.buffer_s, 4.0 - 1.375 + 4.0));
    assert!(close(s.trace_time_s(), 1.125), "{}", s.trace_time_s());
    // Chunk 2 switches to level 1: init RTT to 1.625, 250 kB at 2 MB/s to 1.75; chunk RTT to
    // 2.25 (0.25), 0.75 MB at 1 MB/s to 1.0, the other 1.25 MB at 2 MB/s to 1.625.
    let r = s.step(1).unwrap();
    assert!(
        close(r.delay_ms, (500.0 + 125.0) + (500.0 + 1375.0)),
        "{}",
        r.delay_ms
    );
    assert!(close(r.buffer_s, 6.625 - 2.5 + 4.0));
    assert!(close(r.finish_s - r.request_s, 2.5));
    assert!(close(s.trace_time_s(), 1.625), "{}", s.trace_time_s());
}

#[test]
fn a_trace_offset_starts_the_session_later_on_the_trace() {
    let (trace, video) = (two_step_trace(), two_level_video());
    let cfg = SimConfig {
        trace_offset_ms: 2500.0,
        ..config(500.0)
    };
    let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
    // 2.5 s loops to 0.5: 0.5 MB at 1 MB/s, 0.5 MB at 2 MB/s; the session clock starts at 0.
    assert!(close(s.trace_time_s(), 0.5));
    let r = s.step(0).unwrap();
    assert!(close(r.delay_ms, 750.0 + 500.0), "{}", r.delay_ms);
    assert_eq!(r.request_s, 0.0);
    assert!(close(s.trace_time_s(), 1.25));
}

#[test]
fn an_init_segment_costs_a_round_trip_even_on_a_trace_standing_still() {
    let (trace, video) = (two_step_trace(), two_level_video());
    let cfg = SimConfig {
        init_segment_bytes: Some(250_000),
        ..config(500.0)
    };
    let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
    // Init: 250 kB at 1 MB/s, + RTT; chunk: 0.75 MB at 1 MB/s and 0.25 MB at 2 MB/s, + RTT.
    let r = s.step(0).unwrap();
    assert!(
        close(r.delay_ms, (250.0 + 500.0) + (875.0 + 500.0)),
        "{}",
        r.delay_ms
    );
    assert!(close(s.trace_time_s(), 1.125));
}

#[test]
fn shared_link_driver_refuses_the_real_link_requests() {
    use neuralstream_sim::shared::{run_shared, SharedConfig, SharedPlayer};
    let (trace, video) = (two_step_trace(), two_level_video());
    for sim in [
        config(80.0).with_real_link_requests(None),
        SimConfig {
            init_segment_bytes: Some(900),
            ..config(80.0)
        },
        SimConfig {
            trace_offset_ms: 1.0,
            ..config(80.0)
        },
    ] {
        let cfg = SharedConfig {
            sim,
            ..SharedConfig::pensieve()
        };
        let mut players = vec![SharedPlayer {
            abr: Box::new(RandomAbr(Rng::new(1))),
            video: &video,
            start_s: 0.0,
            leave_s: None,
            weight: 1.0,
        }];
        let mut none = neuralstream_alloc::create("none").unwrap();
        let e = run_shared(&cfg, &trace, &mut players, none.as_mut()).unwrap_err();
        assert!(
            [
                "rtt_advances_trace",
                "init_segment_bytes",
                "trace_offset_ms"
            ]
            .iter()
            .any(|f| e.to_string().contains(f)),
            "{e}"
        );
    }
}

/// Distance of two trace times on a loop of `d` seconds.
fn loop_gap(a: f64, b: f64, d: f64) -> f64 {
    let g = (a - b).rem_euclid(d);
    g.min(d - g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// With the RTT on the trace: the session clock never runs back, a chunk takes at least its
    /// round trip(s), the trace clock moves by exactly the session time spent (the trace is wall
    /// time now), and the chunk's bytes equal the trace's capacity from the end of its RTT over
    /// its transfer time.
    #[test]
    fn rtt_on_the_trace_keeps_time_and_bytes(trace in trace_strategy(), video in video_strategy(),
                                             seed in any::<u64>(), rtt_ms in 0.0f64..400.0,
                                             init in prop_oneof![Just(None), (1u64..20_000).prop_map(Some)],
                                             trace_offset_ms in prop_oneof![Just(0.0), 0.0f64..5000.0]) {
        let cfg = SimConfig { rtt_ms, trace_offset_ms, max_chunks: None, ..SimConfig::pensieve() }
            .with_real_link_requests(init);
        let d = trace.duration_s();
        let mut s = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
        prop_assert!(loop_gap(s.trace_time_s(), trace_offset_ms / 1000.0, d) < 1e-6);
        let mut rng = Rng::new(seed);
        let (mut prev_end_s, mut held) = (0.0, None);
        while !s.is_done() {
            let t0 = s.trace_time_s();
            let level = rng.below(video.num_levels());
            let Ok(r) = s.step(level) else { break }; // a near-zero trace may stall: an error
            let requests = if init.is_some() && held != Some(level) { 2.0 } else { 1.0 };
            held = Some(level);
            prop_assert!(r.request_s >= prev_end_s - 1e-9);
            prop_assert!(r.finish_s - r.request_s >= requests * rtt_ms / 1000.0 - 1e-9);
            prev_end_s = r.finish_s + r.sleep_ms / 1000.0;
            let spent_s = (r.delay_ms + r.sleep_ms) / 1000.0;
            prop_assert!(loop_gap(s.trace_time_s(), t0 + spent_s, d) < 1e-6,
                "trace at {} after {spent_s} s from {t0}", s.trace_time_s());
            let window = capacity_bytes(&trace, t0, r.delay_ms / 1000.0, cfg.payload_fraction);
            let moved = r.size_bytes as f64 + if requests == 2.0 { init.unwrap() as f64 } else { 0.0 };
            prop_assert!(window >= moved * (1.0 - 1e-9) - 1e-3, "window {window} < bytes {moved}");
            if requests == 1.0 {
                let transfer_s = (r.delay_ms - rtt_ms) / 1000.0;
                let carried = capacity_bytes(&trace, t0 + rtt_ms / 1000.0, transfer_s, cfg.payload_fraction);
                prop_assert!((carried - r.size_bytes as f64).abs() <= 1e-6 * r.size_bytes as f64 + 1e-3,
                    "carried {carried} vs size {}", r.size_bytes);
            }
        }
    }

    /// The options do nothing they should not: with RTT 0 and no init segments the real link's
    /// model is Pensieve's to the bit, and on a constant link the RTT's place on the trace changes
    /// no delay.
    #[test]
    fn the_model_reduces_to_pensieves(trace in trace_strategy(), video in video_strategy(),
                                      seed in any::<u64>(), rtt_ms in 0.0f64..400.0, mbps in 0.2f64..20.0) {
        let run = |cfg: &SimConfig, trace: &Trace| {
            let mut log = SessionLog::default();
            run_session(cfg, trace, &video, &mut RandomAbr(Rng::new(seed)), StartPosition::Beginning, None, &mut log)
                .map(|_| log.records)
                .map_err(|e| e.to_string())
        };
        let zero = SimConfig { rtt_ms: 0.0, max_chunks: None, ..SimConfig::pensieve() };
        prop_assert_eq!(run(&zero, &trace), run(&zero.clone().with_real_link_requests(None), &trace));

        let flat = Trace::new("flat", vec![0.0, 1.0, 2.5], vec![mbps; 3]).unwrap();
        let base = SimConfig { rtt_ms, ..zero };
        let (plain, moved) = (run(&base, &flat).unwrap(), run(&base.clone().with_real_link_requests(None), &flat).unwrap());
        for (a, b) in plain.iter().zip(&moved) {
            prop_assert!((a.delay_ms - b.delay_ms).abs() < 1e-6 * a.delay_ms.max(1.0));
            prop_assert_eq!(a.level, b.level);
        }
    }
}
