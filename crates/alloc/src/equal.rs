//! `equal`: equal bitrate caps. Each of the `n` sessions may fetch at most the highest level of
//! its ladder at or below `capacity / n` (the lowest level when none is). With every player on the
//! same ladder this is the share TCP would give each of them if all downloaded at once; it stops
//! an aggressive ABR from filling its buffer with a share its neighbours need.

use crate::{usable, Allocator, Cap, CapReason, SessionView};

/// Equal bitrate caps: `capacity / sessions` each.
#[derive(Debug, Clone, Copy, Default)]
pub struct EqualCaps;

impl Allocator for EqualCaps {
    fn name(&self) -> &'static str {
        "equal"
    }

    fn allocate(&mut self, capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        if !usable(capacity_kbps) || sessions.is_empty() {
            return sessions.iter().map(|s| Cap::uncapped(s.video)).collect();
        }
        let share_kbps = capacity_kbps / sessions.len() as f64;
        let reason = CapReason::EqualShare {
            share_kbps,
            sessions: sessions.len(),
        };
        sessions
            .iter()
            .map(|s| Cap::at(s.video, s.video.ladder.highest_at_most(share_kbps), reason))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{history, video, LIN};

    #[test]
    fn splits_the_capacity_evenly() {
        let v = video();
        let h = history(0, 0);
        let s = SessionView {
            video: &v,
            buffer_s: 0.0,
            last_level: 0,
            chunks_done: h,
            total_chunks: 48,
            qoe_so_far: 0.0,
            utility: &LIN,
            rebuffer_penalty: 4.3,
        };
        // 4 x 1250 kbit/s: 1200 is the highest level under it.
        let caps = EqualCaps.allocate(5000.0, &[s; 4]);
        assert!(caps.iter().all(|c| c.kbps == 1200.0), "{caps:?}");
        assert_eq!(
            caps[0].reason,
            CapReason::EqualShare {
                share_kbps: 1250.0,
                sessions: 4
            }
        );
        // Less than the lowest level each: the lowest level.
        assert!(EqualCaps
            .allocate(100.0, &[s; 4])
            .iter()
            .all(|c| c.level == 0));
        // Unknown capacity: uncapped.
        assert!(EqualCaps
            .allocate(f64::NAN, &[s])
            .iter()
            .all(|c| c.level == 5));
    }
}
