//! Random inputs the simulator's property tests share (`tests/properties.rs`,
//! `tests/real_link_requests.rs`): levels, traces and videos, and the trace's capacity computed
//! independently of the link's walk.

use neuralstream_core::{Abr, Decision, Ladder, Observation, Rng, Trace, Video};
use proptest::prelude::*;

/// Chooses uniformly random levels (seeded): exercises every path of the simulator.
pub struct RandomAbr(pub Rng);

impl Abr for RandomAbr {
    fn name(&self) -> String {
        "random".into()
    }
    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        Decision::level(self.0.below(obs.video.num_levels()))
    }
}

/// Traces of 2 to 60 samples, 0.05 to 3 s apart, some of them without capacity (not all).
pub fn trace_strategy() -> impl Strategy<Value = Trace> {
    proptest::collection::vec((0.05f64..3.0, prop_oneof![Just(0.0), 0.01f64..20.0]), 2..60)
        .prop_filter_map("needs capacity", |steps| {
            let mut t = 0.0;
            let mut time = vec![0.0];
            let mut bw = vec![1.0];
            for (dt, b) in steps {
                t += dt;
                time.push(t);
                bw.push(b);
            }
            Trace::new("prop", time, bw).ok()
        })
}

/// Videos of 1 to 6 levels and 1 to 39 chunks of 1 to 6 s, sizes around the ladder's bitrates.
pub fn video_strategy() -> impl Strategy<Value = Video> {
    (1usize..7, 1usize..40, 1.0f64..6.0, any::<u64>()).prop_map(|(levels, chunks, dur, seed)| {
        let mut rng = Rng::new(seed);
        let ladder = Ladder::from_kbps(
            &(0..levels)
                .map(|l| 200.0 * (l as f64 + 1.0).powi(2))
                .collect::<Vec<_>>(),
        );
        let sizes = (0..levels)
            .map(|l| {
                (0..chunks)
                    .map(|_| {
                        (ladder.kbps(l) * 125.0 * dur * rng.uniform_range(0.5, 1.5)) as u64 + 1
                    })
                    .collect()
            })
            .collect();
        Video::new("prop", dur, ladder, sizes, vec![]).unwrap()
    })
}

/// Payload bytes the looping trace carries from trace time `t0` for `secs` seconds (the
/// simulator's link semantics: sample `i` holds over `(time_s[i - 1], time_s[i]]`).
pub fn capacity_bytes(trace: &Trace, t0: f64, mut secs: f64, payload: f64) -> f64 {
    let d = trace.duration_s();
    let mut t0 = t0.rem_euclid(d);
    let mut bytes = 0.0;
    while secs > 1e-12 {
        if t0 >= d {
            t0 = 0.0;
        }
        let i = trace
            .time_s
            .partition_point(|&x| x <= t0)
            .clamp(1, trace.len() - 1);
        let span = (trace.time_s[i] - t0).min(secs);
        bytes += trace.bandwidth_mbps[i] * 1e6 / 8.0 * span * payload;
        secs -= span;
        t0 += span;
    }
    bytes
}
