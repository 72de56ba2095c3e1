//! PLACEHOLDER: being implemented. (dynamic)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct Dynamic;

impl Abr for Dynamic {
    fn name(&self) -> String {
        "dynamic".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("dynamic is being implemented")
    }
}
