//! The tuning grid of the `fair` allocator (`neuralstream_alloc::fair`), as `docs/benchmarks.md`
//! ("Shared link: the `fair` allocator") ran it on the *training* trace sets: issue 22's bar
//! scenario (`tests/support/bar.rs`, shared with the golden test).
//! Prints, per trace set, `none` and `maxmin`, then every grid point: total QoE change against
//! `none` and Jain's index of the players' QoE per chunk (both averaged over links).
//!
//! ```text
//! cargo run --release -p neuralstream-sim --example fair_grid -- VIDEO SET[,SET...] \
//!     GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN[:FLOOR_BUFFER_S:FLOOR_MARGIN:FLOOR_STEP] ...
//! ```
//!
//! e.g. `../shared/data/pensieve/sim ../shared/data/pensieve/sim/cooked_traces
//! 0.4:10:2:1.1:0.995:14:0.05:1` (the defaults; the floor fields default to `fair`'s, and a
//! `FLOOR_BUFFER_S` of `inf` turns floors off).

#[path = "../tests/support/bar.rs"]
mod bar;

use bar::run;
use neuralstream_alloc::fair::FairShare;
use neuralstream_alloc::{Allocator, Cap, SessionView};
use neuralstream_data::{load_traces, load_video, TraceFormat};
use std::path::Path;

/// `fair`'s caps and floors without its weights: what `serve --egress-mbps --allocator fair`
/// applies.
struct CapsOnly(FairShare);

impl Allocator for CapsOnly {
    fn name(&self) -> &'static str {
        "fair-caps-only"
    }
    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        self.0.allocate(capacity_kbps, sessions)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 2,
        "usage: fair_grid VIDEO SET[,SET...] GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN[:FLOOR_BUFFER_S:FLOOR_MARGIN:FLOOR_STEP] ..."
    );
    let video = load_video(Path::new(&args[0])).unwrap_or_else(|e| panic!("{e}"));
    let grid: Vec<FairShare> = args[2..]
        .iter()
        .map(|g| {
            let v: Vec<f64> = g
                .split(':')
                .map(|x| {
                    x.parse()
                        .unwrap_or_else(|_| panic!("{g}: numbers separated by ':'"))
                })
                .collect();
            assert!(
                v.len() == 5 || v.len() == 8,
                "{g}: GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN[:FLOOR_BUFFER_S:FLOOR_MARGIN:FLOOR_STEP]"
            );
            let d = FairShare::default();
            FairShare {
                qoe_gain: v[0],
                prior_chunks: v[1],
                max_weight: v[2],
                cap_headroom: v[3],
                cap_below_jain: v[4],
                floor_min_buffer_s: v.get(5).copied().unwrap_or(d.floor_min_buffer_s),
                floor_margin: v.get(6).copied().unwrap_or(d.floor_margin),
                floor_step: v.get(7).map_or(d.floor_step, |&x| x as usize),
            }
        })
        .collect();
    for set in args[1].split(',') {
        let traces =
            load_traces(Path::new(set), TraceFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        let named = |n: &'static str| move || neuralstream_alloc::create(n).expect("known");
        let (base_total, base_jain) = run(&traces, &video, &named("none"));
        let (mm_total, mm_jain) = run(&traces, &video, &named("maxmin"));
        let change = |t: f64| (t - base_total) / base_total.abs().max(1e-9) * 100.0;
        println!("{set} ({} links): none {base_total:.2} Jain {base_jain:.4}; maxmin {:+.2} % Jain {mm_jain:.4}", traces.len(), change(mm_total));
        let (t, j) = run(&traces, &video, &|| {
            Box::new(CapsOnly(FairShare::default()))
        });
        println!(
            "  fair (defaults), caps only  {:+.2} %  Jain {j:.4}",
            change(t)
        );
        for f in &grid {
            let (t, j) = run(&traces, &video, &|| Box::new(*f));
            println!(
                "  fair {}:{}:{}:{}:{}:{}:{}:{}  {:+.2} %  Jain {j:.4}",
                f.qoe_gain,
                f.prior_chunks,
                f.max_weight,
                f.cap_headroom,
                f.cap_below_jain,
                f.floor_min_buffer_s,
                f.floor_margin,
                f.floor_step,
                change(t)
            );
        }
    }
}
