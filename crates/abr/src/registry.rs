//! Names accepted by `--abr` and the constructors behind them.

use crate::bb::Bb;
use neuralstream_core::Abr;
use thiserror::Error;

/// A bad algorithm specification.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AbrError {
    /// No algorithm has this name.
    #[error("unknown ABR algorithm '{0}'; run `neuralstream algorithms` to list them (e.g. bb, bola, robustmpc)")]
    Unknown(String),
}

/// Every algorithm this crate provides: (name for `--abr`, one-line description).
pub const ALGORITHMS: &[(&str, &str)] = &[
    ("bb", "Pensieve's buffer-based rule (reservoir 5 s, cushion 10 s), test/bb.py"),
];

/// Builds a fresh instance of the algorithm named `name` (case-insensitive).
pub fn create(name: &str) -> Result<Box<dyn Abr>, AbrError> {
    let abr: Box<dyn Abr> = match name.to_ascii_lowercase().as_str() {
        "bb" => Box::new(Bb::default()),
        _ => return Err(AbrError::Unknown(name.to_string())),
    };
    Ok(abr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_algorithm_builds_and_names_itself() {
        for (name, _) in ALGORITHMS {
            let abr = create(name).unwrap();
            assert_eq!(abr.name(), *name);
        }
        assert!(create("nope").unwrap_err().to_string().contains("'nope'"));
    }
}
