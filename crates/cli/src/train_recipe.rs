//! `neuralstream train --agnostic`'s default recipe, `distil` (issue 17; docs/benchmarks.md, the
//! sixth pass): the best ladder-agnostic policy found so far, made in one process.
//!
//! 1. **The split.** Which traces of every set are held out for validation (from `--seed`); every
//!    training below uses the same one, so validation stays unseen by all of them.
//! 2. **Eleven teachers**, [`WORKERS`] at a time: ten ladder-agnostic ones ([`TEACHERS`]: two seeds
//!    on the default distribution, three with 200 extra Pensieve windows, each in feature layouts 2
//!    and 3), sharing one offline-optimum cache (each environment is solved once), and the
//!    fixed-ladder policy plain `train` makes, trained on the split's Pensieve training traces
//!    only: the home teacher, the best player of Pensieve's traces on Pensieve's video.
//! 3. **The student**: one 2 x 128 network (`--hidden`) distilled from the ten-member ensemble's
//!    probabilities (soft targets) and from the home teacher on Pensieve's traces, with DAgger
//!    rounds; selected on validation.
//!
//! The key design decision: every job is the `TrainArgs` of the command line that
//! `bench/distil/recipe.sh` runs for it, run through the same functions as that command alone. The
//! recipe's policy is therefore byte-identical to the script's, and each step can be rerun or
//! inspected alone: `--out/recipe.csv` lists every job's own flags, time and validation score,
//! and `--out/recipe/NAME/` keeps its outputs. A training's bytes depend on its flags only (the
//! cache is keyed by content), never on which jobs ran beside it.

use super::agnostic::{self, Prepared};
use super::{Display, Outcome, TrainArgs};
use crate::progress::Progress;
use anyhow::{Context, Result};
use neuralstream_core::QoeModel;
use neuralstream_learn::agnostic::{split_of, Selection};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The ladder-agnostic teachers: name, seed (added to `--seed` - 1), Pensieve windows
/// (`--agnostic-pensieve-windows`), rule hints (feature layout 3). Their order is the ensemble's.
pub const TEACHERS: [(&str, u64, usize, bool); 10] = [
    ("A1", 1, 0, false),
    ("hA1", 1, 0, true),
    ("A2", 2, 0, false),
    ("hA2", 2, 0, true),
    ("B1", 1, 200, false),
    ("hB1", 1, 200, true),
    ("B2", 2, 200, false),
    ("hB2", 2, 200, true),
    ("B3", 3, 200, false),
    ("hB3", 3, 200, true),
];

/// The home teacher's job name.
pub const HOME: &str = "FT";

/// The order the jobs start in: one teacher of each kind of environment first (they fill the
/// optimum cache the others read), then the longest jobs, so the workers finish together.
const START_ORDER: [&str; 11] = [
    "A1", "B1", HOME, "A2", "B2", "B3", "hA1", "hB1", "hA2", "hB2", "hB3",
];

/// Trainings run side by side (each uses every core through rayon besides; two keep 2 cores busy
/// through the steps that run on one).
pub const WORKERS: usize = 2;

/// The student's network, unless `--hidden` is given.
pub const STUDENT_HIDDEN: &str = "128,128";

/// The student's DAgger rounds.
pub const STUDENT_DISTIL_ROUNDS: usize = 8;

/// Whether `train --agnostic` with these flags runs the recipe: `--agnostic-recipe distil`, or no
/// `--agnostic-recipe`, no flag of one training's own (`--agnostic-select`, `--agnostic-split-seed`,
/// `--agnostic-pensieve-windows`, `--agnostic-pensieve-weight`, `--agnostic-rule-hints`) and
/// Pensieve's training traces at hand. An explicit `distil` that cannot run is an error naming why.
pub fn chosen(args: &TrainArgs) -> Result<bool> {
    let modes = [
        (args.agnostic_teacher.is_some(), "--agnostic-teacher"),
        (args.agnostic_validate.is_some(), "--agnostic-validate"),
        (args.agnostic_split_only, "--agnostic-split-only"),
        (args.agnostic_select.is_some(), "--agnostic-select"),
        (args.agnostic_split_seed.is_some(), "--agnostic-split-seed"),
        (
            args.agnostic_pensieve_windows > 0,
            "--agnostic-pensieve-windows",
        ),
        (
            args.agnostic_pensieve_weight != 0.0,
            "--agnostic-pensieve-weight",
        ),
        (args.agnostic_rule_hints, "--agnostic-rule-hints"),
    ];
    let one_training = modes.iter().find(|m| m.0).map(|m| m.1);
    let pensieve = agnostic::pensieve_available(args);
    match args.agnostic_recipe.as_deref() {
        Some("single") => Ok(false),
        Some(_) => {
            // The recipe's own selection may be named.
            let grid = args.agnostic_select.as_deref() == Some("grid");
            let conflict = modes
                .iter()
                .find(|m| m.0 && !(grid && m.1 == "--agnostic-select"));
            if let Some((_, flag)) = conflict {
                anyhow::bail!(
                    "--agnostic-recipe distil sets {flag} for each of its trainings itself; drop {flag}, or train one policy with --agnostic-recipe single"
                );
            }
            anyhow::ensure!(
                pensieve,
                "--agnostic-recipe distil needs Pensieve's training traces (../shared/data/pensieve/sim/cooked_traces, found from the working folder, or a set named pensieve in --agnostic-traces): half its teachers and its home teacher train on them"
            );
            Ok(true)
        }
        None if one_training.is_some() => Ok(false),
        None if !pensieve => {
            eprintln!(
                "note: no Pensieve training traces (../shared/data, or --agnostic-traces pensieve=PATH), which the default recipe needs: training one policy (--agnostic-recipe single)"
            );
            Ok(false)
        }
        None => Ok(true),
    }
}

/// One training of the recipe.
struct Job {
    /// `A1` ... `hB3`, or [`HOME`].
    name: String,
    /// Its flags (`--out` is `--out/recipe/NAME`).
    args: TrainArgs,
}

/// The flags of one ladder-agnostic training of the recipe: `args` with `--agnostic-recipe
/// single`, grid selection, and `out`.
fn single(args: &TrainArgs, out: PathBuf) -> TrainArgs {
    TrainArgs {
        agnostic_recipe: Some("single".into()),
        agnostic_select: Some("grid".into()),
        out,
        ..args.clone()
    }
}

/// The teachers' jobs, in [`START_ORDER`].
fn teacher_jobs(args: &TrainArgs, dir: &Path, cache: &Path) -> Vec<Job> {
    let mut jobs: Vec<Job> = TEACHERS
        .iter()
        .map(|&(name, seed, windows, hints)| Job {
            name: name.to_owned(),
            args: TrainArgs {
                seed: args.seed.wrapping_add(seed - 1),
                agnostic_split_seed: Some(args.seed),
                agnostic_pensieve_windows: windows,
                agnostic_rule_hints: hints,
                agnostic_optimum_cache: Some(cache.to_owned()),
                hidden: None,
                ..single(args, dir.join(name))
            },
        })
        .collect();
    jobs.push(Job {
        name: HOME.to_owned(),
        args: TrainArgs {
            agnostic: false,
            agnostic_recipe: None,
            agnostic_select: None,
            hidden: None,
            out: dir.join(HOME),
            ..args.clone()
        },
    });
    jobs.sort_by_key(|j| START_ORDER.iter().position(|n| *n == j.name));
    jobs
}

/// The student's flags: distillation of the teachers (their files, as `A+B+...`) and the home
/// teacher into `--out`.
fn student_args(args: &TrainArgs, dir: &Path) -> TrainArgs {
    let ensemble: Vec<String> = TEACHERS
        .iter()
        .map(|t| {
            dir.join(t.0)
                .join("policy.safetensors")
                .display()
                .to_string()
        })
        .collect();
    TrainArgs {
        agnostic_pensieve_windows: 200,
        hidden: Some(args.hidden.clone().unwrap_or(STUDENT_HIDDEN.into())),
        agnostic_teacher: Some(PathBuf::from(ensemble.join("+"))),
        agnostic_home_teacher: Some(dir.join(HOME).join("policy.safetensors")),
        agnostic_distil_rounds: STUDENT_DISTIL_ROUNDS,
        agnostic_distil_soft: true,
        agnostic_optimum_cache: None,
        ..single(args, args.out.clone())
    }
}

/// The flags that make `job` on its own (for `recipe.csv`): with the recipe command's other flags
/// (trace sets, videos, training settings) in place of its `--seed`, `--hidden` and `--out`.
fn job_flags(job: &TrainArgs, home: bool) -> String {
    if home {
        return format!(
            "plain train (no --agnostic): --traces (the pensieve train rows of split.csv) --video (the first video) --seed {} --out {}",
            job.seed,
            job.out.display()
        );
    }
    let mut c = format!(
        "--agnostic-recipe single --agnostic-select grid --seed {}",
        job.seed
    );
    if let Some(s) = job.agnostic_split_seed {
        let _ = write!(c, " --agnostic-split-seed {s}");
    }
    if job.agnostic_pensieve_windows > 0 {
        let _ = write!(
            c,
            " --agnostic-pensieve-windows {}",
            job.agnostic_pensieve_windows
        );
    }
    if job.agnostic_rule_hints {
        c.push_str(" --agnostic-rule-hints");
    }
    if let Some(h) = &job.hidden {
        let _ = write!(c, " --hidden {h}");
    }
    if let Some(cache) = &job.agnostic_optimum_cache {
        let _ = write!(c, " --agnostic-optimum-cache {}", cache.display());
    }
    if let Some(t) = &job.agnostic_teacher {
        let _ = write!(c, " --agnostic-teacher {}", t.display());
    }
    if let Some(t) = &job.agnostic_home_teacher {
        let _ = write!(
            c,
            " --agnostic-home-teacher {} --agnostic-distil-rounds {}",
            t.display(),
            job.agnostic_distil_rounds
        );
    }
    if job.agnostic_distil_soft {
        c.push_str(" --agnostic-distil-soft");
    }
    let _ = write!(c, " --out {}", job.out.display());
    c
}

/// The recipe's progress: one display, a status per worker.
struct Board {
    bar: Progress,
    slots: Mutex<Vec<String>>,
}

impl Board {
    /// Sets worker `w`'s status and shows every worker's.
    fn set(&self, w: usize, status: String) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots[w] = status;
        let shown: Vec<&str> = slots
            .iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect();
        self.bar.set_message(shown.join(" | "));
    }
}

/// What one finished job measured.
struct Done {
    name: String,
    /// [`job_flags`].
    flags: String,
    wall_s: f64,
    outcome: Outcome,
}

/// Runs the recipe into `--out` (the student's files, `recipe.csv`) and `--out/recipe/` (each
/// teacher's outputs, the optimum cache unless `--agnostic-optimum-cache` names another folder).
/// A job that fails stops the recipe once the job beside it ends: no new job starts, `recipe.csv`
/// lists the finished ones, and the error names the failed job and its flags.
pub fn run(args: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    let dir = args.out.join("recipe");
    anyhow::ensure!(
        !dir.to_string_lossy().contains('+'),
        "--out {}: the recipe hands its teachers to the student as one `A+B+...` ensemble path, so the folder's path may not contain '+'; choose another --out",
        args.out.display()
    );
    let cache = args
        .agnostic_optimum_cache
        .clone()
        .unwrap_or_else(|| dir.join("optimum"));
    let student = student_args(args, &dir);
    // The student's preparation holds the split every teacher shares (the same trace sets and
    // split seed), Pensieve's training traces for the home teacher among them.
    let prepared = agnostic::prepare(&student)?;
    let home_inputs = home_inputs(args, &prepared)?;
    let jobs = teacher_jobs(args, &dir, &cache);
    eprintln!(
        "train --agnostic (recipe distil): {} teachers, {WORKERS} at a time ({}), then one {} student; \
         13 to 15 minutes on 2 cores. Teachers in {}; one training alone: --agnostic-recipe single",
        jobs.len(),
        jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>().join(", "),
        student.hidden.as_deref().unwrap_or(STUDENT_HIDDEN),
        dir.display()
    );
    let board = Board {
        bar: Progress::new(
            "train",
            jobs.len() as u64 + 1,
            "trainings",
            "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} {msg}",
        ),
        slots: Mutex::new(vec![String::new(); WORKERS]),
    };
    let home_inputs = Mutex::new(Some(home_inputs));
    let done = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let worker = |w: usize| -> Result<()> {
        while !failed.load(Ordering::Relaxed) {
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let home = job.name == HOME;
            let inputs = if home {
                home_inputs.lock().unwrap_or_else(|e| e.into_inner()).take()
            } else {
                None
            };
            match run_job(job, inputs, &board, w) {
                Ok(d) => done.lock().unwrap_or_else(|e| e.into_inner()).push(d),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let worker = &worker;
                scope.spawn(move || worker(w))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a recipe job panicked")))
            })
            .collect()
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = results.into_iter().find_map(Result::err) {
        board.bar.abandon();
        let _ = write_recipe_csv(args, &done);
        return Err(e);
    }
    let t0 = Instant::now();
    let status = |msg: String| board.set(0, format!("student: {msg}"));
    let outcome = agnostic::train(&student, &prepared, Display::Job(&status))
        .with_context(|| format!("the recipe's student ({})", job_flags(&student, false)))?;
    board.bar.inc(1);
    board.bar.finish_and_clear();
    done.push(Done {
        name: "student".into(),
        flags: job_flags(&student, false),
        wall_s: t0.elapsed().as_secs_f64(),
        outcome,
    });
    let csv = write_recipe_csv(args, &done)?;
    let policy = args.out.join("policy.safetensors");
    say!(
        "ladder-agnostic policy (recipe distil, {} teachers): validation score {:.4} ({} per top-bitrate chunk); {:.0} s",
        done.len() - 1,
        outcome.val_score,
        agnostic::score_meaning(Selection::Grid),
        started.elapsed().as_secs_f64()
    );
    if done.iter().any(|d| d.outcome.cut_short) {
        say!(
            "warning: --max-wall-s cut a training short (see {}); the policy is not reproducible",
            csv.display()
        );
    }
    say!(
        "wrote {}, {}, {}, {} (teachers in {})",
        policy.display(),
        args.out.join("training_curve.csv").display(),
        args.out.join("validation_groups.csv").display(),
        csv.display(),
        dir.display()
    );
    say!("{}", agnostic::evaluate_it(&policy));
    Ok(())
}

/// Runs one teacher's job on worker `w`'s status line (`inputs`: the home teacher's traces).
fn run_job(
    job: &Job,
    inputs: Option<crate::inputs::Inputs>,
    board: &Board,
    w: usize,
) -> Result<Done> {
    let t0 = Instant::now();
    let name = job.name.as_str();
    let home = name == HOME;
    let flags = job_flags(&job.args, home);
    board.set(w, format!("{name}: starting"));
    let status = |msg: String| board.set(w, format!("{name}: {msg}"));
    let result = match (home, inputs) {
        (true, Some(inputs)) => super::run_fixed(&job.args, inputs, Display::Job(&status)),
        (true, None) => Err(anyhow::anyhow!(
            "the home teacher's traces were taken twice"
        )),
        (false, _) => agnostic::prepare(&job.args)
            .and_then(|p| agnostic::train(&job.args, &p, Display::Job(&status))),
    };
    board.set(w, String::new());
    let outcome = result.with_context(|| format!("recipe job {name} ({flags})"))?;
    let wall_s = t0.elapsed().as_secs_f64();
    board.bar.inc(1);
    board.bar.println(format!(
        "train: {name} done in {wall_s:.0} s (validation {:.4}){}",
        outcome.val_score,
        if outcome.cut_short {
            "; cut short by --max-wall-s"
        } else {
            ""
        }
    ));
    Ok(Done {
        name: name.to_owned(),
        flags,
        wall_s,
        outcome,
    })
}

/// Writes `--out/recipe.csv`: every finished job's name, wall seconds, validation score, whether
/// `--max-wall-s` cut it short, and its own flags ([`job_flags`]).
fn write_recipe_csv(args: &TrainArgs, done: &[Done]) -> Result<PathBuf> {
    let mut csv = String::from("job,wall_s,val_score,cut_short,flags\n");
    for d in done {
        let _ = writeln!(
            csv,
            "{},{:.1},{:.6},{},\"{}\"",
            d.name, d.wall_s, d.outcome.val_score, d.outcome.cut_short, d.flags
        );
    }
    let path = args.out.join("recipe.csv");
    std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The home teacher's training inputs: the split's Pensieve training traces (in file-name order,
/// as a folder of them loads) on the first video, with `--qoe`.
fn home_inputs(args: &TrainArgs, prepared: &Prepared) -> Result<crate::inputs::Inputs> {
    let train: std::collections::HashSet<String> = split_of(&prepared.sets, &prepared.cfg)
        .into_iter()
        .filter(|(set, _, held_out)| set == "pensieve" && !held_out)
        .map(|(_, trace, _)| trace)
        .collect();
    let set = prepared
        .sets
        .iter()
        .find(|s| s.name == "pensieve")
        .context("the recipe's home teacher needs the trace set named pensieve")?;
    let mut traces: Vec<_> = set
        .traces
        .iter()
        .filter(|t| train.contains(&t.name))
        .cloned()
        .collect();
    traces.sort_by(|a, b| a.name.cmp(&b.name));
    let video = prepared.videos[0].video.clone();
    let qoe = QoeModel::for_video(&args.inputs.qoe, &video).context("in --qoe")?;
    crate::inputs::check_qoe_fits(&qoe, &args.inputs.qoe, &video)?;
    Ok(crate::inputs::Inputs {
        source: format!("the {} Pensieve training traces of the split", traces.len()),
        qoe,
        video,
        traces,
    })
}
