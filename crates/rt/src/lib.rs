//! # neuralstream-rt
//!
//! Real-time mode: live video and cloud gaming, where every 50 ms a controller must choose the
//! encoder's target bitrate, resolution and frame rate for a link it cannot see. This crate holds
//! the frame-level simulator that measures such controllers, the controllers themselves (GCC, a
//! fixed bitrate, an oracle) and the per-session scores. Design notes and anchors:
//! `../shared/reference/realtime.md`.
//!
//! **Key design decision:** the simulator is *event-driven at packet granularity but resolved per
//! packet in one pass* ([`run_session`]): the bottleneck is a FIFO fed in time order, so when the
//! pacer releases a packet its departure, arrival or drop is already determined, and the session
//! advances capture tick by capture tick with no priority queue. Feedback reports list only packets
//! that arrived before the report was cut, so the controller never sees the future. This keeps a 60
//! fps, 60 s session to a few milliseconds (`benches/session.rs`), fast enough for training, and
//! makes every run a pure function of (trace, config, controller, seed) through core's [`Rng`].
//!
//! Pipeline (one file each): [`trace`] (onl-emu JSON and Mahimahi readers, the train / validation /
//! test split) -> [`source`] (bursty scene complexity, encoder rate-control lag, key frames) ->
//! [`sim`] (packetizer, 2.5x pacer, optionally WebRTC's congestion window [`cwnd`], feedback every
//! 50 ms, key-frame requests) -> [`link`] (drop-tail
//! bottleneck replaying the trace, propagation delay, random loss) -> [`receiver`] (assembly,
//! jitter buffer, WebRTC's freeze rule); [`quality`] is the opinion model of a frame.
//! Decisions: [`controller`] (the [`Controller`] trait, the resolution/fps [`Ladder`], [`Fixed`],
//! [`Oracle`]) and [`gcc`] (Google Congestion Control from draft-ietf-rmcat-gcc with WebRTC's
//! constants). Results: [`score`](mod@score) (frame delay, freezes, quality, utilisation, loss and onl-emu's
//! combined score) and [`bench`](mod@bench) (controllers x traces in parallel, result files).
//! [`dqn`]: the learned controller, a double DQN over resolution x fps x bitrate relative to a
//! receive-rate estimate, its training in simulation and its model files.
//! [`dataset`]: the live wire messages and the JSON-lines metrics dataset the server records.
//! [`offline`]: the same DQN trained offline from a recorded dataset (`rt train --dataset`).
//! [`online`]: the same DQN trained online from a live server's records (`serve --rt-train`),
//! a new network serving only when it scores at least as well on a validation scenario.
//! [`predictor`]: next-interval capacity prediction, an LSTM (from `neuralstream-nn`) against an
//! EWMA, scored by MAPE on the test split. [`series`]: a session's plain series (frame delays, a
//! timeline of capacity, target, delivered rate, delay, resolution and fps) for `rt bench`'s charts.
//!
//! [`Rng`]: neuralstream_core::Rng

#![deny(missing_docs)]

pub mod bench;
pub mod controller;
pub mod cwnd;
pub mod dataset;
pub mod dqn;
pub mod error;
pub mod gcc;
pub mod link;
pub mod offline;
pub mod online;
pub mod predictor;
pub mod quality;
pub mod receiver;
pub mod score;
pub mod series;
pub mod sim;
pub mod source;
pub mod trace;

pub use bench::{run_bench, write_results, BenchReport, ControllerSpec, Summary};
pub use controller::{
    Controller, Decision, Feedback, Fixed, Ladder, LadderPosition, Oracle, PacketReport, Resolution,
};
pub use error::RtError;
pub use gcc::Gcc;
pub use link::{Bottleneck, Fate, LinkConfig, QueueLimit};
pub use score::{score, SessionScore};
pub use sim::{run_session, RtConfig, SessionLog};
pub use trace::{
    assign_splits, read_trace, read_trace_dir, select_split, LinkTrace, MahimahiOptions, Split,
};
