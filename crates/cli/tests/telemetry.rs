//! Telemetry end to end through the real binary (issue 19's bar): about 100k events from
//! `neuralstream serve --telemetry kafka://...` through a real broker (tansu, memory storage) and
//! `neuralstream telemetry consume` into Parquet, with the broker restarted and the consumer
//! killed (SIGKILL) mid-way; the Parquet rows must equal the events the requests caused, exactly.
//!
//! The restarted memory-storage broker has lost its log: the server's sink notices (offsets
//! start again) and re-sends the events it retains (all of them here: its window is 262,144), and
//! the consumer notices (the record before its committed offset is not the one it committed) and
//! reads the new log from the start, skipping what it already wrote. Skips without a tansu binary
//! unless NEURALSTREAM_REQUIRE_KAFKA=1.
//!
//! Also here: `bench --telemetry DIR` and `telemetry show` on what it wrote, and a corrupt file;
//! `serve --telemetry DIR` giving every session exactly one `session_end` with its reason
//! (completed, abandoned by the client, ended by the shutdown) and `report` counting them; a
//! real-time session on `/api/v1/rt/metrics` writing `session_start`, its `interval`s and
//! `session_end`, which `report` and `dataset build` skip beside a chunk session.

mod support;
#[path = "../../telemetry/tests/support/tansu.rs"]
mod tansu;

use neuralstream_telemetry::{EndReason, Event, EventKind, ParquetLayout, Source};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::serve::{bin, run_ok, Http, Proc};

/// `serve --http --telemetry TARGET` on a free port; returns the process and `HOST:PORT`.
fn serve(media: &Path, state: &Path, telemetry: &str) -> (Proc, String) {
    serve_with(media, state, telemetry, &[])
}

/// [`serve`] with `extra` flags.
fn serve_with(media: &Path, state: &Path, telemetry: &str, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--http",
            "--port",
            "0",
            "--abr",
            "bb",
            "--telemetry",
            telemetry,
        ])
        .args(extra)
        .arg("--media")
        .arg(media)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = support::serve::http_address(&mut child);
    (Proc(child), addr)
}

fn consumer(from: &str, out: &Path) -> Proc {
    Proc(
        Command::new(bin())
            .args([
                "telemetry",
                "consume",
                "--from",
                from,
                "--batch-events",
                "5000",
            ])
            .arg("--out")
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

/// Plays one session's decision requests: start, then a report per chunk. Returns its events'
/// keys as the server must emit them.
fn play_session(http: &mut Http, id: &str, chunks: u32) -> Vec<(String, Option<u32>, EventKind)> {
    let path = format!("/api/v1/sessions/{id}/decision");
    let (status, body) = http.request("POST", &path, r#"{"buffer_s": 0}"#);
    assert_eq!(status, 200, "{body}");
    let mut level = serde_json::from_str::<serde_json::Value>(&body).unwrap()["level"]
        .as_u64()
        .unwrap();
    let mut keys = vec![
        (id.to_string(), None, EventKind::SessionStart),
        (id.to_string(), Some(0), EventKind::Decision),
    ];
    for k in 0..chunks {
        let t0 = f64::from(k) * 4000.0;
        let req = format!(
            r#"{{"buffer_s": 8.0, "rebuffer_s": 0, "last_chunk": {{"index": {k}, "level": {level}, "size_bytes": {}, "request_start_ms": {t0}, "request_finish_ms": {}}}}}"#,
            200_000 + k * 1000,
            t0 + 500.0
        );
        let (status, body) = http.request("POST", &path, &req);
        assert_eq!(status, 200, "{body}");
        level = serde_json::from_str::<serde_json::Value>(&body).unwrap()["level"]
            .as_u64()
            .unwrap();
        keys.push((id.to_string(), Some(k), EventKind::Chunk));
        keys.push((id.to_string(), Some(k + 1), EventKind::Decision));
    }
    keys.push((id.to_string(), None, EventKind::SessionEnd));
    keys
}

fn write_media(dir: &Path) -> u32 {
    std::fs::create_dir_all(dir).unwrap();
    let video = neuralstream_data::synthetic::builtin_video();
    neuralstream_data::descriptor::write_descriptor(&dir.join("video.json"), &video).unwrap();
    video.num_chunks() as u32
}

#[test]
fn serve_to_kafka_to_parquet_loses_and_duplicates_nothing_across_restarts_and_a_killed_consumer() {
    let Some(mut broker) = tansu::Broker::start() else {
        return;
    };
    broker.create_topic("tel", 2);
    let tmp = tempfile::tempdir().unwrap();
    let chunks = write_media(&tmp.path().join("clip"));
    let topic = format!("kafka://{}/tel", broker.addr());
    let (server, addr) = serve(&tmp.path().join("clip"), &tmp.path().join("state"), &topic);
    let out = tmp.path().join("telemetry");
    let mut consumer_proc = consumer(&topic, &out);

    let per_session = 2 * chunks as usize + 3;
    let sessions = 100_000usize.div_ceil(per_session);
    let total_requests = sessions * (chunks as usize + 1);
    // Clients pause at `allowed` requests, so each fault lands where the test wants it.
    let done = Arc::new(AtomicUsize::new(0));
    let allowed = Arc::new(AtomicUsize::new(total_requests * 3 / 10));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (addr, done, allowed) = (addr.clone(), done.clone(), allowed.clone());
            std::thread::spawn(move || {
                let mut http = Http::connect(&addr);
                let mut keys = Vec::new();
                for s in (t..sessions).step_by(8) {
                    while done.load(Ordering::SeqCst) >= allowed.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    keys.extend(play_session(&mut http, &format!("s{s:05}"), chunks));
                    done.fetch_add(chunks as usize + 1, Ordering::SeqCst);
                }
                keys
            })
        })
        .collect();
    let mut http = Http::connect(&addr);
    let mut settle = |what: &str| -> String {
        // Clients paused (or finished): wait until the sink has every event acknowledged.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = 0;
        loop {
            let (_, text) = http.request("GET", "/metrics", "");
            let emitted = metric(
                &text,
                "neuralstream_telemetry_events_total{outcome=\"emitted\"}",
            );
            let written = metric(
                &text,
                "neuralstream_telemetry_events_total{outcome=\"written\"}",
            );
            if emitted == last && written == emitted && emitted > 0 {
                return text;
            }
            last = emitted;
            assert!(
                Instant::now() < deadline,
                "{what}: {emitted} emitted, {written} written"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let layout = ParquetLayout::new(&out);
    let wait_for_files = || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while layout.files().map_or(0, |f| f.len()) == 0 {
            assert!(Instant::now() < deadline, "the consumer wrote nothing");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    // Fault 1: the broker restarts (its log is gone) after the consumer committed some of it.
    settle("before the broker restart");
    wait_for_files();
    broker.restart();
    // The server's sink may have re-created the topic already (with the partitions it had).
    let _ = broker.try_create_topic("tel", 2);
    allowed.store(total_requests * 6 / 10, Ordering::SeqCst);

    // Fault 2: the consumer is killed (SIGKILL) while the topic still has unread records.
    let text = settle("after the broker restart");
    assert!(
        metric(&text, "neuralstream_telemetry_log_resets_total") >= 1,
        "the restart went unseen"
    );
    drop(consumer_proc);
    allowed.store(usize::MAX, Ordering::SeqCst);
    consumer_proc = consumer(&topic, &out);
    let mut expected = Vec::new();
    for t in threads {
        expected.extend(t.join().unwrap());
    }
    assert!(expected.len() >= 100_000, "{}", expected.len());

    // Everything the server emitted is acknowledged by the broker, nothing dropped.
    let metrics = settle("at the end");
    assert_eq!(
        metric(
            &metrics,
            "neuralstream_telemetry_events_total{outcome=\"emitted\"}"
        ),
        expected.len() as u64
    );
    for outcome in ["dropped", "rejected", "failed"] {
        let series = format!("neuralstream_telemetry_events_total{{outcome=\"{outcome}\"}}");
        assert_eq!(metric(&metrics, &series), 0, "{outcome}");
    }
    drop(server);
    drop(consumer_proc);

    // A last run of the consumer to the end of the topic.
    let status = Command::new(bin())
        .args([
            "telemetry",
            "consume",
            "--from",
            &topic,
            "--idle-exit-s",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());

    let rows = ParquetLayout::new(&out).read_all().unwrap();
    assert!(rows.iter().all(|e| e.source == Source::Serve));
    let got: Vec<_> = rows
        .iter()
        .map(|e| (e.session.clone(), e.chunk, e.kind))
        .collect();
    let unique: HashSet<_> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "duplicates in the Parquet rows");
    let want: HashSet<_> = expected.iter().cloned().collect();
    assert_eq!(want.len(), expected.len());
    let missing = want.difference(&unique).count();
    let extra = unique.difference(&want).count();
    assert_eq!(
        (missing, extra),
        (0, 0),
        "{} rows for {} events",
        got.len(),
        expected.len()
    );
}

#[test]
fn bench_writes_parquet_telemetry_that_show_reads_and_a_corrupt_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let tel = tmp.path().join("tel");
    let out = Command::new(bin())
        .args([
            "bench",
            "--synthetic-traces",
            "3",
            "--abr",
            "bb,rate",
            "--no-charts",
            "--no-chunk-log",
        ])
        .arg("--out")
        .arg(tmp.path().join("bench"))
        .arg("--telemetry")
        .arg(&tel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = ParquetLayout::new(&tel).read_all().unwrap();
    let sessions: HashSet<_> = rows.iter().map(|e| e.session.clone()).collect();
    assert_eq!(sessions.len(), 6);
    assert!(rows
        .iter()
        .all(|e| e.source == Source::Bench && e.validate().is_ok()));
    let ends: Vec<&Event> = rows
        .iter()
        .filter(|e| e.kind == EventKind::SessionEnd)
        .collect();
    assert_eq!(ends.len(), 6);
    assert!(ends.iter().all(|e| e.qoe.is_some_and(f64::is_finite)));

    let show = Command::new(bin())
        .args(["telemetry", "show"])
        .arg(&tel)
        .output()
        .unwrap();
    assert!(show.status.success());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains(&format!("{} events", rows.len())), "{text}");

    let file = ParquetLayout::new(&tel).files().unwrap()[0].clone();
    std::fs::write(&file, b"PAR1 garbage PAR1").unwrap();
    let show = Command::new(bin())
        .args(["telemetry", "show"])
        .arg(&tel)
        .output()
        .unwrap();
    assert!(!show.status.success());
    let err = String::from_utf8_lossy(&show.stderr);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("not a readable"),
        "{err}"
    );
}

/// Stops `serve` as Ctrl-C would (SIGTERM: a graceful shutdown) and asserts it exits cleanly.
fn stop(server: &mut Proc) {
    let pid = server.0.id().to_string();
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn a_real_time_session_writes_start_intervals_in_time_order_and_one_end_and_readers_skip_them() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let chunks = write_media(&p("clip"));
    support::rt::onl_emu_traces(&p("traces"), 1000);
    let tel = p("tel");
    let (mut server, addr) = serve_with(
        &p("clip"),
        &p("state"),
        tel.to_str().unwrap(),
        &["--rt-controllers", "gcc"],
    );
    // A chunk session and a real-time session in the same telemetry folder.
    let mut http = Http::connect(&addr);
    play_session(&mut http, "vod", chunks);
    drop(http);
    let url = format!("ws://{addr}/api/v1/rt/metrics");
    let s = |name: &str| p(name).display().to_string();
    let out = run_ok(&[
        "rt",
        "client",
        "--server",
        &url,
        "--traces",
        &s("traces"),
        "--controller",
        "gcc",
        "--duration-s",
        "3",
        "--speed",
        "10",
        "--out",
        &s("client"),
    ]);
    assert!(out.contains("intervals answered"), "{out}");
    stop(&mut server);

    let rows = ParquetLayout::new(&tel).read_all().unwrap();
    let rt: Vec<&Event> = rows.iter().filter(|e| e.session != "vod").collect();
    let of = |kind| -> Vec<&Event> { rt.iter().copied().filter(|e| e.kind == kind).collect() };
    let (starts, intervals, ends) = (
        of(EventKind::SessionStart),
        of(EventKind::Interval),
        of(EventKind::SessionEnd),
    );
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(
        rt.len(),
        2 + intervals.len(),
        "only start, intervals and end"
    );
    let start = starts[0];
    assert_eq!(start.algorithm.as_deref(), Some("gcc"));
    assert_eq!(start.client.as_deref(), Some(r#"{"source_fps":60}"#));
    assert_eq!(ends[0].end_reason, Some(EndReason::Completed));
    assert_eq!(ends[0].session, start.session);
    // 3 s of feedback every 50 ms.
    assert!(intervals.len() >= 40, "{} intervals", intervals.len());
    let mut by_seq = intervals.clone();
    by_seq.sort_by_key(|e| e.chunk);
    let mut sent = 0.0;
    for (i, e) in by_seq.iter().enumerate() {
        e.validate().unwrap();
        assert_eq!(e.session, start.session);
        assert_eq!(e.source, Source::Serve);
        assert_eq!(
            e.chunk,
            Some(i as u32 + 1),
            "seq 1, 2, 3, ... without a gap"
        );
        assert_eq!(e.algorithm.as_deref(), Some("gcc"));
        assert!(start.time_ms <= e.time_ms && e.time_ms <= ends[0].time_ms);
        if i > 0 {
            assert!(by_seq[i - 1].time_ms <= e.time_ms, "in order of time");
        }
        let finite = |v: Option<f64>| v.is_some_and(f64::is_finite);
        assert!(
            finite(e.interval_ms) && e.interval_ms.unwrap() > 0.0,
            "{e:?}"
        );
        assert!(
            finite(e.bitrate_kbps) && e.bitrate_kbps.unwrap() > 0.0,
            "{e:?}"
        );
        assert!(finite(e.decision_us), "{e:?}");
        for v in [
            e.send_rate_kbps,
            e.throughput_kbps,
            e.rtt_ms,
            e.loss_fraction,
        ] {
            assert!(v.is_none() || finite(v), "{e:?}");
        }
        sent += e.send_rate_kbps.unwrap_or(0.0);
    }
    assert!(sent > 0.0, "the sender sent something");
    assert!(intervals.iter().any(|e| e.rtt_ms.is_some()));

    // Readers that expect chunk sessions skip the real-time one cleanly.
    let report = run_ok(&["report", "--telemetry", &s("tel"), "--out", &s("report")]);
    let csv = std::fs::read_to_string(p("report/sessions.csv")).unwrap();
    let sessions: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(sessions.len(), 1, "only the chunk session: {csv}\n{report}");
    assert!(sessions[0].contains("vod"), "{csv}");
    let json = std::fs::read_to_string(p("report/report.json")).unwrap();
    assert!(json.contains("\"sessions_without_chunks\": 1"), "{json}");
    run_ok(&[
        "dataset",
        "build",
        "--telemetry",
        &s("tel"),
        "--out",
        &s("ds"),
    ]);
    let clean = std::fs::read_to_string(p("ds/clean_report.json")).unwrap();
    assert!(clean.contains("\"chunk_events\": "), "{clean}");
}

#[test]
fn every_served_session_ends_once_with_its_reason_and_the_report_counts_the_abandoned() {
    let tmp = tempfile::tempdir().unwrap();
    let chunks = write_media(&tmp.path().join("clip"));
    let tel = tmp.path().join("tel");
    let (mut server, addr) = serve_with(
        &tmp.path().join("clip"),
        &tmp.path().join("state"),
        tel.to_str().unwrap(),
        &["--session-idle-s", "1"],
    );
    let mut http = Http::connect(&addr);
    // `done` plays the whole video, then retries its last report (one end, not two).
    play_session(&mut http, "done", chunks);
    let last = chunks - 1;
    let retry = format!(
        r#"{{"buffer_s": 8.0, "last_chunk": {{"index": {last}, "level": 0, "size_bytes": 1000, "request_start_ms": 0, "request_finish_ms": 100}}}}"#
    );
    let (status, body) = http.request("POST", "/api/v1/sessions/done/decision", &retry);
    assert_eq!(status, 200, "{body}");
    // `gone` stops after three chunks and is dropped by the 1 s idle timeout.
    play_session(&mut http, "gone", 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = http.request("GET", "/metrics", "");
        if metric(&text, "neuralstream_sessions_evicted_total") >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the idle sessions were never evicted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // `live` is mid-video when the server is stopped (SIGTERM: a graceful shutdown).
    play_session(&mut http, "live", 2);
    drop(http);
    stop(&mut server);

    let rows = ParquetLayout::new(&tel).read_all().unwrap();
    let ends = |id: &str| -> Vec<&Event> {
        rows.iter()
            .filter(|e| e.kind == EventKind::SessionEnd && e.session == id)
            .collect()
    };
    for (id, reason) in [
        ("done", EndReason::Completed),
        ("gone", EndReason::IdleTimeout),
        ("live", EndReason::ServerShutdown),
    ] {
        let e = ends(id);
        assert_eq!(e.len(), 1, "{id}: {e:?}");
        assert_eq!(e[0].end_reason, Some(reason), "{id}");
        assert_eq!(e[0].algorithm.as_deref(), Some("bb"), "{id}");
        assert_eq!(e[0].video.as_deref(), Some("clip"), "{id}");
        assert!(e[0].qoe.is_some_and(f64::is_finite), "{id}: {:?}", e[0]);
    }
    assert_eq!(
        rows.iter()
            .filter(|e| e.kind == EventKind::SessionEnd)
            .count(),
        3
    );

    let out = tmp.path().join("report");
    let o = Command::new(bin())
        .arg("report")
        .arg("--telemetry")
        .arg(&tel)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("sessions.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (session, reason, abandoned) =
        (column("session"), column("end_reason"), column("abandoned"));
    let mut table: Vec<(String, String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[session].into(), f[reason].into(), f[abandoned].into())
        })
        .collect();
    table.sort();
    let expected = [
        ("done", "completed", "0"),
        ("gone", "idle-timeout", "1"),
        ("live", "server-shutdown", "0"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(table, expected);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Session ends: 1 completed, 1 idle-timeout (abandoned by the client), 1 server-shutdown."),
        "{md}"
    );
}
