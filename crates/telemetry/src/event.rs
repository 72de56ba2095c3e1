//! The telemetry event: one flat, versioned record shape for every kind of event.
//!
//! One table with a `kind` column and nullable columns, rather than one table per kind: a session's
//! chunks, decisions and its start and end land in the same files in time order, so preprocessing
//! reads one layout, and the columns a kind does not use cost almost nothing in Parquet (all-null
//! pages). The Arrow form of this record is in [`crate::schema`]; the Kafka form is its JSON
//! (`serde`), tagged with the schema version in a record header.

use crate::error::TelemetryError;
use neuralstream_core::{ChunkRecord, Decision as AbrDecision};
use neuralstream_protocol::{ChunkReport, DecisionRequest, DecisionResponse, MAX_SECONDS};
use serde::{Deserialize, Serialize};

/// Version of the event shape. Bump it when a column is added, removed, renamed or changes
/// meaning; readers refuse files and records of another version with a message naming both.
///
/// Version 2 added `end_reason` (why a `session_end` was written) as the last column; files and
/// records of version 1 are still read (their `end_reason` is empty, and a version-1
/// `session_end` always meant a finished session).
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest version readers still accept (files and records from
/// [`OLDEST_READABLE_VERSION`] to [`SCHEMA_VERSION`] are read; writers write [`SCHEMA_VERSION`]).
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// Longest session id accepted (the protocol's session ids are shorter).
pub const MAX_SESSION_BYTES: usize = 256;

/// Which producer wrote an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `neuralstream serve` (decisions made over HTTP).
    Serve,
    /// `neuralstream play` (the native player).
    Play,
    /// `neuralstream bench` (simulated sessions).
    Bench,
}

impl Source {
    /// Name stored in the `source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Serve => "serve",
            Source::Play => "play",
            Source::Bench => "bench",
        }
    }

    /// Parses a `source` column value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "serve" => Source::Serve,
            "play" => Source::Play,
            "bench" => Source::Bench,
            _ => return None,
        })
    }
}

/// What an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A session began; `client` holds the client's metadata.
    SessionStart,
    /// A chunk was downloaded (level, bytes, request/response times, throughput, buffer, stall).
    Chunk,
    /// The server (or a local algorithm) chose the level of chunk `chunk`, with its reasons.
    Decision,
    /// A session ended; `qoe` is its score under the producer's QoE model.
    SessionEnd,
    /// One feedback interval of a real-time session (`serve`'s `/api/v1/rt/metrics`), built by
    /// [`Event::from_interval`]: `chunk` is the report's `seq`, `interval_ms`, `send_rate_kbps`,
    /// `throughput_kbps` (receive rate), `rtt_ms`, `loss_fraction` what the sender reported, and
    /// `bitrate_kbps`/`decision_us` the controller's answer and its time. Written since schema
    /// version 2 without a new version (its columns were reserved for it from version 1).
    Interval,
}

impl EventKind {
    /// Name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session_start",
            EventKind::Chunk => "chunk",
            EventKind::Decision => "decision",
            EventKind::SessionEnd => "session_end",
            EventKind::Interval => "interval",
        }
    }

    /// Parses a `kind` column value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "session_start" => EventKind::SessionStart,
            "chunk" => EventKind::Chunk,
            "decision" => EventKind::Decision,
            "session_end" => EventKind::SessionEnd,
            "interval" => EventKind::Interval,
            _ => return None,
        })
    }
}

/// Why a session ended (`session_end`'s `end_reason`, schema version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The video's last chunk was played (or the simulated or recorded session finished).
    Completed,
    /// The client stopped reporting before the end and the server dropped the session after its
    /// idle limit: the viewer abandoned it (or lost the connection).
    IdleTimeout,
    /// The server dropped a live session for another reason (its algorithm failed).
    Evicted,
    /// The server shut down while the session was still playing.
    ServerShutdown,
}

impl EndReason {
    /// Name stored in the `end_reason` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::Evicted => "evicted",
            EndReason::ServerShutdown => "server-shutdown",
        }
    }

    /// Parses an `end_reason` column value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "completed" => EndReason::Completed,
            "idle-timeout" => EndReason::IdleTimeout,
            "evicted" => EndReason::Evicted,
            "server-shutdown" => EndReason::ServerShutdown,
            _ => return None,
        })
    }
}

/// One telemetry event. Fields a kind does not use are `None`.
///
/// Times named `_ms` without a clock are on the client's clock (any epoch; only differences
/// matter), as the protocol's chunk reports are; `time_ms` is the producer's wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What the event describes.
    pub kind: EventKind,
    /// Who wrote it.
    pub source: Source,
    /// When the producer recorded it, ms since the Unix epoch (UTC); files are partitioned by it.
    pub time_ms: i64,
    /// Session id.
    pub session: String,
    /// Video (media id or video name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    /// Algorithm deciding for the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Chunk index (the downloaded chunk for `chunk`, the decided one for `decision`; the
    /// report's `seq` for `interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// Ladder level (downloaded for `chunk`, chosen for `decision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    /// That level's nominal bitrate, kbit/s (`interval`: the encoder target the controller
    /// answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<f64>,
    /// Bytes downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// When the chunk's request was sent, ms on the client's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_start_ms: Option<f64>,
    /// When its last byte arrived, ms on the client's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_end_ms: Option<f64>,
    /// Measured throughput of the chunk, kbit/s (`interval`: the receive rate, bytes of the
    /// packets that arrived over the interval's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_kbps: Option<f64>,
    /// Playback buffer after the chunk arrived, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_s: Option<f64>,
    /// Stall caused by the chunk (`chunk`), or of the whole session (`session_end`), seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuffer_s: Option<f64>,
    /// Decision reason: throughput the algorithm expects, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_throughput_kbps: Option<f64>,
    /// Decision reason: buffer level the algorithm aims for, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_target_s: Option<f64>,
    /// Time spent deciding, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_us: Option<f64>,
    /// QoE: the session's so far (`decision`) or final (`session_end`) score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qoe: Option<f64>,
    /// Client metadata (`session_start`): a short JSON object (player, user agent, trace, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// `interval`: the interval's length on the sender's clock, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<f64>,
    /// `interval`: send rate (bytes of the packets sent in the interval over its length), kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_rate_kbps: Option<f64>,
    /// Round-trip time, ms (a chunk's measured RTT when the client reports it; `interval`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// `interval`: fraction of the reported packets lost, 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_fraction: Option<f64>,
    /// Why the session ended (`session_end`; version 2, empty in version-1 data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
}

/// What one real-time feedback interval measured and what the controller answered: the input of
/// [`Event::from_interval`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntervalStats {
    /// The report's number in its session (1, 2, 3, ...); stored as `chunk`, so each interval
    /// has its own de-duplication key.
    pub seq: u64,
    /// Length of the interval on the sender's clock, ms (from the previous report, or from the
    /// session's start for the first).
    pub interval_ms: f64,
    /// Bytes of the packets the report accounts for (sent in the interval, arrived or lost).
    pub sent_bytes: u64,
    /// Bytes of those packets that arrived.
    pub received_bytes: u64,
    /// Packets the report accounts for.
    pub packets: u64,
    /// Packets of those reported lost.
    pub lost_packets: u64,
    /// Round-trip time of the newest packet, ms, when one arrived.
    pub rtt_ms: Option<f64>,
    /// The encoder target the controller answered, kbit/s.
    pub target_kbps: f64,
    /// Time the controller spent deciding, µs.
    pub decision_us: f64,
}

/// What identifies an event for de-duplication: (session, chunk), refined by who wrote it and
/// what it describes (a served session's `chunk` and `decision` of one chunk, and the player's
/// own record of it, are three events). A retried report or a record delivered twice has the
/// same key; `session_start`/`session_end` have no chunk.
pub type EventKey = (String, Option<u32>, EventKind, Source);

impl Event {
    /// An event of `kind` for `session` with every optional field empty.
    pub fn new(kind: EventKind, source: Source, time_ms: i64, session: impl Into<String>) -> Self {
        Event {
            kind,
            source,
            time_ms,
            session: session.into(),
            video: None,
            algorithm: None,
            chunk: None,
            level: None,
            bitrate_kbps: None,
            size_bytes: None,
            request_start_ms: None,
            response_end_ms: None,
            throughput_kbps: None,
            buffer_s: None,
            rebuffer_s: None,
            predicted_throughput_kbps: None,
            buffer_target_s: None,
            decision_us: None,
            qoe: None,
            client: None,
            interval_ms: None,
            send_rate_kbps: None,
            rtt_ms: None,
            loss_fraction: None,
            end_reason: None,
        }
    }

    /// The de-duplication key.
    pub fn key(&self) -> EventKey {
        (self.session.clone(), self.chunk, self.kind, self.source)
    }

    /// A `chunk` event from a protocol chunk report and the buffer/stall the same request carried.
    pub fn from_report(
        source: Source,
        time_ms: i64,
        session: &str,
        report: &ChunkReport,
        request: &DecisionRequest,
    ) -> Self {
        let download_ms = report.download_ms();
        let mut e = Event::new(EventKind::Chunk, source, time_ms, session);
        e.video = request.video.clone();
        e.chunk = Some(report.index.min(u32::MAX as usize) as u32);
        e.level = Some(report.level.min(u32::MAX as usize) as u32);
        e.size_bytes = Some(report.size_bytes);
        e.request_start_ms = Some(report.request_start_ms);
        e.response_end_ms = Some(report.request_finish_ms);
        e.throughput_kbps =
            (download_ms > 0.0).then(|| report.size_bytes as f64 * 8.0 / download_ms);
        e.buffer_s = Some(request.buffer_s);
        e.rebuffer_s = Some(request.rebuffer_s);
        e.rtt_ms = report.rtt_ms;
        e
    }

    /// A `decision` event from the server's answer.
    pub fn from_decision(source: Source, time_ms: i64, answer: &DecisionResponse) -> Self {
        let mut e = Event::new(
            EventKind::Decision,
            source,
            time_ms,
            answer.session.as_str(),
        );
        e.algorithm = Some(answer.algorithm.clone());
        e.chunk = Some(answer.chunk.min(u32::MAX as usize) as u32);
        e.level = Some(answer.level.min(u32::MAX as usize) as u32);
        e.bitrate_kbps = Some(answer.bitrate_kbps);
        e.predicted_throughput_kbps = answer.reasons.predicted_throughput_kbps;
        e.buffer_target_s = answer.reasons.buffer_target_s;
        e.decision_us = Some(answer.decision_us);
        e.qoe = Some(answer.qoe_so_far);
        e
    }

    /// An `interval` event of a real-time session decided by `controller`. The rates are the
    /// interval's bytes over its length (none when the length is not positive), the loss fraction
    /// the lost packets over those reported (none when none were reported).
    pub fn from_interval(
        source: Source,
        time_ms: i64,
        session: &str,
        controller: &str,
        s: &IntervalStats,
    ) -> Self {
        let mut e = Event::new(EventKind::Interval, source, time_ms, session);
        e.algorithm = Some(controller.to_string());
        e.chunk = Some(s.seq.min(u64::from(u32::MAX)) as u32);
        e.interval_ms = Some(s.interval_ms);
        // bits per ms is kbit/s
        let rate = |bytes: u64| (s.interval_ms > 0.0).then(|| bytes as f64 * 8.0 / s.interval_ms);
        e.send_rate_kbps = rate(s.sent_bytes);
        e.throughput_kbps = rate(s.received_bytes);
        e.loss_fraction = (s.packets > 0).then(|| s.lost_packets as f64 / s.packets as f64);
        e.rtt_ms = s.rtt_ms;
        e.bitrate_kbps = Some(s.target_kbps);
        e.decision_us = Some(s.decision_us);
        e
    }

    /// Checks what a decoder cannot: a non-empty, bounded session id, a non-negative event time,
    /// finite values (non-negative where a negative one means nothing: times, sizes, rates,
    /// buffers, stalls) and a response no earlier than its request.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        let bad = |field: &'static str, problem: String| {
            Err(TelemetryError::InvalidEvent {
                session: excerpt(&self.session),
                field,
                problem,
            })
        };
        if self.session.is_empty() || self.session.len() > MAX_SESSION_BYTES {
            return bad(
                "session",
                format!(
                    "must be 1 to {MAX_SESSION_BYTES} bytes, got {}",
                    self.session.len()
                ),
            );
        }
        if self.time_ms < 0 {
            return bad(
                "time_ms",
                format!("must be >= 0 (Unix ms), got {}", self.time_ms),
            );
        }
        let limit = MAX_SECONDS * 1000.0;
        let non_negative = [
            ("bitrate_kbps", self.bitrate_kbps),
            ("request_start_ms", self.request_start_ms),
            ("response_end_ms", self.response_end_ms),
            ("throughput_kbps", self.throughput_kbps),
            ("buffer_s", self.buffer_s),
            ("rebuffer_s", self.rebuffer_s),
            ("predicted_throughput_kbps", self.predicted_throughput_kbps),
            ("buffer_target_s", self.buffer_target_s),
            ("decision_us", self.decision_us),
            ("interval_ms", self.interval_ms),
            ("send_rate_kbps", self.send_rate_kbps),
            ("rtt_ms", self.rtt_ms),
        ];
        for (field, value) in non_negative {
            if let Some(v) = value {
                if !(v.is_finite() && (0.0..=f64::MAX).contains(&v)) {
                    return bad(field, format!("must be a finite number >= 0, got {v}"));
                }
            }
        }
        if let (Some(start), Some(end)) = (self.request_start_ms, self.response_end_ms) {
            if end < start || end - start > limit {
                return bad(
                    "response_end_ms",
                    format!("must be from request_start_ms ({start}) to {limit:e} ms after it, got {end}"),
                );
            }
        }
        if let Some(q) = self.qoe {
            if !q.is_finite() {
                return bad("qoe", format!("must be finite, got {q}"));
            }
        }
        if let Some(l) = self.loss_fraction {
            if !(0.0..=1.0).contains(&l) {
                return bad("loss_fraction", format!("must be from 0 to 1, got {l}"));
            }
        }
        Ok(())
    }
}

/// What names one recorded or simulated session in its events.
#[derive(Debug, Clone)]
pub struct SessionMeta<'a> {
    /// Who produced it (`play` or `bench`).
    pub source: Source,
    /// Session id (unique within the telemetry data set).
    pub session: &'a str,
    /// Video name.
    pub video: &'a str,
    /// Algorithm.
    pub algorithm: &'a str,
    /// Client metadata of `session_start` (a short JSON object).
    pub client: Option<String>,
    /// Wall clock of the session's start, ms since the Unix epoch; chunk events are stamped at
    /// this plus their session-clock finish time.
    pub start_ms: i64,
}

/// The events of a whole session a player or the simulator recorded: `session_start`, then per
/// chunk a `decision` (with its reasons) and a `chunk`, then `session_end` with `qoe` (reason
/// `completed`: these sessions are recorded when they finish).
/// `records[k]` and `decisions[k]` describe chunk k; `bitrate_kbps` comes from the record.
pub fn session_events(
    meta: &SessionMeta<'_>,
    records: &[ChunkRecord],
    decisions: &[AbrDecision],
    qoe: f64,
) -> Vec<Event> {
    let base = |kind, at_ms: i64| {
        let mut e = Event::new(kind, meta.source, at_ms, meta.session);
        e.video = Some(meta.video.to_string());
        e.algorithm = Some(meta.algorithm.to_string());
        e
    };
    let mut out = Vec::with_capacity(2 * records.len() + 2);
    let mut start = base(EventKind::SessionStart, meta.start_ms);
    start.client = meta.client.clone();
    out.push(start);
    let mut end_ms = meta.start_ms;
    for (k, r) in records.iter().enumerate() {
        let chunk = r.index.min(u32::MAX as usize) as u32;
        let at = |s: f64| meta.start_ms.saturating_add((s.max(0.0) * 1000.0) as i64);
        if let Some(d) = decisions.get(k) {
            let mut e = base(EventKind::Decision, at(r.request_s));
            e.chunk = Some(chunk);
            e.level = Some(d.level.min(u32::MAX as usize) as u32);
            e.predicted_throughput_kbps = d.predicted_throughput_kbps;
            e.buffer_target_s = d.buffer_target_s;
            out.push(e);
        }
        let mut e = base(EventKind::Chunk, at(r.finish_s));
        end_ms = e.time_ms;
        e.chunk = Some(chunk);
        e.level = Some(r.level.min(u32::MAX as usize) as u32);
        e.bitrate_kbps = Some(r.bitrate_kbps);
        e.size_bytes = Some(r.size_bytes);
        e.request_start_ms = Some(r.request_s * 1000.0);
        e.response_end_ms = Some(r.request_s * 1000.0 + r.delay_ms);
        e.throughput_kbps = (r.delay_ms > 0.0).then(|| r.throughput_kbps());
        e.buffer_s = Some(r.buffer_s);
        e.rebuffer_s = Some(r.rebuffer_s);
        out.push(e);
    }
    let mut end = base(EventKind::SessionEnd, end_ms);
    end.rebuffer_s = Some(records.iter().map(|r| r.rebuffer_s).sum());
    end.qoe = qoe.is_finite().then_some(qoe);
    end.end_reason = Some(EndReason::Completed);
    out.push(end);
    out
}

/// At most 40 characters of `s`, for messages.
pub(crate) fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk() -> Event {
        let mut e = Event::new(EventKind::Chunk, Source::Play, 1_700_000_000_000, "s1");
        e.chunk = Some(3);
        e.request_start_ms = Some(100.0);
        e.response_end_ms = Some(250.0);
        e.buffer_s = Some(4.0);
        e
    }

    #[test]
    fn valid_event_passes() {
        chunk().validate().unwrap();
    }

    #[test]
    fn nan_and_negative_times_are_refused_with_the_field() {
        let mut e = chunk();
        e.buffer_s = Some(f64::NAN);
        let msg = e.validate().unwrap_err().to_string();
        assert!(msg.contains("buffer_s") && msg.contains("NaN"), "{msg}");
        let mut e = chunk();
        e.request_start_ms = Some(-5.0);
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("request_start_ms"));
        let mut e = chunk();
        e.time_ms = -1;
        assert!(e.validate().unwrap_err().to_string().contains("time_ms"));
        let mut e = chunk();
        e.response_end_ms = Some(50.0);
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("response_end_ms"));
        let mut e = chunk();
        e.session.clear();
        assert!(e.validate().unwrap_err().to_string().contains("session"));
    }

    #[test]
    fn a_session_becomes_start_decisions_chunks_end_all_valid() {
        let records: Vec<ChunkRecord> = (0..3)
            .map(|i| ChunkRecord {
                index: i,
                level: i,
                bitrate_kbps: 300.0,
                size_bytes: 1000,
                delay_ms: 200.0,
                buffer_s: 4.0,
                request_s: i as f64,
                finish_s: i as f64 + 0.2,
                ..ChunkRecord::default()
            })
            .collect();
        let decisions: Vec<AbrDecision> = (0..3).map(AbrDecision::level).collect();
        let meta = SessionMeta {
            source: Source::Bench,
            session: "bb/trace1",
            video: "pensieve",
            algorithm: "bb",
            client: None,
            start_ms: 1_000,
        };
        let events = session_events(&meta, &records, &decisions, 12.5);
        assert_eq!(events.len(), 8);
        assert_eq!(events[0].kind, EventKind::SessionStart);
        assert_eq!(events[7].qoe, Some(12.5));
        assert_eq!(events[2].throughput_kbps, Some(40.0));
        let keys: std::collections::HashSet<_> = events.iter().map(Event::key).collect();
        assert_eq!(keys.len(), events.len(), "every event has its own key");
        for e in &events {
            e.validate().unwrap();
        }
    }

    fn interval() -> IntervalStats {
        IntervalStats {
            seq: 4,
            interval_ms: 50.0,
            sent_bytes: 12_500,
            received_bytes: 10_000,
            packets: 10,
            lost_packets: 2,
            rtt_ms: Some(42.0),
            target_kbps: 1800.0,
            decision_us: 12.0,
        }
    }

    #[test]
    fn an_interval_becomes_rates_and_loss_and_validates() {
        let e = Event::from_interval(Source::Serve, 1_000, "rt-1", "gcc", &interval());
        e.validate().unwrap();
        assert_eq!(e.kind, EventKind::Interval);
        assert_eq!(e.chunk, Some(4));
        assert_eq!(e.send_rate_kbps, Some(2000.0));
        assert_eq!(e.throughput_kbps, Some(1600.0));
        assert_eq!(e.loss_fraction, Some(0.2));
        assert_eq!(e.rtt_ms, Some(42.0));
        assert_eq!(e.bitrate_kbps, Some(1800.0));
        assert_eq!(e.algorithm.as_deref(), Some("gcc"));
        // An empty or zero-length interval has no rates and no loss, and is still valid.
        let empty = IntervalStats {
            interval_ms: 0.0,
            packets: 0,
            lost_packets: 0,
            ..interval()
        };
        let e = Event::from_interval(Source::Serve, 1_000, "rt-1", "gcc", &empty);
        e.validate().unwrap();
        assert_eq!((e.send_rate_kbps, e.loss_fraction), (None, None));
    }

    #[test]
    fn impossible_interval_values_are_refused_with_the_field() {
        let base = Event::from_interval(Source::Serve, 1_000, "rt-1", "gcc", &interval());
        for (field, edit) in [
            (
                "interval_ms",
                (|e: &mut Event| e.interval_ms = Some(-1.0)) as fn(&mut Event),
            ),
            ("send_rate_kbps", |e| e.send_rate_kbps = Some(f64::NAN)),
            ("rtt_ms", |e| e.rtt_ms = Some(f64::INFINITY)),
            ("loss_fraction", |e| e.loss_fraction = Some(1.5)),
            ("loss_fraction", |e| e.loss_fraction = Some(f64::NAN)),
            ("decision_us", |e| e.decision_us = Some(-3.0)),
        ] {
            let mut e = base.clone();
            edit(&mut e);
            let msg = e.validate().unwrap_err().to_string();
            assert!(msg.contains(field), "{field}: {msg}");
        }
    }

    #[test]
    fn kinds_and_sources_round_trip_their_names() {
        for k in [
            EventKind::SessionStart,
            EventKind::Chunk,
            EventKind::Decision,
            EventKind::SessionEnd,
            EventKind::Interval,
        ] {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        for s in [Source::Serve, Source::Play, Source::Bench] {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        assert_eq!(EventKind::parse("chunks"), None);
        for r in [
            EndReason::Completed,
            EndReason::IdleTimeout,
            EndReason::Evicted,
            EndReason::ServerShutdown,
        ] {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            // The JSON (Kafka) spelling is the column's.
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(EndReason::parse("abandoned"), None);
    }
}
