//! Issue 22's bar scenario, shared by the golden test (`tests/shared_link.rs`) and the tuning grid
//! (`examples/fair_grid.rs`): 10 players of `bench --players`'s default mix, all arriving at 0 s,
//! on every trace x10, Pensieve's player, scored as `bench` scores them (QoE_lin, the start-up
//! chunk not scored).

use neuralstream_alloc::{jain_index, Allocator};
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_sim::shared::{run_shared, scaled_trace, SharedConfig, SharedPlayer};

/// Players on each link.
pub const PLAYERS: usize = 10;
/// `bench --players`'s default mix, assigned round-robin.
pub const MIX: [&str; 5] = ["bba0", "robustmpc", "bola", "rate", "festive"];

/// Mean total QoE per link and mean Jain's index of the players' QoE per chunk, under the
/// allocators `make` builds (a fresh one per link).
pub fn run(traces: &[Trace], video: &Video, make: &dyn Fn() -> Box<dyn Allocator>) -> (f64, f64) {
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
