//! # neuralstream-optimum
//!
//! The offline optimum: the best level schedule for one session when the whole network trace is
//! known in advance. No real player can do better, so it is the ceiling against which every ABR
//! algorithm (rule-based or learned) is measured.
//!
//! **Key design decision:** the search runs the *exact* simulator. [`solve`] is a forward dynamic
//! program over chunks whose states are cloned [`neuralstream_sim::Session`]s: every candidate level
//! of every state is simulated by stepping a copy of that state, so no transition is approximated.
//! What keeps the search small is *state merging*: after each chunk the states are bucketed by
//! (last level, quantised buffer), and each bucket keeps only its Pareto front on (QoE banked so far,
//! session clock) ([`OptimumParams`] sets the bucket width). Merging can only drop candidates, never
//! invent them, so the returned [`Plan`] is a schedule that really achieves its score when
//! replayed (it is replayed once more before being returned): its value is a *lower bound* on the
//! true optimum, tight when the buckets are fine (on Pensieve's 269 traces it matches or beats an
//! independently computed DP on every trace; `tests/reference.rs` checks it). [`PlannedAbr`] replays a plan through the ordinary runner, so a
//! plan gets the same per-chunk log as any other algorithm.
//!
//! ```no_run
//! # use neuralstream_core::{QoeModel, Trace, Video};
//! # use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
//! # use neuralstream_optimum::{solve, OptimumParams, PlannedAbr};
//! # fn demo(trace: &Trace, video: &Video) -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = SimConfig::pensieve();
//! let qoe = QoeModel::lin().compile(video)?;
//! let plan = solve(&cfg, trace, video, &qoe, 1, &OptimumParams::default())?;
//! let mut log = SessionLog::default();
//! let mut abr = PlannedAbr::new(plan.clone());
//! run_session(&cfg, trace, video, &mut abr, StartPosition::Beginning, None, &mut log)?;
//! assert_eq!(qoe.score(&log.records, 1).qoe, plan.qoe);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod dp;
mod planned;

pub use dp::{solve, solve_from, OptimumParams, Plan};
pub use planned::PlannedAbr;

use neuralstream_sim::SimError;
use thiserror::Error;

/// Why no plan could be computed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OptimumError {
    /// The simulator could not complete a download (e.g. a trace with almost no capacity).
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The compiled QoE model was built for a ladder with a different number of levels.
    #[error("the QoE model has {qoe_levels} level utilities but the video '{video}' has {video_levels} levels")]
    LadderMismatch {
        /// Levels the QoE model knows.
        qoe_levels: usize,
        /// Levels of the video.
        video_levels: usize,
        /// Video name.
        video: String,
    },
    /// A search parameter is out of its domain (bucket widths must be finite and positive, the
    /// state cap at least 1).
    #[error("invalid optimum parameter: {0}")]
    InvalidParams(String),
}
