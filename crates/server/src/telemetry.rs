//! Telemetry of served sessions (opt-in, `serve --telemetry`): what one decision request emits,
//! and the sink's counters in `/metrics`.
//!
//! A request emits, through a non-blocking [`TelemetryHandle`]: `session_start` when it carries
//! no chunk (a session's first request), `chunk` for the chunk it reports, `decision` for the
//! answer, and `session_end` (reason `completed`) when the answer is the first to say the video
//! is finished. A session the store forgets before that gets its `session_end` from the store's
//! end hook ([`end_hook`]): `idle-timeout` (the client stopped reporting: abandoned), `evicted`
//! (its algorithm failed) or `server-shutdown`; so every session that started gets exactly one
//! `session_end`. A real-time session (`/api/v1/rt/metrics`, [`RtTelemetry`]) emits
//! `session_start` (the controller as algorithm, `{"source_fps":N}` as client metadata), one
//! `interval` per report answered, and one `session_end`: `completed` when the client closes,
//! `idle-timeout` when it stops reporting or reading, `evicted` when the server closes it for
//! misbehaving, `server-shutdown` when `serve` stops first. A full queue drops the event and counts it
//! (`neuralstream_telemetry_events_total{outcome="dropped"}`); a decision never waits on telemetry.

use crate::sessions::{EndHook, EndedSession};
use crate::state::AppState;
use neuralstream_protocol::{DecisionRequest, DecisionResponse};
use neuralstream_rt::dataset::{IntervalReport, Settings};
use neuralstream_telemetry::{
    now_ms, EndReason, Event, EventKind, IntervalStats, Source, TelemetryHandle,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

/// Telemetry of the real-time sessions of one server: the sink and the sessions started and not
/// yet ended, so the shutdown can end them ([`RtTelemetry::shutdown`]).
#[derive(Debug)]
pub struct RtTelemetry {
    sink: TelemetryHandle,
    live: Mutex<HashMap<String, Arc<RtEnd>>>,
}

/// What ending one real-time session needs; `ended` makes its `session_end` happen once.
#[derive(Debug)]
struct RtEnd {
    controller: String,
    ended: AtomicBool,
}

impl RtEnd {
    /// Emits the `session_end` of `session` unless one was emitted already.
    fn end(&self, sink: &TelemetryHandle, session: &str, reason: EndReason) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut e = Event::new(EventKind::SessionEnd, Source::Serve, now_ms(), session);
        e.algorithm = Some(self.controller.clone());
        e.end_reason = Some(reason);
        sink.emit(e);
    }
}

/// The telemetry of one live real-time session (from [`RtTelemetry::start`]); end it with
/// [`RtSessionTelemetry::end`].
#[derive(Debug)]
pub struct RtSessionTelemetry<'a> {
    rt: &'a RtTelemetry,
    session: String,
    end: Arc<RtEnd>,
    /// The previous report's sender clock, ms (0 before the first: the session's start).
    prev_now_ms: f64,
}

impl RtTelemetry {
    /// Real-time telemetry into `sink`.
    pub fn new(sink: TelemetryHandle) -> Self {
        RtTelemetry {
            sink,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Emits `session_start` of a session decided by `controller` and tracks it until it ends.
    pub fn start(
        &self,
        session: &str,
        controller: &str,
        source_fps: u32,
    ) -> RtSessionTelemetry<'_> {
        let mut e = Event::new(EventKind::SessionStart, Source::Serve, now_ms(), session);
        e.algorithm = Some(controller.to_string());
        e.client = Some(format!(r#"{{"source_fps":{source_fps}}}"#));
        self.sink.emit(e);
        let end = Arc::new(RtEnd {
            controller: controller.to_string(),
            ended: AtomicBool::new(false),
        });
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.to_string(), end.clone());
        RtSessionTelemetry {
            rt: self,
            session: session.to_string(),
            end,
            prev_now_ms: 0.0,
        }
    }

    /// Ends every session still live with `server-shutdown` (called by the shutdown before the
    /// sink is finished); returns how many.
    pub fn shutdown(&self) -> usize {
        let live: Vec<(String, Arc<RtEnd>)> = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (session, end) in &live {
            end.end(&self.sink, session, EndReason::ServerShutdown);
        }
        live.len()
    }
}

impl RtSessionTelemetry<'_> {
    /// Emits the `interval` event of one answered report: what it measured, the target `next`
    /// the controller answered and the controller's time, `decision_us`.
    pub fn interval(&mut self, report: &IntervalReport, next: &Settings, decision_us: f64) {
        let interval_ms = report.now_ms - self.prev_now_ms;
        self.prev_now_ms = report.now_ms;
        let mut stats = IntervalStats {
            seq: report.seq,
            interval_ms: interval_ms.max(0.0),
            rtt_ms: report.rtt_ms,
            target_kbps: next.target_bps / 1000.0,
            decision_us,
            ..IntervalStats::default()
        };
        for &(_, _, arrival_ms, bytes) in &report.packets {
            stats.packets += 1;
            stats.sent_bytes += u64::from(bytes);
            match arrival_ms {
                Some(_) => stats.received_bytes += u64::from(bytes),
                None => stats.lost_packets += 1,
            }
        }
        let e = Event::from_interval(
            Source::Serve,
            now_ms(),
            &self.session,
            &self.end.controller,
            &stats,
        );
        self.rt.sink.emit(e);
    }

    /// Emits the session's `session_end` with `reason` (nothing when the shutdown ended it
    /// already) and stops tracking it.
    pub fn end(self, reason: EndReason) {
        self.end.end(&self.rt.sink, &self.session, reason);
    }
}

impl Drop for RtSessionTelemetry<'_> {
    fn drop(&mut self) {
        let mut live = self.rt.live.lock().unwrap_or_else(|e| e.into_inner());
        if live
            .get(&self.session)
            .is_some_and(|e| Arc::ptr_eq(e, &self.end))
        {
            live.remove(&self.session);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_rt::dataset::SCHEMA_VERSION;
    use neuralstream_telemetry::sink::{SinkOptions, Target, Telemetry};
    use neuralstream_telemetry::ParquetLayout;

    fn report(seq: u64, now_ms: f64) -> IntervalReport {
        IntervalReport {
            v: SCHEMA_VERSION,
            seq,
            now_ms,
            rtt_ms: Some(40.0),
            // 3 packets of 1000 bytes, one lost
            packets: vec![
                (1, now_ms - 40.0, Some(now_ms - 10.0), 1000),
                (2, now_ms - 30.0, None, 1000),
                (3, now_ms - 20.0, Some(now_ms - 5.0), 1000),
            ],
            applied: Settings {
                target_bps: 1e6,
                height: 720,
                fps: 60,
            },
            frame_delay_p50_ms: None,
            frame_delay_max_ms: None,
        }
    }

    #[test]
    fn every_real_time_session_ends_once_the_shutdown_ending_the_live_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let sink =
            Telemetry::start(&Target::Dir(tmp.path().into()), SinkOptions::default()).unwrap();
        let rt = RtTelemetry::new(sink.handle());
        let next = Settings {
            target_bps: 1.5e6,
            height: 720,
            fps: 60,
        };
        // `gone` ends itself (evicted); `live` is still playing at the shutdown, and its own
        // end afterwards writes nothing more.
        let gone = rt.start("gone", "gcc", 30);
        gone.end(EndReason::Evicted);
        let mut live = rt.start("live", "fixed:800", 60);
        live.interval(&report(1, 50.0), &next, 7.0);
        live.interval(&report(2, 100.0), &next, 9.0);
        assert_eq!(rt.shutdown(), 1);
        live.end(EndReason::Completed);
        assert_eq!(rt.shutdown(), 0);
        sink.finish().unwrap();

        let rows = ParquetLayout::new(tmp.path()).read_all().unwrap();
        let ends: Vec<(&str, Option<EndReason>)> = rows
            .iter()
            .filter(|e| e.kind == EventKind::SessionEnd)
            .map(|e| (e.session.as_str(), e.end_reason))
            .collect();
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert!(ends.contains(&("gone", Some(EndReason::Evicted))));
        assert!(ends.contains(&("live", Some(EndReason::ServerShutdown))));
        let mut intervals: Vec<&Event> = rows
            .iter()
            .filter(|e| e.kind == EventKind::Interval)
            .collect();
        intervals.sort_by_key(|e| e.chunk);
        assert_eq!(intervals.len(), 2);
        let e = intervals[1];
        assert_eq!(e.chunk, Some(2));
        assert_eq!(e.interval_ms, Some(50.0));
        // 3000 bytes sent, 2000 received over 50 ms
        assert_eq!(e.send_rate_kbps, Some(480.0));
        assert_eq!(e.throughput_kbps, Some(320.0));
        assert_eq!(e.loss_fraction, Some(1.0 / 3.0));
        assert_eq!(e.bitrate_kbps, Some(1500.0));
        assert_eq!(e.decision_us, Some(9.0));
        assert_eq!(e.algorithm.as_deref(), Some("fixed:800"));
        let start = rows
            .iter()
            .find(|e| e.kind == EventKind::SessionStart && e.session == "gone")
            .unwrap();
        assert_eq!(start.client.as_deref(), Some(r#"{"source_fps":30}"#));
    }
}
