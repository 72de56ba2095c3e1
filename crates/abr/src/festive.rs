//! PLACEHOLDER: being implemented. (festive)

use neuralstream_core::{Abr, Decision, Observation};

/// PLACEHOLDER.
#[derive(Debug, Clone, Default)]
pub struct Festive;

impl Abr for Festive {
    fn name(&self) -> String {
        "festive".into()
    }

    fn choose(&mut self, _obs: &Observation<'_>) -> Decision {
        todo!("festive is being implemented")
    }
}
