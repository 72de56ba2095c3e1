//! `neuralstream play`: headless DASH players over HTTPS, shaped by network traces; writes the same
//! results and per-chunk log as `bench`, plus `requests.csv` (every HTTP request) and `play.json`
//! (per-session accounting: the player's own QoE tally, the server's, stalls, decision latency).

use crate::progress::Progress as Display;
use anyhow::{bail, Context, Result};
use clap::Args;
use neuralstream_core::{Abr, QoeModel, Trace};
use neuralstream_data::TraceFormat;
use neuralstream_eval::output::{csv_field, write_chunk_log, write_results};
use neuralstream_eval::{score_recorded, BenchMeta, RecordedResults, RecordedSession};
use neuralstream_player::summary::percentile;
use neuralstream_player::{
    load_fleet_media, parse_url, run_fleet_with, runtime, AbrFactory, DecisionSource, FleetConfig,
    FleetOutcome, PlayerConfig, Progress, RequestRecord, Retry, RunSummary, SessionSummary,
    TlsTrust, TraceClock,
};
use neuralstream_policy::Policy;
use neuralstream_sim::SessionLog;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `neuralstream play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// URL of the DASH manifest, e.g. https://127.0.0.1:8443/media/clip/manifest.mpd. The
    /// `video.json` beside it gives every chunk's size (look-ahead algorithms need them).
    #[arg(value_name = "URL_OF_MPD")]
    pub url: String,
    /// Network trace file, or a folder of traces (each is played by --clients players, all at
    /// once). Pensieve cooked (`time_s Mbit/s`) or Mahimahi format.
    #[arg(long, value_name = "PATH")]
    pub trace: PathBuf,
    /// Trace file format: auto, cooked or mahimahi.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub trace_format: TraceFormat,
    /// ABR algorithm (see `neuralstream algorithms`; `learned:PATH` for a trained policy). With
    /// --server-decisions, the algorithm asked of the server (one of those it enables).
    #[arg(long, default_value = "robustmpc", value_name = "ALGO")]
    pub abr: String,
    /// Ask the server's decision API (POST /api/v1/sessions/{id}/decision) for every level instead
    /// of running the algorithm in this process.
    #[arg(long)]
    pub server_decisions: bool,
    /// Players per trace, all at once (each has its own connection, link and session).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub clients: usize,
    /// Session seconds per real second: 10 plays a 200 s session in 20 s. Timers are ~1 ms of real
    /// time, so high speeds blur short delays (see docs/sim_to_real.md).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,
    /// Trust only this PEM certificate (the one `neuralstream serve` printed on its
    /// `certificate:` line).
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate (tests only).
    #[arg(long)]
    pub insecure: bool,
    /// Output folder for results.json, results.csv, summary.csv, chunks.csv, requests.csv, play.json.
    #[arg(long, default_value = "out/play", value_name = "DIR")]
    pub out: PathBuf,
    /// QoE model: lin, log or hd, or ssim, vmaf or psnr on the video's per-segment quality scores,
    /// optionally `MODEL:MU` with an explicit stall penalty (as `bench --qoe`; lin's default
    /// penalty is the video's top bitrate in Mbit/s).
    #[arg(long, default_value = "lin", value_name = "MODEL")]
    pub qoe: String,
    /// Chunks not scored at the start of each session (as `bench --skip-chunks`).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub skip_chunks: usize,
    /// Chunks played per session at most; 0 plays the whole video.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_chunks: usize,
    /// Link and player settings (`--rtt-ms` is waited before every request, in session time).
    #[command(flatten)]
    pub link: crate::inputs::LinkArgs,
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetryFlag,
    /// transfer: the trace advances only while bytes flow or the player idles, as in the
    /// simulator; wall: the trace follows session time like a real link; network: no pacing, the
    /// network itself is the link (`neuralstream emulate` shapes it with tc; --rtt-ms is still
    /// waited before each request).
    #[arg(long, default_value = "transfer", value_name = "CLOCK")]
    pub trace_clock: String,
    /// Fetch each level's init segment once (like dash.js) instead of on every level switch.
    #[arg(long)]
    pub cache_init: bool,
    /// Speak HTTP/1.1 only (default: HTTP/2 where the server offers it).
    #[arg(long)]
    pub http1: bool,
    /// Times a request that failed in transit (connection reset or cut, or a 5xx answer) is sent
    /// again on a new connection before the session fails; 3 as dash.js for media segments, 0 never.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// Pause before each retry, ms of session time (dash.js: 1000).
    #[arg(long, default_value_t = 1000.0, value_name = "MS")]
    pub retry_interval_ms: f64,
    /// Session id (prefix, with several players) for the decision API; default: `play-` and a
    /// value unique to this run, so runs against the same server never share a session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

/// How decisions are made, checked before any network traffic.
fn decision_source(args: &PlayArgs) -> Result<(DecisionSource, Option<Policy>)> {
    let name = args.abr.trim();
    anyhow::ensure!(
        !name.is_empty(),
        "--abr is empty; give an algorithm, e.g. --abr robustmpc"
    );
    if args.server_decisions {
        return Ok((
            DecisionSource::Server {
                algorithm: Some(name.to_string()),
            },
            None,
        ));
    }
    if let Some(path) = neuralstream_protocol::learned_policy_path(name) {
        anyhow::ensure!(
            !path.is_empty(),
            "--abr learned: needs a checkpoint path, e.g. learned:out/train/policy.safetensors"
        );
        let policy = Policy::load(path).with_context(|| format!("in --abr {name}"))?;
        let p = policy.clone();
        let factory: AbrFactory = Arc::new(move || Box::new(p.clone()) as Box<dyn Abr>);
        return Ok((
            DecisionSource::Local {
                factory,
                startup_level: Some(1),
            },
            Some(policy),
        ));
    }
    let lower = name.to_ascii_lowercase();
    anyhow::ensure!(
        lower != neuralstream_eval::OPTIMUM,
        "--abr optimum needs the whole trace in advance and cannot stream; run it with `bench`"
    );
    neuralstream_abr::create(&lower).with_context(|| format!("in --abr {name}"))?;
    let factory: AbrFactory = Arc::new(move || {
        neuralstream_abr::create(&lower).expect("the name was checked when the flags were read")
    });
    Ok((
        DecisionSource::Local {
            factory,
            startup_level: Some(1),
        },
        None,
    ))
}

fn player_config(args: &PlayArgs, qoe: QoeModel) -> Result<PlayerConfig> {
    let trace_clock = match args.trace_clock.to_ascii_lowercase().as_str() {
        "transfer" => TraceClock::Transfer,
        "wall" => TraceClock::Wall,
        "network" => TraceClock::Network,
        other => bail!("--trace-clock must be `transfer`, `wall` or `network`, got '{other}'"),
    };
    let cfg = PlayerConfig {
        speed: args.speed,
        rtt_ms: args.link.rtt_ms,
        payload_fraction: args.link.payload_fraction,
        buffer_cap_s: args.link.buffer_cap_s,
        max_chunks: (args.max_chunks > 0).then_some(args.max_chunks),
        trace_clock,
        cache_init: args.cache_init,
        http1_only: args.http1,
        retry: Retry {
            attempts: args.retries,
            interval_ms: args.retry_interval_ms,
        },
        qoe,
        skip_chunks: args.skip_chunks,
        ..PlayerConfig::default()
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Runs `neuralstream play`.
pub fn run(args: PlayArgs) -> Result<()> {
    let url = parse_url(&args.url)?;
    let qoe = QoeModel::from_name(&args.qoe).context("in --qoe")?;
    let player = player_config(&args, qoe.clone())?;
    anyhow::ensure!(
        (1..=100_000).contains(&args.clients),
        "--clients must be between 1 and 100000, got {}",
        args.clients
    );
    let traces = neuralstream_data::load_traces(&args.trace, args.trace_format)
        .with_context(|| format!("cannot load --trace {}", args.trace.display()))?;
    anyhow::ensure!(
        !traces.is_empty(),
        "--trace {} holds no trace",
        args.trace.display()
    );
    let (decisions, learned) = decision_source(&args)?;
    let session_prefix = args.session.clone().unwrap_or_else(unique_session_prefix);
    neuralstream_player::fleet::check_session_prefix(&session_prefix, traces.len(), args.clients)
        .with_context(|| {
        let players = traces.len() * args.clients;
        if players == 1 {
            "in --session".to_string()
        } else {
            format!("in --session (with {players} players, ids get a -tN-cN suffix)")
        }
    })?;
    let trust = match (&args.ca_cert, args.insecure) {
        (Some(p), _) => TlsTrust::CaCert(p.clone()),
        (None, true) => TlsTrust::Insecure,
        (None, false) => TlsTrust::System,
    };
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let progress = Arc::new(Progress::default());
    let cfg = FleetConfig {
        mpd_url: url.clone(),
        trust,
        traces: traces.iter().cloned().map(Arc::new).collect(),
        clients: args.clients,
        player: player.clone(),
        decisions,
        session_prefix,
        progress: progress.clone(),
    };
    let rt = runtime()?;
    let media = rt.block_on(load_fleet_media(&cfg))?;
    for note in &media.notes {
        eprintln!("note: {note}");
    }
    let video = media.video.clone();
    // QoE_lin's default stall penalty is this video's top bitrate, known only now.
    let qoe = QoeModel::for_video(&args.qoe, &video).context("in --qoe")?;
    crate::inputs::check_qoe_fits(&qoe, &args.qoe, &video)?;
    let mut cfg = cfg;
    cfg.player.qoe = qoe.clone();
    if let Some(policy) = &learned {
        policy
            .check_video(&video)
            .map_err(|e| anyhow::anyhow!("--abr {}: {e}", args.abr))?;
    }
    let per_session = player.chunks_for(video.num_chunks());
    crate::inputs::check_skip_chunks(args.skip_chunks, per_session, &video, args.max_chunks)?;
    let players = traces.len() * args.clients;
    eprintln!(
        "play: {players} player(s) ({} trace(s) x {} client(s)), video '{}' ({} levels x {} chunks of {} s), {} decisions{}, speed x{}",
        traces.len(),
        args.clients,
        video.name,
        video.num_levels(),
        per_session,
        video.chunk_duration_s,
        if args.server_decisions { "server" } else { "local" },
        if args.server_decisions { format!(" ({})", args.abr) } else { format!(": {}", args.abr) },
        args.speed
    );

    let bar = if args.quiet {
        Display::hidden()
    } else {
        Display::new(
            "play",
            (players * per_session) as u64,
            "chunks",
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} chunks {msg} (eta {eta})",
        )
    };
    let stop = AtomicBool::new(false);
    let outcome: FleetOutcome = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                bar.set_position(progress.chunks() as u64);
                bar.set_message(format!(
                    "| players done {}/{players}, failed {}",
                    progress.players_done.load(Ordering::Relaxed),
                    progress.players_failed.load(Ordering::Relaxed)
                ));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let r = rt.block_on(run_fleet_with(cfg, media));
        stop.store(true, Ordering::Relaxed);
        r
    })?;
    bar.finish_and_clear();
    report(&args, &traces, &outcome, &qoe, per_session)
}

/// Appends `requests.csv` rows for one session's requests; returns the body bytes they carried.
fn request_rows(csv: &mut String, session: &str, name: &str, requests: &[RequestRecord]) -> u64 {
    let mut bytes = 0;
    for r in requests {
        let t = &r.transfer;
        bytes += t.bytes;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(session),
            csv_field(name),
            r.chunk,
            r.level,
            r.kind,
            t.bytes,
            t.request_s,
            t.sent_s,
            t.first_byte_s,
            t.finish_s,
            t.link_s,
            t.retries,
            csv_field(&t.url)
        );
    }
    bytes
}

/// What the results files say about a `play` run (one row per session, no simulator).
fn play_meta(args: &PlayArgs, traces: usize, video: &str, qoe: &str, wall_s: f64) -> BenchMeta {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    BenchMeta {
        video: video.to_owned(),
        traces_source: format!(
            "play {} --trace {}: {traces} trace{} x {} client{}, one row per session",
            args.url,
            args.trace.display(),
            plural(traces),
            args.clients,
            plural(args.clients)
        ),
        traces: 0,
        qoe: qoe.to_owned(),
        skip_chunks: args.skip_chunks,
        seed: 0,
        wall_s,
        version: env!("CARGO_PKG_VERSION").to_string(),
        simulator: None,
    }
}

/// Scores, prints and writes everything; fails (after writing) when a player failed.
fn report(
    args: &PlayArgs,
    traces: &[Trace],
    outcome: &FleetOutcome,
    qoe: &QoeModel,
    per_session: usize,
) -> Result<()> {
    let video = &outcome.media.video;
    let compiled = qoe.compile(video)?;
    let mut recorded: Vec<RecordedSession> = Vec::new();
    let mut sessions_json = Vec::new();
    let mut requests_csv = String::from(
        "session,trace,chunk,level,kind,bytes,request_s,sent_s,first_byte_s,finish_s,link_s,retries,url\n",
    );
    let mut errors: Vec<String> = Vec::new();
    let mut decision_ms: Vec<f64> = Vec::new();
    let mut bytes_total = 0u64;
    let mut incomplete = 0usize;
    for s in &outcome.sessions {
        let trace = &traces[s.trace_index];
        let name = if args.clients == 1 {
            trace.name.clone()
        } else {
            format!("{}#c{}", trace.name, s.client)
        };
        let o = match &s.outcome {
            Ok(o) => o,
            Err(e) => {
                errors.push(format!("{} ({name}): {e}", s.session));
                sessions_json.push(SessionSummary::failed(
                    s.session.clone(),
                    name,
                    s.client,
                    e.to_string(),
                ));
                continue;
            }
        };
        decision_ms.extend_from_slice(&o.decision_ms);
        if o.records.len() != per_session {
            incomplete += 1;
        }
        bytes_total += request_rows(&mut requests_csv, &s.session, &name, &o.requests);
        let qoe = compiled.score(&o.records, args.skip_chunks).qoe;
        sessions_json.push(SessionSummary::of(
            o,
            name.clone(),
            s.client,
            per_session,
            qoe,
        ));
        let mut trace = trace.clone();
        trace.name = name;
        recorded.push(RecordedSession {
            algorithm: o.algorithm.clone(),
            trace,
            log: SessionLog {
                records: o.records.clone(),
                decisions: o.plain_decisions(),
            },
        });
    }
    let meta = play_meta(args, traces.len(), &video.name, &qoe.spec(), outcome.wall_s);
    let RecordedResults {
        results,
        logs,
        traces: session_traces,
    } = score_recorded(recorded, meta, &compiled, args.skip_chunks);
    decision_ms.sort_by(f64::total_cmp);
    let players = outcome.sessions.len();
    let summary = RunSummary {
        url: args.url.clone(),
        trace: args.trace.display().to_string(),
        abr: args.abr.clone(),
        server_decisions: args.server_decisions,
        clients_per_trace: args.clients,
        players,
        errors: errors.len(),
        incomplete_sessions: incomplete,
        speed: args.speed,
        trace_clock: args.trace_clock.clone(),
        cache_init: args.cache_init,
        wall_s: outcome.wall_s,
        bytes_downloaded: bytes_total,
        decision_ms_p50: percentile(&decision_ms, 0.5),
        decision_ms_p99: percentile(&decision_ms, 0.99),
        sessions: sessions_json,
    };

    if !results.per_trace.is_empty() {
        say!("{}", neuralstream_report::summary_table(&results));
    }
    let out = &args.out;
    let mut written = write_results(out, &results)
        .with_context(|| format!("cannot write results into {}", out.display()))?;
    written.push(
        write_chunk_log(out, &session_traces, &logs)
            .with_context(|| format!("cannot write chunks.csv into {}", out.display()))?,
    );
    written.push(write_file(&out.join("requests.csv"), &requests_csv)?);
    written.push(write_file(&out.join("play.json"), &summary.to_json())?);
    crate::telemetry::record_sessions(
        &args.telemetry,
        neuralstream_telemetry::Source::Play,
        &video.name,
        &session_traces,
        &logs,
        &results,
    )?;
    say!(
        "{players} player(s), {} error(s), {} incomplete; {:.2} s wall; {:.1} MB downloaded; decision latency p50 {:.3} ms, p99 {:.3} ms",
        errors.len(),
        incomplete,
        outcome.wall_s,
        bytes_total as f64 / 1e6,
        percentile(&decision_ms, 0.5),
        percentile(&decision_ms, 0.99),
    );
    say!(
        "wrote {}",
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !errors.is_empty() {
        for e in errors.iter().take(5) {
            eprintln!("player failed: {e}");
        }
        if errors.len() > 5 {
            eprintln!("... and {} more (all in play.json)", errors.len() - 5);
        }
        bail!("{} of {players} player(s) failed", errors.len());
    }
    Ok(())
}

/// `play-{pid}{time}` in base 36: unique per run on one machine.
fn unique_session_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut n = (u64::from(std::process::id()) << 40) ^ nanos;
    let mut s = String::new();
    while n > 0 {
        let d = (n % 36) as u32;
        s.push(char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    format!("play-{s}")
}

fn write_file(path: &Path, text: &str) -> Result<PathBuf> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}
