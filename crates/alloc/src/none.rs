//! `none`: independent ABRs. Every session is uncapped; the link's TCP-like sharing alone splits
//! the capacity. The baseline the fair allocators are measured against.

use crate::{Allocator, Cap, SessionView};

/// No allocation: every session may fetch its top level.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAllocator;

impl Allocator for NoAllocator {
    fn name(&self) -> &'static str {
        "none"
    }

    fn allocate(&mut self, _capacity_kbps: f64, sessions: &[SessionView<'_>]) -> Vec<Cap> {
        sessions.iter().map(|s| Cap::uncapped(s.video)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{history, video, LIN};

    #[test]
    fn caps_nothing() {
        let v = video();
        let h = history(3, 2);
        let s = SessionView {
            video: &v,
            buffer_s: 1.0,
            last_level: 2,
            chunks_done: h,
            total_chunks: 48,
            qoe_so_far: 0.0,
            utility: &LIN,
            rebuffer_penalty: 4.3,
        };
        let caps = NoAllocator.allocate(100.0, &[s, s]);
        assert!(caps.iter().all(|c| c.level == 5 && c.kbps == 4300.0));
    }
}
