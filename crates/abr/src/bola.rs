//! PLACEHOLDER: being implemented. (bola)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct Bola;

impl Abr for Bola {
    fn name(&self) -> String {
        "bola".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("bola is being implemented")
    }
}
