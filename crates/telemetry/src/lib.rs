//! Telemetry of NeuralStream sessions: one versioned event schema, the sinks producers write
//! through, and the consumer that moves a Kafka topic into the Parquet layout.
//!
//! Key design decisions:
//! - **One flat, versioned event** ([`Event`], Arrow form in [`schema`]): chunk, decision, session
//!   start/end and real-time interval events share one table with a `kind` column, so
//!   one Parquet layout holds a whole session in time order. Files and records carry the version;
//!   readers refuse any other with a message naming both.
//! - **Producers never wait on telemetry** ([`sink`]): they hold a [`TelemetryHandle`] whose `emit`
//!   puts the event in a bounded queue or counts it as dropped; a worker thread writes Parquet
//!   ([`parquet_sink`]: zstd, `date=/hour=` partitions, temporary file + rename) or produces to
//!   Kafka ([`kafka`]: `rskafka`, pure Rust, one record per event keyed by session).
//! - **Exactly the events sent, once** ([`consumer`]): the consumer writes Parquet files durably
//!   before it commits its offsets (a small file, replaced atomically: `rskafka` has no consumer
//!   groups), and de-duplicates on (session, chunk, kind, source) against what the layout already holds,
//!   so a crash between the two, or a re-sent record, writes nothing twice.
//!
//! This crate depends on `core` and `protocol` only; `serve`, `play` and `bench` depend on it.

pub mod consumer;
pub mod error;
pub mod event;
pub mod kafka;
pub mod parquet_sink;
pub mod schema;
pub mod sink;

pub use consumer::{consume, ConsumeOptions, ConsumeStats};
pub use error::TelemetryError;
pub use event::{
    now_ms, session_events, EndReason, Event, EventKey, EventKind, IntervalStats, SessionMeta,
    Source, OLDEST_READABLE_VERSION, SCHEMA_VERSION,
};
pub use kafka::KafkaTarget;
pub use parquet_sink::ParquetLayout;
pub use sink::{SinkOptions, Stats, Target, Telemetry, TelemetryHandle};
