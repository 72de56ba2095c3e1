//! End-to-end tests through the real `neuralstream` binary: happy paths and every bad-input case
//! (message names the file/line/flag, exit code is non-zero, no panic).

use std::path::Path;
use std::process::{Command, Output};

fn neuralstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a bench that must fail; returns stderr after checking the exit code and the absence of a panic.
fn fails(args: &[&str]) -> String {
    let o = neuralstream(args);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "expected failure for {args:?}; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "panic for {args:?}: {err}");
    err
}

/// A quick bench (bb on 2 synthetic traces, no charts, no chunk log) into `out`, plus `extra` flags.
fn quick_bench(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "bench",
        "--synthetic-traces",
        "2",
        "--abr",
        "bb",
        "--no-charts",
        "--no-chunk-log",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    neuralstream(&args)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn bench_runs_on_builtin_defaults_and_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = neuralstream(&[
        "bench",
        "--synthetic-traces",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for algo in ["bb", "bola", "robustmpc", "optimum"] {
        assert!(stdout.contains(algo), "table lacks {algo}: {stdout}");
    }
    for f in [
        "results.json",
        "results.csv",
        "summary.csv",
        "chunks.csv",
        "qoe_cdf.png",
        "qoe_cdf.svg",
        "timeline.png",
        "timeline.svg",
    ] {
        let p = out.join(f);
        assert!(
            p.is_file() && std::fs::metadata(&p).unwrap().len() > 100,
            "{f} missing or empty"
        );
    }
    // The optimum is an upper bound on every trace.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let rows = json["per_trace"].as_array().unwrap();
    let opt = |trace: &str| {
        rows.iter()
            .find(|r| r["algorithm"] == "optimum" && r["trace"] == trace)
            .map(|r| r["score"]["qoe"].as_f64().unwrap())
            .unwrap()
    };
    for r in rows {
        let q = r["score"]["qoe"].as_f64().unwrap();
        assert!(q <= opt(r["trace"].as_str().unwrap()) + 1e-9, "{r}");
    }
    // chunks.csv: header + 10 algorithms x 6 traces x 48 chunks
    let lines = std::fs::read_to_string(out.join("chunks.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 1 + 10 * 6 * 48);
    // A second run into the same folder without charts or chunk log leaves none of the first's.
    let o = quick_bench(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["chunks.csv", "qoe_cdf.png", "timeline.svg"] {
        assert!(!out.join(f).exists(), "stale {f} left behind");
    }
    assert!(stderr(&o).contains("removed"), "{}", stderr(&o));
    // results.json says how the sessions were simulated.
    let sim = &json["meta"]["simulator"];
    assert_eq!(sim["rtt_ms"].as_f64(), Some(80.0), "{sim}");
    assert_eq!(sim["buffer_cap_s"].as_f64(), Some(60.0), "{sim}");
    assert_eq!(sim["max_chunks"].as_u64(), Some(48), "{sim}");
}

/// QoE_lin's stall penalty: Pensieve's 4.3 on the built-in video, the top bitrate (35) on a
/// 35 Mbit/s ladder, an explicit `lin:MU` over both; results.json and the table say which.
#[test]
fn qoe_lin_penalty_follows_the_ladder_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let ladder = [1000, 2500, 5000, 10000, 20000, 35000];
    let levels: Vec<String> = ladder
        .iter()
        .map(|k| format!("{{\"bitrate_kbps\":{k}}}"))
        .collect();
    let sizes: Vec<String> = ladder
        .iter()
        .map(|k| format!("[{}]", vec![(k * 1000 / 2).to_string(); 8].join(",")))
        .collect();
    let video = write(
        dir.path(),
        "fast.json",
        &format!(
            r#"{{"format":"neuralstream-video","version":1,"name":"fast","chunk_duration_s":4,"ladder":[{}],"chunk_bytes":[{}]}}"#,
            levels.join(","),
            sizes.join(",")
        ),
    );
    let run = |extra: &[&str]| -> (serde_json::Value, String) {
        let out = dir.path().join("out");
        let o = quick_bench(&out, extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let json =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        (json, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (json, table) = run(&[]);
    assert_eq!(json["meta"]["qoe"], "lin:4.3");
    assert!(
        table.contains("QoE model: lin, stall penalty 4.3 per second"),
        "{table}"
    );
    let (json, table) = run(&["--video", &video]);
    assert_eq!(json["meta"]["qoe"], "lin:35");
    assert!(table.contains("stall penalty 35 per second"), "{table}");
    let (json, _) = run(&["--video", &video, "--qoe", "lin:4.3"]);
    assert_eq!(json["meta"]["qoe"], "lin:4.3");
    let err = fails(&["bench", "--synthetic-traces", "1", "--qoe", "lin:-2"]);
    assert!(
        err.contains("--qoe") && err.contains("finite number >= 0"),
        "{err}"
    );
}

/// The generalisation grid: every (trace set x video) cell in grid.csv / grid.md with its QoE spec,
/// the heat-map drawn, the optimum at 100 % of itself; bad grid entries are explained.
#[test]
fn bench_grid_writes_every_cell_and_the_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    std::fs::create_dir(&traces).unwrap();
    for i in 0..2 {
        let lines: String = (0..400)
            .map(|t| format!("{t} {}\n", 1.0 + (t % 7) as f64 * 0.3 + i as f64))
            .collect();
        write(&traces, &format!("slow_{i}"), &lines);
    }
    let out = dir.path().join("grid");
    let grid_traces = format!("slow={},fast=synthetic-fast", traces.display());
    let o = neuralstream(&[
        "bench",
        "--grid-traces",
        &grid_traces,
        "--grid-videos",
        "builtin,ladder10,ladder35",
        "--abr",
        "bb,robustmpc,optimum",
        "--synthetic-traces",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * 3, "{csv}");
    assert!(csv.contains("fast,ladder35,lin:35,optimum,2,"), "{csv}");
    assert!(csv.contains("slow,builtin,lin:4.3,robustmpc,2,"), "{csv}");
    for line in csv.lines().filter(|l| l.contains(",optimum,")) {
        assert!(line.contains(",1.0000,"), "{line}");
    }
    let md = std::fs::read_to_string(out.join("grid.md")).unwrap();
    assert!(md.contains("| slow | ladder10 | lin:12 |"), "{md}");
    for f in ["grid_share.png", "grid_share.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 100, "{f}");
    }
    let err = fails(&["bench", "--grid-traces", "x=synthetic-fast"]);
    assert!(err.contains("--grid-videos"), "{err}");
    let err = fails(&[
        "bench",
        "--grid-traces",
        "x=/no/such/folder",
        "--grid-videos",
        "builtin",
    ]);
    assert!(err.contains("--grid-traces x=/no/such/folder"), "{err}");
}

#[test]
fn bench_reproduces_pensieve_reference_through_the_binary() {
    let Some(shared) = neuralstream_data_dir() else {
        eprintln!("shared data not found; reference run skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sim = shared.join("data/pensieve/sim");
    let o = neuralstream(&[
        "bench",
        "--traces",
        sim.join("cooked_test_traces").to_str().unwrap(),
        "--video",
        sim.to_str().unwrap(),
        "--abr",
        "bb",
        "--no-charts",
        "--no-chunk-log",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let mean = json["summaries"][0]["qoe_mean"].as_f64().unwrap();
    assert!((mean - 30.043).abs() < 5e-4, "bb mean {mean}");
    assert_eq!(json["meta"]["traces"], 142);
}

fn neuralstream_data_dir() -> Option<std::path::PathBuf> {
    neuralstream_data::shared_dir_for_tests(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn bad_traces_are_reported_with_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("empty", "", "empty"),
        (
            "nonnumeric",
            "0 1\n1 fast\n",
            "nonnumeric:2: throughput 'fast' is not a number",
        ),
        (
            "backwards",
            "0 1\n2 1\n1 1\n",
            "backwards:3: time 1 s is not after the previous line's 2 s",
        ),
        (
            "negative",
            "0 1\n1 -2\n",
            "negative:2: throughput -2 Mbit/s is negative",
        ),
        (
            "nan",
            "0 1\n1 NaN\n",
            "nan:2: throughput 'NaN' is not finite",
        ),
        (
            "allzero",
            "0 0\n1 0\n2 0\n",
            "throughput is 0 on every line",
        ),
        ("onecol", "0 1\n1\n", "onecol:2: expected two columns"),
        (
            "mahimahi_back",
            "5\n9\n3\n",
            "mahimahi_back:3: timestamp 3 ms is before",
        ),
    ];
    for (name, text, expected) in cases {
        let sub = d.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        write(&sub, name, text);
        let err = fails(&[
            "bench",
            "--traces",
            sub.to_str().unwrap(),
            "--abr",
            "bb",
            "--no-charts",
            "--out",
            d.path().join("o").to_str().unwrap(),
        ]);
        assert!(
            err.contains(expected),
            "case {name}: expected '{expected}' in: {err}"
        );
        assert!(
            err.contains("--traces"),
            "case {name}: flag not named: {err}"
        );
    }
    let err = fails(&["bench", "--traces", "/nonexistent/traces", "--abr", "bb"]);
    assert!(
        err.contains("/nonexistent/traces") && err.contains("No such file"),
        "{err}"
    );
    let empty = d.path().join("emptydir");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(&["bench", "--traces", empty.to_str().unwrap(), "--abr", "bb"]);
    assert!(err.contains("no file"), "{err}");
}

#[test]
fn bad_videos_are_reported_with_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let v = d.path().join("pensieve");
    std::fs::create_dir(&v).unwrap();
    write(&v, "video_size_0", "100\n200\n300\n");
    write(&v, "video_size_1", "400\n500\n");
    let err = fails(&[
        "bench",
        "--video",
        v.to_str().unwrap(),
        "--synthetic-traces",
        "2",
    ]);
    assert!(
        err.contains("video_size_1: has 2 chunks but video_size_0 has 3"),
        "{err}"
    );
    assert!(err.contains("--video"), "{err}");
    write(&v, "video_size_1", "400\nbig\n600\n");
    let err = fails(&[
        "bench",
        "--video",
        v.to_str().unwrap(),
        "--synthetic-traces",
        "2",
    ]);
    assert!(
        err.contains("video_size_1:2: 'big' is not a whole number of bytes"),
        "{err}"
    );

    let j = write(d.path(), "video.json", "{\n  \"format\": \"neuralstream-video\",\n  \"version\": 1,\n  \"name\": \"x\",\n  \"chunk_duration_s\": \"four\"\n}\n");
    let err = fails(&["bench", "--video", &j, "--synthetic-traces", "2"]);
    assert!(err.contains("video.json:5:"), "{err}");
    let j = write(
        d.path(),
        "v2.json",
        r#"{"format":"neuralstream-video","version":1,"name":"x","chunk_duration_s":4,"ladder":[{"bitrate_kbps":300},{"bitrate_kbps":700}],"chunk_bytes":[[1,2,3],[4,5]]}"#,
    );
    let err = fails(&["bench", "--video", &j, "--synthetic-traces", "2"]);
    assert!(
        err.contains("level 1 has 2 chunks but level 0 has 3"),
        "{err}"
    );
    let err = fails(&[
        "bench",
        "--video",
        d.path().join("nope.json").to_str().unwrap(),
    ]);
    assert!(err.contains("nope.json"), "{err}");
}

#[test]
fn bad_flags_are_explained() {
    let err = fails(&["bench", "--abr", "bb,bolla", "--synthetic-traces", "2"]);
    assert!(
        err.contains("unknown ABR algorithm 'bolla'") && err.contains("neuralstream algorithms"),
        "{err}"
    );
    let err = fails(&["bench", "--qoe", "fun", "--synthetic-traces", "2"]);
    assert!(
        err.contains("unknown QoE model 'fun'") && err.contains("lin, log, hd"),
        "{err}"
    );
    let err = fails(&["bench", "--synthetic-traces", "0"]);
    assert!(err.contains("--synthetic-traces"), "{err}");
    let err = fails(&["bench", "--trace-format", "csv"]);
    assert!(err.contains("unknown trace format 'csv'"), "{err}");
    let err = fails(&[
        "bench",
        "--synthetic-traces",
        "2",
        "--timeline-trace",
        "nope",
    ]);
    assert!(err.contains("--timeline-trace nope"), "{err}");
    let err = fails(&["bench", "--abr", "optimum,learned"]);
    assert!(err.contains("learned:PATH"), "{err}");
    let err = fails(&["bench", "--abr", "bb,,rate"]);
    assert!(err.contains("empty entry"), "{err}");
    let err = fails(&["bench", "--synthetic-traces", "2", "--skip-chunks", "48"]);
    assert!(
        err.contains("--skip-chunks 48 leaves no chunk to score"),
        "{err}"
    );
    // Too many threads are lowered, with a note, not refused.
    let dir = tempfile::tempdir().unwrap();
    let o = neuralstream(&[
        "bench",
        "--synthetic-traces",
        "1",
        "--abr",
        "bb,",
        "--threads",
        "100000",
        "--no-charts",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--threads 100000 lowered to"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 session in"));
    let err = fails(&["bench", "--synthetic-traces", "100000000"]);
    assert!(
        err.contains("--synthetic-traces must be between 1 and"),
        "{err}"
    );
    let err = fails(&["traces", "--count", "0"]);
    assert!(err.contains("--count must be at least 1"), "{err}");
    let err = fails(&["traces", "--count", "100000000"]);
    assert!(err.contains("--count must be at most"), "{err}");
    // A second run into the same folder replaces the first run's traces instead of adding to them.
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("tr");
    let out_s = out.to_str().unwrap();
    assert!(
        neuralstream(&["traces", "--out", out_s, "--count", "5", "--seed", "1"])
            .status
            .success()
    );
    // A user's file that merely starts like a trace name is not the tool's to delete.
    std::fs::write(out.join("synthetic_notes.txt"), "mine").unwrap();
    let o = neuralstream(&["traces", "--out", out_s, "--count", "3", "--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed 5 synthetic traces"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    assert!(out.join("synthetic_notes.txt").is_file());
    let err = fails(&["sample-video", "never-written.mp4", "--seconds", "0"]);
    assert!(
        err.contains("--seconds") && !err.contains("--synthetic"),
        "{err}"
    );
    // A folder as OUT is refused before anything is encoded.
    let d = tempfile::tempdir().unwrap();
    let err = fails(&["sample-video", d.path().to_str().unwrap(), "--seconds", "1"]);
    assert!(err.contains("is a folder"), "{err}");
    let err = fails(&["sample-video", "never-written.webm", "--seconds", "1"]);
    assert!(err.contains("name it .mp4"), "{err}");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn help_teaches() {
    let o = neuralstream(&["bench", "--help"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for flag in ["--traces", "--video", "--abr", "--qoe", "--seed", "--out"] {
        assert!(s.contains(flag), "--help lacks {flag}");
    }
    let o = neuralstream(&["algorithms"]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("robustmpc") && s.contains("optimum"), "{s}");
    // Every subcommand ends its help with examples, and every flag they use exists.
    for sub in [
        "bench",
        "train",
        "traces",
        "package",
        "sample-video",
        "serve",
        "play",
        "demo",
    ] {
        let o = neuralstream(&[sub, "--help"]);
        let help = String::from_utf8_lossy(&o.stdout).to_string();
        let (options, examples) = help
            .split_once("\nExample")
            .unwrap_or_else(|| panic!("{sub} --help has no examples:\n{help}"));
        assert!(
            examples.contains(&format!("neuralstream {sub}")),
            "{examples}"
        );
        for flag in examples.split_whitespace().filter(|w| w.starts_with("--")) {
            assert!(
                options.contains(&format!("{flag} ")) || options.contains(&format!("{flag}\n")),
                "{sub} --help: the example flag {flag} is not an option"
            );
        }
    }
}

/// `train` on built-in synthetic traces with a tiny budget, then the policy runs in `bench`, and
/// `--resume` continues the curve.
#[test]
fn train_writes_a_policy_that_bench_runs_and_resume_continues() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train");
    let out_s = out.to_str().unwrap();
    let tiny = [
        "--synthetic-traces",
        "8",
        "--epochs",
        "2",
        "--dagger-rounds",
        "1",
        "--api-iters",
        "2",
        "--api-sessions",
        "8",
        "--api-states",
        "4",
        "--val-fraction",
        "0.25",
    ];
    let mut args = vec!["train", "--out", out_s];
    args.extend(tiny);
    // Run outside the source tree: the checkpoint still names the commit the binary was built from.
    let o = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .current_dir(dir.path())
        .args(&args)
        .output()
        .expect("binary runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("selected:"), "{stdout}");
    // Not on a terminal (stdout and stderr are pipes here): progress comes as plain lines with
    // the stage, iteration, validation score and elapsed time, not as a bar nobody sees.
    let err = stderr(&o);
    assert!(
        err.lines().any(|l| l.starts_with("train [00:")
            && l.contains(" #")
            && l.contains("validation QoE")),
        "no progress line: {err}"
    );
    let trained = neuralstream_learn::LearnedAbr::load(out.join("policy.safetensors")).unwrap();
    let commit = trained.meta().git_commit.clone().unwrap_or_default();
    let head = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        Some(head) => assert_eq!(commit, head),
        None => assert_eq!(commit, "unknown"),
    }
    for f in [
        "policy.safetensors",
        "last.safetensors",
        "training_curve.csv",
        "training_curve.png",
        "training_curve.svg",
        "stages.csv",
        "stages.png",
        "stages.svg",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let curve = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    let before = curve(&out.join("training_curve.csv"));
    let stages = std::fs::read_to_string(out.join("stages.csv")).unwrap();
    for s in ["imitation", "dagger", "api"] {
        assert!(stages.contains(s), "stages.csv lacks {s}: {stages}");
    }

    let policy = format!("learned:{}", out.join("policy.safetensors").display());
    let bench_out = dir.path().join("bench");
    let o = neuralstream(&[
        "bench",
        "--synthetic-traces",
        "4",
        "--abr",
        &policy,
        "--no-charts",
        "--out",
        bench_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("learned"));

    let out2 = dir.path().join("resumed");
    let last = out.join("last.safetensors");
    let mut args = vec![
        "train",
        "--out",
        out2.to_str().unwrap(),
        "--resume",
        last.to_str().unwrap(),
        // The checkpoint's own shape, spelt differently: nothing to note.
        "--hidden",
        "128, 128",
    ];
    args.extend(tiny);
    let o = neuralstream(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("shape a new network"),
        "{}",
        stderr(&o)
    );
    let after = curve(&out2.join("training_curve.csv"));
    assert!(after > before, "curve {before} -> {after} lines");
    // Another shape is not applied to a resumed network, and train says so.
    let out3 = dir.path().join("reshaped");
    let mut args = vec![
        "train",
        "--out",
        out3.to_str().unwrap(),
        "--resume",
        last.to_str().unwrap(),
        "--hidden",
        "64",
    ];
    args.extend(tiny);
    let o = neuralstream(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: --hidden shapes a new network; --resume keeps the checkpoint's ([128, 128] hidden"),
        "{}",
        stderr(&o)
    );
    // Resuming into imitation only would silently do nothing useful: refused, with the fix.
    let err = fails(&[
        "train",
        "--out",
        out2.to_str().unwrap(),
        "--resume",
        last.to_str().unwrap(),
        "--algo",
        "imitation",
    ]);
    assert!(err.contains("--stages api"), "{err}");
}

#[test]
fn train_bad_inputs_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let out = out.to_str().unwrap();
    let err = fails(&[
        "train",
        "--resume",
        "/nonexistent/last.safetensors",
        "--out",
        out,
    ]);
    assert!(err.contains("/nonexistent/last.safetensors"), "{err}");
    let err = fails(&["train", "--algo", "sarsa", "--out", out]);
    assert!(err.contains("sarsa"), "{err}");
    let err = fails(&["train", "--stages", "imitation,magic", "--out", out]);
    assert!(err.contains("magic"), "{err}");
    let err = fails(&["train", "--hidden", "128,x", "--out", out]);
    assert!(err.contains("--hidden 128,x"), "{err}");
    // Too wide to allocate: refused before any memory is asked for.
    let err = fails(&["train", "--hidden", "100000,100000", "--out", out]);
    assert!(err.contains("at most 4096 units"), "{err}");
    for (flag, value) in [("--api-lr", "inf"), ("--ppo-lr", "0"), ("--ppo-lr", "5")] {
        let err = fails(&["train", flag, value, "--out", out]);
        assert!(
            err.contains(&format!("{flag} must be a learning rate")),
            "{err}"
        );
    }
    let err = fails(&["train", "--synthetic-traces", "1", "--out", out]);
    assert!(err.contains("at least 2 traces"), "{err}");
    let err = fails(&["train", "--algo", "ppo", "--ppo-iters", "0", "--out", out]);
    assert!(err.contains("--ppo-iters must be at least 1"), "{err}");
    let err = fails(&["train", "--qoe", "ssim", "--out", out]);
    assert!(err.contains("--qoe ssim does not fit the video"), "{err}");
    let err = fails(&["train", "--api-explore", "2", "--out", out]);
    assert!(err.contains("--api-explore"), "{err}");
    let err = fails(&["train", "--val-fraction", "1.5", "--out", out]);
    assert!(err.contains("--val-fraction"), "{err}");
    let err = fails(&["train", "--traces", "/nonexistent/traces", "--out", out]);
    assert!(err.contains("/nonexistent/traces"), "{err}");
}

/// A full or closed stdout (`> /dev/full`, `| head -1`) is not a panic: the command finishes, writes
/// its files and exits 0.
#[test]
fn a_full_stdout_is_not_a_panic() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    for args in [
        vec!["algorithms"],
        vec![
            "bench",
            "--abr",
            "bb",
            "--synthetic-traces",
            "3",
            "--no-charts",
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_neuralstream"))
            .args(&args)
            .stdout(std::fs::File::create(full).unwrap())
            .output()
            .expect("binary runs");
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(out.join("results.json").is_file());
}
