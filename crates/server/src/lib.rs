//! # neuralstream-server (skeleton: being written)
