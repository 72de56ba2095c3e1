//! PLACEHOLDER: being implemented. (bola-e)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct BolaE;

impl Abr for BolaE {
    fn name(&self) -> String {
        "bola-e".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("bola-e is being implemented")
    }
}
