//! # neuralstream-player (skeleton: being written)
