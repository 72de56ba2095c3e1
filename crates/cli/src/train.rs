//! `neuralstream train`: the training pipeline (imitation of the offline optimum with DAgger, then
//! approximate policy iteration by default; PPO, A2C and DQN selectable), with a live validation score, safetensors
//! checkpoints, a training curve (CSV, PNG, SVG) and a stage-contribution chart.

use crate::inputs;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::{load_traces, TraceFormat};
use neuralstream_learn::pipeline::{train_pipeline, PipelineConfig, StageKind};
use neuralstream_learn::{curve_csv, session_qoes, FeatureSpec, TrainingCheckpoint, ValMetric};
use neuralstream_report::{stage_chart, training_curve_chart, Reference, StageBar, TrainingPoint};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Default `--hidden`: two hidden layers of 128.
const DEFAULT_HIDDEN: &str = "128,128";
/// Default `--history`: Pensieve's 8 chunks.
const DEFAULT_HISTORY: usize = 8;

/// Arguments of `neuralstream train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training traces (file or folder). A validation split of them selects the checkpoint; never
    /// pass test traces here. Without it, synthetic traces are generated.
    #[arg(long, value_name = "PATH")]
    pub traces: Option<PathBuf>,
    /// Trace file format: auto, cooked or mahimahi.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub trace_format: TraceFormat,
    /// Number of synthetic traces when --traces is not given.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub synthetic_traces: usize,
    /// Video (NeuralStream video.json, or a folder of Pensieve video_size_* files); default built-in.
    #[arg(long, value_name = "PATH")]
    pub video: Option<PathBuf>,
    /// QoE model to optimise: lin, log or hd, or ssim, vmaf or psnr on the video's per-chunk quality
    /// scores (as `bench --qoe`).
    #[arg(long, default_value = "lin", value_name = "MODEL")]
    pub qoe: String,
    /// Seed (trace split, initialisation, environments, minibatch order); same seed, same policy.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Algorithm: `policy-iteration` (alias `api`: imitation, then approximate policy iteration
    /// with all-action rollouts: the default recipe), `ppo` (imitation, then PPO fine-tuning), `imitation` (imitation with
    /// DAgger only), `a2c` (Pensieve's actor-critic from scratch) or `dqn` (from scratch).
    #[arg(long, default_value = "policy-iteration", value_name = "ALGO")]
    pub algo: String,
    /// Explicit comma-separated stages, overriding --algo, e.g. `imitation,ppo` or `imitation,a2c`.
    #[arg(long, value_name = "LIST")]
    pub stages: Option<String>,
    /// Wall-time cap of all stages together, seconds (default 560, which leaves room for charts
    /// within 10 minutes). A safety net: the default stages end on their epoch/iteration counts
    /// before it; a run it cuts short prints a warning and is not reproducible. Stages check it
    /// between epochs and iterations, and the imitation stage's first step (solving the optimum on
    /// every training trace: about 50 s for Pensieve's 127 traces on 2 cores) is never cut.
    #[arg(long, default_value_t = 560.0, value_name = "S")]
    pub max_wall_s: f64,
    /// Share of the budget the imitation stage may use when an RL stage follows.
    #[arg(long, default_value_t = 0.6, value_name = "FRACTION")]
    pub imitation_share: f64,
    /// Behaviour-cloning epochs before the DAgger rounds (default: the trainer's, 20).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// DAgger rounds: the learner plays, the optimum relabels the states it visits (default 10).
    #[arg(long, value_name = "N")]
    pub dagger_rounds: Option<usize>,
    /// Learner sessions rolled out per DAgger round (default 100).
    #[arg(long, value_name = "N")]
    pub dagger_sessions: Option<usize>,
    /// Visited states relabelled by the optimum per rolled-out session (default 8).
    #[arg(long, value_name = "N")]
    pub dagger_states: Option<usize>,
    /// PPO iterations (each: every environment plays a batch of decisions, then a few epochs of
    /// updates; default 10000). Stages stop on their counts, so a run is reproducible unless it
    /// hits --max-wall-s.
    #[arg(long, value_name = "N")]
    pub ppo_iters: Option<usize>,
    /// Multiplicative delay noise of the training environments: every download time is scaled by
    /// U(1 - F, 1 + F) (Pensieve's training mode: 0.1; 0 turns it off). Validation never has noise.
    #[arg(long, default_value_t = 0.1, value_name = "F")]
    pub delay_noise: f64,
    /// Hidden layer widths of a new policy network, comma-separated [default: 128,128]. With
    /// --resume the checkpoint's network is kept.
    #[arg(long, value_name = "LIST")]
    pub hidden: Option<String>,
    /// Past chunks whose throughput and download time the policy sees (Pensieve: 8) [default: 8].
    /// With --resume the checkpoint's is kept.
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Policy-iteration rounds of the `api` stage (each: roll the policy in, roll every level out
    /// from sampled decisions, regress the advantages).
    #[arg(long, value_name = "N")]
    pub api_iters: Option<usize>,
    /// Training sessions rolled in per `api` iteration.
    #[arg(long, value_name = "N")]
    pub api_sessions: Option<usize>,
    /// Decisions per session whose levels are all rolled out in the `api` stage.
    #[arg(long, value_name = "N")]
    pub api_states: Option<usize>,
    /// Regression epochs per `api` iteration.
    #[arg(long, value_name = "N")]
    pub api_epochs: Option<usize>,
    /// Iterations whose rolled-out data the `api` stage keeps for regression.
    #[arg(long, value_name = "N")]
    pub api_keep: Option<usize>,
    /// Probability of a random level while the `api` stage rolls the policy in.
    #[arg(long, value_name = "P")]
    pub api_explore: Option<f64>,
    /// Per-step decay of the `api` stage's moving average of the actor weights (0: off).
    #[arg(long, value_name = "DECAY")]
    pub api_ema: Option<f32>,
    /// Advantages below minus this many QoE points are clipped in the `api` regression: a level
    /// that much worse than the best is simply bad, and the fit spends itself near the decision.
    #[arg(long, value_name = "QOE")]
    pub api_clip: Option<f32>,
    /// Trace augmentation of the `api` stage: each rolled-in session's throughput is scaled by a
    /// factor drawn log-uniformly from [1/F, F] (1: off).
    #[arg(long, value_name = "F")]
    pub api_augment: Option<f64>,
    /// Learning rate of the `api` regression.
    #[arg(long, value_name = "LR")]
    pub api_lr: Option<f32>,
    /// A2C / DQN updates (with --algo a2c / dqn or in --stages).
    #[arg(long, value_name = "N")]
    pub rl_iters: Option<usize>,
    /// PPO learning rate (default 1e-4, a fine-tuning rate).
    #[arg(long, value_name = "LR")]
    pub ppo_lr: Option<f32>,
    /// PPO learning rate at the last iteration as a fraction of --ppo-lr (linear decay over this
    /// run's --ppo-iters, so a --resume run decays anew from --ppo-lr; 1: constant).
    #[arg(long, value_name = "FRACTION")]
    pub ppo_lr_final: Option<f32>,
    /// PPO parallel environments.
    #[arg(long, value_name = "N")]
    pub ppo_envs: Option<usize>,
    /// PPO decisions per environment per iteration.
    #[arg(long, value_name = "N")]
    pub ppo_steps: Option<usize>,
    /// PPO minibatch size.
    #[arg(long, value_name = "N")]
    pub ppo_minibatch: Option<usize>,
    /// PPO passes over each batch.
    #[arg(long, value_name = "N")]
    pub ppo_epochs: Option<usize>,
    /// PPO entropy bonus weight.
    #[arg(long, value_name = "W")]
    pub ppo_entropy: Option<f32>,
    /// PPO early stop of an iteration's epochs once the approximate KL exceeds this.
    #[arg(long, value_name = "KL")]
    pub ppo_target_kl: Option<f32>,
    /// Validate every this many PPO iterations.
    #[arg(long, value_name = "N")]
    pub ppo_validate_every: Option<usize>,
    /// How validation sessions are averaged for checkpoint selection: `per-trace` (every
    /// validation trace counts once; default), `sessions` (every window counts once, so long
    /// traces weigh more) or `from-start` (only each trace's first window).
    #[arg(long, default_value = "per-trace", value_name = "METRIC")]
    pub val_metric: String,
    /// Fraction of the training traces held out for checkpoint selection.
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    pub val_fraction: f64,
    /// Continue training from a checkpoint written by `train` (its last.safetensors keeps the
    /// optimiser state): the imitation stage is skipped and the curve continues.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Test traces to score each stage's selected checkpoint on, for the stage chart only (never
    /// used for selection).
    #[arg(long, value_name = "PATH")]
    pub test_traces: Option<PathBuf>,
    /// Output folder: policy.safetensors (selected), last.safetensors (to resume),
    /// training_curve.{csv,png,svg}, stages.{csv,png,svg}.
    #[arg(long, default_value = "out/train", value_name = "DIR")]
    pub out: PathBuf,
}

/// The commit this binary was built from (`build.rs`), or "unknown" outside a git checkout.
fn git_commit() -> String {
    env!("NEURALSTREAM_GIT_COMMIT").to_owned()
}

fn stages_of(args: &TrainArgs) -> Result<Vec<StageKind>> {
    let list = match &args.stages {
        Some(s) => s.clone(),
        None => match args.algo.as_str() {
            "api" | "policy-iteration" => "imitation,api".into(),
            "ppo" => "imitation,ppo".into(),
            "imitation" => "imitation".into(),
            "a2c" => "a2c".into(),
            "dqn" => "dqn".into(),
            other => anyhow::bail!(
                "--algo {other}: unknown algorithm; expected policy-iteration (or api), ppo, imitation, a2c or dqn"
            ),
        },
    };
    let stages: Vec<StageKind> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<StageKind>().map_err(anyhow::Error::msg))
        .collect::<Result<_>>()
        .with_context(|| format!("in --stages {list}"))?;
    anyhow::ensure!(!stages.is_empty(), "--stages needs at least one stage");
    Ok(stages)
}

/// Mean test QoE of a checkpoint's greedy policy (reporting only).
fn test_score(
    ck: &TrainingCheckpoint,
    test: &[Trace],
    video: &Video,
    qoe: &QoeModel,
) -> Result<f64> {
    let compiled = qoe.compile(video)?;
    let policy = ck.policy();
    let q = session_qoes(
        || policy.clone(),
        test,
        video,
        &neuralstream_sim::SimConfig::pensieve(),
        &compiled,
        1,
    )?;
    Ok(q.iter().sum::<f64>() / q.len().max(1) as f64)
}

/// A learning rate must be a finite number in (0, 1]: above 1 Adam's steps are as large as the
/// weights themselves.
fn check_lr(flag: &str, lr: f32) -> Result<()> {
    anyhow::ensure!(
        lr.is_finite() && lr > 0.0 && lr <= 1.0,
        "{flag} must be a learning rate in (0, 1] (e.g. 3e-4), got {lr}"
    );
    Ok(())
}

/// Widest hidden layer `--hidden` accepts (a 4096 x 4096 layer is 64 MB of weights).
const MAX_HIDDEN_WIDTH: usize = 4096;
/// Deepest network `--hidden` accepts.
const MAX_HIDDEN_LAYERS: usize = 8;

/// Runs `neuralstream train`.
pub fn run(args: TrainArgs) -> Result<()> {
    anyhow::ensure!(
        args.val_fraction > 0.0 && args.val_fraction < 1.0,
        "--val-fraction must be between 0 and 1, got {}",
        args.val_fraction
    );
    anyhow::ensure!(
        args.max_wall_s > 0.0,
        "--max-wall-s must be positive, got {}",
        args.max_wall_s
    );
    anyhow::ensure!(
        args.imitation_share > 0.0 && args.imitation_share <= 1.0,
        "--imitation-share must be in (0, 1], got {}",
        args.imitation_share
    );
    anyhow::ensure!(args.epochs != Some(0), "--epochs must be at least 1");
    let qoe = QoeModel::from_name(&args.qoe).context("in --qoe")?;
    let mut stages = stages_of(&args)?;
    let video = inputs::video(args.video.as_deref())?;
    inputs::check_qoe_fits(&qoe, &args.qoe, &video)?;
    let (traces, source) = inputs::traces(
        args.traces.as_deref(),
        args.trace_format,
        args.synthetic_traces,
        args.seed,
    )?;
    anyhow::ensure!(
        traces.len() >= 2,
        "train needs at least 2 traces (part of them is held out for validation), got {} from \
         {source}; pass a folder with more with --traces, or --synthetic-traces N",
        traces.len()
    );
    let test = match &args.test_traces {
        Some(p) => Some(
            load_traces(p, args.trace_format)
                .with_context(|| format!("cannot load --test-traces {}", p.display()))?,
        ),
        None => None,
    };
    let history = args.history.unwrap_or(DEFAULT_HISTORY);
    anyhow::ensure!(
        (1..=FeatureSpec::MAX_HISTORY_LEN).contains(&history),
        "--history must be between 1 and {} chunks, got {history}",
        FeatureSpec::MAX_HISTORY_LEN,
    );
    let hidden_arg = args.hidden.as_deref().unwrap_or(DEFAULT_HIDDEN);
    let hidden: Vec<usize> = hidden_arg
        .split(',')
        .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
        .collect::<Option<_>>()
        .with_context(|| {
            format!(
                "--hidden {hidden_arg}: expected comma-separated positive widths such as 128,128"
            )
        })?;
    anyhow::ensure!(
        hidden.len() <= MAX_HIDDEN_LAYERS && hidden.iter().all(|&w| w <= MAX_HIDDEN_WIDTH),
        "--hidden {hidden_arg}: at most {MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN_WIDTH} units each \
         (the default 128,128 is what the recorded results use)"
    );
    let resume = match &args.resume {
        Some(p) => {
            let ck = TrainingCheckpoint::load(p)
                .with_context(|| format!("cannot resume from --resume {}", p.display()))?;
            stages.retain(|s| *s != StageKind::Imitation);
            anyhow::ensure!(
                !stages.is_empty(),
                "--resume continues training with an RL stage, but the stages asked for ({}) are \
                 only imitation, which always starts from scratch; pass e.g. --stages api (or \
                 --algo api / ppo / a2c / dqn), or drop --resume",
                args.stages.as_deref().unwrap_or(&args.algo)
            );
            let ladder = video.ladder.bitrates_kbps();
            if !ck.ladder_kbps.is_empty()
                && ck.ladder_kbps.len() == ladder.len()
                && ck.ladder_kbps != ladder
            {
                eprintln!(
                    "note: --resume {} was trained on the ladder {:?} kbit/s; this video's is {:?}. \
                     Its inputs are relative to the ladder, so training goes on, but what it learned \
                     about these rungs may not carry over",
                    p.display(),
                    ck.ladder_kbps,
                    ladder
                );
            }
            let ck_hidden = &ck.actor.sizes()[1..ck.actor.sizes().len() - 1];
            // Flags given on the command line that ask for another shape than the file's.
            let mut ignored = Vec::new();
            if args.hidden.is_some() && hidden != ck_hidden {
                ignored.push("--hidden");
            }
            if args.history.is_some_and(|h| h != ck.spec.history_len) {
                ignored.push("--history");
            }
            if !ignored.is_empty() {
                eprintln!(
                    "note: {} shape{} a new network; --resume keeps the checkpoint's \
                     ({:?} hidden, {} chunks of history)",
                    ignored.join(" and "),
                    if ignored.len() == 1 { "s" } else { "" },
                    ck_hidden,
                    ck.spec.history_len
                );
            }
            Some(ck)
        }
        None => None,
    };
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let defaults = PipelineConfig::default();
    let mut cfg = PipelineConfig {
        seed: args.seed,
        stages: stages.clone(),
        max_wall_s: args.max_wall_s,
        imitation_share: args.imitation_share,
        val_fraction: args.val_fraction,
        qoe: qoe.clone(),
        val_metric: args
            .val_metric
            .parse::<ValMetric>()
            .map_err(anyhow::Error::msg)
            .context("in --val-metric")?,
        ..defaults
    };
    cfg.history_len = history;
    cfg.actor_hidden.clone_from(&hidden);
    cfg.imitation.hidden = hidden;
    anyhow::ensure!(
        (0.0..1.0).contains(&args.delay_noise),
        "--delay-noise must be in [0, 1), got {}",
        args.delay_noise
    );
    cfg.train_sim.delay_noise =
        (args.delay_noise > 0.0).then_some((1.0 - args.delay_noise, 1.0 + args.delay_noise));
    if let Some(e) = args.epochs {
        cfg.imitation.epochs = e;
    }
    if let Some(r) = args.dagger_rounds {
        cfg.imitation.dagger_rounds = r;
    }
    if let Some(n) = args.dagger_sessions {
        cfg.imitation.dagger_sessions_per_round = n;
    }
    if let Some(n) = args.dagger_states {
        cfg.imitation.dagger_states_per_session = n;
    }
    if let Some(n) = args.rl_iters {
        anyhow::ensure!(n > 0, "--rl-iters must be at least 1");
        cfg.a2c.max_iters = n;
        cfg.dqn.max_iters = n;
    }
    if let Some(lr) = args.ppo_lr {
        check_lr("--ppo-lr", lr)?;
        cfg.ppo.lr = lr;
    }
    if let Some(f) = args.ppo_lr_final {
        anyhow::ensure!(
            (0.0..=1.0).contains(&f),
            "--ppo-lr-final must be in [0, 1], got {f}"
        );
        cfg.ppo.lr_final_fraction = f;
    }
    if let Some(w) = args.ppo_entropy {
        anyhow::ensure!(w >= 0.0, "--ppo-entropy must not be negative, got {w}");
        cfg.ppo.entropy_coef = w;
    }
    if let Some(kl) = args.ppo_target_kl {
        anyhow::ensure!(kl > 0.0, "--ppo-target-kl must be positive, got {kl}");
        cfg.ppo.target_kl = kl;
    }
    if let Some(p) = args.api_explore {
        anyhow::ensure!(
            (0.0..=1.0).contains(&p),
            "--api-explore must be in [0, 1], got {p}"
        );
        cfg.policy_iteration.explore_eps = p;
    }
    if let Some(d) = args.api_ema {
        anyhow::ensure!(
            (0.0..1.0).contains(&d),
            "--api-ema must be in [0, 1), got {d}"
        );
        cfg.policy_iteration.ema_decay = d;
    }
    if let Some(c) = args.api_clip {
        anyhow::ensure!(c > 0.0, "--api-clip must be positive, got {c}");
        cfg.policy_iteration.clip = c;
    }
    if let Some(f) = args.api_augment {
        anyhow::ensure!(
            (1.0..=10.0).contains(&f),
            "--api-augment must be between 1 (off) and 10, got {f}"
        );
        cfg.policy_iteration.augment_scale = f;
    }
    if let Some(lr) = args.api_lr {
        check_lr("--api-lr", lr)?;
        cfg.policy_iteration.lr = lr;
    }
    for (flag, value, target) in [
        (
            "--api-iters",
            args.api_iters,
            &mut cfg.policy_iteration.iterations,
        ),
        (
            "--api-sessions",
            args.api_sessions,
            &mut cfg.policy_iteration.sessions_per_iter,
        ),
        (
            "--api-states",
            args.api_states,
            &mut cfg.policy_iteration.states_per_session,
        ),
        (
            "--api-epochs",
            args.api_epochs,
            &mut cfg.policy_iteration.epochs,
        ),
        (
            "--api-keep",
            args.api_keep,
            &mut cfg.policy_iteration.keep_iters,
        ),
        ("--ppo-envs", args.ppo_envs, &mut cfg.ppo.n_envs),
        ("--ppo-steps", args.ppo_steps, &mut cfg.ppo.steps_per_env),
        (
            "--ppo-minibatch",
            args.ppo_minibatch,
            &mut cfg.ppo.minibatch,
        ),
        ("--ppo-epochs", args.ppo_epochs, &mut cfg.ppo.epochs),
        ("--ppo-iters", args.ppo_iters, &mut cfg.ppo.max_iters),
        (
            "--ppo-validate-every",
            args.ppo_validate_every,
            &mut cfg.ppo.validate_every,
        ),
    ] {
        if let Some(v) = value {
            anyhow::ensure!(v > 0, "{flag} must be at least 1");
            *target = v;
        }
    }
    let names: Vec<&str> = stages.iter().map(|s| s.name()).collect();
    eprintln!(
        "train: stages {} on {} traces ({source}), video '{}', budget {} s{}",
        names.join(" -> "),
        traces.len(),
        video.name,
        cfg.max_wall_s,
        args.resume
            .as_ref()
            .map(|p| format!(", resuming {}", p.display()))
            .unwrap_or_default()
    );
    let bar = ProgressBar::new(cfg.max_wall_s.ceil() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar.set_message(if args.resume.is_some() {
        "starting from the checkpoint...".to_owned()
    } else {
        "solving the offline optimum on training windows...".to_owned()
    });
    let started = std::time::Instant::now();
    let mut best = f64::NEG_INFINITY;
    let report = train_pipeline(&traces, &video, &cfg, resume, |p| {
        best = best.max(p.val_qoe);
        bar.set_position(started.elapsed().as_secs());
        bar.set_message(format!(
            "{} #{}: validation QoE {:.2} (best {:.2}), {} samples, loss {:.3}",
            p.stage, p.iteration, p.val_qoe, best, p.samples, p.loss
        ));
    })?;
    bar.finish_and_clear();

    let commit = git_commit();
    let mut best_ck = report.best.clone();
    let mut last_ck = report.last.clone();
    for ck in [&mut best_ck, &mut last_ck] {
        ck.meta.git_commit = Some(commit.clone());
        ck.meta.extra.insert("traces".into(), source.clone());
        ck.meta.extra.insert("stages".into(), names.join(","));
        if let Some(o) = report.val_optimum_qoe {
            ck.meta
                .extra
                .insert("val_optimum_qoe".into(), format!("{o:.6}"));
        }
    }
    let policy_path = args.out.join("policy.safetensors");
    best_ck
        .save(&policy_path)
        .with_context(|| format!("cannot write {}", policy_path.display()))?;
    let last_path = args.out.join("last.safetensors");
    last_ck
        .save(&last_path)
        .with_context(|| format!("cannot write {}", last_path.display()))?;
    let curve_path = args.out.join("training_curve.csv");
    std::fs::write(&curve_path, curve_csv(&last_ck.curve))
        .with_context(|| format!("cannot write {}", curve_path.display()))?;

    // Stage contributions (validation; test only for reporting).
    let mut stages_csv = String::from("stage,val_qoe,test_qoe\n");
    let mut bars = Vec::new();
    // Test scores only decorate the report: a trace the simulator cannot play must not cost the
    // trained policy's charts. All stages or none get one.
    let test_scores: Vec<Option<f64>> = match &test {
        Some(t) => match report
            .stages
            .iter()
            .map(|s| test_score(&s.checkpoint, t, &video, &qoe))
            .collect::<Result<Vec<f64>>>()
        {
            Ok(scores) => scores.into_iter().map(Some).collect(),
            Err(e) => {
                eprintln!(
                    "warning: cannot score --test-traces {}: {e}; stages.csv and the charts go \
                     without test scores",
                    args.test_traces
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display()
                );
                vec![None; report.stages.len()]
            }
        },
        None => vec![None; report.stages.len()],
    };
    for (s, test_qoe) in report.stages.iter().zip(test_scores) {
        let _ = writeln!(
            stages_csv,
            "{},{:.4},{}",
            s.stage,
            s.val_qoe,
            test_qoe.map(|t| format!("{t:.4}")).unwrap_or_default()
        );
        bars.push(StageBar {
            stage: s.stage.clone(),
            val_qoe: s.val_qoe,
            test_qoe,
        });
    }
    let stages_path = args.out.join("stages.csv");
    std::fs::write(&stages_path, stages_csv)
        .with_context(|| format!("cannot write {}", stages_path.display()))?;
    let mut refs = Vec::new();
    if let Some(o) = report.val_optimum_qoe {
        refs.push(Reference {
            label: "optimum, validation".into(),
            value: o,
        });
    }
    let points: Vec<TrainingPoint> = last_ck
        .curve
        .iter()
        .map(|p| TrainingPoint {
            stage: p.stage.clone(),
            wall_s: p.wall_s,
            samples: p.samples as f64,
            val_qoe: p.val_qoe,
        })
        .collect();
    let mut charts = training_curve_chart(
        &format!("Validation QoE during training (seed {})", args.seed),
        &points,
        &refs,
        &args.out.join("training_curve"),
    )?;
    charts.extend(stage_chart(
        "What each training stage contributes",
        &bars,
        &refs,
        &args.out.join("stages"),
    )?);

    let wall = started.elapsed().as_secs_f64();
    if report.wall_limited {
        eprintln!(
            "warning: a stage stopped on the --max-wall-s budget ({} s) before its epoch/iteration \
             count, so this result depends on the machine's speed and load; rerun with a larger \
             --max-wall-s to reproduce it exactly",
            cfg.max_wall_s
        );
    }
    // One bar per stage, in order (a stage may repeat, e.g. --stages a2c,a2c).
    for (s, bar) in report.stages.iter().zip(&bars) {
        let test = bar
            .test_qoe
            .map(|t| format!(", test {t:.2}"))
            .unwrap_or_default();
        let kept = if s.improved {
            ""
        } else {
            " (no iterate beat the network the stage started from; this is that network's score)"
        };
        say!(
            "after {:<9} validation QoE {:.2}{test}{kept}",
            s.stage,
            s.val_qoe
        );
    }
    say!(
        "selected: {} checkpoint, validation QoE {:.2}{}; {} training traces, {} validation sessions; training {:.0} s",
        best_ck.stage,
        report.best_val_qoe,
        report
            .val_optimum_qoe
            .map(|o| format!(" (optimum on the same sessions {o:.2})"))
            .unwrap_or_default(),
        report.split.0,
        report.split.1,
        wall
    );
    say!(
        "wrote {}, {}, {}, {}",
        policy_path.display(),
        last_path.display(),
        curve_path.display(),
        stages_path.display()
    );
    for c in charts {
        say!("wrote {}", c.display());
    }
    say!(
        "evaluate it: neuralstream bench --abr learned:{},robustmpc-pensieve,optimum ...",
        policy_path.display()
    );
    Ok(())
}
