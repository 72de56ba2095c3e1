//! `serve --rt-train DIR` and its flags (issue 21, online training): the flags, checked with the
//! flag named, turned into the server's `RtTrainConfig`. The training itself is
//! `neuralstream_rt::online`, run beside the server by `neuralstream_server::rt_train`.

use anyhow::{bail, Context, Result};
use clap::Args;
use neuralstream_server::rt_train::RtTrainConfig;
use std::path::PathBuf;

/// Flags of online training (`docs/rt_online.md`).
#[derive(Debug, Args)]
pub struct RtTrainArgs {
    /// Train the learned real-time controller online while clients stream, checkpointing into DIR.
    /// Every live session's consecutive intervals become double-DQN transitions (the same ones
    /// `rt train --dataset` builds); a background thread learns from them and, every
    /// --rt-train-every updates, plays the candidate on a fixed validation scenario in the
    /// simulator. DIR/candidate.safetensors is the last candidate with its score; it also becomes
    /// DIR/policy.safetensors and serves new sessions only if it scores at least as well as the
    /// serving policy, so a bad update never reaches clients. Needs exactly one learned:PATH in
    /// --rt-controllers (the network trained). To continue after a restart, serve
    /// learned:DIR/policy.safetensors.
    #[arg(long, value_name = "DIR", requires = "rt_controllers")]
    pub rt_train: Option<PathBuf>,
    /// Share of one core the training thread may use, in (0, 1]: after each slice of work it
    /// sleeps so that work is at most this fraction of its time. Records that arrive faster than
    /// it can fold them in are dropped and counted (neuralstream_rt_train_records_dropped_total),
    /// never waited for.
    #[arg(long, default_value_t = 0.5, value_name = "F", requires = "rt_train")]
    pub rt_train_cpu: f64,
    /// Folder of validation traces (onl-emu JSON or Mahimahi, as `rt bench --traces`), each
    /// played whole per evaluation. Default: three built-in synthetic 20 s links. Never use the
    /// test traces here.
    #[arg(long, value_name = "DIR", requires = "rt_train")]
    pub rt_train_validation: Option<PathBuf>,
    /// Updates between two evaluations of the candidate.
    #[arg(long, default_value_t = 1000, value_name = "N", requires = "rt_train")]
    pub rt_train_every: u64,
    /// Exploration of the learned controller's live sessions while training: the share of
    /// decisions drawn at random from its action grid instead of the greedy one (0: none; then
    /// it learns only from what the served controllers chose).
    #[arg(long, default_value_t = 0.05, value_name = "F", requires = "rt_train")]
    pub rt_train_epsilon: f64,
}

/// The online-training configuration of the flags; `None` without `--rt-train`.
pub fn config(args: &RtTrainArgs) -> Result<Option<RtTrainConfig>> {
    let Some(dir) = &args.rt_train else {
        return Ok(None);
    };
    if !(args.rt_train_cpu > 0.0 && args.rt_train_cpu <= 1.0) {
        bail!(
            "--rt-train-cpu must be a share of one core in (0, 1], e.g. 0.5, got {}",
            args.rt_train_cpu
        );
    }
    if !(0.0..=1.0).contains(&args.rt_train_epsilon) {
        bail!(
            "--rt-train-epsilon must be in [0, 1], e.g. 0.05, got {}",
            args.rt_train_epsilon
        );
    }
    if args.rt_train_every == 0 {
        bail!("--rt-train-every must be at least 1 update");
    }
    let validation = match &args.rt_train_validation {
        None => None,
        Some(v) => Some(
            neuralstream_rt::read_trace_dir(v, neuralstream_rt::MahimahiOptions::default())
                .with_context(|| format!("--rt-train-validation {}", v.display()))?,
        ),
    };
    let mut cfg = RtTrainConfig::new(dir.clone());
    cfg.cpu_share = args.rt_train_cpu;
    cfg.epsilon = args.rt_train_epsilon;
    cfg.validation = validation;
    cfg.online.evaluate_every = args.rt_train_every;
    Ok(Some(cfg))
}
