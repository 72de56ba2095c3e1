//! Real-time sessions over WebSocket (`/api/v1/rt/metrics`): a live sender reports its feedback
//! once per interval and gets its next encoder target, resolution and fps back, decided by the
//! same `neuralstream-rt` controller code `rt bench` runs. Messages and close codes:
//! `docs/rt_dataset.md`.
//!
//! **Key design decision:** one tokio task per connection owns its controller outright (no lock
//! on the decision path): a report is parsed, checked, decided and answered in that task, so a
//! decision costs one controller step and a JSON round, and a slow or hostile client can only
//! stall its own task. Every way a client can misbehave ends its connection with a close code and
//! a reason, and nothing else: invalid JSON or fields (1007), binary frames (1003), a message over
//! the size limit (1009), more reports per second than the rate limit (1008), a `seq` out of
//! order (1008), silence past the idle timeout (4000), not reading its answers (4001: a send that
//! cannot complete within [`RtLimits::send_timeout`]), a session id live on another connection
//! (4009), and the session cap (1013). Records for `--rt-dataset` go through a bounded queue to
//! one writer thread; when it is full records are dropped and counted, never waited for.

use crate::metrics::Histogram;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use neuralstream_rt::dataset::{
    DatasetWriter, DecisionMessage, IntervalReport, Record, Settings, SCHEMA_VERSION,
};
use neuralstream_rt::dqn::DqnController;
use neuralstream_rt::{Controller, ControllerSpec, Fixed, Gcc};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Close code: binary frame.
pub const CLOSE_UNSUPPORTED: u16 = 1003;
/// Close code: invalid JSON or a field out of range.
pub const CLOSE_INVALID: u16 = 1007;
/// Close code: policy (bad query, rate limit, `seq` out of order).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: message too big.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: session cap reached, try again later.
pub const CLOSE_TRY_LATER: u16 = 1013;
/// Close code: no report within the idle timeout.
pub const CLOSE_IDLE: u16 = 4000;
/// Close code: the client does not read its answers.
pub const CLOSE_NOT_READING: u16 = 4001;
/// Close code: the session id is live on another connection.
pub const CLOSE_DUPLICATE: u16 = 4009;
/// Close codes counted in the metrics (1000: the client closed, or the server shut down).
const CLOSE_CODES: [u16; 9] = [
    1000,
    CLOSE_UNSUPPORTED,
    CLOSE_INVALID,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TRY_LATER,
    CLOSE_IDLE,
    CLOSE_NOT_READING,
    CLOSE_DUPLICATE,
];
/// Longest session id, characters.
pub const MAX_SESSION_ID_LEN: usize = 64;
/// Longest a close frame may wait for a client to read it (one that stopped reading gets this
/// long to start again and see why it is closed).
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Records the dataset queue holds before it drops (about 3 s at 20,000 reports/s).
const DATASET_QUEUE: usize = 65_536;

/// Limits of real-time sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct RtLimits {
    /// Most live sessions; one more is closed with 1013. Default 10,000.
    pub max_sessions: usize,
    /// A session with no report for this long is closed with 4000. Default 30 s.
    pub idle: Duration,
    /// Largest message accepted, bytes; larger ones close with 1009. Default 256 KiB (a report of
    /// 4096 packets fits).
    pub max_message_bytes: usize,
    /// Reports per second a session may send on average (one per 50 ms interval is 20). Default 100.
    pub max_reports_per_s: f64,
    /// Reports a session may send in a burst above the rate. Default 200.
    pub burst: f64,
    /// Longest an answer may wait for the client to read; past it the session closes with 4001.
    /// Default 5 s.
    pub send_timeout: Duration,
    /// The live dashboard feed's limits (`/api/v1/rt/live`, [`crate::rt_feed`]).
    pub feed: crate::rt_feed::FeedLimits,
}

impl Default for RtLimits {
    fn default() -> Self {
        RtLimits {
            max_sessions: 10_000,
            idle: Duration::from_secs(30),
            max_message_bytes: 256 * 1024,
            max_reports_per_s: 100.0,
            burst: 200.0,
            send_timeout: Duration::from_secs(5),
            feed: crate::rt_feed::FeedLimits::default(),
        }
    }
}

/// What `serve` is told about real-time sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RtServeConfig {
    /// Controllers clients may choose (`gcc`, `fixed[:KBPS]`, `learned:PATH`); the first is the
    /// default. Empty: real-time sessions are off.
    pub controllers: Vec<String>,
    /// Folder of the JSON-lines dataset every interval is recorded to (`--rt-dataset`).
    pub dataset_dir: Option<PathBuf>,
    /// Limits.
    pub limits: RtLimits,
}

/// Counters of real-time sessions.
#[derive(Debug, Default)]
struct RtMetrics {
    sessions_total: AtomicU64,
    reports_total: AtomicU64,
    closes: [AtomicU64; CLOSE_CODES.len()],
    decision: Histogram,
    per_controller: Vec<AtomicU64>,
    dataset_records: AtomicU64,
    dataset_dropped: AtomicU64,
}

/// The dataset writer thread and its queue.
#[derive(Debug)]
struct DatasetSink {
    queue: Mutex<Option<std::sync::mpsc::SyncSender<Record>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Real-time sessions' shared state.
#[derive(Debug)]
pub struct RtState {
    controllers: Vec<(String, ControllerSpec)>,
    limits: RtLimits,
    live: Mutex<HashSet<String>>,
    metrics: RtMetrics,
    dataset: Option<DatasetSink>,
    /// The live dashboard feed of these sessions ([`crate::rt_feed`]).
    pub feed: Arc<crate::rt_feed::LiveFeed>,
    // ---- online training (`--rt-train`, crate::rt_train) ----
    train: Option<crate::rt_train::RtTrainer>,
    /// Telemetry of these sessions (`serve --telemetry`), if on.
    telemetry: Option<crate::telemetry::RtTelemetry>,
}

/// Why a real-time configuration is refused.
fn config_error(message: String) -> crate::ServerError {
    crate::ServerError::Rt(message)
}

impl RtState {
    /// Loads the controllers (learned models included) and starts the dataset writer; `None`
    /// when no controller is enabled.
    pub fn new(config: &RtServeConfig) -> Result<Option<Self>, crate::ServerError> {
        if config.controllers.is_empty() {
            return Ok(None);
        }
        let mut controllers: Vec<(String, ControllerSpec)> = Vec::new();
        for name in &config.controllers {
            let spec = ControllerSpec::parse(name)
                .map_err(|e| config_error(format!("--rt-controllers: {e}")))?;
            if spec == ControllerSpec::Oracle {
                return Err(config_error(
                    "--rt-controllers: 'oracle' reads the trace ahead and only runs in `rt bench`; serve gcc, fixed or learned:PATH".into(),
                ));
            }
            if controllers.iter().any(|(n, _)| n == name.trim()) {
                return Err(config_error(format!(
                    "--rt-controllers: '{}' is listed twice",
                    name.trim()
                )));
            }
            controllers.push((name.trim().to_string(), spec));
        }
        let l = &config.limits;
        if l.max_sessions == 0
            || l.max_message_bytes < 256
            || !(l.max_reports_per_s > 0.0 && l.max_reports_per_s.is_finite())
            || !(l.burst >= 1.0 && l.burst.is_finite())
            || l.idle.is_zero()
            || l.send_timeout.is_zero()
        {
            return Err(config_error(format!(
                "real-time limits out of range: sessions and rate must be positive, a message at least 256 bytes, burst at least 1, timeouts above 0 (got {l:?})"
            )));
        }
        l.feed
            .validate()
            .map_err(|e| config_error(format!("real-time limits: {e}")))?;
        let dataset = match &config.dataset_dir {
            None => None,
            Some(dir) => {
                let mut writer = DatasetWriter::new(dir)
                    .map_err(|e| config_error(format!("--rt-dataset: {e}")))?;
                let (tx, rx) = std::sync::mpsc::sync_channel::<Record>(DATASET_QUEUE);
                let thread = std::thread::Builder::new()
                    .name("rt-dataset".into())
                    .spawn(move || {
                        for record in rx {
                            if let Err(e) = writer.append(&record) {
                                tracing::error!(error = %e, "rt dataset: cannot write; recording stops");
                                return;
                            }
                        }
                        match writer.finish() {
                            Ok(files) => tracing::info!(files = files.len(), "rt dataset closed"),
                            Err(e) => tracing::error!(error = %e, "rt dataset: cannot close"),
                        }
                    })
                    .map_err(|e| config_error(format!("--rt-dataset: cannot start the writer: {e}")))?;
                Some(DatasetSink {
                    queue: Mutex::new(Some(tx)),
                    thread: Mutex::new(Some(thread)),
                })
            }
        };
        let metrics = RtMetrics {
            per_controller: controllers.iter().map(|_| AtomicU64::new(0)).collect(),
            ..Default::default()
        };
        Ok(Some(RtState {
            controllers,
            limits: config.limits.clone(),
            live: Mutex::new(HashSet::new()),
            metrics,
            dataset,
            feed: Arc::new(crate::rt_feed::LiveFeed::new(l.feed.clone())),
            train: None,
            telemetry: None,
        }))
    }

    /// These sessions with telemetry into `sink` (`serve --telemetry`): a `session_start`, an
    /// `interval` per report answered and a `session_end` each ([`crate::telemetry::RtTelemetry`]).
    pub fn with_telemetry(self, sink: Option<&neuralstream_telemetry::TelemetryHandle>) -> Self {
        RtState {
            telemetry: sink.map(|s| crate::telemetry::RtTelemetry::new(s.clone())),
            ..self
        }
    }

    /// Ends the telemetry of the sessions still live (`server-shutdown`), before the sink is
    /// finished; returns how many.
    pub fn end_telemetry(&self) -> usize {
        self.telemetry.as_ref().map_or(0, |t| t.shutdown())
    }

    /// The enabled controllers' names, comma-separated.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.controllers.iter().map(|(n, _)| n.as_str()).collect();
        names.join(",")
    }

    // ---- online training (`--rt-train`, crate::rt_train) ----
    /// Attaches online training to the real-time sessions, when asked for (`--rt-train`): its
    /// trainer takes the one `learned:PATH` controller.
    pub fn attach_training(
        rt: Option<Self>,
        cfg: Option<&crate::rt_train::RtTrainConfig>,
    ) -> Result<Option<Self>, crate::ServerError> {
        match (rt, cfg) {
            (None, Some(_)) => Err(config_error(
                "--rt-train needs real-time sessions: add --rt-controllers gcc,learned:PATH".into(),
            )),
            (Some(rt), Some(cfg)) => {
                let trainer = crate::rt_train::RtTrainer::start(&rt.controllers, cfg)?;
                Ok(Some(RtState {
                    train: Some(trainer),
                    ..rt
                }))
            }
            (rt, None) => Ok(rt),
        }
    }

    /// The online trainer, when `--rt-train` is on.
    pub fn trainer(&self) -> Option<&crate::rt_train::RtTrainer> {
        self.train.as_ref()
    }
    // ---- end online training ----

    /// Sessions live now.
    pub fn active(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Closes the dataset: no more records are taken, the open hour's file is renamed into place.
    /// Returns once the writer thread is done.
    pub fn finish_dataset(&self) {
        if let Some(d) = &self.dataset {
            d.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
            let thread = d.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
    }

    fn record(&self, record: Record) {
        if let Some(t) = &self.train {
            t.submit(&record);
        }
        let Some(d) = &self.dataset else { return };
        let queue = d.queue.lock().unwrap_or_else(|e| e.into_inner());
        let sent = queue.as_ref().is_some_and(|q| q.try_send(record).is_ok());
        let counter = if sent {
            &self.metrics.dataset_records
        } else {
            &self.metrics.dataset_dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The index of the controller a client asks for: its exact name, or its kind (`gcc`,
    /// `learned`, `fixed`) when one enabled controller has it; the first when none is asked.
    fn controller_index(&self, asked: Option<&str>) -> Result<usize, String> {
        let Some(asked) = asked else { return Ok(0) };
        if let Some(i) = self.controllers.iter().position(|(n, _)| n == asked) {
            return Ok(i);
        }
        let kind = |n: &str| n.split(':').next().unwrap_or("").to_ascii_lowercase();
        let same: Vec<usize> = (0..self.controllers.len())
            .filter(|&i| kind(&self.controllers[i].0) == asked.to_ascii_lowercase())
            .collect();
        match same.as_slice() {
            [i] => Ok(*i),
            _ => Err(format!(
                "controller '{}' is not served here; choose one of: {}",
                asked.chars().take(100).collect::<String>(),
                self.names()
            )),
        }
    }

    /// The Prometheus exposition of real-time sessions.
    pub fn render(&self, out: &mut String) {
        let m = &self.metrics;
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_sessions_active Real-time sessions live now.\n# TYPE neuralstream_rt_sessions_active gauge\nneuralstream_rt_sessions_active {}",
            self.active()
        );
        counter(
            out,
            "neuralstream_rt_sessions_total",
            "Real-time sessions opened.",
            m.sessions_total.load(Ordering::Relaxed),
        );
        counter(
            out,
            "neuralstream_rt_reports_total",
            "Real-time reports answered.",
            m.reports_total.load(Ordering::Relaxed),
        );
        out.push_str("# HELP neuralstream_rt_closes_total Real-time sessions closed, by close code.\n# TYPE neuralstream_rt_closes_total counter\n");
        for (code, n) in CLOSE_CODES.iter().zip(&m.closes) {
            let _ = writeln!(
                out,
                "neuralstream_rt_closes_total{{code=\"{code}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP neuralstream_rt_decisions_total Real-time decisions by controller.\n# TYPE neuralstream_rt_decisions_total counter\n");
        for ((name, _), n) in self.controllers.iter().zip(&m.per_controller) {
            let _ = writeln!(
                out,
                "neuralstream_rt_decisions_total{{controller=\"{}\"}} {}",
                name.replace(['\\', '"', '\n'], "_"),
                n.load(Ordering::Relaxed)
            );
        }
        m.decision.render(
            out,
            "neuralstream_rt_decision_duration_seconds",
            "Time from a real-time report's arrival to its answer being ready (parse, check, decide, record, serialise).",
        );
        counter(
            out,
            "neuralstream_rt_dataset_records_total",
            "Real-time intervals queued for the dataset.",
            m.dataset_records.load(Ordering::Relaxed),
        );
        counter(
            out,
            "neuralstream_rt_dataset_dropped_total",
            "Real-time intervals not recorded because the dataset queue was full or closed.",
            m.dataset_dropped.load(Ordering::Relaxed),
        );
        self.feed.render(out);
        if let Some(t) = &self.train {
            t.render(out);
        }
    }
}

/// A fresh controller instance for one session.
fn build(spec: &ControllerSpec) -> Box<dyn Controller + Send> {
    match spec {
        ControllerSpec::Gcc | ControllerSpec::Oracle => Box::new(Gcc::default()),
        ControllerSpec::Fixed(kbps) => Box::new(Fixed::new(kbps * 1000.0)),
        ControllerSpec::Learned(model) => Box::new(DqnController::new(model.clone())),
    }
}

/// `%XX` decoding and `+` as space, for query values.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What the upgrade URL's query asks for.
#[derive(Debug, PartialEq)]
struct Opening {
    session: String,
    controller: usize,
    source_fps: u32,
}

fn parse_query(rt: &RtState, query: Option<&str>) -> Result<Opening, String> {
    let (mut session, mut controller, mut fps) = (None, None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or("the query is not valid percent-encoded UTF-8")?;
        match k {
            "session" => session = Some(v),
            "controller" => controller = Some(v),
            "fps" => fps = Some(v),
            _ => {}
        }
    }
    let session = session.ok_or("no session id: open ?session=ID&controller=NAME&fps=60")?;
    if session.is_empty()
        || session.len() > MAX_SESSION_ID_LEN
        || !session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!(
            "session id must be 1 to {MAX_SESSION_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_', '-'"
        ));
    }
    let controller = rt.controller_index(controller.as_deref())?;
    let source_fps = match fps.as_deref() {
        None => 60,
        Some("30") => 30,
        Some("60") => 60,
        Some(other) => {
            return Err(format!(
                "fps must be 30 or 60, got '{}'",
                other.chars().take(20).collect::<String>()
            ))
        }
    };
    Ok(Opening {
        session,
        controller,
        source_fps,
    })
}

/// `GET /api/v1/rt/metrics`: the WebSocket upgrade (404 when real-time sessions are off).
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(rt) = state.rt.clone() else {
        return crate::response::HttpError::not_found(
            "real-time sessions are off on this server; start it with --rt-controllers gcc",
        )
        .into_response();
    };
    let limit = rt.limits.max_message_bytes;
    // The socket takes a little more than the limit, so a message just over it is read whole and
    // refused with a close code (1009); far larger ones fail the connection.
    let hard = limit.saturating_mul(4).max(64 * 1024);
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| async move { session(rt, socket, query).await })
}

/// Removes a session id from the live set when its connection ends.
struct LiveGuard {
    rt: Arc<RtState>,
    id: String,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.rt
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// How a session ends.
struct Close(u16, String);

async fn close(rt: &RtState, socket: &mut WebSocket, Close(code, reason): Close) {
    if let Some(i) = CLOSE_CODES.iter().position(|&c| c == code) {
        rt.metrics.closes[i].fetch_add(1, Ordering::Relaxed);
    }
    // A close reason is at most 123 bytes.
    let mut reason = reason;
    while reason.len() > 123 {
        reason.pop();
    }
    tracing::debug!(code, %reason, "rt session closed");
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if socket.send(frame).await.is_err() {
            return;
        }
        // The closing handshake: read (and drop) what the client still sends until its close, so
        // the connection is not reset with unread data, which would lose the close frame.
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Token bucket of one session's reports.
struct RateLimit {
    tokens: f64,
    last: Instant,
}

async fn session(rt: Arc<RtState>, mut socket: WebSocket, query: Option<String>) {
    let opening = match parse_query(&rt, query.as_deref()) {
        Ok(o) => o,
        Err(reason) => return close(&rt, &mut socket, Close(CLOSE_POLICY, reason)).await,
    };
    let refusal = {
        let mut live = rt.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.contains(&opening.session) {
            Some(Close(
                CLOSE_DUPLICATE,
                format!(
                    "session '{}' is already live on another connection; use a new id",
                    opening.session
                ),
            ))
        } else if live.len() >= rt.limits.max_sessions {
            Some(Close(
                CLOSE_TRY_LATER,
                format!(
                    "the server is at its cap of {} real-time sessions; retry later",
                    rt.limits.max_sessions
                ),
            ))
        } else {
            live.insert(opening.session.clone());
            None
        }
    };
    if let Some(refusal) = refusal {
        return close(&rt, &mut socket, refusal).await;
    }
    let guard = LiveGuard {
        rt: rt.clone(),
        id: opening.session.clone(),
    };
    rt.metrics.sessions_total.fetch_add(1, Ordering::Relaxed);
    let mut telemetry = rt.telemetry.as_ref().map(|t| {
        t.start(
            &opening.session,
            &rt.controllers[opening.controller].0,
            opening.source_fps,
        )
    });
    let end = serve_reports(&rt, &mut socket, &opening, telemetry.as_mut()).await;
    if let Some(t) = telemetry {
        t.end(end_reason(end.as_ref()));
    }
    // The session is over once it stops being served, closing handshake or not.
    drop(guard);
    if let Some(t) = &rt.train {
        t.end_session(&opening.session);
    }
    if let Some(end) = end {
        close(&rt, &mut socket, end).await;
    } else {
        rt.metrics.closes[0].fetch_add(1, Ordering::Relaxed);
    }
}

/// The telemetry `end_reason` of a session that ended with `close` (`None`: the client closed).
fn end_reason(close: Option<&Close>) -> neuralstream_telemetry::EndReason {
    use neuralstream_telemetry::EndReason;
    match close {
        None => EndReason::Completed,
        Some(Close(CLOSE_IDLE | CLOSE_NOT_READING, _)) => EndReason::IdleTimeout,
        Some(_) => EndReason::Evicted,
    }
}

/// Answers reports until the client closes (`None`) or misbehaves (the close to send); each
/// answered report is an `interval` event in `telemetry`, when on.
async fn serve_reports(
    rt: &RtState,
    socket: &mut WebSocket,
    opening: &Opening,
    mut telemetry: Option<&mut crate::telemetry::RtSessionTelemetry<'_>>,
) -> Option<Close> {
    let (name, spec) = &rt.controllers[opening.controller];
    let trained = rt
        .train
        .as_ref()
        .and_then(|t| t.controller_for(opening.controller));
    let mut controller = trained.unwrap_or_else(|| build(spec));
    let mut decision = controller.start(opening.source_fps);
    // The live dashboard's view of this session (removed when this function returns).
    let mut feed = rt.feed.open(&opening.session, name, opening.source_fps);
    let limits = &rt.limits;
    let answer = |seq: u64, next: Settings| {
        let msg = DecisionMessage {
            v: SCHEMA_VERSION,
            seq,
            controller: name.clone(),
            next,
        };
        Message::text(serde_json::to_string(&msg).unwrap_or_default())
    };
    let not_reading = || {
        Close(
            CLOSE_NOT_READING,
            format!(
                "answers not read for {:?}; read every decision",
                limits.send_timeout
            ),
        )
    };
    let first = answer(0, Settings::of(&decision));
    match tokio::time::timeout(limits.send_timeout, socket.send(first)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return None,
        Err(_) => return Some(not_reading()),
    }
    let mut rate = RateLimit {
        tokens: limits.burst,
        last: Instant::now(),
    };
    let mut last_seq = 0u64;
    loop {
        let msg = match tokio::time::timeout(limits.idle, socket.recv()).await {
            Err(_) => {
                return Some(Close(
                    CLOSE_IDLE,
                    format!("idle: no report for {:?}", limits.idle),
                ))
            }
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                let text = e.to_string();
                return (text.contains("too long") || text.contains("too big")).then(|| {
                    Close(
                        CLOSE_TOO_BIG,
                        format!("message over {} bytes", limits.max_message_bytes),
                    )
                });
            }
            Ok(Some(Ok(m))) => m,
        };
        let started = Instant::now();
        let text = match msg {
            Message::Text(t) if t.len() > limits.max_message_bytes => {
                return Some(Close(
                    CLOSE_TOO_BIG,
                    format!(
                        "message of {} bytes, over the limit of {} bytes",
                        t.len(),
                        limits.max_message_bytes
                    ),
                ))
            }
            Message::Text(t) => t,
            Message::Binary(_) => {
                return Some(Close(
                    CLOSE_UNSUPPORTED,
                    "binary frames are not read; send JSON text (docs/rt_dataset.md)".into(),
                ))
            }
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let now = Instant::now();
        rate.tokens = (rate.tokens
            + now.duration_since(rate.last).as_secs_f64() * limits.max_reports_per_s)
            .min(limits.burst);
        rate.last = now;
        if rate.tokens < 1.0 {
            return Some(Close(
                CLOSE_POLICY,
                format!(
                    "rate limit: more than {} reports per second",
                    limits.max_reports_per_s
                ),
            ));
        }
        rate.tokens -= 1.0;
        let report: IntervalReport = match serde_json::from_str(text.as_str()) {
            Ok(r) => r,
            Err(e) => return Some(Close(CLOSE_INVALID, format!("invalid report: {e}"))),
        };
        if let Err(e) = report.validate() {
            return Some(Close(CLOSE_INVALID, format!("invalid report: {e}")));
        }
        if report.seq != last_seq + 1 {
            return Some(Close(
                CLOSE_POLICY,
                format!(
                    "seq {} after {last_seq}; number reports 1, 2, 3, ...",
                    report.seq
                ),
            ));
        }
        last_seq = report.seq;
        let deciding = Instant::now();
        decision = controller.on_feedback(&report.feedback());
        let decision_us = deciding.elapsed().as_secs_f64() * 1e6;
        let next = Settings::of(&decision);
        let reply = answer(report.seq, next);
        feed.observe(&report, &next, controller.estimate_kbps());
        if let Some(t) = telemetry.as_deref_mut() {
            t.interval(&report, &next, decision_us);
        }
        rt.record(Record {
            v: SCHEMA_VERSION,
            session: opening.session.clone(),
            controller: name.clone(),
            source_fps: opening.source_fps,
            unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            report,
            decision: next,
        });
        rt.metrics.decision.record(started.elapsed());
        rt.metrics.reports_total.fetch_add(1, Ordering::Relaxed);
        rt.metrics.per_controller[opening.controller].fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(limits.send_timeout, socket.send(reply)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return None,
            Err(_) => return Some(not_reading()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(controllers: &[&str]) -> RtState {
        let config = RtServeConfig {
            controllers: controllers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        RtState::new(&config).unwrap().unwrap()
    }

    #[test]
    fn the_query_names_session_controller_and_fps() {
        let s = rt(&["gcc", "fixed:800"]);
        let o = parse_query(&s, Some("session=a-1&controller=fixed&fps=30")).unwrap();
        assert_eq!(
            o,
            Opening {
                session: "a-1".into(),
                controller: 1,
                source_fps: 30
            }
        );
        assert_eq!(parse_query(&s, Some("session=x")).unwrap().controller, 0);
        assert_eq!(
            parse_query(&s, Some("session=x&controller=fixed%3A800"))
                .unwrap()
                .controller,
            1
        );
        for (q, want) in [
            ("", "no session id"),
            ("session=a%20b", "session id must be"),
            ("session=a&controller=bola", "choose one of: gcc,fixed:800"),
            ("session=a&fps=25", "fps must be 30 or 60"),
            ("session=%zz", "percent-encoded"),
        ] {
            let e = parse_query(&s, Some(q)).unwrap_err();
            assert!(e.contains(want), "{q}: {e}");
        }
    }

    #[test]
    fn a_close_names_the_session_end_reason() {
        use neuralstream_telemetry::EndReason;
        assert_eq!(end_reason(None), EndReason::Completed);
        for (code, reason) in [
            (CLOSE_IDLE, EndReason::IdleTimeout),
            (CLOSE_NOT_READING, EndReason::IdleTimeout),
            (CLOSE_INVALID, EndReason::Evicted),
            (CLOSE_POLICY, EndReason::Evicted),
            (CLOSE_TOO_BIG, EndReason::Evicted),
            (CLOSE_UNSUPPORTED, EndReason::Evicted),
        ] {
            assert_eq!(
                end_reason(Some(&Close(code, String::new()))),
                reason,
                "{code}"
            );
        }
    }

    #[test]
    fn oracle_and_duplicates_are_refused_at_start() {
        for list in [&["oracle"][..], &["gcc", "gcc"], &["nope"]] {
            let config = RtServeConfig {
                controllers: list.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            let e = RtState::new(&config).unwrap_err().to_string();
            assert!(e.contains("--rt-controllers"), "{e}");
        }
        assert!(RtState::new(&RtServeConfig::default()).unwrap().is_none());
    }
}
