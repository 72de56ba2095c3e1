//! `neuralstream train --agnostic` through the real binary: bad policy-iteration settings are
//! refused before any training, naming the flag.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_neuralstream");

fn refused(flag: &str, value: &str) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "train",
            "--agnostic",
            "--agnostic-traces",
            "wide=synthetic-wide",
            "--agnostic-videos",
            "three=vbr-3",
            "--synthetic-traces",
            "4",
            flag,
            value,
            "--out",
        ])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{flag} {value} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn out_of_range_policy_iteration_flags_are_named() {
    let e = refused("--api-explore", "1.5");
    assert!(e.contains("--api-explore") && e.contains("[0, 1]"), "{e}");
    let e = refused("--api-lr", "0");
    assert!(e.contains("--api-lr") && e.contains("learning rate"), "{e}");
    let e = refused("--api-sessions", "0");
    assert!(
        e.contains("--api-sessions") && e.contains("at least 1"),
        "{e}"
    );
}
