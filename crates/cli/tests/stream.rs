//! End to end through the real binary: `neuralstream serve` on a loopback port with packaged media,
//! `neuralstream play` against it over HTTPS, and the accounting of both checked against each other.
//!
//! Most tests use a small media folder written here (MPD + init and media segments of exactly the
//! sizes in `video.json`), so they need no FFmpeg and every byte count is known. One test plays a
//! clip made by `neuralstream package --synthetic` and skips, saying why, when FFmpeg is absent
//! (unless `NEURALSTREAM_REQUIRE_FFMPEG=1`).
//!
//! `sim_to_real` (ignored: minutes) plays Pensieve's video over a few of Pensieve's test traces and
//! prints `play` next to `bench`; docs/sim_to_real.md records its output.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::media::{pensieve_media, small_media};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_neuralstream")
}

/// A running `neuralstream serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
    /// The self-signed certificate (`None` for a plain-HTTP server).
    cert: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(media: &[&Path], abr: &str, state: &Path) -> Server {
        Self::spawn(media, abr, state, false)
    }

    /// `serve --http`: plain HTTP, no certificate.
    fn start_http(media: &[&Path], abr: &str, state: &Path) -> Server {
        Self::spawn(media, abr, state, true)
    }

    fn spawn(media: &[&Path], abr: &str, state: &Path, http: bool) -> Server {
        let mut cmd = Command::new(bin());
        cmd.arg("serve");
        if http {
            cmd.arg("--http");
        }
        for m in media {
            cmd.arg("--media").arg(m);
        }
        cmd.args(["--abr", abr, "--port", "0", "--state-dir"])
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start neuralstream serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut base, mut cert) = (None, None);
        while base.is_none() || (cert.is_none() && !http) {
            let line = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "the server printed no `listening on` and `certificate:` lines within 60 s"
                    )
                }
            };
            if let Some(u) = line.strip_prefix("listening on ") {
                base = Some(u.trim().trim_end_matches('/').to_string());
            }
            if let Some(rest) = line.strip_prefix("certificate: ") {
                let pem = rest.split(" sha256 ").next().unwrap().trim();
                cert = Some(PathBuf::from(pem));
            }
        }
        let base = base.unwrap();
        let scheme = if http { "http" } else { "https" };
        assert!(
            base.starts_with(&format!("{scheme}://127.0.0.1:")),
            "{base}"
        );
        Server { child, base, cert }
    }

    /// The HTTPS server's certificate.
    fn cert(&self) -> &Path {
        self.cert
            .as_deref()
            .expect("an HTTPS server has a certificate")
    }

    fn mpd(&self, media: &str) -> String {
        format!("{}/media/{media}/manifest.mpd", self.base)
    }

    /// `GET /metrics` through `neuralstream`-independent means: the player's own client is not
    /// exposed, so use curl when present, else skip the metric checks (returns None).
    fn metrics(&self) -> Option<String> {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(self.cert())
            .arg(format!("{}/metrics", self.base))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Asserts that `/metrics` has the sample `series` (exact name and labels) equal to
    /// `expected`; prints why and checks nothing when curl is absent (see [`Server::metrics`]).
    fn assert_metric(&self, series: &str, expected: f64) {
        match self.metrics() {
            Some(m) => assert_eq!(metric(&m, series), Some(expected), "{series}:\n{m}"),
            None => eprintln!("curl not found: /metrics check of {series} skipped"),
        }
    }

    /// Runs `neuralstream play` on the MPD of `media` with `--trace trace`, the `extra` flags,
    /// `--ca-cert` (this server's certificate), `--quiet` and `--out out`; asserts that it
    /// succeeded and returns the `play.json` it wrote.
    fn play_ok(&self, media: &str, trace: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
        let mpd = self.mpd(media);
        let mut args = vec![mpd.as_str(), "--trace", trace.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend([
            "--ca-cert",
            self.cert().to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        let (ok, stdout, stderr) = play(&args);
        assert!(ok, "play failed:\n{stdout}\n{stderr}");
        read_json(&out.join("play.json"))
    }
}

/// A temporary folder with a small clip (`small_media`, `chunks` chunks) at `<tmp>/clip`, served
/// by `neuralstream serve --abr abr` with its state in `<tmp>/state`. Keep the folder alive for
/// as long as the server.
fn serve_small_clip(chunks: usize, abr: &str) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("clip");
    small_media(&media, chunks);
    let server = Server::start(&[&media], abr, &tmp.path().join("state"));
    (tmp, server)
}

/// The value of a Prometheus sample line `name{labels} value` (exact name and labels).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// A cooked trace: `mbps` pattern repeated, one sample per second, `secs` long.
fn write_trace(path: &Path, mbps: &[f64], secs: usize) {
    let text: String = (0..secs)
        .map(|t| format!("{t}\t{}\n", mbps[t % mbps.len()]))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Runs `cmd` to the end; asserts that it succeeded (the failure message shows its stderr).
fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run neuralstream");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `neuralstream play ARGS`: (succeeded, stdout, stderr).
fn play(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .arg("play")
        .args(args)
        .output()
        .expect("run neuralstream play");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `neuralstream play ARGS`; asserts that it failed with a message on stderr containing
/// every one of `needles`.
fn assert_play_fails(args: &[&str], needles: &[&str]) {
    let (ok, _, err) = play(args);
    assert!(!ok, "play {args:?} should fail:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

/// The JSON file at `path`.
fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `results.csv` rows as (trace, qoe).
fn results_qoe(dir: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (ti, qi) = (
        header.iter().position(|h| *h == "trace").unwrap(),
        header.iter().position(|h| *h == "qoe").unwrap(),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[ti].to_string(), f[qi].parse().unwrap())
        })
        .collect()
}

/// Sum of `reward` over chunks >= 1 of `chunks.csv`, per trace, and the row count.
fn chunk_log_qoe(dir: &Path) -> (std::collections::BTreeMap<String, f64>, usize) {
    let text = std::fs::read_to_string(dir.join("chunks.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ti, ci, ri) = (col("trace"), col("chunk"), col("reward"));
    let mut sums = std::collections::BTreeMap::new();
    let mut rows = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        rows += 1;
        let chunk: usize = f[ci].parse().unwrap();
        let e = sums.entry(f[ti].to_string()).or_insert(0.0);
        if chunk >= 1 {
            *e += f[ri].parse::<f64>().unwrap();
        }
    }
    (sums, rows)
}

/// Whether `a` and `b` agree within `tol`, relative to the larger of them (absolute below 1).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn plays_the_whole_video_with_server_decisions_over_https() {
    let (tmp, server) = serve_small_clip(12, "robustmpc,bb");
    let trace = tmp.path().join("trace.txt");
    write_trace(&trace, &[3.0, 1.5, 0.8, 2.5, 4.0], 120);
    let out = tmp.path().join("out");
    let server_decisions = ["--abr", "robustmpc", "--server-decisions", "--speed", "25"];
    let p = server.play_ok("clip", &trace, &out, &server_decisions);

    assert_eq!(p["errors"], 0, "{p}");
    let s = &p["sessions"][0];
    // The whole video played, byte for byte as video.json says.
    assert_eq!(s["chunks_played"], 12, "{s}");
    assert_eq!(s["size_mismatches"], 0, "{s}");
    // Every decision came from the server.
    assert_eq!(s["all_decisions_from_server"], true, "{s}");
    assert_eq!(s["decisions_from_server"], 12, "{s}");
    assert_eq!(s["algorithm"], "robustmpc", "{s}");
    // Three accountings of QoE agree: the log (results.csv and chunks.csv), the player's running
    // tally, and the server's from the reports it received.
    let qoe = s["qoe"].as_f64().unwrap();
    assert!(
        close(qoe, s["qoe_player_running"].as_f64().unwrap(), 1e-9),
        "{s}"
    );
    assert!(close(qoe, s["qoe_server"].as_f64().unwrap(), 1e-6), "{s}");
    let rows = results_qoe(&out);
    assert_eq!(rows.len(), 1);
    assert!(close(rows[0].1, qoe, 1e-9), "{rows:?} vs {qoe}");
    let (sums, n) = chunk_log_qoe(&out);
    assert_eq!(n, 12);
    assert!(close(*sums.values().next().unwrap(), qoe, 1e-6), "{sums:?}");
    // Stalls: the log's per-chunk rebuffering equals the independent playhead's.
    assert!(
        close(
            s["rebuffer_s"].as_f64().unwrap(),
            s["stall_s_playhead"].as_f64().unwrap(),
            1e-6
        ),
        "{s}"
    );
    // Every media request fetched the segment's full size.
    let req = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    assert_eq!(req.lines().filter(|l| l.contains(",media,")).count(), 12);
    // A healthy server: no request needed a retry.
    assert!(req.starts_with("session,") && req.lines().next().unwrap().ends_with(",retries,url"));
    assert!(
        req.lines().skip(1).all(|l| l.contains(",0,https://")),
        "{req}"
    );

    // The server saw the session: 12 decisions + the final report, all answered 200.
    server.assert_metric(
        "neuralstream_http_requests_total{route=\"decision\",status=\"200\"}",
        13.0,
    );
    server.assert_metric("neuralstream_sessions_created_total", 1.0);
}

#[test]
fn several_clients_at_once_and_local_decisions() {
    let (tmp, server) = serve_small_clip(8, "robustmpc");
    let traces = tmp.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    write_trace(&traces.join("a.txt"), &[2.0, 1.0, 3.0], 60);
    write_trace(&traces.join("b.txt"), &[0.6, 5.0], 60);

    // 2 traces x 3 clients, decisions from the server.
    let out = tmp.path().join("fleet");
    let fleet = ["--server-decisions", "--clients", "3", "--speed", "25"];
    let p = server.play_ok("clip", &traces, &out, &fleet);
    assert_eq!(
        (p["players"].as_u64(), p["errors"].as_u64()),
        (Some(6), Some(0)),
        "{p}"
    );
    for s in p["sessions"].as_array().unwrap() {
        assert_eq!(s["chunks_played"], 8, "{s}");
        assert_eq!(s["all_decisions_from_server"], true, "{s}");
        let q = s["qoe"].as_f64().unwrap();
        assert!(close(q, s["qoe_server"].as_f64().unwrap(), 1e-6), "{s}");
    }
    assert_eq!(results_qoe(&out).len(), 6);
    assert_eq!(chunk_log_qoe(&out).1, 6 * 8);
    server.assert_metric("neuralstream_sessions_created_total", 6.0);

    // The same with a local algorithm: no decision request reaches the server.
    let out = tmp.path().join("local");
    let local = ["--abr", "bb", "--speed", "25"];
    let p = server.play_ok("clip", &traces.join("a.txt"), &out, &local);
    let s = &p["sessions"][0];
    assert_eq!(
        (
            s["chunks_played"].as_u64(),
            s["decisions_from_server"].as_u64()
        ),
        (Some(8), Some(0))
    );
    assert_eq!(s["algorithm"], "bb");
    server.assert_metric("neuralstream_sessions_created_total", 6.0);
}

#[test]
fn refuses_an_untrusted_certificate_and_bad_flags_clearly() {
    let (tmp, server) = serve_small_clip(2, "robustmpc");
    let trace = tmp.path().join("t.txt");
    write_trace(&trace, &[3.0], 30);
    let out = tmp.path().join("o");
    let base = [
        server.mpd("clip"),
        "--trace".into(),
        trace.to_str().unwrap().into(),
        "--out".into(),
        out.to_str().unwrap().into(),
        "--quiet".into(),
    ];
    let args: Vec<&str> = base.iter().map(String::as_str).collect();
    // The self-signed certificate is not in the system store.
    assert_play_fails(&args, &["--ca-cert", "TLS"]);
    // Unknown algorithm (local), bad speed, and both trust flags.
    for (flags, needle) in [
        (&["--insecure", "--abr", "bolla"][..], "bolla"),
        (&["--insecure", "--speed", "0"][..], "--speed"),
        // Refused before any player starts, naming what the server enables.
        (
            &["--insecure", "--server-decisions", "--abr", "nope"][..],
            "does not enable it; it enables robustmpc",
        ),
        // The clip has 2 chunks: skipping 2 leaves nothing to score.
        (
            &["--insecure", "--skip-chunks", "2"][..],
            "--skip-chunks 2 leaves no chunk to score",
        ),
    ] {
        let mut a = args.clone();
        a.extend_from_slice(flags);
        assert_play_fails(&a, &[needle]);
    }
    // https:// to a plain-HTTP server: the hint names the cause, not the certificate.
    let http = Server::start_http(
        &[&tmp.path().join("clip")],
        "robustmpc",
        &tmp.path().join("state-http"),
    );
    let https_url = http.mpd("clip").replacen("http://", "https://", 1);
    let mut a = args.clone();
    a[0] = &https_url;
    assert_play_fails(&a, &["plain HTTP", "http://"]);
    // http:// to the TLS server, an HLS playlist instead of the MPD, and a port nobody listens on.
    let http_url = server.mpd("clip").replacen("https://", "http://", 1);
    let mut a = args.clone();
    a[0] = &http_url;
    assert_play_fails(&a, &["use an https:// URL"]);
    std::fs::write(
        tmp.path().join("clip/master.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:7\n",
    )
    .unwrap();
    let hls_url = server.mpd("clip").replace("manifest.mpd", "master.m3u8");
    let mut a = args.clone();
    a[0] = &hls_url;
    a.push("--insecure");
    assert_play_fails(&a, &["HLS playlist", "manifest.mpd"]);
    let mut a = args.clone();
    a[0] = "http://127.0.0.1:9/media/clip/manifest.mpd";
    assert_play_fails(&a, &["nothing listens there"]);
    // A missing video is a 404 naming the URL.
    assert_play_fails(
        &[
            &server.mpd("missing"),
            "--trace",
            trace.to_str().unwrap(),
            "--insecure",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &["404", "missing"],
    );
}

/// Whether `ffmpeg -version` runs.
fn ffmpeg_present() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn plays_a_clip_packaged_by_neuralstream_package() {
    if !ffmpeg_present() {
        assert!(
            std::env::var("NEURALSTREAM_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "ffmpeg is required (NEURALSTREAM_REQUIRE_FFMPEG=1) but not found"
        );
        eprintln!("skipped: ffmpeg not found (install it, or set NEURALSTREAM_REQUIRE_FFMPEG=1 to make this a failure)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("synth");
    run_ok(
        Command::new(bin())
            .args(["package", "--synthetic", "8", "--out"])
            .arg(&media),
    );
    let trace = tmp.path().join("t.txt");
    write_trace(&trace, &[2.0, 4.0, 1.0], 60);
    let server = Server::start(&[&media], "robustmpc", &tmp.path().join("state"));
    let o = tmp.path().join("o");
    let server_decisions = ["--server-decisions", "--speed", "20"];
    let p = server.play_ok("synth", &trace, &o, &server_decisions);
    let s = &p["sessions"][0];
    let expected = s["chunks_expected"].as_u64().unwrap();
    assert!(expected >= 2, "{s}");
    assert_eq!(s["chunks_played"].as_u64(), Some(expected), "{s}");
    assert_eq!(s["size_mismatches"], 0, "{s}");
    assert_eq!(s["all_decisions_from_server"], true, "{s}");
    let q = s["qoe"].as_f64().unwrap();
    assert!(
        close(q, s["qoe_player_running"].as_f64().unwrap(), 1e-9),
        "{s}"
    );
    assert!(close(q, s["qoe_server"].as_f64().unwrap(), 1e-6), "{s}");
}

/// `play` against a local server vs `bench`, same traces, video and algorithm. Prints a Markdown
/// table. Run: `cargo test --release -p neuralstream-cli --test stream -- --ignored --nocapture
/// sim_to_real` (env `SIM_TO_REAL_SPEED`, default 4; `SIM_TO_REAL_TRACES`, default 4).
#[test]
#[ignore = "minutes of streaming; the documented sim-to-real check"]
fn sim_to_real() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pensieve/sim");
    let test_traces = shared.join("cooked_test_traces");
    if !test_traces.is_dir() {
        eprintln!("skipped: {} not found", test_traces.display());
        return;
    }
    let speed = std::env::var("SIM_TO_REAL_SPEED").unwrap_or_else(|_| "4".into());
    let count: usize = std::env::var("SIM_TO_REAL_TRACES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let tmp = tempfile::tempdir().unwrap();
    // Pensieve's video as a DASH folder: 6 levels x 48 chunks of exactly video_size_* bytes.
    let media = tmp.path().join("pensieve");
    pensieve_media(&shared, &media);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&test_traces)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    // Evenly spread over the test set.
    let step = (names.len() / count).max(1);
    let picked: Vec<PathBuf> = names.iter().step_by(step).take(count).cloned().collect();
    let traces = tmp.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    for p in &picked {
        std::fs::copy(p, traces.join(p.file_name().unwrap())).unwrap();
    }
    let server = Server::start(&[&media], "robustmpc,bb", &tmp.path().join("state"));
    let cert = server.cert().to_str().unwrap().to_string();
    println!(
        "| algorithm | trace | bench QoE | play QoE | play --cache-init | play --server-decisions | bench stall s | play stall s | bench kbps | play kbps | levels differing (play vs bench) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for algo in ["robustmpc", "bb"] {
        let mut bench_rows = std::collections::BTreeMap::new();
        let mut bench_levels = std::collections::BTreeMap::new();
        for p in &picked {
            // One bench per trace: RobustMPC carries its error history across sessions in
            // Pensieve's code, while a player (and a server session) starts fresh.
            let o = tmp.path().join(format!("bench-{algo}"));
            run_ok(
                Command::new(bin())
                    .args(["bench", "--abr", algo, "--no-charts", "--video"])
                    .arg(media.join("video.json"))
                    .arg("--traces")
                    .arg(p)
                    .arg("--out")
                    .arg(&o),
            );
            let (r, _) = score_rows(&o);
            bench_rows.extend(r);
            bench_levels.extend(levels_by_trace(&o));
        }
        let mut runs = Vec::new();
        for variant in ["local", "cache-init", "server"] {
            let o = tmp.path().join(format!("play-{algo}-{variant}"));
            let mut args = vec![
                server.mpd("pensieve"),
                "--trace".into(),
                traces.to_str().unwrap().into(),
                "--abr".into(),
                algo.into(),
                "--speed".into(),
                speed.clone(),
                "--ca-cert".into(),
                cert.clone(),
                "--quiet".into(),
                "--max-chunks".into(),
                "48".into(),
                "--out".into(),
                o.to_str().unwrap().into(),
            ];
            match variant {
                "server" => args.push("--server-decisions".into()),
                "cache-init" => args.push("--cache-init".into()),
                _ => {}
            }
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, stdout, stderr) = play(&a);
            assert!(ok, "{stdout}\n{stderr}");
            runs.push((score_rows(&o).0, levels_by_trace(&o)));
        }
        for (trace, b) in &bench_rows {
            let l = &runs[0].0[trace];
            let c = &runs[1].0[trace];
            let s = &runs[2].0[trace];
            let diff = bench_levels[trace]
                .iter()
                .zip(&runs[0].1[trace])
                .filter(|(a, b)| a != b)
                .count();
            println!(
                "| {algo} | {trace} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {diff} of {} |",
                b.0,
                l.0,
                c.0,
                s.0,
                b.1,
                l.1,
                b.2,
                l.2,
                bench_levels[trace].len()
            );
        }
    }
}

/// `results.csv` per trace: (qoe, rebuffer_s, bitrate_mean_kbps).
fn score_rows(dir: &Path) -> (std::collections::BTreeMap<String, (f64, f64, f64)>, usize) {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (t, q, r, b) = (
        col("trace"),
        col("qoe"),
        col("rebuffer_s"),
        col("bitrate_mean_kbps"),
    );
    let mut m = std::collections::BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        m.insert(
            f[t].to_string(),
            (
                f[q].parse().unwrap(),
                f[r].parse().unwrap(),
                f[b].parse().unwrap(),
            ),
        );
    }
    let n = m.len();
    (m, n)
}

/// `chunks.csv`: the level sequence of each trace.
fn levels_by_trace(dir: &Path) -> std::collections::BTreeMap<String, Vec<usize>> {
    let text = std::fs::read_to_string(dir.join("chunks.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (t, lv) = (col("trace"), col("level"));
    let mut m: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        m.entry(f[t].to_string())
            .or_default()
            .push(f[lv].parse().unwrap());
    }
    m
}
