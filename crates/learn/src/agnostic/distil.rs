//! Policy distillation into one ladder-agnostic network: a student learns to decide as its
//! teachers do, on the states it reaches itself.
//!
//! Follows Rusu et al., "Policy Distillation" (ICLR 2016) for the loss (the student's softmax over
//! each decision's levels against the teacher's choice) and Ross et al., "A Reduction of Imitation
//! Learning and Structured Prediction to No-Regret Online Learning" (DAgger, AISTATS 2011) for the
//! data: round 0 records the teachers' own sessions; every later round lets the *student* play
//! every training environment, asks the teacher what it would fetch at every state the student
//! visits, adds those labels to the data and trains on all of it. A teacher's label costs one
//! forward pass (no optimum is solved), so the whole run takes a fraction of the optimum-imitation
//! recipe's time.
//!
//! **Why.** An ensemble of ladder-agnostic policies ([`neuralstream_policy::EnsembleAbr`]) met
//! issue 17's bar in more grid cells than any single policy, but costs one network per member per
//! decision; the fixed-ladder policy trained on Pensieve's traces alone stays the best on Pensieve's
//! test traces and plays only its own 6-level ladder. Distillation puts both into one network of
//! [`crate::AgnosticConfig::hidden`] widths: the general teacher labels every environment, and an
//! optional *home* teacher labels the environments of one (trace set, video) pair (Pensieve's
//! traces on Pensieve's video).
//!
//! Parameters (defaults, [`DistilConfig::default`]): 4 DAgger rounds after round 0, 4 epochs over
//! the aggregated data per round (round 0: [`crate::AgnosticConfig::epochs`]), every decision of
//! every session labelled. Selection is the caller's [`crate::agnostic::Selection`] on the usual
//! validation split, after every epoch of round 0 and after every later round; the best network is
//! kept. Deterministic for a seed: sessions are played in parallel and collected in order.
//!
//! Options, both opt-in and measured (`docs/benchmarks.md`, the fifth pass): [`DistilConfig::soft`]
//! trains on the teachers' probabilities of every level instead of their choice (steadier across
//! seeds, no better at the top); [`Teachers::rules`] lets the bar's rules teach the environments
//! they play better than the teacher (validated worse: environments that look alike to the student
//! get opposite labels).

use super::selection::RULES;
use super::{
    checked_sim, curriculum, ensure_sessions, environments, run_env, scoring_network, train_epoch,
    AgnosticPoint, AgnosticReport, Env, Samples, TraceSet, TrainVideo, ValidationRun,
};
use crate::error::LearnError;
use crate::AgnosticConfig;
use neuralstream_core::{Abr, Decision, Observation};
use neuralstream_nn::{loss, Adam, AdamConfig, SplitMix64};
use neuralstream_policy::{AgnosticAbr, AgnosticSpec, Policy, PolicyMeta};
use neuralstream_sim::{SessionLog, SimConfig};
use rayon::prelude::*;
use std::time::Instant;

/// Settings of [`distil_agnostic`] beyond [`AgnosticConfig`]'s (whose seed, network widths,
/// learning rate, batch size, round-0 epochs, environments, validation and wall-time cap it uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistilConfig {
    /// DAgger rounds after round 0 (the student plays, the teachers label).
    pub rounds: usize,
    /// Epochs over the aggregated data after each DAgger round.
    pub epochs_per_round: usize,
    /// Train on the teachers' probabilities of every level ([`Teacher::probabilities`], the
    /// soft targets of Hinton et al. 2015) instead of their chosen level; a teacher without
    /// probabilities (a rule) gives its level as a one-hot target.
    pub soft: bool,
}

impl Default for DistilConfig {
    /// 4 rounds of 4 epochs, hard targets.
    fn default() -> Self {
        DistilConfig {
            rounds: 4,
            epochs_per_round: 4,
            soft: false,
        }
    }
}

/// A player that can teach: it decides ([`Abr`]) and may say how likely it finds every level.
pub trait Teacher: Abr {
    /// The probability of every level of `obs.video` (they sum to 1), or `None` when the player
    /// has none (a rule), so its chosen level is the target.
    fn probabilities(&mut self, _obs: &Observation<'_>) -> Option<Vec<f64>> {
        None
    }
}

impl Teacher for Policy {
    /// The softmax of a policy's per-level scores; an ensemble's mean probability.
    fn probabilities(&mut self, obs: &Observation<'_>) -> Option<Vec<f64>> {
        let softmax = |scores: &[f32]| {
            let mut p = Vec::new();
            loss::softmax_f64(scores, &mut p);
            p
        };
        match self {
            Policy::Fixed(p) => Some(softmax(p.logits(obs))),
            Policy::Agnostic(p) => p.scores(obs).ok().map(softmax),
            Policy::Ensemble(p) => p.probabilities(obs).ok().map(<[f64]>::to_vec),
        }
    }
}

/// A rule as a teacher: its chosen level only.
struct RuleTeacher(Box<dyn Abr>);

impl Abr for RuleTeacher {
    fn name(&self) -> String {
        self.0.name()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        self.0.choose(obs)
    }
}

impl Teacher for RuleTeacher {}

/// Who labels which environment: `general` every one, except those of `home`'s (trace set,
/// video) pair, which its own teacher labels; with `rules`, each environment's label comes from
/// whichever of its teacher and the bar's four rules ([`super::selection::RULES`]) scored the
/// highest QoE on it (a hindsight choice among causal players, so the student imitates the best
/// player it could be on each environment).
#[derive(Debug, Clone)]
pub struct Teachers<P> {
    /// The teacher of every environment outside `home`'s pair.
    pub general: P,
    /// `(trace set name, video name, teacher)`: the teacher of that pair's environments.
    pub home: Option<(String, String, P)>,
    /// Let the rules teach the environments on which one of them beats the teacher.
    pub rules: bool,
}

/// Plays `student` (or, without one, the teacher) and records every decision with the teacher's
/// level.
struct Labeller<'s> {
    teacher: Box<dyn Teacher + 's>,
    student: Option<AgnosticAbr>,
    spec: &'s AgnosticSpec,
    data: Samples,
    buf: Vec<f32>,
    /// Decisions where the student chose the teacher's level.
    agreed: usize,
}

impl Abr for Labeller<'_> {
    fn name(&self) -> String {
        "labeller".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let label = self.teacher.choose(obs).level;
        let probs = match self.data.soft {
            Some(_) => self.teacher.probabilities(obs),
            None => None,
        };
        self.data
            .push(self.spec, obs, label, probs.as_deref(), &mut self.buf);
        match &mut self.student {
            Some(student) => {
                let decision = student.choose(obs);
                self.agreed += usize::from(decision.level == label);
                decision
            }
            None => Decision::level(label),
        }
    }
}

/// The teacher of one environment.
fn teacher_of<'t, P>(
    teachers: &'t Teachers<P>,
    env: &Env,
    sets: &[TraceSet],
    videos: &[TrainVideo],
) -> &'t P {
    match &teachers.home {
        Some((set, video, p))
            if sets[env.set].name == *set && videos[env.video].video.name == *video =>
        {
            p
        }
        _ => &teachers.general,
    }
}

/// Which player teaches each environment: 0 its teacher ([`teacher_of`]), `1 + i` the rule
/// `RULES[i]` (with [`Teachers::rules`], where that rule's QoE is above the teacher's and every
/// other rule's).
fn assign<P: Teacher + Clone + Send + Sync>(
    teachers: &Teachers<P>,
    envs: &[Env],
    sets: &[TraceSet],
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
) -> Result<Vec<usize>, LearnError> {
    if !teachers.rules {
        return Ok(vec![0; envs.len()]);
    }
    let rules = curriculum::rule_qoes(envs, videos, sim, skip_chunks)?;
    envs.par_iter()
        .zip(&rules)
        .map_init(SessionLog::default, |log, (env, rule_qoes)| {
            let mut teacher = teacher_of(teachers, env, sets, videos).clone();
            let mut best = (
                curriculum::play(&mut teacher, env, videos, sim, skip_chunks, log)?.0,
                0,
            );
            for (i, &q) in rule_qoes.iter().enumerate() {
                if q > best.0 {
                    best = (q, i + 1);
                }
            }
            Ok(best.1)
        })
        .collect()
}

/// What labelling the training environments needs besides the student: the environments, who
/// teaches each ([`assign`]) and whether targets are soft.
struct Labelling<'a, P> {
    teachers: &'a Teachers<P>,
    /// Each environment's teacher: 0 its own ([`teacher_of`]), `1 + i` the rule `RULES[i]`.
    assigned: Vec<usize>,
    envs: &'a [Env],
    sets: &'a [TraceSet],
    videos: &'a [TrainVideo],
    spec: &'a AgnosticSpec,
    sim: &'a SimConfig,
    soft: bool,
}

impl<P: Teacher + Clone + Send + Sync> Labelling<'_, P> {
    /// Plays every environment (the student, or the teacher when `student` is `None`) and labels
    /// every decision with the environment's teacher, in environment order; also the number of
    /// decisions where the student chose the teacher's level.
    fn run(&self, student: Option<&AgnosticAbr>) -> Result<(Samples, usize), LearnError> {
        let parts: Vec<(Samples, usize)> = self
            .envs
            .par_iter()
            .zip(&self.assigned)
            .map_init(SessionLog::default, |log, (env, &who)| {
                let teacher: Box<dyn Teacher> = match who {
                    0 => Box::new(teacher_of(self.teachers, env, self.sets, self.videos).clone()),
                    r => {
                        let name = RULES[r - 1];
                        Box::new(RuleTeacher(neuralstream_abr::create(name).map_err(
                            |e| LearnError::Invalid(format!("teacher rule {name}: {e}")),
                        )?))
                    }
                };
                let mut labeller = Labeller {
                    teacher,
                    student: student.cloned(),
                    spec: self.spec,
                    data: Samples::with_soft(self.soft),
                    buf: Vec::new(),
                    agreed: 0,
                };
                run_env(&mut labeller, env, self.videos, self.sim, log)?;
                Ok((labeller.data, labeller.agreed))
            })
            .collect::<Result<_, LearnError>>()?;
        let mut data = Samples::with_soft(self.soft);
        let mut agreed = 0;
        for (p, a) in parts {
            data.extend(p);
            agreed += a;
        }
        Ok((data, agreed))
    }
}

/// What [`distil_agnostic`] returns.
#[derive(Debug, Clone)]
pub struct DistilReport {
    /// The selected student, its curve and validation groups (stages `distil-bc`, `distil`).
    pub report: AgnosticReport,
    /// For every DAgger round, the share of the student's own decisions that matched its
    /// teacher's (measured before that round's training: how far the student had got).
    pub agreement: Vec<f64>,
    /// Training environments taught by the teacher (index 0) and by each rule of
    /// [`super::selection::RULES`] (index `1 + i`; all 0 unless [`Teachers::rules`]).
    pub taught_by: Vec<usize>,
}

/// Distils `teachers` into one ladder-agnostic network of [`AgnosticConfig::hidden`] widths on
/// `sets` x `videos` (environments and validation as [`crate::train_agnostic`] builds them);
/// `progress` is called after every validation (stages `distil-bc`, then `distil`). Fails on a
/// video outside 2..=16 levels, a home teacher naming no set or video, or a simulator error.
pub fn distil_agnostic<P: Teacher + Clone + Send + Sync>(
    sets: &[TraceSet],
    videos: &[TrainVideo],
    cfg: &AgnosticConfig,
    distil: &DistilConfig,
    teachers: &Teachers<P>,
    meta: PolicyMeta,
    progress: &mut dyn FnMut(&AgnosticPoint),
) -> Result<DistilReport, LearnError> {
    let start = Instant::now();
    let sim = checked_sim(videos, cfg)?;
    if let Some((set, video, _)) = &teachers.home {
        if !sets.iter().any(|s| s.name == *set) || !videos.iter().any(|v| v.video.name == *video) {
            return Err(LearnError::Invalid(format!(
                "home teacher: needs a trace set named '{set}' and a video named '{video}' (sets: {}; videos: {})",
                sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
                videos.iter().map(|v| v.video.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let spec = cfg.spec();
    let (train_envs, val_envs) = environments(sets, videos, cfg)?;
    let labelling = Labelling {
        teachers,
        assigned: assign(teachers, &train_envs, sets, videos, &sim, cfg.skip_chunks)?,
        envs: &train_envs,
        sets,
        videos,
        spec: &spec,
        sim: &sim,
        soft: distil.soft,
    };
    let (mut data, _) = labelling.run(None)?;
    ensure_sessions("distillation", &data, &train_envs, &val_envs)?;
    let mut val = ValidationRun::new(&val_envs, sets, videos, &sim, cfg, &spec, start)?;
    let mut actor = scoring_network(&spec, cfg);
    let mut adam = Adam::new(AdamConfig::with_lr(cfg.lr));
    let mut rng = SplitMix64::new(cfg.seed ^ 0xd157_1000);
    let mut cut_short = false;
    let mut agreement = Vec::new();
    for epoch in 1..=cfg.epochs {
        let loss = train_epoch(&mut actor, &mut adam, &data, cfg.batch_size, &mut rng);
        val.record(&actor, "distil-bc", epoch, loss, progress)?;
        if start.elapsed().as_secs_f64() > cfg.max_wall_s {
            cut_short = epoch < cfg.epochs || distil.rounds > 0;
            break;
        }
    }
    for round in 1..=distil.rounds {
        if cut_short {
            break;
        }
        let student = AgnosticAbr::new(actor.clone(), spec.clone(), PolicyMeta::default());
        let (labelled, agreed) = labelling.run(Some(&student))?;
        agreement.push(agreed as f64 / labelled.len().max(1) as f64);
        data.extend(labelled);
        let mut loss = 0.0;
        for _ in 0..distil.epochs_per_round {
            loss = train_epoch(&mut actor, &mut adam, &data, cfg.batch_size, &mut rng);
        }
        val.record(&actor, "distil", round, loss, progress)?;
        if start.elapsed().as_secs_f64() > cfg.max_wall_s && round < distil.rounds {
            cut_short = true;
        }
    }
    let mut taught_by = vec![0; 1 + RULES.len()];
    for &who in &labelling.assigned {
        taught_by[who] += 1;
    }
    Ok(DistilReport {
        report: val.report(meta, data.len(), train_envs.len(), cut_short)?,
        agreement,
        taught_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agnostic::tests::{synthetic_sets, tiny, video};
    use neuralstream_data::synthetic::TraceGenerator;

    /// A teacher that always fetches one level (clamped to the ladder).
    #[derive(Debug, Clone)]
    struct Always(usize);

    impl Abr for Always {
        fn name(&self) -> String {
            "always".into()
        }
        fn choose(&mut self, obs: &Observation<'_>) -> Decision {
            Decision::level(self.0.min(obs.video.num_levels() - 1))
        }
    }

    impl Teacher for Always {}

    fn videos() -> Vec<TrainVideo> {
        vec![
            video("v4", &[300.0, 750.0, 1200.0, 2850.0], 4.0),
            video(
                "v7",
                &[200.0, 400.0, 800.0, 1200.0, 2000.0, 3000.0, 4500.0],
                2.0,
            ),
        ]
    }

    /// [`distil_agnostic`] with default metadata and no progress.
    fn run_distil<P: Teacher + Clone + Send + Sync>(
        sets: &[TraceSet],
        videos: &[TrainVideo],
        cfg: &AgnosticConfig,
        distil: &DistilConfig,
        teachers: &Teachers<P>,
    ) -> Result<DistilReport, LearnError> {
        distil_agnostic(
            sets,
            videos,
            cfg,
            distil,
            teachers,
            PolicyMeta::default(),
            &mut |_| {},
        )
    }

    /// A slow network (0.2-0.6 Mbit/s) and a fast one (20-60 Mbit/s), six 400 s traces each; the
    /// two videos; a small student that learns in a few epochs.
    fn slow_and_fast() -> (Vec<TraceSet>, Vec<TrainVideo>, AgnosticConfig) {
        let set = |name: &str, lo: f64, hi: f64, seed: u64| TraceSet {
            name: name.to_owned(),
            traces: TraceGenerator {
                duration_s: 400.0,
                base_min_mbps: lo,
                base_max_mbps: hi,
                ..TraceGenerator::default()
            }
            .traces(seed, 6),
        };
        let cfg = AgnosticConfig {
            epochs: 8,
            hidden: vec![16],
            lr: 3e-3,
            ..tiny()
        };
        let sets = vec![set("slow", 0.2, 0.6, 1), set("fast", 20.0, 60.0, 2)];
        (sets, videos(), cfg)
    }

    #[test]
    fn the_student_learns_each_environments_teacher_deterministically() {
        let (sets, videos, cfg) = slow_and_fast();
        let distil = DistilConfig {
            rounds: 3,
            epochs_per_round: 6,
            soft: false,
        };
        // The 4-level video on the slow network is taught "always the lowest level", everything
        // else "always the top": the student must tell the networks apart.
        let teachers = Teachers {
            general: Always(15),
            home: Some(("slow".to_owned(), "v4".to_owned(), Always(0))),
            rules: false,
        };
        let run = || run_distil(&sets, &videos, &cfg, &distil, &teachers).unwrap();
        let DistilReport {
            report, agreement, ..
        } = run();
        assert_eq!(report.curve.len(), cfg.epochs + distil.rounds);
        assert_eq!(report.curve.last().unwrap().stage, "distil");
        assert_eq!(agreement.len(), distil.rounds);
        let last = agreement[distil.rounds - 1];
        assert!(
            last >= 0.9,
            "the student should decide as each video's teacher does: agreement {agreement:?}"
        );
        assert_eq!(
            report.best_val_score,
            report
                .curve
                .iter()
                .map(|p| p.val_score)
                .fold(f64::MIN, f64::max)
        );
        // The selected student fetches as each environment's teacher does.
        let played = |set: usize, video: usize| {
            let mut abr = report.policy.clone();
            let mut log = SessionLog::default();
            let v = &videos[video].video;
            let sim = SimConfig::pensieve();
            let start = neuralstream_sim::StartPosition::Beginning;
            neuralstream_sim::run_session(
                &sim,
                &sets[set].traces[0],
                v,
                &mut abr,
                start,
                None,
                &mut log,
            )
            .unwrap();
            log.records
                .iter()
                .skip(1)
                .map(|r| r.level)
                .collect::<Vec<_>>()
        };
        let slow = played(0, 0);
        assert!(
            slow.iter().filter(|&&l| l == 0).count() * 10 >= slow.len() * 9,
            "{slow:?}"
        );
        let fast = played(1, 1);
        assert!(
            fast.iter().filter(|&&l| l == 6).count() * 10 >= fast.len() * 9,
            "{fast:?}"
        );
        let again = run();
        assert_eq!(again.agreement, agreement);
        assert_eq!(
            again.report.policy.actor(),
            report.policy.actor(),
            "a seed gives the same network"
        );
    }

    #[test]
    fn with_rules_a_rule_teaches_where_it_beats_the_teacher() {
        // "Always the top level" is right on a fast network and stalls on a slow one.
        let (sets, videos, cfg) = slow_and_fast();
        let distil = DistilConfig {
            rounds: 1,
            epochs_per_round: 4,
            soft: false,
        };
        let run = |rules| {
            let teachers = Teachers {
                general: Always(15),
                home: None,
                rules,
            };
            run_distil(&sets, &videos, &cfg, &distil, &teachers).unwrap()
        };
        let without = run(false);
        let envs = without.taught_by.iter().sum::<usize>();
        assert_eq!(without.taught_by[0], envs, "{:?}", without.taught_by);
        let with = run(true);
        assert_eq!(with.taught_by.iter().sum::<usize>(), envs);
        let by_rules: usize = with.taught_by[1..].iter().sum();
        assert!(
            with.taught_by[0] > 0 && by_rules > 0,
            "the teacher keeps the fast network, rules take the slow one: {:?}",
            with.taught_by
        );
        assert!(
            with.report.best_val_score > without.report.best_val_score,
            "learning from the better player per environment validates better: {} vs {}",
            with.report.best_val_score,
            without.report.best_val_score
        );
    }

    /// A teacher that fetches the top level and puts 0.7 on it, the rest spread evenly.
    #[derive(Debug, Clone)]
    struct Leaning;

    impl Abr for Leaning {
        fn name(&self) -> String {
            "leaning".into()
        }
        fn choose(&mut self, obs: &Observation<'_>) -> Decision {
            Decision::level(obs.video.num_levels() - 1)
        }
    }

    impl Teacher for Leaning {
        fn probabilities(&mut self, obs: &Observation<'_>) -> Option<Vec<f64>> {
            let n = obs.video.num_levels();
            let mut p = vec![0.3 / (n - 1) as f64; n];
            p[n - 1] = 0.7;
            Some(p)
        }
    }

    #[test]
    fn soft_targets_are_the_teachers_probabilities_and_a_rules_level() {
        let (sets, videos, cfg) = slow_and_fast();
        let (envs, _) = environments(&sets, &videos, &cfg).unwrap();
        let sim = checked_sim(&videos, &cfg).unwrap();
        let spec = AgnosticSpec::default();
        let teachers = Teachers {
            general: Leaning,
            home: None,
            rules: false,
        };
        let labelling = |who: usize, soft: bool| Labelling {
            teachers: &teachers,
            assigned: vec![who; envs.len()],
            envs: &envs,
            sets: &sets,
            videos: &videos,
            spec: &spec,
            sim: &sim,
            soft,
        };
        // Every environment's teacher, then a rule (bba0) on every environment.
        for who in [0, 1] {
            let (data, _) = labelling(who, true).run(None).unwrap();
            let soft = data.soft.as_ref().unwrap();
            assert_eq!(
                soft.len(),
                *data.offsets.last().unwrap(),
                "one target per row"
            );
            for (i, w) in data.offsets.windows(2).enumerate() {
                let p = &soft[w[0]..w[1]];
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                if who == 0 {
                    assert_eq!(p[p.len() - 1], 0.7);
                } else {
                    assert_eq!(p[data.labels[i]], 1.0, "a rule's level, one-hot");
                }
            }
        }
        let (hard, _) = labelling(0, false).run(None).unwrap();
        assert!(hard.soft.is_none());
        // The student learns the teacher's most likely level from its probabilities.
        let distil = DistilConfig {
            rounds: 1,
            epochs_per_round: 4,
            soft: true,
        };
        let out = run_distil(&sets, &videos, &cfg, &distil, &teachers).unwrap();
        assert!(out.agreement[0] >= 0.9, "{:?}", out.agreement);
    }

    #[test]
    fn a_home_teacher_for_an_unknown_set_is_refused_by_name() {
        let sets = synthetic_sets(400.0, &[("a", 1, 4)]);
        let teachers = Teachers {
            general: Always(0),
            home: Some(("pensieve".to_owned(), "v4".to_owned(), Always(0))),
            rules: false,
        };
        let err = run_distil(
            &sets,
            &videos(),
            &tiny(),
            &DistilConfig::default(),
            &teachers,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("'pensieve'") && err.contains("sets: a"),
            "{err}"
        );
    }
}
