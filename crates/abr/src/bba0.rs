//! PLACEHOLDER: being implemented. (bba0)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct Bba0;

impl Abr for Bba0 {
    fn name(&self) -> String {
        "bba0".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("bba0 is being implemented")
    }
}
