//! Per-client decision sessions: one ABR instance and one download history per session id.
//!
//! A session is created by a request that reports no chunk or chunk 0; a report of a later chunk
//! for an id the store does not hold (never started, or evicted while idle) is refused with 404,
//! so a client never gets decisions from an algorithm that silently lost its history. A request
//! that reports no chunk for an id that already has downloads *restarts* that session (a player
//! reloaded with the same id): fresh algorithm, empty history, its own clock and stall count.
//!
//! Algorithms may fold the history in incrementally (see [`Observation::history`]): it only grows
//! at the end. Where the store has to rewrite it (a retried report of the same chunk replaces the
//! first; a looping client's history is cut back to one video's worth), the session gets a fresh
//! algorithm instance, which folds the kept history in from the start.
//!
//! The store is a fixed number of mutex-guarded shards (a session id hashes to one), so concurrent
//! clients rarely contend; each session has its own mutex, so one slow decision never blocks another
//! session. Memory is bounded by `max_sessions` (new sessions beyond it are refused), by cutting a
//! history that passes `2 n + 8` records (a client looping an `n`-chunk video) back to the last
//! `n` (its `qoe_so_far` then covers those), by the idle sweep, and by a byte budget across all
//! sessions: each session reserves its worst case ([`session_cost_bytes`]: a fixed overhead plus
//! `2 n + 9` records, which its history's capacity never exceeds) before it is built, and a new
//! session that does not fit is refused with 503, so the sum of reservations never passes the
//! budget whatever the videos' lengths.
//!
//! Every session the store forgets before its video's end is reported once to an optional end
//! hook ([`SessionStore::with_end_hook`], which `serve --telemetry` turns into a `session_end`
//! event): dropped by the idle sweep ([`EndReason::IdleTimeout`]: the client stopped reporting),
//! dropped because its algorithm failed ([`EndReason::Evicted`]), or still live when the server
//! shuts down ([`SessionStore::drain`], [`EndReason::ServerShutdown`]). A session that played its
//! last chunk was reported as completed by the request that finished it
//! ([`SessionStore::decide_tracked`]) and is not reported again. A session restarted under the
//! same id (a reloaded player) or ended by [`SessionStore::end`] is not reported: its client is
//! still there and carries on under that id.

use crate::algorithms::AlgorithmSet;
use crate::media::{Media, MediaLibrary};
use neuralstream_core::{Abr, ChunkRecord, Decision, Observation};
use neuralstream_protocol::{ChunkReport, DecisionRequest, DecisionResponse, Reasons};
pub use neuralstream_telemetry::EndReason;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of shards of the session map.
const SHARDS: usize = 64;

/// Bytes a session is charged besides its history: the session and slot structs, the map entry
/// and its id, the algorithm's own state (rule-based algorithms keep a few hundred bytes).
pub const SESSION_OVERHEAD_BYTES: u64 = 2048;

/// Most history records a session on an `chunks`-chunk video ever holds (see the module doc).
pub fn max_history_len(chunks: usize) -> usize {
    2 * chunks + 9
}

/// What a session on an `chunks`-chunk video reserves of the byte budget: its worst case.
pub fn session_cost_bytes(chunks: usize) -> u64 {
    SESSION_OVERHEAD_BYTES + (max_history_len(chunks) * std::mem::size_of::<ChunkRecord>()) as u64
}

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
    /// The sessions' byte budget has no room for one more session on this video.
    MemoryBudgetFull {
        /// The budget, bytes.
        budget_bytes: u64,
        /// What a session on this video reserves, bytes.
        cost_bytes: u64,
        /// The video.
        video: String,
    },
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
            DecideError::TooManySessions(_) | DecideError::MemoryBudgetFull { .. } => 503,
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
            DecideError::MemoryBudgetFull { budget_bytes, cost_bytes, video } => write!(
                f,
                "the server's session memory budget ({budget_bytes} bytes, its --session-memory-mb) is full: a session on video '{video}' reserves up to {cost_bytes} bytes of history; retry later, when idle sessions have been dropped"
            ),
        }
    }
}

/// A refused decision answers with its own status and message.
impl From<DecideError> for crate::response::HttpError {
    fn from(e: DecideError) -> Self {
        let status = axum::http::StatusCode::from_u16(e.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, e.to_string())
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
    /// The egress allocator (`--egress-mbps`), if any.
    pub egress: Option<crate::egress::Egress>,
}

/// A session the store forgot before its video's end (see the module doc), as the end hook sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedSession {
    /// Session id.
    pub id: String,
    /// Its algorithm.
    pub algorithm: String,
    /// Index of its video in the [`MediaLibrary`].
    pub media: usize,
    /// Chunks in its history when it ended.
    pub chunks: usize,
    /// QoE so far when it ended.
    pub qoe: f64,
    /// Stall after start-up so far, seconds.
    pub rebuffer_s: f64,
    /// Why it ended.
    pub reason: EndReason,
}

/// What the store calls for each session it forgets before its end; it must not block (it runs
/// on the sweeper, in a request handler, or at shutdown).
pub type EndHook = Box<dyn Fn(&EndedSession) + Send + Sync>;

/// One client's session.
struct Session {
    algorithm: String,
    media: usize,
    /// The session played its video's last chunk (and was reported as completed).
    completed: bool,
    /// The store forgot the session and told the end hook (idle, evicted, shut down): a request
    /// that was already in flight and plays the last chunk must not report a second end.
    end_reported: bool,
    abr: Box<dyn Abr>,
    history: Vec<ChunkRecord>,
    last_total_rebuffer_s: Option<f64>,
    /// The cumulative stall reported before the newest record's report (what a retry of that
    /// report subtracts), seconds.
    rebuffer_base_s: f64,
    clock0_ms: Option<f64>,
}

impl Session {
    /// A session of `algorithm` (checked) on media `media`, with a fresh algorithm instance.
    fn new(ctx: &DecisionContext, algorithm: String, media: usize) -> Result<Self, DecideError> {
        let abr = fresh_abr(ctx, &algorithm).ok_or_else(|| {
            DecideError::AlgorithmFailed(format!("algorithm '{algorithm}' could not be built"))
        })?;
        Ok(Session {
            algorithm,
            media,
            completed: false,
            end_reported: false,
            abr,
            history: Vec::new(),
            last_total_rebuffer_s: None,
            rebuffer_base_s: 0.0,
            clock0_ms: None,
        })
    }
}

/// A session and the fields the sweep and the metrics read without locking it.
struct Slot {
    /// Bytes of the budget this session holds (its video's [`session_cost_bytes`]).
    reserved_bytes: AtomicU64,
    last_seen_ms: AtomicU64,
    qoe_bits: AtomicU64,
    /// Stall after start-up so far, seconds (f64 bits), for the per-algorithm metrics.
    rebuffer_bits: AtomicU64,
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
    budget_bytes: u64,
    reserved_bytes: AtomicU64,
    idle_ms: u64,
    epoch: Instant,
    on_end: Option<EndHook>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("active", &self.active())
            .field("max_sessions", &self.max_sessions)
            .field("reserved_bytes", &self.reserved_bytes())
            .field("budget_bytes", &self.budget_bytes)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a lock is held (algorithms run under catch_unwind), but if one
    // did, the data is still structurally valid: keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SessionStore {
    /// An empty store of at most `max_sessions` sessions whose reservations (see the module doc)
    /// stay within `budget_bytes`; a session idle for `idle` is dropped by [`Self::sweep`].
    pub fn new(max_sessions: usize, budget_bytes: u64, idle: Duration) -> Self {
        SessionStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            active: AtomicUsize::new(0),
            created_total: AtomicU64::new(0),
            evicted_total: AtomicU64::new(0),
            max_sessions,
            budget_bytes,
            reserved_bytes: AtomicU64::new(0),
            idle_ms: idle.as_millis().min(u64::MAX as u128) as u64,
            epoch: Instant::now(),
            on_end: None,
        }
    }

    /// The store with `hook` called once for every session it forgets before its video's end
    /// (see the module doc).
    pub fn with_end_hook(mut self, hook: EndHook) -> Self {
        self.on_end = Some(hook);
        self
    }

    /// Calls the end hook for `slot` (already out of the map) unless it completed. Takes the
    /// session's lock: never call it with a shard locked.
    fn report_end(&self, id: &str, slot: &Slot, reason: EndReason) {
        let Some(hook) = &self.on_end else { return };
        let mut state = lock(&slot.state);
        if state.completed || state.end_reported {
            return;
        }
        state.end_reported = true;
        let ended = EndedSession {
            id: id.to_string(),
            algorithm: state.algorithm.clone(),
            media: state.media,
            chunks: state.history.len(),
            qoe: f64::from_bits(slot.qoe_bits.load(Ordering::Relaxed)),
            rebuffer_s: f64::from_bits(slot.rebuffer_bits.load(Ordering::Relaxed)),
            reason,
        };
        drop(state);
        hook(&ended);
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

    /// Bytes the live sessions hold of the budget (each its worst case).
    pub fn reserved_bytes(&self) -> u64 {
        self.reserved_bytes.load(Ordering::Relaxed)
    }

    /// The byte budget of all sessions together.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// Takes `bytes` of the budget, if they fit.
    fn reserve(&self, bytes: u64) -> bool {
        let budget = self.budget_bytes;
        self.reserved_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_add(bytes).filter(|&t| t <= budget)
            })
            .is_ok()
    }

    /// Gives `bytes` back to the budget.
    fn release(&self, bytes: u64) {
        self.reserved_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The refusal when a session on media `media` does not fit the budget.
    fn budget_full(&self, ctx: &DecisionContext, media: usize) -> DecideError {
        let m = ctx.media.at(media);
        DecideError::MemoryBudgetFull {
            budget_bytes: self.budget_bytes,
            cost_bytes: session_cost_bytes(m.video.num_chunks()),
            video: m.name.clone(),
        }
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

    /// Every live session's algorithm, QoE so far and stall so far, for the per-algorithm
    /// metrics. The slots are collected first and each session locked only after its shard is
    /// released (no session lock is taken while a shard is locked).
    pub fn live_sessions(&self) -> Vec<crate::metrics::LiveSession> {
        let mut slots: Vec<Arc<Slot>> = Vec::with_capacity(self.active());
        for shard in &self.shards {
            slots.extend(lock(shard).values().cloned());
        }
        slots
            .iter()
            .map(|s| crate::metrics::LiveSession {
                algorithm: lock(&s.state).algorithm.clone(),
                qoe: f64::from_bits(s.qoe_bits.load(Ordering::Relaxed)),
                rebuffer_s: f64::from_bits(s.rebuffer_bits.load(Ordering::Relaxed)),
            })
            .collect()
    }

    /// Drops sessions idle for longer than the idle limit (reported to the end hook as
    /// [`EndReason::IdleTimeout`] unless they completed); returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.now_ms();
        let idle =
            |s: &Slot| now.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) > self.idle_ms;
        let removed = self.remove_where(idle);
        if !removed.is_empty() {
            self.evicted_total
                .fetch_add(removed.len() as u64, Ordering::Relaxed);
        }
        for (id, slot) in &removed {
            self.report_end(id, slot, EndReason::IdleTimeout);
        }
        removed.len()
    }

    /// Drops every session (the server is shutting down), reporting each that had not completed
    /// to the end hook as [`EndReason::ServerShutdown`]; returns how many were dropped.
    pub fn drain(&self) -> usize {
        let removed = self.remove_where(|_| true);
        for (id, slot) in &removed {
            self.report_end(id, slot, EndReason::ServerShutdown);
        }
        removed.len()
    }

    /// Takes the sessions `drop` selects out of the map (their places and bytes given back) and
    /// returns them; no session lock is taken while a shard is locked.
    fn remove_where(&self, drop: impl Fn(&Slot) -> bool) -> Vec<(String, Arc<Slot>)> {
        let mut removed = Vec::new();
        let mut freed_bytes = 0;
        for shard in &self.shards {
            let mut map = lock(shard);
            map.retain(|id, s| {
                if drop(s) {
                    freed_bytes += s.reserved_bytes.load(Ordering::Relaxed);
                    removed.push((id.clone(), s.clone()));
                    false
                } else {
                    true
                }
            });
        }
        self.release(freed_bytes);
        if !removed.is_empty() {
            self.active.fetch_sub(removed.len(), Ordering::Relaxed);
        }
        removed
    }

    /// Drops session `id` if the map still holds this very slot (a restart may have replaced
    /// what the id names since the caller looked it up); returns whether it did.
    fn remove_slot(&self, id: &str, slot: &Arc<Slot>) -> bool {
        let mut map = lock(self.shard(id));
        if map.get(id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            map.remove(id);
            self.active.fetch_sub(1, Ordering::Relaxed);
            self.release(slot.reserved_bytes.load(Ordering::Relaxed));
            return true;
        }
        false
    }

    /// Ends session `id` now (its place and bytes are given back); false if there was none.
    /// For hosts whose clients end sessions without saying so (the Pensieve-compatible mode:
    /// after the last chunk, or when its page reloads and carries on under the same id), so the
    /// end hook is not called.
    pub fn end(&self, id: &str) -> bool {
        let slot = lock(self.shard(id)).get(id).cloned();
        match slot {
            Some(slot) => self.remove_slot(id, &slot),
            None => false,
        }
    }

    /// Checks what a new session needs; returns its algorithm's name.
    fn check_new_session(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
        media: usize,
    ) -> Result<String, DecideError> {
        let algorithm = resolve_algorithm(ctx, req)?.to_string();
        let m = ctx.media.at(media);
        precheck(req, m)?;
        if let Some(c) = req.last_chunk.as_ref().filter(|c| c.index > 0) {
            return Err(DecideError::UnknownSession {
                id: id.to_string(),
                reported: c.index,
                idle_s: self.idle_ms as f64 / 1000.0,
            });
        }
        if let Some(policy) = ctx.algorithms.learned(&algorithm) {
            if !policy.fits_levels(m.video.num_levels()) {
                return Err(DecideError::Invalid(format!(
                    "algorithm '{algorithm}' was trained for {} but video '{}' has {}; choose another algorithm for this video",
                    policy.levels_text(),
                    m.name,
                    m.video.num_levels()
                )));
            }
        }
        Ok(algorithm)
    }

    /// Finds or creates the session `id` for this request; a request without a chunk restarts
    /// a session that has history, in place (same slot, same place under the limit). Every check
    /// runs before anything changes, so a refused request leaves the store as it was, and no
    /// session's lock is taken while a shard is locked.
    fn slot(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
        media: usize,
    ) -> Result<Arc<Slot>, DecideError> {
        let existing = lock(self.shard(id)).get(id).cloned();
        if let Some(slot) = existing {
            let restart = req.last_chunk.is_none() && !lock(&slot.state).history.is_empty();
            if restart {
                let algorithm = self.check_new_session(ctx, id, req, media)?;
                let fresh = Session::new(ctx, algorithm, media)?;
                // The restarted session may stream another video: it holds that one's cost.
                let cost = session_cost_bytes(ctx.media.at(media).video.num_chunks());
                let held = slot.reserved_bytes.load(Ordering::Relaxed);
                if cost > held && !self.reserve(cost - held) {
                    return Err(self.budget_full(ctx, media));
                }
                self.release(held.saturating_sub(cost));
                slot.reserved_bytes.store(cost, Ordering::Relaxed);
                *lock(&slot.state) = fresh;
                slot.qoe_bits.store(0f64.to_bits(), Ordering::Relaxed);
                slot.rebuffer_bits.store(0f64.to_bits(), Ordering::Relaxed);
                self.created_total.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(slot);
        }
        let algorithm = self.check_new_session(ctx, id, req, media)?;
        // Reserve a place before building (a full server builds nothing) and before inserting
        // (a check-then-add across shards could overshoot).
        let max = self.max_sessions;
        if self
            .active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(DecideError::TooManySessions(max));
        }
        let cost = session_cost_bytes(ctx.media.at(media).video.num_chunks());
        if !self.reserve(cost) {
            self.active.fetch_sub(1, Ordering::Relaxed);
            return Err(self.budget_full(ctx, media));
        }
        let give_back = || {
            self.active.fetch_sub(1, Ordering::Relaxed);
            self.release(cost);
        };
        let session = match Session::new(ctx, algorithm, media) {
            Ok(s) => s,
            Err(e) => {
                give_back();
                return Err(e);
            }
        };
        let mut map = lock(self.shard(id));
        if let Some(other) = map.get(id) {
            // Another request created it meanwhile: use that one, give the place back.
            give_back();
            return Ok(other.clone());
        }
        let slot = Arc::new(Slot {
            reserved_bytes: AtomicU64::new(cost),
            last_seen_ms: AtomicU64::new(self.now_ms()),
            qoe_bits: AtomicU64::new(0f64.to_bits()),
            rebuffer_bits: AtomicU64::new(0f64.to_bits()),
            state: Mutex::new(session),
        });
        map.insert(id.to_string(), slot.clone());
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
        self.decide_tracked(ctx, id, req).map(|(answer, _)| answer)
    }

    /// [`Self::decide`], and whether this request completed the session: the first answer that
    /// says its video's last chunk is played (a retried final report answers `false`).
    pub fn decide_tracked(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
    ) -> Result<(DecisionResponse, bool), DecideError> {
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
        self.decide_on(ctx, id, req, media, &slot)
    }

    /// [`Self::decide_tracked`] on the session `slot` found or made for `id` (which the sweeper
    /// may have forgotten since: then the answer is still given, but never as a completion).
    fn decide_on(
        &self,
        ctx: &DecisionContext,
        id: &str,
        req: &DecisionRequest,
        media: usize,
        slot: &Arc<Slot>,
    ) -> Result<(DecisionResponse, bool), DecideError> {
        slot.last_seen_ms.store(self.now_ms(), Ordering::Relaxed);
        let mut guard = lock(&slot.state);
        let session = &mut *guard;
        if req.video.is_some() && session.media != media {
            return Err(DecideError::Conflict(format!(
                "session '{id}' streams video '{}'; use a new session id for another video",
                ctx.media.at(session.media).name
            )));
        }
        if req.algorithm.is_some() && resolve_algorithm(ctx, req)? != session.algorithm.as_str() {
            return Err(DecideError::Conflict(format!(
                "session '{id}' uses algorithm '{}' (fixed at its first request); use a new session id for another algorithm",
                session.algorithm
            )));
        }
        let m = ctx.media.at(session.media);
        let outcome = step(session, m, req, ctx);
        match outcome {
            Ok((decision, chunk, decision_us)) => {
                // Bounded inputs keep it finite; the clamp keeps JSON (which has no infinity) valid.
                let score = m.qoe.score(&session.history, 1);
                let qoe = score.qoe.clamp(-f64::MAX, f64::MAX);
                slot.qoe_bits.store(qoe.to_bits(), Ordering::Relaxed);
                let rebuffer_s = score.rebuffer_s.clamp(0.0, f64::MAX);
                slot.rebuffer_bits
                    .store(rebuffer_s.to_bits(), Ordering::Relaxed);
                let cap = ctx.egress.as_ref().map(|e| {
                    let summary = crate::egress::Summary {
                        media: session.media,
                        buffer_s: req.buffer_s,
                        last_level: session
                            .history
                            .last()
                            .map_or(ctx.startup_level, |r| r.level),
                        chunks_done: session.history.len(),
                        total_chunks: m.video.num_chunks(),
                        qoe_so_far: qoe,
                    };
                    e.cap(&ctx.media, id, summary, decision.level)
                });
                // The algorithm's level clamped into the allocator's [floor, cap] (issue 22).
                let level = cap.map_or(decision.level, |c| c.apply(decision.level));
                let completed_now =
                    chunk >= m.video.num_chunks() && !session.completed && !session.end_reported;
                session.completed |= completed_now;
                let answer = DecisionResponse {
                    session: id.to_string(),
                    algorithm: session.algorithm.clone(),
                    chunk,
                    level,
                    bitrate_kbps: m.video.ladder.kbps(level),
                    reasons: Reasons {
                        predicted_throughput_kbps: decision
                            .predicted_throughput_kbps
                            .filter(|x| x.is_finite()),
                        buffer_target_s: decision.buffer_target_s.filter(|x| x.is_finite()),
                        cap_level: cap.map(|c| c.level),
                        cap_kbps: cap.map(|c| c.kbps),
                        cap_reason: cap.map(|c| c.reason.to_string()),
                        floor_level: cap.and_then(|c| c.floor).map(|f| f.level),
                        floor_kbps: cap.and_then(|c| c.floor).map(|f| f.kbps),
                        floor_reason: cap.and_then(|c| c.floor).map(|f| f.reason.to_string()),
                    },
                    qoe_so_far: qoe,
                    decision_us,
                };
                Ok((answer, completed_now))
            }
            Err(e) => {
                if matches!(e, DecideError::AlgorithmFailed(_)) {
                    drop(guard);
                    if self.remove_slot(id, slot) {
                        self.report_end(id, slot, EndReason::Evicted);
                    }
                }
                Err(e)
            }
        }
    }
}

/// The enabled algorithm the request names (or the default), else a 400 naming the enabled ones.
fn resolve_algorithm<'c>(
    ctx: &'c DecisionContext,
    req: &DecisionRequest,
) -> Result<&'c str, DecideError> {
    ctx.algorithms
        .resolve(req.algorithm.as_deref())
        .ok_or_else(|| DecideError::UnknownAlgorithm {
            asked: req
                .algorithm
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect(),
            enabled: ctx.algorithms.names(),
        })
}

/// A new, reset instance of `algorithm` (None if it cannot be built).
fn fresh_abr(ctx: &DecisionContext, algorithm: &str) -> Option<Box<dyn Abr>> {
    let mut abr = ctx.algorithms.instantiate(algorithm)?;
    abr.reset();
    Some(abr)
}

/// Checks a report against the video: level and index in range, a positive size, a finite duration.
fn check_report(c: &ChunkReport, m: &Media) -> Result<(), DecideError> {
    let (levels, chunks) = (m.video.num_levels(), m.video.num_chunks());
    if c.level >= levels {
        return Err(DecideError::Invalid(format!(
            "field `last_chunk.level` (Pensieve: lastquality): {} is out of range; video '{}' has {levels} levels (0..={})",
            c.level,
            m.name,
            levels - 1
        )));
    }
    if c.index >= chunks {
        return Err(DecideError::Invalid(format!(
            "field `last_chunk.index` (Pensieve: lastRequest): {} is out of range; video '{}' has {chunks} chunks (0..={})",
            c.index,
            m.name,
            chunks - 1
        )));
    }
    if c.size_bytes == 0 {
        return Err(DecideError::Invalid(
            "field `last_chunk.size_bytes` (Pensieve: lastChunkSize): must be > 0 (bytes of the downloaded chunk)".into(),
        ));
    }
    if !c.download_ms().is_finite() {
        return Err(DecideError::Invalid(
            "field `last_chunk.request_finish_ms` (Pensieve: lastChunkFinishTime): finish minus start is not a finite number of ms"
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
            "field `next_chunk` (Pensieve: lastRequest + 1): {next} is past the end; video '{}' has {chunks} chunks (0..={})",
            m.name,
            chunks - 1
        )));
    }
    Ok(())
}

/// Appends `record`, growing the history's capacity (doubling, as `Vec` does) but never past
/// `max_len` records, so a session's memory stays within what [`session_cost_bytes`] reserved.
fn push_bounded(history: &mut Vec<ChunkRecord>, record: ChunkRecord, max_len: usize) {
    if history.len() == history.capacity() {
        let room = max_len.saturating_sub(history.len()).max(1);
        history.reserve_exact(history.capacity().max(4).min(room));
    }
    history.push(record);
}

/// Applies the report to the session's history and asks the algorithm; returns the decision,
/// the chunk it is for and the time the algorithm took (µs).
fn step(
    s: &mut Session,
    m: &Media,
    req: &DecisionRequest,
    ctx: &DecisionContext,
) -> Result<(Decision, usize, f64), DecideError> {
    precheck(req, m)?;
    let startup_level = ctx.startup_level;
    let chunks = m.video.num_chunks();
    let next = req.next_chunk_index();
    if let Some(c) = &req.last_chunk {
        let retry = s.history.last().is_some_and(|last| last.index == c.index);
        let rebuffer_s = match req.total_rebuffer_s {
            Some(total) => {
                if !retry {
                    s.rebuffer_base_s = s.last_total_rebuffer_s.unwrap_or(0.0);
                }
                s.last_total_rebuffer_s = Some(total);
                (total - s.rebuffer_base_s).max(0.0)
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
        let mut rewritten = false;
        match s.history.last_mut() {
            // A retried report of the same chunk replaces the first one.
            Some(last) if retry => {
                rewritten = *last != record;
                *last = record;
            }
            _ => push_bounded(&mut s.history, record, max_history_len(chunks)),
        }
        if s.history.len() > 2 * chunks + 8 {
            // A looping client: keep the last video's worth.
            let excess = s.history.len() - chunks;
            s.history.drain(..excess);
            rewritten = true;
        }
        if rewritten {
            // The history no longer only grew at the end: a fresh instance folds it in anew.
            s.abr = fresh_abr(ctx, &s.algorithm).ok_or_else(|| {
                DecideError::AlgorithmFailed(format!(
                    "algorithm '{}' could not be rebuilt; start a new session",
                    s.algorithm
                ))
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_protocol::ChunkReport;

    struct Fixture {
        _dir: tempfile::TempDir,
        ctx: DecisionContext,
    }

    /// The built-in video served as `clip`, with robustmpc (the default) and bb enabled.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("clip");
        std::fs::create_dir_all(&media).unwrap();
        let video = neuralstream_data::synthetic::builtin_video();
        neuralstream_data::descriptor::write_descriptor(&media.join("video.json"), &video).unwrap();
        let ctx = DecisionContext {
            media: MediaLibrary::load(&[media], "lin").unwrap(),
            algorithms: AlgorithmSet::new(&["robustmpc".into(), "bb".into()]).unwrap(),
            startup_level: 1,
            egress: None,
        };
        Fixture { _dir: dir, ctx }
    }

    fn first() -> DecisionRequest {
        DecisionRequest::from_json(br#"{"buffer_s": 0}"#).unwrap()
    }

    /// A report of chunk `index` at `level`, downloaded at `kbps`, ending at `t_ms`.
    fn report(
        ctx: &DecisionContext,
        index: usize,
        level: usize,
        kbps: f64,
        t_ms: f64,
    ) -> DecisionRequest {
        let video = &ctx.media.at(0).video;
        let size_bytes = video.size_bytes(level, index % video.num_chunks());
        let download_ms = size_bytes as f64 * 8.0 / kbps;
        DecisionRequest {
            video: None,
            algorithm: None,
            last_chunk: Some(ChunkReport {
                index,
                level,
                size_bytes,
                request_start_ms: t_ms - download_ms,
                request_finish_ms: t_ms,
                rtt_ms: None,
            }),
            buffer_s: 10.0,
            rebuffer_s: 0.0,
            total_rebuffer_s: None,
            next_chunk: None,
        }
    }

    fn history(store: &SessionStore, id: &str) -> Vec<ChunkRecord> {
        let slot = lock(store.shard(id)).get(id).cloned().unwrap();
        let h = lock(&slot.state).history.clone();
        h
    }

    #[test]
    fn a_request_without_a_chunk_restarts_a_session_that_has_history() {
        let fx = fixture();
        let store = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        store.decide(&fx.ctx, "s", &first()).unwrap();
        for k in 0..3 {
            store
                .decide(
                    &fx.ctx,
                    "s",
                    &report(&fx.ctx, k, 2, 900.0, 1000.0 * (k + 1) as f64),
                )
                .unwrap();
        }
        assert_eq!(history(&store, "s").len(), 3);
        // A refused restart changes nothing.
        let mut bad = first();
        bad.algorithm = Some("nope".into());
        assert_eq!(store.decide(&fx.ctx, "s", &bad).unwrap_err().status(), 400);
        assert_eq!(history(&store, "s").len(), 3);
        assert_eq!((store.active(), store.created_total()), (1, 1));
        // Reloaded with the same id: the startup level, no forecast, no QoE carried over.
        let again = store.decide(&fx.ctx, "s", &first()).unwrap();
        assert_eq!((again.chunk, again.level), (0, 1));
        assert_eq!(again.reasons.predicted_throughput_kbps, None);
        assert_eq!(again.qoe_so_far, 0.0);
        assert!(history(&store, "s").is_empty());
        assert_eq!(store.active(), 1);
        assert_eq!(store.created_total(), 2);
        // And it continues like a brand-new session on the same reports.
        let fresh = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        fresh.decide(&fx.ctx, "t", &first()).unwrap();
        for k in 0..2 {
            let r = report(&fx.ctx, k, 0, 2000.0, 5000.0 + 1000.0 * k as f64);
            let a = store.decide(&fx.ctx, "s", &r).unwrap();
            let b = fresh.decide(&fx.ctx, "t", &r).unwrap();
            assert_eq!(a.level, b.level);
            assert_eq!(a.qoe_so_far, b.qoe_so_far);
            assert_eq!(a.reasons, b.reasons);
        }
        // A retried first request (no history yet) keeps the session.
        store.decide(&fx.ctx, "u", &first()).unwrap();
        store.decide(&fx.ctx, "u", &first()).unwrap();
        assert_eq!(store.created_total(), 3);
    }

    #[test]
    fn a_final_report_in_flight_when_the_sweeper_forgets_the_session_reports_no_second_end() {
        let fx = fixture();
        let chunks = fx.ctx.media.at(0).video.num_chunks();
        let ended: Arc<Mutex<Vec<EndedSession>>> = Arc::default();
        let seen = ended.clone();
        let store = SessionStore::new(10, u64::MAX, Duration::from_millis(50))
            .with_end_hook(Box::new(move |e| seen.lock().unwrap().push(e.clone())));
        store.decide(&fx.ctx, "late", &first()).unwrap();
        for k in 0..chunks - 1 {
            let r = report(&fx.ctx, k, 1, 2000.0, 1000.0 * (k + 1) as f64);
            store.decide(&fx.ctx, "late", &r).unwrap();
        }
        // The final report has found its session (as `decide_tracked` does first) when the
        // sweeper, seeing the session idle, forgets it and reports an idle end.
        let slot = lock(store.shard("late")).get("late").cloned().unwrap();
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(store.sweep(), 1);
        let last = report(&fx.ctx, chunks - 1, 1, 2000.0, 1000.0 * chunks as f64);
        let (answer, completed) = store.decide_on(&fx.ctx, "late", &last, 0, &slot).unwrap();
        assert_eq!(answer.chunk, chunks);
        assert!(!completed, "the session's end was already reported");
        let ended = ended.lock().unwrap();
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(ended[0].reason, EndReason::IdleTimeout);
    }

    #[test]
    fn every_session_forgotten_before_its_end_is_reported_once_with_its_reason() {
        let fx = fixture();
        let chunks = fx.ctx.media.at(0).video.num_chunks();
        let ended: Arc<Mutex<Vec<EndedSession>>> = Arc::default();
        let seen = ended.clone();
        let ended_count = |_: &SessionStore| ended.lock().unwrap().len();
        let store = SessionStore::new(10, u64::MAX, Duration::from_millis(50))
            .with_end_hook(Box::new(move |e| seen.lock().unwrap().push(e.clone())));
        // `done` plays the whole video: the last report completes it, once.
        store.decide(&fx.ctx, "done", &first()).unwrap();
        for k in 0..chunks {
            let r = report(&fx.ctx, k, 1, 2000.0, 1000.0 * (k + 1) as f64);
            let (_, completed) = store.decide_tracked(&fx.ctx, "done", &r).unwrap();
            assert_eq!(completed, k + 1 == chunks, "chunk {k}");
        }
        let last = report(&fx.ctx, chunks - 1, 1, 2000.0, 1000.0 * chunks as f64);
        assert!(!store.decide_tracked(&fx.ctx, "done", &last).unwrap().1);
        // `mid` stops after three chunks.
        store.decide(&fx.ctx, "mid", &first()).unwrap();
        for k in 0..3 {
            let mut r = report(&fx.ctx, k, 0, 2000.0, 1000.0 * (k + 1) as f64);
            r.total_rebuffer_s = Some(0.5 * k as f64);
            store.decide(&fx.ctx, "mid", &r).unwrap();
        }
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(store.sweep(), 2);
        {
            let ended = ended.lock().unwrap();
            assert_eq!(ended.len(), 1, "{ended:?}");
            let mid = &ended[0];
            assert_eq!(
                (mid.id.as_str(), mid.reason, mid.chunks, mid.media),
                ("mid", EndReason::IdleTimeout, 3, 0)
            );
            assert_eq!(mid.algorithm, "robustmpc");
            assert_eq!(mid.rebuffer_s, 1.0);
            assert!(mid.qoe.is_finite());
        }
        // Sessions still live at shutdown end with it; a drained store is empty.
        store.decide(&fx.ctx, "live", &first()).unwrap();
        store
            .decide(&fx.ctx, "live", &report(&fx.ctx, 0, 0, 2000.0, 1000.0))
            .unwrap();
        assert_eq!(store.drain(), 1);
        assert_eq!((store.active(), store.reserved_bytes()), (0, 0));
        assert_eq!(store.sweep() + store.drain(), 0);
        let ended = ended.lock().unwrap();
        assert_eq!(ended.len(), 2);
        assert_eq!(
            (ended[1].id.as_str(), ended[1].reason, ended[1].chunks),
            ("live", EndReason::ServerShutdown, 1)
        );
        drop(ended);
        // `end` (the Pensieve mode's: its client carries on) reports nothing.
        store.decide(&fx.ctx, "p", &first()).unwrap();
        assert!(store.end("p"));
        assert_eq!(store.active(), 0);
        assert_eq!(ended_count(&store), 2);
    }

    #[test]
    fn a_retried_report_keeps_its_stall_and_the_algorithm_refolds_it() {
        let fx = fixture();
        let store = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        store.decide(&fx.ctx, "s", &first()).unwrap();
        let mut r0 = report(&fx.ctx, 0, 1, 1000.0, 1000.0);
        r0.total_rebuffer_s = Some(1.0);
        store.decide(&fx.ctx, "s", &r0).unwrap();
        let mut r1 = report(&fx.ctx, 1, 1, 1000.0, 2000.0);
        r1.total_rebuffer_s = Some(3.0);
        store.decide(&fx.ctx, "s", &r1).unwrap();
        // The same report again (the client retried the decision request).
        store.decide(&fx.ctx, "s", &r1).unwrap();
        let h = history(&store, "s");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].rebuffer_s, 2.0, "the retry must not zero the stall");
        // A corrected retry (faster download): the forecast follows the corrected record, as a
        // fresh robustmpc on the corrected history would.
        let corrected = report(&fx.ctx, 1, 1, 3000.0, 2000.0);
        let a = store.decide(&fx.ctx, "s", &corrected).unwrap();
        let fresh = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        fresh.decide(&fx.ctx, "t", &first()).unwrap();
        let mut f0 = report(&fx.ctx, 0, 1, 1000.0, 1000.0);
        f0.total_rebuffer_s = Some(1.0);
        fresh.decide(&fx.ctx, "t", &f0).unwrap();
        let b = fresh.decide(&fx.ctx, "t", &corrected).unwrap();
        assert_eq!(a.reasons, b.reasons);
        assert_eq!(a.level, b.level);
    }

    #[test]
    fn a_looping_client_keeps_a_bounded_history_and_a_live_forecast() {
        let fx = fixture();
        let chunks = fx.ctx.media.at(0).video.num_chunks();
        let store = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        store.decide(&fx.ctx, "loop", &first()).unwrap();
        let mut t_ms = 0.0;
        let mut last = None;
        // Three times through the video at 1 Mbit/s, then 10 more chunks at 3 Mbit/s.
        for n in 0..3 * chunks + 10 {
            let kbps = if n < 3 * chunks { 1000.0 } else { 3000.0 };
            t_ms += 1000.0;
            let mut r = report(&fx.ctx, n % chunks, 0, kbps, t_ms);
            r.next_chunk = Some((n + 1) % chunks);
            last = Some(store.decide(&fx.ctx, "loop", &r).unwrap());
            assert!(history(&store, "loop").len() <= 2 * chunks + 8);
            let slot = lock(store.shard("loop")).get("loop").cloned().unwrap();
            let capacity = lock(&slot.state).history.capacity();
            assert!(capacity <= max_history_len(chunks), "{capacity}");
        }
        // robustmpc's forecast is the harmonic mean of the last 5 downloads over (1 + max error):
        // after 10 steady downloads it is the new rate, not frozen at the old one.
        let predicted = last.unwrap().reasons.predicted_throughput_kbps.unwrap();
        assert!((predicted - 3000.0).abs() < 30.0, "{predicted}");
    }

    #[test]
    fn the_session_limit_holds_under_concurrent_creation() {
        let fx = fixture();
        let store = SessionStore::new(5, u64::MAX, Duration::from_secs(60));
        let created = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for t in 0..8 {
                let (store, ctx, created) = (&store, &fx.ctx, &created);
                scope.spawn(move || {
                    for i in 0..50 {
                        if store.decide(ctx, &format!("t{t}-{i}"), &first()).is_ok() {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(created.into_inner(), 5);
        assert_eq!(store.active(), 5);
    }

    #[test]
    fn unknown_algorithms_are_a_400_even_on_a_live_session_and_are_cut_short() {
        let fx = fixture();
        let store = SessionStore::new(10, u64::MAX, Duration::from_secs(60));
        store.decide(&fx.ctx, "s", &first()).unwrap();
        let mut req = first();
        req.algorithm = Some("x".repeat(5000));
        let e = store.decide(&fx.ctx, "s", &req).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
        assert!(e.to_string().len() < 400, "{e}");
        req.algorithm = Some("bb".into());
        let e = store.decide(&fx.ctx, "s", &req).unwrap_err();
        assert_eq!(e.status(), 409, "{e}");
    }

    #[test]
    fn the_byte_budget_bounds_the_sessions_and_refuses_clearly() {
        let fx = fixture();
        let chunks = fx.ctx.media.at(0).video.num_chunks();
        let cost = session_cost_bytes(chunks);
        // Room for three sessions and a half.
        let budget = 3 * cost + cost / 2;
        let store = SessionStore::new(1000, budget, Duration::from_millis(50));
        let created = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (store, ctx, created) = (&store, &fx.ctx, &created);
                scope.spawn(move || {
                    for i in 0..20 {
                        match store.decide(ctx, &format!("t{t}-{i}"), &first()) {
                            Ok(_) => {
                                created.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                assert_eq!(e.status(), 503, "{e}");
                                assert!(e.to_string().contains("memory budget"), "{e}");
                                assert!(e.to_string().contains(&budget.to_string()), "{e}");
                            }
                        }
                        assert!(store.reserved_bytes() <= budget);
                    }
                });
            }
        });
        assert_eq!(created.into_inner(), 3);
        assert_eq!(store.reserved_bytes(), 3 * cost);
        // A whole video (and a loop) played in one session stays within what it reserved.
        let id = (0..4)
            .flat_map(|t| (0..20).map(move |i| format!("t{t}-{i}")))
            .find(|id| lock(store.shard(id)).contains_key(id))
            .unwrap();
        for n in 0..3 * chunks {
            let mut r = report(&fx.ctx, n % chunks, 0, 1000.0, 1000.0 * (n + 1) as f64);
            r.next_chunk = Some((n + 1) % chunks);
            store.decide(&fx.ctx, &id, &r).unwrap();
            let bytes = lock(store.shard(&id)).get(&id).map(|slot| {
                lock(&slot.state).history.capacity() * std::mem::size_of::<ChunkRecord>()
            });
            assert!(bytes.unwrap() as u64 + SESSION_OVERHEAD_BYTES <= cost);
        }
        // Idle sessions give their bytes back.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(store.sweep(), 3);
        assert_eq!(store.reserved_bytes(), 0);
        store.decide(&fx.ctx, "again", &first()).unwrap();
        assert_eq!(store.reserved_bytes(), cost);
    }
}
