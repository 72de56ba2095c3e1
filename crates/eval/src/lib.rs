//! # neuralstream-eval
//!
//! Runs algorithms x traces through the simulator and turns session logs into results.
//!
//! **Key design decision:** results are plain serialisable data ([`results`]) with no knowledge of how
//! they are shown; `neuralstream-report` draws and prints them. Sessions run in parallel with rayon,
//! except for algorithms that carry state across sessions, which run in trace order on one thread so
//! their results match the reference.

pub mod results;

pub use results::{AlgorithmSummary, BenchMeta, BenchResults, TraceResult};
