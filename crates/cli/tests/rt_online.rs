//! `serve --rt-train` through the real binary: every misuse of its flags is refused before the
//! server starts, with the flag named. (Training itself is tested through the real server in
//! `crates/server/tests/rt_train.rs`.)

mod support;

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

/// `serve --rt-train` end to end through the real binaries: `rt client`s stream to the server at
/// 200x real time, the server learns from them and writes a candidate checkpoint with its score.
#[test]
fn serve_trains_online_from_rt_clients() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    std::fs::create_dir_all(p("traces")).unwrap();
    for (i, capacity) in [2500, 1500].iter().enumerate() {
        let json = format!(
            r#"{{"uplink": {{"trace_pattern": [{{"duration": 60000, "capacity": {capacity}, "loss": 0, "rtt": 40}}]}}}}"#
        );
        std::fs::write(p("traces").join(format!("t{i}.json")), json).unwrap();
    }
    neuralstream_rt::online::fixed_action_model(0, 7)
        .save(&p("weak.safetensors"))
        .unwrap();
    let s = |path: std::path::PathBuf| path.display().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args([
            "serve",
            "--http",
            "--port",
            "0",
            "--state-dir",
            &s(p("state")),
        ])
        .args([
            "--rt-controllers",
            &format!("gcc,learned:{}", s(p("weak.safetensors"))),
        ])
        .args(["--rt-max-reports-per-s", "100000"])
        .args(["--rt-train", &s(p("online")), "--rt-train-every", "100"])
        .args(["--rt-train-cpu", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!(
        "ws://{}/api/v1/rt/metrics",
        support::serve::http_address(&mut server)
    );
    let client = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args([
            "rt",
            "client",
            "--server",
            &url,
            "--traces",
            &s(p("traces")),
        ])
        .args([
            "--controller",
            "learned,gcc",
            "--clients",
            "4",
            "--speed",
            "200",
        ])
        .args(["--out", &s(p("client"))])
        .output()
        .unwrap();
    let candidate = p("online").join(neuralstream_rt::online::CANDIDATE_FILE);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !candidate.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        client.status.success(),
        "rt client failed:\n{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(candidate.exists(), "no candidate checkpoint within 60 s");
    neuralstream_rt::dqn::DqnModel::load(&candidate).unwrap();
    let info = neuralstream_rt::online::read_checkpoint_info(&candidate).unwrap();
    assert!(info.updates >= 100 && info.score.is_finite(), "{info:?}");
}
