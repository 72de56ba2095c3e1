//! # neuralstream-eval
//!
//! Runs algorithms x traces through the simulator and turns session logs into results; scores
//! sessions recorded by real players ([`recorded`]) into the same tables.
//!
//! **Key design decision:** results are plain serialisable data ([`results`], defined in
//! `neuralstream-core` and re-exported here) with no knowledge of how they are shown;
//! `neuralstream-report` draws and prints them without depending on this crate. Sessions run in parallel with rayon,
//! except for algorithms that carry state across sessions, which run in trace order on one thread so
//! their results match the reference. The offline optimum runs through the same runner (it replays
//! its plan as an [`Abr`](neuralstream_core::Abr)), so its numbers are scored exactly like the others.

pub mod output;
pub mod recorded;
pub use neuralstream_core::results;
pub mod runner;
/// Summary statistics (core's, re-exported: eval and learn score the same way).
pub mod stats {
    pub use neuralstream_core::stats::*;
}

pub use neuralstream_core::results::{
    AlgorithmSummary, BenchMeta, BenchResults, SimulatorSettings, TraceResult,
};
pub use recorded::{score_recorded, RecordedResults, RecordedSession};
pub use runner::{
    builtin_factory, run_bench, BenchConfig, BenchOutput, EvalError, SessionOutput, OPTIMUM,
};
