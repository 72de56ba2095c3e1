//! `neuralstream report` end to end through the binary: the telemetry `bench --telemetry` writes
//! and the results folder `bench` writes give the same aggregates; bad input (a corrupt file, a
//! schema of another version, a folder with nothing in it, a broken chunks.csv) is refused with
//! the file named, never a panic.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::telemetry_files::with_schema_version;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuralstream"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail cleanly");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A bench run with telemetry on 4 synthetic traces and 2 algorithms: (telemetry, results) folders.
fn bench(dir: &Path) -> (PathBuf, PathBuf) {
    let tel = dir.join("telemetry");
    let res = dir.join("bench");
    ok(&[
        "bench",
        "--synthetic-traces",
        "4",
        "--abr",
        "bb,robustmpc",
        "--no-charts",
        "--telemetry",
        tel.to_str().unwrap(),
        "--out",
        res.to_str().unwrap(),
    ]);
    (tel, res)
}

/// `report FLAG INPUT --out OUT`.
fn report_args<'a>(flag: &'a str, input: &'a Path, out: &'a Path) -> [&'a str; 5] {
    let s = |p: &'a Path| p.to_str().expect("a UTF-8 temporary path");
    ["report", flag, s(input), "--out", s(out)]
}

fn groups(report: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(report.join("report.json")).unwrap();
    let json: Value = serde_json::from_str(&text).expect("report.json is JSON");
    json["groups"].as_array().unwrap().clone()
}

#[test]
fn telemetry_and_results_of_one_bench_run_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (tel, res) = bench(dir.path());
    let from_tel = dir.path().join("report-telemetry");
    let from_res = dir.path().join("report-results");
    let out = ok(&report_args("--telemetry", &tel, &from_tel));
    assert!(out.contains("8 sessions"), "{out}");
    ok(&report_args("--results", &res, &from_res));
    let (a, b) = (groups(&from_tel), groups(&from_res));
    assert_eq!(a.len(), b.len());
    // algorithms x (their classes + all), plus the all rows: at least 2 + 1 + 2 classes.
    assert!(a.len() >= 5, "{a:?}");
    for (x, y) in a.iter().zip(&b) {
        for (key, v) in x.as_object().unwrap() {
            let w = &y[key];
            match (v.as_f64(), w.as_f64()) {
                (Some(p), Some(q)) => assert!(
                    (p - q).abs() <= 1e-12 * p.abs().max(1.0),
                    "{key}: {p} vs {q}"
                ),
                _ => assert_eq!(v, w, "{key}"),
            }
        }
    }
    let all = a
        .iter()
        .find(|g| g["algorithm"] == "all" && g["network_class"] == "all")
        .unwrap();
    assert_eq!(all["sessions"], 8);
    assert!(all["qoe_mean"].is_number() && all["mos_mean"].as_f64().unwrap() >= 1.5);
    assert!(
        all["decision_us_mean"].is_null(),
        "bench sessions have no server decision time"
    );
    for name in [
        "report.md",
        "sessions.csv",
        "groups.csv",
        "satisfaction_cdf.png",
        "satisfied_by_class.svg",
    ] {
        assert!(from_tel.join(name).is_file(), "{name}");
    }
    let md = std::fs::read_to_string(from_tel.join("report.md")).unwrap();
    assert!(
        md.contains("| robustmpc | 4 |") && md.contains("Hoßfeld"),
        "{md}"
    );
}

#[test]
fn corrupt_and_other_version_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (tel, res) = bench(dir.path());
    let out = dir.path().join("r");
    let file = walk(&tel).into_iter().next().expect("a telemetry file");
    let bytes = std::fs::read(&file).unwrap();

    // Another schema version: the footer's version value becomes `9`.
    std::fs::write(&file, with_schema_version(&bytes, b'9')).unwrap();
    let args = report_args("--telemetry", &tel, &out);
    let err = refused(&args);
    assert!(
        err.contains(file.file_name().unwrap().to_str().unwrap())
            && err.contains("version 9")
            && err.contains("reads version 1 to 2"),
        "{err}"
    );

    // Not Parquet at all.
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let err = refused(&args);
    assert!(
        err.contains(file.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );

    // An empty folder, and neither flag.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(
        refused(&["report", "--telemetry", empty.to_str().unwrap()]).contains("no telemetry files")
    );
    let usage = run(&["report"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--telemetry"));

    // A results folder whose chunks.csv is broken, or missing.
    let chunks = res.join("chunks.csv");
    let text = std::fs::read_to_string(&chunks).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[1].split(',').collect();
    fields[6] = "oops"; // delay_ms
    lines[1] = fields.join(",");
    let broken = lines.join("\n");
    std::fs::write(&chunks, broken).unwrap();
    let err = refused(&report_args("--results", &res, &out));
    assert!(
        err.contains("chunks.csv, line 2") && err.contains("delay_ms"),
        "{err}"
    );
    std::fs::remove_file(&chunks).unwrap();
    let err = refused(&report_args("--results", &res, &out));
    assert!(err.contains("--no-chunk-log"), "{err}");

    // Bad flags.
    let err = refused(&[
        "report",
        "--results",
        res.to_str().unwrap(),
        "--classes-kbps",
        "5000,1000",
    ]);
    assert!(err.contains("--classes-kbps"), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}
