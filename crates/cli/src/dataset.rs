//! `neuralstream dataset build|eval-predictors` (issue 19, items 4-5) and the `mpc-rf:MODEL`
//! algorithms of `bench`: flags in, calls into `neuralstream-insitu`, errors out.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use neuralstream_abr::mpc_rf::{MpcRf, MpcRfParams, PREFIX};
use neuralstream_abr::predictor::ForestModel;
use neuralstream_core::Abr;
use neuralstream_insitu::{predictors, ForestParams, LstmParams};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

const DATASET_EXAMPLES: &str = "Examples:
  neuralstream bench --traces ../shared/data/pensieve/sim/cooked_traces --video ../shared/data/pensieve/sim \\
      --abr bb,rate,robustmpc --telemetry out/tel-train --no-charts
  neuralstream dataset build --telemetry out/tel-train --out out/dataset
  neuralstream train --traces out/dataset/traces --out out/insitu-policy
  neuralstream dataset eval-predictors --train out/tel-train --test out/tel-test --out out/predictors \\
      --harmonic-blend 0.5
  neuralstream bench --abr mpc-rf:out/predictors/rf.json,robustmpc ...";

/// `neuralstream dataset ...`.
#[derive(Args, Debug)]
#[command(after_help = DATASET_EXAMPLES)]
pub struct DatasetArgs {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Subcommand, Debug)]
enum DatasetCommand {
    /// Clean the telemetry (duplicates, impossible values, clock skew), impute short gaps, and
    /// write supervised windows (normalised, statistics beside them), a feature selection report
    /// and network traces in Pensieve's cooked format (OUT/traces, for `neuralstream train`).
    Build(BuildArgs),
    /// Fit the random forest and the LSTM on one telemetry folder and compare them with the
    /// harmonic mean and EWMA on another (held-out sessions): MAPE, RMSE, p90 error per horizon
    /// 1-5; writes the table, the CSV, the model (OUT/rf.json, for `bench --abr
    /// mpc-rf:OUT/rf.json`) and the LSTM's training choices (OUT/lstm.json).
    EvalPredictors(EvalArgs),
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// Telemetry folder (Parquet layout written by --telemetry DIR or `telemetry consume`).
    #[arg(long, value_name = "DIR")]
    telemetry: PathBuf,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "out/dataset")]
    out: PathBuf,
    /// Stop at the first invalid event (NaN, negative time, ...) instead of dropping and counting it.
    #[arg(long)]
    strict: bool,
    /// Seed of the feature report's split and shuffles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Telemetry the forest is fitted on.
    #[arg(long, value_name = "DIR")]
    train: PathBuf,
    /// Telemetry of held-out sessions the predictors are scored on.
    #[arg(long, value_name = "DIR")]
    test: PathBuf,
    /// Output folder (predictors.csv, predictors.md, rf.json, lstm.json).
    #[arg(long, value_name = "DIR", default_value = "out/predictors")]
    out: PathBuf,
    /// Trees per horizon.
    #[arg(long, default_value_t = ForestParams::default().trees)]
    trees: usize,
    /// Deepest split of a tree.
    #[arg(long, default_value_t = ForestParams::default().max_depth)]
    max_depth: u16,
    /// Fewest windows in a leaf.
    #[arg(long, default_value_t = ForestParams::default().min_samples_leaf)]
    min_samples_leaf: usize,
    /// Seed of the forest and the LSTM.
    #[arg(long, default_value_t = ForestParams::default().seed)]
    seed: u64,
    /// Fit the trees to ln(throughput / harmonic mean of the last 5) instead of ln kbit/s.
    #[arg(long)]
    relative_target: bool,
    /// Weight of the harmonic mean in the point prediction, ln units, 0 to 1 (0: the forest
    /// alone, as compared in the table; 0.5: the model `mpc-rf` was chosen with on validation,
    /// docs/telemetry.md).
    #[arg(long, default_value_t = ForestParams::default().harmonic_blend)]
    harmonic_blend: f64,
}

/// Runs `neuralstream dataset ...`.
pub fn run(args: DatasetArgs) -> Result<()> {
    match args.command {
        DatasetCommand::Build(a) => {
            std::fs::create_dir_all(&a.out)
                .with_context(|| format!("cannot create --out {}", a.out.display()))?;
            let s = neuralstream_insitu::build(&a.telemetry, &a.out, a.strict, a.seed)
                .with_context(|| format!("dataset build --telemetry {}", a.telemetry.display()))?;
            let r = &s.report;
            say!(
                "{} events in {} files: {} chunk events, {} invalid, {} impossible, {} duplicates, \
                 {} clock-skew corrections, {} throughputs recomputed, {} chunks imputed, {} sessions split",
                r.events,
                r.files,
                r.chunk_events,
                r.invalid_by_field.values().sum::<usize>(),
                r.impossible.values().sum::<usize>(),
                r.duplicates,
                r.skew_corrected,
                r.throughput_recomputed,
                r.chunks_imputed,
                r.sessions_split
            );
            for e in &r.invalid_examples {
                eprintln!("note: dropped {e}");
            }
            say!(
                "{} sessions -> {} windows, {} traces",
                r.sessions,
                s.windows,
                s.traces
            );
            if !s.features.is_empty() {
                say!("{}", neuralstream_insitu::select::scores_table(&s.features));
            }
            say!(
                "wrote {}",
                s.written
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        DatasetCommand::EvalPredictors(a) => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&a.harmonic_blend),
                "--harmonic-blend {} is not a weight; give a value from 0 to 1",
                a.harmonic_blend
            );
            let params = ForestParams {
                trees: a.trees,
                max_depth: a.max_depth,
                min_samples_leaf: a.min_samples_leaf,
                seed: a.seed,
                relative_target: a.relative_target,
                harmonic_blend: a.harmonic_blend,
                ..ForestParams::default()
            };
            let lstm_params = LstmParams {
                seed: a.seed,
                ..LstmParams::default()
            };
            let summary =
                neuralstream_insitu::eval_predictors(&a.train, &a.test, &params, &lstm_params)
                    .context("dataset eval-predictors")?;
            let scores = &summary.scores;
            std::fs::create_dir_all(&a.out)
                .with_context(|| format!("cannot create --out {}", a.out.display()))?;
            let table = predictors::scores_table(scores);
            let lstm = &summary.lstm;
            let files = [
                ("predictors.csv", predictors::scores_csv(scores)),
                ("predictors.md", table.clone()),
                ("rf.json", summary.model.to_json()),
                (
                    "lstm.json",
                    serde_json::to_string_pretty(lstm).context("LSTM report")? + "\n",
                ),
            ];
            for (name, text) in files {
                let p = a.out.join(name);
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
            say!("{table}");
            let c = &lstm.candidates[lstm.chosen];
            say!(
                "LSTM: {} Adam steps, {} head, chosen on {} validation sessions (1-chunk MAPE {:.2} %); \
                 {} candidates trained in {:.1} s",
                c.steps,
                if c.residual { "change" } else { "level" },
                lstm.validation_sessions,
                c.validation_mape_pct,
                lstm.candidates.len(),
                lstm.train_s
            );
            say!(
                "wrote {0}/predictors.csv, {0}/predictors.md, {0}/rf.json, {0}/lstm.json",
                a.out.display()
            );
            Ok(())
        }
    }
}

/// The model path of an `mpc-rf:PATH` algorithm name (prefix in any case).
pub fn mpc_rf_path(name: &str) -> Option<&str> {
    let head = name.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX)
        .then(|| &name[PREFIX.len()..])
}

/// The canonical spelling of an `mpc-rf:PATH` name (prefix lower case, path as given).
pub fn mpc_rf_name(name: &str) -> Option<String> {
    mpc_rf_path(name).map(|p| format!("{PREFIX}{p}"))
}

/// The `mpc-rf:PATH` models among `algorithms`, each read and checked once.
pub fn load_mpc_rf(algorithms: &[String]) -> Result<HashMap<String, Arc<ForestModel>>> {
    let mut out = HashMap::new();
    for name in algorithms {
        if let Some(path) = mpc_rf_path(name) {
            anyhow::ensure!(
                !path.is_empty(),
                "--abr mpc-rf: needs a model file, e.g. mpc-rf:out/predictors/rf.json \
                 (written by `neuralstream dataset eval-predictors`)"
            );
            let model = neuralstream_insitu::load_model(std::path::Path::new(path))
                .with_context(|| format!("in --abr {name}"))?;
            out.insert(name.clone(), Arc::new(model));
        }
    }
    Ok(out)
}

/// A fresh `mpc-rf` controller for `name`, if it is one of `models`.
pub fn mpc_rf(models: &HashMap<String, Arc<ForestModel>>, name: &str) -> Option<Box<dyn Abr>> {
    let model = models.get(name)?;
    let path = mpc_rf_path(name)?;
    Some(Box::new(MpcRf::new(
        model.clone(),
        path,
        MpcRfParams::default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpc_rf_names_keep_the_path_case() {
        assert_eq!(mpc_rf_path("MPC-RF:Out/rf.json"), Some("Out/rf.json"));
        assert_eq!(mpc_rf_name("Mpc-Rf:a").as_deref(), Some("mpc-rf:a"));
        assert_eq!(mpc_rf_path("mpc"), None);
        assert_eq!(mpc_rf_path("robustmpc"), None);
        let e = load_mpc_rf(&["mpc-rf:".into()]).unwrap_err().to_string();
        assert!(e.contains("needs a model file"), "{e}");
        let e = format!(
            "{:#}",
            load_mpc_rf(&["mpc-rf:/nonexistent/rf.json".into()]).unwrap_err()
        );
        assert!(e.contains("/nonexistent/rf.json"), "{e}");
    }
}
