//! `neuralstream bench --players`: the shared-link scenario end to end through the binary, and
//! its bad input.

use std::process::{Command, Output};

fn neuralstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(args)
        .output()
        .expect("run neuralstream")
}

#[test]
fn players_on_a_shared_link_report_fairness_and_write_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = neuralstream(&[
        "bench",
        "--players",
        "4",
        "--synthetic-traces",
        "3",
        "--mix",
        "bba0,robustmpc",
        "--allocator",
        "none,maxmin,fair",
        "--arrivals",
        "poisson:5",
        "--mean-stay-s",
        "400",
        "--out",
        out,
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("| allocator | total QoE"), "{stdout}");
    assert!(
        stdout.contains("| none |") && stdout.contains("| maxmin |") && stdout.contains("| fair |"),
        "{stdout}"
    );
    let players = std::fs::read_to_string(dir.path().join("shared_players.csv")).unwrap();
    // Header + 3 allocators x 3 traces x 4 players.
    assert_eq!(players.lines().count(), 1 + 3 * 3 * 4, "{players}");
    assert!(players.lines().nth(1).unwrap().starts_with("none,"));
    let summary = std::fs::read_to_string(dir.path().join("shared_summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 3 * 3);
    for row in summary.lines().skip(1) {
        let jain: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
        assert!((0.25..=1.0).contains(&jain), "{row}");
    }
    for a in ["none", "maxmin", "fair"] {
        let png = dir.path().join(format!("shared_bitrate_{a}.png"));
        assert!(
            std::fs::metadata(&png).unwrap().len() > 1000,
            "{}",
            png.display()
        );
    }
}

#[test]
fn bad_shared_link_flags_are_named() {
    for (args, expect) in [
        (vec!["--players", "0"], "--players"),
        (vec!["--players", "2", "--allocator", "fairest"], "fairest"),
        (vec!["--players", "2", "--mix", "bba0,nope"], "nope"),
        (vec!["--players", "2", "--arrivals", "soon"], "--arrivals"),
        (
            vec!["--players", "2", "--arrivals", "at:0"],
            "one per player",
        ),
        (vec!["--players", "2", "--link-scale", "0"], "--link-scale"),
        (
            vec!["--players", "2", "--alloc-capacity-mbps", "0"],
            "--alloc-capacity-mbps",
        ),
    ] {
        let mut all = vec!["bench", "--synthetic-traces", "1", "--out"];
        let dir = tempfile::tempdir().unwrap();
        all.push(dir.path().to_str().unwrap());
        all.extend(&args);
        let o = neuralstream(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
