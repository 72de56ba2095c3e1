//! Pensieve's own browser client against `neuralstream serve --pensieve-compat`, end to end through
//! the real binaries: `neuralstream package` makes a short H.264 video with Pensieve's six bitrates
//! (300 to 4300 kbit/s) from FFmpeg's synthetic source, `neuralstream train` makes a small learned
//! policy, and for `robustmpc` and that policy `serve` runs in the compatible mode on port 8333
//! with Pensieve's `myindex_RL.html` and `dash.all.min.js` served from `../shared` (never copied into
//! the repository). `node web/tests/pensieve_e2e.mjs` plays it in Debian's headless Chromium (see
//! that script for the browser-side checks); this test then reads the server's own JSON log: its
//! decisions (`pensieve decision`) and its access log (`request`, at debug) must agree, one
//! session, every chunk after the first answered with the level the player then requested,
//! `REFRESH` once, for the last chunk.
//!
//! The client has Pensieve's 49-chunk size table hard-coded for `nextChunkSize`; with a video of
//! [`CHUNKS`] chunks it sends that table's numbers (ignored by the server) and its `lastRequest`
//! reaches the served video's last index, which is where `REFRESH` goes: a shorter video works.
//!
//! Port 8333 is hard-coded in the client, so a lock (an abstract Unix socket) keeps two runs of
//! this test (in any process) from overlapping. Skips with a note when Chromium, node, FFmpeg,
//! `web/node_modules` or the shared client folder is missing, unless `NEURALSTREAM_REQUIRE_BROWSER=1`
//! (CI sets it). Outputs land in `target/pensieve-e2e/<algorithm>/` (or `$NEURALSTREAM_E2E_OUT`).
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use support::browser::{browser_required, chromium, on_path, workspace_root};

const BIN: &str = env!("CARGO_BIN_EXE_neuralstream");
/// Chunks of the test video (4 s each): enough for the rules to move, short for CI.
const CHUNKS: usize = 8;
/// Browser throughput, kbit/s (DevTools throttling): between the ladder's middle and top levels
/// (the top is about 3.5 Mbit/s on these frames), so the rules have choices to make.
const THROTTLE_KBPS: &str = "3000";
/// Pensieve's ladder (`VIDEO_BIT_RATE` of its servers) on tiny frames, so encoding stays cheap
/// (about 12 s on a loaded 2-core machine, against 30 s at 144p to 360p).
const LADDER: &str = "90p@300k,108p@750k,126p@1200k,144p@1850k,162p@2850k,180p@4300k";

/// Pensieve's client folder in the shared data, if present.
fn client_dir(root: &Path) -> Option<PathBuf> {
    let dir = neuralstream_data::find_shared_dir(root)?.join("data/pensieve/client");
    dir.join("myindex_RL.html").is_file().then_some(dir)
}

/// Runs the binary with `args`; fails the test with its output if it fails.
fn neuralstream(args: &[&str]) {
    let started = Instant::now();
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "neuralstream {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "neuralstream {} took {:.1} s",
        args[0],
        started.elapsed().as_secs_f64()
    );
}

/// Holds the lock on port 8333 for this test: an abstract Unix socket only one process can bind,
/// released when dropped or when the process dies, however it dies (no stale lock file).
fn lock_port() -> std::os::unix::net::UnixListener {
    use std::os::linux::net::SocketAddrExt;
    let name = "neuralstream-pensieve-port-8333";
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
    let waited = Instant::now();
    loop {
        match std::os::unix::net::UnixListener::bind_addr(&addr) {
            Ok(lock) => {
                if waited.elapsed() > Duration::from_secs(1) {
                    println!(
                        "waited {:.1} s for the lock {name}",
                        waited.elapsed().as_secs_f64()
                    );
                }
                return lock;
            }
            Err(_) if waited.elapsed() < Duration::from_secs(600) => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("another run held the lock {name} (port 8333) for 600 s: {e}"),
        }
    }
}

/// One `pensieve decision` line of the server's log.
#[derive(Debug)]
struct Decision {
    session: String,
    algorithm: String,
    chunk: u64,
    level: u64,
    next_chunk: u64,
    answer: String,
}

/// The decisions and the segment requests (chunk index from 0, level) of a JSON log.
fn read_log(lines: &[String]) -> (Vec<Decision>, Vec<(u64, u64)>) {
    let (mut decisions, mut segments) = (Vec::new(), Vec::new());
    for line in lines {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let f = &v["fields"];
        match f["message"].as_str() {
            Some("pensieve decision") => decisions.push(Decision {
                session: f["session"].as_str().unwrap_or_default().into(),
                algorithm: f["algorithm"].as_str().unwrap_or_default().into(),
                chunk: f["chunk"].as_u64().unwrap_or(u64::MAX),
                level: f["level"].as_u64().unwrap_or(u64::MAX),
                next_chunk: f["next_chunk"].as_u64().unwrap_or(u64::MAX),
                answer: f["answer"].as_str().unwrap_or_default().into(),
            }),
            Some("request")
                if f["method"] == "GET" && f["status"].as_u64().is_some_and(|s| s < 300) =>
            {
                // NeuralStream's segment names: chunk-LEVEL-NUMBER.m4s, numbered from 1.
                let path = f["path"].as_str().unwrap_or_default();
                let parsed = path
                    .strip_prefix("/chunk-")
                    .and_then(|p| p.strip_suffix(".m4s"))
                    .and_then(|p| p.split_once('-'))
                    .and_then(|(l, n)| Some((n.parse::<u64>().ok()? - 1, l.parse().ok()?)));
                segments.extend(parsed);
            }
            _ => {}
        }
    }
    (decisions, segments)
}

/// What the server's log says against the bar: one session of `algorithm`, chunks 0..CHUNKS reported in order,
/// every chunk after the first answered with the level the player then requested (and reported),
/// `REFRESH` once, for the last chunk. Returns the failures.
fn check_log(decisions: &[Decision], segments: &[(u64, u64)], algorithm: &str) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(d) = decisions.iter().find(|d| d.algorithm != algorithm) {
        failures.push(format!(
            "chunk {} was decided by {}, not {algorithm}",
            d.chunk, d.algorithm
        ));
    }
    let n = CHUNKS as u64;
    let reported: Vec<u64> = decisions.iter().map(|d| d.chunk).collect();
    if reported != (0..n).collect::<Vec<_>>() {
        failures.push(format!("chunks reported {reported:?}, expected 0..{n}"));
    }
    if decisions.iter().any(|d| d.session != decisions[0].session) {
        failures.push("the decisions span several sessions".into());
    }
    let refreshes: Vec<u64> = decisions
        .iter()
        .filter(|d| d.answer == "REFRESH")
        .map(|d| d.chunk)
        .collect();
    if refreshes != [n - 1] {
        failures.push(format!(
            "REFRESH answered to the reports of chunks {refreshes:?}, expected once, to chunk {}",
            n - 1
        ));
    }
    // The level each chunk was first requested at, from the access log.
    let mut requested = std::collections::BTreeMap::new();
    for &(index, level) in segments {
        requested.entry(index).or_insert(level);
    }
    if requested.keys().copied().collect::<Vec<_>>() != (0..n).collect::<Vec<_>>() {
        failures.push(format!(
            "the access log has requests of chunks {:?}, expected 0..{n}",
            requested.keys()
        ));
    }
    for d in decisions {
        if requested.get(&d.chunk) != Some(&d.level) {
            failures.push(format!(
                "chunk {} was reported at level {} but requested at {:?}",
                d.chunk,
                d.level,
                requested.get(&d.chunk)
            ));
        }
        if d.next_chunk == n {
            continue;
        }
        match d.answer.parse::<u64>() {
            Ok(level) if requested.get(&d.next_chunk) == Some(&level) => {}
            _ => failures.push(format!(
                "chunk {}: the server answered {:?}, the player requested level {:?}",
                d.next_chunk,
                d.answer,
                requested.get(&d.next_chunk)
            )),
        }
    }
    failures
}

/// Serves `media` with `algorithm` in the compatible mode, plays it in Chromium, checks the log.
fn play(root: &Path, client: &Path, media: &Path, algorithm: &str, out: &Path) {
    let started = Instant::now();
    let mut server = Command::new(BIN)
        .args(["serve", "--pensieve-compat", "--pensieve-client"])
        .arg(client)
        .arg("--media")
        .arg(media)
        .args(["--abr", algorithm, "--log-format", "json"])
        .env("NEURALSTREAM_LOG", "info,neuralstream_server=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (server.stdout.take().unwrap(), server.stderr.take().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        })
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let listening = rx.recv_timeout(Duration::from_secs(60));
    let e2e = listening.as_ref().ok().map(|line| {
        assert_eq!(line, "listening on http://127.0.0.1:8333/");
        Command::new("node")
            .arg(root.join("web/tests/pensieve_e2e.mjs"))
            .arg("http://localhost:8333/")
            .arg("--out")
            .arg(out)
            .arg("--chromium")
            .arg(chromium())
            .args(["--kbps", THROTTLE_KBPS])
            .status()
            .unwrap()
    });
    let _ = server.kill();
    let _ = server.wait();
    reader.join().unwrap();
    let lines = log.lock().unwrap().clone();
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("server.log"), lines.join("\n")).unwrap();
    let e2e = e2e.unwrap_or_else(|| {
        panic!(
            "{algorithm}: the server printed no `listening on` line within 60 s (is port 8333 taken?):\n{}",
            lines.join("\n")
        )
    });
    assert!(
        e2e.success(),
        "{algorithm}: the browser-side checks failed ({e2e}); see the lines above and {}",
        out.join("result.json").display()
    );
    let (decisions, segments) = read_log(&lines);
    let failures = check_log(&decisions, &segments, algorithm);
    assert!(
        failures.is_empty(),
        "{algorithm}: the server's log disagrees (see {}):\n - {}",
        out.join("server.log").display(),
        failures.join("\n - ")
    );
    let answers: Vec<&str> = decisions.iter().map(|d| d.answer.as_str()).collect();
    println!(
        "{algorithm}: {} decisions {answers:?} match the access log; played in {:.1} s",
        decisions.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn pensieves_own_client_plays_to_the_end_with_robustmpc_and_a_learned_policy() {
    let root = workspace_root();
    let client = client_dir(&root);
    let mut missing = Vec::new();
    if !chromium().is_file() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    for (program, what) in [("node", "node on PATH"), ("ffmpeg", "ffmpeg on PATH")] {
        if !on_path(program) {
            missing.push(what.into());
        }
    }
    if !root.join("web/node_modules/playwright-core").is_dir() {
        missing.push("web/node_modules (cd web && npm ci)".into());
    }
    if client.is_none() {
        missing.push("../shared/data/pensieve/client (the shared data)".into());
    }
    if !missing.is_empty() {
        assert!(
            !browser_required(),
            "NEURALSTREAM_REQUIRE_BROWSER=1 but the Pensieve browser test cannot run; missing: {}",
            missing.join(", ")
        );
        println!(
            "note: skipping the Pensieve browser test; missing: {}",
            missing.join(", ")
        );
        return;
    }
    let client = client.unwrap();
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("clip");
    let seconds = (CHUNKS * 4).to_string();
    let (media_s, train_s) = (
        media.to_str().unwrap(),
        work.path().join("train").to_str().unwrap().to_string(),
    );
    neuralstream(&[
        "package",
        "--synthetic",
        &seconds,
        "--synthetic-height",
        "180",
        "--ladder",
        LADDER,
        "--no-quality",
        // Audio would be a second media type whose segments the client's rule also counts.
        "--no-audio",
        "--out",
        media_s,
    ]);
    // A small policy trained by the real command: imitation of the offline optimum with one DAgger
    // round on built-in synthetic traces (about 4 s).
    neuralstream(&[
        "train",
        "--out",
        &train_s,
        "--algo",
        "imitation",
        "--synthetic-traces",
        "6",
        "--epochs",
        "3",
        "--dagger-rounds",
        "1",
        "--dagger-sessions",
        "8",
    ]);
    let learned = format!("learned:{train_s}/policy.safetensors");
    let out = std::env::var_os("NEURALSTREAM_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/pensieve-e2e"));
    let _port = lock_port();
    play(&root, &client, &media, "robustmpc", &out.join("robustmpc"));
    play(&root, &client, &media, &learned, &out.join("learned"));
    println!(
        "Pensieve browser test passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
