//! `maxmin`: max-min fairness on QoE, after Minerva (Nathan et al., "End-to-end transport for
//! video QoE fairness", SIGCOMM 2019).
//!
//! Minerva equalises the QoE the competing players will end with, not their rates: a session
//! that has done badly so far (stalls, low quality) is given more of the link than one that has
//! done well. Here each session's *projected* mean QoE per chunk at a cap of level `l` is
//!
//! ```text
//! projected(l) = (qoe_so_far + utility(l) * chunks_left) / total_chunks
//! ```
//!
//! (its QoE so far, plus the rest of the video at that level), and the caps are chosen by water
//! filling on a bitrate budget of `headroom x capacity`: every session starts at its lowest level,
//! then the session with the lowest projection whose next level still fits the budget is raised,
//! until no raise fits. The result is max-min fair: no session's projection can rise without
//! lowering one that is already lower. Sessions with nothing left to fetch use no budget.
//!
//! The filling runs twice. The first pass raises no session above one level over the level its
//! ABR last chose (Minerva's demand: a conservative ABR fetching low does not hold budget it will
//! not use); the second hands what is left out in the same order without that bound, so a link
//! with room to spare caps nobody.
//!
//! The cap is a ceiling for the session's own ABR, which may fetch less (a conservative one
//! does); the budget counts the caps, so the link keeps that slack for the others.

use crate::{usable, Allocator, Cap, CapReason, Fill, SessionView};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Fraction of the capacity the caps may add up to. Above 1 because caps are ceilings: players
/// sleep on full buffers and fetch below their caps, so caps adding up to exactly the capacity
/// leave it idle. 1.2 was chosen on the *training* traces (Pensieve's `cooked_traces`, ucc5g and
/// NYU METS `train`) among 1.0..2.0: the smallest total QoE loss for a fairness gain
/// (`docs/benchmarks.md`, "Shared link").
pub const DEFAULT_HEADROOM: f64 = 1.2;

/// Max-min fairness on projected QoE per chunk (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct MaxMinQoe {
    /// Fraction of the capacity the caps may add up to (default [`DEFAULT_HEADROOM`]).
    pub headroom: f64,
}

impl Default for MaxMinQoe {
    fn default() -> Self {
        MaxMinQoe {
            headroom: DEFAULT_HEADROOM,
        }
    }
}

/// A projection and its session, ordered by the projection (then the index, so ties go to the
/// earlier session).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lowest(f64, usize);

impl Eq for Lowest {}

impl PartialOrd for Lowest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Lowest {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Projected mean QoE per chunk of `s` if it plays `level` from now on.
fn projected(s: &SessionView<'_>, level: usize) -> f64 {
    let u = s.utility.get(level).copied().unwrap_or(0.0);
    (s.qoe_so_far + u * s.chunks_left() as f64) / s.total_chunks.max(1) as f64
}

impl Allocator for MaxMinQoe {
    fn name(&self) -> &'static str {
        "maxmin"
    }

    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        if !usable(capacity_kbps) || sessions.is_empty() {
            return sessions.iter().map(|s| Cap::uncapped(s.video)).collect();
        }
        let budget_kbps = capacity_kbps * self.headroom;
        let mut fill = Fill::from_floor(sessions);
        let Fill {
            active,
            level,
            used_kbps,
        } = &mut fill;
        // Pass 1 raises no session more than a level above the one its ABR last chose (what it
        // can use next); pass 2 hands what is left of the budget out without that bound. A heap
        // keeps the lowest projection on top (O(n log n) per pass); a session whose next level
        // does not fit now never will (the budget only fills), so it leaves the heap.
        for demand_bound in [true, false] {
            let ceiling = |s: &SessionView<'_>| {
                let top = s.video.ladder.top();
                if demand_bound {
                    (s.last_level + 1).min(top)
                } else {
                    top
                }
            };
            let mut heap: BinaryHeap<Reverse<Lowest>> = sessions
                .iter()
                .enumerate()
                .filter(|&(i, s)| active[i] && level[i] < ceiling(s))
                .map(|(i, s)| Reverse(Lowest(projected(s, level[i]), i)))
                .collect();
            while let Some(Reverse(Lowest(_, i))) = heap.pop() {
                let (s, l) = (&sessions[i], level[i]);
                let extra = s.video.ladder.kbps(l + 1) - s.video.ladder.kbps(l);
                if *used_kbps + extra > budget_kbps {
                    continue;
                }
                *used_kbps += extra;
                level[i] += 1;
                if level[i] < ceiling(s) {
                    heap.push(Reverse(Lowest(projected(s, level[i]), i)));
                }
            }
        }
        let floor_qoe = sessions
            .iter()
            .enumerate()
            .filter(|&(i, _)| active[i])
            .map(|(i, s)| projected(s, level[i]))
            .fold(f64::INFINITY, f64::min);
        fill.caps(sessions, |i, l| CapReason::MaxMinQoe {
            projected_qoe: projected(&sessions[i], l),
            floor_qoe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{history, video, LIN};
    use proptest::prelude::*;

    fn view<'a>(v: &'a neuralstream_core::Video, h: usize, q: f64) -> SessionView<'a> {
        SessionView {
            video: v,
            buffer_s: 5.0,
            last_level: 0,
            chunks_done: h,
            total_chunks: 48,
            qoe_so_far: q,
            utility: &LIN,
            rebuffer_penalty: 4.3,
        }
    }

    #[test]
    fn the_session_behind_gets_more() {
        let v = video();
        let h = history(24, 2);
        // Same progress, one with 20 less QoE so far (stalls): it gets the higher cap.
        let s = [view(&v, h, 30.0), view(&v, h, 10.0)];
        let caps = MaxMinQoe { headroom: 1.0 }.allocate(4700.0, &s);
        assert!(caps[1].level > caps[0].level, "{caps:?}");
        assert!(caps.iter().map(|c| c.kbps).sum::<f64>() <= 4700.0);
        // Equal sessions get equal caps.
        let caps = MaxMinQoe { headroom: 1.0 }.allocate(2400.0, &[s[0], s[0]]);
        assert_eq!(caps[0].level, caps[1].level);
        assert_eq!(caps[0].kbps, 1200.0);
        // A finished session uses nothing of the budget.
        let done = history(48, 2);
        let caps = MaxMinQoe { headroom: 1.0 }.allocate(1200.0, &[view(&v, done, 0.0), s[0]]);
        assert_eq!(caps[1].kbps, 1200.0);
    }

    proptest! {
        /// The caps fit the budget (beyond the lowest levels, which every session keeps), and
        /// no session could be raised a level within the budget while it is the lowest.
        #[test]
        fn caps_fit_and_are_max_min(
            qs in prop::collection::vec(-20.0f64..100.0, 1..20),
            done in prop::collection::vec(0usize..48, 20),
            cap_kbps in 0.0f64..60_000.0,
        ) {
            let v = video();
            let hs: Vec<_> = (0..qs.len()).map(|i| history(done[i], 1)).collect();
            let s: Vec<_> = qs.iter().zip(&hs).map(|(&q, &h)| view(&v, h, q)).collect();
            let caps = MaxMinQoe { headroom: 1.0 }.allocate(cap_kbps, &s);
            let used: f64 = caps.iter().map(|c| c.kbps).sum();
            prop_assert!(used <= cap_kbps.max(300.0 * s.len() as f64) + 1e-9);
            let floor = s.iter().zip(&caps).map(|(x, c)| projected(x, c.level))
                .fold(f64::INFINITY, f64::min);
            for (x, c) in s.iter().zip(&caps) {
                if projected(x, c.level) == floor && c.level < 5 {
                    let extra = v.ladder.kbps(c.level + 1) - c.kbps;
                    prop_assert!(used + extra > cap_kbps, "the lowest could still rise");
                }
            }
        }
    }
}
