//! Telemetry of served sessions (opt-in, `serve --telemetry`): what one decision request emits,
//! and the sink's counters in `/metrics`.
//!
//! A request emits, through a non-blocking [`TelemetryHandle`]: `session_start` when it carries
//! no chunk (a session's first request), `chunk` for the chunk it reports, `decision` for the
//! answer, and `session_end` when the answer says the video is finished. A full queue drops the
//! event and counts it (`neuralstream_telemetry_events_total{outcome="dropped"}`); a decision
//! never waits on telemetry.

use crate::state::AppState;
use neuralstream_protocol::{DecisionRequest, DecisionResponse};
use neuralstream_telemetry::{now_ms, Event, EventKind, Source, TelemetryHandle};
use std::fmt::Write as _;

/// Emits the events of one answered decision request.
pub fn emit_decision(
    sink: &TelemetryHandle,
    state: &AppState,
    request: &DecisionRequest,
    answer: &DecisionResponse,
) {
    let now = now_ms();
    let media = match request.video.as_deref() {
        Some(name) => state.ctx.media.get(name),
        None => state.ctx.media.iter().next(),
    };
    let video = media.map(|m| m.name.clone());
    match &request.last_chunk {
        None => {
            let mut e = Event::new(EventKind::SessionStart, Source::Serve, now, &answer.session);
            e.video = video.clone();
            e.algorithm = Some(answer.algorithm.clone());
            sink.emit(e);
        }
        Some(report) => {
            let mut e = Event::from_report(Source::Serve, now, &answer.session, report, request);
            e.video = video.clone();
            e.algorithm = Some(answer.algorithm.clone());
            e.bitrate_kbps = media.and_then(|m| m.info.levels.get(report.level).copied());
            sink.emit(e);
        }
    }
    let mut d = Event::from_decision(Source::Serve, now, answer);
    d.video = video.clone();
    d.buffer_s = Some(request.buffer_s);
    sink.emit(d);
    if media.is_some_and(|m| answer.chunk >= m.info.chunks) {
        let mut e = Event::new(EventKind::SessionEnd, Source::Serve, now, &answer.session);
        e.video = video;
        e.algorithm = Some(answer.algorithm.clone());
        e.qoe = Some(answer.qoe_so_far);
        sink.emit(e);
    }
}

/// The sink's counters in the Prometheus text format (nothing when telemetry is off).
pub fn render_metrics(sink: Option<&TelemetryHandle>, out: &mut String) {
    let Some(sink) = sink else { return };
    let s = sink.stats();
    out.push_str("# HELP neuralstream_telemetry_events_total Telemetry events by outcome: emitted (queued), dropped (queue full), rejected (impossible values), written (in a file or acknowledged by the broker), failed (lost after the queue).\n");
    out.push_str("# TYPE neuralstream_telemetry_events_total counter\n");
    for (outcome, n) in [
        ("emitted", s.emitted),
        ("dropped", s.dropped),
        ("rejected", s.rejected),
        ("written", s.written),
        ("failed", s.failed),
    ] {
        let _ = writeln!(
            out,
            "neuralstream_telemetry_events_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    out.push_str("# HELP neuralstream_telemetry_log_resets_total Times the Kafka broker's log was seen to restart (retained events re-sent).\n");
    out.push_str("# TYPE neuralstream_telemetry_log_resets_total counter\n");
    let _ = writeln!(
        out,
        "neuralstream_telemetry_log_resets_total {}",
        s.log_resets
    );
}
