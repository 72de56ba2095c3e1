//! `fair`: QoE fairness by link weights first, caps second, after Minerva (Nathan et al.,
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
//! q_i = qoe_so_far_i / (scored_chunks_i + PRIOR_CHUNKS)          (QoE per chunk so far, damped)
//! w_i ∝ clamp( exp( qoe_gain * (mean_j q_j - q_i) ), 1 / max_weight, max_weight )
//! ```
//!
//! normalised so that the weights average 1. The prior of `prior_chunks` chunks at 0 damps the
//! first chunks, where one stall would swing a weight from one extreme to the other; weights that
//! swing are worse than none, since the throughput-based ABRs then mispredict and stall (on the
//! training traces, weights from the level a session fetches now cost 5-13 % of total QoE).
//!
//! **Caps**, only when they can buy fairness: when the sessions' `q` are already nearly equal
//! (Jain's index of them at least `cap_below_jain`) nobody is capped, since a cap can then only
//! lower a QoE (on a 5G link with room to spare, caps cost 4-7 % of QoE for nothing); otherwise
//! each session gets `maxmin`'s cap (max-min water filling of projected QoE on a budget of
//! `cap_headroom x capacity`).
//!
//! The parameters were chosen on the *training* traces only (Pensieve's `cooked_traces`,
//! `nyumets/train`, `ucc5g/train`; `docs/benchmarks.md`, "Shared link").

use crate::maxmin::MaxMinQoe;
use crate::{jain_index, usable, Allocator, Cap, CapReason, SessionView, Share};

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

/// Link weights towards the sessions behind; max-min caps only while QoE is unequal (see the
/// module doc).
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
}

impl Default for FairShare {
    fn default() -> Self {
        FairShare {
            qoe_gain: DEFAULT_QOE_GAIN,
            prior_chunks: DEFAULT_PRIOR_CHUNKS,
            max_weight: DEFAULT_MAX_WEIGHT,
            cap_headroom: DEFAULT_CAP_HEADROOM,
            cap_below_jain: DEFAULT_CAP_BELOW_JAIN,
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
                Share {
                    cap: Cap::at(s.video, c.level, reason),
                    weight: weights[i],
                }
            })
            .collect()
    }

    fn sets_weights(&self) -> bool {
        true
    }
}
