//! # neuralstream-protocol (skeleton: being written)
