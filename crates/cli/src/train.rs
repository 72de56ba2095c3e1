//! `neuralstream train`: behaviour cloning of the offline optimum (with DAgger relabeling), with a
//! live validation score, a safetensors checkpoint and a training curve.

use crate::inputs;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use neuralstream_core::QoeModel;
use neuralstream_data::TraceFormat;
use neuralstream_learn::imitation::{train_imitation, ImitationConfig};
use std::fmt::Write as _;
use std::path::PathBuf;

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
    /// QoE model to optimise: lin, log or hd.
    #[arg(long, default_value = "lin", value_name = "MODEL")]
    pub qoe: String,
    /// Seed (trace split, initialisation, minibatch order); same seed, same policy.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after the epoch during which this much wall time has passed, seconds
    /// (default: the trainer's, 540 s, which leaves room for evaluation within 10 minutes).
    #[arg(long, value_name = "S")]
    pub max_wall_s: Option<f64>,
    /// Behaviour-cloning epochs before the DAgger rounds (default: the trainer's, 20).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// DAgger rounds: the learner plays, the optimum relabels the states it visits (default 10).
    #[arg(long, value_name = "N")]
    pub dagger_rounds: Option<usize>,
    /// Fraction of the training traces held out for checkpoint selection.
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    pub val_fraction: f64,
    /// Output folder: policy.safetensors (the best checkpoint) and training_curve.csv.
    #[arg(long, default_value = "out/train", value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `neuralstream train`.
pub fn run(args: TrainArgs) -> Result<()> {
    anyhow::ensure!(
        args.val_fraction > 0.0 && args.val_fraction < 1.0,
        "--val-fraction must be between 0 and 1, got {}",
        args.val_fraction
    );
    anyhow::ensure!(args.epochs != Some(0), "--epochs must be at least 1");
    let qoe = QoeModel::from_name(&args.qoe).context("in --qoe")?;
    let video = inputs::video(args.video.as_deref())?;
    let (traces, source) = inputs::traces(
        args.traces.as_deref(),
        args.trace_format,
        args.synthetic_traces,
        args.seed,
    )?;
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let defaults = ImitationConfig::default();
    let cfg = ImitationConfig {
        seed: args.seed,
        epochs: args.epochs.unwrap_or(defaults.epochs),
        max_wall_s: args.max_wall_s.unwrap_or(defaults.max_wall_s),
        dagger_rounds: args.dagger_rounds.unwrap_or(defaults.dagger_rounds),
        val_fraction: args.val_fraction,
        qoe,
        ..defaults
    };
    eprintln!(
        "train: imitation of the offline optimum on {} traces ({source}), video '{}', up to {} epochs / {} s",
        traces.len(),
        video.name,
        cfg.epochs,
        cfg.max_wall_s
    );
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar.set_message("solving the offline optimum on training windows...");
    let mut best = f64::NEG_INFINITY;
    let report = train_imitation(&traces, &video, &cfg, |e| {
        best = best.max(e.val_qoe);
        bar.set_message(format!(
            "round {} epoch {:>2}: loss {:.3}, accuracy {:.1}%, validation QoE {:.2} (best {:.2}), {} samples",
            e.round,
            e.epoch,
            e.loss,
            100.0 * e.accuracy,
            e.val_qoe,
            best,
            e.samples
        ));
    })?;
    bar.finish_and_clear();

    let mut policy = report.policy;
    if let Some(commit) = option_env!("NEURALSTREAM_GIT_COMMIT") {
        policy.meta_mut().git_commit = Some(commit.to_string());
    }
    let meta = policy.meta_mut();
    meta.extra
        .insert("val_qoe".into(), format!("{}", report.best_val_qoe));
    meta.extra.insert(
        "val_optimum_qoe".into(),
        format!("{}", report.val_optimum_qoe),
    );
    meta.extra.insert("traces".into(), source.clone());
    let ckpt = args.out.join("policy.safetensors");
    policy
        .save(&ckpt)
        .with_context(|| format!("cannot write {}", ckpt.display()))?;
    let mut csv = String::from("round,epoch,loss,accuracy,val_qoe,wall_s,samples\n");
    for e in &report.history {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            e.round, e.epoch, e.loss, e.accuracy, e.val_qoe, e.wall_s, e.samples
        );
    }
    let curve = args.out.join("training_curve.csv");
    std::fs::write(&curve, csv).with_context(|| format!("cannot write {}", curve.display()))?;
    println!(
        "best validation QoE {:.2} (optimum on the same windows {:.2}) at epoch {}; {} samples, {} train / {} validation windows",
        report.best_val_qoe, report.val_optimum_qoe, report.best_epoch, report.samples, report.windows.0, report.windows.1
    );
    println!("wrote {} and {}", ckpt.display(), curve.display());
    println!(
        "evaluate it: neuralstream bench --abr learned:{},robustmpc,optimum ...",
        ckpt.display()
    );
    Ok(())
}
