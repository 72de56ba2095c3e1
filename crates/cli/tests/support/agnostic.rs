//! What the tests of `train --agnostic` and of ensembles share: a tiny split and training run, and
//! the binary invoked on it.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

/// A tiny run's flags: 4 synthetic traces of 320 s (one window each, one held out), one video.
/// The first 8 flags are the split alone.
pub const TINY: [&str; 16] = [
    "--agnostic-traces",
    "wide=synthetic-wide",
    "--agnostic-videos",
    "three=vbr-3",
    "--synthetic-traces",
    "4",
    "--val-fraction",
    "0.25",
    "--epochs",
    "1",
    "--api-iters",
    "1",
    "--api-sessions",
    "4",
    "--api-states",
    "1",
];

/// Fails the test with the binary's stderr unless it succeeded.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `neuralstream train --agnostic ARGS --out OUT`.
pub fn train_agnostic(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(["train", "--agnostic"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// A tiny ladder-agnostic policy trained by the binary (a second or so) in `dir/seed<SEED>`, its
/// file's path.
pub fn tiny_policy(dir: &Path, seed: &str) -> String {
    let out = dir.join(format!("seed{seed}"));
    assert_ok(&train_agnostic(
        &[&TINY[..], &["--seed", seed]].concat(),
        &out,
    ));
    out.join("policy.safetensors").to_str().unwrap().to_owned()
}

/// A policy file's tensors: the bytes after its JSON header (whose metadata keys come in no fixed
/// order and name the run), to compare what two trainings learned.
pub fn tensors(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..].to_vec()
}
