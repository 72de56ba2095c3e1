//! Scoring a policy on a set of sessions, in Pensieve's test mode, in parallel.

use crate::error::LearnError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Abr, Trace, Video};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use rayon::prelude::*;

/// Plays every trace from its beginning with no delay noise (test mode, whatever `sim` says about
/// noise) and returns each session's QoE over chunks `skip_chunks..`, in trace order.
///
/// `make` builds one algorithm per worker thread (e.g. `|| policy.clone()`); results do not
/// depend on the thread count unless the algorithm carries state across sessions.
pub fn session_qoes<A: Abr>(
    make: impl Fn() -> A + Sync,
    traces: &[Trace],
    video: &Video,
    sim: &SimConfig,
    qoe: &CompiledQoe,
    skip_chunks: usize,
) -> Result<Vec<f64>, LearnError> {
    let cfg = SimConfig {
        delay_noise: None,
        ..sim.clone()
    };
    traces
        .par_iter()
        .map_init(
            || (make(), SessionLog::default()),
            |(abr, log), trace| {
                run_session(&cfg, trace, video, abr, StartPosition::Beginning, None, log).map_err(
                    |source| LearnError::Sim {
                        trace: trace.name.clone(),
                        source,
                    },
                )?;
                Ok(qoe.score(&log.records, skip_chunks).qoe)
            },
        )
        .collect()
}

/// Mean of [`session_qoes`]; 0 for no traces.
pub fn mean_qoe<A: Abr>(
    make: impl Fn() -> A + Sync,
    traces: &[Trace],
    video: &Video,
    sim: &SimConfig,
    qoe: &CompiledQoe,
    skip_chunks: usize,
) -> Result<f64, LearnError> {
    let q = session_qoes(make, traces, video, sim, qoe, skip_chunks)?;
    Ok(if q.is_empty() {
        0.0
    } else {
        q.iter().sum::<f64>() / q.len() as f64
    })
}
