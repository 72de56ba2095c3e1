//! Replaying a precomputed plan as an ordinary ABR algorithm.

use crate::dp::Plan;
use neuralstream_core::{Abr, Decision, Observation};

/// An [`Abr`] that plays a fixed [`Plan`]: chunk `k` is fetched at `plan.levels[k]`.
///
/// It ignores what it observes, which is the point: running it through
/// [`neuralstream_sim::run_session`] reproduces the plan's session exactly and yields the per-chunk
/// log the evaluation layer expects. Chunks beyond the plan (a plan solved for a shorter session)
/// get the lowest level; a planned level above the video's top level is clamped to the top.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAbr {
    /// The plan being replayed.
    pub plan: Plan,
}

impl PlannedAbr {
    /// Wraps `plan` for replay.
    pub fn new(plan: Plan) -> Self {
        PlannedAbr { plan }
    }
}

impl Abr for PlannedAbr {
    fn name(&self) -> String {
        "optimum".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let top = obs.video.num_levels().saturating_sub(1);
        let level = self.plan.levels.get(obs.next_chunk).copied().unwrap_or(0);
        Decision::level(level.min(top))
    }
}
