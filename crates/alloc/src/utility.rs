//! `utility`: a utility-maximising allocator. It chooses caps that maximise the sum over sessions
//! of the utility of their next chunk,
//!
//! ```text
//! U_i(l) = utility_i(l) - mu_i * max(0, chunk_s * kbps(l) / share_kbps - buffer_s)
//! ```
//!
//! (the session's QoE utility of level `l`, less its stall penalty if the chunk downloaded at an
//! equal share `share_kbps = capacity / sessions` would outlast its buffer), subject to the caps'
//! bitrates adding up to at most the capacity. The knapsack is solved greedily, as rate allocation
//! with concave utilities usually is (Kelly, 1997): from every session at its lowest level, the
//! raise with the highest utility gain per kbit/s that fits is taken, until none fits or gains;
//! ties go to the session with the lower QoE so far per chunk, then to the lower level. A session with an empty buffer is
//! thus held low (a raise would stall it) and one with a full buffer raised first.

use crate::{usable, Allocator, Cap, CapReason, Fill, SessionView};

/// Utility maximisation over next-chunk utility with a stall risk (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct UtilityMax;

/// `U_i(level)` of the module doc.
fn utility(s: &SessionView<'_>, level: usize, share_kbps: f64) -> f64 {
    let u = s.utility.get(level).copied().unwrap_or(0.0);
    let download_s = s.video.chunk_duration_s * s.video.ladder.kbps(level) / share_kbps;
    u - s.rebuffer_penalty * (download_s - s.buffer_s).max(0.0)
}

impl Allocator for UtilityMax {
    fn name(&self) -> &'static str {
        "utility"
    }

    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        let mut fill = Fill::from_floor(sessions);
        let n_active = fill.active.iter().filter(|&&a| a).count();
        if !usable(capacity_kbps) || n_active == 0 {
            return sessions.iter().map(|s| Cap::uncapped(s.video)).collect();
        }
        let share_kbps = capacity_kbps / n_active as f64;
        let Fill {
            active,
            level,
            used_kbps,
        } = &mut fill;
        let so_far = |s: &SessionView<'_>| s.qoe_so_far / s.chunks_done.max(1) as f64;
        loop {
            // (session, gain per kbit/s, tie-break key: QoE so far per chunk, then level).
            let mut pick: Option<(usize, f64, (f64, usize))> = None;
            for (i, s) in sessions.iter().enumerate() {
                let l = level[i];
                if !active[i] || l >= s.video.ladder.top() {
                    continue;
                }
                let extra = s.video.ladder.kbps(l + 1) - s.video.ladder.kbps(l);
                if *used_kbps + extra > capacity_kbps {
                    continue;
                }
                let gain = (utility(s, l + 1, share_kbps) - utility(s, l, share_kbps)) / extra;
                if gain <= 0.0 {
                    continue;
                }
                let key = (so_far(s), l);
                let better = pick.is_none_or(|(_, g, k)| {
                    gain > g * (1.0 + 1e-9) || (gain >= g * (1.0 - 1e-9) && key < k)
                });
                if better {
                    pick = Some((i, gain, key));
                }
            }
            let Some((i, _, _)) = pick else { break };
            let ladder = &sessions[i].video.ladder;
            *used_kbps += ladder.kbps(level[i] + 1) - ladder.kbps(level[i]);
            level[i] += 1;
        }
        fill.caps(sessions, |i, l| CapReason::Utility {
            utility: utility(&sessions[i], l, share_kbps),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{history, video, LIN};

    #[test]
    fn an_empty_buffer_is_held_low_and_the_budget_holds() {
        let v = video();
        let h = history(10, 1);
        let view = |buffer_s: f64| SessionView {
            video: &v,
            buffer_s,
            last_level: 1,
            chunks_done: h,
            total_chunks: 48,
            qoe_so_far: 10.0,
            utility: &LIN,
            rebuffer_penalty: 4.3,
        };
        let caps = UtilityMax.allocate(6000.0, &[view(0.0), view(30.0)]);
        assert!(caps[0].level < caps[1].level, "{caps:?}");
        assert!(caps.iter().map(|c| c.kbps).sum::<f64>() <= 6000.0);
        let same = UtilityMax.allocate(2400.0, &[view(30.0), view(30.0)]);
        assert_eq!(same[0].kbps + same[1].kbps, 2400.0);
    }
}
