//! # neuralstream-media (skeleton: being written)
