//! CI-sized checks of the whole training pipeline on synthetic traces (seconds each): the RL
//! trainers improve a tiny problem measurably, training checkpoints round-trip, `--resume`
//! continues the curve, the inference path matches the training path on recorded states, and the
//! same seed gives the same result.

use neuralstream_core::{Observation, Trace, Video};
use neuralstream_data::synthetic::{builtin_video, TraceGenerator};
use neuralstream_learn::pipeline::{train_pipeline, PipelineConfig, StageKind};
use neuralstream_learn::{
    A2cConfig, CurvePoint, DqnConfig, ImitationConfig, LearnedAbr, PolicyIterationConfig,
    PpoConfig, ScheduleDone, TrainingCheckpoint,
};
use neuralstream_nn::{loss, Mlp};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};

fn traces() -> Vec<Trace> {
    TraceGenerator::default().traces(11, 12)
}

/// A tiny, iteration-bounded configuration (no wall-time limit is ever reached).
fn tiny(stages: Vec<StageKind>) -> PipelineConfig {
    PipelineConfig {
        seed: 7,
        stages,
        imitation: ImitationConfig {
            hidden: vec![32, 32],
            lr: 3e-3,
            batch_size: 64,
            epochs: 6,
            dagger_rounds: 1,
            dagger_sessions_per_round: 8,
            dagger_states_per_session: 6,
            dagger_epochs: 2,
            hop_s: 320.0,
            ..ImitationConfig::default()
        },
        policy_iteration: PolicyIterationConfig {
            iterations: 4,
            sessions_per_iter: 24,
            states_per_session: 6,
            epochs: 4,
            minibatch: 64,
            lr: 1e-3,
            ..PolicyIterationConfig::default()
        },
        ppo: PpoConfig {
            n_envs: 4,
            steps_per_env: 48,
            minibatch: 64,
            critic_hidden: vec![32, 32],
            critic_warmup_iters: 2,
            validate_every: 2,
            max_iters: 8,
            lr: 3e-4,
            ..PpoConfig::default()
        },
        a2c: A2cConfig {
            n_envs: 4,
            steps_per_env: 48,
            critic_hidden: vec![32, 32],
            lr: 1e-3,
            validate_every: 10,
            max_iters: 60,
            normalise_advantages: true,
            ..A2cConfig::default()
        },
        dqn: DqnConfig {
            n_envs: 4,
            steps_per_env: 16,
            hidden: vec![32, 32],
            validate_every: 10,
            max_iters: 60,
            learning_starts: 128,
            eps_decay_steps: 2_000,
            ..DqnConfig::default()
        },
        max_wall_s: 1e6,
        val_fraction: 0.25,
        val_hop_s: 160.0,
        actor_hidden: vec![32, 32],
        ..PipelineConfig::default()
    }
}

/// Equal up to JSON's float round trip (and NaN equals NaN).
fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * a.abs().max(1.0)
}

fn same_point(a: &CurvePoint, b: &CurvePoint) -> bool {
    a.stage == b.stage
        && a.iteration == b.iteration
        && a.samples == b.samples
        && close(a.wall_s, b.wall_s)
        && close(a.val_qoe, b.val_qoe)
        && close(a.train_qoe, b.train_qoe)
        && close(a.loss, b.loss)
        && close(a.aux, b.aux)
}

fn params(m: &Mlp) -> Vec<Vec<f32>> {
    m.named_params().iter().map(|p| p.2.to_vec()).collect()
}

/// Runs imitation then `rl` on the tiny problem and checks what every recipe must give: the stage
/// names, a clear improvement over the untrained policy (a fifth of the way to the optimum at
/// least) and nothing above the optimum. Returns the report and the configuration it ran.
fn imitation_then(rl: StageKind) -> (neuralstream_learn::PipelineReport, PipelineConfig) {
    let video = builtin_video();
    let cfg = tiny(vec![StageKind::Imitation, rl]);
    let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    let first = rep.last.curve.first().unwrap().val_qoe;
    let opt = rep.val_optimum_qoe.unwrap();
    let stage_qoes: Vec<String> = rep
        .stages
        .iter()
        .map(|s| format!("{} {:.2}", s.stage, s.val_qoe))
        .collect();
    eprintln!(
        "untrained {first:.2} -> {}, optimum {opt:.2}",
        stage_qoes.join(" -> ")
    );
    let names: Vec<&str> = rep.stages.iter().map(|s| s.stage.name()).collect();
    assert_eq!(names, ["imitation", "dagger", rl.name()]);
    assert!(rep.best_val_qoe > first + 0.2 * (opt - first).abs());
    assert!(rep.best_val_qoe <= opt + 1e-6);
    (rep, cfg)
}

#[test]
fn imitation_then_ppo_improves_a_tiny_problem() {
    let (rep, _) = imitation_then(StageKind::Ppo);
    // PPO starts from the imitation result and selection never goes backwards.
    assert!(rep.stages[2].val_qoe >= rep.stages[1].val_qoe);
    assert!(rep.last.critic.is_some() && rep.last.adam.is_some());
    assert!(rep.last.curve.iter().any(|p| p.stage == "ppo"));
}

#[test]
fn imitation_then_policy_iteration_improves_a_tiny_problem() {
    let (rep, cfg) = imitation_then(StageKind::PolicyIteration);
    // Policy iteration improves on its warm start, not just keeps it.
    assert!(
        rep.stages[2].val_qoe > rep.stages[1].val_qoe,
        "api {} vs dagger {}",
        rep.stages[2].val_qoe,
        rep.stages[1].val_qoe
    );
    let api: Vec<_> = rep.last.curve.iter().filter(|p| p.stage == "api").collect();
    assert_eq!(api.len(), cfg.policy_iteration.iterations);
    assert!(api.iter().all(|p| p.val_qoe.is_finite() && p.samples > 0));
    // Same seed, same policy.
    let again = train_pipeline(&traces(), &builtin_video(), &cfg, None, |_| {}).unwrap();
    assert_eq!(params(&again.best.actor), params(&rep.best.actor));
}

#[test]
fn a2c_and_dqn_run_and_never_select_a_worse_checkpoint() {
    // Smoke test of the comparison trainers from scratch (learning from scratch takes far longer
    // than a CI test): they run, extend the curve with their own stage and keep the best
    // validation checkpoint, which is at least the starting one.
    let video = builtin_video();
    for stage in [StageKind::A2c, StageKind::Dqn] {
        let cfg = tiny(vec![stage]);
        let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
        let curve = &rep.last.curve;
        assert!(curve.len() >= 2, "{}: {} points", stage.name(), curve.len());
        assert!(curve
            .iter()
            .all(|p| p.stage == stage.name() && p.val_qoe.is_finite()));
        assert!(curve.iter().all(|p| rep.best_val_qoe >= p.val_qoe));
        assert_eq!(rep.best.stage, stage.name());
        assert!(rep.last.progress.samples > 0);
        // Their exploration schedules count from the stage's own start (here 0): what they ran
        // is saved so that a resumed run goes on from it.
        let done = ScheduleDone {
            stage,
            iterations: rep.last.progress.iteration,
            samples: rep.last.progress.samples,
        };
        assert_eq!(rep.last.schedule, Some(done));
    }
    // After imitation, DQN's schedule counts only DQN's own samples.
    let cfg = tiny(vec![StageKind::Imitation, StageKind::Dqn]);
    let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    let imitation_end = &rep
        .stages
        .iter()
        .find(|s| s.stage == "dagger")
        .unwrap()
        .checkpoint;
    let done = ScheduleDone {
        stage: StageKind::Dqn,
        iterations: rep.last.progress.iteration - imitation_end.progress.iteration,
        samples: rep.last.progress.samples - imitation_end.progress.samples,
    };
    assert_eq!(rep.last.schedule, Some(done));
    // DQN's selected checkpoint carries the same record, so resuming it as DQN goes on from
    // there whatever counters the pipeline gives it.
    let dqn_best = &rep
        .stages
        .iter()
        .find(|s| s.stage == "dqn")
        .unwrap()
        .checkpoint;
    assert_eq!(dqn_best.schedule, Some(done));
}

/// Trains imitation then PPO on the tiny problem and saves its final state as `last.safetensors`
/// in a temporary folder; returns the report, its configuration, the folder (deleted when dropped)
/// and the file.
fn trained_and_saved() -> (
    neuralstream_learn::PipelineReport,
    PipelineConfig,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let cfg = tiny(vec![StageKind::Imitation, StageKind::Ppo]);
    let rep = train_pipeline(&traces(), &builtin_video(), &cfg, None, |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last.safetensors");
    rep.last.save(&path).unwrap();
    (rep, cfg, dir, path)
}

#[test]
fn checkpoint_round_trip_keeps_everything() {
    let (rep, _cfg, _dir, path) = trained_and_saved();
    let back = TrainingCheckpoint::load(&path).unwrap();
    assert_eq!(params(&back.actor), params(&rep.last.actor));
    assert_eq!(
        back.critic.as_ref().map(params),
        rep.last.critic.as_ref().map(params)
    );
    assert_eq!(back.spec, rep.last.spec);
    assert_eq!(back.meta, rep.last.meta);
    assert_eq!(back.stage, rep.last.stage);
    assert_eq!(back.progress, rep.last.progress);
    assert_eq!(back.ladder_kbps, rep.last.ladder_kbps);
    assert_eq!(back.curve.len(), rep.last.curve.len());
    for (a, b) in back.curve.iter().zip(&rep.last.curve) {
        assert!(same_point(a, b), "{a:?} vs {b:?}");
    }
    assert!(back.adam.is_some());
    // A training checkpoint is a policy checkpoint too.
    let policy = LearnedAbr::load(&path).unwrap();
    assert_eq!(params(policy.actor()), params(&rep.last.actor));
}

#[test]
fn resume_continues_the_curve() {
    let video = builtin_video();
    let (rep, cfg, _dir, path) = trained_and_saved();
    let mut resumed = TrainingCheckpoint::load(&path).unwrap();
    let adam0 = resumed.adam.as_ref().expect("PPO saves its optimiser");
    let (steps0, actor_steps0) = (adam0.steps(), adam0.state()["actor.0.weight"].step);
    // A score of the earlier run, in its QoE's units, that the resumed run must not carry.
    resumed
        .meta
        .extra
        .insert("val_optimum_qoe".into(), "49.25".into());
    let cfg2 = PipelineConfig {
        stages: vec![StageKind::Ppo],
        seed: cfg.seed + 1,
        qoe: neuralstream_core::QoeModel::from_name("hd").unwrap(),
        ..cfg
    };
    let rep2 = train_pipeline(&traces(), &video, &cfg2, Some(resumed), |_| {}).unwrap();
    for meta in [&rep2.best.meta, &rep2.last.meta] {
        assert_eq!(meta.qoe, cfg2.qoe.spec());
        assert_eq!(meta.qoe, "hd:8");
        assert_eq!(meta.seed, Some(cfg2.seed));
        assert!(!meta.extra.contains_key("val_optimum_qoe"), "{meta:?}");
    }
    let (c1, c2) = (&rep.last.curve, &rep2.last.curve);
    assert!(c2.len() > c1.len(), "{} then {}", c1.len(), c2.len());
    for (a, b) in c2.iter().zip(c1) {
        assert!(
            same_point(a, b),
            "the old curve is kept as it was: {a:?} vs {b:?}"
        );
    }
    let new = &c2[c1.len()..];
    assert!(new.iter().all(|p| p.stage == "ppo"));
    assert!(new[0].iteration > c1.last().unwrap().iteration);
    assert!(new[0].samples > c1.last().unwrap().samples);
    assert!(new[0].wall_s >= c1.last().unwrap().wall_s);
    assert!(rep2.last.progress.iteration > rep.last.progress.iteration);
    // The resumed stage continued from the checkpoint's critic and optimiser: no warm-up, so
    // every new optimiser step also trained the actor, and the step counts went on from the file.
    assert_ne!(params(&rep2.last.actor), params(&rep.last.actor));
    let adam = rep2.last.adam.as_ref().unwrap();
    let new_steps = adam.steps() - steps0;
    assert!(new_steps > 0);
    assert_eq!(
        adam.state()["actor.0.weight"].step - actor_steps0,
        new_steps
    );
}

#[test]
fn the_default_api_stage_resumes_its_optimiser() {
    let video = builtin_video();
    let cfg = tiny(vec![StageKind::PolicyIteration]);
    let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last.safetensors");
    rep.last.save(&path).unwrap();
    let back = TrainingCheckpoint::load(&path).unwrap();
    let adam0 = back.adam.as_ref().expect("api saves its optimiser");
    let (steps0, tensor0) = (adam0.steps(), adam0.state()["actor.0.weight"].step);
    assert!(steps0 > 0 && tensor0 == steps0);
    let rep2 = train_pipeline(&traces(), &video, &cfg, Some(back), |_| {}).unwrap();
    let adam1 = rep2.last.adam.as_ref().unwrap();
    // The counts go on from the file's (a fresh optimiser would start again at 0, with the
    // bias correction of a first step).
    let new_steps = adam1
        .steps()
        .checked_sub(steps0)
        .expect("the step count continues");
    assert!(new_steps > 0);
    assert_eq!(adam1.state()["actor.0.weight"].step, tensor0 + new_steps);
    assert!(rep2.last.curve.len() > rep.last.curve.len());
}

/// Plays a session with the policy and returns the feature vectors of every decision, rebuilt
/// from the recorded chunk log.
fn recorded_states(policy: &mut LearnedAbr, video: &Video) -> Vec<Vec<f32>> {
    let trace = TraceGenerator::default().trace(5, 3);
    let mut log = SessionLog::default();
    run_session(
        &SimConfig::pensieve(),
        &trace,
        video,
        policy,
        StartPosition::Beginning,
        None,
        &mut log,
    )
    .unwrap();
    let spec = policy.spec().clone();
    (1..log.records.len())
        .map(|k| {
            spec.compute(&Observation {
                video,
                next_chunk: k,
                total_chunks: log.records.len(),
                buffer_s: log.records[k - 1].buffer_s,
                last_level: log.records[k - 1].level,
                history: &log.records[..k],
            })
        })
        .collect()
}

#[test]
fn inference_path_matches_training_path_on_recorded_states() {
    let video = builtin_video();
    let cfg = tiny(vec![StageKind::Imitation, StageKind::Ppo]);
    let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.safetensors");
    rep.best.save(&path).unwrap();
    // Inference: the loaded policy, the allocation-free single-sample path.
    let mut policy = LearnedAbr::load(&path).unwrap();
    let states = recorded_states(&mut policy, &video);
    assert!(states.len() > 10);
    // Training: the batched forward pass the trainers differentiate.
    let n = rep.best.spec.num_levels;
    let mut net = rep.best.actor.clone();
    let logits = net.forward_train(&states.concat(), states.len()).to_vec();
    let train_probs = loss::softmax(&logits, n);
    let mut scratch = neuralstream_nn::Scratch::for_mlp(policy.actor());
    for (i, s) in states.iter().enumerate() {
        let mut p = policy.actor().infer(s, &mut scratch).to_vec();
        loss::softmax_in_place(&mut p);
        for (a, b) in p.iter().zip(&train_probs[i * n..(i + 1) * n]) {
            assert!((a - b).abs() < 1e-5, "state {i}: {a} vs {b}");
        }
        // And the decision is the argmax of those probabilities.
        let best = neuralstream_policy::argmax(&train_probs[i * n..(i + 1) * n]);
        assert_eq!(neuralstream_policy::argmax(&p), best);
    }
}

#[test]
fn same_seed_same_result() {
    let video = builtin_video();
    let cfg = tiny(vec![StageKind::Imitation, StageKind::Ppo]);
    let a = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    let b = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    assert_eq!(params(&a.best.actor), params(&b.best.actor));
    assert_eq!(params(&a.last.actor), params(&b.last.actor));
    assert_eq!(a.best_val_qoe.to_bits(), b.best_val_qoe.to_bits());
    let vals = |r: &neuralstream_learn::PipelineReport| -> Vec<u64> {
        r.last.curve.iter().map(|p| p.val_qoe.to_bits()).collect()
    };
    assert_eq!(vals(&a), vals(&b));
    let other = train_pipeline(
        &traces(),
        &video,
        &PipelineConfig { seed: 8, ..cfg },
        None,
        |_| {},
    )
    .unwrap();
    assert_ne!(params(&a.last.actor), params(&other.last.actor));
}

/// A budget that ends imitation before any DAgger round reports no DAgger stage, and flags the run
/// as cut short.
#[test]
fn a_budget_that_ends_imitation_early_reports_no_dagger_stage() {
    let video = builtin_video();
    let cfg = PipelineConfig {
        max_wall_s: 1e-6,
        ..tiny(vec![StageKind::Imitation])
    };
    let rep = train_pipeline(&traces(), &video, &cfg, None, |_| {}).unwrap();
    assert!(rep.wall_limited);
    let names: Vec<&str> = rep.stages.iter().map(|s| s.stage.name()).collect();
    assert_eq!(names, ["imitation"]);
    assert_eq!(rep.best.stage, "imitation");
}
