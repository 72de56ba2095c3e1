//! # neuralstream-protocol
//!
//! The wire types of NeuralStream's ABR decision API (`POST /api/v1/sessions/{id}/decision`), shared
//! by the server (`neuralstream-server`), the native player (`neuralstream-player`) and documented for
//! the web player.
//!
//! **Key design decision:** one schema, two spellings. The project's own field names (units in the
//! name: `_ms`, `_s`, `_bytes`) are canonical; the camelCase names a Pensieve-style dash.js client
//! sends (`lastquality`, `buffer`, `RebufferTime`, `lastRequest`, `lastChunkStartTime`,
//! `lastChunkFinishTime`, `lastChunkSize`) are accepted too, so both kinds of client talk to the
//! same handler: the chunk report's fields as serde aliases, and the request's few fields whose
//! meaning differs (`RebufferTime` in ms, `lastRequest` naming the chunk just fetched) through one
//! `PensieveRequest` translation in [`DecisionRequest::from_json`]. This crate has no I/O and no
//! dependency on the server or the algorithms; validation happens here so every consumer refuses the
//! same bad input with the same message.
//!
//! Modules, one concern each: [`routes`] (the API's paths and session ids), [`request`] (the
//! decision request and its checks), [`pensieve`] (the Pensieve spelling, translated once, and the constants of the reference client's protocol),
//! [`response`] (decisions and refusals), [`catalog`] (the video and algorithm lists), [`names`]
//! (algorithm names) and [`error`]. Everything is re-exported at the root.

pub mod catalog;
pub mod error;
pub mod names;
pub mod pensieve;
pub mod request;
pub mod response;
pub mod routes;

pub use catalog::{AlgorithmInfo, AlgorithmList, VideoInfo};
pub use error::ProtocolError;
pub use names::{
    canonical_algorithm_name, learned_policy_path, resolve_algorithm_name, LEARNED_PREFIX,
};
pub use request::{ChunkReport, DecisionRequest, MAX_SECONDS};
pub use response::{ApiError, DecisionResponse, Reasons};
pub use routes::{
    decision_path, validate_session_id, ALGORITHMS_PATH, API_PREFIX, DECISION_PATH, HEALTHZ_PATH,
    MAX_SESSION_ID_LEN, MEDIA_PREFIX, METRICS_PATH, OPENAPI_PATH, RT_LIVE_PATH, RT_METRICS_PATH,
    RT_PAGE_PATH, RT_SESSIONS_PATH, RT_SESSION_PATH, SESSIONS_PREFIX, VIDEOS_PATH,
};
