//! `fair`: QoE fairness by link weights first, caps and floors second, after Minerva (Nathan et al.,
//! "End-to-end transport for video QoE fairness", SIGCOMM 2019), which equalises players' QoE by
//! changing the *rates* their congestion controllers get rather than by capping their bitrates.
//!
//! Caps can only lower a level, and on a shared link most of the unfairness is between algorithms
//! (a conservative ABR fetches low whatever the link): capping the aggressive players frees link
//! time the conservative ones barely use. A weight instead gives a player that is behind more of
//! the link *while it downloads*: its chunks arrive sooner, its buffer grows and rides out the
//! next dip, and its throughput estimate rises. The ones ahead download a little slower on fuller
//! buffers. Sleeping players hold no share either way.
//!
//! **Weights.** Every session `i` with chunks left gets
//!
//! ```text
//! q_i = qoe_so_far_i / (scored_chunks_i + prior_chunks)          (QoE per chunk so far, damped)
//! w_i ∝ clamp( exp( qoe_gain * (mean_j q_j - q_i) ), 1 / max_weight, max_weight )
//! ```
//!
//! normalised so that the weights average 1. The prior of `prior_chunks` chunks at 0 damps the
//! first chunks, where one stall would swing a weight from one extreme to the other; weights that
//! swing are worse than none, since the throughput-based ABRs then mispredict and stall (on
//! Pensieve's training traces, weights from the QoE projected at the level a session fetches now
//! cost 13 % of total QoE at a gain of 1, 97 % at 2).
//!
//! **Caps**, only when they can buy fairness: when the sessions' `q` are already nearly equal
//! (Jain's index of them at least `cap_below_jain`) nobody is capped, since a cap can then only
//! lower a QoE (on ucc5g's training links, with room to spare, they cost 4 % of QoE); otherwise
//! each session gets `maxmin`'s cap (max-min water filling of projected QoE on a budget of
//! `cap_headroom x capacity`).
//!
//! **Floors**, to lift the conservative. Neither a weight nor a cap raises a player whose ABR
//! fetches low whatever the link (FESTIVE climbs one level per several chunks and falls back on
//! its switch penalty): it stays behind, and fairness could only come from lowering the others. So
//! a session gets a floor (the lowest level it may fetch; its ABR's choice is clamped up to it)
//! when all of these hold:
//!
//! ```text
//! q_i < mean_j q_j                                  (behind the others so far)
//! buffer_i >= floor_min_buffer_s                    (a slow chunk will not stall it)
//! kbps(floor) * (1 + floor_margin) <= C * w_i / n   (its share of the capacity carries it)
//! floor <= last_level_i + floor_step, floor <= cap_i
//! ```
//!
//! the floor being the highest such level (`C` the capacity, `w_i` its weight, `n` the sessions
//! with chunks left; the share counts sleeping sessions, so it is a conservative one). The step
//! bound raises a session one level at a time, as a cautious ABR would climb: each step is
//! re-checked against the buffer the last one left. A floor is never above the cap.
//!
//! [`Allocator::allocate`] answers the caps (with their floors) alone: what `serve --egress-mbps`
//! applies, since a server without a pacer per connection cannot apply weights.
//!
//! The parameters were chosen on the *training* traces only (Pensieve's `cooked_traces`,
//! `nyumets/train`, `ucc5g/train`; `docs/benchmarks.md`, "Shared link: the `fair` allocator" and
//! "Shared link: floors").

use crate::maxmin::MaxMinQoe;
use crate::{jain_index, usable, Allocator, Cap, CapReason, FloorReason, SessionView, Share};

/// Weight per unit of QoE per chunk below the mean (log scale).
pub const DEFAULT_QOE_GAIN: f64 = 0.4;
/// Chunks of QoE 0 each session's QoE per chunk starts from (damps the first chunks).
pub const DEFAULT_PRIOR_CHUNKS: f64 = 10.0;
/// Largest weight before normalisation (the smallest is its inverse).
pub const DEFAULT_MAX_WEIGHT: f64 = 2.0;
/// Headroom of the max-min caps (fraction of the capacity the caps may add up to).
pub const DEFAULT_CAP_HEADROOM: f64 = 1.1;
/// Caps apply only while Jain's index of the sessions' QoE per chunk so far is below this.
pub const DEFAULT_CAP_BELOW_JAIN: f64 = 0.995;
/// A session behind gets a floor only with at least this much buffer, seconds.
pub const DEFAULT_FLOOR_MIN_BUFFER_S: f64 = 14.0;
/// A floor's bitrate times `1 + margin` must fit the session's share of the capacity.
pub const DEFAULT_FLOOR_MARGIN: f64 = 0.05;
/// A floor is at most this many levels above the level the session fetched last.
pub const DEFAULT_FLOOR_STEP: usize = 1;

/// Link weights towards the sessions behind; max-min caps only while QoE is unequal; floors for
/// the sessions behind with a deep buffer and room in their share (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct FairShare {
    /// Weight per unit of QoE per chunk below the mean (log scale, >= 0; 0 = equal weights).
    pub qoe_gain: f64,
    /// Chunks of QoE 0 every session's QoE per chunk starts from (>= 0).
    pub prior_chunks: f64,
    /// Largest weight before normalisation (>= 1; the smallest is its inverse).
    pub max_weight: f64,
    /// Fraction of the capacity the caps may add up to (`maxmin`'s headroom).
    pub cap_headroom: f64,
    /// Caps apply only while Jain's index of the sessions' QoE per chunk is below this (0 never
    /// caps, above 1 always caps).
    pub cap_below_jain: f64,
    /// A session behind gets a floor only with at least this much buffer, seconds (infinite:
    /// no floors).
    pub floor_min_buffer_s: f64,
    /// A floor's bitrate times `1 + floor_margin` must fit the session's share (>= 0).
    pub floor_margin: f64,
    /// A floor is at most this many levels above the session's last level.
    pub floor_step: usize,
}

impl Default for FairShare {
    fn default() -> Self {
        FairShare {
            qoe_gain: DEFAULT_QOE_GAIN,
            prior_chunks: DEFAULT_PRIOR_CHUNKS,
            max_weight: DEFAULT_MAX_WEIGHT,
            cap_headroom: DEFAULT_CAP_HEADROOM,
            cap_below_jain: DEFAULT_CAP_BELOW_JAIN,
            floor_min_buffer_s: DEFAULT_FLOOR_MIN_BUFFER_S,
            floor_margin: DEFAULT_FLOOR_MARGIN,
            floor_step: DEFAULT_FLOOR_STEP,
        }
    }
}

/// A session's QoE per chunk so far, damped by `prior_chunks` chunks of QoE 0 (the start-up
/// chunk is not scored, as the server and `bench` score it).
fn damped_qoe_per_chunk(s: &SessionView<'_>, prior_chunks: f64) -> f64 {
    let scored = s.chunks_done.saturating_sub(1) as f64;
    let q = s.qoe_so_far / (scored + prior_chunks.max(0.0)).max(1.0);
    if q.is_finite() {
        q
    } else {
        0.0
    }
}

impl FairShare {
    /// The weight of every session (1 for one with nothing left to fetch), every session's damped
    /// QoE per chunk, and their mean over the sessions with chunks left (NaN when there are none).
    fn weights(&self, sessions: &[SessionView<'_>]) -> (Vec<f64>, Vec<f64>, f64) {
        let q: Vec<f64> = sessions
            .iter()
            .map(|s| damped_qoe_per_chunk(s, self.prior_chunks))
            .collect();
        let active: Vec<usize> = (0..sessions.len())
            .filter(|&i| sessions[i].chunks_left() > 0)
            .collect();
        let mut w = vec![1.0; sessions.len()];
        if active.is_empty() {
            return (w, q, f64::NAN);
        }
        let n = active.len() as f64;
        let mean = active.iter().map(|&i| q[i]).sum::<f64>() / n;
        let max_w = if self.max_weight.is_finite() {
            self.max_weight.max(1.0)
        } else {
            1.0
        };
        let gain = if self.qoe_gain.is_finite() {
            self.qoe_gain.max(0.0)
        } else {
            0.0
        };
        let mut sum = 0.0;
        for &i in &active {
            let z = gain * (mean - q[i]);
            w[i] = if z.is_finite() {
                z.exp().clamp(1.0 / max_w, max_w)
            } else {
                1.0
            };
            sum += w[i];
        }
        for &i in &active {
            w[i] *= n / sum;
        }
        (w, q, mean)
    }

    /// The floor of session `s` (QoE per chunk `q`, the mean `mean`, its share of the capacity
    /// `share_kbps`) under the cap `cap`, if it gets one: behind the mean, a buffer of at least
    /// `floor_min_buffer_s`, and its share above the floor's bitrate by `floor_margin`. The floor
    /// is the highest such level, at most `floor_step` above its last level.
    fn floor(&self, s: &SessionView<'_>, q: f64, mean: f64, share_kbps: f64, cap: Cap) -> Cap {
        // Comparisons with NaN are false: an unknown mean, buffer or share gives no floor.
        let behind = q < mean;
        let deep_buffer = s.buffer_s >= self.floor_min_buffer_s;
        let eligible = usable(share_kbps) && s.chunks_left() > 0 && self.floor_margin.is_finite();
        if !(eligible && behind && deep_buffer) {
            return cap;
        }
        let margin = 1.0 + self.floor_margin.max(0.0);
        let ladder = &s.video.ladder;
        let highest = s.last_level.saturating_add(self.floor_step).min(cap.level);
        let Some(level) = (1..=highest)
            .rev()
            .find(|&l| ladder.kbps(l) * margin <= share_kbps)
        else {
            return cap;
        };
        cap.with_floor(
            s.video,
            level,
            FloorReason::BehindWithRoom {
                qoe_per_chunk: q,
                mean_qoe_per_chunk: mean,
                buffer_s: s.buffer_s,
                share_kbps,
            },
        )
    }
}

impl Allocator for FairShare {
    fn name(&self) -> &'static str {
        "fair"
    }

    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        self.allocate_shares(capacity_kbps, sessions)
            .into_iter()
            .map(|s| s.cap)
            .collect()
    }

    fn allocate_shares(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Share> {
        let (weights, q, mean) = self.weights(sessions);
        let active_q: Vec<f64> = (0..sessions.len())
            .filter(|&i| sessions[i].chunks_left() > 0)
            .map(|i| q[i])
            .collect();
        let capped =
            usable(capacity_kbps) && jain_index(&active_q).is_some_and(|j| j < self.cap_below_jain);
        let caps = if capped {
            MaxMinQoe {
                headroom: self.cap_headroom,
            }
            .allocate(capacity_kbps, sessions)
        } else {
            sessions.iter().map(|s| Cap::uncapped(s.video)).collect()
        };
        let n_active = active_q.len();
        sessions
            .iter()
            .zip(caps)
            .enumerate()
            .map(|(i, (s, c))| {
                let reason = CapReason::FairShare {
                    weight: weights[i],
                    qoe_per_chunk: q[i],
                    mean_qoe_per_chunk: mean,
                    capped,
                };
                let cap = Cap::at(s.video, c.level, reason);
                // Its weight's part of the capacity (NaN when the capacity is unknown).
                let share_kbps = capacity_kbps * weights[i] / n_active.max(1) as f64;
                Share {
                    cap: self.floor(s, q[i], mean, share_kbps, cap),
                    weight: weights[i],
                }
            })
            .collect()
    }

    fn sets_weights(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{video, LIN};
    use proptest::prelude::*;

    fn view(v: &neuralstream_core::Video, done: usize, qoe_so_far: f64) -> SessionView<'_> {
        SessionView {
            video: v,
            buffer_s: 10.0,
            last_level: 2,
            chunks_done: done,
            total_chunks: 48,
            qoe_so_far,
            utility: &LIN,
            rebuffer_penalty: 4.3,
        }
    }

    fn mean_active(shares: &[Share], s: &[SessionView<'_>]) -> f64 {
        let w: Vec<f64> = shares
            .iter()
            .zip(s)
            .filter(|(_, v)| v.chunks_left() > 0)
            .map(|(x, _)| x.weight)
            .collect();
        w.iter().sum::<f64>() / w.len() as f64
    }

    #[test]
    fn the_session_behind_gets_the_larger_weight_and_weights_average_one() {
        let v = video();
        // 30 chunks done; one at 1.0 per chunk, one at 0.2 (it stalled).
        let s = [view(&v, 31, 30.0), view(&v, 31, 6.0)];
        let shares = FairShare::default().allocate_shares(50_000.0, &s);
        assert!(shares[1].weight > shares[0].weight, "{shares:?}");
        assert!((mean_active(&shares, &s) - 1.0).abs() < 1e-12);
        // Damped by 10 chunks: 0.75 and 0.15 per chunk, mean 0.45, so the weights are in the
        // ratio exp(0.4 * (0.45 - 0.15)) / exp(0.4 * (0.45 - 0.75)) = exp(0.4 * 0.6).
        let expected = (0.4f64 * (24.0 / 40.0)).exp();
        assert!((shares[1].weight / shares[0].weight - expected).abs() < 1e-9);
        match shares[1].cap.reason {
            CapReason::FairShare {
                weight,
                qoe_per_chunk,
                mean_qoe_per_chunk,
                ..
            } => {
                assert_eq!(weight, shares[1].weight);
                assert!((qoe_per_chunk - 0.15).abs() < 1e-12);
                assert!((mean_qoe_per_chunk - 0.45).abs() < 1e-12);
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn weights_are_bounded_by_max_weight() {
        let v = video();
        let s = [view(&v, 47, 200.0), view(&v, 47, -300.0)];
        let shares = FairShare::default().allocate_shares(50_000.0, &s);
        let ratio = shares[1].weight / shares[0].weight;
        assert!(
            (ratio - DEFAULT_MAX_WEIGHT * DEFAULT_MAX_WEIGHT).abs() < 1e-9,
            "{ratio}"
        );
    }

    #[test]
    fn early_chunks_are_damped_by_the_prior() {
        let v = video();
        // The same QoE gap of 2 (a stall) after 2 scored chunks and after 40.
        let early = [view(&v, 3, 2.0), view(&v, 3, 0.0)];
        let late = [view(&v, 41, 42.0), view(&v, 41, 40.0)];
        let mut f = FairShare::default();
        let e = f.allocate_shares(50_000.0, &early);
        let l = f.allocate_shares(50_000.0, &late);
        // 2 / (2 + 10) per chunk early against 2 / (40 + 10) late: the early swing is larger per
        // chunk, but bounded by the prior (without it, 1 per chunk).
        let swing = |s: &[Share]| (s[1].weight / s[0].weight).ln() / DEFAULT_QOE_GAIN;
        assert!((swing(&e) - 2.0 / 12.0).abs() < 1e-9, "{}", swing(&e));
        assert!((swing(&l) - 2.0 / 50.0).abs() < 1e-9, "{}", swing(&l));
    }

    #[test]
    fn equal_qoe_means_equal_weights_and_no_caps_even_on_a_scarce_link() {
        let v = video();
        let s = [view(&v, 20, 19.0), view(&v, 20, 19.0), view(&v, 20, 19.0)];
        let shares = FairShare::default().allocate_shares(900.0, &s);
        for x in &shares {
            assert!((x.weight - 1.0).abs() < 1e-12);
            assert_eq!(x.cap.level, 5, "{x:?}");
            assert!(matches!(
                x.cap.reason,
                CapReason::FairShare { capped: false, .. }
            ));
        }
    }

    #[test]
    fn unequal_qoe_turns_max_min_caps_on() {
        let v = video();
        let s = [view(&v, 20, 38.0), view(&v, 20, 4.0)];
        let mut f = FairShare::default();
        let shares = f.allocate_shares(3000.0, &s);
        let maxmin = MaxMinQoe {
            headroom: DEFAULT_CAP_HEADROOM,
        }
        .allocate(3000.0, &s);
        for (x, m) in shares.iter().zip(&maxmin) {
            assert_eq!(x.cap.level, m.level);
            assert!(matches!(
                x.cap.reason,
                CapReason::FairShare { capped: true, .. }
            ));
        }
        assert!(shares[1].cap.level >= shares[0].cap.level, "{shares:?}");
        // Unknown capacity: weights still, caps off.
        let unknown = f.allocate_shares(f64::NAN, &s);
        assert!(unknown.iter().all(|x| x.cap.level == 5));
        assert!(unknown[1].weight > unknown[0].weight);
        // `allocate` answers the same caps.
        let caps = f.allocate(3000.0, &s);
        assert_eq!(caps, shares.iter().map(|x| x.cap).collect::<Vec<_>>());
    }

    #[test]
    fn a_finished_session_keeps_weight_one_and_no_cap() {
        let v = video();
        let s = [view(&v, 48, 0.0), view(&v, 10, 20.0), view(&v, 10, 2.0)];
        let shares = FairShare::default().allocate_shares(1000.0, &s);
        assert_eq!(shares[0].weight, 1.0);
        assert_eq!(shares[0].cap.level, 5);
        assert!((mean_active(&shares, &s) - 1.0).abs() < 1e-12);
    }

    /// A session that fetched `last_level` last, with `buffer_s` of buffer, 30 chunks done.
    fn behind(
        v: &neuralstream_core::Video,
        qoe_so_far: f64,
        buffer_s: f64,
        last_level: usize,
    ) -> SessionView<'_> {
        SessionView {
            buffer_s,
            last_level,
            ..view(v, 31, qoe_so_far)
        }
    }

    fn shares_of(mut f: FairShare, capacity_kbps: f64, s: &[SessionView<'_>]) -> Vec<Share> {
        f.allocate_shares(capacity_kbps, s)
    }

    fn floor_of(share: &Share) -> Option<(usize, f64)> {
        share.cap.floor.map(|f| match f.reason {
            FloorReason::BehindWithRoom { share_kbps, .. } => (f.level, share_kbps),
        })
    }

    #[test]
    fn a_session_behind_with_a_deep_buffer_and_room_gets_a_floor_one_level_up() {
        let v = video();
        // Two sessions: one ahead (1.5 per chunk), one behind (0.5) at level 1 with 20 s of
        // buffer; 6000 kbit/s between them.
        let s = [behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 20.0, 1)];
        let f = FairShare::default();
        let shares = shares_of(f, 6000.0, &s);
        assert_eq!(shares[0].cap.floor, None, "the session ahead gets none");
        let (level, share_kbps) = floor_of(&shares[1]).expect("a floor");
        // Its share is 6000 x its weight / 2 (> 3000, it is behind); levels 3 (1850) and above
        // would fit, but the floor climbs one level over its last: level 2.
        assert!(share_kbps > 3000.0 && share_kbps < 6000.0, "{share_kbps}");
        assert_eq!(level, 2);
        assert_eq!(shares[1].cap.apply(0), 2);
        assert_eq!(shares[1].cap.apply(4), shares[1].cap.level.min(4));
        // A step of 3 reaches the highest level the share carries with the margin.
        let wide = FairShare { floor_step: 3, ..f };
        let wide_shares = shares_of(wide, 6000.0, &s);
        let (level, share_kbps) = floor_of(&wide_shares[1]).unwrap();
        let ladder = &v.ladder;
        assert!(ladder.kbps(level) * (1.0 + f.floor_margin) <= share_kbps);
        let next_fits = ladder.kbps(level + 1) * (1.0 + f.floor_margin) <= share_kbps;
        assert!(
            level > 2 && (level == wide_shares[1].cap.level || !next_fits),
            "{level} {wide_shares:?}"
        );
    }

    #[test]
    fn no_floor_without_buffer_room_or_capacity() {
        let v = video();
        let f = FairShare::default();
        let floors = |s: &[SessionView<'_>], c: f64| {
            shares_of(f, c, s)
                .iter()
                .map(|x| x.cap.floor_level())
                .collect::<Vec<_>>()
        };
        // A shallow buffer (below 14 s): no floor, however much room.
        assert_eq!(
            floors(
                &[behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 13.9, 1)],
                50_000.0
            ),
            [0, 0]
        );
        // A share that does not carry even level 1 (750 kbit/s) with the margin: none (its share of
        // 1200 kbit/s is about 720).
        assert_eq!(
            floors(
                &[behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 20.0, 1)],
                1200.0
            ),
            [0, 0]
        );
        // Unknown capacity: none.
        assert_eq!(
            floors(
                &[behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 20.0, 1)],
                f64::NAN
            ),
            [0, 0]
        );
        // Equal QoE: nobody is behind, nobody gets a floor.
        assert_eq!(
            floors(
                &[behind(&v, 30.0, 20.0, 1), behind(&v, 30.0, 20.0, 1)],
                50_000.0
            ),
            [0, 0]
        );
        // A finished session: none.
        let done = SessionView {
            chunks_done: 48,
            ..behind(&v, 0.0, 20.0, 0)
        };
        assert_eq!(floors(&[behind(&v, 60.0, 20.0, 4), done], 50_000.0), [0, 0]);
        // Floors off (an infinite buffer threshold).
        let off = FairShare {
            floor_min_buffer_s: f64::INFINITY,
            ..f
        };
        let s = [behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 20.0, 1)];
        assert!(shares_of(off, 50_000.0, &s)
            .iter()
            .all(|x| x.cap.floor.is_none()));
    }

    #[test]
    fn a_floor_is_never_above_the_cap() {
        let v = video();
        // Unequal QoE on a scarce link: max-min caps are on and the session behind is capped low;
        // with a step of 5 its floor would be higher than the cap and is lowered to it.
        let f = FairShare {
            floor_step: 5,
            ..FairShare::default()
        };
        let s = [behind(&v, 60.0, 20.0, 4), behind(&v, 20.0, 30.0, 0)];
        let shares = shares_of(f, 2000.0, &s);
        for x in &shares {
            assert!(x.cap.floor_level() <= x.cap.level, "{x:?}");
        }
        assert!(shares[1].cap.floor.is_some(), "{shares:?}");
    }

    proptest! {
        /// Whatever the sessions: one share each; weights finite and > 0, averaging 1 over the
        /// sessions with chunks left, within max_weight^2 of each other; no cap above the top
        /// level and every cap's bitrate its level's; caps, when on, are max-min's.
        #[test]
        fn weights_sum_and_caps_hold(
            sessions in prop::collection::vec((0usize..=48, -200.0f64..200.0, 0usize..6, 0.0f64..60.0), 1..24),
            capacity_kbps in prop_oneof![Just(f64::NAN), Just(0.0), 1.0f64..100_000.0],
            gain in 0.0f64..5.0,
            max_weight in 1.0f64..8.0,
        ) {
            let v = video();
            let s: Vec<SessionView<'_>> = sessions
                .iter()
                .map(|&(done, q, level, buffer_s)| SessionView {
                    last_level: level,
                    buffer_s,
                    ..view(&v, done, q)
                })
                .collect();
            let mut f = FairShare { qoe_gain: gain, max_weight, ..FairShare::default() };
            let shares = f.allocate_shares(capacity_kbps, &s);
            prop_assert_eq!(shares.len(), s.len());
            let active: Vec<f64> = shares.iter().zip(&s).filter(|(_, x)| x.chunks_left() > 0).map(|(x, _)| x.weight).collect();
            if !active.is_empty() {
                let sum: f64 = active.iter().sum();
                prop_assert!((sum - active.len() as f64).abs() < 1e-9 * active.len() as f64, "{sum}");
                let (lo, hi) = active.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
                prop_assert!(hi / lo <= max_weight * max_weight * (1.0 + 1e-9), "{hi} / {lo}");
            }
            let maxmin = MaxMinQoe { headroom: DEFAULT_CAP_HEADROOM }.allocate(capacity_kbps, &s);
            for ((x, view), m) in shares.iter().zip(&s).zip(&maxmin) {
                prop_assert!(x.weight.is_finite() && x.weight > 0.0);
                prop_assert!(x.cap.level <= view.video.ladder.top());
                prop_assert_eq!(x.cap.kbps, view.video.ladder.kbps(x.cap.level));
                // A floor: at most the cap, at most a step over the last level, only for a session
                // with chunks left and a deep buffer, and its share carries it.
                if let Some(fl) = x.cap.floor {
                    prop_assert!(fl.level >= 1 && fl.level <= x.cap.level);
                    prop_assert!(fl.level <= view.last_level + f.floor_step);
                    prop_assert!(view.chunks_left() > 0 && view.buffer_s >= f.floor_min_buffer_s);
                    prop_assert_eq!(fl.kbps, view.video.ladder.kbps(fl.level));
                    let FloorReason::BehindWithRoom { share_kbps, qoe_per_chunk, mean_qoe_per_chunk, .. } = fl.reason;
                    prop_assert!(fl.kbps * (1.0 + f.floor_margin) <= share_kbps * (1.0 + 1e-12));
                    prop_assert!(qoe_per_chunk < mean_qoe_per_chunk);
                }
                if let CapReason::FairShare { capped, .. } = x.cap.reason {
                    if capped {
                        prop_assert_eq!(x.cap.level, m.level);
                    } else {
                        prop_assert_eq!(x.cap.level, view.video.ladder.top());
                    }
                } else {
                    prop_assert!(false, "reason {:?}", x.cap.reason);
                }
            }
        }
    }
}
