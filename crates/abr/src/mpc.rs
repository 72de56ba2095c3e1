//! PLACEHOLDER: being implemented (MPC family).

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct Mpc {
    name: &'static str,
}

impl Mpc {
    /// FastMPC.
    pub fn fast() -> Self {
        Mpc { name: "fastmpc" }
    }
    /// RobustMPC, reset per session, correct look-ahead.
    pub fn robust() -> Self {
        Mpc { name: "robustmpc" }
    }
    /// Pensieve's test/mpc.py: carry-over and look-ahead quirks.
    pub fn pensieve() -> Self {
        Mpc { name: "robustmpc-pensieve" }
    }
    /// Pensieve's look-ahead quirk, error history reset per video.
    pub fn pensieve_reset() -> Self {
        Mpc { name: "robustmpc-pensieve-reset" }
    }
}

impl Abr for Mpc {
    fn name(&self) -> String {
        self.name.into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("mpc is being implemented")
    }
}
