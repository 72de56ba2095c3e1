//! `neuralstream dataset build` and `eval-predictors`: the steps of this crate in order, and the
//! files they write.

use crate::clean::{read_and_clean, CleanReport, SessionSeries};
use crate::error::InsituError;
use crate::forest::{self, ForestParams};
use crate::impute::{cooked_text, fill_gaps, trace_points};
use crate::lstm::{self, LstmParams, LstmReport, LstmScorer};
use crate::predictors::{score, Predictor, Score};
use crate::select::{self, FeatureScore};
use crate::windows::{windows, windows_csv, Normalisation, Window};
use neuralstream_abr::predictor::ForestModel;
use std::path::{Path, PathBuf};

/// Fewest chunks a session needs to become a trace.
pub const MIN_TRACE_CHUNKS: usize = 3;

/// What `dataset build` produced.
#[derive(Debug)]
pub struct BuildSummary {
    /// The cleaning counts (also in `clean_report.json`).
    pub report: CleanReport,
    /// Windows written to `windows.csv`.
    pub windows: usize,
    /// Traces written to `traces/`.
    pub traces: usize,
    /// The feature report (also in `feature_selection.csv` / `.md`); empty when too few sessions.
    pub features: Vec<FeatureScore>,
    /// Every file written.
    pub written: Vec<PathBuf>,
}

/// Cleaned, imputed series of a telemetry folder.
pub fn load_series(
    telemetry: &Path,
    strict: bool,
) -> Result<(Vec<SessionSeries>, CleanReport), InsituError> {
    let (series, mut report) = read_and_clean(telemetry, strict)?;
    let series = fill_gaps(series, &mut report);
    Ok((series, report))
}

/// Reads `telemetry`, cleans, imputes, normalises, reports features, and writes the windows and
/// the traces into `out` (created).
pub fn build(
    telemetry: &Path,
    out: &Path,
    strict: bool,
    seed: u64,
) -> Result<BuildSummary, InsituError> {
    let (series, report) = load_series(telemetry, strict)?;
    let w = windows(&series);
    if w.is_empty() {
        return Err(InsituError::NotEnoughData {
            what: telemetry.display().to_string(),
            problem: format!(
                "no session with 2 or more usable chunks ({} chunk events, {} kept); \
                 see the counts with `neuralstream telemetry show`",
                report.chunk_events, report.chunks_kept
            ),
        });
    }
    let mut written = Vec::new();
    let write = |name: &str, text: &str, written: &mut Vec<PathBuf>| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| InsituError::io(&p, "writing", e))?;
        written.push(p);
        Ok::<(), InsituError>(())
    };
    let traces_dir = out.join("traces");
    std::fs::create_dir_all(&traces_dir)
        .map_err(|e| InsituError::io(&traces_dir, "creating the output folder", e))?;
    let norm = Normalisation::fit(&w);
    write("windows.csv", &windows_csv(&w, &norm), &mut written)?;
    write("normalisation.json", &json(&norm), &mut written)?;
    write("clean_report.json", &json(&report), &mut written)?;
    // Too few sessions to hold some out: the report says so instead of failing the build.
    let features = select::feature_scores(&w, seed).unwrap_or_default();
    write(
        "feature_selection.csv",
        &select::scores_csv(&features),
        &mut written,
    )?;
    write(
        "feature_selection.md",
        &select::scores_table(&features),
        &mut written,
    )?;
    let mut traces = 0;
    for s in series.iter().filter(|s| s.chunks.len() >= MIN_TRACE_CHUNKS) {
        let Some(points) = trace_points(&s.chunks) else {
            continue;
        };
        let p = traces_dir.join(trace_file_name(&s.session));
        std::fs::write(&p, cooked_text(&points))
            .map_err(|e| InsituError::io(&p, "writing a trace", e))?;
        traces += 1;
    }
    written.push(traces_dir);
    Ok(BuildSummary {
        report,
        windows: w.len(),
        traces,
        features,
        written,
    })
}

/// What `eval-predictors` produced.
#[derive(Debug)]
pub struct EvalSummary {
    /// Every predictor's scores per horizon on the test sessions.
    pub scores: Vec<Score>,
    /// The fitted forest (the model file `mpc-rf` plans with).
    pub model: ForestModel,
    /// The LSTM's training candidates, its choice and its training time.
    pub lstm: LstmReport,
}

/// Fits the forests and the LSTM on the sessions of `train` and scores harmonic mean, EWMA, the
/// forest and the LSTM on the windows of `test` (held-out sessions).
pub fn eval_predictors(
    train: &Path,
    test: &Path,
    params: &ForestParams,
    lstm_params: &LstmParams,
) -> Result<EvalSummary, InsituError> {
    let (train_series, train_report) = load_series(train, false)?;
    let (test_series, _) = load_series(test, false)?;
    let train_w = windows(&train_series);
    let test_w: Vec<Window> = windows(&test_series);
    if test_w.is_empty() {
        return Err(InsituError::NotEnoughData {
            what: test.display().to_string(),
            problem: "no window to score".into(),
        });
    }
    let meta = serde_json::json!({
        "trained_on": train.display().to_string(),
        "sessions": train_report.sessions,
        "windows": train_w.len(),
        "trees": params.trees,
        "max_depth": params.max_depth,
        "min_samples_leaf": params.min_samples_leaf,
        "features_per_split": params.features_per_split,
        "seed": params.seed,
        "relative_target": params.relative_target,
        "harmonic_blend": params.harmonic_blend,
        "fitter": "smartcore 0.7 RandomForestRegressor",
    });
    let model = forest::fit(&train_w, params, meta)?;
    let (lstm_model, lstm) = lstm::fit(&train_series, lstm_params)?;
    let lstm_scorer = LstmScorer::new(lstm_model, &test_series);
    let mut scores = score(&Predictor::HarmonicMean, &test_w);
    scores.extend(score(&Predictor::Ewma, &test_w));
    scores.extend(score(&Predictor::Forest(&model), &test_w));
    scores.extend(score(&Predictor::Lstm(&lstm_scorer), &test_w));
    Ok(EvalSummary {
        scores,
        model,
        lstm,
    })
}

/// Reads a model file written by `eval-predictors` / `fit`.
pub fn load_model(path: &Path) -> Result<ForestModel, InsituError> {
    const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;
    let len = std::fs::metadata(path)
        .map_err(|e| InsituError::io(path, "reading the model", e))?
        .len();
    if len > MAX_MODEL_BYTES {
        return Err(InsituError::NotEnoughData {
            what: path.display().to_string(),
            problem: format!("{len} bytes, over the {MAX_MODEL_BYTES}-byte limit of a model"),
        });
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| InsituError::io(path, "reading the model", e))?;
    Ok(ForestModel::from_json(&text, &path.display().to_string())?)
}

/// A session id as a file name: letters, digits, `.`, `_` and `-` kept, anything else `_`.
pub fn trace_file_name(session: &str) -> String {
    let s: String = session
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "session".into()
    } else {
        s
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("plain data serialises") + "\n"
}
