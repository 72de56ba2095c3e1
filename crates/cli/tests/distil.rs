//! `train --agnostic --agnostic-teacher` through the real binary: an ensemble of two tiny
//! ladder-agnostic policies is distilled into one network that `bench` plays, the same seed gives
//! the same run, the split is written, and bad teachers are refused naming the flag.

mod support;

use std::path::Path;
use std::process::Command;
use support::agnostic::{assert_ok, tiny_policy as agnostic, train_agnostic, TINY};

/// The split alone, two rounds of one epoch, a small student.
fn distil_args(teacher: &str) -> Vec<&str> {
    let mut args = TINY[..8].to_vec();
    args.extend([
        "--agnostic-teacher",
        teacher,
        "--epochs",
        "2",
        "--agnostic-distil-rounds",
        "2",
        "--agnostic-distil-epochs",
        "1",
        "--hidden",
        "16",
    ]);
    args
}

#[test]
fn an_ensemble_is_distilled_into_one_network_that_bench_plays() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (agnostic(dir.path(), "1"), agnostic(dir.path(), "2"));
    let teacher = format!("{a}+{b}");
    let out = dir.path().join("student");
    let first = train_agnostic(&distil_args(&teacher), &out);
    assert_ok(&first);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("chose its teacher's level in") && stdout.contains("validation score"),
        "{stdout}"
    );
    let curve = std::fs::read_to_string(out.join("training_curve.csv")).unwrap();
    let stages: Vec<&str> = curve
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["distil-bc", "distil-bc", "distil", "distil"],
        "{curve}"
    );
    let split = std::fs::read_to_string(out.join("split.csv")).unwrap();
    assert_eq!(split.lines().next(), Some("set,trace,role"));
    assert_eq!(
        split.lines().filter(|l| l.ends_with(",validation")).count(),
        1,
        "{split}"
    );
    assert_eq!(
        split.lines().filter(|l| l.ends_with(",train")).count(),
        3,
        "{split}"
    );

    // --agnostic-teacher-rules (with soft targets) says which player taught how many environments.
    let mut args = distil_args(&teacher);
    args.extend(["--agnostic-teacher-rules", "--agnostic-distil-soft"]);
    let o = train_agnostic(&args, &dir.path().join("rules"));
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("training environments taught by: the teacher ")
            && stdout.contains(", robustmpc "),
        "{stdout}"
    );

    // --agnostic-split-only writes the same split and trains nothing.
    let only = dir.path().join("split-only");
    let args = [&TINY[..8], &["--agnostic-split-only"]].concat();
    assert_ok(&train_agnostic(&args, &only));
    assert_eq!(
        std::fs::read_to_string(only.join("split.csv")).unwrap(),
        split
    );
    assert!(!only.join("policy.safetensors").exists());

    // The student is one ordinary ladder-agnostic policy file.
    let student = out.join("policy.safetensors");
    let abr = format!("learned:{}", student.display());
    let o = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(["bench", "--abr", &abr, "--synthetic-traces", "2"])
        .arg("--out")
        .arg(dir.path().join("bench"))
        .output()
        .unwrap();
    assert_ok(&o);

    // Deterministic for a seed: the same curve (but for its wall times), agreement and groups.
    let again = dir.path().join("again");
    let o2 = train_agnostic(&distil_args(&teacher), &again);
    assert_ok(&o2);
    let agreement = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains("chose its teacher's level"))
            .map(str::to_owned)
    };
    assert_eq!(agreement(&first), agreement(&o2));
    let without_wall = |dir: &Path| {
        std::fs::read_to_string(dir.join("training_curve.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(without_wall(&out), without_wall(&again));
    let groups = |dir: &Path| std::fs::read_to_string(dir.join("validation_groups.csv")).unwrap();
    assert_eq!(groups(&out), groups(&again));

    // A missing teacher, and a home teacher with no Pensieve set, are refused naming the flag.
    let missing = dir.path().join("missing.safetensors");
    let o = train_agnostic(
        &distil_args(missing.to_str().unwrap()),
        &dir.path().join("x"),
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        e.contains("--agnostic-teacher")
            && e.contains("missing.safetensors")
            && !e.contains("panicked"),
        "{e}"
    );
    let mut args = distil_args(&a);
    args.extend(["--agnostic-home-teacher", &b]);
    let o = train_agnostic(&args, &dir.path().join("y"));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        e.contains("--agnostic-home-teacher")
            && e.contains("'pensieve'")
            && !e.contains("panicked"),
        "{e}"
    );
}
