//! The data side of the in-situ loop (issue 19, items 4-5): the service's own telemetry turned into
//! training data, and throughput predictors trained and compared on it.
//!
//! `serve`/`play`/`bench --telemetry DIR` -> [`clean`] (invalid and impossible events, duplicates
//! on (session, chunk), client clock skew) -> [`impute`] (short gaps of missing chunks; idle
//! intervals of the traces) -> [`windows`] (supervised windows, normalisation saved beside them)
//! and cooked traces that `neuralstream train` learns on -> [`select`] (mutual information and
//! permutation importance) -> [`predictors`] (harmonic mean, EWMA, the random forest of
//! [`forest`], the LSTM of [`lstm`]) compared by MAPE, RMSE and p90 error per horizon on held-out
//! sessions.
//!
//! Key design decision: **the features and the model file belong to `neuralstream-abr`**
//! (`predictor`), not to this crate. The MPC that plans with the forest (`mpc-rf:MODEL`) runs in
//! the simulator and the server, which must not build a trainer; so this crate fits with
//! `smartcore` and exports plain trees, and both sides compute features with one function.
//!
//! Depends on core, abr, telemetry and rt (whose LSTM predictor [`lstm`] trains as it is); never on
//! the server, the simulator or the CLI.

pub mod build;
pub mod clean;
pub mod error;
pub mod forest;
pub mod impute;
pub mod lstm;
pub mod predictors;
pub mod select;
pub mod windows;

pub use build::{build, eval_predictors, load_model, BuildSummary, EvalSummary};
pub use error::InsituError;
pub use forest::ForestParams;
pub use lstm::LstmParams;
