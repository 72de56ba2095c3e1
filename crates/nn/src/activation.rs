//! Element-wise activation functions and their derivatives.

use serde::{Deserialize, Serialize};

/// Element-wise nonlinearity applied after hidden layers of an [`Mlp`](crate::Mlp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x` (no nonlinearity).
    Identity,
}

impl Activation {
    /// Applies the activation in place.
    pub fn apply(self, xs: &mut [f32]) {
        match self {
            Activation::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
            Activation::Identity => {}
        }
    }

    /// Multiplies `grad` in place by the derivative of the activation, expressed through the
    /// activation's *output* `y` (`relu' = [y > 0]`, `tanh' = 1 - y^2`).
    pub fn backprop(self, y: &[f32], grad: &mut [f32]) {
        debug_assert_eq!(y.len(), grad.len());
        match self {
            Activation::Relu => grad.iter_mut().zip(y).for_each(|(g, &y)| {
                if y <= 0.0 {
                    *g = 0.0;
                }
            }),
            Activation::Tanh => grad.iter_mut().zip(y).for_each(|(g, &y)| *g *= 1.0 - y * y),
            Activation::Identity => {}
        }
    }
}
