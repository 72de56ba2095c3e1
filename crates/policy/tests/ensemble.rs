//! The ensemble of ladder-agnostic policies (`learned:A+B+C`): one member decides as itself, the
//! decision is the argmax of the members' mean softmax probabilities (hand-made members whose
//! probabilities are known), members of other feature specs (layout 3 among them) mix, and bad
//! specs (a missing file, a fixed-ladder member, an empty member) are errors that name the member,
//! never a panic.

mod support;
use neuralstream_core::video::Ladder;
use neuralstream_core::{Abr, ChunkRecord, Observation, Video};
use neuralstream_data::synthetic::synthetic_video;
use neuralstream_nn::{Activation, Mlp};
use neuralstream_policy::agnostic::PER_LEVEL;
use neuralstream_policy::{
    AgnosticAbr, AgnosticSpec, EnsembleAbr, FeatureSpec, LearnedAbr, Policy, PolicyMeta,
};
use std::path::Path;
use support::play;

fn video(levels: usize) -> Video {
    let kbps: Vec<f64> = (0..levels).map(|i| 300.0 * 1.6f64.powi(i as i32)).collect();
    synthetic_video("v", &Ladder::from_kbps(&kbps), 30, 4.0, 5)
}

fn random_policy(seed: u64) -> AgnosticAbr {
    let spec = AgnosticSpec::default();
    let actor = Mlp::new(&[spec.row_len(), 32, 32, 1], Activation::Relu, seed);
    AgnosticAbr::new(actor, spec, PolicyMeta::default())
}

/// A one-layer member whose score for level `l` is `switch_w * (l - last) / 4 + last_w * [l ==
/// last]` (the layout's per-level features 3 and 9), so its probabilities are known by hand.
fn hand_made(switch_w: f32, last_w: f32) -> AgnosticAbr {
    let spec = AgnosticSpec::default();
    let mut actor = Mlp::new(&[spec.row_len(), 1], Activation::Relu, 0);
    let c = spec.context_len();
    let layer = &mut actor.layers_mut()[0];
    layer.weight_mut().iter_mut().for_each(|w| *w = 0.0);
    layer.bias_mut().iter_mut().for_each(|b| *b = 0.0);
    layer.weight_mut()[c + 3] = switch_w;
    layer.weight_mut()[c + 9] = last_w;
    assert_eq!(spec.row_len(), c + PER_LEVEL);
    AgnosticAbr::new(actor, spec, PolicyMeta::default())
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|x| (x - top).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|x| x / total).collect()
}

#[test]
fn an_ensemble_of_one_decides_as_its_member() {
    for seed in [1, 2, 3] {
        let mut member = random_policy(seed);
        let mut one = EnsembleAbr::new(vec![member.clone()]);
        for levels in [2, 6, 10, 16] {
            let v = video(levels);
            for trace_seed in [3, 4] {
                let played = play(&mut member, &v, trace_seed);
                assert_eq!(
                    played,
                    play(&mut one, &v, trace_seed),
                    "seed {seed}, {levels} levels"
                );
            }
        }
    }
}

#[test]
fn the_decision_is_the_argmax_of_the_mean_probability() {
    // Three levels, the last level 1, no history.
    let v = video(3);
    let obs = Observation {
        video: &v,
        next_chunk: 0,
        total_chunks: v.num_chunks(),
        buffer_s: 0.0,
        last_level: 1,
        history: &[] as &[ChunkRecord],
    };
    // A: logits (-20, 0, 20), all but sure of level 2. B = C: logits (0, 5, 0), sure of level 1.
    let a = hand_made(80.0, 0.0);
    let b = hand_made(0.0, 5.0);
    let mut ens = EnsembleAbr::new(vec![a.clone(), b.clone(), b]);
    let pa = softmax(&[-20.0, 0.0, 20.0]);
    let pb = softmax(&[0.0, 5.0, 0.0]);
    let want: Vec<f64> = (0..3).map(|l| (pa[l] + 2.0 * pb[l]) / 3.0).collect();
    let got = ens.probabilities(&obs).unwrap().to_vec();
    for l in 0..3 {
        assert!(
            (got[l] - want[l]).abs() < 1e-6,
            "level {l}: {got:?} vs {want:?}"
        );
    }
    assert!((got.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Mean probability: level 1 (0.658 against 0.338); the mean of the logits would pick level 2.
    assert_eq!(ens.choose(&obs).level, 1);
    // Two confident members for level 2 outvote one for level 1.
    let mut two_a = EnsembleAbr::new(vec![a.clone(), a, hand_made(0.0, 5.0)]);
    assert_eq!(two_a.choose(&obs).level, 2);
}

#[test]
fn an_ensemble_spec_loads_its_members_everywhere_a_policy_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    random_policy(1).save(&pa).unwrap();
    random_policy(2).save(&pb).unwrap();
    let spec = format!("{}+{}", pa.display(), pb.display());
    let mut loaded = Policy::load(&spec).unwrap();
    let Policy::Ensemble(e) = &loaded else {
        panic!("an ensemble spec loads an ensemble")
    };
    assert_eq!(e.members().len(), 2);
    assert!(loaded.fits_levels(2) && loaded.fits_levels(16) && !loaded.fits_levels(17));
    let mut direct = EnsembleAbr::new(vec![random_policy(1), random_policy(2)]);
    let v = video(7);
    assert_eq!(play(&mut loaded, &v, 5), play(&mut direct, &v, 5));
    // A file whose own name contains '+' is one policy, not an ensemble.
    let plus = dir.path().join("x+y.safetensors");
    random_policy(3).save(&plus).unwrap();
    assert!(matches!(Policy::load(&plus).unwrap(), Policy::Agnostic(_)));
}

fn load_err(spec: &str) -> String {
    match Policy::load(spec) {
        Ok(_) => panic!("{spec} loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_ensemble_specs_are_refused_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    random_policy(1).save(&good).unwrap();
    let g = good.display().to_string();

    // A missing member file.
    let missing = dir.path().join("missing.safetensors");
    let e = load_err(&format!("{g}+{}", missing.display()));
    assert!(e.contains("missing.safetensors"), "{e}");

    // A fixed-ladder member (layout 1) among ladder-agnostic ones.
    let fixed = dir.path().join("fixed.safetensors");
    let fs = FeatureSpec::new(6);
    LearnedAbr::new(
        Mlp::new(&[fs.len(), 16, 6], Activation::Relu, 2),
        fs,
        PolicyMeta::default(),
    )
    .save(&fixed)
    .unwrap();
    let e = load_err(&format!("{g}+{}", fixed.display()));
    assert!(
        e.contains("fixed.safetensors") && e.contains("layout 1"),
        "{e}"
    );

    // Members of other feature specs (a shorter history; layout 3) join the ensemble: each spec's
    // rows are written once, and the ensemble's probabilities are the mean of each member's own.
    let other = dir.path().join("other.safetensors");
    let hinted = dir.path().join("hinted.safetensors");
    for (path, spec, seed) in [
        (
            &other,
            AgnosticSpec {
                history_len: 6,
                ..AgnosticSpec::default()
            },
            4,
        ),
        (&hinted, AgnosticSpec::with_rule_hints(), 5),
    ] {
        AgnosticAbr::new(
            Mlp::new(&[spec.row_len(), 8, 1], Activation::Relu, seed),
            spec,
            PolicyMeta::default(),
        )
        .save(path)
        .unwrap();
    }
    let mixed = format!("{g}+{}+{}+{g}", other.display(), hinted.display());
    let Policy::Ensemble(mut e) = Policy::load(&mixed).unwrap() else {
        panic!("{mixed} is an ensemble")
    };
    assert_eq!(e.specs().len(), 3, "three distinct specs");
    let v = synthetic_video("v", &Ladder::pensieve(), 10, 4.0, 3);
    let history = [ChunkRecord {
        level: 2,
        size_bytes: 600_000,
        delay_ms: 1500.0,
        ..ChunkRecord::default()
    }];
    let o = Observation {
        video: &v,
        next_chunk: 1,
        total_chunks: 10,
        buffer_s: 6.0,
        last_level: 2,
        history: &history,
    };
    let mut expected = vec![0.0f64; 6];
    let mut probs = Vec::new();
    for m in e.members().to_vec() {
        let mut m = m;
        neuralstream_nn::loss::softmax_f64(m.scores(&o).unwrap(), &mut probs);
        for (x, p) in expected.iter_mut().zip(&probs) {
            *x += p / 4.0;
        }
    }
    let mean = e.probabilities(&o).unwrap().to_vec();
    for (a, b) in mean.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-12, "{mean:?} vs {expected:?}");
    }

    // Empty members.
    for spec in [format!("{g}+"), format!("{g}++{g}"), format!("+{g}")] {
        let e = load_err(&spec);
        assert!(e.contains("is empty") && e.contains(&spec), "{e}");
    }
    assert!(Path::new(&g).is_file());
}
