//! # neuralstream-alloc
//!
//! Server-side bandwidth allocation for many players sharing one link (issue 22): an
//! [`Allocator`] knows the link's capacity (configured, or estimated from recent deliveries by
//! [`CapacityEstimator`]) and what every session has observed ([`SessionView`]), and gives each
//! session a bitrate [`Cap`]: the highest level its own ABR may fetch, with the reason, and
//! optionally a [`Floor`]: the lowest.
//!
//! **Key design decision:** allocators see only sessions' observations (the ladder, buffer, last
//! level, chunks downloaded and QoE so far: what a server learns from its clients' reports), never
//! the network trace, and depend on `neuralstream-core` alone. The shared-link simulator
//! (`neuralstream_sim::shared`) and `neuralstream serve --egress-mbps` therefore run the same
//! allocator code. Each player keeps its own algorithm: an allocator gives it a range
//! `[floor, cap]` and the level fetched is the ABR's choice clamped into it ([`Cap::apply`]). Most
//! allocators only cap (no floor); `fair` also raises a session that is behind on QoE to a floor
//! where its buffer and its share of the capacity allow it, since a conservative ABR (FESTIVE)
//! fetches low whatever capacity a cap or a weight frees for it.
//!
//! One allocator per file, readable top to bottom:
//!
//! | name | file | rule |
//! |---|---|---|
//! | `none` | [`none`] | independent ABRs, no cap |
//! | `equal` | [`equal`] | every session capped at `capacity / sessions` |
//! | `maxmin` | [`maxmin`] | max-min fairness on projected session QoE (Minerva, SIGCOMM'19) |
//! | `utility` | [`utility`] | greedy maximum of total utility (log bitrate, with a stall risk term) |
//! | `fair` | [`fair`] | link *weights* towards the sessions behind on QoE so far; max-min caps only while QoE is unequal; floors for the sessions behind with a deep buffer and room in their share |
//!
//! Besides caps, an allocator may set each session's **weight**: the share of the link its
//! downloads get while others download too ([`Share`], [`Allocator::allocate_shares`]). Caps can
//! only lower a level; weights move capacity from the sessions ahead to the sessions behind, as
//! Minerva moves rates. The shared-link simulator applies both; `serve` applies the caps and
//! floors only (an HTTPS server does not pace its TCP connections per session; see
//! `crates/server/src/egress.rs`).
//!
//! [`jain_index`] measures fairness (of QoE, of bitrate) for reports and `/metrics`.

#![deny(missing_docs)]

pub mod capacity;
pub mod equal;
pub mod fair;
pub mod fairness;
pub mod maxmin;
pub mod none;
pub mod utility;

pub use capacity::CapacityEstimator;
pub use fairness::jain_index;

use neuralstream_core::Video;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// What an allocator may know of one session: what its player reported, nothing of the network.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// The video (ladder and chunk sizes).
    pub video: &'a Video,
    /// Buffer level now, seconds.
    pub buffer_s: f64,
    /// Level of the last downloaded chunk.
    pub last_level: usize,
    /// Chunks downloaded so far.
    pub chunks_done: usize,
    /// Chunks the session plays in all.
    pub total_chunks: usize,
    /// Sum of the session's per-chunk QoE rewards so far (the server's `qoe_so_far`).
    pub qoe_so_far: f64,
    /// Per-level utility of this session's QoE model (`CompiledQoe::utility`), lowest level first.
    pub utility: &'a [f64],
    /// Stall penalty per second of this session's QoE model.
    pub rebuffer_penalty: f64,
}

impl SessionView<'_> {
    /// Chunks left to download.
    pub fn chunks_left(&self) -> usize {
        self.total_chunks.saturating_sub(self.chunks_done)
    }
}

/// The range of levels a session may fetch, `[floor, cap]`, and why: the highest level
/// (`level`), and optionally the lowest ([`Floor`]). The level fetched is the session's own
/// ABR's choice clamped into that range ([`Cap::apply`]); the floor is never above the cap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cap {
    /// Highest level allowed (0 = lowest bitrate).
    pub level: usize,
    /// That level's bitrate, kbit/s.
    pub kbps: f64,
    /// Why this cap.
    pub reason: CapReason,
    /// Lowest level the session must fetch, when the allocator raises it (at most `level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Floor>,
}

impl Cap {
    /// No cap: the top level of `video`.
    pub fn uncapped(video: &Video) -> Self {
        let level = video.ladder.top();
        Cap {
            level,
            kbps: video.ladder.kbps(level),
            reason: CapReason::Uncapped,
            floor: None,
        }
    }

    /// Cap at `level` of `video` for `reason`, no floor.
    pub fn at(video: &Video, level: usize, reason: CapReason) -> Self {
        let level = level.min(video.ladder.top());
        Cap {
            level,
            kbps: video.ladder.kbps(level),
            reason,
            floor: None,
        }
    }

    /// This cap with a floor at `level` of `video` for `reason`, lowered to the cap when above
    /// it; a floor at level 0 is none.
    pub fn with_floor(self, video: &Video, level: usize, reason: FloorReason) -> Self {
        let level = level.min(self.level).min(video.ladder.top());
        Cap {
            floor: (level > 0).then(|| Floor {
                level,
                kbps: video.ladder.kbps(level),
                reason,
            }),
            ..self
        }
    }

    /// The floor's level (0 without a floor).
    pub fn floor_level(&self) -> usize {
        self.floor.map_or(0, |f| f.level.min(self.level))
    }

    /// The level a session fetches when its ABR chose `abr_level`: that choice clamped into
    /// `[floor, cap]`.
    pub fn apply(&self, abr_level: usize) -> usize {
        abr_level.min(self.level).max(self.floor_level())
    }
}

/// The lowest level a session must fetch, set where the allocator knows the session's share of
/// the link and its buffer allow it (a conservative ABR that would fetch lower is raised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    /// Lowest level allowed.
    pub level: usize,
    /// That level's bitrate, kbit/s.
    pub kbps: f64,
    /// Why this floor.
    pub reason: FloorReason,
}

/// Why a session got its floor (shown to people in decisions and reports).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FloorReason {
    /// The session is behind the others on QoE, its buffer is deep and its share of the
    /// capacity covers the floor's bitrate with a margin.
    BehindWithRoom {
        /// The session's QoE per chunk so far (damped as `fair` damps it).
        qoe_per_chunk: f64,
        /// The mean of that over the sessions with chunks left.
        mean_qoe_per_chunk: f64,
        /// The session's buffer, seconds.
        buffer_s: f64,
        /// The session's share of the capacity (its weight's part), kbit/s.
        share_kbps: f64,
    },
}

impl fmt::Display for FloorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloorReason::BehindWithRoom {
                qoe_per_chunk,
                mean_qoe_per_chunk,
                buffer_s,
                share_kbps,
            } => write!(
                f,
                "behind with room: QoE {qoe_per_chunk:.3} per chunk (mean {mean_qoe_per_chunk:.3}), buffer {buffer_s:.1} s, share {share_kbps:.0} kbit/s"
            ),
        }
    }
}

/// Why a session got its cap (shown to people in decisions and reports).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapReason {
    /// No allocator, or no capacity known yet.
    Uncapped,
    /// An equal share of the capacity.
    EqualShare {
        /// The share, kbit/s.
        share_kbps: f64,
        /// Sessions sharing.
        sessions: usize,
    },
    /// Max-min fairness on projected QoE per chunk.
    MaxMinQoe {
        /// The session's projected mean QoE per chunk at its cap.
        projected_qoe: f64,
        /// The lowest projected QoE per chunk among the sessions (the max-min level).
        floor_qoe: f64,
    },
    /// Greedy maximum of total utility.
    Utility {
        /// The session's utility per chunk at its cap.
        utility: f64,
    },
    /// The `fair` allocator: a link weight from the session's QoE so far against the others',
    /// and max-min caps while the sessions' QoE is unequal.
    FairShare {
        /// The session's link weight (1 = an equal share).
        weight: f64,
        /// The session's QoE per chunk so far (damped over its first chunks).
        qoe_per_chunk: f64,
        /// The mean of that over the sessions with chunks left.
        mean_qoe_per_chunk: f64,
        /// Whether max-min caps were on (QoE unequal enough), so the cap may bind.
        capped: bool,
    },
}

impl fmt::Display for CapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapReason::Uncapped => write!(f, "uncapped"),
            CapReason::EqualShare {
                share_kbps,
                sessions,
            } => write!(
                f,
                "equal share: {share_kbps:.0} kbit/s each of {sessions} sessions"
            ),
            CapReason::MaxMinQoe {
                projected_qoe,
                floor_qoe,
            } => write!(
                f,
                "max-min QoE: projected {projected_qoe:.3} per chunk (floor {floor_qoe:.3})"
            ),
            CapReason::Utility { utility } => {
                write!(f, "utility-maximising: utility {utility:.3} per chunk")
            }
            CapReason::FairShare {
                weight,
                qoe_per_chunk,
                mean_qoe_per_chunk,
                capped,
            } => write!(
                f,
                "fair share: weight {weight:.2}, QoE {qoe_per_chunk:.3} per chunk so far (mean {mean_qoe_per_chunk:.3}), max-min caps {}",
                if *capped { "on" } else { "off" }
            ),
        }
    }
}

/// A bandwidth allocator: caps for every session from the link's capacity and what they observed.
pub trait Allocator: Send {
    /// Name as accepted by `--allocator`.
    fn name(&self) -> &'static str;

    /// Caps for `sessions` (one per session, in order) sharing `capacity_kbps` of payload
    /// capacity. `capacity_kbps` of 0 or NaN (unknown yet) leaves every session uncapped.
    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap>;

    /// Caps and link weights for `sessions` (one [`Share`] each, in order). The weights of the
    /// sessions with chunks left average 1 (an equal, TCP-like share is 1). The default is
    /// [`Allocator::allocate`]'s caps with weight 1 each, for allocators that only cap.
    fn allocate_shares(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Share> {
        self.allocate(capacity_kbps, sessions)
            .into_iter()
            .map(|cap| Share { cap, weight: 1.0 })
            .collect()
    }

    /// Whether [`Allocator::allocate_shares`] sets weights other than 1, so that a driver must
    /// redo the allocation while downloads are in flight (a cap only matters at a request).
    fn sets_weights(&self) -> bool {
        false
    }
}

/// What a session gets of the link: a cap on its level and the weight of its downloads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The highest level it may fetch.
    pub cap: Cap,
    /// The share of the link its downloads get relative to the others' (1 = an equal share;
    /// the weights of the sessions with chunks left average 1).
    pub weight: f64,
}

/// Names accepted by [`create`].
pub const ALLOCATORS: [&str; 5] = ["none", "equal", "maxmin", "utility", "fair"];

/// An allocator name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown allocator '{0}'; choose one of none, equal, maxmin, utility, fair")]
pub struct UnknownAllocator(pub String);

/// The allocator called `name` (case-insensitive; `minerva` is `maxmin`).
pub fn create(name: &str) -> Result<Box<dyn Allocator>, UnknownAllocator> {
    match name.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(Box::new(none::NoAllocator)),
        "equal" => Ok(Box::new(equal::EqualCaps)),
        "maxmin" | "minerva" => Ok(Box::new(maxmin::MaxMinQoe::default())),
        "utility" => Ok(Box::new(utility::UtilityMax)),
        "fair" => Ok(Box::new(fair::FairShare::default())),
        _ => Err(UnknownAllocator(name.to_string())),
    }
}

/// Whether `capacity_kbps` is a capacity an allocator can split (finite and positive).
pub(crate) fn usable(capacity_kbps: f64) -> bool {
    capacity_kbps.is_finite() && capacity_kbps > 0.0
}

/// A level-by-level fill of the budget, as `maxmin` and `utility` run it: which sessions still
/// have chunks to fetch, each one's level (all start at the lowest), and the kbit/s those levels use.
pub(crate) struct Fill {
    /// `active[i]`: session `i` has chunks left (the others get no cap).
    pub active: Vec<bool>,
    /// The level each session is raised to so far.
    pub level: Vec<usize>,
    /// Bitrate of the active sessions' levels, kbit/s.
    pub used_kbps: f64,
}

impl Fill {
    /// Every active session at its lowest level.
    pub fn from_floor(sessions: &[SessionView<'_>]) -> Self {
        let active: Vec<bool> = sessions.iter().map(|s| s.chunks_left() > 0).collect();
        let used_kbps = sessions
            .iter()
            .zip(&active)
            .filter(|(_, &a)| a)
            .map(|(s, _)| s.video.ladder.kbps(0))
            .sum();
        Fill {
            active,
            level: vec![0; sessions.len()],
            used_kbps,
        }
    }

    /// The caps the fill ends with: an inactive session uncapped, an active one at its level for
    /// `reason(i, level)`.
    pub fn caps(
        &self,
        sessions: &[SessionView<'_>],
        reason: impl Fn(usize, usize) -> CapReason,
    ) -> Vec<Cap> {
        sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if self.active[i] {
                    Cap::at(s.video, self.level[i], reason(i, self.level[i]))
                } else {
                    Cap::uncapped(s.video)
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use neuralstream_core::{Ladder, Video};

    /// Pensieve's ladder, 48 chunks of 4 s.
    pub fn video() -> Video {
        let ladder = Ladder::pensieve();
        let sizes = ladder
            .bitrates_kbps()
            .iter()
            .map(|k| vec![(k * 1000.0 / 8.0 * 4.0) as u64; 48])
            .collect();
        Video::new("v", 4.0, ladder, sizes, vec![]).unwrap()
    }

    /// QoE_lin utility of Pensieve's ladder.
    pub const LIN: [f64; 6] = [0.3, 0.75, 1.2, 1.85, 2.85, 4.3];

    /// `n` downloaded chunks (the level is not used).
    pub fn history(n: usize, _level: usize) -> usize {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_created_and_typos_are_named() {
        for n in ALLOCATORS {
            assert_eq!(create(n).unwrap().name(), n);
        }
        assert_eq!(create("Minerva").unwrap().name(), "maxmin");
        let e = create("fairest").err().unwrap().to_string();
        assert!(e.contains("'fairest'") && e.contains("maxmin"), "{e}");
    }

    fn reason() -> FloorReason {
        FloorReason::BehindWithRoom {
            qoe_per_chunk: 0.5,
            mean_qoe_per_chunk: 1.0,
            buffer_s: 20.0,
            share_kbps: 1500.0,
        }
    }

    #[test]
    fn a_floor_clamps_from_below_and_never_exceeds_the_cap() {
        let v = testutil::video();
        let cap = Cap::at(&v, 3, CapReason::Uncapped);
        assert_eq!(cap.floor_level(), 0);
        assert_eq!(
            (0..6).map(|l| cap.apply(l)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 3, 3]
        );
        let floored = cap.with_floor(&v, 2, reason());
        assert_eq!(floored.floor.unwrap().kbps, 1200.0);
        assert_eq!(
            (0..6).map(|l| floored.apply(l)).collect::<Vec<_>>(),
            [2, 2, 2, 3, 3, 3]
        );
        // A floor above the cap is lowered to it; a floor at level 0 is none.
        let above = cap.with_floor(&v, 5, reason());
        assert_eq!(above.floor_level(), 3);
        assert_eq!(above.apply(0), 3);
        assert_eq!(cap.with_floor(&v, 0, reason()).floor, None);
        assert!(reason()
            .to_string()
            .starts_with("behind with room: QoE 0.500"));
    }

    proptest::proptest! {
        /// Whatever the cap, floor and choice: the floor is at most the cap, and the level applied
        /// is within `[floor, cap]` and equals the choice when the choice is.
        #[test]
        fn the_applied_level_is_within_floor_and_cap(
            cap_level in 0usize..8,
            floor_level in proptest::option::of(0usize..8),
            choice in 0usize..8,
        ) {
            let v = testutil::video();
            let mut cap = Cap::at(&v, cap_level, CapReason::Uncapped);
            if let Some(f) = floor_level {
                cap = cap.with_floor(&v, f, reason());
            }
            let (lo, hi) = (cap.floor_level(), cap.level);
            proptest::prop_assert!(lo <= hi && hi <= v.ladder.top());
            let got = cap.apply(choice);
            proptest::prop_assert!(lo <= got && got <= hi, "{} not in [{}, {}]", got, lo, hi);
            if (lo..=hi).contains(&choice) {
                proptest::prop_assert_eq!(got, choice);
            }
        }
    }

    #[test]
    fn reasons_read_as_text() {
        let r = CapReason::EqualShare {
            share_kbps: 1200.0,
            sessions: 10,
        };
        assert_eq!(
            r.to_string(),
            "equal share: 1200 kbit/s each of 10 sessions"
        );
    }
}
