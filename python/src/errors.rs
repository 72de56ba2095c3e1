//! Rust errors as Python exceptions: the message is the whole Rust error chain, so Python users
//! read what the CLI would print.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;
use std::error::Error;

create_exception!(
    _native,
    NeuralStreamError,
    PyValueError,
    "Bad input or a simulation that cannot continue; the message is NeuralStream's (a ValueError)."
);

/// `err` and its sources, joined as `outer: inner: ...` (what `anyhow` prints with `{:#}`).
pub fn chain(err: &dyn Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// A [`NeuralStreamError`] saying `context: <err chain>`.
pub fn ns_err(context: impl std::fmt::Display, err: &dyn Error) -> PyErr {
    NeuralStreamError::new_err(format!("{context}: {}", chain(err)))
}

/// A [`NeuralStreamError`] with `msg`.
pub fn ns_msg(msg: impl Into<String>) -> PyErr {
    NeuralStreamError::new_err(msg.into())
}
