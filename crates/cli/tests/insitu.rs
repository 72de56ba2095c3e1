//! The in-situ loop end to end through the real binary (issue 19's bar): `play` sessions through
//! `serve --telemetry DIR` -> `dataset build` -> cooked traces -> `train` (a tiny budget) on them ->
//! `serve` runs the trained policy and answers a decision. Also `dataset build`'s errors on a
//! corrupt file, another schema version and NaN events, and `bench --abr mpc-rf:MODEL`.

mod support;

use neuralstream_telemetry::{parquet_sink, Event, EventKind, ParquetLayout, Source};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_neuralstream")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("binary runs")
}

fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "neuralstream {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `serve --http` on a free port, stopped with SIGTERM (so its telemetry is flushed) on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(media: &Path, state: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--http", "--port", "0"])
            .arg("--media")
            .arg(media)
            .arg("--state-dir")
            .arg(state)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = support::serve::http_address(&mut child);
        Server { child, addr }
    }

    /// SIGTERM and wait: the server finishes its telemetry sink before it exits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 POST; (status, body).
fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

/// A DASH folder (MPD, init and media segments, video.json): 3 levels x `chunks` chunks of 4 s.
fn write_media(dir: &Path, chunks: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let kbps = [300.0, 1200.0, 2850.0];
    let mut reps = String::new();
    let mut sizes = Vec::new();
    for (l, k) in kbps.iter().enumerate() {
        let h = [240, 360, 720][l];
        reps.push_str(&format!(
            r#"   <Representation id="{l}" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="{}" width="{}" height="{h}">
    <SegmentTemplate timescale="1000" duration="4000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
   </Representation>
"#,
            (k * 1000.0) as u64,
            h * 16 / 9
        ));
        std::fs::write(dir.join(format!("init-{l}.m4s")), vec![7u8; 900]).unwrap();
        let row: Vec<u64> = (0..chunks)
            .map(|c| (k * 500.0 * (0.8 + 0.1 * (c % 5) as f64)) as u64)
            .collect();
        for (c, &b) in row.iter().enumerate() {
            std::fs::write(
                dir.join(format!("chunk-{l}-{:05}.m4s", c + 1)),
                vec![(c % 251) as u8; b as usize],
            )
            .unwrap();
        }
        sizes.push(format!(
            "[{}]",
            row.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        ));
    }
    let mpd = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT{}S" minBufferTime="PT4S">
 <Period id="0" start="PT0S">
  <AdaptationSet id="0" contentType="video" segmentAlignment="true">
{reps}  </AdaptationSet>
 </Period>
</MPD>
"#,
        4 * chunks
    );
    std::fs::write(dir.join("manifest.mpd"), mpd).unwrap();
    let ladder: Vec<String> = kbps
        .iter()
        .zip([240, 360, 720])
        .map(|(k, h)| {
            format!(
                r#"{{"bitrate_kbps": {k}, "width": {}, "height": {h}}}"#,
                h * 16 / 9
            )
        })
        .collect();
    std::fs::write(
        dir.join("video.json"),
        format!(
            r#"{{"format": "neuralstream-video", "version": 1, "name": "clip", "chunk_duration_s": 4, "ladder": [{}], "chunk_bytes": [{}]}}"#,
            ladder.join(", "),
            sizes.join(", ")
        ),
    )
    .unwrap();
}

#[test]
fn play_through_serve_telemetry_becomes_traces_a_trained_policy_and_a_served_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("clip");
    write_media(&media, 10);
    let traces = tmp.path().join("net");
    std::fs::create_dir_all(&traces).unwrap();
    for (name, mbps) in [
        ("a", [3.0, 1.5, 0.8]),
        ("b", [0.6, 2.0, 5.0]),
        ("c", [1.0, 1.2, 0.9]),
        ("d", [4.0, 2.5, 3.5]),
    ] {
        let text: String = (0..120)
            .map(|t| format!("{t}\t{}\n", mbps[t % 3]))
            .collect();
        std::fs::write(traces.join(name), text).unwrap();
    }

    // 1. Sessions played through the server, which records them.
    let telemetry = tmp.path().join("telemetry");
    let tel = telemetry.to_str().unwrap();
    let server = Server::start(
        &media,
        &tmp.path().join("state"),
        &["--abr", "robustmpc", "--telemetry", tel],
    );
    let mpd = format!("http://{}/media/clip/manifest.mpd", server.addr);
    let play_out = tmp.path().join("play");
    run_ok(&[
        "play",
        &mpd,
        "--trace",
        traces.to_str().unwrap(),
        "--abr",
        "robustmpc",
        "--server-decisions",
        "--speed",
        "25",
        "--quiet",
        "--out",
        play_out.to_str().unwrap(),
    ]);
    server.stop();
    let events = ParquetLayout::new(&telemetry).read_all().unwrap();
    let chunks = events
        .iter()
        .filter(|e| e.kind == EventKind::Chunk && e.source == Source::Serve)
        .count();
    // 4 sessions x 10 chunks (the last one's report included).
    assert!(chunks >= 36, "{chunks} chunk events from serve");

    // 2. Telemetry -> windows and cooked traces.
    let dataset = tmp.path().join("dataset");
    let out = run_ok(&[
        "dataset",
        "build",
        "--telemetry",
        tel,
        "--out",
        dataset.to_str().unwrap(),
    ]);
    assert!(out.contains("4 sessions"), "{out}");
    let windows = std::fs::read_to_string(dataset.join("windows.csv")).unwrap();
    assert!(windows.lines().count() > 30, "{windows}");
    let norm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dataset.join("normalisation.json")).unwrap())
            .unwrap();
    assert_eq!(norm["features"].as_array().unwrap().len(), 12, "{norm}");
    let written: Vec<_> = std::fs::read_dir(dataset.join("traces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 4, "{written:?}");
    // Cooked traces: a point a second (`play --speed` compresses the session's clock), plausible
    // throughputs.
    for p in &written {
        let text = std::fs::read_to_string(p).unwrap();
        let mbps: Vec<f64> = text
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(
            mbps.len() >= 3 && mbps.iter().all(|v| *v > 0.05 && *v < 10.0),
            "{text}"
        );
    }

    // 3. A policy trained on them (tiny budget).
    let policy_dir = tmp.path().join("policy");
    let stdout = run_ok(&[
        "train",
        "--traces",
        dataset.join("traces").to_str().unwrap(),
        "--video",
        media.join("video.json").to_str().unwrap(),
        "--out",
        policy_dir.to_str().unwrap(),
        "--epochs",
        "2",
        "--dagger-rounds",
        "1",
        "--api-iters",
        "2",
        "--api-sessions",
        "4",
        "--api-states",
        "4",
        "--val-fraction",
        "0.25",
    ]);
    assert!(stdout.contains("selected:"), "{stdout}");
    let policy = policy_dir.join("policy.safetensors");
    assert!(policy.is_file());

    // 4. The server runs it and answers.
    let learned = format!("learned:{}", policy.display());
    let server = Server::start(&media, &tmp.path().join("state2"), &["--abr", &learned]);
    let (status, body) = post(
        &server.addr,
        "/api/v1/sessions/insitu1/decision",
        r#"{"buffer_s": 0}"#,
    );
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["algorithm"]
            .as_str()
            .unwrap()
            .starts_with("learned:"),
        "{answer}"
    );
    assert!(answer["level"].as_u64().unwrap() < 3, "{answer}");
    server.stop();
}

fn chunk_event(session: &str, chunk: u32, kbps: f64) -> Event {
    let start = chunk as f64 * 4000.0;
    let mut e = Event::new(
        EventKind::Chunk,
        Source::Bench,
        1_800_000_000_000 + start as i64 + 1000,
        session,
    );
    e.chunk = Some(chunk);
    e.size_bytes = Some((kbps * 1000.0 / 8.0) as u64);
    e.request_start_ms = Some(start);
    e.response_end_ms = Some(start + 1000.0);
    e.throughput_kbps = Some(kbps);
    e
}

#[test]
fn dataset_build_names_corrupt_files_other_versions_and_nan_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tel");
    let layout = ParquetLayout::new(&dir);
    let mut events: Vec<Event> = (0..6)
        .flat_map(|s| {
            (0..8).map(move |c| chunk_event(&format!("s{s}"), c, 1000.0 + 100.0 * c as f64))
        })
        .collect();
    let mut nan = chunk_event("s9", 0, 1000.0);
    nan.buffer_s = Some(f64::NAN);
    events.push(nan);
    let files = layout.write(&events).unwrap();
    let out = tmp.path().join("ds");
    let (d, o) = (dir.to_str().unwrap(), out.to_str().unwrap());

    // NaN: dropped and counted by default, an error naming the file and field under --strict.
    let stdout = run_ok(&["dataset", "build", "--telemetry", d, "--out", o]);
    assert!(stdout.contains("1 invalid"), "{stdout}");
    let report = std::fs::read_to_string(out.join("clean_report.json")).unwrap();
    assert!(report.contains("\"buffer_s\": 1"), "{report}");
    let o2 = run(&["dataset", "build", "--telemetry", d, "--out", o, "--strict"]);
    let err = String::from_utf8_lossy(&o2.stderr);
    assert!(!o2.status.success());
    assert!(
        err.contains(&files[0].display().to_string())
            && err.contains("buffer_s")
            && err.contains("NaN"),
        "{err}"
    );

    // Another schema version: refused naming the file and both versions.
    let mut text = std::fs::read(&files[0]).unwrap();
    let key = b"neuralstream.telemetry.version\x18\x01";
    let at = text.windows(key.len()).position(|w| w == key).unwrap();
    text[at + key.len()] = b'7';
    let other = files[0].with_file_name("part-other.parquet");
    std::fs::write(&other, &text).unwrap();
    let o3 = run(&["dataset", "build", "--telemetry", d, "--out", o]);
    let err = String::from_utf8_lossy(&o3.stderr);
    assert!(!o3.status.success());
    assert!(
        err.contains("part-other.parquet")
            && err.contains("version 7")
            && err.contains("version 1"),
        "{err}"
    );
    std::fs::remove_file(&other).unwrap();

    // A corrupt file: refused naming it, never a panic.
    let corrupt = files[0].with_file_name("part-corrupt.parquet");
    std::fs::write(&corrupt, b"PAR1 this is not parquet").unwrap();
    let o4 = run(&["dataset", "build", "--telemetry", d, "--out", o]);
    let err = String::from_utf8_lossy(&o4.stderr);
    assert!(!o4.status.success() && o4.status.code() == Some(1), "{err}");
    assert!(err.contains("part-corrupt.parquet"), "{err}");
    // The good files still read on their own.
    assert_eq!(
        parquet_sink::read_file(&files[0]).unwrap().len(),
        events.len()
    );
}
