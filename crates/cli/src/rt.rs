//! `neuralstream rt`: the real-time mode (live video, cloud gaming). Flags in, calls into
//! `neuralstream-rt`, table and result files out.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use neuralstream_rt::{bench, LinkConfig, MahimahiOptions, QueueLimit, RtConfig};
use std::path::PathBuf;

/// `neuralstream rt ...`.
#[derive(Debug, Args)]
pub struct RtArgs {
    #[command(subcommand)]
    command: RtCommand,
}

#[derive(Debug, Subcommand)]
enum RtCommand {
    /// Run rate controllers x link traces in the frame-level simulator; print a table, write
    /// results.json, sessions.csv and summary.csv.
    #[command(after_help = RT_BENCH_EXAMPLES)]
    Bench(RtBenchArgs),
    /// Train the LSTM next-interval capacity predictor on the train split and compare its MAPE
    /// with an EWMA's (smoothing chosen on validation) on the test split.
    Predict(RtPredictArgs),
    /// Train the DQN encoder controller in simulation on the train split, keeping the network
    /// that best beats GCC on the validation split with p95 frame delay and frozen ratio no
    /// worse than GCC's on every family; writes DIR/model.safetensors (run it
    /// with `rt bench --controllers learned:DIR/model.safetensors`) and DIR/curve.csv.
    #[command(after_help = RT_TRAIN_EXAMPLES)]
    Train(RtTrainArgs),
    /// Headless real-time senders: the simulator's source, encoder and trace-shaped link paced to
    /// the wall clock, asking a server's /api/v1/rt/metrics (or a local controller) for their
    /// settings every interval; writes the files `rt bench` writes.
    Client(crate::rt_client::RtClientArgs),
    /// Encode game-like synthetic content over resolution x fps x bitrate with FFmpeg, measure
    /// SSIM/PSNR against the source and write the table rt's opinion model reads
    /// (crates/rt/data/quality_table.json).
    QualityFit(crate::rt_quality::RtQualityFitArgs),
}

const RT_TRAIN_EXAMPLES: &str = "Examples:
  neuralstream rt train --traces ../shared/data/rtc --out out/rt-dqn
  neuralstream rt bench --traces ../shared/data/rtc --split test --controllers learned:out/rt-dqn/model.safetensors,gcc,oracle
  neuralstream rt train --dataset out/rt-data --out out/rt-offline   (offline, from `serve --rt-dataset`)";

/// Flags of `neuralstream rt train`.
#[derive(Debug, Args)]
pub struct RtTrainArgs {
    /// Folder of traces (as for `rt bench`); trains on the train split, selects on validation.
    #[arg(long, value_name = "DIR", required_unless_present = "dataset")]
    traces: Option<PathBuf>,
    /// Train offline instead, from a metrics dataset recorded by `serve --rt-dataset DIR` (every
    /// *.jsonl of the folder): double DQN on the logged transitions, no simulator.
    #[arg(long, value_name = "DIR", conflicts_with = "traces")]
    dataset: Option<PathBuf>,
    /// Gradient steps of offline training (--dataset).
    #[arg(long, default_value_t = neuralstream_rt::offline::OfflineConfig::default().grad_steps, value_name = "N")]
    grad_steps: u64,
    /// Output folder (model.safetensors, curve.csv).
    #[arg(long, default_value = "out/rt-dqn", value_name = "DIR")]
    out: PathBuf,
    /// Training episodes (whole sessions on random train traces).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().episodes, value_name = "N")]
    episodes: usize,
    /// Validate (and maybe keep the network) every this many iterations of 2 episodes.
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().validate_every, value_name = "N")]
    validate_every: usize,
    /// Seed of initialisation, exploration, trace draws and simulator seeds.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Capture rate, 30 or 60 fps.
    #[arg(long, default_value_t = 60, value_name = "FPS")]
    fps: u32,
    /// Worker threads (results do not depend on it).
    #[arg(long, default_value_t = 2, value_name = "N")]
    threads: usize,
    /// The shield: above this mean queueing delay (or with a loss) in the last report, the
    /// bitrate multiplier is capped at --guard-cap (below GCC's estimate); 0 turns it off.
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().guard_queue_ms.unwrap_or(0.0), value_name = "MS")]
    guard_queue_ms: f64,
    /// The shield's cap above --guard-queue-ms or on a loss (1: never below GCC's estimate).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().guard_cap.unwrap_or(1.0), value_name = "X")]
    guard_cap: f64,
    /// Queueing delay below which the multiplier may exceed 1 (0: up to --guard-queue-ms).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().guard_free_ms.unwrap_or(0.0), value_name = "MS")]
    guard_free_ms: f64,
    /// Reward penalty per 100 ms of mean queueing delay above 20 ms.
    #[arg(long, default_value_t = neuralstream_rt::dqn::RewardWeights::default().delay_per_100ms, value_name = "W")]
    delay_weight: f64,
    /// The shield's frame-rate ceiling: below this applied target the frame rate is at most
    /// 30 fps, so LTE's short outages are not freezes at 60 fps (0 turns it off).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().fps_cap_below_kbps.unwrap_or(0.0), value_name = "KBPS")]
    fps_cap_below_kbps: f64,
    /// Simulator seeds per validation (selection compares means over them).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().validation_seeds, value_name = "N")]
    validation_seeds: usize,
    /// Reward penalty per 100 ms of frozen display by WebRTC's freeze rule (0: not charged).
    #[arg(long, default_value_t = neuralstream_rt::dqn::RewardWeights::default().frozen_per_100ms, value_name = "W")]
    freeze_weight: f64,
    /// The shield's pause rule: at most 30 fps while the last 5 s of arrivals held at least this
    /// many pauses of 100 ms or more (0 turns it off).
    #[arg(long, default_value_t = neuralstream_rt::dqn::TrainConfig::default().fps_cap_after_pauses.unwrap_or(0), value_name = "N")]
    fps_cap_after_pauses: usize,
    /// Give the network the link's recent pauses as features (false: the first model files'
    /// 16 features).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pause_features: bool,
    /// Train and validate with WebRTC's congestion window in the simulator (as `rt bench
    /// --cwnd-ms`). Off by default.
    #[arg(long, value_name = "MS")]
    cwnd_ms: Option<f64>,
}

/// Flags of `neuralstream rt predict`.
#[derive(Debug, Args)]
pub struct RtPredictArgs {
    /// Folder of traces (as for `rt bench`); split into train / validation / test by link.
    #[arg(long, value_name = "DIR")]
    traces: PathBuf,
    /// Interval length, ms.
    #[arg(long, default_value_t = 200.0, value_name = "MS")]
    interval_ms: f64,
    /// Adam steps.
    #[arg(long, default_value_t = 1500, value_name = "N")]
    iterations: usize,
    /// Seed of initialisation and window draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const RT_BENCH_EXAMPLES: &str = "Examples:
  neuralstream rt bench --traces ../shared/data/rtc --controllers gcc,fixed,oracle
  neuralstream rt bench --traces ../shared/data/rtc/mahimahi --split test --fps 30 --out out/rt-mm
  neuralstream rt bench --traces ../shared/data/rtc --controllers gcc,fixed:2500 --duration-s 60";

/// Flags of `neuralstream rt bench`.
#[derive(Debug, Args)]
pub struct RtBenchArgs {
    /// Folder of traces, searched recursively: onl-emu *.json and Mahimahi *.up / *.down files.
    #[arg(long, value_name = "DIR")]
    traces: PathBuf,
    /// Comma-separated controllers: gcc, fixed (or fixed:KBPS), oracle, learned:PATH (a model from
    /// `rt train`).
    #[arg(long, default_value = "gcc,fixed,oracle", value_name = "LIST")]
    controllers: String,
    /// Which traces: all, train, validation or test (split by a hash of the file name).
    #[arg(long, default_value = "all", value_name = "SPLIT")]
    split: String,
    /// Session length, s; default: one loop of each trace.
    #[arg(long, value_name = "S")]
    duration_s: Option<f64>,
    /// Capture rate, 30 or 60 fps.
    #[arg(long, default_value_t = 60, value_name = "FPS")]
    fps: u32,
    /// Drop-tail queue in packets (onl-emu's netem limit: 50).
    #[arg(
        long,
        default_value_t = 50,
        value_name = "N",
        conflicts_with = "queue_ms"
    )]
    queue_packets: usize,
    /// Drop-tail queue in ms of the current capacity instead (AlphaRTC gym: 300).
    #[arg(long, value_name = "MS")]
    queue_ms: Option<f64>,
    /// Round-trip propagation delay for Mahimahi traces (which carry none), ms.
    #[arg(long, default_value_t = 40.0, value_name = "MS")]
    mahimahi_rtt_ms: f64,
    /// Seed of every random draw (content, encoder noise, link loss).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "out/rt", value_name = "DIR")]
    out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// NACK: re-send a lost packet once, an RTT after the gap is noticed, if it can arrive within
    /// this many ms of its frame's capture (otherwise the key-frame request path). Off by default.
    #[arg(long, value_name = "MS")]
    nack_ms: Option<f64>,
    /// WebRTC's congestion window: the pacer holds packets while the bytes in flight exceed
    /// target x (RTT + this many ms), GoogCC's 350, and the encoder drops the frames captured
    /// meanwhile. Off by default.
    #[arg(long, value_name = "MS")]
    cwnd_ms: Option<f64>,
    /// Skip the charts (frame-delay CDF per controller, session timelines).
    #[arg(long)]
    no_charts: bool,
    /// Trace whose sessions get a timeline chart, one per controller (a name as in the table's
    /// sessions.csv, or a part of it); default: the first trace.
    #[arg(long, value_name = "NAME")]
    timeline: Option<String>,
}

/// Runs `neuralstream rt`.
pub fn run(args: RtArgs) -> Result<()> {
    match args.command {
        RtCommand::Bench(a) => run_bench(a),
        RtCommand::Predict(a) => run_predict(a),
        RtCommand::Train(a) => run_train(a),
        RtCommand::Client(a) => crate::rt_client::run_client(a),
        RtCommand::QualityFit(a) => crate::rt_quality::run_quality_fit(a),
    }
}

fn run_bench(a: RtBenchArgs) -> Result<()> {
    let controllers = bench::ControllerSpec::parse_list(&a.controllers)
        .with_context(|| format!("--controllers {}", a.controllers))?;
    let mahimahi = MahimahiOptions {
        rtt_ms: a.mahimahi_rtt_ms,
        ..Default::default()
    };
    anyhow::ensure!(
        a.mahimahi_rtt_ms.is_finite() && a.mahimahi_rtt_ms >= 0.0,
        "--mahimahi-rtt-ms must be a number >= 0"
    );
    let traces = neuralstream_rt::read_trace_dir(&a.traces, mahimahi)
        .with_context(|| format!("--traces {}", a.traces.display()))?;
    let traces = neuralstream_rt::select_split(traces, &a.split, &a.traces)
        .with_context(|| format!("--split {}", a.split))?;
    anyhow::ensure!(a.fps == 30 || a.fps == 60, "--fps {}: use 30 or 60", a.fps);
    if let Some(d) = a.duration_s {
        anyhow::ensure!(
            d.is_finite() && (1.0..=86_400.0).contains(&d),
            "--duration-s {d}: use 1 to 86400 seconds, or leave it out to play each trace once"
        );
    }
    if let Some(ms) = a.queue_ms {
        anyhow::ensure!(
            ms.is_finite() && ms > 0.0,
            "--queue-ms {ms}: use a positive number of ms"
        );
    }
    anyhow::ensure!(a.queue_packets >= 1, "--queue-packets must be at least 1");
    let config = RtConfig {
        source_fps: a.fps,
        duration_ms: a.duration_s.unwrap_or(60.0) * 1000.0,
        seed: a.seed,
        nack_deadline_ms: a.nack_ms,
        cwnd_queue_ms: a.cwnd_ms,
        link: LinkConfig {
            queue: match a.queue_ms {
                Some(ms) => QueueLimit::Ms(ms),
                None => QueueLimit::Packets(a.queue_packets),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let threads = match a.threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let started = std::time::Instant::now();
    let (report, logs) = neuralstream_rt::run_bench(
        &traces,
        &controllers,
        &config,
        a.duration_s.is_none(),
        threads,
        !a.no_charts,
    )
    .context("rt bench")?;
    let wall = started.elapsed();
    say!("{}", bench::table(&report));
    let mut paths = neuralstream_rt::write_results(&report, &a.out)?;
    if !a.no_charts {
        paths.extend(rt_charts(&traces, &logs, a.timeline.as_deref(), &a.out)?);
    }
    say!(
        "{} sessions ({} traces x {} controllers) in {:.2} s; wrote {}",
        report.sessions.len(),
        traces.len(),
        controllers.len(),
        wall.as_secs_f64(),
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// A file-name-safe form of a controller or trace name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `rt bench`'s charts: the frame-delay CDF of every controller (all its sessions' frames
/// pooled) and one timeline per controller on the chosen trace.
fn rt_charts(
    traces: &[neuralstream_rt::LinkTrace],
    logs: &[neuralstream_rt::SessionLog],
    timeline: Option<&str>,
    out: &std::path::Path,
) -> Result<Vec<PathBuf>> {
    use neuralstream_report::{cdf_chart, panels_chart, Panel};
    use neuralstream_rt::series::{frame_delays_ms, TimelineSeries};
    let mut names: Vec<&str> = Vec::new();
    for l in logs {
        if !names.contains(&l.controller.as_str()) {
            names.push(&l.controller);
        }
    }
    let delays: Vec<Vec<f64>> = names
        .iter()
        .map(|n| {
            logs.iter()
                .filter(|l| l.controller == *n)
                .flat_map(frame_delays_ms)
                .collect()
        })
        .collect();
    let mut pooled: Vec<f64> = delays.iter().flatten().copied().collect();
    let x_max = neuralstream_rt::score::percentile(&mut pooled, 0.99);
    let curves: Vec<(&str, &[f64])> = names
        .iter()
        .zip(&delays)
        .map(|(n, d)| (*n, d.as_slice()))
        .collect();
    let mut paths = cdf_chart(
        &format!(
            "Frame delay, capture to display ({} traces; the tail above the 99th percentile drawn at it)",
            traces.len()
        ),
        "frame delay (ms)",
        "fraction of frames",
        x_max,
        &curves,
        &out.join("frame_delay_cdf"),
    )?;
    let trace = match timeline {
        Some(want) => traces
            .iter()
            .find(|t| t.name == want)
            .or_else(|| traces.iter().find(|t| t.name.contains(want)))
            .with_context(|| format!("--timeline {want}: no such trace in this run"))?,
        None => match traces.first() {
            Some(t) => t,
            None => return Ok(paths),
        },
    };
    for log in logs.iter().filter(|l| l.trace == trace.name) {
        let s = TimelineSeries::of(log, trace, 200.0);
        let panels = [
            Panel {
                y_desc: "Mbit/s".into(),
                area: Some(("capacity".into(), s.capacity_mbps)),
                lines: vec![
                    ("target".into(), s.target_mbps),
                    ("delivered (200 ms bins)".into(), s.delivered_mbps),
                ],
            },
            Panel {
                y_desc: "frame delay (ms)".into(),
                area: None,
                lines: vec![("largest per 200 ms".into(), s.frame_delay_ms)],
            },
            Panel {
                y_desc: "picture height".into(),
                area: None,
                lines: vec![("resolution".into(), s.height)],
            },
            Panel {
                y_desc: "frames/s".into(),
                area: None,
                lines: vec![("encoded fps".into(), s.fps)],
            },
        ];
        paths.extend(panels_chart(
            &format!("{} on {} ({})", log.controller, trace.name, trace.family),
            "session time (s)",
            &panels,
            &out.join(format!(
                "timeline_{}_{}",
                file_safe(&log.controller),
                file_safe(&trace.name)
            )),
        )?);
    }
    Ok(paths)
}

fn run_predict(a: RtPredictArgs) -> Result<()> {
    anyhow::ensure!(
        a.interval_ms.is_finite() && (10.0..=10_000.0).contains(&a.interval_ms),
        "--interval-ms {}: use 10 to 10000 ms",
        a.interval_ms
    );
    anyhow::ensure!(a.iterations >= 1, "--iterations must be at least 1");
    let traces = neuralstream_rt::read_trace_dir(&a.traces, MahimahiOptions::default())
        .with_context(|| format!("--traces {}", a.traces.display()))?;
    let cfg = neuralstream_rt::predictor::PredictorConfig {
        interval_ms: a.interval_ms,
        iterations: a.iterations,
        seed: a.seed,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let r = neuralstream_rt::predictor::compare(&traces, &cfg).context("rt predict")?;
    say!(
        "EWMA alpha {} (chosen on validation): validation MAPE {:.4}; LSTM validation MAPE {:.4}",
        r.ewma_alpha,
        r.ewma_validation_mape,
        r.lstm_validation_mape
    );
    say!(
        "{:<10} {:>10} {:>10} {:>12}",
        "test",
        "ewma_mape",
        "lstm_mape",
        "lstm/ewma"
    );
    for (family, ewma, lstm) in &r.test {
        say!(
            "{family:<10} {ewma:>10.4} {lstm:>10.4} {:>12.3}",
            lstm / ewma
        );
    }
    say!("in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run_train(a: RtTrainArgs) -> Result<()> {
    use neuralstream_rt::dqn;
    if let Some(dir) = &a.dataset {
        return run_train_dataset(dir, &a);
    }
    anyhow::ensure!(a.fps == 30 || a.fps == 60, "--fps {}: use 30 or 60", a.fps);
    anyhow::ensure!(a.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(
        a.guard_queue_ms.is_finite() && a.guard_queue_ms >= 0.0,
        "--guard-queue-ms {}: use a number of ms >= 0 (0: no shield)",
        a.guard_queue_ms
    );
    anyhow::ensure!(
        a.guard_cap.is_finite() && a.guard_cap > 0.0 && a.guard_cap <= 1.0,
        "--guard-cap {}: use a multiplier in (0, 1]",
        a.guard_cap
    );
    anyhow::ensure!(
        a.guard_free_ms.is_finite() && a.guard_free_ms >= 0.0,
        "--guard-free-ms {}: use a number of ms >= 0 (0: probing allowed up to --guard-queue-ms)",
        a.guard_free_ms
    );
    anyhow::ensure!(
        a.delay_weight.is_finite() && a.delay_weight >= 0.0,
        "--delay-weight {}: use a number >= 0",
        a.delay_weight
    );
    anyhow::ensure!(
        a.freeze_weight.is_finite() && a.freeze_weight >= 0.0,
        "--freeze-weight {}: use a number >= 0",
        a.freeze_weight
    );
    let traces_dir = a
        .traces
        .as_deref()
        .context("give --traces DIR or --dataset DIR")?;
    let traces = neuralstream_rt::read_trace_dir(traces_dir, MahimahiOptions::default())
        .with_context(|| format!("--traces {}", traces_dir.display()))?;
    let pick = |split| -> Vec<_> {
        traces
            .iter()
            .filter(|t| t.split == Some(split))
            .cloned()
            .collect()
    };
    let (train, validation) = (
        pick(neuralstream_rt::Split::Train),
        pick(neuralstream_rt::Split::Validation),
    );
    let cfg = dqn::TrainConfig {
        seed: a.seed,
        episodes: a.episodes,
        validate_every: a.validate_every,
        threads: a.threads,
        guard_queue_ms: (a.guard_queue_ms > 0.0).then_some(a.guard_queue_ms),
        guard_cap: Some(a.guard_cap),
        guard_free_ms: (a.guard_free_ms > 0.0).then_some(a.guard_free_ms),
        fps_cap_below_kbps: (a.fps_cap_below_kbps > 0.0).then_some(a.fps_cap_below_kbps),
        validation_seeds: a.validation_seeds,
        fps_cap_after_pauses: (a.fps_cap_after_pauses > 0).then_some(a.fps_cap_after_pauses),
        features: if a.pause_features {
            dqn::N_FEATURES
        } else {
            dqn::LEGACY_FEATURES
        },
        reward: dqn::RewardWeights {
            delay_per_100ms: a.delay_weight,
            frozen_per_100ms: a.freeze_weight,
            ..Default::default()
        },
        session: RtConfig {
            source_fps: a.fps,
            cwnd_queue_ms: a.cwnd_ms,
            ..Default::default()
        },
        ..Default::default()
    };
    cfg.validate().context("rt train settings")?;
    eprintln!(
        "rt train: {} train and {} validation traces, {} episodes, seed {}",
        train.len(),
        validation.len(),
        cfg.episodes,
        cfg.seed
    );
    let started = std::time::Instant::now();
    let (mut model, report) = dqn::train(&train, &validation, &cfg, |p| {
        eprintln!(
            "episodes {:>5}  eps {:.3}  reward {:>7.3}  loss {:>8.4}  validation onl_qoe {:>6.2}  vs gcc: bounded {} min family gain {:>6.2} excess {:.3}  ({:.0} s)",
            p.episodes,
            p.epsilon,
            p.mean_reward,
            p.loss,
            p.validation_onl_qoe,
            p.selection.bounded,
            p.selection.min_gain,
            p.selection.excess,
            started.elapsed().as_secs_f64()
        )
    })
    .context("rt train")?;
    model.meta.git_commit = Some(env!("NEURALSTREAM_GIT_COMMIT").to_owned());
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
    let path = a.out.join("model.safetensors");
    model.save(&path)?;
    let mut curve =
        String::from("episodes,epsilon,mean_reward,loss,grad_steps,validation_onl_qoe,bounded_by_gcc,min_family_gain_over_gcc\n");
    for p in &report.curve {
        curve.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            p.episodes,
            p.epsilon,
            p.mean_reward,
            p.loss,
            p.grad_steps,
            p.validation_onl_qoe,
            p.selection.bounded,
            p.selection.min_gain
        ));
    }
    let curve_path = a.out.join("curve.csv");
    std::fs::write(&curve_path, curve).with_context(|| curve_path.display().to_string())?;
    say!(
        "kept the network of episode {} (validation onl_qoe {:.2}); {:.1} s; wrote {} and {}",
        report.best_episodes,
        report.best_validation_onl_qoe,
        started.elapsed().as_secs_f64(),
        path.display(),
        curve_path.display()
    );
    Ok(())
}

/// `rt train --dataset DIR`: offline double DQN from a recorded metrics dataset.
fn run_train_dataset(dir: &std::path::Path, a: &RtTrainArgs) -> Result<()> {
    use neuralstream_rt::offline;
    anyhow::ensure!(a.grad_steps >= 1, "--grad-steps must be at least 1");
    let records = neuralstream_rt::dataset::read_dataset_dir(dir)
        .with_context(|| format!("--dataset {}", dir.display()))?;
    let cfg = offline::OfflineConfig {
        seed: a.seed,
        grad_steps: a.grad_steps,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let (mut model, report) =
        offline::train_offline(&records, &cfg).context("rt train --dataset")?;
    model.meta.git_commit = Some(env!("NEURALSTREAM_GIT_COMMIT").to_owned());
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
    let path = a.out.join("model.safetensors");
    model.save(&path)?;
    say!(
        "{} records, {} sessions, {} transitions (mean logged reward {:.3}); {} steps, final loss {:.4}; {:.1} s; wrote {}",
        records.len(),
        report.sessions,
        report.transitions,
        report.mean_reward,
        cfg.grad_steps,
        report.final_loss,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}
