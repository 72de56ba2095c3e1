//! # neuralstream-core
//!
//! The vocabulary every other NeuralStream crate speaks: bitrate ladders, video descriptions, network
//! traces, per-chunk session records, QoE models, benchmark result tables, and the one [`Abr`] trait that every adaptive-bitrate
//! algorithm (rule-based or learned) implements. It also holds the one link model ([`link`]: a
//! cursor on a trace that turns bytes into delay), which the simulator and the native player share
//! so that their downloads agree to the bit.
//!
//! **Key design decision:** this crate has no I/O, no session simulator and no algorithm in it. It is the bottom
//! of the dependency graph, so every type here is plain data with validated constructors, and units are
//! spelled in field names (`_kbps`, `_bytes`, `_s`, `_ms`, `_mbps`) so that a reader never guesses.
//! An algorithm sees only an [`Observation`]: what a real player could know (its own past downloads,
//! its buffer, the ladder and the chunk sizes listed in the manifest), never the network trace.

#![deny(missing_docs)]

pub mod abr;
pub mod error;
pub mod limits;
pub mod link;
pub mod qoe;
pub mod results;
pub mod rng;
pub mod stats;
pub mod trace;
pub mod video;

pub use abr::{Abr, ChunkRecord, Decision, Observation};
pub use error::CoreError;
pub use limits::{
    download_is_stalled, DEFAULT_MAX_TRACE_LOOPS, MAX_BUFFER_CAP_S, MAX_CHUNK_DURATION_S,
    MAX_RTT_MS, MAX_TRACE_STEPS_PER_CHUNK, MIN_PAYLOAD_FRACTION, MIN_TRACE_SPAN_S, STALL_GIVE_UP_S,
};
pub use link::{DeliverySpent, LinkCursor, LinkStalled, TraceLink};
pub use qoe::{QoeModel, SessionScore};
pub use results::{
    csv_field, AlgorithmSummary, BenchMeta, BenchResults, SimulatorSettings, TraceResult,
};
pub use rng::Rng;
pub use trace::Trace;
pub use video::{Ladder, Level, Video};
