//! PLACEHOLDER: being implemented. (rate)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct RateBased;

impl Abr for RateBased {
    fn name(&self) -> String {
        "rate".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("rate is being implemented")
    }
}
