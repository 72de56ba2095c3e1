//! # neuralstream-player
//!
//! A native, headless DASH player for trace-driven tests of real servers: it fetches an MPD (and
//! the `video.json` beside it for every chunk's size), asks a local algorithm or the server's
//! decision API for each level, downloads init and media segments over HTTPS (reqwest on rustls),
//! and keeps a playback buffer in real time, optionally compressed by a speed factor.
//!
//! **Key design decision:** the player shapes its own downloads instead of relying on a network
//! emulator. Every response body is released at the pace of a network trace, using exactly the
//! simulator's link arithmetic ([`link`]), and the buffer follows the simulator's rules applied to
//! measured times. So `play` over loopback and `bench` in the simulator differ only by what is real:
//! HTTP/TLS overhead, timer resolution, decision latency and init segments, which the sim-to-real
//! report (`docs/sim_to_real.md`) measures. Results come out as the simulator's [`ChunkRecord`]s,
//! so `bench`'s writers and QoE scoring apply unchanged.
//!
//! Under `neuralstream emulate` the network itself is the trace (tc-shaped links in network
//! namespaces), and [`TraceClock::Network`] turns the pacing off.
//!
//! [`ChunkRecord`]: neuralstream_core::ChunkRecord

pub mod clock;
pub mod decider;
pub mod download;
pub mod error;
pub mod fleet;
pub mod http;
pub mod link;
pub mod manifest;
pub mod media;
pub mod player;
pub mod summary;

pub use decider::{Decided, Decider};
pub use download::{Retry, TraceClock, Transfer};
pub use error::PlayerError;
pub use fleet::{
    load_fleet_media, run_fleet, run_fleet_blocking, run_fleet_with, runtime, AbrFactory,
    DecisionSource, FleetConfig, FleetOutcome, FleetSession, Progress,
};
pub use http::{build_client, parse_url, TlsTrust};
pub use media::{load_media, Media};
pub use player::{play, PlayOutcome, PlayerConfig, RequestRecord};
pub use summary::{PlayedSession, RunSummary, SessionSummary};
