//! # neuralstream-sim
//!
//! A trace-driven, chunk-level simulator of one video player on one network link, reproducing the
//! semantics of Pensieve's `env.py` / `fixed_env.py` operation for operation (see
//! `../shared/reference/pensieve.md`, sections 3 and 4), so that results match the reference to
//! floating-point rounding.
//!
//! **Key design decision:** the simulator is a plain state machine ([`Session`]) stepped one chunk at a
//! time, with no allocation and no dynamic dispatch inside a step; [`run_session`] drives it with any
//! [`Abr`](neuralstream_core::Abr). That keeps it fast enough to be the inner loop of reinforcement
//! learning (its speed is measured by `cargo bench -p neuralstream-sim` and recorded in
//! `docs/benchmarks.md`), and lets training code step it directly.
//! The network side of a step (bytes -> delay, sleeping moves the trace on) is core's one link
//! model, [`TraceLink`](neuralstream_core::TraceLink), which the native player's shaped downloads
//! run too; a session adds the player: buffer, RTT, delay noise, sleeping over the buffer cap.
//! Every Pensieve constant is a documented field of [`SimConfig`]; [`SimConfig::pensieve`] is the
//! preset. [`shared`] runs many players on one link (each a session's player, the link split
//! among the downloads in flight, capped by an allocator of `neuralstream-alloc`). Randomness (training mode: random start, delay noise) comes only from a seeded
//! [`Rng`](neuralstream_core::Rng), so runs are reproducible.

#![deny(missing_docs)]

mod config;
mod runner;
mod session;
pub mod shared;

pub use config::{SimConfig, StartPosition, MAX_INIT_SEGMENT_BYTES, MAX_TRACE_OFFSET_MS};
pub use runner::{run_session, SessionLog};
pub use session::Session;

use thiserror::Error;

/// A simulation that cannot continue.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    /// The trace delivers (almost) nothing: a chunk could not finish within the loop budget and
    /// a day of trace time or 100 M trace intervals ([`neuralstream_core::download_is_stalled`]).
    #[error("trace '{trace}': chunk {chunk} did not finish in {seconds:.0} s of trace time ({loops} loops of the trace); the trace has (almost) no capacity")]
    Stalled {
        /// Trace name.
        trace: String,
        /// Chunk index.
        chunk: usize,
        /// Loops made.
        loops: usize,
        /// Trace time spent on the chunk, seconds.
        seconds: f64,
    },
    /// An algorithm chose a level that does not exist.
    #[error("algorithm '{abr}' chose level {level} for chunk {chunk}, but the ladder has {levels} levels")]
    InvalidLevel {
        /// Algorithm name.
        abr: String,
        /// Chosen level.
        level: usize,
        /// Chunk index.
        chunk: usize,
        /// Levels in the ladder.
        levels: usize,
    },
    /// The session was stepped after its last chunk.
    #[error("session already finished all {0} chunks")]
    Finished(usize),
    /// [`Session::step`] was asked for a level the video does not have.
    #[error("level {level} does not exist for chunk {chunk}: the ladder has {levels} levels")]
    NoSuchLevel {
        /// Requested level.
        level: usize,
        /// Chunk index.
        chunk: usize,
        /// Levels in the ladder.
        levels: usize,
    },
    /// A player of a shared link ([`shared::SharedPlayer`]) is set up wrong.
    #[error("shared link, player {player}: {problem}")]
    InvalidPlayer {
        /// Index of the player in the list given.
        player: usize,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// A [`SimConfig`] field is out of its range ([`SimConfig::validate`]).
    #[error("simulator setting `{field}`: {problem}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
}
