//! `serve --egress-mbps`: server-side bandwidth allocation (issue 22). The server knows its
//! egress capacity (configured) and every session's reported state, and caps each session's level
//! with an allocator of `neuralstream-alloc`, the same code the shared-link simulator runs
//! (`neuralstream bench --players`). The level answered is the algorithm's level clamped into the
//! allocator's `[floor, cap]` (`Cap::apply`; only `fair` sets floors: it raises a session behind on
//! QoE whose buffer and share of the egress allow it); the decision's reasons carry the cap, the
//! floor and why. Clients fetch the level answered, so they obey both.
//!
//! Sessions are summarised here ([`Summary`]: video, buffer, last level, chunks done, QoE so far)
//! when they ask for a decision, so an allocation never locks a session: the lock order is always
//! session, then this module's one mutex. Allocation is redone when a session appears, a session
//! has no cap yet, or [`REALLOC_EVERY`] has passed; summaries of sessions silent for the session
//! idle time are dropped then. `/metrics` reports the capacity, the sessions allocated, the
//! decisions lowered by a cap and those raised by a floor, and Jain's fairness index of the
//! sessions' QoE per chunk so far.
//!
//! Link weights (`fair`'s `Share::weight`) are not applied: the server writes every response as
//! fast as its connection's TCP allows and has no pacer per session, so a weight is only shown in
//! the decision's cap reason (for a pacing proxy or a client). The server approximates the
//! weights with `fair`'s caps and floors alone: max-min caps while the sessions' QoE so far is
//! unequal (the session behind keeps the higher cap), none while it is equal. In the simulator
//! those caps and floors alone are measured beside caps, floors and weights together
//! (`docs/benchmarks.md`, "Shared link").

use crate::media::MediaLibrary;
use neuralstream_alloc::{jain_index, Allocator, Cap, SessionView};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest time between two allocations while sessions come and go at most.
pub const REALLOC_EVERY: Duration = Duration::from_secs(1);

/// What the allocator knows of one session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Index of its video in the media library.
    pub media: usize,
    /// Buffer level it reported, seconds.
    pub buffer_s: f64,
    /// Level of its last downloaded chunk.
    pub last_level: usize,
    /// Chunks it reported.
    pub chunks_done: usize,
    /// Chunks of its video.
    pub total_chunks: usize,
    /// Its QoE so far (the start-up chunk excluded).
    pub qoe_so_far: f64,
}

struct Entry {
    summary: Summary,
    cap: Option<Cap>,
    seen: Instant,
}

struct State {
    allocator: Box<dyn Allocator>,
    sessions: HashMap<String, Entry>,
    allocated_at: Option<Instant>,
    capped_total: u64,
    floored_total: u64,
}

impl State {
    /// Jain's index of the sessions' QoE per scored chunk so far (sessions with at least two
    /// chunks; the start-up chunk is not scored).
    fn jain_qoe(&self) -> Option<f64> {
        let per_chunk: Vec<f64> = self
            .sessions
            .values()
            .filter(|e| e.summary.chunks_done >= 2)
            .map(|e| e.summary.qoe_so_far / (e.summary.chunks_done - 1) as f64)
            .collect();
        jain_index(&per_chunk)
    }
}

/// The egress allocator of a server.
pub struct Egress {
    capacity_kbps: f64,
    idle: Duration,
    /// Per-level utility of every media's QoE model.
    utility: Vec<Vec<f64>>,
    rebuffer_penalty: Vec<f64>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("capacity_kbps", &self.capacity_kbps)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Egress {
    /// An egress of `capacity_kbps` (checked by the caller: finite, > 0) split by `allocator`
    /// among the sessions of `media`; a session silent for `idle` is forgotten.
    pub fn new(
        capacity_kbps: f64,
        allocator: Box<dyn Allocator>,
        media: &MediaLibrary,
        idle: Duration,
    ) -> Self {
        Egress {
            capacity_kbps,
            idle,
            utility: media
                .iter()
                .map(|m| {
                    (0..m.video.num_levels())
                        .map(|l| m.qoe.utility(l))
                        .collect()
                })
                .collect(),
            rebuffer_penalty: media.iter().map(|m| m.qoe.rebuffer_penalty).collect(),
            state: Mutex::new(State {
                allocator,
                sessions: HashMap::new(),
                allocated_at: None,
                capped_total: 0,
                floored_total: 0,
            }),
        }
    }

    /// The cap (and floor) of session `id`, whose state is now `summary`; counts a decision of
    /// `level` the cap lowers or the floor raises.
    pub fn cap(&self, media: &MediaLibrary, id: &str, summary: Summary, level: usize) -> Cap {
        let now = Instant::now();
        let mut st = lock(&self.state);
        let new = match st.sessions.get_mut(id) {
            Some(e) => {
                e.summary = summary;
                e.seen = now;
                e.cap.is_none()
            }
            None => {
                st.sessions.insert(
                    id.to_string(),
                    Entry {
                        summary,
                        cap: None,
                        seen: now,
                    },
                );
                true
            }
        };
        let due = st
            .allocated_at
            .is_none_or(|t| now.duration_since(t) >= REALLOC_EVERY);
        if new || due {
            self.reallocate(&mut st, media, now);
        }
        let cap = st
            .sessions
            .get(id)
            .and_then(|e| e.cap)
            .unwrap_or_else(|| Cap::uncapped(&media.at(summary.media).video));
        if cap.level < level {
            st.capped_total += 1;
        }
        if cap.floor_level() > level {
            st.floored_total += 1;
        }
        cap
    }

    fn reallocate(&self, st: &mut State, media: &MediaLibrary, now: Instant) {
        let idle = self.idle;
        st.sessions.retain(|_, e| now.duration_since(e.seen) < idle);
        let State {
            allocator,
            sessions,
            ..
        } = st;
        let ids: Vec<&String> = sessions.keys().collect();
        let views: Vec<SessionView<'_>> = ids
            .iter()
            .map(|id| {
                let s = sessions[*id].summary;
                SessionView {
                    video: &media.at(s.media).video,
                    buffer_s: s.buffer_s,
                    last_level: s.last_level,
                    chunks_done: s.chunks_done,
                    total_chunks: s.total_chunks,
                    qoe_so_far: s.qoe_so_far,
                    utility: &self.utility[s.media],
                    rebuffer_penalty: self.rebuffer_penalty[s.media],
                }
            })
            .collect();
        let caps = allocator.allocate(self.capacity_kbps, &views);
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for (id, cap) in ids.iter().zip(caps) {
            if let Some(e) = sessions.get_mut(id) {
                e.cap = Some(cap);
            }
        }
        st.allocated_at = Some(now);
    }

    /// Jain's index of the known sessions' QoE per scored chunk so far (those with at least two
    /// chunks), if any.
    pub fn jain_qoe(&self) -> Option<f64> {
        lock(&self.state).jain_qoe()
    }

    /// The Prometheus lines of the egress allocator.
    pub fn render_metrics(&self) -> String {
        let st = lock(&self.state);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP neuralstream_egress_capacity_kbps Egress capacity the allocator splits (--egress-mbps), kbit/s.\n\
             # TYPE neuralstream_egress_capacity_kbps gauge\n\
             neuralstream_egress_capacity_kbps {}",
            self.capacity_kbps
        );
        let _ = writeln!(
            s,
            "# HELP neuralstream_egress_sessions Sessions the allocator split the egress among at its last allocation.\n\
             # TYPE neuralstream_egress_sessions gauge\n\
             neuralstream_egress_sessions{{allocator=\"{}\"}} {}",
            st.allocator.name(),
            st.sessions.len()
        );
        let _ = writeln!(
            s,
            "# HELP neuralstream_egress_capped_decisions_total Decisions whose level the allocator's cap lowered.\n\
             # TYPE neuralstream_egress_capped_decisions_total counter\n\
             neuralstream_egress_capped_decisions_total {}",
            st.capped_total
        );
        let _ = writeln!(
            s,
            "# HELP neuralstream_egress_floored_decisions_total Decisions whose level the allocator's floor raised.\n\
             # TYPE neuralstream_egress_floored_decisions_total counter\n\
             neuralstream_egress_floored_decisions_total {}",
            st.floored_total
        );
        if let Some(j) = st.jain_qoe() {
            let _ = writeln!(
                s,
                "# HELP neuralstream_fairness_jain_qoe Jain's fairness index of the sessions' QoE per chunk so far (1 = equal).\n\
                 # TYPE neuralstream_fairness_jain_qoe gauge\n\
                 neuralstream_fairness_jain_qoe {j}"
            );
        }
        s
    }
}
