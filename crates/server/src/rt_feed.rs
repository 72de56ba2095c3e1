//! The live feed of real-time sessions, read by the dashboard at `/rt` (issue 21): every live
//! session of `/api/v1/rt/metrics` with its series of receive rate (the capacity estimate a
//! viewer can see), encoder target, network delay, loss, fps and resolution, as a JSON snapshot
//! (`GET /api/v1/rt/sessions`, `GET /api/v1/rt/sessions/{id}`) and a read-only WebSocket
//! (`GET /api/v1/rt/live`) that pushes the list and the watched session's new points a few times
//! a second. Messages: `docs/rt_dashboard.md`.
//!
//! **Key design decision:** the decision path never waits for a viewer. A session's task folds
//! its reports into a point on its own stack and, once per [`FeedLimits::bin_ms`] of session
//! time, pushes that point into its own ring buffer under its own short lock (no other session
//! shares it). A ticker task, running only while someone watches, collects the new points of all
//! sessions every [`FeedLimits::tick`] and sends them as one message on a tokio `broadcast`
//! channel, whose `send` never blocks: a viewer that falls [`FeedLimits::lag_ticks`] ticks behind,
//! or cannot take a message within [`FeedLimits::send_timeout`], is closed (4001) and counted, and
//! nobody else notices. No lock is ever held across an `.await`. Everything is bounded: points per
//! session, sessions listed per message, viewers, the size of a viewer's own messages.
//!
//! Series are what the server sees, so they describe the network, not the picture: the receive
//! rate is the bytes that arrived in a bin over the bin's span of the sender's clock, the delay is
//! the largest one-way packet delay (send to arrival, the network part of frame delay; the
//! server never sees frames), fps and resolution are the controller's decision.

use crate::response::{json_response, HttpError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use neuralstream_rt::dataset::{IntervalReport, Settings};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Version of the feed's messages and snapshots (field `v`).
pub const FEED_SCHEMA_VERSION: u32 = 1;
/// Close code: the viewer cap is reached, try again later.
pub const CLOSE_TRY_LATER: u16 = 1013;
/// Close code: a viewer message that is not `{"watch": ID or null}`.
pub const CLOSE_INVALID: u16 = 1007;
/// Close code: a binary frame or a message over [`MAX_VIEWER_MESSAGE_BYTES`].
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: the viewer is too slow (lagged behind the ticks or did not read).
pub const CLOSE_TOO_SLOW: u16 = 4001;
/// Largest message a viewer may send, bytes (`{"watch": "<64-character id>"}` fits).
pub const MAX_VIEWER_MESSAGE_BYTES: usize = 1024;

/// Limits and rates of the live feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedLimits {
    /// Session time folded into one point, ms (the sender's clock, so an accelerated client
    /// makes points faster). Default 250.
    pub bin_ms: f64,
    /// Points kept per session (a ring buffer; the oldest go). Default 1200 (5 minutes at 250 ms).
    pub points_per_session: usize,
    /// How often the feed pushes to viewers. Default 250 ms (4 Hz).
    pub tick: Duration,
    /// Viewers at once; one more is closed with 1013. Default 16.
    pub max_viewers: usize,
    /// Ticks a viewer may fall behind before it is closed with 4001. Default 16 (4 s).
    pub lag_ticks: usize,
    /// Longest a message to a viewer may wait to be taken; past it the viewer is closed with 4001.
    /// Default 2 s.
    pub send_timeout: Duration,
    /// Sessions described per list message and snapshot (the oldest first); the total is always
    /// given. Default 100.
    pub max_listed: usize,
}

impl Default for FeedLimits {
    fn default() -> Self {
        FeedLimits {
            bin_ms: 250.0,
            points_per_session: 1200,
            tick: Duration::from_millis(250),
            max_viewers: 16,
            lag_ticks: 16,
            send_timeout: Duration::from_secs(2),
            max_listed: 100,
        }
    }
}

impl FeedLimits {
    /// Checks every limit; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.bin_ms.is_finite() && (1.0..=60_000.0).contains(&self.bin_ms)) {
            return Err(format!(
                "feed bin_ms must be 1 to 60000 ms, got {}",
                self.bin_ms
            ));
        }
        for (name, v) in [
            ("points_per_session", self.points_per_session),
            ("max_viewers", self.max_viewers),
            ("lag_ticks", self.lag_ticks),
            ("max_listed", self.max_listed),
        ] {
            if v == 0 {
                return Err(format!("feed {name} must be at least 1"));
            }
        }
        if self.tick.is_zero() || self.send_timeout.is_zero() {
            return Err("feed tick and send_timeout must be above 0".into());
        }
        Ok(())
    }
}

/// One point of a session's series: one bin of session time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Index of the point in its session, from 0 (a viewer drops points it already holds).
    pub i: u64,
    /// End of the bin, s of session time (the sender's clock).
    pub t_s: f64,
    /// Bytes that arrived in the bin over the bin's span, kbit/s (a sender that sends less than
    /// the link carries shows less).
    pub receive_kbps: f64,
    /// The controller's own capacity estimate at the end of the bin, kbit/s
    /// (`rt::Controller::estimate_kbps`); `null` for a controller that keeps none.
    pub estimate_kbps: Option<f64>,
    /// Encoder target the controller asked for at the end of the bin, kbit/s.
    pub target_kbps: f64,
    /// Largest one-way packet delay (send to arrival) in the bin, ms; `null` when no packet
    /// arrived.
    pub delay_ms: Option<f64>,
    /// Largest capture-to-display frame delay the sender reported in the bin
    /// (`frame_delay_max_ms` of its reports), ms; `null` when its reports carry none.
    pub frame_delay_ms: Option<f64>,
    /// Packets reported lost in the bin over packets reported, percent.
    pub loss_pct: f64,
    /// Newest round-trip time reported in the bin, ms.
    pub rtt_ms: Option<f64>,
    /// Frame rate the controller asked for.
    pub fps: u32,
    /// Picture height the controller asked for (480, 720, 1080).
    pub height: u32,
}

/// A live session as listed by the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Unique number of this session on this server (a session id used again later gets a new
    /// key, so a viewer knows to clear its charts).
    pub key: u64,
    /// The client's session id.
    pub id: String,
    /// Controller serving it.
    pub controller: String,
    /// Capture rate the client opened with.
    pub source_fps: u32,
    /// When the session opened, ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// Reports answered so far (counted when a point is made).
    pub reports: u64,
    /// Points held now.
    pub points: usize,
    /// The newest point.
    pub last: Option<Point>,
}

/// One session's series (behind its own lock).
#[derive(Debug)]
struct Series {
    summary: SessionSummary,
    ring: VecDeque<Point>,
    next_i: u64,
    /// Index of the first point not yet pushed to viewers.
    sent_upto: u64,
}

/// What one tick pushes to every viewer.
#[derive(Debug)]
struct Tick {
    /// The list message, serialised once for all viewers.
    list: Arc<str>,
    /// New points per session id, with the session's key.
    points: HashMap<String, (u64, Vec<Point>)>,
}

/// The feed: live sessions' series and the broadcast channel viewers listen on.
#[derive(Debug)]
pub struct LiveFeed {
    limits: FeedLimits,
    sessions: Mutex<HashMap<String, Arc<Mutex<Series>>>>,
    next_key: AtomicU64,
    tx: broadcast::Sender<Arc<Tick>>,
    viewers: AtomicUsize,
    ticking: AtomicBool,
    viewers_total: AtomicU64,
    dropped_slow: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl LiveFeed {
    /// An empty feed (limits checked by [`FeedLimits::validate`] first).
    pub fn new(limits: FeedLimits) -> Self {
        let (tx, _) = broadcast::channel(limits.lag_ticks.max(1));
        LiveFeed {
            limits,
            sessions: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(1),
            tx,
            viewers: AtomicUsize::new(0),
            ticking: AtomicBool::new(false),
            viewers_total: AtomicU64::new(0),
            dropped_slow: AtomicU64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FeedLimits {
        &self.limits
    }

    /// Registers a live session; the handle folds its reports into points and removes the
    /// session from the feed when dropped.
    pub fn open(&self, id: &str, controller: &str, source_fps: u32) -> FeedSession<'_> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let series = Arc::new(Mutex::new(Series {
            summary: SessionSummary {
                key,
                id: id.to_string(),
                controller: controller.to_string(),
                source_fps,
                started_unix_ms: unix_ms(),
                reports: 0,
                points: 0,
                last: None,
            },
            ring: VecDeque::new(),
            next_i: 0,
            sent_upto: 0,
        }));
        lock(&self.sessions).insert(id.to_string(), series.clone());
        FeedSession {
            feed: self,
            key,
            id: id.to_string(),
            series,
            bin: Bin::default(),
            reports: 0,
        }
    }

    /// Sessions live now.
    pub fn live(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Viewers connected now.
    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::Relaxed)
    }

    /// Viewers closed for being too slow, since start.
    pub fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// Summaries of the live sessions, oldest first, at most `max_listed`; and the total.
    pub fn list(&self) -> (Vec<SessionSummary>, usize) {
        let all: Vec<Arc<Mutex<Series>>> = lock(&self.sessions).values().cloned().collect();
        let mut out: Vec<SessionSummary> = all.iter().map(|s| lock(s).summary.clone()).collect();
        out.sort_by_key(|s| s.key);
        let total = out.len();
        out.truncate(self.limits.max_listed);
        (out, total)
    }

    /// A session's summary and every point it holds, oldest first.
    pub fn series(&self, id: &str) -> Option<(SessionSummary, Vec<Point>)> {
        let series = lock(&self.sessions).get(id).cloned()?;
        let s = lock(&series);
        Some((s.summary.clone(), s.ring.iter().copied().collect()))
    }

    /// The list message (`type: "sessions"`), with the sessions that ended since the last tick.
    fn list_message(&self, ended: &[u64]) -> String {
        let (sessions, total) = self.list();
        serde_json::json!({
            "type": "sessions",
            "v": FEED_SCHEMA_VERSION,
            "unix_ms": unix_ms(),
            "total": total,
            "sessions": sessions,
            "ended": ended,
        })
        .to_string()
    }

    /// The series message (`type: "series"`) of session `id`: everything held (`reset: true`) or
    /// the new points of a tick.
    fn series_message(id: &str, key: Option<u64>, points: &[Point], reset: bool) -> String {
        serde_json::json!({
            "type": "series",
            "v": FEED_SCHEMA_VERSION,
            "id": id,
            "key": key,
            "live": key.is_some(),
            "reset": reset,
            "points": points,
        })
        .to_string()
    }

    /// One tick: new points of every session since the last tick, and the list. `known` holds
    /// the keys listed at the previous tick (to say which ended).
    fn collect(&self, known: &mut HashSet<u64>) -> Tick {
        let all: Vec<Arc<Mutex<Series>>> = lock(&self.sessions).values().cloned().collect();
        let mut points = HashMap::with_capacity(all.len());
        let mut now = HashSet::with_capacity(all.len());
        for series in &all {
            let mut s = lock(series);
            let first = s.ring.front().map_or(s.next_i, |p| p.i);
            let skip = s.sent_upto.saturating_sub(first) as usize;
            let new: Vec<Point> = s.ring.iter().skip(skip).copied().collect();
            s.sent_upto = s.next_i;
            now.insert(s.summary.key);
            if !new.is_empty() {
                points.insert(s.summary.id.clone(), (s.summary.key, new));
            }
        }
        let mut ended: Vec<u64> = known.difference(&now).copied().collect();
        ended.sort_unstable();
        *known = now;
        Tick {
            list: self.list_message(&ended).into(),
            points,
        }
    }

    /// Starts the ticker unless it runs (it stops by itself when nobody watches).
    fn ensure_ticking(self: &Arc<Self>) {
        if self
            .ticking
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tokio::spawn(ticker(self.clone()));
        }
    }

    /// The Prometheus exposition of the feed.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_feed_viewers Live dashboard viewers connected now.\n# TYPE neuralstream_rt_feed_viewers gauge\nneuralstream_rt_feed_viewers {}",
            self.viewers()
        );
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_feed_viewers_total Live dashboard viewers accepted.\n# TYPE neuralstream_rt_feed_viewers_total counter\nneuralstream_rt_feed_viewers_total {}",
            self.viewers_total.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP neuralstream_rt_feed_dropped_total Live dashboard viewers closed for being too slow (4001).\n# TYPE neuralstream_rt_feed_dropped_total counter\nneuralstream_rt_feed_dropped_total {}",
            self.dropped_slow()
        );
    }
}

/// Pushes a tick every [`FeedLimits::tick`] while anyone listens; exits when nobody does.
async fn ticker(feed: Arc<LiveFeed>) {
    let mut interval = tokio::time::interval(feed.limits.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut known = HashSet::new();
    loop {
        interval.tick().await;
        if feed.tx.receiver_count() == 0 {
            feed.ticking.store(false, Ordering::Release);
            // A viewer subscribes before it tries to start the ticker, so one that came in
            // between is seen here, and exactly one of us keeps ticking for it.
            if feed.tx.receiver_count() == 0
                || feed
                    .ticking
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                return;
            }
        }
        let tick = feed.collect(&mut known);
        // Never blocks: a viewer that falls behind loses ticks and is closed by its own task.
        let _ = feed.tx.send(Arc::new(tick));
    }
}

/// What one bin has gathered so far (on the session task's stack: no lock).
#[derive(Debug, Default)]
struct Bin {
    start_ms: f64,
    arrived_bytes: u64,
    reported: u64,
    lost: u64,
    max_delay_ms: Option<f64>,
    max_frame_delay_ms: Option<f64>,
    rtt_ms: Option<f64>,
}

/// A live session's handle on the feed: folds reports into points; removes the session when
/// dropped.
#[derive(Debug)]
pub struct FeedSession<'a> {
    feed: &'a LiveFeed,
    key: u64,
    id: String,
    series: Arc<Mutex<Series>>,
    bin: Bin,
    reports: u64,
}

impl FeedSession<'_> {
    /// Folds one answered report, the decision it got and the controller's capacity estimate
    /// after it; makes a point once the bin's span of session time is reached (a short lock on
    /// this session's own series).
    pub fn observe(
        &mut self,
        report: &IntervalReport,
        decision: &Settings,
        estimate_kbps: Option<f64>,
    ) {
        self.reports += 1;
        let b = &mut self.bin;
        if report.now_ms < b.start_ms {
            // A sender clock that went back: start the bin again from here.
            *b = Bin {
                start_ms: report.now_ms,
                ..Bin::default()
            };
        }
        for &(_, send_ms, arrival_ms, bytes) in &report.packets {
            b.reported += 1;
            match arrival_ms {
                Some(a) => {
                    b.arrived_bytes += u64::from(bytes);
                    let d = (a - send_ms).max(0.0);
                    b.max_delay_ms = Some(b.max_delay_ms.map_or(d, |m| m.max(d)));
                }
                None => b.lost += 1,
            }
        }
        if report.rtt_ms.is_some() {
            b.rtt_ms = report.rtt_ms;
        }
        if let Some(d) = report.frame_delay_max_ms {
            b.max_frame_delay_ms = Some(b.max_frame_delay_ms.map_or(d, |m| m.max(d)));
        }
        let span_ms = report.now_ms - b.start_ms;
        if span_ms < self.feed.limits.bin_ms {
            return;
        }
        let mut s = lock(&self.series);
        let point = Point {
            i: s.next_i,
            t_s: report.now_ms / 1000.0,
            // bits per ms is kbit/s
            receive_kbps: b.arrived_bytes as f64 * 8.0 / span_ms,
            estimate_kbps: estimate_kbps.filter(|e| e.is_finite()),
            target_kbps: decision.target_bps / 1000.0,
            delay_ms: b.max_delay_ms,
            frame_delay_ms: b.max_frame_delay_ms,
            loss_pct: if b.reported == 0 {
                0.0
            } else {
                100.0 * b.lost as f64 / b.reported as f64
            },
            rtt_ms: b.rtt_ms,
            fps: decision.fps,
            height: decision.height,
        };
        s.next_i += 1;
        s.ring.push_back(point);
        while s.ring.len() > self.feed.limits.points_per_session {
            s.ring.pop_front();
        }
        s.summary.reports = self.reports;
        s.summary.points = s.ring.len();
        s.summary.last = Some(point);
        drop(s);
        self.bin = Bin {
            start_ms: report.now_ms,
            ..Bin::default()
        };
    }
}

impl Drop for FeedSession<'_> {
    fn drop(&mut self) {
        let mut sessions = lock(&self.feed.sessions);
        if sessions
            .get(&self.id)
            .is_some_and(|s| lock(s).summary.key == self.key)
        {
            sessions.remove(&self.id);
        }
    }
}

/// The feed of a server, or the 404 that says how to turn real-time sessions on.
fn feed_of(state: &AppState) -> Result<Arc<LiveFeed>, HttpError> {
    state.rt.as_ref().map(|rt| rt.feed.clone()).ok_or_else(|| {
        HttpError::not_found(
            "real-time sessions are off on this server; start it with --rt-controllers gcc",
        )
    })
}

/// `GET /api/v1/rt/sessions`: the live sessions (at most `max_listed`, oldest first) and their
/// total.
pub async fn sessions(State(state): State<Arc<AppState>>) -> Result<Response, HttpError> {
    let feed = feed_of(&state)?;
    let (sessions, total) = feed.list();
    let body = serde_json::json!({
        "v": FEED_SCHEMA_VERSION,
        "unix_ms": unix_ms(),
        "bin_ms": feed.limits.bin_ms,
        "total": total,
        "sessions": sessions,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET /api/v1/rt/sessions/{id}`: one live session's summary and every point it holds.
pub async fn session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let feed = feed_of(&state)?;
    let (summary, points) = feed.series(&id).ok_or_else(|| {
        HttpError::not_found(format!(
            "no live real-time session '{}'; GET /api/v1/rt/sessions lists them",
            id.chars().take(100).collect::<String>()
        ))
    })?;
    let body = serde_json::json!({
        "v": FEED_SCHEMA_VERSION,
        "bin_ms": feed.limits.bin_ms,
        "session": summary,
        "points": points,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET /rt`: the dashboard page (`rt.html` of the web root).
pub async fn page(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    match &state.web_root {
        Some(root) => crate::files::serve(root, "rt.html", req).await,
        None => HttpError::not_found(
            "the dashboard is not built: cd web && npm ci && npm run build, then serve with --web-root web/dist",
        )
        .into_response(),
    }
}

/// What a viewer may send: the session to watch, or `null` to watch none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewerMessage {
    watch: Option<String>,
}

/// The session a viewer's URL asks to watch (`?watch=ID`).
fn watch_of(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "watch")
        .map(|(_, v)| v.chars().take(crate::rt_ws::MAX_SESSION_ID_LEN).collect())
        .filter(|v: &String| !v.is_empty())
}

/// `GET /api/v1/rt/live[?watch=ID]`: the feed's WebSocket (404 when real-time sessions are off).
pub async fn live(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let feed = match feed_of(&state) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let watch = watch_of(query.as_deref());
    ws.max_message_size(4 * MAX_VIEWER_MESSAGE_BYTES)
        .max_frame_size(4 * MAX_VIEWER_MESSAGE_BYTES)
        .on_upgrade(move |socket| viewer(feed, socket, watch))
}

/// Releases a viewer's slot.
struct ViewerSlot<'a>(&'a LiveFeed);

impl Drop for ViewerSlot<'_> {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: String) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.chars().take(120).collect::<String>().into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(frame)).await;
}

/// Why a viewer's loop ended: the close to send, if any.
type End = Option<(u16, String)>;

async fn viewer(feed: Arc<LiveFeed>, mut socket: WebSocket, watch: Option<String>) {
    if feed.viewers.fetch_add(1, Ordering::AcqRel) >= feed.limits.max_viewers {
        feed.viewers.fetch_sub(1, Ordering::AcqRel);
        let reason = format!(
            "the dashboard feed is at its cap of {} viewers; retry later",
            feed.limits.max_viewers
        );
        return close(&mut socket, CLOSE_TRY_LATER, reason).await;
    }
    let _slot = ViewerSlot(&feed);
    feed.viewers_total.fetch_add(1, Ordering::Relaxed);
    if let Some((code, reason)) = serve_viewer(&feed, &mut socket, watch).await {
        if code == CLOSE_TOO_SLOW {
            feed.dropped_slow.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(code, %reason, "rt feed viewer closed");
        close(&mut socket, code, reason).await;
    }
}

/// Sends `text` within the send timeout.
async fn send(feed: &LiveFeed, socket: &mut WebSocket, text: &str) -> Result<(), End> {
    match tokio::time::timeout(feed.limits.send_timeout, socket.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some((
            CLOSE_TOO_SLOW,
            format!(
                "too slow: a message waited {:?} to be read",
                feed.limits.send_timeout
            ),
        ))),
    }
}

/// The snapshot of the watched session (`reset`), or `live: false` when it is not live.
fn snapshot(feed: &LiveFeed, id: &str) -> String {
    match feed.series(id) {
        Some((summary, points)) => LiveFeed::series_message(id, Some(summary.key), &points, true),
        None => LiveFeed::series_message(id, None, &[], true),
    }
}

/// Serves one viewer until it leaves (`None`) or must be closed.
async fn serve_viewer(
    feed: &Arc<LiveFeed>,
    socket: &mut WebSocket,
    mut watch: Option<String>,
) -> End {
    // Subscribe before the first snapshot, so no tick falls between them (points already held
    // come twice at worst; the page keeps each index once).
    let mut rx = feed.tx.subscribe();
    feed.ensure_ticking();
    let hello = serde_json::json!({
        "type": "hello",
        "v": FEED_SCHEMA_VERSION,
        "bin_ms": feed.limits.bin_ms,
        "tick_ms": feed.limits.tick.as_millis() as u64,
        "points_per_session": feed.limits.points_per_session,
        "max_listed": feed.limits.max_listed,
    })
    .to_string();
    if let Err(end) = send(feed, socket, &hello).await {
        return end;
    }
    if let Err(end) = send(feed, socket, &feed.list_message(&[])).await {
        return end;
    }
    if let Some(id) = &watch {
        if let Err(end) = send(feed, socket, &snapshot(feed, id)).await {
            return end;
        }
    }
    loop {
        tokio::select! {
            tick = rx.recv() => {
                let tick = match tick {
                    Ok(t) => t,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some((CLOSE_TOO_SLOW, format!("too slow: {n} updates were not read in time; reconnect")));
                    }
                    Err(broadcast::error::RecvError::Closed) => return Some((1001, "the server is shutting down".into())),
                };
                if let Err(end) = send(feed, socket, &tick.list).await {
                    return end;
                }
                if let Some((key, points)) = watch.as_ref().and_then(|id| tick.points.get(id)) {
                    let msg = LiveFeed::series_message(watch.as_deref().unwrap_or(""), Some(*key), points, false);
                    if let Err(end) = send(feed, socket, &msg).await {
                        return end;
                    }
                }
            }
            msg = socket.recv() => {
                let text = match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => return Some((CLOSE_POLICY, "binary frames are not read; send {\"watch\": ID}".into())),
                    Some(Ok(Message::Text(t))) => t,
                };
                if text.len() > MAX_VIEWER_MESSAGE_BYTES {
                    return Some((CLOSE_POLICY, format!("a viewer message is at most {MAX_VIEWER_MESSAGE_BYTES} bytes")));
                }
                match serde_json::from_str::<ViewerMessage>(text.as_str()) {
                    Ok(m) => {
                        watch = m.watch;
                        if let Some(id) = &watch {
                            if let Err(end) = send(feed, socket, &snapshot(feed, id)).await {
                                return end;
                            }
                        }
                    }
                    Err(e) => return Some((CLOSE_INVALID, format!("expected {{\"watch\": ID or null}}: {e}"))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_rt::dataset::SCHEMA_VERSION;

    fn settings(kbps: f64) -> Settings {
        Settings {
            target_bps: kbps * 1000.0,
            height: 720,
            fps: 30,
        }
    }

    /// Interval `seq` (50 ms each): 10 packets of 1000 bytes, the last lost, 30 ms delay.
    fn report(seq: u64) -> IntervalReport {
        let now = 50.0 * seq as f64;
        IntervalReport {
            v: SCHEMA_VERSION,
            seq,
            now_ms: now,
            rtt_ms: Some(60.0),
            packets: (0..10)
                .map(|i| {
                    let send = now - 50.0 + 5.0 * i as f64;
                    (10 * seq + i, send, (i < 9).then_some(send + 30.0), 1000)
                })
                .collect(),
            applied: settings(800.0),
            frame_delay_p50_ms: None,
            frame_delay_max_ms: None,
        }
    }

    fn limits() -> FeedLimits {
        FeedLimits {
            points_per_session: 8,
            ..FeedLimits::default()
        }
    }

    #[test]
    fn reports_fold_into_points_of_one_bin_each() {
        let feed = LiveFeed::new(limits());
        let mut s = feed.open("a", "gcc", 60);
        for seq in 1..=10 {
            s.observe(&report(seq), &settings(900.0), None);
        }
        let (summary, points) = feed.series("a").unwrap();
        // 500 ms of session time in 250 ms bins.
        assert_eq!(points.len(), 2);
        let p = points[1];
        assert_eq!((p.i, p.t_s), (1, 0.5));
        // 5 intervals x 9 arrived packets x 1000 bytes over 250 ms.
        assert!((p.receive_kbps - 5.0 * 9.0 * 8000.0 / 250.0).abs() < 1e-9);
        assert_eq!(p.target_kbps, 900.0);
        assert_eq!(p.delay_ms, Some(30.0));
        assert!((p.loss_pct - 10.0).abs() < 1e-9);
        assert_eq!((p.fps, p.height, p.rtt_ms), (30, 720, Some(60.0)));
        assert_eq!(summary.reports, 10);
        assert_eq!(summary.last, Some(p));
        assert_eq!(
            (summary.id.as_str(), summary.controller.as_str()),
            ("a", "gcc")
        );
    }

    #[test]
    fn a_point_carries_the_estimate_and_the_largest_frame_delay() {
        let feed = LiveFeed::new(limits());
        let mut s = feed.open("a", "gcc", 60);
        for seq in 1..=5 {
            let r = report(seq).with_frame_delays(&[40.0, 10.0 * seq as f64 + 50.0]);
            s.observe(&r, &settings(900.0), Some(1000.0 + seq as f64));
        }
        // An old client's report (no frame delays) adds nothing to the bin's frame delay.
        for seq in 6..=10 {
            s.observe(&report(seq), &settings(900.0), None);
        }
        let (_, points) = feed.series("a").unwrap();
        assert_eq!(points.len(), 2);
        // The estimate after the bin's last report; the largest frame delay of its reports.
        assert_eq!(points[0].estimate_kbps, Some(1005.0));
        assert_eq!(points[0].frame_delay_ms, Some(100.0));
        assert_eq!(
            points[0].delay_ms,
            Some(30.0),
            "network delay kept beside it"
        );
        assert_eq!(
            (points[1].estimate_kbps, points[1].frame_delay_ms),
            (None, None)
        );
        let json = serde_json::to_value(points[1]).unwrap();
        assert!(json["estimate_kbps"].is_null() && json["frame_delay_ms"].is_null());
    }

    #[test]
    fn a_session_holds_at_most_its_ring_and_the_list_is_capped() {
        let feed = LiveFeed::new(FeedLimits {
            max_listed: 3,
            ..limits()
        });
        let mut s = feed.open("a", "gcc", 60);
        for seq in 1..=200 {
            s.observe(&report(seq), &settings(900.0), None);
        }
        let (_, points) = feed.series("a").unwrap();
        assert_eq!(points.len(), 8);
        // The newest 8 of 40 points, in order.
        let idx: Vec<u64> = points.iter().map(|p| p.i).collect();
        assert_eq!(idx, (32..40).collect::<Vec<u64>>());
        let others: Vec<FeedSession> = (0..5)
            .map(|i| feed.open(&format!("b{i}"), "gcc", 30))
            .collect();
        let (listed, total) = feed.list();
        assert_eq!((listed.len(), total), (3, 6));
        assert_eq!(listed[0].id, "a", "oldest first");
        drop(others);
        assert_eq!(feed.live(), 1);
    }

    #[test]
    fn a_tick_carries_only_new_points_and_names_the_sessions_that_ended() {
        let feed = LiveFeed::new(limits());
        let mut known = HashSet::new();
        let mut a = feed.open("a", "gcc", 60);
        let b = feed.open("b", "fixed:800", 60);
        for seq in 1..=5 {
            a.observe(&report(seq), &settings(900.0), None);
        }
        let t1 = feed.collect(&mut known);
        assert_eq!(t1.points["a"].1.len(), 1);
        assert!(!t1.points.contains_key("b"), "no points, no entry");
        let t2 = feed.collect(&mut known);
        assert!(t2.points.is_empty(), "nothing new");
        for seq in 6..=400 {
            a.observe(&report(seq), &settings(900.0), None);
        }
        // 79 new points, but the ring holds 8: only those are sent.
        let t3 = feed.collect(&mut known);
        assert_eq!(t3.points["a"].1.len(), 8);
        let b_key = b.key;
        drop(b);
        let t4 = feed.collect(&mut known);
        let list: serde_json::Value = serde_json::from_str(&t4.list).unwrap();
        assert_eq!(list["ended"], serde_json::json!([b_key]));
        assert_eq!(list["total"], 1);
        assert_eq!(list["sessions"][0]["id"], "a");
    }

    #[test]
    fn session_end_removes_it_and_a_reused_id_gets_a_new_key() {
        let feed = LiveFeed::new(limits());
        let first = feed.open("a", "gcc", 60);
        let key = first.key;
        drop(first);
        assert!(feed.series("a").is_none());
        assert_eq!(feed.list().1, 0);
        let second = feed.open("a", "gcc", 60);
        assert_ne!(second.key, key);
        // A stale handle of an id reused meanwhile does not remove the new session.
        let stale = FeedSession {
            feed: &feed,
            key,
            id: "a".into(),
            series: second.series.clone(),
            bin: Bin::default(),
            reports: 0,
        };
        drop(stale);
        assert_eq!(feed.live(), 1);
    }

    #[test]
    fn a_sender_clock_going_back_restarts_the_bin() {
        let feed = LiveFeed::new(limits());
        let mut s = feed.open("a", "gcc", 60);
        s.observe(&report(10), &settings(900.0), None);
        s.observe(&report(2), &settings(900.0), None);
        for seq in 3..=7 {
            s.observe(&report(seq), &settings(900.0), None);
        }
        let (_, points) = feed.series("a").unwrap();
        assert!(points
            .iter()
            .all(|p| p.receive_kbps.is_finite() && p.receive_kbps >= 0.0));
        assert_eq!(points.last().unwrap().t_s, 0.35);
    }

    #[test]
    fn the_openapi_document_describes_every_field_and_path() {
        let doc: serde_json::Value = serde_json::from_str(crate::api::OPENAPI_JSON).unwrap();
        let feed = LiveFeed::new(limits());
        let mut s = feed.open("a", "gcc", 60);
        for seq in 1..=5 {
            s.observe(&report(seq), &settings(900.0), None);
        }
        let (summary, points) = feed.series("a").unwrap();
        for (schema, value) in [
            ("RtPoint", serde_json::to_value(points[0]).unwrap()),
            ("RtSessionSummary", serde_json::to_value(&summary).unwrap()),
        ] {
            let documented = doc["components"]["schemas"][schema]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{schema} missing"));
            let fields = value.as_object().unwrap();
            assert_eq!(
                documented.keys().collect::<Vec<_>>(),
                fields.keys().collect::<Vec<_>>(),
                "{schema}"
            );
        }
        use neuralstream_protocol as p;
        for path in [p::RT_SESSIONS_PATH, p::RT_SESSION_PATH, p::RT_LIVE_PATH] {
            assert!(doc["paths"][path]["get"].is_object(), "{path} undocumented");
        }
    }

    #[test]
    fn limits_out_of_range_are_named() {
        assert!(FeedLimits::default().validate().is_ok());
        for (l, want) in [
            (
                FeedLimits {
                    bin_ms: 0.0,
                    ..FeedLimits::default()
                },
                "bin_ms",
            ),
            (
                FeedLimits {
                    max_viewers: 0,
                    ..FeedLimits::default()
                },
                "max_viewers",
            ),
            (
                FeedLimits {
                    tick: Duration::ZERO,
                    ..FeedLimits::default()
                },
                "tick",
            ),
        ] {
            assert!(l.validate().unwrap_err().contains(want));
        }
        assert_eq!(watch_of(Some("a=1&watch=s-1")), Some("s-1".into()));
        assert_eq!(watch_of(Some("watch=")), None);
        assert_eq!(watch_of(None), None);
    }
}
