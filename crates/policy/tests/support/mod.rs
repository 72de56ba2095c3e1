//! Helpers shared by the policy crate's integration tests.

use neuralstream_core::{Abr, Video};
use neuralstream_data::synthetic::TraceGenerator;
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};

/// The levels `abr` plays over `video` on synthetic trace `trace_seed` (Pensieve's simulator).
pub fn play(abr: &mut dyn Abr, video: &Video, trace_seed: u64) -> Vec<usize> {
    let trace = TraceGenerator::default().trace(trace_seed, 0);
    let mut log = SessionLog::default();
    run_session(
        &SimConfig::pensieve(),
        &trace,
        video,
        abr,
        StartPosition::Beginning,
        None,
        &mut log,
    )
    .unwrap();
    log.records.iter().map(|r| r.level).collect()
}
