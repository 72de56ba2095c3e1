//! # neuralstream-abr
//!
//! Every well-known rule-based ABR algorithm, **one algorithm per file**, each implementing
//! [`neuralstream_core::Abr`] and readable top to bottom: the paper it follows, its parameters with
//! their defaults, then the logic.
//!
//! **Key design decision:** algorithms see only an [`Observation`](neuralstream_core::Observation)
//! (what a real player knows) and depend on nothing but `neuralstream-core`: no simulator, no I/O.
//! The same code therefore decides in the simulator, in the server's decision API and in the native
//! player. [`registry`] maps the names accepted by `--abr` to constructors.

#![deny(missing_docs)]

pub mod bb;
pub mod bba0;
pub mod bola;
pub mod bola_e;
pub mod dynamic;
pub mod festive;
pub mod mpc;
pub mod mpc_rf;
pub mod predictor;
pub mod rate_based;
pub mod registry;
pub mod throughput;

pub use registry::{create, AbrError, ALGORITHMS};
