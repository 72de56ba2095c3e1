//! An ensemble of ladder-agnostic policies (`learned:A+B`) through the real binary: it plays in
//! `bench`'s grid mode and is measured by `train --agnostic --agnostic-validate A+B`; an ensemble of
//! one policy twice decides as that policy; a missing or empty member is refused naming it.
//! (Fixed-ladder and mixed-spec members: `crates/policy/tests/ensemble.rs`.)

mod support;

use std::process::{Command, Output};
use support::agnostic::{assert_ok, tiny_policy as agnostic, train_agnostic, TINY};

const BIN: &str = env!("CARGO_BIN_EXE_neuralstream");

fn neuralstream(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// The grid's rows of `algorithm`, without the algorithm's name.
fn rows_of(csv: &str, algorithm: &str) -> Vec<String> {
    csv.lines()
        .filter(|l| l.split(',').nth(3) == Some(algorithm))
        .map(|l| l.replace(algorithm, "P"))
        .collect()
}

#[test]
fn an_ensemble_plays_the_grid_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let a = agnostic(dir.path(), "1");
    let b = agnostic(dir.path(), "2");
    let (aa, ab) = (format!("learned:{a}+{a}"), format!("learned:{a}+{b}"));
    let abr = format!("learned:{a},{aa},{ab},bba0");
    let out = dir.path().join("grid");
    let o = neuralstream(&[
        "bench",
        "--grid-traces",
        "fast=synthetic-fast",
        "--grid-videos",
        "ladder10,h264",
        "--abr",
        &abr,
        "--synthetic-traces",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let csv = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    let single = rows_of(&csv, &format!("learned:{a}"));
    assert_eq!(single.len(), 2, "{csv}");
    assert_eq!(single, rows_of(&csv, &aa), "A+A decides as A: {csv}");
    assert_eq!(rows_of(&csv, &ab).len(), 2, "{csv}");

    // Validation of an ensemble spec, on a tiny split.
    let groups = |name: &str, policy: &str| {
        let folder = dir.path().join(name);
        let args = [
            &TINY[..8],
            &["--agnostic-select", "grid", "--agnostic-validate", policy],
        ];
        let o = train_agnostic(&args.concat(), &folder);
        assert_ok(&o);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("validation score"),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        std::fs::read_to_string(folder.join("validation_groups.csv")).unwrap()
    };
    assert_eq!(groups("val_a", &a), groups("val_aa", &format!("{a}+{a}")));
    assert!(groups("val_ab", &format!("{a}+{b}")).contains("synthetic-wide,"));

    // A missing member and an empty one are refused, naming them.
    let missing = dir.path().join("missing.safetensors");
    for (spec, needle) in [
        (
            format!("learned:{a}+{}", missing.display()),
            "missing.safetensors",
        ),
        (format!("learned:{a}++{b}"), "member 2 is empty"),
    ] {
        let o = neuralstream(&["bench", "--abr", &spec, "--synthetic-traces", "1"]);
        assert!(!o.status.success(), "{spec} was accepted");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle) && !e.contains("panicked"), "{e}");
    }
}
