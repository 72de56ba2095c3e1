//! DAgger-style relabeling: roll out the learner, label the states *it* visits with a teacher.
//!
//! Behaviour cloning only sees the states on the optimum's own path; a learner that deviates
//! (e.g. lets its buffer run low) reaches states nobody labelled and its errors compound. Here the
//! learner plays each session greedily in test mode; at a few seeded random chunks `k` of each
//! session the simulator state before chunk `k` is rebuilt (replaying the learner's own levels, the
//! simulator is deterministic) and labelled with the first level of the **offline optimum of the
//! remaining session from that state** ([`neuralstream_optimum::solve_from`]), i.e. what a player
//! with perfect knowledge of the rest of the trace would do from where the learner got to. The
//! teacher uses its own (coarser, faster) [`OptimumParams`].

use crate::dataset::Dataset;
use crate::error::LearnError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Observation, Rng, Trace, Video};
use neuralstream_optimum::{solve_from, OptimumParams};
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::LearnedAbr;
use neuralstream_sim::{run_session, Session, SessionLog, SimConfig, StartPosition};
use rayon::prelude::*;

/// Settings of one relabeling pass.
#[derive(Debug, Clone)]
pub struct RelabelConfig {
    /// Chunks labelled per session (drawn without replacement among chunks `1..`).
    pub states_per_session: usize,
    /// Search parameters of the teacher.
    pub teacher: OptimumParams,
    /// Chunks not scored at the start of a session (Pensieve: 1).
    pub skip_chunks: usize,
    /// Seed of the chunk draws (combined with the session's index).
    pub seed: u64,
}

/// Plays `policy` on every session (test mode) and returns teacher labels for
/// `states_per_session` of the states it visited in each, in session order.
pub fn relabel_learner_states(
    policy: &LearnedAbr,
    sessions: &[Trace],
    video: &Video,
    spec: &FeatureSpec,
    sim: &SimConfig,
    qoe: &CompiledQoe,
    cfg: &RelabelConfig,
) -> Result<Dataset, LearnError> {
    let sim = SimConfig {
        delay_noise: None,
        ..sim.clone()
    };
    let parts: Vec<Dataset> = sessions
        .par_iter()
        .enumerate()
        .map_init(
            || (policy.clone(), SessionLog::default()),
            |(abr, log), (i, trace)| {
                let sim_err = |source| LearnError::Sim {
                    trace: trace.name.clone(),
                    source,
                };
                run_session(&sim, trace, video, abr, StartPosition::Beginning, None, log)
                    .map_err(sim_err)?;
                let total = log.records.len();
                let mut chunks: Vec<usize> = (1..total).collect();
                let mut rng = Rng::new(cfg.seed).fork(i as u64);
                for j in (1..chunks.len()).rev() {
                    chunks.swap(j, rng.below(j + 1));
                }
                chunks.truncate(cfg.states_per_session);
                chunks.sort_unstable();
                let mut data = Dataset {
                    dim: spec.len(),
                    ..Dataset::default()
                };
                let mut session = Session::new(&sim, trace, video, StartPosition::Beginning, None);
                let mut played = 0;
                for k in chunks {
                    while played < k {
                        session.step(log.records[played].level).map_err(sim_err)?;
                        played += 1;
                    }
                    let last_level = log.records[k - 1].level;
                    let plan = solve_from(
                        &sim,
                        &session,
                        last_level,
                        qoe,
                        cfg.skip_chunks,
                        &cfg.teacher,
                    )
                    .map_err(|source| LearnError::Optimum {
                        trace: trace.name.clone(),
                        source,
                    })?;
                    let Some(&label) = plan.levels.first() else {
                        continue;
                    };
                    let start = data.features.len();
                    data.features.resize(start + spec.len(), 0.0);
                    spec.write(
                        &Observation {
                            video,
                            next_chunk: k,
                            total_chunks: total,
                            buffer_s: session.buffer_s(),
                            last_level,
                            history: &log.records[..k],
                        },
                        &mut data.features[start..],
                    );
                    data.labels.push(label);
                }
                Ok(data)
            },
        )
        .collect::<Result<_, LearnError>>()?;
    let mut data = Dataset {
        dim: spec.len(),
        ..Dataset::default()
    };
    for d in parts {
        data.extend(d);
    }
    Ok(data)
}
