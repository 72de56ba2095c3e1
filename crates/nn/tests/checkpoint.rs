//! safetensors checkpoint round trips and error reporting.

use neuralstream_nn::{
    load_networks, load_safetensors, loss, save_safetensors, Activation, Adam, AdamConfig,
    CheckpointError, Mlp, SplitMix64,
};
use std::collections::BTreeMap;

/// An actor, a critic and an Adam optimiser after a few training steps.
fn trained() -> (Mlp, Mlp, Adam) {
    let mut actor = Mlp::new(&[5, 8, 3], Activation::Relu, 1);
    let mut critic = Mlp::new(&[5, 8, 1], Activation::Tanh, 2);
    let mut adam = Adam::new(AdamConfig {
        max_grad_norm: Some(1.0),
        ..AdamConfig::with_lr(1e-2)
    });
    let mut rng = SplitMix64::new(3);
    for _ in 0..3 {
        train_step(&mut actor, &mut critic, &mut adam, &mut rng);
    }
    (actor, critic, adam)
}

fn train_step(actor: &mut Mlp, critic: &mut Mlp, adam: &mut Adam, rng: &mut SplitMix64) {
    let x: Vec<f32> = (0..4 * 5).map(|_| rng.uniform(-1.0, 1.0)).collect();
    actor.zero_grad();
    critic.zero_grad();
    let logits = actor.forward_train(&x, 4).to_vec();
    actor.backward(&loss::cross_entropy(&logits, 3, &[0, 1, 2, 0], None).grad);
    let v = critic.forward_train(&x, 4).to_vec();
    critic.backward(&loss::value_mse(&v, &[1.0, 0.0, -1.0, 0.5]).grad);
    adam.step(&mut [("actor", actor), ("critic", critic)]);
}

fn meta() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("run".to_string(), "unit-test".to_string()),
        ("seed".to_string(), "7".to_string()),
    ])
}

#[test]
fn round_trip_is_bit_identical_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let (mut actor, mut critic, mut adam) = trained();
    save_safetensors(
        &path,
        &[("actor", &actor), ("critic", &critic)],
        Some(&adam),
        &meta(),
    )
    .unwrap();

    let mut actor2 = Mlp::new(&[5, 8, 3], Activation::Relu, 99);
    let mut critic2 = Mlp::new(&[5, 8, 1], Activation::Tanh, 98);
    let mut adam2 = Adam::new(AdamConfig::default());
    let m = load_safetensors(
        &path,
        &mut [("actor", &mut actor2), ("critic", &mut critic2)],
        Some(&mut adam2),
    )
    .unwrap();
    assert_eq!(m, meta());
    assert_eq!(adam2, adam);
    assert_eq!(adam2.steps(), 3);
    for (a, b) in [(&actor, &actor2), (&critic, &critic2)] {
        for ((na, _, pa), (nb, _, pb)) in a.named_params().iter().zip(b.named_params()) {
            assert_eq!(na, &nb);
            let bits = |p: &[f32]| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(pa), bits(pb), "{na}");
        }
    }
    // Training continues identically from the restored state.
    let (mut r1, mut r2) = (SplitMix64::new(10), SplitMix64::new(10));
    for _ in 0..3 {
        train_step(&mut actor, &mut critic, &mut adam, &mut r1);
        train_step(&mut actor2, &mut critic2, &mut adam2, &mut r2);
    }
    assert_eq!(actor.layers(), actor2.layers());
    assert_eq!(critic.layers(), critic2.layers());
    assert_eq!(adam, adam2);

    // Rebuild without knowing the architecture.
    let loaded = load_networks(&path).unwrap();
    assert_eq!(loaded.metadata, meta());
    assert_eq!(loaded.networks.len(), 2);
    assert_eq!(loaded.networks["actor"].spec(), actor.spec());
    let (a0, _, _) = trained();
    let bits = |m: &Mlp| -> Vec<u32> {
        m.named_params()
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|x| x.to_bits()))
            .collect()
    };
    assert_eq!(bits(&loaded.networks["actor"]), bits(&a0));
    assert_eq!(loaded.adam.unwrap().steps(), 3);
}

#[test]
fn tensor_names_follow_the_convention() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let (actor, _, adam) = trained();
    save_safetensors(&path, &[("actor", &actor)], Some(&adam), &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    for want in [
        "actor.0.weight",
        "actor.0.bias",
        "actor.1.weight",
        "adam.m.actor.0.weight",
        "adam.v.actor.1.bias",
        "adam.step",
        "adam.hparams",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    assert_eq!(st.tensor("actor.0.weight").unwrap().shape(), [8, 5]);
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("actor_only.safetensors");
    let (actor, mut critic, _) = trained();
    save_safetensors(&path, &[("actor", &actor)], None, &BTreeMap::new()).unwrap();
    let mut a = actor.clone();
    let before = a.clone();
    let err = load_safetensors(
        &path,
        &mut [("actor", &mut a), ("critic", &mut critic)],
        None,
    )
    .unwrap_err();
    match &err {
        CheckpointError::MissingTensor { tensor, path: p } => {
            assert_eq!(tensor, "critic.0.weight");
            assert_eq!(p, &path);
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("critic.0.weight") && msg.contains("actor_only.safetensors"),
        "{msg}"
    );
    assert_eq!(a, before, "a failed load must not modify networks");

    // Asking for optimiser state that was not saved names the first missing Adam tensor.
    let mut adam = Adam::new(AdamConfig::default());
    let err = load_safetensors(&path, &mut [("actor", &mut a)], Some(&mut adam)).unwrap_err();
    assert!(err.to_string().contains("adam.hparams"), "{err}");
}

#[test]
fn shape_mismatch_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let (actor, _, _) = trained();
    save_safetensors(&path, &[("actor", &actor)], None, &BTreeMap::new()).unwrap();
    let mut wider = Mlp::new(&[5, 9, 3], Activation::Relu, 0);
    let err = load_safetensors(&path, &mut [("actor", &mut wider)], None).unwrap_err();
    match err {
        CheckpointError::ShapeMismatch {
            tensor,
            expected,
            found,
            ..
        } => {
            assert_eq!(tensor, "actor.0.weight");
            assert_eq!(expected, vec![9, 5]);
            assert_eq!(found, vec![8, 5]);
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn corrupt_and_absent_files_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Mlp::new(&[5, 8, 3], Activation::Relu, 0);

    let missing = dir.path().join("nope.safetensors");
    let err = load_safetensors(&missing, &mut [("actor", &mut net)], None).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");

    let garbage = dir.path().join("garbage.safetensors");
    for bytes in [
        &b""[..],
        &b"abc"[..],
        &[0xff; 64][..],
        &[8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'][..],
    ] {
        std::fs::write(&garbage, bytes).unwrap();
        let err = load_safetensors(&garbage, &mut [("actor", &mut net)], None).unwrap_err();
        assert!(err.to_string().contains("garbage.safetensors"), "{err}");
        assert!(load_networks(&garbage).is_err());
    }

    // Truncated valid file.
    let good = dir.path().join("good.safetensors");
    save_safetensors(&good, &[("actor", &net)], None, &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&garbage, &bytes[..bytes.len() - 10]).unwrap();
    let err = load_safetensors(&garbage, &mut [("actor", &mut net)], None).unwrap_err();
    assert!(matches!(err, CheckpointError::Format { .. }), "{err:?}");
}

#[test]
fn reserved_metadata_and_duplicate_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let net = Mlp::new(&[2, 2], Activation::Relu, 0);
    let bad = BTreeMap::from([("nn.arch.x".to_string(), "{}".to_string())]);
    assert!(matches!(
        save_safetensors(&path, &[("a", &net)], None, &bad),
        Err(CheckpointError::Metadata { .. })
    ));
    assert!(matches!(
        save_safetensors(&path, &[("a", &net), ("a", &net)], None, &BTreeMap::new()),
        Err(CheckpointError::DuplicateName { .. })
    ));
}

#[test]
fn non_finite_parameters_are_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diverged.safetensors");
    let (mut actor, _, _) = trained();
    actor.layers_mut()[1].bias_mut()[2] = f32::NAN;
    actor.layers_mut()[1].weight_mut()[0] = f32::INFINITY;
    save_safetensors(&path, &[("actor", &actor)], None, &BTreeMap::new()).unwrap();
    let err = load_networks(&path).unwrap_err();
    match &err {
        CheckpointError::NonFinite { tensor, count, .. } => {
            assert!(tensor.starts_with("actor.1."), "{tensor}");
            assert_eq!(*count, 1);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("diverged.safetensors"), "{err}");
    let mut net = Mlp::new(&[5, 8, 3], Activation::Relu, 0);
    let err = load_safetensors(&path, &mut [("actor", &mut net)], None).unwrap_err();
    assert!(matches!(err, CheckpointError::NonFinite { .. }), "{err:?}");
}

/// Writes a checkpoint by hand: `arch` as the actor's architecture and the given F32 tensors.
fn handmade(path: &std::path::Path, arch: &str, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.to_string(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    let meta = std::collections::HashMap::from([
        ("nn.arch.actor".to_string(), arch.to_string()),
        ("nn.format".to_string(), "1".to_string()),
    ]);
    safetensors::serialize_to_file(views, Some(meta), path).unwrap();
}

#[test]
fn zero_width_layers_cannot_force_a_huge_allocation() {
    // A zero-width hidden layer has empty weight tensors, so the weight shapes alone would let
    // the output size claim 1e13 units (a 40 TB allocation) from a file of a few hundred bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero.safetensors");
    handmade(
        &path,
        r#"{"sizes":[30,0,10000000000000],"hidden_activation":"relu"}"#,
        &[
            ("actor.0.weight", vec![0, 30], vec![]),
            ("actor.1.weight", vec![10_000_000_000_000, 0], vec![]),
        ],
    );
    let err = load_networks(&path).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Metadata { key, .. } if key == "nn.arch.actor"),
        "{err:?}"
    );
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn a_learning_rate_decayed_to_zero_still_loads() {
    // PPO's schedule may end at lr 0 (`--ppo-lr-final 0`); its last checkpoint must resume.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decayed.safetensors");
    let (mut actor, mut critic, mut adam) = trained();
    adam.set_lr(0.0);
    let mut rng = SplitMix64::new(9);
    train_step(&mut actor, &mut critic, &mut adam, &mut rng);
    save_safetensors(
        &path,
        &[("actor", &actor), ("critic", &critic)],
        Some(&adam),
        &BTreeMap::new(),
    )
    .unwrap();
    let back = load_networks(&path).unwrap();
    assert_eq!(back.adam.unwrap().config().lr, 0.0);
}
