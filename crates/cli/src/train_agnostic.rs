//! `neuralstream train --agnostic`: the ladder-agnostic policy (issue 17) over a distribution of
//! trace sets and videos. Flags in, `neuralstream_learn::train_agnostic` called, files out.
//!
//! Without `--agnostic-traces`, the distribution is the issue's: Pensieve's training traces and the
//! `ucc5g` and `nyumets` train splits from `../shared/data` (those found), plus synthetic traces of
//! 0.1 to 100 Mbit/s with regime switches; without `--agnostic-videos`, Pensieve's video (or the
//! built-in one on its ladder), a synthetic descriptor of `neuralstream package`'s default 5-level
//! H.264 ladder, and synthetic VBR ladders of 3 to 12 levels with 1 to 10 s chunks (none of them
//! the grid's `ladder10`/`ladder35`, which are kept for reporting).

use super::{Display, Outcome, Sink, TrainArgs};
use crate::progress::Progress;
use anyhow::{Context, Result};
use neuralstream_core::{Ladder, QoeModel, Video};
use neuralstream_data::synthetic::{builtin_video, synthetic_video, TraceGenerator};
use neuralstream_learn::agnostic::distil::{distil_agnostic, DistilConfig, Teachers};
use neuralstream_learn::agnostic::{
    split_of, validate_agnostic, AgnosticPiConfig, AgnosticPoint, CurriculumConfig, GroupMargin,
    GroupScore, HomeShare, Selection,
};
use neuralstream_learn::{train_agnostic, AgnosticConfig, PolicyMeta, TraceSet, TrainVideo};
use neuralstream_policy::Policy;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The synthetic ladders of the default training distribution: name, kbit/s, chunk seconds.
pub const TRAIN_LADDERS: [(&str, &[f64], f64); 6] = [
    ("h264-5", &[400.0, 800.0, 1400.0, 2800.0, 5000.0], 2.0),
    ("vbr-3", &[300.0, 1200.0, 4000.0], 6.0),
    (
        "vbr-8",
        &[200.0, 400.0, 700.0, 1200.0, 2000.0, 4000.0, 8000.0, 16000.0],
        1.0,
    ),
    (
        "vbr-9",
        &[
            250.0, 450.0, 800.0, 1300.0, 2100.0, 3200.0, 4800.0, 7000.0, 10000.0,
        ],
        4.0,
    ),
    (
        "vbr-12",
        &[
            300.0, 500.0, 800.0, 1300.0, 2000.0, 3000.0, 4500.0, 7000.0, 11000.0, 17000.0, 26000.0,
            40000.0,
        ],
        10.0,
    ),
    (
        "top-40",
        &[1500.0, 4000.0, 8000.0, 15000.0, 25000.0, 40000.0],
        4.0,
    ),
];

/// The validation-only ladders of `--agnostic-select grid`: the generalisation grid's kinds of
/// ladder (a 10-level one, a 6-level one topping near 35 Mbit/s, a 5-level H.264-like one of 4 s
/// chunks) on other bitrates and another seed than the grid's own videos (which are test data);
/// training never plays them. Name, kbit/s, chunk seconds.
pub const VALIDATION_LADDERS: [(&str, &[f64], f64); 3] = [
    (
        "val-ladder10",
        &[
            250.0, 400.0, 650.0, 1000.0, 1600.0, 2500.0, 3800.0, 5500.0, 8000.0, 11000.0,
        ],
        4.0,
    ),
    (
        "val-ladder30",
        &[800.0, 2000.0, 4500.0, 9000.0, 16000.0, 30000.0],
        4.0,
    ),
    ("val-h264-4s", &[350.0, 750.0, 1500.0, 3000.0, 4500.0], 4.0),
];

/// Seed of the validation-only ladders' chunk sizes (the grid's are 2017, the training ladders' 31).
const VALIDATION_VIDEO_SEED: u64 = 97;

/// The validation-only trace set of `--agnostic-select grid`: the grid's kind of fast network
/// (20-100 Mbit/s, [`crate::grid::fast_generator`]) from another seed than the grid's (`bench
/// --seed`, 1 by default), the same for every training seed. Name, seed, traces.
pub const VALIDATION_FAST: (&str, u64, usize) = ("val-fast", 4242, 40);

/// The wide synthetic set: per-trace bases of 0.25 to 60 Mbit/s times regimes of x0.4 to x1.7
/// (about 0.1 to 100 Mbit/s), regime switches and rare outages as the default generator.
pub fn wide_generator() -> TraceGenerator {
    TraceGenerator {
        base_min_mbps: 0.25,
        base_max_mbps: 60.0,
        regimes: vec![0.4, 0.7, 1.0, 1.3, 1.7],
        ..TraceGenerator::default()
    }
}

/// Splits `NAME=PATH` entries of a comma-separated list (as the grid's flags).
fn entries<'a>(list: &'a str, flag: &str) -> Result<Vec<(&'a str, &'a str)>> {
    list.split(',')
        .map(|entry| crate::grid::named(entry, flag))
        .collect()
}

/// The trace sets: `--agnostic-traces` or the default distribution.
fn trace_sets(args: &TrainArgs) -> Result<Vec<TraceSet>> {
    let load = |name: &str, path: &Path| -> Result<TraceSet> {
        let (traces, _) = crate::inputs::traces(Some(path), args.inputs.trace_format, 0, 0)
            .with_context(|| format!("in --agnostic-traces {name}={}", path.display()))?;
        anyhow::ensure!(
            traces.len() >= 2,
            "--agnostic-traces {name}={}: needs at least 2 traces (part is held out for validation), found {}",
            path.display(),
            traces.len()
        );
        Ok(TraceSet {
            name: name.to_owned(),
            traces,
        })
    };
    // The synthetic traces follow the split seed, so runs of several --seed values with one
    // --agnostic-split-seed share their windows and validation traces.
    let synthetic = || TraceSet {
        name: "synthetic-wide".into(),
        traces: wide_generator().traces(
            args.agnostic_split_seed.unwrap_or(args.seed),
            args.synthetic_traces,
        ),
    };
    if let Some(list) = &args.agnostic_traces {
        return entries(list, "--agnostic-traces")?
            .into_iter()
            .map(|(name, value)| {
                if value.eq_ignore_ascii_case("synthetic-wide") {
                    Ok(synthetic())
                } else {
                    load(name, Path::new(value))
                }
            })
            .collect();
    }
    let mut sets = Vec::new();
    if let Some(shared) = shared_data() {
        for (name, rel) in [
            ("pensieve", "pensieve/sim/cooked_traces"),
            ("ucc5g", "ucc5g/train"),
            ("nyumets", "nyumets/train"),
        ] {
            let path = shared.join(rel);
            if path.is_dir() {
                sets.push(load(name, &path)?);
            }
        }
    }
    sets.push(synthetic());
    Ok(sets)
}

/// Whether the trace sets these flags name hold one called `pensieve` (the default distribution's
/// when `../shared/data/pensieve/sim/cooked_traces` is found), without loading any.
pub(crate) fn pensieve_available(args: &TrainArgs) -> bool {
    match &args.agnostic_traces {
        Some(list) => list.split(',').any(|e| {
            e.split_once('=')
                .is_some_and(|(name, _)| name.trim() == "pensieve")
        }),
        None => shared_data().is_some_and(|d| d.join("pensieve/sim/cooked_traces").is_dir()),
    }
}

/// `../shared/data` when it can be found from the working directory.
fn shared_data() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    neuralstream_data::find_shared_dir(&cwd).map(|p| p.join("data"))
}

/// The videos with their QoE models: `--agnostic-videos` or the default distribution, then (with
/// `grid`) the [`VALIDATION_LADDERS`].
fn videos(args: &TrainArgs, grid: bool) -> Result<Vec<TrainVideo>> {
    let mut list: Vec<Video> = Vec::new();
    if let Some(spec) = &args.agnostic_videos {
        for (name, value) in entries(spec, "--agnostic-videos")? {
            let builtin = TRAIN_LADDERS
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(value));
            list.push(match builtin {
                Some((n, kbps, chunk_s)) => ladder_video(n, kbps, *chunk_s),
                None if value.eq_ignore_ascii_case("builtin") => builtin_video(),
                None => crate::inputs::video(Some(Path::new(value)))
                    .with_context(|| format!("in --agnostic-videos {name}={value}"))?,
            });
        }
    } else {
        let pensieve = shared_data()
            .map(|d| d.join("pensieve/sim"))
            .filter(|d| d.join("video_size_0").is_file());
        list.push(match pensieve {
            Some(dir) => crate::inputs::video(Some(&dir))?,
            None => builtin_video(),
        });
        for (n, kbps, chunk_s) in TRAIN_LADDERS {
            list.push(ladder_video(n, kbps, chunk_s));
        }
    }
    if grid {
        for (n, kbps, chunk_s) in VALIDATION_LADDERS {
            list.push(synthetic_video(
                n,
                &Ladder::from_kbps(kbps),
                48,
                chunk_s,
                VALIDATION_VIDEO_SEED,
            ));
        }
    }
    list.into_iter()
        .map(|video| {
            let qoe = QoeModel::for_video(&args.inputs.qoe, &video).context("in --qoe")?;
            crate::inputs::check_qoe_fits(&qoe, &args.inputs.qoe, &video)?;
            let qoe = qoe
                .compile(&video)
                .with_context(|| format!("--qoe {} on video '{}'", args.inputs.qoe, video.name))?;
            Ok(TrainVideo { video, qoe })
        })
        .collect()
}

/// A synthetic 48-chunk VBR video on a training ladder (seed 31, not the grid's 2017).
fn ladder_video(name: &str, kbps: &[f64], chunk_s: f64) -> Video {
    synthetic_video(name, &Ladder::from_kbps(kbps), 48, chunk_s, 31)
}

/// The policy-iteration stage's settings: the defaults, overridden by the `--api-*` flags (the
/// clip in top-utility units here, not QoE points).
fn pi_config(args: &TrainArgs) -> AgnosticPiConfig {
    let d = AgnosticPiConfig::default();
    AgnosticPiConfig {
        iterations: args.api_iters.unwrap_or(d.iterations),
        sessions_per_iter: args.api_sessions.unwrap_or(d.sessions_per_iter),
        states_per_session: args.api_states.unwrap_or(d.states_per_session),
        explore_eps: args.api_explore.unwrap_or(d.explore_eps),
        epochs: args.api_epochs.unwrap_or(d.epochs),
        lr: args.api_lr.unwrap_or(d.lr),
        keep_iters: args.api_keep.unwrap_or(d.keep_iters),
        clip: args.api_clip.unwrap_or(d.clip),
        ..d
    }
}

/// The flag that sets each policy-iteration field an `AgnosticPiConfig::validate` error names.
const PI_FLAGS: &[(&str, &str)] = &[
    ("pi.sessions_per_iter", "--api-sessions"),
    ("pi.states_per_session", "--api-states"),
    ("pi.epochs", "--api-epochs"),
    ("pi.keep_iters", "--api-keep"),
    ("pi.explore_eps", "--api-explore"),
    ("pi.clip", "--api-clip"),
    ("pi.lr", "--api-lr"),
];

/// The settings of `--agnostic-select grid` (its validation-only videos, the last of `videos`, and
/// its validation-only fast set, appended to `sets`), `--agnostic-average`,
/// `--agnostic-split-seed` and Pensieve's share and weight, into `base`.
fn grid_and_pensieve_settings(
    args: &TrainArgs,
    sets: &mut Vec<TraceSet>,
    videos: &[TrainVideo],
    base: &mut AgnosticConfig,
) -> Result<()> {
    if base.selection == Selection::Grid {
        // Validation: the first video (Pensieve's by default) and the validation-only ladders.
        let held_out: Vec<usize> =
            (videos.len() - VALIDATION_LADDERS.len()..videos.len()).collect();
        base.validation.val_videos = std::iter::once(0).chain(held_out.clone()).collect();
        base.validation.held_out_videos = held_out;
        let (name, seed, n) = VALIDATION_FAST;
        base.validation.held_out_sets = vec![sets.len()];
        sets.push(TraceSet {
            name: name.to_owned(),
            traces: crate::grid::fast_generator().traces(seed, n),
        });
    }
    if let Some(k) = args.agnostic_average {
        base.average = k;
    }
    base.split_seed = args.agnostic_split_seed;
    let w = args.agnostic_pensieve_weight;
    anyhow::ensure!(
        w.is_finite() && w >= 0.0,
        "--agnostic-pensieve-weight {w}: must be a number at least 0 (0 weighs every validation group alike)"
    );
    let pensieve = |flag: &str| pensieve_pair(sets, videos, flag);
    if w > 0.0 {
        base.home_group = Some(pensieve("--agnostic-pensieve-weight")?);
        base.home_weight = w;
    }
    if args.agnostic_pensieve_windows > 0 {
        let (set, video) = pensieve("--agnostic-pensieve-windows")?;
        base.home = Some(HomeShare {
            set,
            video,
            max_windows: args.agnostic_pensieve_windows,
        });
    }
    Ok(())
}

/// Pensieve's trace set (by name) and its video (the first, Pensieve's by default), which
/// `flag` singles out; the error names `flag` and how to provide the set.
fn pensieve_pair(sets: &[TraceSet], videos: &[TrainVideo], flag: &str) -> Result<(String, String)> {
    let set = sets.iter().find(|s| s.name == "pensieve").with_context(|| {
        format!("{flag}: needs a trace set named 'pensieve' (the default distribution's, with ../shared present, or --agnostic-traces pensieve=PATH)")
    })?;
    Ok((set.name.clone(), videos[0].video.name.clone()))
}

/// What [`prepare`] makes of the flags: the trace sets and videos one training plays, and its
/// settings.
pub(crate) struct Prepared {
    /// The trace sets (with `--agnostic-select grid`, the validation-only fast set last).
    pub sets: Vec<TraceSet>,
    /// The videos with their QoE models (with `grid`, the validation-only ladders last).
    pub videos: Vec<TrainVideo>,
    /// The training's settings.
    pub cfg: AgnosticConfig,
}

/// The selection `--agnostic-select` names (`regret` when not given).
fn selection_of(args: &TrainArgs) -> Selection {
    match args.agnostic_select.as_deref() {
        Some("bar") => Selection::Bar,
        Some("grid") => Selection::Grid,
        _ => Selection::Regret,
    }
}

/// Loads the trace sets and videos, checks the flags into one training's settings, creates
/// `--out` and writes its `split.csv` there.
pub(crate) fn prepare(args: &TrainArgs) -> Result<Prepared> {
    let mut sets = trace_sets(args)?;
    let selection = selection_of(args);
    let videos = videos(args, selection == Selection::Grid)?;
    let mut base = AgnosticConfig::with_selection(selection);
    grid_and_pensieve_settings(args, &mut sets, &videos, &mut base)?;
    let cfg = AgnosticConfig {
        seed: args.seed,
        epochs: args.epochs.unwrap_or(base.epochs),
        dagger_rounds: args.dagger_rounds.unwrap_or(base.dagger_rounds),
        pi: pi_config(args),
        curriculum: CurriculumConfig {
            tail_weight: args.agnostic_tail_weight,
            ..CurriculumConfig::default()
        },
        val_fraction: args.val_fraction,
        max_wall_s: args.max_wall_s,
        rule_hints: args.agnostic_rule_hints,
        optimum_cache: args.agnostic_optimum_cache.clone(),
        hidden: match &args.hidden {
            Some(h) => super::parse_hidden(h)?,
            None => base.hidden.clone(),
        },
        ..base
    };
    let w = args.agnostic_tail_weight;
    anyhow::ensure!(
        w.is_finite() && w >= 0.0,
        "--agnostic-tail-weight {w}: must be a number at least 0 (1 weighs tail shortfalls as mean ones, 0 ignores them)"
    );
    if let Err(e) = cfg.pi.validate() {
        let e = e.within("pi");
        let flag = PI_FLAGS.iter().find(|(f, _)| *f == e.field).map(|p| p.1);
        anyhow::bail!("{} {}", flag.unwrap_or(&e.field), e.problem);
    }
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let prepared = Prepared { sets, videos, cfg };
    write_split(args, &prepared)?;
    Ok(prepared)
}

/// Runs `neuralstream train --agnostic`: the default recipe (`super::recipe`), or one training.
pub fn run(args: &TrainArgs) -> Result<()> {
    if super::recipe::chosen(args)? {
        return super::recipe::run(args);
    }
    let prepared = prepare(args)?;
    if args.agnostic_split_only {
        println!("wrote {}", args.out.join("split.csv").display());
        return Ok(());
    }
    if let Some(path) = &args.agnostic_validate {
        return validate_only(path, &prepared, args);
    }
    train(args, &prepared, Display::Own).map(drop)
}

/// Trains one ladder-agnostic policy on `prepared` into `--out`: by imitation of the optimum and
/// policy iteration, or (`--agnostic-teacher`) by distillation.
pub(crate) fn train(args: &TrainArgs, prepared: &Prepared, display: Display) -> Result<Outcome> {
    if let Some(teacher) = &args.agnostic_teacher {
        return distil(teacher, prepared, args, display);
    }
    let Prepared { sets, videos, cfg } = prepared;
    let own = matches!(display, Display::Own);
    if own {
        let set_names: Vec<String> = sets
            .iter()
            .map(|s| format!("{} ({} traces)", s.name, s.traces.len()))
            .collect();
        let video_names: Vec<String> = videos
            .iter()
            .map(|v| format!("{} ({} levels)", v.video.name, v.video.num_levels()))
            .collect();
        eprintln!(
            "train --agnostic: trace sets {}; videos {}; seed {}",
            set_names.join(", "),
            video_names.join(", "),
            args.seed
        );
    }
    let status = Status::new(
        display,
        (cfg.epochs + cfg.dagger_rounds + cfg.pi.iterations + 2 * usize::from(cfg.average > 1))
            as u64,
        cfg.selection,
    );
    status.note("solving the optimum of every training environment");
    let report = train_agnostic(sets, videos, cfg, meta(args), &mut |p| status.point(p))?;
    status.finish();
    write_outputs(args, &report, cfg.selection, own)
}

/// The policy file's metadata: QoE model, seed, commit.
fn meta(args: &TrainArgs) -> PolicyMeta {
    PolicyMeta {
        qoe: args.inputs.qoe.clone(),
        seed: Some(args.seed),
        git_commit: Some(env!("NEURALSTREAM_GIT_COMMIT").to_owned()),
        ..PolicyMeta::default()
    }
}

/// A training's progress: its own bar (or lines), or a recipe job's status line.
struct Status<'a> {
    sink: Sink<'a>,
    selection: Selection,
    best: std::cell::Cell<f64>,
}

impl<'a> Status<'a> {
    fn new(display: Display<'a>, validations: u64, selection: Selection) -> Self {
        let sink = Sink::new(display, || {
            Progress::new(
                "train",
                validations,
                "validations",
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            )
        });
        Status {
            sink,
            selection,
            best: std::cell::Cell::new(f64::NEG_INFINITY),
        }
    }

    /// What the training is doing, between validations.
    fn note(&self, msg: &str) {
        self.sink.say(msg.to_owned());
    }

    /// One validation: advances the bar and says what it measured (briefly on a job's line).
    fn point(&self, p: &AgnosticPoint) {
        self.best.set(self.best.get().max(p.val_score));
        let Sink::Bar(bar) = &self.sink else {
            return self.note(&format!(
                "{} #{} validation {:.4} (best {:.4})",
                p.stage,
                p.step,
                p.val_score,
                self.best.get()
            ));
        };
        bar.inc(1);
        bar.set_message(format!(
            "{} #{}: validation score {:.4} ({}; best {:.4}), loss {:.3}",
            p.stage,
            p.step,
            p.val_score,
            score_meaning(self.selection),
            self.best.get(),
            p.loss
        ));
    }

    fn finish(&self) {
        self.sink.finish();
    }
}

/// `--agnostic-teacher`: distils the teacher (and `--agnostic-home-teacher` for Pensieve's traces
/// on the first video) into one ladder-agnostic network.
fn distil(
    teacher: &Path,
    prepared: &Prepared,
    args: &TrainArgs,
    display: Display,
) -> Result<Outcome> {
    let Prepared { sets, videos, cfg } = prepared;
    let load = |path: &Path, flag: &str| {
        Policy::load(path).with_context(|| format!("in {flag} {}", path.display()))
    };
    let general = load(teacher, "--agnostic-teacher")?;
    let train_videos = cfg.validation.train_videos(videos.len());
    for &v in &train_videos {
        let video = &videos[v].video;
        general.check_video(video).map_err(|e| {
            anyhow::anyhow!("--agnostic-teacher {}: {e}; the teacher labels every training video, so it must be ladder-agnostic (train --agnostic) or an ensemble of such files (A+B)", teacher.display())
        })?;
    }
    let home = match &args.agnostic_home_teacher {
        None => None,
        Some(path) => {
            let flag = format!("--agnostic-home-teacher {}", path.display());
            let policy = load(path, "--agnostic-home-teacher")?;
            let (set, video) = pensieve_pair(sets, videos, &flag)?;
            policy
                .check_video(&videos[0].video)
                .map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
            Some((set, video, policy))
        }
    };
    let distil_cfg = DistilConfig {
        rounds: args.agnostic_distil_rounds,
        epochs_per_round: args.agnostic_distil_epochs,
        soft: args.agnostic_distil_soft,
    };
    let own = matches!(display, Display::Own);
    if own {
        eprintln!(
            "train --agnostic: distilling {}{} into one network of {:?} over {} trace sets and {} videos; seed {}",
            teacher.display(),
            match (&home, &args.agnostic_home_teacher) {
                (Some((s, v, _)), Some(path)) => format!(" (and {} on {s} x {v})", path.display()),
                _ => String::new(),
            },
            cfg.hidden,
            sets.len(),
            train_videos.len(),
            args.seed
        );
    }
    let status = Status::new(
        display,
        (cfg.epochs + distil_cfg.rounds) as u64,
        cfg.selection,
    );
    status.note("the teacher plays every training environment");
    let teachers = Teachers {
        general,
        home,
        rules: args.agnostic_teacher_rules,
    };
    let out = distil_agnostic(
        sets,
        videos,
        cfg,
        &distil_cfg,
        &teachers,
        meta(args),
        &mut |p| status.point(p),
    )?;
    status.finish();
    let rounds: Vec<String> = out
        .agreement
        .iter()
        .map(|a| format!("{:.1}%", 100.0 * a))
        .collect();
    if own && !rounds.is_empty() {
        println!(
            "the student chose its teacher's level in {} of its own decisions (DAgger rounds 1..{})",
            rounds.join(", "),
            rounds.len()
        );
    }
    if own && teachers.rules {
        let by: Vec<String> = std::iter::once("the teacher")
            .chain(neuralstream_learn::agnostic::selection::RULES)
            .zip(&out.taught_by)
            .map(|(who, n)| format!("{who} {n}"))
            .collect();
        println!("training environments taught by: {}", by.join(", "));
    }
    write_outputs(args, &out.report, cfg.selection, own)
}

/// Writes the policy, the curve and the per-group validation table; prints the summary when
/// `say` (not for a recipe's job).
fn write_outputs(
    args: &TrainArgs,
    report: &neuralstream_learn::AgnosticReport,
    selection: Selection,
    say: bool,
) -> Result<Outcome> {
    let mut policy = report.policy.clone();
    policy
        .meta_mut()
        .extra
        .insert("val_score".into(), format!("{:.6}", report.best_val_score));
    let path = args.out.join("policy.safetensors");
    policy
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut curve = String::from("stage,step,loss,val_score,wall_s\n");
    for p in &report.curve {
        let _ = writeln!(
            curve,
            "{},{},{:.6},{:.6},{:.1}",
            p.stage, p.step, p.loss, p.val_score, p.wall_s
        );
    }
    let curve_path = args.out.join("training_curve.csv");
    std::fs::write(&curve_path, curve)
        .with_context(|| format!("cannot write {}", curve_path.display()))?;
    let groups_path = write_groups(args, &report.groups, &report.regret_groups)?;
    let outcome = Outcome {
        val_score: report.best_val_score,
        cut_short: report.cut_short,
    };
    if !say {
        return Ok(outcome);
    }
    println!(
        "ladder-agnostic policy: validation score {:.4} ({} per top-bitrate chunk; {} decisions from {} environments)",
        report.best_val_score,
        score_meaning(selection),
        report.samples,
        report.train_envs
    );
    if policy.spec().has_rule_hints() {
        println!(
            "feature layout {} (rule hints: what RobustMPC and BBA-0 would fetch, in every level's inputs)",
            policy.spec().version
        );
    }
    if report.cut_short {
        println!("warning: --max-wall-s cut the run short; the policy is not reproducible");
    }
    println!(
        "wrote {}, {}, {}",
        path.display(),
        curve_path.display(),
        groups_path.display()
    );
    println!("{}", evaluate_it(&path));
    Ok(outcome)
}

/// The line that says how to play a trained policy against the rules on the grid.
pub(crate) fn evaluate_it(policy: &Path) -> String {
    format!(
        "evaluate it: neuralstream bench --grid-traces ... --grid-videos ... --abr learned:{},robustmpc,bola-e,bba0,dynamic,optimum",
        policy.display()
    )
}

/// Writes `--out/split.csv` and returns its path: every trace of every set, `train` or `validation` (whole traces; a
/// set held out of training, such as `val-fast`, is all validation). Another model trained on a
/// set's `train` rows only (e.g. a teacher) leaves this validation split unseen.
fn write_split(args: &TrainArgs, prepared: &Prepared) -> Result<PathBuf> {
    let mut csv = String::from("set,trace,role\n");
    for (set, trace, held_out) in split_of(&prepared.sets, &prepared.cfg) {
        let role = if held_out { "validation" } else { "train" };
        let _ = writeln!(csv, "{set},{trace},{role}");
    }
    let path = args.out.join("split.csv");
    std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// What a validation score measures, for messages.
pub(crate) fn score_meaning(selection: Selection) -> &'static str {
    match selection {
        Selection::Regret => "minus the normalised regret to the optimum",
        Selection::Bar => "margin to the bar, worst groups first",
        Selection::Grid => "mean margin to the best rule plus half the p10 shortfall",
    }
}

/// Writes `--out/validation_groups.csv` (every validation group against the bar, and its score
/// by regret to the optimum where measured: `regret_score`, empty with `--agnostic-select bar`)
/// and returns its path.
fn write_groups(
    args: &TrainArgs,
    groups: &[GroupMargin],
    regret_groups: &[GroupScore],
) -> Result<PathBuf> {
    let mut csv = String::from(
        "traces,video,sessions,qoe_mean,qoe_p10,best_rule,best_rule_qoe_mean,robustmpc_qoe_p10,mean_margin,p10_margin,margin,regret_score\n",
    );
    for g in groups {
        let regret = regret_groups
            .iter()
            .find(|r| r.0 == g.set && r.1 == g.video)
            .map(|r| format!("{:.6}", r.2))
            .unwrap_or_default();
        let _ = writeln!(
            csv,
            "{},{},{},{:.4},{:.4},{},{:.4},{:.4},{:.6},{:.6},{:.6},{regret}",
            g.set,
            g.video,
            g.sessions,
            g.mean_qoe,
            g.p10_qoe,
            g.best_rule,
            g.best_rule_mean_qoe,
            g.robustmpc_p10_qoe,
            g.mean_margin,
            g.p10_margin,
            g.margin()
        );
    }
    let path = args.out.join("validation_groups.csv");
    std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `--agnostic-validate POLICY`: measures a policy file on the validation split, trains nothing.
fn validate_only(path: &Path, prepared: &Prepared, args: &TrainArgs) -> Result<()> {
    let Prepared { sets, videos, cfg } = prepared;
    let policy =
        Policy::load(path).with_context(|| format!("in --agnostic-validate {}", path.display()))?;
    if let Policy::Fixed(_) = policy {
        anyhow::bail!(
            "--agnostic-validate {}: a fixed-ladder policy (layout 1); validation plays ladders of 3 to 12 levels, which needs a ladder-agnostic one (train --agnostic) or an ensemble of them (A+B)",
            path.display()
        );
    }
    let v = validate_agnostic(&policy, sets, videos, cfg)?;
    let groups_path = write_groups(args, &v.margins, &v.regret_groups)?;
    let meeting = v.margins.iter().filter(|g| g.margin() >= 0.0).count();
    println!(
        "{}: validation score {:.4} ({}); {meeting} of {} groups meet the bar; wrote {}",
        path.display(),
        v.score,
        score_meaning(cfg.selection),
        v.margins.len(),
        groups_path.display()
    );
    Ok(())
}
