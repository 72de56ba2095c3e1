//! `neuralstream train --agnostic` through the real binary: bad policy-iteration settings are
//! refused before any training, naming the flag; `--agnostic-validate` measures a trained policy
//! against the bar per validation group; `--agnostic-select bar` selects by the bar instead of the
//! default regret to the optimum.

mod support;

use support::agnostic::{assert_ok, tensors, train_agnostic as run, TINY};

fn refused(flag: &str, value: &str) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let mut args = TINY[..6].to_vec();
    args.extend([flag, value]);
    let out = run(&args, out_dir.path());
    assert!(!out.status.success(), "{flag} {value} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn out_of_range_policy_iteration_flags_are_named() {
    let e = refused("--api-explore", "1.5");
    assert!(e.contains("--api-explore") && e.contains("[0, 1]"), "{e}");
    let e = refused("--api-lr", "0");
    assert!(e.contains("--api-lr") && e.contains("learning rate"), "{e}");
    let e = refused("--agnostic-tail-weight", "NaN");
    assert!(
        e.contains("--agnostic-tail-weight") && e.contains("at least 0"),
        "{e}"
    );
    let e = refused("--agnostic-select", "worst");
    assert!(
        e.contains("--agnostic-select") && e.contains("regret") && e.contains("bar"),
        "{e}"
    );
    let e = refused("--api-sessions", "0");
    assert!(
        e.contains("--api-sessions") && e.contains("at least 1"),
        "{e}"
    );
}

#[test]
fn a_trained_policy_is_measured_against_the_bar_on_the_same_validation_split() {
    let dir = tempfile::tempdir().unwrap();
    let trained = run(&TINY, &dir.path().join("train"));
    assert_ok(&trained);
    let policy = dir.path().join("train/policy.safetensors");
    let groups = |folder: &str| {
        std::fs::read_to_string(dir.path().join(folder).join("validation_groups.csv")).unwrap()
    };
    let header = "traces,video,sessions,qoe_mean,qoe_p10,best_rule,best_rule_qoe_mean,robustmpc_qoe_p10,mean_margin,p10_margin,margin,regret_score";
    let at_training = groups("train");
    assert!(at_training.starts_with(header), "{at_training}");
    assert_eq!(
        at_training.lines().count(),
        2,
        "one (set, video) group: {at_training}"
    );
    assert!(
        at_training
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("synthetic-wide,vbr-3,1,"),
        "{at_training}"
    );
    let regret: f64 = at_training
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        regret <= 0.0,
        "the default selects by minus the regret: {at_training}"
    );
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(stdout.contains("regret to the optimum"), "{stdout}");

    let mut args = TINY.to_vec();
    args.extend(["--agnostic-validate", policy.to_str().unwrap()]);
    let measured = run(&args, &dir.path().join("val"));
    let stdout = String::from_utf8_lossy(&measured.stdout);
    assert_ok(&measured);
    assert!(
        stdout.contains("validation score") && stdout.contains("of 1 groups meet the bar"),
        "{stdout}"
    );
    assert_eq!(
        groups("val"),
        at_training,
        "the same split, the same policy, the same margins"
    );
    assert!(
        !dir.path().join("val/policy.safetensors").exists(),
        "nothing is trained"
    );

    let mut args = TINY.to_vec();
    args.extend(["--agnostic-validate", "no-such-policy.safetensors"]);
    let missing = run(&args, &dir.path().join("missing"));
    let e = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        e.contains("--agnostic-validate") && e.contains("no-such-policy"),
        "{e}"
    );
}

#[test]
fn the_bar_selection_is_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = TINY.to_vec();
    args.extend(["--agnostic-select", "bar", "--agnostic-tail-weight", "0.5"]);
    let trained = run(&args, &dir.path().join("train"));
    assert_ok(&trained);
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(stdout.contains("margin to the bar"), "{stdout}");
    let groups = std::fs::read_to_string(dir.path().join("train/validation_groups.csv")).unwrap();
    let row = groups.lines().nth(1).unwrap();
    assert!(
        row.starts_with("synthetic-wide,vbr-3,1,") && row.ends_with(','),
        "no optimum, no regret score: {groups}"
    );

    let policy = dir.path().join("train/policy.safetensors");
    args.extend(["--agnostic-validate", policy.to_str().unwrap()]);
    let measured = run(&args, &dir.path().join("val"));
    assert_ok(&measured);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("val/validation_groups.csv")).unwrap(),
        groups,
        "validated by the bar on the split it was trained with"
    );
}

#[test]
fn the_grid_selection_validates_on_held_out_ladders() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = TINY.to_vec();
    args[11] = "2";
    args.extend(["--agnostic-select", "grid"]);
    let trained = run(&args, &dir.path().join("train"));
    assert_ok(&trained);
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(stdout.contains("mean margin to the best rule"), "{stdout}");
    let groups = std::fs::read_to_string(dir.path().join("train/validation_groups.csv")).unwrap();
    let cells: Vec<String> = groups
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(" x "))
        .collect();
    let mut expected = Vec::new();
    for set in ["synthetic-wide", "val-fast"] {
        for video in ["vbr-3", "val-ladder10", "val-ladder30", "val-h264-4s"] {
            expected.push(format!("{set} x {video}"));
        }
    }
    assert_eq!(
        cells, expected,
        "the first video and the validation-only ladders, on the training set's split and the validation-only fast set: {groups}"
    );
    let curve = std::fs::read_to_string(dir.path().join("train/training_curve.csv")).unwrap();
    assert!(
        curve.contains("\navg-last,2,") && curve.contains("\navg-best,2,"),
        "the averages of the 2 checkpoints are validated: {curve}"
    );
}

#[test]
fn a_pensieve_share_needs_a_pensieve_set() {
    let e = refused("--agnostic-pensieve-windows", "200");
    assert!(
        e.contains("--agnostic-pensieve-windows") && e.contains("'pensieve'"),
        "{e}"
    );
    let e = refused("--agnostic-pensieve-weight", "0.25");
    assert!(
        e.contains("--agnostic-pensieve-weight") && e.contains("'pensieve'"),
        "{e}"
    );
    let e = refused("--agnostic-pensieve-weight", "NaN");
    assert!(
        e.contains("--agnostic-pensieve-weight") && e.contains("at least 0"),
        "{e}"
    );
}

#[test]
fn a_split_seed_gives_other_seeds_the_same_validation_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let groups = |seed: &str, split: Option<&str>, folder: &str| {
        let mut args = TINY.to_vec();
        args.extend(["--seed", seed]);
        if let Some(split) = split {
            args.extend(["--agnostic-split-seed", split]);
        }
        assert_ok(&run(&args, &dir.path().join(folder)));
        let csv =
            std::fs::read_to_string(dir.path().join(folder).join("validation_groups.csv")).unwrap();
        // The rules' columns: the same sessions give the same numbers.
        let row = csv.lines().nth(1).unwrap().to_owned();
        row.split(',').skip(5).take(3).collect::<Vec<_>>().join(",")
    };
    let one = groups("1", None, "one");
    assert_eq!(
        groups("2", Some("1"), "two"),
        one,
        "the synthetic traces and split follow --agnostic-split-seed"
    );
    assert_ne!(groups("2", None, "other"), one, "--seed alone moves them");
}

#[test]
fn rule_hints_train_a_layout_3_policy_that_bench_plays_on_any_ladder() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = TINY.to_vec();
    args.push("--agnostic-rule-hints");
    let trained = run(&args, &dir.path().join("train"));
    assert_ok(&trained);
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(
        stdout.contains("rule hints"),
        "the run says its layout: {stdout}"
    );
    let path = dir.path().join("train/policy.safetensors");
    let Ok(neuralstream_policy::Policy::Agnostic(p)) = neuralstream_policy::Policy::load(&path)
    else {
        panic!("{} is not a ladder-agnostic policy", path.display())
    };
    assert!(p.spec().has_rule_hints(), "{:?}", p.spec());
    assert_eq!(
        p.spec().version,
        neuralstream_policy::AGNOSTIC_HINTS_VERSION
    );
    let grid = dir.path().join("grid");
    let abr = format!("learned:{},robustmpc", path.display());
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args([
            "bench",
            "--grid-traces",
            "fast=synthetic-fast",
            "--grid-videos",
        ])
        .args([
            "ladder10,h264",
            "--abr",
            &abr,
            "--synthetic-traces",
            "2",
            "--out",
        ])
        .arg(&grid)
        .output()
        .unwrap();
    assert_ok(&o);
    let csv = std::fs::read_to_string(grid.join("grid.csv")).unwrap();
    let learned_rows = csv.lines().filter(|l| l.contains("learned:")).count();
    assert_eq!(learned_rows, 2, "one row per video: {csv}");
    // Without the flag the same run keeps layout 2.
    let plain = run(&TINY, &dir.path().join("plain"));
    assert_ok(&plain);
    let Ok(neuralstream_policy::Policy::Agnostic(q)) =
        neuralstream_policy::Policy::load(dir.path().join("plain/policy.safetensors"))
    else {
        panic!("the plain run is not a ladder-agnostic policy")
    };
    assert_eq!(q.spec().version, neuralstream_policy::AGNOSTIC_VERSION);
}

#[test]
fn the_optimum_cache_is_filled_once_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("optimum");
    let mut args = TINY.to_vec();
    let plain = run(&args, &dir.path().join("plain"));
    assert_ok(&plain);
    args.extend(["--agnostic-optimum-cache", cache.to_str().unwrap()]);
    let tensors = |name: &str| tensors(&dir.path().join(name).join("policy.safetensors"));
    for name in ["first", "second"] {
        assert_ok(&run(&args, &dir.path().join(name)));
        assert!(
            tensors(name) == tensors("plain"),
            "the {name} run with the cache trained another network"
        );
    }
    let entries = std::fs::read_dir(&cache).unwrap().count();
    // 3 training traces and 1 validation trace of one window each, on one video: four plans (the
    // default selection scores validation against the optimum too), written by the first run.
    assert_eq!(entries, 4, "one entry per environment");
    // A damaged entry is an error naming the file and the flag.
    for entry in std::fs::read_dir(&cache).unwrap() {
        std::fs::write(entry.unwrap().path(), "garbage\n").unwrap();
    }
    let out = run(&args, &dir.path().join("third"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--agnostic-optimum-cache") && stderr.contains(".plan"),
        "{stderr}"
    );
}
