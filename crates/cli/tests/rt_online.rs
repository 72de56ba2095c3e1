//! `serve --rt-train` through the real binary: every misuse of its flags is refused before the
//! server starts, with the flag named. (Training itself is tested through the real server in
//! `crates/server/tests/rt_train.rs`.)

use std::process::Command;

/// Runs `neuralstream ARGS`, expecting failure; returns stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "neuralstream {} succeeded\nstderr:\n{stderr}",
        args.join(" ")
    );
    stderr
}

#[test]
fn misused_rt_train_flags_are_refused_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("online");
    let ckpt = ckpt.to_str().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let base = ["serve", "--http", "--port", "0", "--state-dir", state];
    let cases: [(&[&str], &str); 5] = [
        // Training needs real-time sessions...
        (&["--rt-train", ckpt], "--rt-controllers"),
        // ...and a learned controller among them.
        (
            &["--rt-controllers", "gcc", "--rt-train", ckpt],
            "--rt-train trains a learned controller",
        ),
        (
            &[
                "--rt-controllers",
                "gcc",
                "--rt-train",
                ckpt,
                "--rt-train-cpu",
                "0",
            ],
            "--rt-train-cpu",
        ),
        (
            &[
                "--rt-controllers",
                "gcc",
                "--rt-train",
                ckpt,
                "--rt-train-epsilon",
                "1.5",
            ],
            "--rt-train-epsilon",
        ),
        (
            &[
                "--rt-controllers",
                "gcc",
                "--rt-train",
                ckpt,
                "--rt-train-validation",
                "/nonexistent/validation",
            ],
            "--rt-train-validation",
        ),
    ];
    for (args, needle) in cases {
        let all: Vec<&str> = base.iter().chain(args).copied().collect();
        let stderr = refused(&all);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A training flag without --rt-train is a mistake too.
    let stderr = refused(&["serve", "--rt-controllers", "gcc", "--rt-train-cpu", "0.3"]);
    assert!(stderr.contains("--rt-train"), "{stderr}");
}
