//! `neuralstream emulate` end to end (issue 22, item 3): `serve` and the players in network
//! namespaces, links shaped by `tc` from a trace. Covers the bar: one trace x 3 algorithms x
//! (native player, Chromium), a 4-player shared link, 20 players under `serve --egress-mbps`
//! (every session gets its cap, `/metrics` reports the fairness index), bad input (a trace with
//! zero capacity, an egress of 0, more players than the server's session cap, `tc` missing, not
//! root) and Ctrl-C; after each, no namespace, veth or qdisc of the harness is left.
//!
//! Needs root with `ip` and `tc` (CI runs as root): elsewhere each test prints why it skips, unless
//! `NEURALSTREAM_REQUIRE_NETNS=1` (`.ci/run` sets it as root), which turns a skip into a failure.
//! The Chromium half also needs what the browser test needs (FFmpeg, Chromium, node,
//! web/node_modules, web/dist; required under `NEURALSTREAM_REQUIRE_BROWSER=1`). The tests run
//! one at a time (a lock), so each can check that nothing of the harness is left after it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use support::browser::{browser_required, chromium, on_path, workspace_root};
use support::media::small_media;

const BIN: &str = env!("CARGO_BIN_EXE_neuralstream");
/// One emulation at a time: the leftover checks look at every `nsemu-` name.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// True when this machine can emulate; otherwise prints why (fails under the CI flag).
fn can_emulate(test: &str) -> bool {
    match neuralstream_emu::preflight() {
        Ok(()) => true,
        Err(e) => {
            let required = std::env::var("NEURALSTREAM_REQUIRE_NETNS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "NEURALSTREAM_REQUIRE_NETNS=1 but {test} cannot run: {e}"
            );
            println!("note: skipping {test}: {e}");
            false
        }
    }
}

/// Takes the one-at-a-time lock and checks the machine; `None` (after a note) when it cannot
/// emulate.
fn begin(test: &str) -> Option<MutexGuard<'static, ()>> {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    can_emulate(test).then_some(one)
}

/// Every namespace, device and qdisc of the harness on this machine (names `nsemu-*`, `nse*`).
fn harness_objects() -> Vec<String> {
    let text = |args: &[&str]| {
        let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut found: Vec<String> = text(&["ip", "netns", "list"])
        .lines()
        .filter(|l| l.starts_with(neuralstream_emu::NETNS_PREFIX))
        .map(str::to_string)
        .collect();
    found.extend(
        text(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .filter(|d| d.starts_with("nse"))
            .map(|d| format!("device {d}")),
    );
    found.extend(
        text(&["tc", "qdisc", "show"])
            .lines()
            .filter(|l| l.contains(" dev nse"))
            .map(|l| format!("qdisc {l}")),
    );
    found
}

fn assert_nothing_left(after: &str) {
    let left = harness_objects();
    assert!(left.is_empty(), "left behind after {after}: {left:?}");
}

/// A cooked trace of one sample per second cycling through `mbps` every 8 s, `secs` long.
fn write_trace(path: &Path, mbps: &[f64], secs: usize) {
    let text: String = (0..secs)
        .map(|t| format!("{t}\t{}\n", mbps[t / 8 % mbps.len()]))
        .collect();
    std::fs::write(path, text).unwrap();
}

fn emulate(args: &[&str], out: &Path) -> Output {
    let started = Instant::now();
    let o = Command::new(BIN)
        .arg("emulate")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    println!(
        "emulate {} ({:.1} s):\n{}{}",
        args.join(" "),
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn emulate_ok(args: &[&str], out: &Path) -> serde_json::Value {
    let o = emulate(args, out);
    assert!(o.status.success(), "emulate {} failed", args.join(" "));
    let text = std::fs::read_to_string(out.join("emulate.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// emulate.csv as (header -> value) rows.
fn rows(out: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(out.join("emulate.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

struct Fixture {
    dir: tempfile::TempDir,
    media: PathBuf,
    trace: PathBuf,
}

fn fixture(chunks: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("clip");
    small_media(&media, chunks);
    let trace = dir.path().join("trace");
    write_trace(&trace, &[3.0, 1.0, 0.6, 2.0], 200);
    Fixture { dir, media, trace }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What the Chromium half is missing, if anything.
fn browser_missing(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !chromium().is_file() {
        missing.push(format!("{}", chromium().display()));
    }
    for (ok, what) in [
        (on_path("node"), "node"),
        (on_path("ffmpeg"), "ffmpeg"),
        (
            root.join("web/node_modules/playwright-core").is_dir(),
            "web/node_modules",
        ),
        (root.join("web/dist/index.html").is_file(), "web/dist"),
    ] {
        if !ok {
            missing.push(what.to_string());
        }
    }
    missing
}

#[test]
fn one_trace_three_algorithms_native_then_chromium() {
    let Some(_one) = begin("the native/Chromium emulation test") else {
        return;
    };
    let fx = fixture(10);
    let out = fx.dir.path().join("native");
    let abr = "robustmpc,bb,bola-e";
    let j = emulate_ok(
        &[
            "--media",
            s(&fx.media),
            "--trace",
            s(&fx.trace),
            "--abr",
            abr,
            "--speed",
            "8",
        ],
        &out,
    );
    assert_nothing_left("the native run");
    let r = rows(&out);
    assert_eq!(r.len(), 3, "{r:?}");
    for row in &r {
        assert_eq!(row["chunks"], "10", "{row:?}");
        assert!(row["qoe"].parse::<f64>().unwrap().is_finite(), "{row:?}");
        assert!(row["error"].is_empty(), "{row:?}");
    }
    let delay = j["delay"].as_str().unwrap();
    assert!(
        delay.contains("netem"),
        "the run must say how delay is emulated: {delay}"
    );
    // The link was really shaped: the trace's changes were applied while the players ran.
    assert!(
        j["shaper"].as_str().unwrap().contains("rate changes"),
        "{j}"
    );

    let root = workspace_root();
    let missing = browser_missing(&root);
    if !missing.is_empty() {
        assert!(
            !browser_required(),
            "NEURALSTREAM_REQUIRE_BROWSER=1 but the Chromium emulation cannot run; missing: {}",
            missing.join(", ")
        );
        println!(
            "note: skipping the Chromium half; missing: {}",
            missing.join(", ")
        );
        return;
    }
    let clip = fx.dir.path().join("real");
    let pkg = Command::new(BIN)
        .args(["package", "--synthetic", "16", "--no-quality", "--out"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(
        pkg.status.success(),
        "{}",
        String::from_utf8_lossy(&pkg.stderr)
    );
    let out = fx.dir.path().join("chromium");
    let web = root.join("web");
    emulate_ok(
        &[
            "--media",
            s(&clip),
            "--trace",
            s(&fx.trace),
            "--abr",
            abr,
            "--client",
            "chromium",
            "--web",
            s(&web),
            "--chromium",
            s(&chromium()),
            "--timeout-s",
            "150",
        ],
        &out,
    );
    assert_nothing_left("the Chromium run");
    let r = rows(&out);
    assert_eq!(r.len(), 3, "{r:?}");
    for row in &r {
        assert_eq!(
            row["chunks"], "4",
            "the page played the whole clip: {row:?}"
        );
        assert!(row["error"].is_empty(), "{row:?}");
    }
}

#[test]
fn four_players_share_one_link() {
    let Some(_one) = begin("the shared-link emulation test") else {
        return;
    };
    let fx = fixture(8);
    let out = fx.dir.path().join("shared");
    let j = emulate_ok(
        &[
            "--media",
            s(&fx.media),
            "--trace",
            s(&fx.trace),
            "--abr",
            "robustmpc",
            "--players",
            "4",
            "--speed",
            "8",
            "--http1",
        ],
        &out,
    );
    assert_nothing_left("the shared-link run");
    assert_eq!(rows(&out).len(), 4);
    assert_eq!(j["http1"], true, "{j}");
    let link = &j["links"][0];
    assert_eq!(link["players"], 4, "{j}");
    let jain = link["jain_bitrate"]
        .as_f64()
        .expect("Jain's index of bitrate per link");
    assert!((0.25..=1.0).contains(&jain), "{jain}");
    // Four players on a link of 0.6-3 Mbit/s cannot all hold the 2.85 Mbit/s top level.
    let kbps: f64 = rows(&out)
        .iter()
        .map(|r| r["bitrate_mean_kbps"].parse::<f64>().unwrap())
        .sum();
    assert!(kbps < 4.0 * 2850.0, "{kbps}");
}

/// The shaped queue of `dev` in namespace `ns`: (bytes sent so far, packets queued), from
/// `tc -s qdisc show`; None once the namespace is gone.
fn queue_counters(ns: &str, dev: &str) -> Option<(u64, u64)> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let sent = text
        .split("Sent ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let backlog = text.split("backlog ").nth(1)?.split(' ').nth(1)?;
    Some((sent, backlog.strip_suffix('p')?.parse().ok()?))
}

/// Issue 22's shared-link bug, at real time: four players on one link whose rate falls from
/// 48 Mbit/s to 2 Mbit/s and to zero. The token bucket shrinks with the rate; a packet of several
/// TCP segments queued under the large bucket could then never be sent, so the link stalled with
/// its queue full until the rate rose again, and on the Pensieve traces the players' connections
/// timed out. Now every shaped packet is one segment: the link never holds packets without sending
/// for longer than a zero-capacity sample's trickle allows, and every player finishes.
#[test]
fn a_falling_rate_never_stalls_a_shared_link_at_real_time() {
    let Some(_one) = begin("the falling-rate shared-link emulation test") else {
        return;
    };
    let fx = fixture(6);
    // Per 16 s: 1 s at 48 Mbit/s, 5 s at 2, 4 s of zero capacity, 1 s at 48, 5 s at 2.
    let cycle = [
        48.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 48.0, 2.0, 2.0, 2.0, 2.0, 2.0,
    ];
    let trace = fx.dir.path().join("falling");
    let text: String = (0..=2 * cycle.len())
        .map(|t| format!("{t}\t{}\n", cycle[(t + cycle.len() - 1) % cycle.len()]))
        .collect();
    std::fs::write(&trace, text).unwrap();
    let out = fx.dir.path().join("falling-out");
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["emulate", "--media", s(&fx.media), "--trace", s(&trace)])
        .args(["--abr", "robustmpc", "--players", "4", "--speed", "1"])
        .args(["--timeout-s", "120", "--out", s(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line names the run (`emulate: run ID, ...`); the rest is kept for the report.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("emulate: run ") {
                let _ = tx.send(id.split(',').next().unwrap_or_default().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let id = rx.recv_timeout(Duration::from_secs(60)).ok();
    // Watch the link's queue: the longest time it held packets without sending a byte.
    let (mut longest_stall_s, mut samples) = (0.0f64, 0);
    if let Some(id) = &id {
        let (ns, dev) = (format!("nsemu-{id}-srv"), format!("nse{id}s0"));
        // Bytes sent, and since when they have not changed with packets queued.
        let mut last: Option<(u64, Instant)> = None;
        while child.try_wait().unwrap().is_none() {
            if let Some((sent, queued)) = queue_counters(&ns, &dev) {
                samples += 1;
                match last {
                    Some((before, since)) if queued > 0 && sent == before => {
                        longest_stall_s = longest_stall_s.max(since.elapsed().as_secs_f64());
                    }
                    _ => last = Some((sent, Instant::now())),
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let err = reader.join().unwrap();
    println!(
        "emulate ({:.1} s), {samples} queue samples, longest stall {longest_stall_s:.2} s:\n{stdout}{err}",
        started.elapsed().as_secs_f64()
    );
    assert!(id.is_some(), "emulate never named its run: {err}");
    assert!(samples > 20, "the queue was sampled {samples} times");
    // A zero-capacity sample trickles at 8 kbit/s: a full frame about every 1.5 s.
    assert!(
        longest_stall_s < 2.5,
        "the link held packets without sending for {longest_stall_s:.2} s"
    );
    assert!(status.success(), "emulate failed: {err}");
    let r = rows(&out);
    assert_eq!(r.len(), 4, "{r:?}");
    for row in &r {
        assert_eq!(row["chunks"], "6", "{row:?}");
        assert!(row["error"].is_empty(), "{row:?}");
    }
    assert_nothing_left("the falling-rate run");
}

#[test]
fn the_server_allocator_caps_twenty_players_on_an_emulated_link() {
    let Some(_one) = begin("the egress-allocator emulation test") else {
        return;
    };
    let fx = fixture(8);
    let trace = fx.dir.path().join("flat");
    write_trace(&trace, &[12.0], 200);
    let out = fx.dir.path().join("alloc");
    let j = emulate_ok(
        &[
            "--media",
            s(&fx.media),
            "--trace",
            s(&trace),
            "--abr",
            "robustmpc",
            "--players",
            "20",
            "--speed",
            "8",
            "--egress-mbps",
            "12",
        ],
        &out,
    );
    assert_nothing_left("the allocator run");
    let r = rows(&out);
    assert_eq!(r.len(), 20);
    for row in &r {
        // Every decision of every session carried its cap, and none went above it.
        assert_eq!(row["decisions_with_cap"], row["chunks"], "{row:?}");
        assert_eq!(row["decisions_above_cap"], "0", "{row:?}");
    }
    if on_path("curl") {
        let metrics = std::fs::read_to_string(out.join("metrics.txt")).unwrap();
        assert!(
            metrics.contains("neuralstream_fairness_jain_qoe"),
            "{metrics}"
        );
        let jain = j["server_jain_qoe"].as_f64().unwrap();
        assert!((0.05..=1.0).contains(&jain), "{jain}");
    } else {
        println!("note: curl is not on PATH; /metrics was not fetched");
    }
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_nothing() {
    let Some(_one) = begin("the bad-input emulation test") else {
        return;
    };
    let fx = fixture(4);
    let zero = fx.dir.path().join("zero");
    write_trace(&zero, &[0.0], 20);
    let out = fx.dir.path().join("bad");
    let m = s(&fx.media);
    let t = s(&fx.trace);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--media", m, "--trace", s(&zero)], "throughput is 0"),
        (
            vec!["--media", m, "--trace", t, "--egress-mbps", "0"],
            "--egress-mbps",
        ),
        (
            vec![
                "--media",
                m,
                "--trace",
                t,
                "--players",
                "5",
                "--max-sessions",
                "4",
            ],
            "--max-sessions 4",
        ),
        (vec!["--media", m, "--trace", t, "--speed", "0"], "--speed"),
        (
            vec!["--media", m, "--trace", t, "--client", "firefox"],
            "--client",
        ),
    ];
    for (args, needle) in cases {
        let o = emulate(&args, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_nothing_left(&format!("{args:?}"));
    }
    // tc missing: a PATH with `ip` alone.
    let bin = fx.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ip = Command::new("sh")
        .args(["-c", "command -v ip"])
        .output()
        .unwrap();
    std::os::unix::fs::symlink(String::from_utf8_lossy(&ip.stdout).trim(), bin.join("ip")).unwrap();
    let o = Command::new(BIN)
        .args(["emulate", "--media", m, "--trace", t, "--out", s(&out)])
        .env("PATH", &bin)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("`tc` was not found"),
        "{err}"
    );
    assert_nothing_left("tc missing");
    // Not root: the same command as nobody.
    if on_path("setpriv") || Path::new("/usr/bin/setpriv").is_file() {
        let o = Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
                "emulate",
            ])
            .args(["--media", m, "--trace", t, "--out", "/tmp/nsemu-never"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("needs root"), "{err}");
        assert_nothing_left("not root");
    }
}

#[test]
fn ctrl_c_removes_the_links_and_the_processes_in_them() {
    let Some(_one) = begin("the Ctrl-C emulation test") else {
        return;
    };
    let fx = fixture(40);
    let out = fx.dir.path().join("interrupted");
    let mut child = Command::new(BIN)
        .args([
            "emulate",
            "--media",
            s(&fx.media),
            "--trace",
            s(&fx.trace),
            "--players",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the players run (their log exists), then interrupt.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join("links/0-trace-robustmpc/player.log").is_file() {
        assert!(
            Instant::now() < deadline,
            "the run never started its players"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(!harness_objects().is_empty(), "the run created nothing?");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("Ctrl-C: removing the emulated links"), "{err}");
    // One teardown, not two racing (the main thread's and the watcher's).
    assert!(!err.contains("cleanup"), "{err}");
    assert_nothing_left("Ctrl-C");
}

#[test]
fn cleanup_removes_what_a_killed_run_left() {
    let Some(_one) = begin("the --cleanup test") else {
        return;
    };
    // What a SIGKILLed run leaves: its namespaces, with a veth pair between them.
    let id = "zzzzz";
    let srv = format!("{}{id}-srv", neuralstream_emu::NETNS_PREFIX);
    let cli = format!("{}{id}-c0", neuralstream_emu::NETNS_PREFIX);
    for ns in [&srv, &cli] {
        assert!(Command::new("ip")
            .args(["netns", "add", ns])
            .status()
            .unwrap()
            .success());
    }
    let pair = Command::new("ip")
        .args([
            "link",
            "add",
            "nsezzzzzs0",
            "netns",
            &srv,
            "type",
            "veth",
            "peer",
            "name",
        ])
        .args(["nsezzzzzc0", "netns", &cli])
        .status()
        .unwrap();
    assert!(pair.success());
    let o = Command::new(BIN)
        .args(["emulate", "--cleanup"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && said.contains(&srv) && said.contains(&cli),
        "{said}"
    );
    assert_nothing_left("--cleanup");
}
