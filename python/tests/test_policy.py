"""Policy files: written from Python, loaded back (layers, spec, metadata), refused with a message
when they do not fit."""

from __future__ import annotations

import numpy as np
import pytest

import neuralstream as ns


@pytest.fixture
def env():
    return ns.AbrEnv(synthetic_traces=3)


def _layers(env, hidden=8, seed=1):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(hidden, env.feature_len)), rng.normal(size=hidden)),
        (rng.normal(size=(env.num_levels, hidden)), rng.normal(size=env.num_levels)),
    ]


def test_round_trip(env, tmp_path):
    path = tmp_path / "p.safetensors"
    layers = _layers(env)
    ns.save_policy(path, layers, env.feature_spec, env.qoe, activation="relu", seed=9,
                   extra={"algo": "ppo"})
    p = ns.Policy.load(path)
    assert p.activation == "relu" and p.seed == 9 and p.qoe == "lin:4.3"
    assert p.extra == {"algo": "ppo"} and p.num_levels == 6
    assert p.feature_spec == env.feature_spec
    for (w, b), (w2, b2) in zip(layers, p.layers):
        np.testing.assert_array_equal(w.astype(np.float32), w2)
        np.testing.assert_array_equal(b.astype(np.float32), b2)
    x = np.random.default_rng(0).random(env.feature_len, dtype=np.float32)
    h = np.maximum(layers[0][0].astype(np.float32) @ x + layers[0][1].astype(np.float32), 0)
    want = layers[1][0].astype(np.float32) @ h + layers[1][1].astype(np.float32)
    np.testing.assert_allclose(p.logits(x), want, rtol=1e-4, atol=1e-4)
    assert p.act(x) == int(np.argmax(want))
    # Saved again from Python, it is the same policy.
    p.save(tmp_path / "again.safetensors")
    q = ns.Policy.load(tmp_path / "again.safetensors")
    np.testing.assert_array_equal(q.logits(x), p.logits(x))


def test_transposed_and_float64_weights_are_accepted(env, tmp_path):
    layers = [(np.asfortranarray(w), b) for w, b in _layers(env)]
    ns.save_policy(tmp_path / "p.safetensors", layers, env.feature_spec, env.qoe)
    np.testing.assert_array_equal(
        ns.Policy.load(tmp_path / "p.safetensors").layers[0][0], layers[0][0].astype(np.float32)
    )


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda L: [(L[0][0][:, :-1], L[0][1]), L[1]], "feature spec needs 30 inputs"),
        (lambda L: [L[0], (L[1][0][:-1], L[1][1][:-1])], "gives 5 outputs"),
        (lambda L: [(L[0][0], L[0][1][:-1]), L[1]], "bias has 7 entries"),
        (lambda L: [L[0], (L[1][0][:, :-1], L[1][1])], r"layers\[1\] takes 7 inputs"),
        (lambda L: [], "layers is empty"),
        (lambda L: [(L[0][0] * np.nan, L[0][1]), L[1]], "non-finite"),
        (lambda L: [L[0][0], L[1]], r"layers\[0\] must be a \(weight, bias\) pair"),
    ],
)
def test_bad_layers_are_refused(env, tmp_path, mutate, message):
    with pytest.raises(ns.NeuralStreamError, match=message):
        ns.save_policy(tmp_path / "p.safetensors", mutate(_layers(env)), env.feature_spec, env.qoe)


def test_bad_spec_and_activation(env, tmp_path):
    with pytest.raises(ns.NeuralStreamError, match="feature_spec"):
        ns.save_policy(tmp_path / "p", _layers(env), "{}", env.qoe)
    with pytest.raises(ns.NeuralStreamError, match="activation="):
        ns.save_policy(tmp_path / "p", _layers(env), env.feature_spec, env.qoe, activation="gelu")


def test_loading_a_file_that_is_not_a_policy(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ns.NeuralStreamError, match=f"cannot load the policy {bad}"):
        ns.Policy.load(bad)
    with pytest.raises(ns.NeuralStreamError, match="cannot load the policy"):
        ns.Policy.load(tmp_path / "missing.safetensors")


def test_policy_for_another_ladder_is_refused_by_choose(tmp_path):
    from pathlib import Path
    import json

    env = ns.AbrEnv(synthetic_traces=2)
    spec = json.loads(env.feature_spec)
    spec["num_levels"] = 4
    n_in = 2 * spec["history_len"] + 2 * 4 + 2
    rng = np.random.default_rng(0)
    ns.save_policy(tmp_path / "p4", [(rng.random((4, n_in)), rng.random(4))], json.dumps(spec), "lin")
    p = ns.Policy.load(Path(tmp_path / "p4"))
    env.reset(seed=0)
    with pytest.raises(ns.NeuralStreamError, match="trained for 4 levels"):
        p.choose(env)
    with pytest.raises(ns.NeuralStreamError, match="features has 30 entries but the policy reads 26"):
        p.act(np.zeros(30, np.float32))


def test_rules_list_and_unknown_rule():
    names = [n for n, _ in ns.algorithms()]
    assert "bb" in names and "robustmpc" in names
    with pytest.raises(ns.NeuralStreamError, match="unknown ABR algorithm 'nope'"):
        ns.Rule("nope")
    with pytest.raises(TypeError, match="expected a neuralstream.AbrEnv"):
        ns.Rule("bb").choose(object())
