//! The tuning grid of the `fair` allocator (`neuralstream_alloc::fair`), as `docs/benchmarks.md`
//! ("Shared link") ran it on the *training* trace sets: 10 players of `bench --players`'s default
//! mix on every trace x10, Pensieve's video and player, QoE_lin with the start-up chunk not scored.
//! Prints, per trace set, `none` and `maxmin`, then every grid point: total QoE change against
//! `none` and Jain's index of the players' QoE per chunk (both averaged over links).
//!
//! ```text
//! cargo run --release -p neuralstream-sim --example fair_grid -- VIDEO SET[,SET...] \
//!     GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN ...
//! ```
//!
//! e.g. `../shared/data/pensieve/sim ../shared/data/pensieve/sim/cooked_traces 0.4:10:2:1.1:0.995`.

use neuralstream_alloc::fair::FairShare;
use neuralstream_alloc::{jain_index, Allocator};
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::{load_traces, load_video, TraceFormat};
use neuralstream_sim::shared::{run_shared, scaled_trace, SharedConfig, SharedPlayer};
use std::path::Path;

const PLAYERS: usize = 10;

/// `fair`'s caps without its weights: what `serve --egress-mbps --allocator fair` applies.
struct CapsOnly(FairShare);

impl Allocator for CapsOnly {
    fn name(&self) -> &'static str {
        "fair-caps-only"
    }
    fn allocate(
        &mut self,
        capacity_kbps: f64,
        sessions: &[neuralstream_alloc::SessionView<'_>],
    ) -> Vec<neuralstream_alloc::Cap> {
        self.0.allocate(capacity_kbps, sessions)
    }
}
const MIX: [&str; 5] = ["bba0", "robustmpc", "bola", "rate", "festive"];

/// Mean total QoE per link and mean Jain's index of QoE per chunk of `make`'s allocator.
fn run(traces: &[Trace], video: &Video, make: &dyn Fn() -> Box<dyn Allocator>) -> (f64, f64) {
    let cfg = SharedConfig::pensieve();
    let qoe = QoeModel::lin()
        .compile(video)
        .expect("QoE_lin fits every video");
    let (mut total, mut jain) = (0.0, 0.0);
    for t in traces {
        let link = scaled_trace(t, PLAYERS as f64).expect("x10 is a valid scale");
        let mut players: Vec<SharedPlayer<'_>> = (0..PLAYERS)
            .map(|i| SharedPlayer {
                abr: neuralstream_abr::create(MIX[i % MIX.len()]).expect("a known algorithm"),
                video,
                start_s: 0.0,
                leave_s: None,
                weight: 1.0,
            })
            .collect();
        let out = run_shared(&cfg, &link, &mut players, make().as_mut())
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let per_chunk: Vec<f64> = out
            .players
            .iter()
            .map(|p| {
                let s = qoe.score(&p.log.records, 1);
                total += s.qoe;
                s.qoe / s.chunks_scored.max(1) as f64
            })
            .collect();
        jain += jain_index(&per_chunk).unwrap_or(1.0);
    }
    let n = traces.len().max(1) as f64;
    (total / n, jain / n)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 2,
        "usage: fair_grid VIDEO SET[,SET...] GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN ..."
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
            assert_eq!(
                v.len(),
                5,
                "{g}: GAIN:PRIOR:MAX_WEIGHT:HEADROOM:CAP_BELOW_JAIN"
            );
            FairShare {
                qoe_gain: v[0],
                prior_chunks: v[1],
                max_weight: v[2],
                cap_headroom: v[3],
                cap_below_jain: v[4],
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
                "  fair {}:{}:{}:{}:{}  {:+.2} %  Jain {j:.4}",
                f.qoe_gain,
                f.prior_chunks,
                f.max_weight,
                f.cap_headroom,
                f.cap_below_jain,
                change(t)
            );
        }
    }
}
