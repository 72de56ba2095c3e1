//! `neuralstream emulate`: real TCP through an emulated link (issue 22, item 3). `serve` runs in
//! one network namespace, the players of each link in their own, and `tc` shapes every link from
//! a trace (`neuralstream-emu`). Players are the native `play` with its pacing off
//! (`--trace-clock network`) or headless Chromium with the web page (`web/tests/emulate_page.mjs`).
//! One link per trace x algorithm; `--players N` puts N players on each link (a shared
//! bottleneck). Writes each link's own outputs under `links/`, and `emulate.csv` (one row per
//! player) and `emulate.json` (the run, per-algorithm means, fairness, the server's `/metrics`).
//! Everything created is removed at the end, on Ctrl-C and on a panic; `--cleanup` removes what a
//! killed run left.

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use neuralstream_core::{BenchResults, Trace};
use neuralstream_data::TraceFormat;
use neuralstream_emu::{Shaper, ShaperConfig, Topology};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `neuralstream emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Media folder to serve (a DASH package with video.json, as `serve --media`).
    #[arg(long, value_name = "DIR", required_unless_present = "cleanup")]
    pub media: Option<PathBuf>,
    /// Network trace file, or a folder of traces: one emulated link per trace and algorithm.
    #[arg(long, value_name = "PATH", required_unless_present = "cleanup")]
    pub trace: Option<PathBuf>,
    /// Trace file format: auto, cooked or mahimahi.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub trace_format: TraceFormat,
    /// Algorithms, comma-separated: each gets its own link per trace.
    #[arg(long, default_value = "robustmpc", value_name = "LIST")]
    pub abr: String,
    /// Players sharing each link (a shared bottleneck: they compete through TCP).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub players: usize,
    /// native (`play`, pacing off) or chromium (the web page in headless Chromium, real time).
    #[arg(long, default_value = "native", value_name = "KIND")]
    pub client: String,
    /// Session seconds per real second (native players only): link rates are multiplied by it and
    /// every trace sample lasts 1/X of its time.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,
    /// Round-trip propagation delay, ms of session time. With netem in the kernel the link adds
    /// it; without, native players wait it before every request (application layer, as `play`
    /// does) and Chromium gets none; the run says which.
    #[arg(long, default_value_t = 80.0, value_name = "MS")]
    pub rtt_ms: f64,
    /// TCP congestion control in every namespace (e.g. cubic, bbr, reno; see
    /// net.ipv4.tcp_available_congestion_control). Default: the kernel's default for a new
    /// namespace.
    #[arg(long, value_name = "NAME")]
    pub congestion_control: Option<String>,
    /// Drop-tail queue of each link, bytes (tbf's limit). The default is about 100 full frames;
    /// Pensieve's Mahimahi link had an unbounded queue (docs/sim_to_real.md, "Queue").
    #[arg(long, default_value_t = 150_000, value_name = "BYTES")]
    pub queue_bytes: u64,
    /// Native players speak HTTP/1.1 only (`play --http1`): no HTTP/2 keep-alive pings, which the
    /// server times out when a zero-capacity stretch of more than about 30 s holds them in the
    /// link's queue (docs/sim_to_real.md, "Shared link in both").
    #[arg(long)]
    pub http1: bool,
    /// Decisions from the server's API (always for Chromium).
    #[arg(long)]
    pub server_decisions: bool,
    /// `serve --egress-mbps`: the server's allocator caps every session (decisions from the server).
    #[arg(long, value_name = "MBPS", allow_negative_numbers = true)]
    pub egress_mbps: Option<f64>,
    /// `serve --allocator` for --egress-mbps.
    #[arg(long, default_value = "maxmin", value_name = "NAME")]
    pub allocator: String,
    /// `serve --max-sessions`: more players than this is refused before anything starts.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_sessions: usize,
    /// Chunks per session at most (native players); 0 plays the whole video.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_chunks: usize,
    /// The web/ folder: the page served from its dist/ and tests/emulate_page.mjs run (Chromium).
    #[arg(long, default_value = "web", value_name = "DIR")]
    pub web: PathBuf,
    /// Chromium's executable.
    #[arg(long, default_value = "/usr/bin/chromium", value_name = "PATH")]
    pub chromium: PathBuf,
    /// Real seconds the players may take in all before they are stopped and the run fails.
    #[arg(long, default_value_t = 3600.0, value_name = "S")]
    pub timeout_s: f64,
    /// Output folder.
    #[arg(long, default_value = "out/emulate", value_name = "DIR")]
    pub out: PathBuf,
    /// Remove every namespace and veth a killed run left behind (names starting `nsemu-`), then
    /// exit.
    #[arg(long)]
    pub cleanup: bool,
}

/// Which player runs on the links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Native,
    Chromium,
}

/// One link of the run: its trace, algorithm and output folder.
struct LinkPlan {
    trace: Arc<Trace>,
    trace_file: PathBuf,
    algorithm: String,
    dir: PathBuf,
}

/// The checked inputs of a run.
struct Plan {
    client: Client,
    media: PathBuf,
    media_name: String,
    links: Vec<LinkPlan>,
    algorithms: Vec<String>,
}

/// Runs `neuralstream emulate`.
pub fn run(args: EmulateArgs) -> Result<()> {
    if args.cleanup {
        let removed = neuralstream_emu::cleanup_prefix(neuralstream_emu::NETNS_PREFIX)?;
        say!(
            "removed {} leftover(s){}{}",
            removed.len(),
            if removed.is_empty() { "" } else { ": " },
            removed.join(", ")
        );
        return Ok(());
    }
    let plan = plan(&args)?;
    neuralstream_emu::preflight()?;
    neuralstream_emu::interrupt::install();
    let started = Instant::now();
    let mut topo = Topology::create(
        &neuralstream_emu::run_id(),
        plan.links.len(),
        args.rtt_ms / args.speed,
    )
    .context("cannot create the emulated links")?;
    if let Some(cc) = &args.congestion_control {
        topo.set_congestion_control(cc)
            .context("in --congestion-control")?;
    }
    let cc = topo
        .congestion_control()
        .unwrap_or_else(|_| "unknown".into());
    let delay = format!(
        "TCP congestion control {cc}; {}",
        delay_note(&args, &topo, plan.client)
    );
    eprintln!(
        "emulate: run {}, {} link(s) x {} player(s), {} players, speed x{}; {delay}",
        topo.id,
        plan.links.len(),
        args.players,
        if plan.client == Client::Native {
            "native"
        } else {
            "chromium"
        },
        args.speed
    );
    let outcome = run_links(&args, &plan, &topo);
    // On Ctrl-C the watcher removes everything and exits with 130; nothing to report here.
    neuralstream_emu::interrupt::park_if_interrupted();
    let problems = topo.teardown();
    let left = neuralstream_emu::topology::leftovers(&topo.id).unwrap_or_default();
    ensure!(
        problems.is_empty() && left.is_empty(),
        "the emulated links were not all removed ({}; left: {}); run `neuralstream emulate --cleanup`",
        problems.join("; "),
        left.join(", ")
    );
    let (statuses, metrics, shaped) = outcome?;
    report(
        &args,
        &plan,
        &statuses,
        metrics.as_deref(),
        &shaped,
        &delay,
        started,
    )
}

/// Checks every input before anything is created.
fn plan(args: &EmulateArgs) -> Result<Plan> {
    let client = match args.client.to_ascii_lowercase().as_str() {
        "native" => Client::Native,
        "chromium" => Client::Chromium,
        other => bail!("--client must be `native` or `chromium`, got '{other}'"),
    };
    ensure!(
        (1..=1000).contains(&args.players),
        "--players must be between 1 and 1000, got {}",
        args.players
    );
    ensure!(
        args.rtt_ms.is_finite() && (0.0..=neuralstream_core::MAX_RTT_MS).contains(&args.rtt_ms),
        "--rtt-ms must be between 0 and {} ms, got {}",
        neuralstream_core::MAX_RTT_MS,
        args.rtt_ms
    );
    ensure!(
        args.timeout_s.is_finite() && args.timeout_s > 0.0,
        "--timeout-s must be > 0, got {}",
        args.timeout_s
    );
    if let Some(mbps) = args.egress_mbps {
        ensure!(
            mbps.is_finite() && mbps > 0.0,
            "--egress-mbps must be a number of Mbit/s > 0, got {mbps}; leave it out for no allocation"
        );
    }
    ShaperConfig {
        speed: args.speed,
        queue_bytes: args.queue_bytes,
    }
    .validate()?;
    let media = args.media.clone().context("--media is required")?;
    let media_name = media_name(&media)?;
    let algorithms: Vec<String> = args
        .abr
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    ensure!(
        !algorithms.is_empty(),
        "--abr is empty; give e.g. --abr robustmpc,bba"
    );
    if client == Client::Chromium {
        check_browser(args)?;
    }
    let links = link_plans(args, &algorithms)?;
    let players = links.len() * args.players;
    ensure!(
        players <= args.max_sessions,
        "{players} players ({} link(s) x --players {}) but the server keeps at most --max-sessions {} sessions; raise --max-sessions or run fewer players",
        links.len(),
        args.players,
        args.max_sessions
    );
    Ok(Plan {
        client,
        media,
        media_name,
        links,
        algorithms,
    })
}

/// The name `serve` gives a media folder (its folder name), after checking it holds a package.
fn media_name(media: &Path) -> Result<String> {
    ensure!(
        media.join("video.json").is_file() && media.join("manifest.mpd").is_file(),
        "--media {} holds no video.json and manifest.mpd; package a video first: `neuralstream package INPUT --out DIR`",
        media.display()
    );
    let canonical = media
        .canonicalize()
        .with_context(|| format!("cannot resolve --media {}", media.display()))?;
    canonical
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .with_context(|| format!("--media {} has no folder name", media.display()))
}

/// Chromium runs need node, Chromium, the built page and playwright-core.
fn check_browser(args: &EmulateArgs) -> Result<()> {
    let web = &args.web;
    for (ok, what) in [
        (
            args.chromium.is_file(),
            format!(
                "Chromium at {} (apt-get install chromium, or --chromium PATH)",
                args.chromium.display()
            ),
        ),
        (
            web.join("dist/index.html").is_file(),
            format!("{}/dist (cd web && npm run build)", web.display()),
        ),
        (
            web.join("node_modules/playwright-core").is_dir(),
            format!("{}/node_modules (cd web && npm ci)", web.display()),
        ),
        (
            web.join("tests/emulate_page.mjs").is_file(),
            format!(
                "{}/tests/emulate_page.mjs (--web must be the repository's web/ folder)",
                web.display()
            ),
        ),
    ] {
        ensure!(ok, "--client chromium needs {what}");
    }
    ensure!(
        (args.speed - 1.0).abs() < 1e-9,
        "--client chromium plays in real time; leave --speed at 1 (got {})",
        args.speed
    );
    Ok(())
}

/// One link per trace and algorithm; each trace is written out in cooked format for its players.
fn link_plans(args: &EmulateArgs, algorithms: &[String]) -> Result<Vec<LinkPlan>> {
    let path = args.trace.as_ref().context("--trace is required")?;
    let traces = neuralstream_data::load_traces(path, args.trace_format)
        .with_context(|| format!("cannot load --trace {}", path.display()))?;
    ensure!(
        !traces.is_empty(),
        "--trace {} holds no trace",
        path.display()
    );
    let dir = args.out.join("traces");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    let mut links = Vec::new();
    for trace in traces {
        let file = dir.join(safe_name(&trace.name));
        let text: String = trace
            .time_s
            .iter()
            .zip(&trace.bandwidth_mbps)
            .map(|(t, b)| format!("{t}\t{b}\n"))
            .collect();
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        let trace = Arc::new(trace);
        for algorithm in algorithms {
            let i = links.len();
            links.push(LinkPlan {
                trace: trace.clone(),
                trace_file: file.clone(),
                algorithm: algorithm.clone(),
                dir: args.out.join("links").join(format!(
                    "{i}-{}-{}",
                    safe_name(&trace.name),
                    safe_name(algorithm)
                )),
            });
        }
    }
    Ok(links)
}

/// `name` with anything but letters, digits, `.`, `_` and `-` replaced by `_`.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How the propagation delay is (or is not) emulated, for the output and emulate.json.
fn delay_note(args: &EmulateArgs, topo: &Topology, client: Client) -> String {
    if args.rtt_ms == 0.0 {
        "no propagation delay asked (--rtt-ms 0)".into()
    } else if topo.netem {
        format!("netem adds the {} ms round trip on every link", args.rtt_ms)
    } else if client == Client::Native {
        format!(
            "netem is NOT available in this kernel: the link adds no propagation delay; native players wait --rtt-ms {} ms before each request (application layer)",
            args.rtt_ms
        )
    } else {
        "netem is NOT available in this kernel: the link adds no propagation delay, and Chromium gets none (only the veth's own, well under 1 ms)".into()
    }
}

/// What the players did, the server's metrics at the end, and the shaper's statistics.
type LinkOutcome = (Vec<Option<i32>>, Option<String>, String);

/// Starts the server, the shaper and every link's players; waits for the players.
fn run_links(args: &EmulateArgs, plan: &Plan, topo: &Topology) -> Result<LinkOutcome> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out {}", args.out.display()))?;
    let (_server, port) = start_server(args, plan, topo)?;
    let links: Vec<(String, Arc<Trace>)> = topo
        .links
        .iter()
        .zip(&plan.links)
        .map(|(l, p)| (l.server_dev.clone(), p.trace.clone()))
        .collect();
    let shaper = Shaper::start(
        &topo.server_ns,
        &links,
        &ShaperConfig {
            speed: args.speed,
            queue_bytes: args.queue_bytes,
        },
    )?;
    let mut children = Vec::new();
    for (link, p) in topo.links.iter().zip(&plan.links) {
        let base = format!("https://{}:{port}/", link.server_ip);
        children.push(spawn_players(args, plan, topo, link, p, &base)?);
    }
    let statuses = wait_players(&mut children, args.timeout_s);
    let stats = shaper.stop()?;
    let shaped = format!(
        "{} rate changes, the latest {:.1} ms (real) after it was due",
        stats.updates, stats.max_late_ms
    );
    let metrics = fetch_metrics(topo, port);
    Ok((statuses?, metrics, shaped))
}

/// Kills a child process when dropped (the topology's teardown kills the rest).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` in the server namespace on all its addresses; waits for its `listening on` line.
fn start_server(args: &EmulateArgs, plan: &Plan, topo: &Topology) -> Result<(KillOnDrop, u16)> {
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    let log = std::fs::File::create(args.out.join("serve.log"))?;
    let mut cmd = Topology::command_in(&topo.server_ns, &exe);
    cmd.arg("serve")
        .arg("--media")
        .arg(&plan.media)
        .args([
            "--abr",
            &plan.algorithms.join(","),
            "--port",
            "0",
            "--bind",
            "0.0.0.0",
        ])
        .arg("--state-dir")
        .arg(args.out.join("serve-state"))
        .args(["--max-sessions", &args.max_sessions.to_string()]);
    if let Some(mbps) = args.egress_mbps {
        cmd.args([
            "--egress-mbps",
            &mbps.to_string(),
            "--allocator",
            &args.allocator,
        ]);
    }
    if plan.client == Client::Chromium {
        cmd.arg("--web-root").arg(args.web.join("dist"));
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start `neuralstream serve` in the server namespace")?;
    let stdout = child.stdout.take().context("serve has no stdout")?;
    let child = KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(60)).with_context(|| {
        format!(
            "`neuralstream serve` did not start within 60 s; see {}",
            args.out.join("serve.log").display()
        )
    })?;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .with_context(|| format!("cannot read the port of serve's URL {url}"))?;
    Ok((child, port))
}

/// The players of one link, in its client namespace: one `play --clients N` process, or one
/// Chromium page.
fn spawn_players(
    args: &EmulateArgs,
    plan: &Plan,
    topo: &Topology,
    link: &neuralstream_emu::Link,
    p: &LinkPlan,
    base: &str,
) -> Result<KillOnDrop> {
    std::fs::create_dir_all(&p.dir)
        .with_context(|| format!("cannot create {}", p.dir.display()))?;
    let log = std::fs::File::create(p.dir.join("player.log"))?;
    let mut cmd = match plan.client {
        Client::Native => {
            let exe = std::env::current_exe().context("cannot find this program's own path")?;
            let rtt = if topo.netem { 0.0 } else { args.rtt_ms };
            let mut c = Topology::command_in(&link.client_ns, exe);
            c.arg("play")
                .arg(format!("{base}media/{}/manifest.mpd", plan.media_name))
                .arg("--trace")
                .arg(&p.trace_file)
                .args([
                    "--abr",
                    &p.algorithm,
                    "--trace-clock",
                    "network",
                    "--insecure",
                    "--quiet",
                ])
                .args([
                    "--rtt-ms",
                    &rtt.to_string(),
                    "--speed",
                    &args.speed.to_string(),
                ])
                .args(["--clients", &args.players.to_string()])
                .args(["--max-chunks", &args.max_chunks.to_string()])
                .args(["--session", &format!("emu{}-l{}", topo.id, link.index)])
                .arg("--out")
                .arg(&p.dir);
            if args.server_decisions || args.egress_mbps.is_some() {
                c.arg("--server-decisions");
            }
            if args.http1 {
                c.arg("--http1");
            }
            c
        }
        Client::Chromium => {
            let mut c = Topology::command_in(&link.client_ns, "node");
            c.arg(args.web.join("tests/emulate_page.mjs"))
                .arg(base)
                .args(["--video", &plan.media_name, "--abr", &p.algorithm])
                .arg("--chromium")
                .arg(&args.chromium)
                // The page stops a little before the harness does, so it still writes what
                // state it was stuck in (result.json) instead of being killed silently.
                .args(["--timeout-s", &page_timeout_s(args.timeout_s).to_string()])
                .arg("--out")
                .arg(&p.dir);
            c
        }
    };
    let child = cmd
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start the players of link {}", link.index))?;
    Ok(KillOnDrop(child))
}

/// The page's own time limit under the harness's `timeout_s`: 10 s (or a tenth) earlier.
fn page_timeout_s(timeout_s: f64) -> f64 {
    (timeout_s - 10.0).max(timeout_s * 0.9)
}

/// Waits for every link's players; their exit codes (None: killed by a signal). Fails after
/// `timeout_s` real seconds (the players are then stopped by the teardown).
fn wait_players(children: &mut [KillOnDrop], timeout_s: f64) -> Result<Vec<Option<i32>>> {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout_s);
    let mut codes = vec![None; children.len()];
    let mut done = vec![false; children.len()];
    while done.iter().any(|d| !d) {
        for (i, c) in children.iter_mut().enumerate() {
            if !done[i] {
                if let Some(status) = c.0.try_wait()? {
                    done[i] = true;
                    codes[i] = status.code();
                }
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the players did not finish within --timeout-s {timeout_s} s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(codes)
}

/// The server's `/metrics`, fetched with curl from the first client namespace (None without
/// curl).
fn fetch_metrics(topo: &Topology, port: u16) -> Option<String> {
    let link = topo.links.first()?;
    let out = Topology::command_in(&link.client_ns, "curl")
        .args(["-sSk", "--max-time", "10"])
        .arg(format!("https://{}:{port}/metrics", link.server_ip))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One player's result.
struct Row {
    link: usize,
    trace: String,
    algorithm: String,
    player: String,
    qoe: f64,
    rebuffer_s: f64,
    bitrate_kbps: f64,
    chunks: usize,
    decisions_with_cap: usize,
    decisions_above_cap: usize,
    error: String,
}

/// Reads one link's outputs into rows (a failed link gives one row with its error).
fn link_rows(i: usize, p: &LinkPlan, client: Client, code: Option<i32>) -> Vec<Row> {
    let row = |player: String| Row {
        link: i,
        trace: p.trace.name.clone(),
        algorithm: p.algorithm.clone(),
        player,
        qoe: f64::NAN,
        rebuffer_s: f64::NAN,
        bitrate_kbps: f64::NAN,
        chunks: 0,
        decisions_with_cap: 0,
        decisions_above_cap: 0,
        error: String::new(),
    };
    let read = |name: &str| -> Result<serde_json::Value> {
        let path = p.dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no {} (see player.log beside it)", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let parsed = match client {
        Client::Native => native_rows(&p.dir, &read, &row),
        Client::Chromium => read("result.json").map(|r| {
            let s = &r["summary"];
            let mut x = row("page".into());
            x.qoe = s["qoe"].as_f64().unwrap_or(f64::NAN);
            x.rebuffer_s = s["rebufferS"].as_f64().unwrap_or(f64::NAN);
            x.bitrate_kbps = s["meanBitrateKbps"].as_f64().unwrap_or(f64::NAN);
            x.chunks = r["chunks"].as_u64().unwrap_or(0) as usize;
            if let Some(f) = r["failures"].as_array().filter(|f| !f.is_empty()) {
                x.error = f
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            vec![x]
        }),
    };
    let mut rows = parsed.unwrap_or_else(|e| {
        let mut x = row(String::new());
        x.error = format!("{e:#}");
        vec![x]
    });
    if code != Some(0) {
        for r in rows.iter_mut().filter(|r| r.error.is_empty()) {
            r.error = format!("the players exited with {code:?} (see player.log)");
        }
    }
    rows
}

/// Rows of a native link: scores from results.json, caps from play.json.
fn native_rows(
    dir: &Path,
    read: &dyn Fn(&str) -> Result<serde_json::Value>,
    row: &dyn Fn(String) -> Row,
) -> Result<Vec<Row>> {
    let results: BenchResults = serde_json::from_value(read("results.json")?)
        .with_context(|| format!("cannot read {}/results.json", dir.display()))?;
    let play = read("play.json")?;
    let sessions = play["sessions"].as_array().cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for s in &sessions {
        let name = s["trace"].as_str().unwrap_or_default().to_string();
        let mut x = row(name.clone());
        x.chunks = s["chunks_played"].as_u64().unwrap_or(0) as usize;
        x.decisions_with_cap = s["decisions_with_cap"].as_u64().unwrap_or(0) as usize;
        x.decisions_above_cap = s["decisions_above_cap"].as_u64().unwrap_or(0) as usize;
        x.error = s["error"].as_str().unwrap_or_default().to_string();
        if let Some(t) = results.per_trace.iter().find(|t| t.trace == name) {
            x.qoe = t.score.qoe;
            x.rebuffer_s = t.score.rebuffer_s;
            x.bitrate_kbps = t.score.bitrate_mean_kbps;
        }
        rows.push(x);
    }
    ensure!(
        !rows.is_empty(),
        "{}/play.json lists no session",
        dir.display()
    );
    Ok(rows)
}

/// Mean of the finite values (NaN when none).
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Writes emulate.csv and emulate.json, prints the table; fails when a player failed.
fn report(
    args: &EmulateArgs,
    plan: &Plan,
    codes: &[Option<i32>],
    metrics: Option<&str>,
    shaped: &str,
    delay: &str,
    started: Instant,
) -> Result<()> {
    let rows: Vec<Row> = plan
        .links
        .iter()
        .zip(codes)
        .enumerate()
        .flat_map(|(i, (p, &code))| link_rows(i, p, plan.client, code))
        .collect();
    let mut csv = String::from(
        "link,trace,algorithm,player,qoe,rebuffer_s,bitrate_mean_kbps,chunks,decisions_with_cap,decisions_above_cap,error\n",
    );
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.link,
            neuralstream_eval::output::csv_field(&r.trace),
            neuralstream_eval::output::csv_field(&r.algorithm),
            neuralstream_eval::output::csv_field(&r.player),
            r.qoe,
            r.rebuffer_s,
            r.bitrate_kbps,
            r.chunks,
            r.decisions_with_cap,
            r.decisions_above_cap,
            neuralstream_eval::output::csv_field(&r.error)
        );
    }
    let csv_path = args.out.join("emulate.csv");
    std::fs::write(&csv_path, csv)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let json = summary_json(args, plan, &rows, metrics, shaped, delay, started);
    let json_path = args.out.join("emulate.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    if let Some(m) = metrics {
        std::fs::write(args.out.join("metrics.txt"), m)?;
    }
    say!("| algorithm | players | mean QoE | mean rebuffer s | mean kbps |");
    say!("|---|---|---|---|---|");
    for a in &plan.algorithms {
        let mine: Vec<&Row> = rows.iter().filter(|r| &r.algorithm == a).collect();
        say!(
            "| {a} | {} | {:.2} | {:.2} | {:.0} |",
            mine.len(),
            mean(mine.iter().map(|r| r.qoe)),
            mean(mine.iter().map(|r| r.rebuffer_s)),
            mean(mine.iter().map(|r| r.bitrate_kbps))
        );
    }
    say!("{delay}; {shaped}");
    say!("wrote {} and {}", csv_path.display(), json_path.display());
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.error.is_empty()).collect();
    if let Some(first) = failed.first() {
        bail!(
            "{} of {} player(s) failed; first: link {} ({}, {}): {}",
            failed.len(),
            rows.len(),
            first.link,
            first.trace,
            first.algorithm,
            first.error
        );
    }
    Ok(())
}

/// emulate.json: the run's settings, per-algorithm means, per-link fairness, the server's metrics.
fn summary_json(
    args: &EmulateArgs,
    plan: &Plan,
    rows: &[Row],
    metrics: Option<&str>,
    shaped: &str,
    delay: &str,
    started: Instant,
) -> serde_json::Value {
    let num = |x: f64| {
        if x.is_finite() {
            serde_json::json!(x)
        } else {
            serde_json::Value::Null
        }
    };
    let algorithms: Vec<serde_json::Value> = plan
        .algorithms
        .iter()
        .map(|a| {
            let mine: Vec<&Row> = rows.iter().filter(|r| &r.algorithm == a).collect();
            serde_json::json!({
                "algorithm": a,
                "players": mine.len(),
                "qoe_mean": num(mean(mine.iter().map(|r| r.qoe))),
                "rebuffer_s_mean": num(mean(mine.iter().map(|r| r.rebuffer_s))),
                "bitrate_mean_kbps": num(mean(mine.iter().map(|r| r.bitrate_kbps))),
            })
        })
        .collect();
    let links: Vec<serde_json::Value> = (0..plan.links.len())
        .map(|i| {
            // Over the players that finished (a failed one has no score).
            let done = || rows.iter().filter(|r| r.link == i && r.error.is_empty());
            let q: Vec<f64> = done().map(|r| r.qoe).collect();
            let b: Vec<f64> = done().map(|r| r.bitrate_kbps).collect();
            serde_json::json!({
                "link": i,
                "trace": plan.links[i].trace.name,
                "algorithm": plan.links[i].algorithm,
                "players": rows.iter().filter(|r| r.link == i).count(),
                "players_finished": q.len(),
                "jain_qoe": neuralstream_alloc::jain_index(&q).and_then(|j| j.is_finite().then_some(j)),
                "jain_bitrate": neuralstream_alloc::jain_index(&b).and_then(|j| j.is_finite().then_some(j)),
            })
        })
        .collect();
    let metric = |name: &str| {
        metrics.and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        })
    };
    serde_json::json!({
        "client": args.client,
        "speed": args.speed,
        "rtt_ms": args.rtt_ms,
        "delay": delay,
        "queue_bytes": args.queue_bytes,
        "players_per_link": args.players,
        "http1": args.http1,
        "egress_mbps": args.egress_mbps,
        "shaper": shaped,
        "wall_s": started.elapsed().as_secs_f64(),
        "algorithms": algorithms,
        "links": links,
        "server_jain_qoe": metric("neuralstream_fairness_jain_qoe "),
        "metrics_fetched": metrics.is_some(),
    })
}
