//! Many players on one link (issue 22): a fluid, event-driven driver over core's trace cursor.
//!
//! N players, each with its own [`Abr`], video, arrival time and (optionally) departure time,
//! share one trace-driven link. Between two events (an arrival, a departure, a download's last
//! byte, a sleep's end) the link's payload capacity is split among the downloads in flight in
//! proportion to their weights (all 1 by default: TCP-like equal shares); a player that is not
//! downloading (sleeping on a full buffer, not yet arrived, gone) frees its share. An
//! [`Allocator`] (from `neuralstream-alloc`, the same code `neuralstream serve --egress-mbps` runs)
//! gives each player a range of levels, a cap and optionally a floor: the level fetched is the
//! ABR's choice clamped into `[floor, cap]` ([`Cap::apply`]).
//!
//! ## The model, and why N = 1 is Pensieve's simulator exactly
//!
//! Each player is [`Session`](crate::Session)'s player: the same buffer, stall, sleep and
//! QoE arithmetic, in the same order. The link is one [`TraceLink`] and one [`LinkCursor`](neuralstream_core::LinkCursor), moved
//! by [`TraceLink::deliver`] (to the next download to finish), [`TraceLink::capacity_bytes`] (to an
//! event that interrupts the downloads) and [`TraceLink::idle_ms`] (nobody downloading). As in
//! Pensieve, the link's clock is the trace's clock: a download's round trip (`rtt_ms`) is added to
//! the player's delay (its buffer drains, it may stall) but takes no link time, so a player's next
//! request starts on the link where its last download ended. With one player and no departure
//! every download is then one `deliver` of the chunk's bytes and every sleep one `idle_ms`, the
//! calls `Session::step` makes: the driver equals `run_session` to the bit
//! (`tests/shared_link.rs`). Delay noise (training mode) is refused: it has no one link clock.
//!
//! Event times are link (trace) seconds since the link's start; a player's
//! [`ChunkRecord`]s keep its own session clock (from its arrival, round trips included), as the
//! single-player simulator writes them, and [`PlayerLog::link_finish_s`] gives each download's
//! end on the link's clock for charts.
//!
//! Allocation is recomputed when a player arrives, leaves or finishes, and otherwise every
//! [`SharedConfig::realloc_every_s`] of link time, from the capacity the config names:
//! configured, or estimated from the link's recent busy periods ([`CapacityEstimator`]). An
//! allocator that also sets link weights ([`Allocator::sets_weights`], e.g. `fair`) is asked
//! again every `realloc_every_s` while downloads are in flight (a timed event like a sleep's end),
//! and a player's share is its own [`SharedPlayer::weight`] times the allocator's weight.

use crate::config::{SimConfig, StartPosition};
use crate::runner::SessionLog;
use crate::SimError;
use neuralstream_alloc::{Allocator, Cap, CapacityEstimator, SessionView};
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{
    Abr, ChunkRecord, Decision, DeliverySpent, Observation, QoeModel, Rng, Trace, TraceLink, Video,
};

/// Link time between two allocations when nobody arrives or leaves, seconds.
pub const DEFAULT_REALLOC_EVERY_S: f64 = 1.0;

/// Bytes of a download still to come that count as none (floating-point dust of the split).
const DONE_BYTES: f64 = 1e-6;

/// Where an allocator's capacity comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapacitySource {
    /// Estimated from the link's busy periods of this recent window of link time, seconds.
    Estimated {
        /// Link time the estimate looks back over, seconds.
        window_s: f64,
    },
    /// A configured payload capacity, kbit/s (an operator's egress).
    Configured {
        /// The capacity, kbit/s.
        kbps: f64,
    },
}

/// Settings of a shared-link run.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    /// Every player's model (buffer, RTT, sleep, start-up level, chunks) and the link's payload
    /// fraction and loop budget. `delay_noise` must be `None`.
    pub sim: SimConfig,
    /// Where on the trace the link starts.
    pub link_start: StartPosition,
    /// The QoE model players are scored with; allocators see each player's QoE so far under it.
    pub qoe: QoeModel,
    /// Where the allocator's capacity comes from.
    pub capacity: CapacitySource,
    /// Link time between allocations when nobody arrives or leaves, seconds.
    pub realloc_every_s: f64,
}

impl SharedConfig {
    /// Pensieve's player model, the trace's start, QoE_lin, capacity estimated over the last 30 s.
    pub fn pensieve() -> Self {
        SharedConfig {
            sim: SimConfig::pensieve(),
            link_start: StartPosition::Beginning,
            qoe: QoeModel::lin(),
            capacity: CapacitySource::Estimated {
                window_s: neuralstream_alloc::capacity::DEFAULT_WINDOW_S,
            },
            realloc_every_s: DEFAULT_REALLOC_EVERY_S,
        }
    }
}

/// One player of a shared link.
pub struct SharedPlayer<'a> {
    /// Its ABR (a fresh instance; `reset` is called on arrival).
    pub abr: Box<dyn Abr + 'a>,
    /// Its video.
    pub video: &'a Video,
    /// Arrival on the link's clock, seconds (>= 0).
    pub start_s: f64,
    /// Departure on the link's clock, seconds, if it leaves before its video ends (a download in
    /// flight is abandoned).
    pub leave_s: Option<f64>,
    /// Share weight of its downloads (> 0; 1 = an equal share).
    pub weight: f64,
}

/// What one player did.
#[derive(Debug, Clone, Default)]
pub struct PlayerLog {
    /// Its ABR's name.
    pub abr: String,
    /// Arrival, link seconds.
    pub start_s: f64,
    /// When it finished its last chunk or left, link seconds.
    pub end_s: f64,
    /// True when it left before its last chunk.
    pub left_early: bool,
    /// Its chunk records (session clock from its arrival) and its ABR's decisions (before the
    /// cap and floor).
    pub log: SessionLog,
    /// The cap (and floor) each chunk was fetched under.
    pub caps: Vec<Cap>,
    /// Link time each chunk's last byte arrived, seconds.
    pub link_finish_s: Vec<f64>,
}

/// What the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkStats {
    /// Payload bytes the link could carry while at least one player was present.
    pub capacity_bytes: f64,
    /// Payload bytes delivered to players (abandoned downloads' partial bytes included).
    pub delivered_bytes: f64,
    /// Link time with at least one download in flight, seconds.
    pub busy_s: f64,
    /// Link time with at least one player present, seconds.
    pub present_s: f64,
    /// Link time of the last event, seconds.
    pub end_s: f64,
}

impl LinkStats {
    /// Delivered over capacity while players were present (0 when there was no capacity).
    pub fn utilisation(&self) -> f64 {
        if self.capacity_bytes > 0.0 {
            self.delivered_bytes / self.capacity_bytes
        } else {
            0.0
        }
    }
}

/// A shared-link run's result.
#[derive(Debug, Clone, Default)]
pub struct SharedOutcome {
    /// One log per player, in the order given.
    pub players: Vec<PlayerLog>,
    /// The link's totals.
    pub link: LinkStats,
}

/// Arrival and departure times of `players` players: arrivals a Poisson process with mean gap
/// `mean_gap_s` (the first at 0), each staying an exponential time of mean `mean_stay_s` when
/// given (else until its video ends). Seeded, so reproducible.
pub fn poisson_schedule(
    players: usize,
    mean_gap_s: f64,
    mean_stay_s: Option<f64>,
    rng: &mut Rng,
) -> Vec<(f64, Option<f64>)> {
    let mut exp = |mean: f64| -mean * (1.0 - rng.uniform()).ln();
    let mut t = 0.0;
    (0..players)
        .map(|i| {
            if i > 0 {
                t += exp(mean_gap_s);
            }
            let leave = mean_stay_s.map(|m| t + exp(m));
            (t, leave)
        })
        .collect()
}

/// Where a player is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not arrived yet.
    Waiting,
    /// Downloading chunk `next_chunk` at `level`.
    Transfer {
        left_bytes: f64,
        size_bytes: u64,
        level: usize,
        spent_s: f64,
    },
    /// Sleeping on a full buffer for `left_ms` more.
    Sleeping { left_ms: f64 },
    /// Finished or gone.
    Done,
}

/// A player's state during the run.
struct Player<'p, 'a> {
    spec: &'p mut SharedPlayer<'a>,
    qoe: CompiledQoe,
    /// `qoe.utility(level)` of every level, for the allocator's view.
    utility: Vec<f64>,
    phase: Phase,
    buffer_ms: f64,
    clock_s: f64,
    next_chunk: usize,
    total_chunks: usize,
    last_level: usize,
    qoe_so_far: f64,
    out: PlayerLog,
}

impl Player<'_, '_> {
    fn present(&self) -> bool {
        !matches!(self.phase, Phase::Waiting | Phase::Done)
    }
}

/// Checks the config and the players; compiles each player's QoE model.
fn validate(
    cfg: &SharedConfig,
    players: &[SharedPlayer<'_>],
) -> Result<Vec<CompiledQoe>, SimError> {
    cfg.sim.validate()?;
    if cfg.sim.delay_noise.is_some() {
        return Err(SimError::InvalidConfig {
            field: "delay_noise",
            problem: "the shared-link driver has one link clock and no delay noise; use the \
                      test-mode settings (delay_noise: None)"
                .into(),
        });
    }
    let real_link = [
        ("rtt_advances_trace", cfg.sim.rtt_advances_trace),
        ("init_segment_bytes", cfg.sim.init_segment_bytes.is_some()),
        ("trace_offset_ms", cfg.sim.trace_offset_ms != 0.0),
    ];
    if let Some(&(field, _)) = real_link.iter().find(|(_, on)| *on) {
        return Err(SimError::InvalidConfig {
            field,
            problem: "the shared-link driver models Pensieve's requests only (round trips take \
                      no link time, no init segments, the link starts with the players); turn it \
                      off (arrivals have start_s)"
                .into(),
        });
    }
    if !(cfg.realloc_every_s.is_finite() && cfg.realloc_every_s > 0.0) {
        return Err(SimError::InvalidConfig {
            field: "realloc_every_s",
            problem: format!(
                "must be a number of seconds > 0, got {}",
                cfg.realloc_every_s
            ),
        });
    }
    if let CapacitySource::Configured { kbps } = cfg.capacity {
        if !(kbps.is_finite() && kbps > 0.0) {
            return Err(SimError::InvalidConfig {
                field: "capacity",
                problem: format!("a configured capacity must be kbit/s > 0, got {kbps}"),
            });
        }
    }
    let bad = |player: usize, problem: String| SimError::InvalidPlayer { player, problem };
    players
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if !(p.start_s.is_finite() && p.start_s >= 0.0) {
                return Err(bad(i, format!("start {} s: must be >= 0", p.start_s)));
            }
            if let Some(l) = p.leave_s {
                if !(l.is_finite() && l >= p.start_s) {
                    return Err(bad(
                        i,
                        format!("leaves at {l} s, before its start {} s", p.start_s),
                    ));
                }
            }
            if !(p.weight.is_finite() && p.weight > 0.0) {
                return Err(bad(i, format!("weight {}: must be > 0", p.weight)));
            }
            cfg.qoe
                .compile(p.video)
                .map_err(|e| bad(i, format!("QoE model {}: {e}", cfg.qoe.spec())))
        })
        .collect()
}

/// Runs `players` on one link over `trace`, capped by `allocator` (see the module doc).
pub fn run_shared(
    cfg: &SharedConfig,
    trace: &Trace,
    players: &mut [SharedPlayer<'_>],
    allocator: &mut dyn Allocator,
) -> Result<SharedOutcome, SimError> {
    let qoes = validate(cfg, players)?;
    let link = TraceLink::new(trace, cfg.sim.payload_fraction)
        .with_max_trace_loops(cfg.sim.max_trace_loops);
    let mut cursor = match cfg.link_start {
        StartPosition::Beginning => link.start(),
        StartPosition::Sample(i) => link.at_sample(i),
    };
    let mut ps: Vec<Player<'_, '_>> = players
        .iter_mut()
        .zip(qoes)
        .map(|(spec, qoe)| {
            let total_chunks = cfg.sim.chunks_for(spec.video.num_chunks());
            let out = PlayerLog {
                abr: spec.abr.name(),
                start_s: spec.start_s,
                ..PlayerLog::default()
            };
            let utility = (0..spec.video.num_levels())
                .map(|l| qoe.utility(l))
                .collect();
            Player {
                spec,
                qoe,
                utility,
                phase: Phase::Waiting,
                buffer_ms: 0.0,
                clock_s: 0.0,
                next_chunk: 0,
                total_chunks,
                last_level: 0,
                qoe_so_far: 0.0,
                out,
            }
        })
        .collect();
    let mut d = Driver {
        cfg,
        now_s: 0.0,
        caps: vec![None; ps.len()],
        weights: vec![1.0; ps.len()],
        timed_realloc: allocator.sets_weights(),
        alloc_due_s: f64::NEG_INFINITY,
        estimator: match cfg.capacity {
            CapacitySource::Estimated { window_s } => CapacityEstimator::new(window_s),
            CapacitySource::Configured { .. } => CapacityEstimator::default(),
        },
        stats: LinkStats::default(),
    };
    loop {
        d.arrivals_and_departures(&mut ps, allocator)?;
        if ps.iter().all(|p| p.phase == Phase::Done) {
            break;
        }
        if d.timed_realloc && d.now_s >= d.alloc_due_s {
            d.reallocate(&ps, None, allocator);
        }
        let next_ms = d.next_timed_ms(&ps);
        let present = ps.iter().any(Player::present);
        let weight = |i: usize| ps[i].spec.weight * d.weights[i];
        let weight_sum: f64 = (0..ps.len())
            .filter(|&i| matches!(ps[i].phase, Phase::Transfer { .. }))
            .map(weight)
            .sum();
        if weight_sum == 0.0 {
            // Nobody downloads: the link idles to the next timed event.
            let dt_ms = next_ms.expect("a player not done has a timed event");
            if present {
                let mut probe = cursor;
                d.stats.capacity_bytes += link.capacity_bytes(&mut probe, dt_ms / 1000.0);
                d.stats.present_s += dt_ms / 1000.0;
            }
            link.idle_ms(&mut cursor, dt_ms);
            d.advance(&mut ps, dt_ms, allocator)?;
            continue;
        }
        // The download that finishes first at the current shares needs `total` bytes of the link.
        let (first, total) = ps
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p.phase {
                Phase::Transfer { left_bytes, .. } => {
                    Some((i, left_bytes / (weight(i) / weight_sum)))
                }
                _ => None,
            })
            .fold(
                (usize::MAX, f64::INFINITY),
                |a, b| if b.1 < a.1 { b } else { a },
            );
        let mut probe = cursor;
        let to_first = link.deliver(&mut probe, total, &mut DeliverySpent::default());
        let interrupted = match (&to_first, next_ms) {
            (Ok(secs), Some(ms)) => ms / 1000.0 < *secs,
            (Err(_), Some(_)) => true,
            (_, None) => false,
        };
        let (dt_s, carried) = if interrupted {
            let dt_s = next_ms.expect("interrupted by a timed event") / 1000.0;
            (dt_s, link.capacity_bytes(&mut cursor, dt_s))
        } else {
            let secs = to_first.map_err(|e| SimError::Stalled {
                trace: trace.name.clone(),
                chunk: ps[first].next_chunk,
                loops: e.loops,
                seconds: e.trace_s,
            })?;
            cursor = probe;
            (secs, total)
        };
        d.stats.capacity_bytes += carried;
        d.stats.delivered_bytes += carried;
        d.stats.busy_s += dt_s;
        d.stats.present_s += dt_s;
        d.estimator.record(d.now_s + dt_s, carried, dt_s);
        for (i, p) in ps.iter_mut().enumerate() {
            let share = p.spec.weight * d.weights[i] / weight_sum;
            if let Phase::Transfer {
                left_bytes,
                spent_s,
                ..
            } = &mut p.phase
            {
                *spent_s += dt_s;
                *left_bytes -= carried * share;
                if i == first && !interrupted {
                    *left_bytes = 0.0;
                }
            }
        }
        d.advance(&mut ps, dt_s * 1000.0, allocator)?;
    }
    d.stats.end_s = d.now_s;
    Ok(SharedOutcome {
        players: ps.into_iter().map(|p| p.out).collect(),
        link: d.stats,
    })
}

/// The run's clock, caps, weights and totals.
struct Driver<'c> {
    cfg: &'c SharedConfig,
    now_s: f64,
    caps: Vec<Option<Cap>>,
    /// The allocator's link weight of every player (1 until it sets one).
    weights: Vec<f64>,
    /// Whether the allocator sets weights, so allocation is also a timed event.
    timed_realloc: bool,
    alloc_due_s: f64,
    estimator: CapacityEstimator,
    stats: LinkStats,
}

impl Driver<'_> {
    /// Time to the next arrival, departure, sleep's end or (for an allocator that sets weights,
    /// while a download is in flight) allocation, ms.
    fn next_timed_ms(&self, ps: &[Player<'_, '_>]) -> Option<f64> {
        let mut next = f64::INFINITY;
        if self.timed_realloc && ps.iter().any(|p| matches!(p.phase, Phase::Transfer { .. })) {
            next = next.min(((self.alloc_due_s - self.now_s) * 1000.0).max(0.0));
        }
        for p in ps {
            match p.phase {
                Phase::Waiting => next = next.min((p.spec.start_s - self.now_s) * 1000.0),
                Phase::Done => continue,
                Phase::Sleeping { left_ms } => next = next.min(left_ms),
                Phase::Transfer { .. } => {}
            }
            if let (Some(l), true) = (p.spec.leave_s, p.present()) {
                next = next.min((l - self.now_s) * 1000.0);
            }
        }
        next.is_finite().then_some(next.max(0.0))
    }

    /// Moves the clock on by `dt_ms`: sleeps end, downloads that got their bytes finish.
    fn advance(
        &mut self,
        ps: &mut [Player<'_, '_>],
        dt_ms: f64,
        allocator: &mut dyn Allocator,
    ) -> Result<(), SimError> {
        self.now_s += dt_ms / 1000.0;
        for i in 0..ps.len() {
            match &mut ps[i].phase {
                Phase::Sleeping { left_ms } => {
                    *left_ms -= dt_ms;
                    if *left_ms <= 0.0 {
                        self.request_next(ps, i, allocator)?;
                    }
                }
                Phase::Transfer { left_bytes, .. } if *left_bytes <= DONE_BYTES => {
                    self.finish_download(ps, i, allocator)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Players whose arrival or departure time has come.
    fn arrivals_and_departures(
        &mut self,
        ps: &mut [Player<'_, '_>],
        allocator: &mut dyn Allocator,
    ) -> Result<(), SimError> {
        for i in 0..ps.len() {
            let p = &mut ps[i];
            let gone = p.spec.leave_s.is_some_and(|l| l <= self.now_s);
            if p.present() && gone {
                // A download in flight is abandoned; its partial bytes were delivered all the same.
                p.out.left_early = true;
                self.end(ps, i);
            } else if p.phase == Phase::Waiting && p.spec.start_s <= self.now_s {
                p.spec.abr.reset();
                self.alloc_due_s = f64::NEG_INFINITY;
                if gone {
                    p.out.left_early = true;
                    self.end(ps, i);
                } else {
                    self.request_next(ps, i, allocator)?;
                }
            }
        }
        Ok(())
    }

    /// Player `i` is done (finished or gone): it frees its share and the allocation is redone.
    fn end(&mut self, ps: &mut [Player<'_, '_>], i: usize) {
        let p = &mut ps[i];
        p.phase = Phase::Done;
        p.out.end_s = self.now_s;
        self.caps[i] = None;
        self.alloc_due_s = f64::NEG_INFINITY;
        let obs = Observation {
            video: p.spec.video,
            next_chunk: p.next_chunk,
            total_chunks: p.total_chunks,
            buffer_s: p.buffer_ms / 1000.0,
            last_level: p.last_level,
            history: &p.out.log.records,
        };
        if !p.out.left_early {
            p.spec.abr.session_finished(&obs);
        }
    }

    /// The cap of player `i` now, redoing the allocation when it is due.
    fn cap(&mut self, ps: &[Player<'_, '_>], i: usize, allocator: &mut dyn Allocator) -> Cap {
        if self.now_s >= self.alloc_due_s || self.caps[i].is_none() {
            self.reallocate(ps, Some(i), allocator);
        }
        self.caps[i].unwrap_or_else(|| Cap::uncapped(ps[i].spec.video))
    }

    /// Asks the allocator for the caps and weights of the players present (and `also`, a player
    /// arriving), and sets when the next allocation is due.
    fn reallocate(
        &mut self,
        ps: &[Player<'_, '_>],
        also: Option<usize>,
        allocator: &mut dyn Allocator,
    ) {
        let capacity_kbps = match self.cfg.capacity {
            CapacitySource::Configured { kbps } => kbps,
            CapacitySource::Estimated { .. } => self.estimator.kbps().unwrap_or(f64::NAN),
        };
        let present: Vec<usize> = (0..ps.len())
            .filter(|&j| ps[j].present() || Some(j) == also)
            .collect();
        let views: Vec<SessionView<'_>> = present
            .iter()
            .map(|&j| {
                let p = &ps[j];
                SessionView {
                    video: p.spec.video,
                    buffer_s: p.buffer_ms / 1000.0,
                    last_level: p.last_level,
                    chunks_done: p.out.log.records.len(),
                    total_chunks: p.total_chunks,
                    qoe_so_far: p.qoe_so_far,
                    utility: &p.utility,
                    rebuffer_penalty: p.qoe.rebuffer_penalty,
                }
            })
            .collect();
        // An allocator that only caps answers weight 1 (the trait's default).
        for (&j, s) in present
            .iter()
            .zip(allocator.allocate_shares(capacity_kbps, &views))
        {
            self.caps[j] = Some(s.cap);
            self.weights[j] = if s.weight.is_finite() && s.weight > 0.0 {
                s.weight
            } else {
                1.0
            };
        }
        self.alloc_due_s = self.now_s + self.cfg.realloc_every_s;
    }

    /// Player `i` asks its ABR for its next chunk and starts downloading it (or is done).
    fn request_next(
        &mut self,
        ps: &mut [Player<'_, '_>],
        i: usize,
        allocator: &mut dyn Allocator,
    ) -> Result<(), SimError> {
        if ps[i].next_chunk >= ps[i].total_chunks {
            self.end(ps, i);
            return Ok(());
        }
        let cap = self.cap(ps, i, allocator);
        let p = &mut ps[i];
        let video = p.spec.video;
        let levels = video.num_levels();
        let chunk = p.next_chunk;
        let startup = self.cfg.sim.startup_level.map(|l| l.min(levels - 1));
        if chunk == 0 {
            p.last_level = startup.unwrap_or(0);
        }
        let decision = match (chunk, startup) {
            (0, Some(l)) => Decision::level(l),
            _ => p.spec.abr.choose(&Observation {
                video,
                next_chunk: chunk,
                total_chunks: p.total_chunks,
                buffer_s: p.buffer_ms / 1000.0,
                last_level: p.last_level,
                history: &p.out.log.records,
            }),
        };
        if decision.level >= levels {
            return Err(SimError::InvalidLevel {
                abr: p.spec.abr.name(),
                level: decision.level,
                chunk,
                levels,
            });
        }
        let level = cap.apply(decision.level);
        let size_bytes = video.size_bytes(level, chunk);
        p.out.log.decisions.push(decision);
        p.out.caps.push(cap);
        p.phase = Phase::Transfer {
            left_bytes: size_bytes as f64,
            size_bytes,
            level,
            spent_s: 0.0,
        };
        Ok(())
    }

    /// Player `i`'s download got its last byte: the player's arithmetic of `Session::step`.
    fn finish_download(
        &mut self,
        ps: &mut [Player<'_, '_>],
        i: usize,
        allocator: &mut dyn Allocator,
    ) -> Result<(), SimError> {
        let sim = &self.cfg.sim;
        let p = &mut ps[i];
        let Phase::Transfer {
            size_bytes,
            level,
            spent_s,
            ..
        } = p.phase
        else {
            return Ok(());
        };
        let chunk = p.next_chunk;
        let chunk_ms = p.spec.video.chunk_duration_s * 1000.0;
        let delay_ms = spent_s * 1000.0 + sim.rtt_ms;
        let rebuffer_ms = (delay_ms - p.buffer_ms).max(0.0);
        p.buffer_ms = (p.buffer_ms - delay_ms).max(0.0) + chunk_ms;
        let mut sleep_ms = 0.0;
        if p.buffer_ms > sim.buffer_cap_ms {
            let drain = p.buffer_ms - sim.buffer_cap_ms;
            sleep_ms = (drain / sim.drain_sleep_ms).ceil() * sim.drain_sleep_ms;
            p.buffer_ms -= sleep_ms;
        }
        let request_s = p.clock_s;
        let finish_s = request_s + delay_ms / 1000.0;
        p.clock_s = finish_s + sleep_ms / 1000.0;
        let rec = ChunkRecord {
            index: chunk,
            level,
            bitrate_kbps: p.spec.video.ladder.kbps(level),
            size_bytes,
            delay_ms,
            sleep_ms,
            rebuffer_s: rebuffer_ms / 1000.0,
            buffer_s: p.buffer_ms / 1000.0,
            request_s,
            finish_s,
        };
        // QoE so far, scored as the server scores it: the start-up chunk excluded.
        if chunk > 0 {
            let prev = p.out.log.records.last().copied().unwrap_or(rec);
            p.qoe_so_far += p
                .qoe
                .reward_at(chunk, level, prev.index, prev.level, rec.rebuffer_s);
        }
        p.out.log.records.push(rec);
        p.out.link_finish_s.push(self.now_s);
        p.last_level = level;
        p.next_chunk += 1;
        if p.next_chunk >= p.total_chunks {
            self.end(ps, i);
        } else if sleep_ms > 0.0 {
            p.phase = Phase::Sleeping { left_ms: sleep_ms };
        } else {
            self.request_next(ps, i, allocator)?;
        }
        Ok(())
    }
}

/// Returns `trace` with every capacity multiplied by `factor` (> 0): a link for `factor` players
/// from a trace recorded by one. The name gains `xFACTOR`.
pub fn scaled_trace(trace: &Trace, factor: f64) -> Result<Trace, SimError> {
    if !(factor.is_finite() && factor > 0.0) {
        return Err(SimError::InvalidConfig {
            field: "capacity scale",
            problem: format!("must be a number > 0, got {factor}"),
        });
    }
    let name = if factor == 1.0 {
        trace.name.clone()
    } else {
        format!("{}x{factor}", trace.name)
    };
    let bandwidth_mbps = trace.bandwidth_mbps.iter().map(|b| b * factor).collect();
    Trace::new(name, trace.time_s.clone(), bandwidth_mbps).map_err(|e| SimError::InvalidConfig {
        field: "capacity scale",
        problem: format!("x{factor}: {e}"),
    })
}
