//! Telemetry of served sessions (opt-in, `serve --telemetry`): what one decision request emits,
//! and the sink's counters in `/metrics`.
//!
//! A request emits, through a non-blocking [`TelemetryHandle`]: `session_start` when it carries
//! no chunk (a session's first request), `chunk` for the chunk it reports, `decision` for the
//! answer, and `session_end` (reason `completed`) when the answer is the first to say the video
//! is finished. A session the store forgets before that gets its `session_end` from the store's
//! end hook ([`end_hook`]): `idle-timeout` (the client stopped reporting: abandoned), `evicted`
//! (its algorithm failed) or `server-shutdown`; so every session that started gets exactly one
//! `session_end`. A full queue drops the event and counts it
//! (`neuralstream_telemetry_events_total{outcome="dropped"}`); a decision never waits on telemetry.

use crate::sessions::{EndHook, EndedSession};
use crate::state::AppState;
use neuralstream_protocol::{DecisionRequest, DecisionResponse};
use neuralstream_telemetry::{now_ms, EndReason, Event, EventKind, Source, TelemetryHandle};
use std::fmt::Write as _;

/// Emits the events of one answered decision request; `completed_now` says that this answer
/// completed the session ([`crate::sessions::SessionStore::decide_tracked`]).
pub fn emit_decision(
    sink: &TelemetryHandle,
    state: &AppState,
    request: &DecisionRequest,
    answer: &DecisionResponse,
    completed_now: bool,
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
    if completed_now {
        let mut e = Event::new(EventKind::SessionEnd, Source::Serve, now, &answer.session);
        e.video = video;
        e.algorithm = Some(answer.algorithm.clone());
        e.qoe = Some(answer.qoe_so_far);
        e.end_reason = Some(EndReason::Completed);
        sink.emit(e);
    }
}

/// The session store's end hook that emits a `session_end` (with its reason, QoE and stall so
/// far) for each session the store forgets before its end; `videos` are the served videos'
/// names in the media library's order.
pub fn end_hook(sink: TelemetryHandle, videos: Vec<String>) -> EndHook {
    Box::new(move |ended: &EndedSession| {
        let mut e = Event::new(EventKind::SessionEnd, Source::Serve, now_ms(), &ended.id);
        e.video = videos.get(ended.media).cloned();
        e.algorithm = Some(ended.algorithm.clone());
        e.qoe = Some(ended.qoe).filter(|q| q.is_finite());
        e.rebuffer_s = Some(ended.rebuffer_s).filter(|r| r.is_finite() && *r >= 0.0);
        e.end_reason = Some(ended.reason);
        sink.emit(e);
    })
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
