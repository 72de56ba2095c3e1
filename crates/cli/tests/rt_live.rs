//! Real-time mode live, end to end through the real binary: `serve --rt-controllers
//! gcc,learned:PATH --rt-dataset DIR` over HTTPS, four `rt client`s over `wss://` (two GCC, two
//! learned) answered at every interval, then the dataset the server wrote trains a model with
//! `rt train --dataset` that `rt bench` loads and runs.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::serve::run_ok as run;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_neuralstream")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Stops the server as Ctrl-C would (SIGTERM), so the dataset's open hour is closed.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM {pid}");
        for _ in 0..200 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 10 s of SIGTERM");
    }
}

/// Starts `serve` for real-time sessions alone; its wss:// URL and certificate.
fn serve(model: &Path, dataset: &Path, state: &Path) -> (Server, String, PathBuf) {
    let mut child = Command::new(bin())
        .arg("serve")
        .arg("--rt-controllers")
        .arg(format!("gcc,learned:{}", model.display()))
        .arg("--rt-dataset")
        .arg(dataset)
        .args(["--port", "0", "--state-dir"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut cert) = (None, None);
    while url.is_none() || cert.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve printed its certificate and `listening on` lines within 60 s");
        if let Some(u) = line.strip_prefix("listening on https://") {
            url = Some(format!(
                "wss://{}/api/v1/rt/metrics",
                u.trim().trim_end_matches('/')
            ));
        }
        if let Some(rest) = line.strip_prefix("certificate: ") {
            cert = Some(PathBuf::from(rest.split(" sha256 ").next().unwrap().trim()));
        }
    }
    (server, url.unwrap(), cert.unwrap())
}

#[test]
fn serve_and_four_wss_clients_record_a_dataset_that_trains_a_model() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    support::rt::onl_emu_traces(&p("traces"), 1500);
    let s = |path: PathBuf| path.display().to_string();
    // A (barely trained) learned controller for the server to serve.
    run(&[
        "rt",
        "train",
        "--traces",
        &s(p("traces")),
        "--episodes",
        "2",
        "--validate-every",
        "1",
        "--threads",
        "1",
        "--out",
        &s(p("sim")),
    ]);
    let (server, url, cert) = serve(&p("sim/model.safetensors"), &p("data"), &p("state"));
    let out = run(&[
        "rt",
        "client",
        "--server",
        &url,
        "--ca-cert",
        &s(cert),
        "--traces",
        &s(p("traces")),
        "--controller",
        "gcc,learned",
        "--clients",
        "4",
        "--speed",
        "20",
        "--out",
        &s(p("client")),
    ]);
    // Every interval answered: 4.5 s sessions with feedback every 50 ms.
    let line = out
        .lines()
        .find(|l| l.contains("intervals answered"))
        .unwrap_or_else(|| panic!("{out}"));
    let counts: Vec<u64> = line
        .split(" of ")
        .flat_map(|part| part.split_whitespace())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        counts.len() >= 3 && counts[1] == counts[2] && counts[1] >= 4 * 80,
        "{line}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("client/results.json")).unwrap()).unwrap();
    let text = results.to_string();
    assert!(
        text.contains("\"gcc\"") && text.contains("\"learned\""),
        "{text}"
    );
    // The same clients without a server decide the same, so score the same.
    run(&[
        "rt",
        "client",
        "--traces",
        &s(p("traces")),
        "--controller",
        &format!("gcc,learned:{}", s(p("sim/model.safetensors"))),
        "--clients",
        "4",
        "--speed",
        "50",
        "--out",
        &s(p("local")),
    ]);
    let summary = |dir: &str| std::fs::read_to_string(p(dir).join("summary.csv")).unwrap();
    assert_eq!(summary("client"), summary("local"));
    server.stop();
    let files: Vec<_> = std::fs::read_dir(p("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| f.to_string_lossy().ends_with(".jsonl")),
        "only finished hour files remain: {files:?}"
    );
    // The clients report their receiver's frame delays, and the dataset keeps them. Nine in ten
    // of GCC's reports show a frame; how many of the barely trained learned model's do depends
    // on the action its random initialisation prefers (1080p at a few hundred kbit/s shows none
    // in some 50 ms intervals), so of its reports some must.
    let records: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(p("data").join(f)).unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let delays_of = |gcc: bool| {
        let reports: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| (r["controller"] == "gcc") == gcc)
            .map(|r| &r["report"])
            .collect();
        let with_delays = reports
            .iter()
            .filter(|r| {
                let (p50, max) = (&r["frame_delay_p50_ms"], &r["frame_delay_max_ms"]);
                p50.as_f64()
                    .is_some_and(|p| p > 0.0 && p <= max.as_f64().unwrap())
            })
            .count();
        (with_delays, reports.len())
    };
    let (gcc_with, gcc_all) = delays_of(true);
    assert!(
        gcc_all > 0 && gcc_with * 10 >= gcc_all * 9,
        "{gcc_with} of GCC's {gcc_all} reports carry frame delays"
    );
    let (learned_with, learned_all) = delays_of(false);
    assert!(
        learned_with > 0 && learned_with <= learned_all,
        "{learned_with} of the learned model's {learned_all} reports carry frame delays"
    );
    let trained = run(&[
        "rt",
        "train",
        "--dataset",
        &s(p("data")),
        "--grad-steps",
        "200",
        "--out",
        &s(p("off")),
    ]);
    assert!(
        trained.contains(&format!("{} records, 4 sessions", counts[2])),
        "{trained}"
    );
    run(&[
        "rt",
        "bench",
        "--traces",
        &s(p("traces")),
        "--controllers",
        &format!("learned:{}", s(p("off/model.safetensors"))),
        "--out",
        &s(p("bench")),
    ]);
    assert!(p("bench/results.json").exists());
}
