//! Per-client decision sessions: one ABR instance and one download history per session id.
//!
//! A session is created by a request that reports no chunk or chunk 0; a report of a later chunk
//! for an id the store does not hold (never started, or evicted while idle) is refused with 404,
//! so a client never gets decisions from an algorithm that silently lost its history.
//!
//! The store is a fixed number of mutex-guarded shards (a session id hashes to one), so concurrent
//! clients rarely contend; each session has its own mutex, so one slow decision never blocks another
//! session. Memory is bounded by `max_sessions` (new sessions beyond it are refused), by capping each
//! history at twice the video's chunk count, and by the idle sweep.

use crate::algorithms::AlgorithmSet;
use crate::media::{Media, MediaLibrary};
use neuralstream_core::{Abr, ChunkRecord, Decision, Observation};
use neuralstream_protocol::{ChunkReport, DecisionRequest, DecisionResponse, Reasons};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of shards of the session map.
const SHARDS: usize = 64;

/// Shortest download time used to compute a throughput, ms (guards against a 0 ms report).
pub const MIN_DOWNLOAD_MS: f64 = 1.0;

/// Why a decision was refused. [`DecideError::status`] gives the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub enum DecideError {
    /// The request names a video this server does not serve.
    UnknownVideo {
        /// The name asked for.
        asked: String,
        /// The served names.
        known: String,
    },
    /// The request names an algorithm this server does not enable.
    UnknownAlgorithm {
        /// The name asked for.
        asked: String,
        /// The enabled names.
        enabled: String,
    },
    /// The request contradicts the session's fixed video or algorithm.
    Conflict(String),
    /// A field is out of the video's range or otherwise impossible.
    Invalid(String),
    /// The request continues a session this server does not know (never started, or evicted
    /// after idling): a session starts with a request that reports no chunk or chunk 0.
    UnknownSession {
        /// The session id.
        id: String,
        /// The chunk the request reported.
        reported: usize,
        /// The server's idle limit, seconds.
        idle_s: f64,
    },
    /// The session limit is reached.
    TooManySessions(usize),
    /// The algorithm failed (panicked or chose a level outside the ladder); the session is dropped.
    AlgorithmFailed(String),
}

impl DecideError {
    /// HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            DecideError::UnknownVideo { .. } => 404,
            DecideError::UnknownAlgorithm { .. } => 400,
            DecideError::UnknownSession { .. } => 404,
            DecideError::Conflict(_) => 409,
            DecideError::Invalid(_) => 422,
            DecideError::TooManySessions(_) => 503,
            DecideError::AlgorithmFailed(_) => 500,
        }
    }
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecideError::UnknownVideo { asked, known } => write!(
                f,
                "unknown video '{asked}'; this server serves: {known} (see GET /api/v1/videos)"
            ),
            DecideError::UnknownAlgorithm { asked, enabled } => write!(
                f,
                "algorithm '{asked}' is not enabled on this server; enabled: {enabled} (the operator enables more with --abr NAME[,NAME...])"
            ),
            DecideError::UnknownSession { id, reported, idle_s } => write!(
                f,
                "unknown session '{id}': it never started on this server or was dropped after {idle_s} s idle, so chunk {reported} cannot be continued; start a new session id with a request that has no `last_chunk` (or reports chunk 0)"
            ),
            DecideError::Conflict(m)
            | DecideError::Invalid(m)
            | DecideError::AlgorithmFailed(m) => f.write_str(m),
            DecideError::TooManySessions(n) => write!(
                f,
                "the server already keeps {n} sessions (its --max-sessions limit); retry later or reuse a session id"
            ),
        }
    }
}

/// What decisions need besides the sessions themselves.
#[derive(Debug)]
pub struct DecisionContext {
    /// Served videos.
    pub media: MediaLibrary,
    /// Enabled algorithms.
    pub algorithms: AlgorithmSet,
    /// Level of chunk 0 before any download.
    pub startup_level: usize,
}

/// One client's session.
struct Session {
    algorithm: String,
    media: usize,
    abr: Box<dyn Abr>,
    history: Vec<ChunkRecord>,
    last_total_rebuffer_s: Option<f64>,
    clock0_ms: Option<f64>,
}

/// A session and the fields the sweep and the metrics read without locking it.
struct Slot {
    last_seen_ms: AtomicU64,
    qoe_bits: AtomicU64,
    state: Mutex<Session>,
}

/// Every live session.
pub struct SessionStore {
    shards: Vec<Mutex<HashMap<String, Arc<Slot>>>>,
    hasher: RandomState,
    active: AtomicUsize,
    created_total: AtomicU64,
    evicted_total: AtomicU64,
    max_sessions: usize,
    idle_ms: u64,
    epoch: Instant,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("active", &self.active())
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a lock is held (algorithms run under catch_unwind), but if one
    // did, the data is still structurally valid: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SessionStore {
    /// An empty store.
    pub fn new(max_sessions: usize, idle: Duration) -> Self {
        SessionStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            active: AtomicUsize::new(0),
            created_total: AtomicU64::new(0),
            evicted_total: AtomicU64::new(0),
            max_sessions,
            idle_ms: idle.as_millis().min(u64::MAX as u128) as u64,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn shard(&self, id: &str) -> &Mutex<HashMap<String, Arc<Slot>>> {
        &self.shards[(self.hasher.hash_one(id) as usize) % SHARDS]
    }

    /// Sessions alive now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Sessions created since start.
    pub fn created_total(&self) -> u64 {
        self.created_total.load(Ordering::Relaxed)
    }

    /// Sessions evicted for idleness since start.
    pub fn evicted_total(&self) -> u64 {
        self.evicted_total.load(Ordering::Relaxed)
    }

    /// QoE so far of every live session (for the metrics summary).
    pub fn qoe_values(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.active());
        for shard in &self.shards {
            let map = lock(shard);
            out.extend(
                map.values()
                    .map(|s| f64::from_bits(s.qoe_bits.load(Ordering::Relaxed))),
            );
        }
        out
    }

    /// Drops sessions idle for longer than the idle limit; returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.now_ms();
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = lock(shard);
            let before = map.len();
            map.retain(|_, s| {
                now.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) <= self.idle_ms
            });
            removed += before - map.len();
        }
        if removed > 0 {
            self.active.fetch_sub(removed, Ordering::Relaxed);
            self.evicted_total
                .fetch_add(removed as u64, Ordering::Relaxed);
        }
        removed
    }

    fn remove(&self, id: &str) {
        if lock(self.shard(id)).remove(id).is_some() {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Finds or creates the session `id` for this request.
    fn slot(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
        media: usize,
    ) -> Result<Arc<Slot>, DecideError> {
        let mut map = lock(self.shard(id));
        if let Some(slot) = map.get(id) {
            return Ok(slot.clone());
        }
        let algorithm = ctx
            .algorithms
            .resolve(req.algorithm.as_deref())
            .ok_or_else(|| DecideError::UnknownAlgorithm {
                asked: req.algorithm.clone().unwrap_or_default(),
                enabled: ctx.algorithms.names(),
            })?
            .to_string();
        let m = ctx.media.at(media);
        precheck(req, m)?;
        if let Some(c) = req.last_chunk.as_ref().filter(|c| c.index > 0) {
            return Err(DecideError::UnknownSession {
                id: id.to_string(),
                reported: c.index,
                idle_s: self.idle_ms as f64 / 1000.0,
            });
        }
        if let Some(levels) = ctx.algorithms.required_levels(&algorithm) {
            if levels != m.video.num_levels() {
                return Err(DecideError::Invalid(format!(
                    "algorithm '{algorithm}' was trained for {levels} levels but video '{}' has {}; choose another algorithm for this video",
                    m.name,
                    m.video.num_levels()
                )));
            }
        }
        if self.active() >= self.max_sessions {
            return Err(DecideError::TooManySessions(self.max_sessions));
        }
        let mut abr = ctx.algorithms.instantiate(&algorithm).ok_or_else(|| {
            DecideError::AlgorithmFailed(format!("algorithm '{algorithm}' could not be built"))
        })?;
        abr.reset();
        let slot = Arc::new(Slot {
            last_seen_ms: AtomicU64::new(self.now_ms()),
            qoe_bits: AtomicU64::new(0f64.to_bits()),
            state: Mutex::new(Session {
                algorithm,
                media,
                abr,
                history: Vec::new(),
                last_total_rebuffer_s: None,
                clock0_ms: None,
            }),
        });
        map.insert(id.to_string(), slot.clone());
        self.active.fetch_add(1, Ordering::Relaxed);
        self.created_total.fetch_add(1, Ordering::Relaxed);
        Ok(slot)
    }

    /// Records the request's report in session `id` (created on first use) and returns the
    /// algorithm's next level. `id` must already be validated.
    pub fn decide(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
    ) -> Result<DecisionResponse, DecideError> {
        let media = match req.video.as_deref() {
            None => 0,
            Some(name) => ctx
                .media
                .index_of(name)
                .ok_or_else(|| DecideError::UnknownVideo {
                    asked: name.chars().take(100).collect(),
                    known: ctx.media.names(),
                })?,
        };
        let slot = self.slot(ctx, id, req, media)?;
        slot.last_seen_ms.store(self.now_ms(), Ordering::Relaxed);
        let mut guard = lock(&slot.state);
        let session = &mut *guard;
        if req.video.is_some() && session.media != media {
            return Err(DecideError::Conflict(format!(
                "session '{id}' streams video '{}'; use a new session id for another video",
                ctx.media.at(session.media).name
            )));
        }
        if let Some(asked) = req.algorithm.as_deref() {
            if ctx.algorithms.resolve(Some(asked)) != Some(session.algorithm.as_str()) {
                return Err(DecideError::Conflict(format!(
                    "session '{id}' uses algorithm '{}' (fixed at its first request); use a new session id for another algorithm",
                    session.algorithm
                )));
            }
        }
        let m = ctx.media.at(session.media);
        let outcome = step(session, m, req, ctx.startup_level);
        match outcome {
            Ok((decision, chunk, decision_us)) => {
                let qoe = m.qoe.score(&session.history, 1).qoe;
                slot.qoe_bits.store(qoe.to_bits(), Ordering::Relaxed);
                Ok(DecisionResponse {
                    session: id.to_string(),
                    algorithm: session.algorithm.clone(),
                    chunk,
                    level: decision.level,
                    bitrate_kbps: m.video.ladder.kbps(decision.level),
                    reasons: Reasons {
                        predicted_throughput_kbps: decision
                            .predicted_throughput_kbps
                            .filter(|x| x.is_finite()),
                        buffer_target_s: decision.buffer_target_s.filter(|x| x.is_finite()),
                    },
                    qoe_so_far: qoe,
                    decision_us,
                })
            }
            Err(e) => {
                if matches!(e, DecideError::AlgorithmFailed(_)) {
                    drop(guard);
                    self.remove(id);
                }
                Err(e)
            }
        }
    }
}

/// Checks a report against the video: level and index in range, a positive size, a finite duration.
fn check_report(c: &ChunkReport, m: &Media) -> Result<(), DecideError> {
    let (levels, chunks) = (m.video.num_levels(), m.video.num_chunks());
    if c.level >= levels {
        return Err(DecideError::Invalid(format!(
            "field `last_chunk.level`: {} is out of range; video '{}' has {levels} levels (0..={})",
            c.level,
            m.name,
            levels - 1
        )));
    }
    if c.index >= chunks {
        return Err(DecideError::Invalid(format!(
            "field `last_chunk.index`: {} is out of range; video '{}' has {chunks} chunks (0..={})",
            c.index,
            m.name,
            chunks - 1
        )));
    }
    if c.size_bytes == 0 {
        return Err(DecideError::Invalid(
            "field `last_chunk.size_bytes`: must be > 0 (bytes of the downloaded chunk)".into(),
        ));
    }
    if !c.download_ms().is_finite() {
        return Err(DecideError::Invalid(
            "field `last_chunk.request_finish_ms`: finish minus start is not a finite number of ms"
                .into(),
        ));
    }
    Ok(())
}

/// Checks what can be checked before a session exists: the report and the next chunk against
/// the video, so a refused first request creates no session.
fn precheck(req: &DecisionRequest, m: &Media) -> Result<(), DecideError> {
    if let Some(c) = &req.last_chunk {
        check_report(c, m)?;
    }
    let chunks = m.video.num_chunks();
    let next = req.next_chunk_index();
    if next > chunks {
        return Err(DecideError::Invalid(format!(
            "field `next_chunk`: {next} is past the end; video '{}' has {chunks} chunks (0..={})",
            m.name,
            chunks - 1
        )));
    }
    Ok(())
}

/// Applies the report to the session's history and asks the algorithm; returns the decision,
/// the chunk it is for and the time the algorithm took (µs).
fn step(
    s: &mut Session,
    m: &Media,
    req: &DecisionRequest,
    startup_level: usize,
) -> Result<(Decision, usize, f64), DecideError> {
    precheck(req, m)?;
    let chunks = m.video.num_chunks();
    let next = req.next_chunk_index();
    if let Some(c) = &req.last_chunk {
        let rebuffer_s = match req.total_rebuffer_s {
            Some(total) => {
                let r = (total - s.last_total_rebuffer_s.unwrap_or(0.0)).max(0.0);
                s.last_total_rebuffer_s = Some(total);
                r
            }
            None => req.rebuffer_s,
        };
        let clock0 = *s.clock0_ms.get_or_insert(c.request_start_ms);
        let record = ChunkRecord {
            index: c.index,
            level: c.level,
            bitrate_kbps: m.video.ladder.kbps(c.level),
            size_bytes: c.size_bytes,
            delay_ms: c.download_ms().max(MIN_DOWNLOAD_MS),
            sleep_ms: 0.0,
            rebuffer_s,
            buffer_s: req.buffer_s,
            request_s: (c.request_start_ms - clock0) / 1000.0,
            finish_s: (c.request_finish_ms - clock0) / 1000.0,
        };
        match s.history.last_mut() {
            // A retried report of the same chunk replaces the first one.
            Some(last) if last.index == c.index => *last = record,
            _ => s.history.push(record),
        }
        let cap = 2 * chunks + 8;
        if s.history.len() > cap {
            let excess = s.history.len() - cap;
            s.history.drain(..excess);
        }
    }
    let levels = m.video.num_levels();
    let last_level = s
        .history
        .last()
        .map_or(startup_level.min(levels - 1), |r| r.level);
    let obs = Observation {
        video: &m.video,
        next_chunk: next,
        total_chunks: chunks,
        buffer_s: req.buffer_s,
        last_level,
        history: &s.history,
    };
    let algorithm = s.algorithm.clone();
    let fail = |what: &str| {
        DecideError::AlgorithmFailed(format!(
            "algorithm '{algorithm}' failed ({what}); the session was dropped, start a new one"
        ))
    };
    if next == chunks {
        let abr = &mut s.abr;
        std::panic::catch_unwind(AssertUnwindSafe(|| abr.session_finished(&obs)))
            .map_err(|_| fail("panicked at the end of the video"))?;
        return Ok((Decision::level(last_level), next, 0.0));
    }
    if next == 0 && s.history.is_empty() {
        return Ok((Decision::level(startup_level.min(levels - 1)), 0, 0.0));
    }
    let abr = &mut s.abr;
    let start = Instant::now();
    let decision = std::panic::catch_unwind(AssertUnwindSafe(|| abr.choose(&obs)))
        .map_err(|_| fail("panicked"))?;
    let decision_us = start.elapsed().as_secs_f64() * 1e6;
    if decision.level >= levels {
        return Err(fail(&format!(
            "chose level {} of a {levels}-level ladder",
            decision.level
        )));
    }
    Ok((decision, next, decision_us))
}
