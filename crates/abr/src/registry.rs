//! Names accepted by `--abr` and the constructors behind them.

use crate::bb::Bb;
use crate::bba0::Bba0;
use crate::bola::Bola;
use crate::bola_e::BolaE;
use crate::dynamic::Dynamic;
use crate::festive::Festive;
use crate::mpc::Mpc;
use crate::rate_based::RateBased;
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
    ("bba0", "BBA-0, Huang et al. SIGCOMM 2014: reservoir/cushion rate map over any ladder"),
    ("rate", "Rate-based: highest level at or below the harmonic mean of the last 5 throughputs"),
    ("festive", "FESTIVE, Jiang et al. CoNEXT 2012: harmonic-mean estimate, gradual switching"),
    ("bola", "BOLA-BASIC, Spiteri et al. INFOCOM 2016: Lyapunov utility maximisation on the buffer"),
    ("bola-e", "BOLA-E, Spiteri et al. 2018 (dash.js): BOLA with placeholder buffer and insufficient-buffer rule"),
    ("dynamic", "dash.js DYNAMIC: throughput rule at low buffer, BOLA above (Spiteri et al. 2018)"),
    ("fastmpc", "FastMPC, Yin et al. SIGCOMM 2015: 5-chunk look-ahead on a harmonic-mean forecast"),
    ("robustmpc", "RobustMPC, Yin et al. 2015: forecast discounted by the max recent error, reset per video"),
    ("robustmpc-pensieve", "Pensieve's test/mpc.py exactly: error history carried across videos, look-ahead one chunk ahead"),
    ("robustmpc-pensieve-reset", "Pensieve's test/mpc.py look-ahead quirk, error history reset per video"),
];

/// Builds a fresh instance of the algorithm named `name` (case-insensitive).
pub fn create(name: &str) -> Result<Box<dyn Abr>, AbrError> {
    let abr: Box<dyn Abr> = match name.to_ascii_lowercase().as_str() {
        "bb" => Box::new(Bb::default()),
        "bba0" => Box::new(Bba0::default()),
        "rate" => Box::new(RateBased::default()),
        "festive" => Box::new(Festive::default()),
        "bola" => Box::new(Bola::default()),
        "bola-e" => Box::new(BolaE::default()),
        "dynamic" => Box::new(Dynamic::default()),
        "fastmpc" => Box::new(Mpc::fast()),
        "robustmpc" => Box::new(Mpc::robust()),
        "robustmpc-pensieve" => Box::new(Mpc::pensieve()),
        "robustmpc-pensieve-reset" => Box::new(Mpc::pensieve_reset()),
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
        assert!(matches!(create("nope"), Err(AbrError::Unknown(n)) if n == "nope"));
    }
}
